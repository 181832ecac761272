"""The outbox: local changes waiting for the server, each written with the change it describes.

`enqueue` refuses to run outside a transaction, so a change and its outbox entry commit together
or not at all (a kill between the two cannot lose or invent a change). Entries leave the outbox
only when the server has confirmed them, in the same local transaction that applies the server's
answer; a retry after a crash re-sends an idempotent upsert, never a duplicate.

Refusals that can never succeed (SQLSTATE class 22, 23, 42501) park the entry as `rejected`
with the server's message: it stays visible, the local data stays, and the user can retry it
(e.g. after a manager fixed the assignment) or discard it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlite_utils import Database

from sync.rows import dumps, now_iso


class Op(StrEnum):
    UPSERT = "upsert"  # the whole row; on the server an upsert on its primary key
    PATCH = "patch"  # only the fields changed here (merge by field)
    DELETE = "delete"  # a delete of a row already gone is a no-op


class EntryState(StrEnum):
    PENDING = "pending"
    REJECTED = "rejected"


class OutsideTransactionError(RuntimeError):
    """An outbox write outside a transaction could commit apart from its change."""


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    org_id: str
    table_name: str
    row_id: str
    op: Op
    payload: dict[str, Any]
    state: EntryState
    tries: int
    error_code: str | None
    last_error: str | None
    # When it was last written: a patch folded into it after it was read is newer (see remove).
    updated_at: str = ""

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> OutboxEntry:
        return cls(
            seq=int(row["seq"]),
            org_id=str(row["org_id"]),
            table_name=str(row["table_name"]),
            row_id=str(row["row_id"]),
            op=Op(row["op"]),
            payload=json.loads(row["payload"]),
            state=EntryState(row["state"]),
            tries=int(row["tries"]),
            error_code=row["error_code"],
            last_error=row["last_error"],
            updated_at=str(row.get("updated_at") or ""),
        )


def enqueue(
    db: Database,
    *,
    org_id: str,
    table_name: str,
    row_id: str,
    op: Op,
    payload: Mapping[str, Any],
) -> int:
    """Add a change to send; call inside the transaction that makes the change. Returns its seq.

    A patch for a row that already waits to be sent is folded into that entry (field by field),
    so the server sees one write with the latest value of each field. An upsert replaces the
    row's last waiting upsert (a call uploaded before its first copy was sent): one request
    cannot upsert the same row twice.
    """
    if not db.conn.in_transaction:
        raise OutsideTransactionError(
            f"outbox entry for {table_name} {row_id} written outside a transaction"
        )
    if op is Op.PATCH:
        waiting = db.execute(
            "select seq, payload from outbox where table_name = ? and row_id = ? "
            "and state = 'pending' and op in ('upsert', 'patch') order by seq desc limit 1",
            [table_name, row_id],
        ).fetchone()
        if waiting is not None:
            merged = {**json.loads(waiting[1]), **payload}
            db.execute(
                "update outbox set payload = ?, updated_at = ? where seq = ?",
                [dumps(merged), now_iso(), waiting[0]],
            )
            return int(waiting[0])
    if op is Op.UPSERT:
        last = db.execute(
            "select seq, op from outbox where table_name = ? and row_id = ? and state = 'pending' "
            "order by seq desc limit 1",
            [table_name, row_id],
        ).fetchone()
        if last is not None and last[1] == Op.UPSERT.value:
            db.execute(
                "update outbox set payload = ?, updated_at = ? where seq = ?",
                [dumps(payload), now_iso(), last[0]],
            )
            return int(last[0])
    now = now_iso()
    cursor = db.execute(
        "insert into outbox (org_id, table_name, row_id, op, payload, created_at, updated_at) "
        "values (?, ?, ?, ?, ?, ?, ?)",
        [org_id, table_name, row_id, op.value, dumps(payload), now, now],
    )
    return int(cursor.lastrowid or 0)


def pending(db: Database, org_id: str, *, limit: int, after: int = 0) -> list[OutboxEntry]:
    """Entries waiting to be sent for one org, oldest first, from after seq `after`."""
    rows = db.execute_returning_dicts(
        "select * from outbox where state = 'pending' and org_id = ? and seq > ? "
        "order by seq limit ?",
        [org_id, after, limit],
    )
    return [OutboxEntry.from_row(row) for row in rows]


def rejected(db: Database, org_id: str | None = None) -> list[OutboxEntry]:
    sql = "select * from outbox where state = 'rejected'"
    params: list[Any] = []
    if org_id is not None:
        sql += " and org_id = ?"
        params.append(org_id)
    return [
        OutboxEntry.from_row(r) for r in db.execute_returning_dicts(sql + " order by seq", params)
    ]


def counts(db: Database, org_id: str | None = None) -> tuple[int, int]:
    """(pending, rejected) entries, for one org or all."""
    sql = "select state, count(*) from outbox"
    params: list[Any] = []
    if org_id is not None:
        sql += " where org_id = ?"
        params.append(org_id)
    by_state = dict(db.execute(sql + " group by state", params).fetchall())
    return int(by_state.get("pending", 0)), int(by_state.get("rejected", 0))


def remove(db: Database, seqs: Iterable[int]) -> None:
    """The server confirmed these; call in the transaction that applies its answer."""
    with db.atomic():
        db.conn.executemany("delete from outbox where seq = ?", [(seq,) for seq in seqs])


def remove_sent(db: Database, entries: Iterable[OutboxEntry]) -> None:
    """The server confirmed these entries as they were read. One a local write folded more
    into since (push lets local writes run between its batches: sync/owner.py) stays, so the
    fields folded in are sent next time instead of being dropped with it."""
    with db.atomic():
        db.conn.executemany(
            "delete from outbox where seq = ? and updated_at = ?",
            [(entry.seq, entry.updated_at) for entry in entries],
        )


def park(db: Database, seq: int, *, code: str, message: str) -> None:
    """Refused for good: keep the entry, visibly, with the server's reason."""
    db.execute(
        "update outbox set state = 'rejected', tries = tries + 1, error_code = ?, last_error = ?, "
        "updated_at = ? where seq = ?",
        [code, message, now_iso(), seq],
    )


def note_failure(db: Database, seqs: Sequence[int], message: str) -> None:
    """A transient failure: count the try and keep the message for the status line."""
    now = now_iso()
    with db.atomic():
        db.conn.executemany(
            "update outbox set tries = tries + 1, last_error = ?, updated_at = ? where seq = ?",
            [(message, now, seq) for seq in seqs],
        )


def retry_rejected(db: Database, seq: int | None = None) -> int:
    """Put rejected entries (one, or all) back in the queue; returns how many."""
    sql = "update outbox set state = 'pending', updated_at = ? where state = 'rejected'"
    params: list[Any] = [now_iso()]
    if seq is not None:
        sql += " and seq = ?"
        params.append(seq)
    with db.atomic():
        return db.execute(sql, params).rowcount


def discard_rejected(db: Database, seq: int) -> bool:
    """Give up on a rejected change (the local row stays, marked as never synced)."""
    with db.atomic():
        return (
            db.execute("delete from outbox where seq = ? and state = 'rejected'", [seq]).rowcount
            > 0
        )
