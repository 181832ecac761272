"""The real Supabase CLI (`make supabase-cli`) on this project's databases, without Docker.

`supabase db push` applies supabase/migrations/ to a database with only the compat bootstrap,
connected as a role shaped like hosted Supabase's `postgres` (not a superuser: the attributes,
memberships and grants supabase/compat/hosted_schema.toml records), and the seed loads as that
role too. The project's migrator and the CLI agree on supabase_migrations.schema_migrations
both ways. The CLI's advisors and its plpgsql_check lint pass on the result.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from server.db.compat_contract import ROLE_ATTRIBUTES, load_contract
from server.db.migrate import apply_bootstrap, apply_migrations, apply_seed, discover
from server.db.supabase_cli import SupabaseCli
from server.db.testing import with_dbname


def _hosted_postgres_sql(role: str, database: str) -> str:
    """A role with hosted `postgres`'s attributes and memberships, given what hosted grants
    `postgres` on the schemas Supabase owns (demote-postgres), owning the database."""
    spec = load_contract()["roles"]["postgres"]
    attributes = " ".join(
        ("" if spec[name] else "no") + name for name in ROLE_ATTRIBUTES if name in spec
    )
    members = ", ".join(spec["member_of"])
    return f"""
      create role "{role}" {attributes};
      grant {members} to "{role}";
      -- Hosted postgres may change the API roles' settings (Supabase's timeout guide has it
      -- alter authenticated's statement_timeout; supautils allows it). Postgres 16+ asks
      -- CREATEROLE for ADMIN OPTION on the role for that, which stands in for supautils here.
      grant anon, authenticated, service_role, authenticator to "{role}" with admin option;
      alter database "{database}" owner to "{role}";
      grant all on schema auth, storage, extensions to "{role}";
      grant all on all tables in schema auth, storage to "{role}";
    """


@pytest.fixture(scope="module")
def cli() -> Iterator[SupabaseCli]:
    with SupabaseCli() as supabase:
        yield supabase


@pytest.fixture(scope="module")
def pushed(database_dsn: str, cli: SupabaseCli) -> Iterator[dict[str, str]]:
    """A database the CLI pushed the migrations to (as hosted-like postgres), then seeded."""
    suffix = uuid.uuid4().hex[:12]
    name, role = f"coachdesk_cli_{suffix}", f"coachdesk_hosted_postgres_{suffix}"
    admin = with_dbname(database_dsn, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    superuser = with_dbname(database_dsn, name)
    try:
        with psycopg.connect(superuser, autocommit=True) as conn:
            apply_bootstrap(conn)
            conn.execute(_hosted_postgres_sql(role, name))
        as_role = with_dbname(database_dsn, name, user=role)
        result = cli.push(as_role)
        with psycopg.connect(as_role, autocommit=True) as conn:
            apply_seed(conn)
        yield {"superuser": superuser, "role": as_role, "push_output": result.output}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
            conn.execute(f'drop role if exists "{role}"')


def test_push_applies_every_migration_as_the_migrator_records_them(pushed):
    for migration in discover():
        assert f"Applying migration {migration.path.name}" in pushed["push_output"]
    with psycopg.connect(pushed["superuser"]) as conn:
        rows = conn.execute(
            "select version, name from supabase_migrations.schema_migrations order by version"
        ).fetchall()
    assert rows == [(m.version, m.name) for m in discover()]


def test_the_migrator_finds_nothing_left_after_a_push(pushed):
    with psycopg.connect(pushed["role"], autocommit=True) as conn:
        assert apply_migrations(conn) == []


def test_a_push_finds_nothing_left_after_the_migrator(database_dsn, cli):
    """The session database was migrated by server.db.migrate."""
    result = cli.push(database_dsn)
    assert "Applying migration" not in result.output
    assert "up to date" in result.output.lower()


def test_pushed_migrations_run_without_superuser(pushed):
    """The seed scored its attempts through security definer functions the push created as
    the non-superuser role: they work without a superuser, as on hosted."""
    with psycopg.connect(pushed["superuser"]) as conn:
        owner = conn.execute(
            "select pg_get_userbyid(p.proowner) from pg_proc p"
            " where p.oid = 'private.score_queued(int)'::regprocedure"
        ).fetchone()[0]
        scored = conn.execute(
            "select count(*) from public.scenario_attempts where status = 'scored'"
        ).fetchone()[0]
    assert owner.startswith("coachdesk_hosted_postgres_")
    assert scored > 0


def test_advisors_report_nothing(pushed, cli):
    result = cli.advisors(pushed["superuser"])
    assert "No issues found" in result.output


def test_lint_reports_no_errors(pushed, cli):
    """plpgsql_check over every function: the JSON validators' intentional raises included."""
    cli.lint(pushed["superuser"])
