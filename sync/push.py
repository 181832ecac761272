"""Push: send one org's outbox to the server, files first, rows in bulk idempotent upserts.

Order per round: every waiting file (sync.uploads), then the outbox in the order it was
written, consecutive entries of the same table and kind going in one request:

    upsert   POST ... on_conflict=id (merge duplicates), up to 200 rows and about BATCH_BYTES
             of JSON a request (the outbox is read in windows of that size); the answer (the
             server's rows: status, score, sync_xid, without the large columns just sent) is
             stored with the entries' removal in one local transaction, so a crash before that
             commit only means the same upsert again.
    patch    PATCH ?id=eq.<id> with only the fields changed here.
    delete   DELETE ?id=in.(...); deleting a row already gone changes nothing.

A refused batch is split in halves until the refused entries are alone; those are parked as
rejected with the server's message and the rest goes through. An attempt's row waits until its
files are uploaded, so the server never marks it `uploaded` before its files exist.

Nothing of one org is ever sent under a token for another (docs/security.md, "Membership by
consent"): a push for an org the client's token is not for sends nothing and raises
WrongOrgError, and an entry whose row names another org than the entry is parked as rejected
(`wrong-org`) without being sent. Either way the local rows stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import groupby
from typing import Any

import structlog
from sqlite_utils import Database

from supabase import Client
from sync import cache_drafts, outbox, uploads
from sync.cache import Cache
from sync.cache_merge import store_server_rows
from sync.cache_schema import row_select
from sync.client import RejectedError, SyncError, WrongOrgError, classify, token_org_id
from sync.outbox import Op, OutboxEntry

log = structlog.get_logger(__name__)

BATCH_ROWS = 200
# The outbox is read (and its payloads parsed) a window of about this much JSON at a time, and
# a window's entries go in requests of at most BATCH_ROWS. Parsing and encoding JSON holds the
# interpreter lock (~4 and ~7 ms per ten-minute transcript), which the UI's thread must wait out,
# and parsed payloads kept for a whole push (~2,000 objects per transcript) grow the heap enough
# to set off a full garbage collection, ~70 ms holding the lock in the app's process. A window
# of two transcripts keeps both small; small rows (assignments) still go up to BATCH_ROWS a time.
BATCH_BYTES = 400_000
# The most entries a window holds however small they are (memory stays bounded).
READ_AHEAD = 1000


@dataclass
class PushResult:
    files: int = 0
    files_refused: int = 0
    rows: int = 0
    rejected: int = 0
    waiting: int = 0  # rows held back because a file of theirs is not uploaded yet


def push(
    client: Client,
    cache: Cache,
    org_id: str,
    *,
    batch_rows: int = BATCH_ROWS,
    batch_bytes: int = BATCH_BYTES,
    between: Callable[[], None] | None = None,
) -> PushResult:
    """Send everything waiting for `org_id` (the org the session's token is for); `between` is
    called after each file and each batch (the owner thread's yield point: sync/owner.py)."""
    carried = token_org_id(client)
    if carried != org_id:
        raise WrongOrgError(
            f"the session's token is for organisation {carried or '(none)'}, not {org_id} whose "
            "changes are waiting: nothing was sent and the changes are kept here; switch to "
            f"{org_id} to send them"
        )
    db = cache.db
    result = PushResult()
    result.files, result.files_refused = uploads.upload_pending(client, db, org_id, between=between)
    after = 0
    while True:
        window = _window(db, org_id, after, batch_bytes)
        entries = outbox.pending(db, org_id, limit=window, after=after) if window else []
        if not entries:
            cache.forget_synced_copies(db)  # the server has them now (sync/cache_copies.py)
            return result
        after = entries[-1].seq
        ready = _ready(db, entries, result)
        for (table, op), run in groupby(ready, key=lambda e: (e.table_name, e.op)):
            batch = list(run)
            for start in range(0, len(batch), batch_rows):
                _send(client, db, table, op, batch[start : start + batch_rows], result)
                if between is not None:
                    between()


def _window(db: Database, org_id: str, after: int, budget: int) -> int:
    """How many of the org's next pending entries (as outbox.pending orders them) fit in
    `budget` bytes of payload text: at least one, at most READ_AHEAD."""
    count = size = 0
    # Stepped lazily: stops reading at the first entry over the budget.
    for (length,) in db.execute(
        "select length(payload) from outbox where state = 'pending' and org_id = ? and seq > ? "
        "order by seq limit ?",
        [org_id, after, READ_AHEAD],
    ):
        if count and size + length > budget:
            break
        count += 1
        size += length
    return count


def _ready(db: Database, entries: list[OutboxEntry], result: PushResult) -> list[OutboxEntry]:
    attempt_ids = [e.row_id for e in entries if e.table_name == "scenario_attempts"]
    waiting = uploads.attempts_waiting(db, attempt_ids)
    result.waiting += len(waiting)
    refused = uploads.refused_paths(db, attempt_ids)
    ready = []
    for entry in entries:
        if _names_another_org(db, entry, result) or _locked_scenario(db, entry, result):
            continue
        if entry.table_name == "scenario_attempts":
            if entry.row_id in waiting:
                continue
            entry = _without_refused_files(entry, refused)
        ready.append(entry)
    return ready


def _names_another_org(db: Database, entry: OutboxEntry, result: PushResult) -> bool:
    """An entry whose row belongs to another org than the entry is never sent: parked."""
    row_org = entry.payload.get("org_id")
    if row_org is None or str(row_org) == entry.org_id:
        return False
    message = (
        f"this {entry.table_name} change belongs to organisation {row_org} but was queued for "
        f"{entry.org_id}; it was not sent"
    )
    with db.atomic():
        outbox.park(db, entry.seq, code="wrong-org", message=message)
    result.rejected += 1
    log.warning("change for another org held back", table=entry.table_name, row_id=entry.row_id)
    return True


def _locked_scenario(db: Database, entry: OutboxEntry, result: PushResult) -> bool:
    """A draft's save whose scenario is live now is never sent (the server would refuse it,
    CD423): parked, the admin's copy kept (sync/cache_drafts.py)."""
    reason = cache_drafts.not_a_draft(db, entry)
    if reason is None:
        return False
    with db.atomic():
        outbox.park(db, entry.seq, code="CD423", message=reason)
    result.rejected += 1
    log.warning("draft save for a live scenario held back", row_id=entry.row_id)
    return True


def _without_refused_files(entry: OutboxEntry, refused: set[tuple[str, str]]) -> OutboxEntry:
    """An attempt whose file the server refused goes without that file's path (data kept)."""
    payload = dict(entry.payload)
    if (entry.row_id, uploads.RECORDINGS_BUCKET) in refused:
        payload["recording_path"] = None
    if (entry.row_id, uploads.TRANSCRIPTS_BUCKET) in refused:
        payload["transcript_path"] = None
    if payload == entry.payload:
        return entry
    return replace(entry, payload=payload)


def _send(
    client: Client,
    db: Database,
    table: str,
    op: Op,
    batch: Sequence[OutboxEntry],
    result: PushResult,
) -> None:
    """One request for the batch; a refusal is narrowed down by halving the batch."""
    try:
        stored = _REQUESTS[op](client, table, batch)
    except RejectedError as error:
        if len(batch) == 1:
            with db.atomic():
                outbox.park(db, batch[0].seq, code=error.code, message=str(error))
            result.rejected += 1
            log.warning(
                "change refused by the server",
                table=table,
                row_id=batch[0].row_id,
                code=error.code,
                reason=str(error),
            )
            return
        middle = len(batch) // 2
        _send(client, db, table, op, batch[:middle], result)
        _send(client, db, table, op, batch[middle:], result)
        return
    except SyncError as error:
        outbox.note_failure(db, [e.seq for e in batch], str(error))
        raise
    with db.atomic():
        # Removed first, so the rows stored are not laid over with what was just sent.
        outbox.remove_sent(db, batch)
        if table == cache_drafts.TABLE:
            cache_drafts.saved(db, batch, stored)
        store_server_rows(db, table, stored)
    result.rows += len(batch)


def _upsert(client: Client, table: str, batch: Sequence[OutboxEntry]) -> list[dict[str, Any]]:
    rows = [entry.payload for entry in batch]
    query = client.table(table).upsert(rows, on_conflict="id").select(_columns(table))
    return _execute(query)


def _patch(client: Client, table: str, batch: Sequence[OutboxEntry]) -> list[dict[str, Any]]:
    stored: list[dict[str, Any]] = []
    for entry in batch:
        query = client.table(table).update(entry.payload).eq("id", entry.row_id)
        rows = _execute(query.select(_columns(table)))
        if not rows:
            # Gone, or not this user's to change: RLS hides both alike. A tombstone clears the
            # entry if the row was deleted; otherwise the user sees the refusal.
            raise RejectedError(
                f"the server has no {table} row {entry.row_id} that you may change", "no-row"
            )
        stored.extend(rows)
    return stored


def _delete(client: Client, table: str, batch: Sequence[OutboxEntry]) -> list[dict[str, Any]]:
    _execute(client.table(table).delete().in_("id", [entry.row_id for entry in batch]))
    return []


def _execute(query: Any) -> list[dict[str, Any]]:
    try:
        return list(query.execute().data or [])
    except SyncError:
        raise
    except Exception as error:  # classify re-raises what it does not know
        raise classify(error) from error


def _columns(table: str) -> str:
    # Without the large columns: the server's copy of what was just sent is the cache's own.
    return row_select(table)


_REQUESTS: dict[Op, Callable[[Client, str, Sequence[OutboxEntry]], list[dict[str, Any]]]] = {
    Op.UPSERT: _upsert,
    Op.PATCH: _patch,
    Op.DELETE: _delete,
}
