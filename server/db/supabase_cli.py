"""The real Supabase CLI (npm package `supabase`, installed by `make supabase-cli`) against one of
the project's databases, without Docker: `db push`, `db advisors` and `db lint` take --db-url.

The CLI runs with a throwaway HOME and telemetry off (nothing outside the machine is reachable,
and it should write nowhere but its scratch directory), from a scratch project directory whose
supabase/migrations is this repository's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlencode

from psycopg.conninfo import conninfo_to_dict

from server.db.migrate import MIGRATIONS_DIR, REPO_ROOT

# Where `make supabase-cli` installs the release the Makefile pins (SUPABASE_CLI_VERSION).
LOCAL_CLI = REPO_ROOT / ".tools" / "node_modules" / ".bin" / "supabase"


class SupabaseCliError(RuntimeError):
    """The CLI is missing, or a command it ran failed."""


@dataclass(frozen=True)
class CliResult:
    command: list[str]
    returncode: int
    output: str
    seconds: float


def find_cli() -> Path:
    override = os.environ.get("COACHDESK_SUPABASE_CLI")
    path = Path(override) if override else LOCAL_CLI
    if not path.exists():
        raise SupabaseCliError(
            f"Supabase CLI not found at {path}: `make supabase-cli` installs the pinned release"
            " into .tools/ (or set COACHDESK_SUPABASE_CLI)"
        )
    return path


def db_url(dsn: str) -> str:
    """A libpq DSN as the URL --db-url takes. A Unix socket directory goes in the `host` query
    parameter (the CLI's URL parser has no authority form for it); TLS is off, as the private
    cluster has none."""
    params = conninfo_to_dict(dsn)
    host = str(params.get("host") or "localhost")
    port = str(params.get("port") or 5432)
    user = quote(str(params.get("user") or "postgres"), safe="")
    password = params.get("password")
    auth = f"{user}:{quote(str(password), safe='')}" if password else user
    query = {"sslmode": "disable"}
    if host.startswith("/"):
        query["host"] = host
        host = "localhost"
    dbname = quote(str(params.get("dbname") or "postgres"), safe="")
    return f"postgresql://{auth}@{host}:{port}/{dbname}?{urlencode(query)}"


class SupabaseCli:
    """Runs CLI commands against databases; close() (or `with`) removes its scratch files."""

    def __init__(self, cli: Path | None = None, migrations: Path = MIGRATIONS_DIR) -> None:
        self.cli = cli or find_cli()
        self._scratch = Path(tempfile.mkdtemp(prefix="coachdesk-supabase-cli-"))
        self.workdir = self._scratch / "project"
        (self.workdir / "supabase").mkdir(parents=True)
        (self.workdir / "supabase" / "migrations").symlink_to(migrations.resolve())
        (self._scratch / "home").mkdir()

    def __enter__(self) -> SupabaseCli:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._scratch, ignore_errors=True)

    def run(self, *args: str, dsn: str, check: bool = True, timeout: float = 300) -> CliResult:
        command = [str(self.cli), *args, "--db-url", db_url(dsn), "--workdir", str(self.workdir)]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self._scratch / "home"),
            "SUPABASE_TELEMETRY_DISABLED": "1",
            "DO_NOT_TRACK": "1",
            "NO_COLOR": "1",
        }
        started = time.monotonic()
        done = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=timeout, check=False
        )
        result = CliResult(
            command=[str(self.cli), *args],
            returncode=done.returncode,
            output=(done.stdout + done.stderr).strip(),
            seconds=time.monotonic() - started,
        )
        if check and done.returncode != 0:
            raise SupabaseCliError(
                f"supabase {' '.join(args)} failed ({done.returncode}):\n{result.output}"
            )
        return result

    def push(self, dsn: str) -> CliResult:
        return self.run("db", "push", "--yes", dsn=dsn)

    def advisors(self, dsn: str) -> CliResult:
        return self.run("db", "advisors", "--type", "all", "--fail-on", "warn", dsn=dsn)

    def lint(self, dsn: str) -> CliResult:
        return self.run("db", "lint", "--fail-on", "error", dsn=dsn)
