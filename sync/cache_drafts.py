"""Scenario drafts kept here and sent through the outbox: an admin's edits survive offline and go
to the server at the next sync, and never overwrite someone else's save.

A draft's save is a `patch` of its content carrying `revision`, the server revision the edit is
based on; the server refuses a stale one (CD412, migration 20261204000200_scenario_versions.sql)
and push parks it (sync/push.py), so the admin's copy stays in the parked entry until they keep
it as a copy or take the other save. Live versions are never written (the server would refuse
with CD423): the local write refuses them, and push parks an entry whose scenario was published
meanwhile without sending it.

An editor keeps saving against the revision it opened while its own earlier saves reach the
server (each one moves the server's revision on). The cache remembers that chain per draft in
`meta` (`draft_base:<id>`: which editor, the revision it opened, and the server's revision after
its last confirmed save), so a later save of the same editor is based on its own last save, and
a save by anyone else in between (another admin, another editor) is still a conflict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from app.scenarios import CONTENT_FIELDS
from sync import outbox
from sync.cache_merge import store_server_rows
from sync.cache_records import CacheError
from sync.cache_writes import local_value
from sync.outbox import Op, OutboxEntry
from sync.rows import dumps, now_iso

TABLE = "scenarios"
# What an author edits of a scenario (app.scenarios.Scenario.content): all a draft's save sends.
CONTENT = frozenset(CONTENT_FIELDS)


@dataclass(frozen=True)
class ParkedDraft:
    """A draft's save the server refused for good (CD412: someone else saved it first); the
    content is the admin's copy, kept until they choose."""

    scenario_id: str
    org_id: str
    content: dict[str, Any]
    based_on: int
    code: str
    message: str


def keep(
    db: Database,
    scenario_id: str,
    content: Mapping[str, Any],
    opened: int,
    editor: str | None = None,
) -> None:
    """Write a draft's content here with its outbox patch, as `editor` (one open editor: its
    own earlier saves do not count against it) opened it at revision `opened`; call inside a
    transaction.

    While an earlier save of this draft is parked as a conflict, the edit goes into that parked
    copy instead of queueing a second refusal."""
    unknown = set(content) - CONTENT
    if unknown:
        raise CacheError(f"scenario fields that are not content: {sorted(unknown)}")
    found = db.execute(
        "select org_id, status from scenarios where id = ?", [scenario_id]
    ).fetchone()
    if found is None:
        raise CacheError(f"no scenario {scenario_id} in the cache")
    if found[1] != "draft":
        raise CacheError(
            f"this scenario is {found[1]}, so it cannot be changed: make a new version of it "
            "and edit that"
        )
    values = {key: local_value(value) for key, value in content.items()}
    sets = ", ".join(f"{key} = ?" for key in values)
    db.execute(f"update scenarios set {sets} where id = ?", [*values.values(), scenario_id])
    if _fold_into_parked(db, scenario_id, content):
        return
    based_on = base(db, scenario_id, opened, editor)
    if editor is not None and based_on == opened:
        _set_chain(db, scenario_id, {"editor": editor, "opened": opened, "now": opened})
    outbox.enqueue(
        db,
        org_id=str(found[0]),
        table_name=TABLE,
        row_id=scenario_id,
        op=Op.PATCH,
        payload={**content, "revision": based_on},
    )


def base(db: Database, scenario_id: str, opened: int, editor: str | None = None) -> int:
    """The revision a save by `editor`, opened at `opened`, is based on: its own last confirmed
    save if there was one since, else `opened`."""
    chain = _chain(db, scenario_id)
    ours = chain is not None and editor is not None and chain["editor"] == editor
    if ours and chain is not None and chain["opened"] == opened:
        return int(chain["now"])
    return opened


def saved(db: Database, entries: Sequence[OutboxEntry], rows: Sequence[Mapping[str, Any]]) -> None:
    """The server confirmed these draft saves (push, before their rows are stored): move the
    editor's chain on, and base the draft's saves still waiting on it."""
    revisions = {str(row["id"]): int(row["revision"]) for row in rows if "revision" in row}
    for entry in entries:
        based_on, now = entry.payload.get("revision"), revisions.get(entry.row_id)
        if based_on is None or now is None:
            continue
        note_saved(db, entry.row_id, int(based_on), now)


def note_saved(db: Database, scenario_id: str, based_on: int, now: int) -> None:
    """A save of ours based on `based_on` is on the server at revision `now` (push, or an
    online save): what waits here based on the same revision is ours too, so is based on it."""
    chain = _chain(db, scenario_id)
    if chain is not None and chain["now"] == based_on:
        _set_chain(db, scenario_id, {**chain, "now": now})
    db.execute(
        "update outbox set payload = json_set(payload, '$.revision', ?), updated_at = ? "
        "where table_name = ? and row_id = ? and state = 'pending' "
        "and json_extract(payload, '$.revision') = ?",
        [now, now_iso(), TABLE, scenario_id, based_on],
    )


def not_a_draft(db: Database, entry: OutboxEntry) -> str | None:
    """Why a draft's save must not be sent (its scenario is live now, as far as the cache
    knows: the server would refuse it with CD423); None if it may go."""
    if entry.table_name != TABLE:
        return None
    found = db.execute("select status from scenarios where id = ?", [entry.row_id]).fetchone()
    if found is None or found[0] == "draft":
        return None
    return (
        f"this scenario was {found[0]} meanwhile, so your changes to the draft were not sent: "
        "keep them as a copy"
    )


def parked(db: Database, org_id: str) -> list[ParkedDraft]:
    """The org's draft saves parked as refused, oldest first."""
    return [
        ParkedDraft(
            scenario_id=entry.row_id,
            org_id=entry.org_id,
            content={k: v for k, v in entry.payload.items() if k in CONTENT},
            based_on=int(entry.payload.get("revision") or 0),
            code=entry.error_code or "",
            message=entry.last_error or "",
        )
        for entry in outbox.rejected(db, org_id)
        if entry.table_name == TABLE
    ]


def settle(db: Database, scenario_id: str, server_row: Mapping[str, Any] | None) -> None:
    """The admin chose (their copy kept as a new draft, or the other save taken): the parked
    save goes, and the draft here becomes the server's row (None: deleted on the server)."""
    db.execute(
        "delete from outbox where table_name = ? and row_id = ? and state = 'rejected'",
        [TABLE, scenario_id],
    )
    forget(db, scenario_id)
    if server_row is None:
        db.execute("delete from scenarios where id = ?", [scenario_id])
    else:
        store_server_rows(db, TABLE, [server_row])


def drop_pending(db: Database, scenario_id: str) -> None:
    """An online save sent the whole draft: what waited here to be sent is in it."""
    db.execute(
        "delete from outbox where table_name = ? and row_id = ? and state = 'pending'",
        [TABLE, scenario_id],
    )


def forget(db: Database, scenario_id: str) -> None:
    db.execute("delete from meta where key = ?", [_key(scenario_id)])


def _fold_into_parked(db: Database, scenario_id: str, content: Mapping[str, Any]) -> bool:
    found = db.execute(
        "select seq, payload from outbox where table_name = ? and row_id = ? "
        "and state = 'rejected' order by seq desc limit 1",
        [TABLE, scenario_id],
    ).fetchone()
    if found is None:
        return False
    merged = {**json.loads(found[1]), **content}
    db.execute(
        "update outbox set payload = ?, updated_at = ? where seq = ?",
        [dumps(merged), now_iso(), found[0]],
    )
    return True


def _set_chain(db: Database, scenario_id: str, chain: Mapping[str, Any]) -> None:
    db.execute(
        "insert into meta (key, value) values (?, ?) "
        "on conflict (key) do update set value = excluded.value",
        [_key(scenario_id), json.dumps(dict(chain))],
    )


def _chain(db: Database, scenario_id: str) -> dict[str, Any] | None:
    found = db.execute("select value from meta where key = ?", [_key(scenario_id)]).fetchone()
    return None if found is None else json.loads(found[0])


def _key(scenario_id: str) -> str:
    return f"draft_base:{scenario_id}"
