"""Hosted Supabase's schema contract (supabase/compat/hosted_schema.toml) and the same facts read
from a live database's catalog, in one shape, so the compat bootstrap can be compared with it.

The contract covers what Coachdesk touches in Supabase-owned schemas: the columns, defaults,
nullability, unique keys, triggers, owner, row level security and grants of auth.users,
auth.identities, storage.buckets and storage.objects, and the attributes of Supabase's roles.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import psycopg

from server.db.migrate import SUPABASE_DIR

CONTRACT_FILE = SUPABASE_DIR / "compat" / "hosted_schema.toml"

# aclitem letters for the table privileges Postgres 15 knows.
_PRIVILEGE_LETTERS = {
    "INSERT": "a",
    "SELECT": "r",
    "UPDATE": "w",
    "DELETE": "d",
    "TRUNCATE": "D",
    "REFERENCES": "x",
    "TRIGGER": "t",
}
ROLE_ATTRIBUTES = {
    "superuser": "rolsuper",
    "login": "rolcanlogin",
    "inherit": "rolinherit",
    "createdb": "rolcreatedb",
    "createrole": "rolcreaterole",
    "replication": "rolreplication",
    "bypassrls": "rolbypassrls",
}


def load_contract(path: Path = CONTRACT_FILE) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _one(conn: psycopg.Connection, sql: str, params: tuple[Any, ...]) -> tuple[Any, ...]:
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    if row is None:
        raise LookupError(f"no catalog row for {params}")
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


def _rows(conn: psycopg.Connection, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    return [
        tuple(r.values()) if isinstance(r, dict) else tuple(r)
        for r in conn.execute(sql, params)  # type: ignore[arg-type]
    ]


def describe_columns(conn: psycopg.Connection, table: str) -> dict[str, dict[str, Any]]:
    columns = {}
    for name, type_, notnull, expr, generated in _rows(
        conn,
        "select a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        " coalesce(pg_get_expr(d.adbin, d.adrelid), ''), a.attgenerated"
        " from pg_attribute a left join pg_attrdef d"
        "   on d.adrelid = a.attrelid and d.adnum = a.attnum"
        " where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped"
        " order by a.attnum",
        (table,),
    ):
        column: dict[str, Any] = {"type": type_, "nullable": not notnull, "default": expr}
        if generated == "s":
            column["default"] = ""
            column["generated"] = expr
        columns[name] = column
    return columns


def describe_grants(conn: psycopg.Connection, table: str, roles: list[str]) -> dict[str, str]:
    """Privilege letters each role holds on `table` by grant (grant options ignored)."""
    granted: dict[str, set[str]] = {role: set() for role in roles}
    for grantee, privilege in _rows(
        conn,
        "select coalesce(r.rolname, 'public'), a.privilege_type"
        " from pg_class c, aclexplode(c.relacl) a left join pg_roles r on r.oid = a.grantee"
        " where c.oid = %s::regclass",
        (table,),
    ):
        # Postgres 17's MAINTAIN comes with `grant all` there; the contract is 15's letters.
        if grantee in granted and privilege in _PRIVILEGE_LETTERS:
            granted[grantee].add(_PRIVILEGE_LETTERS[privilege])
    order = "".join(_PRIVILEGE_LETTERS.values())
    return {role: "".join(sorted(letters, key=order.index)) for role, letters in granted.items()}


def describe_unique_keys(conn: psycopg.Connection, table: str) -> set[str]:
    """Unique indexes as "(columns)", plus " WHERE (predicate)" for partial ones."""
    keys = set()
    for columns, predicate in _rows(
        conn,
        "select (select string_agg(pg_get_indexdef(i.indexrelid, k, true), ', ' order by k)"
        "        from generate_series(1, i.indnkeyatts) k),"
        " pg_get_expr(i.indpred, i.indrelid)"
        " from pg_index i where i.indrelid = %s::regclass and i.indisunique",
        (table,),
    ):
        keys.add(f"({columns})" + (f" WHERE {predicate}" if predicate else ""))
    return keys


def describe_triggers(conn: psycopg.Connection, table: str) -> set[str]:
    """User triggers as "name: timing events level function"."""
    triggers = set()
    for name, tgtype, function in _rows(
        conn,
        "select t.tgname, t.tgtype, t.tgfoid::regproc::text"
        " from pg_trigger t where t.tgrelid = %s::regclass and not t.tgisinternal",
        (table,),
    ):
        timing = "before" if tgtype & 2 else ("instead of" if tgtype & 64 else "after")
        events = [
            e
            for bit, e in ((4, "insert"), (16, "update"), (8, "delete"), (32, "truncate"))
            if tgtype & bit
        ]
        level = "row" if tgtype & 1 else "statement"
        triggers.add(f"{name}: {timing} {','.join(events)} {level} {function}")
    return triggers


def describe_table(conn: psycopg.Connection, table: str, roles: list[str]) -> dict[str, Any]:
    owner, rls = _one(
        conn,
        "select pg_get_userbyid(relowner)::text, relrowsecurity from pg_class"
        " where oid = %s::regclass",
        (table,),
    )
    return {
        "owner": owner,
        "rls": rls,
        "grants": describe_grants(conn, table, roles),
        "unique": describe_unique_keys(conn, table),
        "triggers": describe_triggers(conn, table),
        "columns": describe_columns(conn, table),
    }


def describe_role(conn: psycopg.Connection, role: str, attributes: list[str]) -> dict[str, Any]:
    """The named attributes of `role` (contract keys), and the roles it is a member of."""
    named = [a for a in attributes if a in ROLE_ATTRIBUTES]
    fields = ", ".join(ROLE_ATTRIBUTES[a] for a in named)
    values: tuple[Any, ...] = ()
    if named:
        values = _one(conn, f"select {fields} from pg_roles where rolname = %s", (role,))
    described: dict[str, Any] = dict(zip(named, values, strict=True))
    if "member_of" in attributes:
        described["member_of"] = sorted(
            r[0]
            for r in _rows(
                conn,
                "select g.rolname::text from pg_auth_members m"
                " join pg_roles g on g.oid = m.roleid join pg_roles u on u.oid = m.member"
                " where u.rolname = %s",
                (role,),
            )
        )
    return described


def contract_table(contract: dict[str, Any], table: str) -> dict[str, Any]:
    """The contract's entry for `table`, in describe_table's shape."""
    spec = contract["tables"][table]
    return {
        "owner": spec["owner"],
        "rls": spec["rls"],
        "grants": dict(spec["grants"]),
        "unique": set(spec["unique"]),
        "triggers": set(spec["triggers"]),
        "columns": {name: dict(column) for name, column in spec["columns"].items()},
    }
