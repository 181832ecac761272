"""Apply the compat bootstrap, the migrations in `supabase/migrations/` and the demo seed.

Applied versions are recorded in `supabase_migrations.schema_migrations`, the table the Supabase
CLI uses, so a database migrated here and one migrated by `supabase db push` agree on what has
run. Each migration runs in its own transaction: a failing file leaves nothing half-applied.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
import structlog

log = structlog.get_logger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
SUPABASE_DIR = REPO_ROOT / "supabase"
MIGRATIONS_DIR = SUPABASE_DIR / "migrations"
BOOTSTRAP_FILE = SUPABASE_DIR / "compat" / "bootstrap.sql"
SEED_FILE = SUPABASE_DIR / "seed.sql"

_MIGRATION_NAME = re.compile(r"^(?P<version>\d{14})_(?P<name>[a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """A migration file is misnamed or failed to apply."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """All migration files, in version order; a misnamed file is an error, not skipped."""
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path.name}: migration files are named <14-digit version>_<snake_name>.sql"
            )
        migrations.append(Migration(match["version"], match["name"], path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError("two migration files share a version")
    return migrations


def apply_bootstrap(conn: psycopg.Connection) -> None:
    """Create the roles and `auth`/`storage` schemas hosted Supabase already has (idempotent)."""
    with conn.transaction():
        conn.execute(BOOTSTRAP_FILE.read_text())


def applied_versions(conn: psycopg.Connection) -> dict[str, str | None]:
    """Version -> the SQL it was applied with: None unless this migrator applied it (the
    Supabase CLI stores a file split into statements, not comparable with the file)."""
    conn.execute(
        "create schema if not exists supabase_migrations;"
        "create table if not exists supabase_migrations.schema_migrations"
        " (version text primary key, statements text[], name text)"
    )
    rows = conn.execute(
        "select version, case when cardinality(statements) = 1 then statements[1] end"
        " from supabase_migrations.schema_migrations"
    ).fetchall()
    return {row[0]: row[1] for row in rows}


def apply_migrations(conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet recorded; returns the versions applied now."""
    with conn.transaction():
        done = applied_versions(conn)
    applied = []
    for migration in discover(directory):
        if migration.version in done:
            _warn_if_changed(migration, done[migration.version])
            continue
        try:
            with conn.transaction():
                conn.execute(migration.sql())
                conn.execute(
                    "insert into supabase_migrations.schema_migrations (version, name, statements)"
                    " values (%s, %s, array[%s])",
                    (migration.version, migration.name, migration.sql()),
                )
        except psycopg.Error as exc:
            raise MigrationError(f"{migration.path.name}: {exc}") from exc
        log.info("migration.applied", version=migration.version, name=migration.name)
        applied.append(migration.version)
    return applied


def _warn_if_changed(migration: Migration, applied_sql: str | None) -> None:
    """An applied migration is never run again, so an edit to its file silently never reaches
    this database (the schema drifts from a fresh one): say so, once per start."""
    if applied_sql is not None and applied_sql != migration.sql():
        log.warning(
            "migration.changed_after_applied",
            file=migration.path.name,
            hint="this database keeps the version it applied; reset it (coachdesk stack reset)"
            " or put the change in a new migration",
        )


def apply_seed(conn: psycopg.Connection, seed: Path = SEED_FILE) -> None:
    with conn.transaction():
        conn.execute(seed.read_text())


def migrate(dsn: str, *, seed: bool = False, bootstrap: bool = True) -> list[str]:
    """Bring the database at `dsn` up to date; optionally load the demo seed afterwards."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        if bootstrap:
            apply_bootstrap(conn)
        applied = apply_migrations(conn)
        if seed:
            apply_seed(conn)
    return applied
