"""The pull side's merge: the server's rows laid into the cache, local changes kept over them.

A pull's page, or a push's answer, is applied with `store_server_rows` inside the caller's
transaction. Only the synced columns (sync/cache_schema.py) that the rows carry are written;
fields of local changes still in the outbox are laid over them again (merge by field).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sqlite_utils import Database

from sync import outbox
from sync.cache_records import CacheError
from sync.cache_schema import SYNCED_COLUMNS
from sync.outbox import Op
from sync.rows import dumps, loads, sql_number


def store_server_rows(db: Database, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Apply rows as the server sent them (pull, or a push's answer); call in a transaction.

    Only the server's columns that the rows carry are written, so local-only columns (the
    provisional score, the local recording) stay, and so does a large column fetched apart
    (LARGE_COLUMNS). Local changes still waiting to be sent are laid over the server's row
    again: fields of a pending patch or upsert, and pending deletes (merge by field).
    Attempts are the exception: their creator never changes them after recording, so the
    server's copy (status, score, breakdown) is taken as it is.
    """
    if not db.conn.in_transaction:
        raise outbox.OutsideTransactionError(f"server rows of {table} stored outside a transaction")
    if not rows:
        return
    synced = SYNCED_COLUMNS[table]
    for columns, group in _by_columns(synced, rows).items():
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != "id") or "id = id"
        db.conn.executemany(
            f"insert into {table} ({names}) values ({marks}) "
            f"on conflict (id) do update set {updates}",
            [[_sql_value(row[column]) for column in columns] for row in group],
        )
    if table != "scenario_attempts":
        _lay_over_pending(db, table, [str(row["id"]) for row in rows])


def _by_columns(
    synced: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> dict[tuple[str, ...], list[Mapping[str, Any]]]:
    """Rows grouped by which synced columns they carry (a page's rows all carry the same)."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
    for row in rows:
        if "id" not in row:
            raise CacheError(f"a server row without an id: {sorted(row)}")
        columns = tuple(column for column in synced if column in row)
        groups.setdefault(columns, []).append(row)
    return groups


def _lay_over_pending(db: Database, table: str, ids: list[str]) -> None:
    columns = set(SYNCED_COLUMNS[table]) - {"id", "org_id", "sync_xid"}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        waiting = db.execute(
            f"select row_id, op, payload from outbox where table_name = ? and state = 'pending' "
            f"and row_id in ({marks}) order by seq",
            [table, *chunk],
        ).fetchall()
        for row_id, op, payload in waiting:
            if op == Op.DELETE:
                db.execute(f"delete from {table} where id = ?", [row_id])
                continue
            fields = {k: v for k, v in loads(payload).items() if k in columns}
            if fields:
                sets = ", ".join(f"{key} = ?" for key in fields)
                db.execute(
                    f"update {table} set {sets} where id = ?",
                    [*(_sql_value(v) for v in fields.values()), row_id],
                )


def _sql_value(value: Any) -> Any:
    """JSON values from the server as SQLite stores them (objects and lists as JSON text)."""
    if isinstance(value, dict | list):
        return dumps(value)
    if isinstance(value, Decimal):
        return sql_number(value)
    return value
