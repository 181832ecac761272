"""supabase/compat/bootstrap.sql against hosted Supabase's recorded schema (hosted_schema.toml).

The compat bootstrap stands in for what hosted Supabase already has; where it is kinder (a
default the auth server does not have, a grant hosted does not give, a delete Storage refuses),
code that works here fails there. These tests hold it to the record, and show the behaviours the
record implies.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.rows import dict_row

from server.db.compat_contract import (
    contract_table,
    describe_role,
    describe_table,
    load_contract,
)
from server.db.migrate import apply_bootstrap
from server.db.testing import with_dbname

CONTRACT = load_contract()
TABLES = sorted(CONTRACT["tables"])
# The test cluster's `postgres` is its bootstrap superuser, which no bootstrap can change;
# tests/db/test_supabase_cli.py pushes the migrations as a role shaped like hosted postgres.
COMPAT_ROLES = sorted(r for r in CONTRACT["roles"] if r != "postgres")


@pytest.fixture(scope="module")
def bootstrap_dsn(database_dsn: str) -> Iterator[str]:
    """A database with the compat bootstrap only (applied twice: it must be idempotent)."""
    name = f"coachdesk_compat_{uuid.uuid4().hex[:12]}"
    admin = with_dbname(database_dsn, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        dsn = with_dbname(database_dsn, name)
        with psycopg.connect(dsn, autocommit=True) as conn:
            apply_bootstrap(conn)
            apply_bootstrap(conn)
        yield dsn
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture
def compat_conn(bootstrap_dsn: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(bootstrap_dsn, row_factory=dict_row) as conn:
        yield conn
        conn.rollback()


@pytest.mark.parametrize("table", TABLES)
def test_compat_columns_match_hosted(compat_conn, table):
    expected = contract_table(CONTRACT, table)["columns"]
    actual = describe_table(compat_conn, table, [])["columns"]
    assert sorted(actual) == sorted(expected), f"{table}: columns differ from hosted"
    differing = {
        name: (actual[name], spec) for name, spec in expected.items() if actual[name] != spec
    }
    assert not differing, f"{table}: (compat, hosted) {differing}"


@pytest.mark.parametrize("table", TABLES)
def test_compat_keys_triggers_and_grants_match_hosted(compat_conn, table):
    expected = contract_table(CONTRACT, table)
    actual = describe_table(compat_conn, table, sorted(expected["grants"]))
    for fact in ("owner", "rls", "unique", "triggers", "grants"):
        assert actual[fact] == expected[fact], f"{table} {fact}: compat {actual[fact]!r}"


@pytest.mark.parametrize("role", COMPAT_ROLES)
def test_compat_roles_match_hosted(compat_conn, role):
    expected = CONTRACT["roles"][role]
    actual = describe_role(compat_conn, role, list(expected))
    if "member_of" in expected:
        expected = {**expected, "member_of": sorted(expected["member_of"])}
    assert actual == expected


def test_extensions_live_where_hosted_keeps_them(admin_conn):
    """pgcrypto in `extensions`; pg_cron, where this server has it, in pg_catalog (the advisor
    flags an extension in public)."""
    rows = admin_conn.execute(
        "select e.extname, n.nspname from pg_extension e join pg_namespace n"
        " on n.oid = e.extnamespace"
    ).fetchall()
    schemas = {r["extname"]: r["nspname"] for r in rows}
    for extension, schema in CONTRACT["extensions"].items():
        if extension in schemas:
            assert schemas[extension] == schema, extension
    assert "pgcrypto" in schemas


# -- what the record means for code ----------------------------------------------------------


def test_a_user_insert_without_the_auth_servers_columns_fails(compat_conn):
    """No id default, as on hosted: whoever creates a user must give what the auth server does."""
    with pytest.raises(psycopg.errors.NotNullViolation):
        compat_conn.execute("insert into auth.users (email) values ('x@compat.test')")


def test_service_role_cannot_read_auth_users(compat_conn):
    compat_conn.execute("set local role service_role")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        compat_conn.execute("select id from auth.users")


def test_direct_storage_deletes_are_refused_as_on_hosted(compat_conn):
    compat_conn.execute(
        "insert into storage.buckets (id, name) values ('compat-bucket', 'compat-bucket')"
    )
    for table in ("storage.objects", "storage.buckets"):
        with (
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="Use the Storage API"),
            compat_conn.transaction(),
        ):
            compat_conn.execute(f"delete from {table}")
    # What the storage server does in each of its transactions.
    compat_conn.execute("select set_config('storage.allow_delete_query', 'true', true)")
    assert compat_conn.execute("delete from storage.buckets returning id").fetchall()


def test_api_roles_have_bucket_dml_under_rls(compat_conn):
    """Hosted grants anon/authenticated all of storage.buckets; no policy, so no row moves."""
    compat_conn.execute("set local role authenticated")
    inserted = compat_conn.execute(
        "insert into storage.buckets (id, name) select 'x', 'x' where false returning id"
    ).fetchall()
    assert inserted == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        compat_conn.execute("insert into storage.buckets (id, name) values ('y', 'y')")
