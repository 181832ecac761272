"""The local cache: one SQLite database per user (WAL), the server's rows the app needs, the outbox.

The file lives at `<data dir>/cache/<user id>.sqlite3` (data dir: platformdirs' user data dir
for "Coachdesk"). One thread uses it, through one connection: in the app, the owner thread of
the cache and session (sync/owner.py). Local work (a finished practice call, a manager's
assignment) is written here together with its outbox entry in one transaction, so it survives a
crash and is sent once the server is reachable. Reads return plain frozen dataclasses for the
UI's models.

The rest lives beside it, by job: the records it returns and takes (sync/cache_records.py), the
synced columns (sync/cache_schema.py), its writes and reads as functions of a connection
(sync/cache_writes.py, sync/cache_queries.py) and the pull side's merge (sync/cache_merge.py).
Their public names used elsewhere are importable from here too.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import platformdirs
import structlog
from sqlite_utils import Database

from sync import (
    cache_copies,
    cache_drafts,
    cache_queries,
    cache_repair,
    cache_writes,
    outbox,
    uploads,
)
from sync.cache_drafts import ParkedDraft
from sync.cache_merge import store_server_rows
from sync.cache_migrations import migrate
from sync.cache_records import (
    INCOMPLETE,
    AttemptRecord,
    AttemptSyncState,
    CacheError,
    DueAssignment,
    LeaderboardRow,
    LeaderboardSnapshot,
    MadeAssignment,
    Member,
    NewAttempt,
    Notification,
    Scenario,
    Team,
    Track,
    attempt_from_copy,
    copy_of,
)
from sync.cache_repair import CacheDamagedError, CacheRepair
from sync.cache_schema import (
    ASSIGNMENT_FIELDS,
    ATTEMPT_PUSH_COLUMNS,
    LARGE_COLUMNS,
    LARGE_VERSION,
    SYNCED_COLUMNS,
    large_select,
    row_select,
)
from sync.rows import iso, now, parse_time, sql_number

__all__ = [
    "APP_NAME",
    "ASSIGNMENT_FIELDS",
    "ATTEMPT_PUSH_COLUMNS",
    "INCOMPLETE",
    "LARGE_COLUMNS",
    "LARGE_VERSION",
    "SYNCED_COLUMNS",
    "AttemptRecord",
    "AttemptSyncState",
    "Cache",
    "CacheError",
    "DueAssignment",
    "LeaderboardRow",
    "LeaderboardSnapshot",
    "MadeAssignment",
    "Member",
    "NewAttempt",
    "Notification",
    "ParkedDraft",
    "Scenario",
    "Team",
    "Track",
    "cache_path",
    "default_data_dir",
    "large_select",
    "row_select",
    "store_server_rows",
]

log = structlog.get_logger(__name__)

APP_NAME = "Coachdesk"


def default_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def cache_path(data_dir: Path, user_id: str) -> Path:
    """The cache file of one user (each user their own file: sign-out removes exactly it)."""
    return data_dir / "cache" / f"{uuid.UUID(user_id)}.sqlite3"


# The cache ---------------------------------------------------------------------------------------
class _Database(Database):
    """sqlite_utils' Database whose outermost `atomic()` block takes the write lock at once.

    sqlite_utils starts it with a plain (deferred) BEGIN. In WAL mode a deferred transaction that
    reads first and writes later fails at once with "database is locked" (no busy wait) when
    another connection committed in between. In the app the owner thread holds the only
    connection, but another process may open the same file (`coachdesk` commands, a second app
    started by mistake): BEGIN IMMEDIATE waits for the lock (the connection's timeout) instead,
    and every write transaction here is short.
    """

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:  # type: ignore[override]
        if self.conn.in_transaction:
            with super().atomic() as db:  # nested: a savepoint, as sqlite_utils does
                yield db
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise


class Cache:
    """One user's cache file, used by one thread: the one that opened it.

    In the app that is the owner thread of the cache and session (sync/owner.py): every other
    thread hands its work to it, so the cache has one connection and no locks. Use from
    another thread is refused (CacheError) rather than left to race.

    Opening checks the file first (sync/cache_repair.py). A damaged one is set aside and a new
    cache started; `repair` then says what happened, for the user. Either way, attempts whose
    copy is kept beside the cache (sync/cache_copies.py) but which the cache lacks are recorded
    again, so a cache file lost, emptied or damaged loses no practice call not yet synced.
    """

    def __init__(self, path: Path, user_id: str, *, repair: bool = True) -> None:
        """`repair` False: raise CacheDamagedError instead of setting a damaged file aside."""
        self.path = path
        self.user_id = str(uuid.UUID(user_id))
        self.copies = cache_copies.copies_dir(path)
        self._owner = threading.get_ident()
        self._db: Database | None = None
        self.repair: CacheRepair | None = None
        path.parent.mkdir(parents=True, exist_ok=True)
        damage: tuple[str, Path] | None = None
        try:
            cache_repair.check(path)
        except CacheDamagedError as error:
            if not repair:
                raise
            damage = (error.reason, cache_repair.set_aside(path))
        conn = sqlite3.connect(path, timeout=30)
        # FULL: a commit survives power loss too, not only a killed process.
        conn.execute("pragma synchronous = full")
        self._db = _Database(conn, execute_plugins=False)
        migrate(conn)
        self._db.enable_wal()
        self.device_id = self._device_id()
        recovered = self._restore_copies()
        if damage is not None:
            self.repair = CacheRepair(*damage, recovered)
            log.warning("cache rebuilt", path=str(path), recovered=recovered)

    @classmethod
    def open(cls, data_dir: Path, user_id: str, *, repair: bool = True) -> Cache:
        return cls(cache_path(data_dir, user_id), user_id, repair=repair)

    @property
    def db(self) -> Database:
        """The cache's connection (CacheError once closed, or on another thread)."""
        if threading.get_ident() != self._owner:
            raise CacheError(
                f"the cache {self.path} belongs to another thread: hand the work to its owner "
                "(sync/owner.py)"
            )
        if self._db is None:
            raise CacheError(f"the cache {self.path} is closed")
        return self._db

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        with self.db.atomic() as db:
            yield db

    def close(self) -> None:
        """Close the connection (on the owner thread; a second close does nothing)."""
        db, self._db = self.db if self._db is not None else None, None
        if db is not None:
            db.conn.close()

    def destroy(self) -> None:
        """Close and delete this user's cache (sign-out); the caller checked the outbox."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            _unlink_when_released(Path(f"{self.path}{suffix}"))
        cache_copies.forget(self.copies, cache_copies.ids(self.copies))
        with contextlib.suppress(OSError):
            self.copies.rmdir()

    # Meta ---------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", [key]).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.atomic() as db:
            db.execute(
                "insert into meta (key, value) values (?, ?) "
                "on conflict (key) do update set value = excluded.value",
                [key, value],
            )

    def _device_id(self) -> str:
        device = self.meta("device_id")
        if device is None:
            # Stable per cache file: tells the server (and a second device) where an attempt
            # was recorded.
            device = f"desktop-{uuid.uuid4().hex[:12]}"
            with self.atomic() as db:
                db.execute(
                    "insert or ignore into meta (key, value) values ('device_id', ?)", [device]
                )
            device = self.meta("device_id") or device
        return device

    def last_sync(self, org_id: str) -> datetime | None:
        return parse_time(self.meta(f"last_sync:{org_id}"))

    # Local writes (sync/cache_writes.py) ---------------------------------------------------
    def record_attempt(self, new: NewAttempt) -> AttemptRecord:
        """Keep a finished call: its row, its files to upload and its outbox entry, atomically.

        Saving the same attempt id twice is a no-op that returns the saved record.
        """
        return self._record_attempt(new, keep_copy=True)

    def _record_attempt(self, new: NewAttempt, *, keep_copy: bool) -> AttemptRecord:
        if new.user_id != self.user_id:
            raise CacheError(f"attempt {new.id} belongs to another user than this cache's")
        recording = new.recording.resolve() if new.recording is not None else None
        if recording is not None and not recording.is_file():
            raise CacheError(f"attempt {new.id}: the recording {recording} does not exist")
        files = uploads.files_for_attempt(
            org_id=new.org_id,
            user_id=new.user_id,
            attempt_id=new.id,
            transcript=new.transcript,
            recording=recording,
        )
        row = cache_writes.attempt_row(
            new, recording=recording, files=files, device_id=self.device_id
        )
        payload = cache_writes.attempt_payload(row, new.transcript, sent_files=not new.hold_files)
        if keep_copy and not self._has_attempt(new.id):
            # Before the row: a cache file lost right after this commit still has the copy.
            cache_copies.keep(self.copies, new.id, copy_of(new, recording))
        with self.atomic() as db:
            cache_writes.add_attempt(db, row, files, payload, held=new.hold_files)
        return self._attempt_or_fail(new.id)

    def upload_attempt(self, attempt_id: str) -> AttemptRecord:
        """Send an attempt's held recording and transcript with the next push, then its row
        with their paths and the transcript (which the server then scores)."""
        with self.atomic() as db:
            cache_writes.release_attempt(db, attempt_id, self.user_id)
        self._release_copy(attempt_id)
        return self._attempt_or_fail(attempt_id)

    def held_attempts(self) -> set[str]:
        """Attempts whose recording and transcript wait for the user to upload them."""
        return uploads.held_attempts(self.db)

    def forget_synced_copies(self, db: Database | None = None) -> int:
        """Drop the copies of attempts the server has whole; how many.

        Whole: no outbox entry left, nor a file still to upload (held ones included: the row of
        a held attempt is on the server, its transcript and recording only here). An attempt the
        cache lacks keeps its copy: that is the one a rebuild records again. `db`: the caller's
        connection (a push keeps using its own even if the cache is closed meanwhile).
        """
        db = db or self.db
        synced = cache_queries.whole_on_server(db, cache_copies.ids(self.copies))
        cache_copies.forget(self.copies, synced)
        return len(synced)

    def _restore_copies(self) -> int:
        """Record again every attempt with a copy but no row here (a lost or rebuilt cache)."""
        restored = 0
        for attempt_id in cache_copies.ids(self.copies):
            if self._has_attempt(attempt_id):
                continue  # the usual case: only a lost or rebuilt cache lacks its attempts
            copy = cache_copies.read(self.copies, attempt_id)
            if copy is None:
                continue
            try:
                self._record_attempt(attempt_from_copy(attempt_id, copy), keep_copy=False)
            except (CacheError, KeyError, TypeError, ValueError) as error:
                log.warning("attempt copy not restored", attempt_id=attempt_id, error=str(error))
                continue
            restored += 1
        if restored:
            log.warning("unsynced attempts restored from their copies", attempts=restored)
        self.forget_synced_copies()
        return restored

    def _release_copy(self, attempt_id: str) -> None:
        """The user let a held attempt's files go: a rebuilt cache must not hold them again."""
        copy = cache_copies.read(self.copies, attempt_id)
        if copy is not None and copy.get("hold_files"):
            cache_copies.keep(self.copies, attempt_id, {**copy, "hold_files": False})

    def _has_attempt(self, attempt_id: str) -> bool:
        return cache_queries.has_attempt(self.db, attempt_id)

    def create_assignment(
        self,
        *,
        org_id: str,
        scenario_id: str | None = None,
        track_id: str | None = None,
        user_id: str | None = None,
        team_id: str | None = None,
        due_at: datetime | None = None,
        note: str = "",
        required_score: Decimal | None = None,
        max_attempts: int | None = None,
    ) -> str:
        """A manager's new assignment, sent with a client id (a retry updates, never doubles)."""
        if (scenario_id is None) == (track_id is None):
            raise CacheError("an assignment needs exactly one of a scenario or a track")
        if (user_id is None) == (team_id is None):
            raise CacheError("an assignment needs exactly one of a person or a team")
        assignment_id = str(uuid.uuid4())
        row = {
            "id": assignment_id,
            "org_id": org_id,
            "scenario_id": scenario_id,
            "track_id": track_id,
            "user_id": user_id,
            "team_id": team_id,
            "due_at": iso(due_at) if due_at else None,
            "required_score": sql_number(required_score),
            "max_attempts": max_attempts,
            "note": note,
        }
        with self.atomic() as db:
            cache_writes.add_assignment(db, row, assigned_by=self.user_id)
        return assignment_id

    def update_assignment(self, assignment_id: str, **changes: Any) -> None:
        """Change some fields; only those fields are sent, so edits elsewhere to others stay."""
        unknown = set(changes) - ASSIGNMENT_FIELDS
        if unknown:
            raise CacheError(f"assignment fields that cannot be changed here: {sorted(unknown)}")
        with self.atomic() as db:
            cache_writes.patch_assignment(db, assignment_id, changes)

    def delete_assignment(self, assignment_id: str) -> None:
        with self.atomic() as db:
            cache_writes.remove_assignment(db, assignment_id)

    def dismiss_notification(self, notification_id: str) -> None:
        """Read: gone from the unread ones at once, and from the server's at the next push."""
        with self.atomic() as db:
            cache_writes.dismiss_notification(db, notification_id, now())

    # Scenario drafts (sync/cache_drafts.py) -------------------------------------------------
    def keep_draft(
        self, scenario_id: str, content: dict[str, Any], opened: int, editor: str | None = None
    ) -> None:
        """An admin's draft content, kept here and sent as a patch against the revision the
        editor opened (a stale one is refused by the server and parked, never overwriting);
        `editor` names one open editor, whose own earlier saves do not count against it."""
        with self.atomic() as db:
            cache_drafts.keep(db, scenario_id, content, opened, editor)

    def draft_base(self, scenario_id: str, opened: int, editor: str | None = None) -> int:
        """The revision an editor opened at `opened` saves against now (its own last save of
        it, once the server has it)."""
        return cache_drafts.base(self.db, scenario_id, opened, editor)

    def draft_saved_online(self, scenario_id: str, based_on: int, row: dict[str, Any]) -> None:
        """A whole draft went to the server directly (the editor's Save) as `row`: what waited
        here is in it, and the editor's later saves are based on it."""
        with self.atomic() as db:
            cache_drafts.drop_pending(db, scenario_id)
            cache_drafts.note_saved(db, scenario_id, based_on, int(row["revision"]))
            store_server_rows(db, "scenarios", [row])

    def parked_drafts(self, org_id: str) -> list[ParkedDraft]:
        """Draft saves the server refused (someone else saved first): the admin's copies."""
        return cache_drafts.parked(self.db, org_id)

    def settle_draft(self, scenario_id: str, server_row: dict[str, Any] | None) -> None:
        """The admin chose: the parked save goes, the draft here becomes the server's row."""
        with self.atomic() as db:
            cache_drafts.settle(db, scenario_id, server_row)

    # Reads (sync/cache_queries.py) ---------------------------------------------------------
    def sync_counts(self, org_id: str | None = None) -> tuple[int, int]:
        """(changes waiting to be sent, changes the server refused)."""
        return outbox.counts(self.db, org_id)

    def rejected_changes(self, org_id: str | None = None) -> list[outbox.OutboxEntry]:
        return outbox.rejected(self.db, org_id)

    def retry_rejected(self, seq: int | None = None) -> int:
        return outbox.retry_rejected(self.db, seq)

    def awaiting_scores(self, org_id: str) -> int:
        """Attempts of `org_id` held here (a trainee's own, a manager's whole org) that the
        server holds with their transcript but has not scored yet: it scores in the background
        after the upload, and the score comes back by pull."""
        return cache_queries.awaiting_scores(self.db, org_id)

    def attempt(self, attempt_id: str) -> AttemptRecord | None:
        return cache_queries.attempt(self.db, attempt_id)

    def recent_attempts(
        self, org_id: str, *, user_id: str | None = None, limit: int = 20
    ) -> list[AttemptRecord]:
        """Newest first; one user's, or the whole org's (what a manager's cache holds).

        Attempts the server found incomplete (no rep speech; an older Coachdesk pushed them) are
        no practice calls and are left out, as they are of every report."""
        return cache_queries.recent_attempts(self.db, org_id, user_id=user_id, limit=limit)

    def previous_attempt(self, attempt: AttemptRecord) -> AttemptRecord | None:
        """The same person's attempt of the same scenario just before this one, if held here."""
        return cache_queries.previous_attempt(self.db, attempt)

    def scenarios(self, org_id: str) -> list[Scenario]:
        return cache_queries.scenarios(self.db, org_id)

    def scenario(self, scenario_id: str) -> Scenario | None:
        return cache_queries.scenario(self.db, scenario_id)

    def tracks(self, org_id: str) -> list[Track]:
        return cache_queries.tracks(self.db, org_id)

    def members(self, org_id: str) -> list[Member]:
        return cache_queries.members(self.db, org_id)

    def teams(self, org_id: str) -> list[Team]:
        return cache_queries.teams(self.db, org_id)

    def due_assignments(self, org_id: str, user_id: str | None = None) -> list[DueAssignment]:
        """Assignments addressed to the user or their teams, soonest due first (undated last)."""
        return cache_queries.due_assignments(self.db, org_id, user_id or self.user_id)

    def assignments_made(self, org_id: str, assigned_by: str | None = None) -> list[MadeAssignment]:
        """The org's assignments (those `assigned_by` made, if given), newest first."""
        return cache_queries.assignments_made(self.db, org_id, assigned_by)

    def attempt_counts(self, org_id: str) -> dict[tuple[str, str], int]:
        """Attempts held here per (user, scenario), incomplete calls left out."""
        return cache_queries.attempt_counts(self.db, org_id)

    def unread_notifications(self, org_id: str) -> list[Notification]:
        """This user's notifications in the org not dismissed yet, newest first."""
        return cache_queries.unread_notifications(self.db, org_id, self.user_id)

    def leaderboard(self, org_id: str, month: date) -> LeaderboardSnapshot | None:
        """The last leaderboard fetched for that month, as it was then (works offline)."""
        return cache_queries.leaderboard(self.db, org_id, month)

    # Helpers -------------------------------------------------------------------------------
    def _attempt_or_fail(self, attempt_id: str) -> AttemptRecord:
        record = self.attempt(attempt_id)
        if record is None:  # pragma: no cover - just written in the same thread
            raise CacheError(f"attempt {attempt_id} vanished from the cache")
        return record


# Files -------------------------------------------------------------------------------------------
def _unlink_when_released(path: Path, patience_s: float = 10.0) -> None:
    """Delete `path`; on Windows an open file cannot be deleted, and another process (a
    `coachdesk` command) may still be finishing a read on it, so wait for it a little."""
    deadline = time.monotonic() + patience_s
    while True:
        try:
            path.unlink(missing_ok=True)
            return
        except PermissionError as error:
            if time.monotonic() > deadline:
                raise CacheError(f"could not delete {path}: it is still in use") from error
            time.sleep(0.05)
