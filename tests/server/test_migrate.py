"""The migrator: order, idempotence, atomic failure, and refusal of misnamed files."""

from pathlib import Path

import psycopg
import pytest
from structlog.testing import capture_logs

from server.db.migrate import MigrationError, apply_migrations, discover
from server.db.testing import with_dbname


@pytest.fixture
def empty_db(database_dsn):
    """A scratch database on the same server, dropped afterwards."""
    name = "coachdesk_migrate_scratch"
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}"')
        conn.execute(f'create database "{name}"')
    yield with_dbname(database_dsn, name)
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


def _write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


def test_applies_in_version_order_once(tmp_path, empty_db):
    _write(tmp_path, "20260101000002_second.sql", "insert into t values (2);")
    _write(tmp_path, "20260101000001_first.sql", "create table t (v int); insert into t values (1)")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        assert apply_migrations(conn, tmp_path) == ["20260101000001", "20260101000002"]
        assert apply_migrations(conn, tmp_path) == []
        assert [r[0] for r in conn.execute("select v from t order by v")] == [1, 2]


def test_a_failing_migration_leaves_nothing_behind(tmp_path, empty_db):
    _write(tmp_path, "20260101000001_ok.sql", "create table ok (v int);")
    _write(tmp_path, "20260101000002_bad.sql", "create table half (v int); select 1/0;")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        with pytest.raises(MigrationError, match=r"20260101000002_bad\.sql: division by zero"):
            apply_migrations(conn, tmp_path)
        assert conn.execute("select to_regclass('public.half')").fetchone()[0] is None
        versions = conn.execute("select version from supabase_migrations.schema_migrations")
        assert [r[0] for r in versions] == ["20260101000001"]


def test_an_applied_migration_edited_afterwards_is_reported_not_rerun(tmp_path, empty_db):
    _write(tmp_path, "20260101000001_first.sql", "create table t (v int);")
    with psycopg.connect(empty_db, autocommit=True) as conn:
        apply_migrations(conn, tmp_path)
        _write(tmp_path, "20260101000001_first.sql", "create table t (v int, w int);")
        with capture_logs() as logs:
            assert apply_migrations(conn, tmp_path) == []
        assert [(e["event"], e["file"]) for e in logs] == [
            ("migration.changed_after_applied", "20260101000001_first.sql")
        ]
        assert conn.execute("select count(*) from information_schema.columns"
                            " where table_name = 't'").fetchone()[0] == 1  # fmt: skip
        _write(tmp_path, "20260101000001_first.sql", "create table t (v int);")
        with capture_logs() as logs:
            apply_migrations(conn, tmp_path)
        assert logs == []


def test_misnamed_migration_is_an_error(tmp_path):
    _write(tmp_path, "add_table.sql", "select 1;")
    with pytest.raises(MigrationError, match=r"add_table\.sql: migration files are named"):
        discover(tmp_path)


def test_duplicate_versions_are_an_error(tmp_path):
    _write(tmp_path, "20260101000001_a.sql", "select 1;")
    _write(tmp_path, "20260101000001_b.sql", "select 1;")
    with pytest.raises(MigrationError, match="share a version"):
        discover(tmp_path)
