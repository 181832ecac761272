"""Run supabase/tests/*.sql (pgTAP, the files `supabase test db` runs) with psql."""

import shutil
import subprocess
from pathlib import Path

import psycopg
import pytest

from server.db.migrate import SUPABASE_DIR

PGTAP_FILES = sorted((SUPABASE_DIR / "tests").glob("*.sql"))


@pytest.fixture(scope="module")
def pgtap_dsn(database_dsn: str) -> str:
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute("create extension if not exists pgtap with schema extensions")
    return database_dsn


def test_there_are_pgtap_files():
    assert PGTAP_FILES


@pytest.mark.parametrize("path", PGTAP_FILES, ids=lambda p: p.name)
def test_pgtap_file(pgtap_dsn: str, path: Path):
    psql = shutil.which("psql") or "/usr/lib/postgresql/15/bin/psql"
    result = subprocess.run(
        [psql, pgtap_dsn, "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-f", str(path)],
        capture_output=True,
        text=True,
        env={"PGOPTIONS": "-c search_path=public,extensions", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    plan = next(line for line in lines if line.startswith("1.."))
    planned = int(plan.split("..")[1])
    oks = [line for line in lines if line.startswith(("ok ", "not ok "))]
    assert not [line for line in oks if line.startswith("not ok")], output
    assert len(oks) == planned, output
