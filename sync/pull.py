"""Pull: bring one org's changes into the cache, a page at a time, without missing a late commit.

Every synced row carries `sync_xid`, the id of the transaction that last wrote it (set by
private.touch_row; deletions leave a tombstone in `deleted_rows`, stamped the same way). Ids are
handed out when transactions start, but transactions commit in any order, so a cursor that
simply follows the highest id seen would skip a long transaction that commits after a later
one. The cursor therefore never passes `sync_watermark()`, the oldest transaction still running:
everything below it has committed (or aborted) and is visible now, and anything still running
has an id at or above it and is read by a later pull, however late it commits.

Per org and table the cache keeps the last (sync_xid, id) applied; a page asks for rows above it
and below the watermark, ordered by (sync_xid, id), `PAGE_ROWS` at a time, and each page is
applied together with the new cursor in one local transaction. When a table is drained the
cursor moves to watermark - 1.

Large columns (sync.cache_schema.LARGE_COLUMNS: an attempt's transcript) are not in the pages. For
the rows of a page whose large columns' version (LARGE_VERSION: `transcript_xid`, which changes
only with the transcript) the cache does not hold yet, they are fetched apart, as JSON text, in
batches sized to about LARGE_BATCH_BYTES, before the page's transaction. So a row that changed
without its transcript (an attempt this computer just pushed, now scored by the server) costs a few
hundred bytes instead of its whole transcript, and no single response is large enough to hold the
interpreter lock for long while it is parsed: the UI's thread shares it.

Visibility can change without a row changing (a trainee joins a team, a scenario goes back to
draft, a trainee becomes a manager). A *full pass* re-reads the org from the start and removes
local rows the server no longer shows; it runs on the first pull of an org, when the user's role
or teams changed, when the last sync is older than the tombstone retention, and when asked (the
engine asks once per start; attempts, the largest table, only on the first three). docs/sync.md
has the whole design.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import structlog
from sqlite_utils import Database

from supabase import Client
from sync.cache import Cache
from sync.cache_merge import store_server_rows
from sync.cache_schema import LARGE_COLUMNS, LARGE_VERSION, SYNCED_COLUMNS, large_select, row_select
from sync.client import RejectedError, ServerError, SyncError, classify
from sync.rows import now, now_iso

log = structlog.get_logger(__name__)

PAGE_ROWS = 500
# An attempt's page row carries its KPIs and score breakdown (~2 KB; the transcript comes apart):
# a response is parsed as JSON while holding the interpreter lock, so a page stays near 200 KB
# (a few ms) to keep the UI thread from stalling while a worker pulls.
ATTEMPT_PAGE_ROWS = 100
# Large columns are fetched in batches of about this much JSON text: parsing 2 MB of transcript
# text (long strings, not nested objects) holds the interpreter lock ~10 ms. The first batch of
# a page asks for LARGE_FIRST_ROWS rows; later ones are sized from the text seen so far.
LARGE_BATCH_BYTES = 2_000_000
LARGE_FIRST_ROWS = 4
LARGE_MAX_ROWS = 100
# Who is in the org and in which teams decides what else the user may see: pulled first.
MEMBERSHIP_TABLES = ("org_members", "teams", "team_members")
CONTENT_TABLES = (
    "scenarios",
    "tracks",
    "track_scenarios",
    "assignments",
    "scenario_attempts",
    "notifications",
)
TOMBSTONES = "deleted_rows"
# Ids per request (and per local delete) when a full pass asks which unseen rows still exist:
# about 3.7 KB of URL.
SWEEP_CHUNK = 100
# Below the server's tombstone retention (private.prune_deleted_rows, 90 days): a cache that has
# not synced for this long may have missed deletions, so it reads everything again.
FULL_PASS_AFTER = timedelta(days=60)


@dataclass
class PullResult:
    watermark: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    deleted: int = 0
    full_tables: tuple[str, ...] = ()
    leaderboard_rows: int | None = None  # None: not fetched (e.g. the role may not see it)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def pull(
    client: Client,
    cache: Cache,
    org_id: str,
    *,
    page_rows: int = PAGE_ROWS,
    full: bool = False,
    month: date | None = None,
    on_page: Callable[[str, int], None] | None = None,
) -> PullResult:
    """Pull everything changed in `org_id` (the token's org) since the last pull.

    `full`: re-read the content and membership tables from the start and drop rows no longer
    visible (the engine asks once per start); attempts are re-read when the role changed."""
    result = PullResult(watermark=_watermark(client))
    everything = set(MEMBERSHIP_TABLES + CONTENT_TABLES)
    if _stale(cache, org_id):
        full_tables = everything
    elif full:
        # Attempts' visibility depends on the role only (checked below), so a routine full pass
        # leaves the largest table alone.
        full_tables = everything - {"scenario_attempts"}
    else:
        full_tables = set()
    pager = _Pager(client, cache.db, org_id, result.watermark, page_rows, on_page)
    # Deletions first: a removed team membership must count before visibility is judged.
    # (A row deleted and then written again keeps its newer copy: see _apply_tombstone.)
    result.deleted = pager.pull_tombstones()
    for table in MEMBERSHIP_TABLES:
        result.rows[table] = pager.pull_table(table, full=table in full_tables)
    visibility = _visibility(cache.db, org_id, cache.user_id)
    if visibility != cache.meta(f"visibility:{org_id}"):
        full_tables.update(CONTENT_TABLES)
    for table in CONTENT_TABLES:
        result.rows[table] = pager.pull_table(table, full=table in full_tables)
    result.full_tables = tuple(sorted(full_tables))
    cache.set_meta(f"visibility:{org_id}", visibility)
    result.leaderboard_rows = _pull_leaderboard(client, cache.db, org_id, month)
    cache.set_meta(f"last_sync:{org_id}", now_iso())
    return result


def _watermark(client: Client) -> int:
    return int(_execute(client.rpc("sync_watermark")))


def _stale(cache: Cache, org_id: str) -> bool:
    last = cache.last_sync(org_id)
    return last is None or now() - last > FULL_PASS_AFTER


def _visibility(db: Database, org_id: str, user_id: str) -> str:
    """What decides the user's view of the org: their role and their teams."""
    role = db.execute(
        "select role from org_members where org_id = ? and user_id = ?", [org_id, user_id]
    ).fetchone()
    teams = [
        row[0]
        for row in db.execute(
            "select team_id from team_members where org_id = ? and user_id = ? order by team_id",
            [org_id, user_id],
        ).fetchall()
    ]
    return f"{role[0] if role else '-'}|{','.join(teams)}"


class _Pager:
    """Keyset paging of one org's tables by (sync_xid, id), below the watermark."""

    def __init__(
        self,
        client: Client,
        db: Database,
        org_id: str,
        watermark: int,
        page_rows: int,
        on_page: Callable[[str, int], None] | None,
    ) -> None:
        self.client = client
        self.db = db
        self.org_id = org_id
        self.watermark = watermark
        self.page_rows = page_rows
        self.on_page = on_page

    def pull_table(self, table: str, *, full: bool) -> int:
        if full:
            self._save_cursor(table, 0, None)
            self.db.execute("create temp table if not exists pull_seen (id text primary key)")
            self.db.execute("delete from pull_seen")

        def apply(rows: list[dict[str, Any]]) -> None:
            store_server_rows(self.db, table, rows)
            if full:
                self.db.conn.executemany(
                    "insert or ignore into pull_seen (id) values (?)",
                    [(row["id"],) for row in rows],
                )

        complete = self._add_large_columns if table in LARGE_COLUMNS else None
        pulled = self._drain(table, row_select(table), apply, complete)
        if full:
            self._sweep(table)
        return pulled

    def pull_tombstones(self) -> int:
        deleted = 0

        def apply(rows: list[dict[str, Any]]) -> None:
            nonlocal deleted
            for tombstone in rows:
                deleted += _apply_tombstone(self.db, tombstone)

        self._drain(TOMBSTONES, "id,table_name,row_id,sync_xid", apply)
        return deleted

    def _drain(
        self,
        table: str,
        columns: str,
        apply: Callable[[list[dict[str, Any]]], None],
        complete: Callable[[str, list[dict[str, Any]]], list[dict[str, Any]]] | None = None,
    ) -> int:
        """Read pages above the cursor until the watermark; each page is applied together with
        its new cursor in one local transaction, so a kill re-reads at most one page.
        `complete(table, rows)` adds to a page what it needs from the server before that
        transaction (no request runs while the cache's write lock is held)."""
        total = 0
        limit = self.page_rows
        if table == "scenario_attempts":
            limit = min(limit, ATTEMPT_PAGE_ROWS)
        while True:
            xid, last_id = self._cursor(table)
            query = (
                self.client.table(table)
                .select(columns)
                .eq("org_id", self.org_id)
                .lt("sync_xid", self.watermark)
            )
            if last_id is None:
                query = query.gt("sync_xid", xid)
            else:
                query = query.or_(f"sync_xid.gt.{xid},and(sync_xid.eq.{xid},id.gt.{last_id})")
            rows = list(_execute(query.order("sync_xid").order("id").limit(limit)) or [])
            if rows:
                page = complete(table, rows) if complete is not None else rows
                with self.db.atomic():
                    apply(page)
                    self._save_cursor(table, int(rows[-1]["sync_xid"]), str(rows[-1]["id"]))
                total += len(rows)
                if self.on_page is not None:
                    self.on_page(table, len(rows))
            if len(rows) < limit:
                # Drained: every row below the watermark has been applied.
                self._save_cursor(table, max(self.watermark - 1, xid), None)
                return total

    def _add_large_columns(self, table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The page's rows, with their large columns for the versions not held here yet."""
        version = LARGE_VERSION[table]
        held = _held_versions(self.db, table, [str(row["id"]) for row in rows])
        wanted = [
            str(row["id"])
            for row in rows
            if row[version] is not None and held.get(str(row["id"])) != row[version]
        ]
        large: dict[str, Mapping[str, Any]] = {}
        batch = LARGE_FIRST_ROWS
        seen_rows = seen_bytes = 0
        while wanted:
            chunk, wanted = wanted[:batch], wanted[batch:]
            query = (
                self.client.table(table)
                .select(large_select(table))
                .eq("org_id", self.org_id)
                .in_("id", chunk)
            )
            fetched = list(_execute(query) or [])
            for row in fetched:
                large[str(row["id"])] = row
            seen_rows += len(chunk)
            seen_bytes += sum(_text_bytes(row, LARGE_COLUMNS[table]) for row in fetched)
            batch = _rows_for(LARGE_BATCH_BYTES, seen_bytes / seen_rows)
        if not large:
            return rows
        columns = LARGE_COLUMNS[table]
        # A row gone meanwhile (deleted, or no longer visible) keeps what the cache has; the
        # next pull reads its tombstone.
        return [
            {**row, **{c: large[str(row["id"])][c] for c in columns}}
            if str(row["id"]) in large
            else row
            for row in rows
        ]

    def _cursor(self, table: str) -> tuple[int, str | None]:
        row = self.db.execute(
            "select xid, row_id from sync_cursors where org_id = ? and table_name = ?",
            [self.org_id, table],
        ).fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    def _save_cursor(self, table: str, xid: int, row_id: str | None) -> None:
        with self.db.atomic():
            self.db.execute(
                "insert into sync_cursors (org_id, table_name, xid, row_id) values (?, ?, ?, ?) "
                "on conflict (org_id, table_name) do update set xid = excluded.xid, "
                "row_id = excluded.row_id",
                [self.org_id, table, xid, row_id],
            )

    def _sweep(self, table: str) -> None:
        """After a full pass: drop rows the server no longer shows this user.

        Rows written here and not yet confirmed (sync_xid NULL) stay, and so do rows changed at
        or above the watermark (the next pull reads them). The server is asked about the rows
        this pass did not see: one changed after the watermark was read (an attempt scored
        just after its push) was not seen, yet is still there, whatever xid this cache holds.
        """
        unseen = [
            str(row[0])
            for row in self.db.execute(
                f"select id from {table} where org_id = ? and sync_xid is not null "
                f"and sync_xid < ? and id not in (select id from pull_seen)",
                [self.org_id, self.watermark],
            )
        ]
        if not unseen:
            return
        visible = self._still_visible(table, unseen)
        gone = [row_id for row_id in unseen if row_id not in visible]
        if not gone:
            return
        with self.db.atomic():
            for start in range(0, len(gone), SWEEP_CHUNK):
                chunk = gone[start : start + SWEEP_CHUNK]
                marks = ", ".join("?" for _ in chunk)
                self.db.execute(f"delete from {table} where id in ({marks})", chunk)
        log.info("rows no longer visible removed", table=table, rows=len(gone))

    def _still_visible(self, table: str, ids: Sequence[str]) -> set[str]:
        visible: set[str] = set()
        for start in range(0, len(ids), SWEEP_CHUNK):
            query = (
                self.client.table(table)
                .select("id")
                .eq("org_id", self.org_id)
                .in_("id", list(ids[start : start + SWEEP_CHUNK]))
            )
            visible |= {str(row["id"]) for row in _execute(query) or []}
        return visible


def _held_versions(db: Database, table: str, ids: Sequence[str]) -> dict[str, int]:
    """The large columns' version (LARGE_VERSION) of the rows held here with them: a version to
    fetch no more."""
    version = LARGE_VERSION[table]
    present = " and ".join(f"{column} is not null" for column in LARGE_COLUMNS[table])
    marks = ", ".join("?" for _ in ids)
    return {
        str(row_id): int(xid)
        for row_id, xid in db.execute(
            f"select id, {version} from {table} where id in ({marks}) and {version} is not null "
            f"and {present}",
            list(ids),
        ).fetchall()
    }


def _rows_for(budget: int, bytes_per_row: float) -> int:
    return max(1, min(LARGE_MAX_ROWS, int(budget / max(bytes_per_row, 1.0))))


def _text_bytes(row: Mapping[str, Any], columns: Sequence[str]) -> int:
    return sum(len(value) for c in columns if isinstance(value := row.get(c), str))


def _apply_tombstone(db: Database, tombstone: Mapping[str, Any]) -> int:
    """Delete the row unless it was written again after the deletion (same id re-created)."""
    table = str(tombstone["table_name"])
    if table not in SYNCED_COLUMNS:
        return 0
    row_id = str(tombstone["row_id"])
    removed = db.execute(
        f"delete from {table} where id = ? and coalesce(sync_xid, 0) < ?",
        [row_id, int(tombstone["sync_xid"])],
    ).rowcount
    still_here = db.execute(f"select 1 from {table} where id = ?", [row_id]).fetchone()
    if not still_here:
        # The server deleted it: local changes to it have nothing left to change.
        db.execute("delete from outbox where table_name = ? and row_id = ?", [table, row_id])
        if table == "scenario_attempts":
            db.execute("delete from uploads where attempt_id = ?", [row_id])
    return removed


def _pull_leaderboard(client: Client, db: Database, org_id: str, month: date | None) -> int | None:
    """Replace the snapshot of the month's leaderboard (one request)."""
    first = (month or now().date()).replace(day=1)
    try:
        rows = _execute(client.rpc("leaderboard_month", {"month": first.isoformat()}))
    except (RejectedError, ServerError) as error:
        # The snapshot is a convenience: its absence must not fail the round (the last one
        # fetched stays, with its date).
        log.info("leaderboard not available", org_id=org_id, reason=str(error))
        return None
    with db.atomic():
        db.execute(
            "delete from leaderboard where org_id = ? and month = ?", [org_id, first.isoformat()]
        )
        db.conn.executemany(
            "insert into leaderboard (org_id, month, user_id, display_name, attempts, avg_score, "
            "best_score, passed_attempts, rank, org_rank) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [
                    org_id,
                    first.isoformat(),
                    r["user_id"],
                    r["display_name"],
                    r["attempts"],
                    r["avg_score"],
                    r["best_score"],
                    r["passed_attempts"],
                    r["rank"],
                    r["org_rank"],
                ]
                for r in rows
            ],
        )
        db.execute(
            "insert into leaderboard_snapshots (org_id, month, fetched_at) values (?, ?, ?) "
            "on conflict (org_id, month) do update set fetched_at = excluded.fetched_at",
            [org_id, first.isoformat(), now_iso()],
        )
    return len(rows)


def _execute(query: Any) -> Any:
    try:
        return query.execute().data
    except SyncError:
        raise
    except Exception as error:  # classify re-raises what it does not know
        raise classify(error) from error
