"""The local cache: one SQLite database per user (WAL), the server's rows the app needs, the outbox.

The file lives at `<data dir>/cache/<user id>.sqlite3` (data dir: platformdirs' user data dir
for "Coachdesk"). One thread uses it, through one connection: in the app, the owner thread of
the cache and session (sync/owner.py). Local work (a finished practice call, a manager's
assignment) is written here together with its outbox entry in one transaction, so it survives a
crash and is sent once the server is reachable. Reads return plain frozen dataclasses for the
UI's models.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import platformdirs
import structlog
from sqlite_utils import Database

from sync import cache_copies, cache_repair, outbox, uploads
from sync.cache_migrations import migrate
from sync.cache_repair import CacheDamagedError, CacheRepair
from sync.db_types import AttemptStatus
from sync.outbox import Op
from sync.rows import dumps, iso, loads, now, number, parse_time, sql_number

log = structlog.get_logger(__name__)

APP_NAME = "Coachdesk"

# The server columns each synced table keeps here (same names; pull selects exactly these).
SYNCED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    table: tuple(columns.split())
    for table, columns in {
        "org_members": "id org_id user_id role display_name sync_xid",
        "teams": "id org_id name sync_xid",
        "team_members": "id org_id team_id user_id sync_xid",
        "scenarios": "id org_id title description persona difficulty ai_prompt branching rubric "
        "status pass_score max_attempts updated_at sync_xid",
        "tracks": "id org_id title description status updated_at sync_xid",
        "track_scenarios": "id org_id track_id scenario_id position sync_xid",
        "assignments": "id org_id scenario_id track_id user_id team_id due_at required_score "
        "max_attempts note assigned_by created_at updated_at sync_xid",
        "scenario_attempts": "id org_id user_id assignment_id scenario_id started_at ended_at "
        "duration_seconds recording_path transcript_path transcript kpis score score_breakdown "
        "status failure_reason scored_at device_id created_at updated_at sync_xid "
        "transcript_xid",
    }.items()
}
# Columns too large to travel with every copy of their row: an attempt's transcript (~150 KB of
# JSON for a ten-minute call, and immutable once scored). Pull and push leave them out of their
# row selects; pull fetches them apart, only for rows whose large columns' version
# (LARGE_VERSION) it does not hold yet, as JSON *text* (`::text`): parsing a page of rows then
# builds one string per transcript instead of tens of thousands of small objects, and the text
# is stored as it came.
LARGE_COLUMNS: Mapping[str, tuple[str, ...]] = {"scenario_attempts": ("transcript",)}
# The version of a table's large columns, which changes only when they do (a row's sync_xid also
# changes when a score arrives): a pull fetches them for versions it does not hold.
LARGE_VERSION: Mapping[str, str] = {"scenario_attempts": "transcript_xid"}
# What a client may write of an attempt (the server's insert grant); status is set at push.
_ATTEMPT_PUSH = (
    "id org_id user_id assignment_id scenario_id started_at ended_at duration_seconds "
    "recording_path transcript_path transcript status device_id"
)
ATTEMPT_PUSH_COLUMNS = tuple(_ATTEMPT_PUSH.split())
ASSIGNMENT_FIELDS = frozenset({"due_at", "note", "required_score", "max_attempts"})


def default_data_dir() -> Path:
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def cache_path(data_dir: Path, user_id: str) -> Path:
    """The cache file of one user (each user their own file: sign-out removes exactly it)."""
    return data_dir / "cache" / f"{uuid.UUID(user_id)}.sqlite3"


class CacheError(Exception):
    """A local write that cannot be done as asked; the message says why."""


# The server's status of an attempt without rep speech: never scored, counted nowhere.
INCOMPLETE = AttemptStatus.INCOMPLETE.value


class AttemptSyncState(StrEnum):
    """Where an attempt is between this computer and the server."""

    PENDING = "pending"  # recorded here, waiting to be sent
    HELD = "held"  # its recording and transcript stay here until the user uploads them
    RECORDED = "recorded"  # on the server without its files: its rep has not uploaded them
    REJECTED = "rejected"  # the server refused it; kept here with the reason
    UPLOADED = "uploaded"  # on the server, its score not in yet
    SCORED = "scored"  # the server's score is in
    FAILED = "failed"  # the server could not process it (failure_reason says why)


# Rows for the UI ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class NewAttempt:
    """A practice call finished on this computer, with its provisional (local) score."""

    org_id: str
    user_id: str
    scenario_id: str
    started_at: datetime
    ended_at: datetime
    transcript: Mapping[str, Any]
    assignment_id: str | None = None
    recording: Path | None = None
    provisional_kpis: Mapping[str, Any] | None = None
    provisional_breakdown: Mapping[str, Any] | None = None
    # upload = "manual": the row (metadata) syncs, the recording and transcript wait for
    # Cache.upload_attempt.
    hold_files: bool = False
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if self.ended_at < self.started_at:
            raise CacheError(f"attempt {self.id} ends before it starts")
        if not isinstance(self.transcript.get("turns"), list):
            raise CacheError(f"attempt {self.id}: the transcript has no list of turns")


@dataclass(frozen=True)
class AttemptRecord:
    id: str
    org_id: str
    user_id: str
    scenario_id: str
    assignment_id: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_seconds: Decimal | None
    status: str  # the server's status ("recorded" until the server has it)
    sync_state: AttemptSyncState
    score: Decimal | None  # the server's, else the provisional one
    provisional: bool  # True while `score` is the one computed here
    breakdown: Mapping[str, Any] | None
    kpis: Mapping[str, Any] | None
    recording_path: str | None  # object name in the recordings bucket
    local_recording: Path | None
    rejection: str | None
    failure_reason: str | None
    transcript: Mapping[str, Any] | None = None  # only from attempt(id)

    @property
    def passed(self) -> bool | None:
        return self.breakdown.get("passed") if self.breakdown else None


@dataclass(frozen=True)
class Scenario:
    id: str
    org_id: str
    title: str
    description: str
    persona: Mapping[str, Any]
    difficulty: str
    ai_prompt: str
    branching: Mapping[str, Any]
    rubric: Mapping[str, Any]
    status: str
    pass_score: Decimal
    max_attempts: int | None


@dataclass(frozen=True)
class Track:
    id: str
    title: str
    description: str
    status: str
    scenario_ids: tuple[str, ...]


@dataclass(frozen=True)
class Member:
    user_id: str
    display_name: str
    role: str


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    member_ids: frozenset[str]


@dataclass(frozen=True)
class DueAssignment:
    """An assignment addressed to the user (directly or via a team), with their progress."""

    id: str
    title: str
    kind: str  # "scenario" or "track"
    scenario_ids: tuple[str, ...]
    due_at: datetime | None
    note: str
    required_score: Decimal | None
    completed: int  # scenarios of it passed (server or provisional scores)
    best_score: Decimal | None

    @property
    def done(self) -> bool:
        return bool(self.scenario_ids) and self.completed >= len(self.scenario_ids)

    def overdue(self, at: datetime) -> bool:
        return self.due_at is not None and self.due_at < at and not self.done


@dataclass(frozen=True)
class LeaderboardRow:
    user_id: str
    display_name: str
    attempts: int
    avg_score: Decimal | None
    best_score: Decimal | None
    passed_attempts: int
    rank: int
    org_rank: int


@dataclass(frozen=True)
class LeaderboardSnapshot:
    month: date
    fetched_at: datetime
    rows: tuple[LeaderboardRow, ...]


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

    # Local writes --------------------------------------------------------------------------
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
        duration = round(Decimal((new.ended_at - new.started_at).total_seconds()), 3)
        breakdown = new.provisional_breakdown
        # Held files: the server's row points at nothing until they are uploaded.
        sent_files = not new.hold_files
        row = {
            "id": new.id,
            "org_id": new.org_id,
            "user_id": new.user_id,
            "assignment_id": new.assignment_id,
            "scenario_id": new.scenario_id,
            "started_at": iso(new.started_at),
            "ended_at": iso(new.ended_at),
            "duration_seconds": sql_number(duration),
            "recording_path": files.recording_path if sent_files else None,
            "transcript_path": files.transcript_path if sent_files else None,
            "transcript": dumps(new.transcript),
            "status": "recorded",
            "device_id": self.device_id,
            "created_at": iso(now()),
            "provisional_kpis": dumps(new.provisional_kpis) if new.provisional_kpis else None,
            "provisional_score": sql_number(number((breakdown or {}).get("score"))),
            "provisional_breakdown": dumps(breakdown) if breakdown else None,
            "local_recording": str(recording) if recording else None,
        }
        payload = {column: row[column] for column in ATTEMPT_PUSH_COLUMNS}
        if sent_files:
            payload.update(transcript=new.transcript, status="uploaded")
        else:
            payload.update(transcript=None)  # status stays "recorded"
        if keep_copy and not self._has_attempt(new.id):
            # Before the row: a cache file lost right after this commit still has the copy.
            cache_copies.keep(self.copies, new.id, _copy_of(new, recording))
        with self.atomic() as db:
            if db.execute("select 1 from scenario_attempts where id = ?", [new.id]).fetchone():
                return self._attempt_or_fail(new.id)
            _insert(db, "scenario_attempts", row)
            uploads.add(db, files, held=new.hold_files)
            outbox.enqueue(
                db,
                org_id=new.org_id,
                table_name="scenario_attempts",
                row_id=new.id,
                op=Op.UPSERT,
                payload=payload,
            )
        return self._attempt_or_fail(new.id)

    def upload_attempt(self, attempt_id: str) -> AttemptRecord:
        """Send an attempt's held recording and transcript with the next push, then its row
        with their paths and the transcript (which the server then scores)."""
        with self.atomic() as db:
            found = list(
                db.query(
                    "select * from scenario_attempts where id = ? and user_id = ?",
                    [attempt_id, self.user_id],
                )
            )
            if not found:
                raise CacheError(f"attempt {attempt_id} is not one of yours on this computer")
            paths = uploads.release(db, attempt_id)
            if not paths:
                raise CacheError(f"attempt {attempt_id} has nothing waiting to be uploaded")
            local = found[0]
            local.update(
                recording_path=paths.get(uploads.RECORDINGS_BUCKET),
                transcript_path=paths.get(uploads.TRANSCRIPTS_BUCKET),
            )
            db.execute(
                "update scenario_attempts set recording_path = ?, transcript_path = ? where id = ?",
                [local["recording_path"], local["transcript_path"], attempt_id],
            )
            payload = {column: local[column] for column in ATTEMPT_PUSH_COLUMNS}
            payload.update(transcript=loads(local["transcript"]), status="uploaded")
            outbox.enqueue(
                db,
                org_id=local["org_id"],
                table_name="scenario_attempts",
                row_id=attempt_id,
                op=Op.UPSERT,
                payload=payload,
            )
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
        waiting = cache_copies.ids(self.copies)
        synced: list[str] = []
        for start in range(0, len(waiting), 500):
            chunk = waiting[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            synced += [
                str(row[0])
                for row in db.execute(
                    f"select a.id from scenario_attempts a where a.id in ({marks}) and not "
                    f"exists (select 1 from outbox o where o.table_name = 'scenario_attempts' "
                    f"and o.row_id = a.id) and not exists (select 1 from uploads u "
                    f"where u.attempt_id = a.id and u.state = 'pending')",
                    chunk,
                )
            ]
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
                self._record_attempt(_attempt_from_copy(attempt_id, copy), keep_copy=False)
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
        found = self.db.execute("select 1 from scenario_attempts where id = ?", [attempt_id])
        return found.fetchone() is not None

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
            _insert(db, "assignments", {**row, "assigned_by": self.user_id})
            outbox.enqueue(
                db,
                org_id=org_id,
                table_name="assignments",
                row_id=assignment_id,
                op=Op.UPSERT,
                payload=row,
            )
        return assignment_id

    def update_assignment(self, assignment_id: str, **changes: Any) -> None:
        """Change some fields; only those fields are sent, so edits elsewhere to others stay."""
        unknown = set(changes) - ASSIGNMENT_FIELDS
        if unknown:
            raise CacheError(f"assignment fields that cannot be changed here: {sorted(unknown)}")
        values = {key: _local_value(value) for key, value in changes.items()}
        with self.atomic() as db:
            org_id = _org_of(db, "assignments", assignment_id)
            sets = ", ".join(f"{key} = ?" for key in values)
            db.execute(
                f"update assignments set {sets} where id = ?", [*values.values(), assignment_id]
            )
            outbox.enqueue(
                db,
                org_id=org_id,
                table_name="assignments",
                row_id=assignment_id,
                op=Op.PATCH,
                payload=values,
            )

    def delete_assignment(self, assignment_id: str) -> None:
        with self.atomic() as db:
            org_id = _org_of(db, "assignments", assignment_id)
            db.execute("delete from assignments where id = ?", [assignment_id])
            outbox.enqueue(
                db,
                org_id=org_id,
                table_name="assignments",
                row_id=assignment_id,
                op=Op.DELETE,
                payload={},
            )

    # Reads ---------------------------------------------------------------------------------
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
        row = self.db.execute(
            "select count(*) from scenario_attempts "
            "where org_id = ? and status = 'uploaded' and transcript_xid is not null",
            [org_id],
        ).fetchone()
        return int(row[0]) if row else 0

    def attempt(self, attempt_id: str) -> AttemptRecord | None:
        rows = self._attempt_rows("a.id = ?", [attempt_id], limit=1, with_transcript=True)
        return rows[0] if rows else None

    def recent_attempts(
        self, org_id: str, *, user_id: str | None = None, limit: int = 20
    ) -> list[AttemptRecord]:
        """Newest first; one user's, or the whole org's (what a manager's cache holds).

        Attempts the server found incomplete (no rep speech; an older Coachdesk pushed them) are
        no practice calls and are left out, as they are of every report."""
        counted = f"a.status <> '{INCOMPLETE}'"
        if user_id is None:
            return self._attempt_rows(f"a.org_id = ? and {counted}", [org_id], limit=limit)
        return self._attempt_rows(
            f"a.org_id = ? and a.user_id = ? and {counted}", [org_id, user_id], limit=limit
        )

    def previous_attempt(self, attempt: AttemptRecord) -> AttemptRecord | None:
        """The same person's attempt of the same scenario just before this one, if held here."""
        rows = self._attempt_rows(
            "a.org_id = ? and a.user_id = ? and a.scenario_id = ? and a.started_at < ?",
            [attempt.org_id, attempt.user_id, attempt.scenario_id, iso(attempt.started_at)],
            limit=1,
        )
        return rows[0] if rows else None

    def scenarios(self, org_id: str) -> list[Scenario]:
        rows = self.db.query(
            "select * from scenarios where org_id = ? order by title, id", [org_id]
        )
        return [_scenario(row) for row in rows]

    def scenario(self, scenario_id: str) -> Scenario | None:
        rows = list(self.db.query("select * from scenarios where id = ?", [scenario_id]))
        return _scenario(rows[0]) if rows else None

    def tracks(self, org_id: str) -> list[Track]:
        links: dict[str, list[str]] = {}
        for link in self.db.query(
            "select track_id, scenario_id from track_scenarios where org_id = ? "
            "order by track_id, position",
            [org_id],
        ):
            links.setdefault(link["track_id"], []).append(link["scenario_id"])
        return [
            Track(
                id=row["id"],
                title=row["title"],
                description=row["description"],
                status=row["status"],
                scenario_ids=tuple(links.get(row["id"], ())),
            )
            for row in self.db.query(
                "select * from tracks where org_id = ? order by title, id", [org_id]
            )
        ]

    def members(self, org_id: str) -> list[Member]:
        return [
            Member(row["user_id"], row["display_name"], row["role"])
            for row in self.db.query(
                "select user_id, display_name, role from org_members where org_id = ? "
                "order by display_name, user_id",
                [org_id],
            )
        ]

    def teams(self, org_id: str) -> list[Team]:
        members: dict[str, set[str]] = {}
        for row in self.db.query(
            "select team_id, user_id from team_members where org_id = ?", [org_id]
        ):
            members.setdefault(row["team_id"], set()).add(row["user_id"])
        return [
            Team(row["id"], row["name"], frozenset(members.get(row["id"], ())))
            for row in self.db.query(
                "select id, name from teams where org_id = ? order by name", [org_id]
            )
        ]

    def due_assignments(self, org_id: str, user_id: str | None = None) -> list[DueAssignment]:
        """Assignments addressed to the user or their teams, soonest due first (undated last)."""
        user_id = user_id or self.user_id
        rows = self.db.execute_returning_dicts(
            "select * from assignments a where a.org_id = ? and (a.user_id = ? or a.team_id in "
            "(select team_id from team_members where org_id = ? and user_id = ?)) "
            "order by a.due_at is null, a.due_at, a.id",
            [org_id, user_id, org_id, user_id],
        )
        tracks = {track.id: track for track in self.tracks(org_id)}
        scenarios = {s.id: s for s in self.scenarios(org_id)}
        best = self._best_scores(org_id, user_id)
        return [_due(row, tracks, scenarios, best) for row in rows]

    def leaderboard(self, org_id: str, month: date) -> LeaderboardSnapshot | None:
        """The last leaderboard fetched for that month, as it was then (works offline)."""
        first = month.replace(day=1).isoformat()
        fetched = self.db.execute(
            "select fetched_at from leaderboard_snapshots where org_id = ? and month = ?",
            [org_id, first],
        ).fetchone()
        if fetched is None:
            return None
        rows = self.db.query(
            "select * from leaderboard where org_id = ? and month = ? order by rank, display_name",
            [org_id, first],
        )
        return LeaderboardSnapshot(
            month=date.fromisoformat(first),
            fetched_at=parse_time(fetched[0]) or now(),
            rows=tuple(
                LeaderboardRow(
                    user_id=r["user_id"],
                    display_name=r["display_name"],
                    attempts=int(r["attempts"]),
                    avg_score=number(r["avg_score"]),
                    best_score=number(r["best_score"]),
                    passed_attempts=int(r["passed_attempts"]),
                    rank=int(r["rank"]),
                    org_rank=int(r["org_rank"]),
                )
                for r in rows
            ),
        )

    # Helpers -------------------------------------------------------------------------------
    def _attempt_or_fail(self, attempt_id: str) -> AttemptRecord:
        record = self.attempt(attempt_id)
        if record is None:  # pragma: no cover - just written in the same thread
            raise CacheError(f"attempt {attempt_id} vanished from the cache")
        return record

    def _attempt_rows(
        self, where: str, params: Sequence[Any], *, limit: int, with_transcript: bool = False
    ) -> list[AttemptRecord]:
        transcript = "a.transcript" if with_transcript else "null as transcript"
        rows = self.db.query(
            f"select a.id, a.org_id, a.user_id, a.scenario_id, a.assignment_id, a.started_at, "
            f"a.ended_at, a.duration_seconds, a.status, a.score, a.score_breakdown, a.kpis, "
            f"a.recording_path, a.local_recording, a.failure_reason, a.provisional_score, "
            f"a.provisional_breakdown, a.provisional_kpis, {transcript}, "
            f"o.state as outbox_state, o.last_error as outbox_error, "
            f"exists (select 1 from uploads u where u.attempt_id = a.id and u.held = 1) as held "
            f"from scenario_attempts a left join outbox o on o.seq = ("
            f"  select max(seq) from outbox where table_name = 'scenario_attempts' "
            f"  and row_id = a.id) "
            f"where {where} order by a.started_at desc, a.id limit ?",
            [*params, limit],
        )
        return [_attempt(row) for row in rows]

    def _best_scores(self, org_id: str, user_id: str) -> dict[str, Decimal]:
        best: dict[str, Decimal] = {}
        for row in self.db.query(
            "select scenario_id, max(coalesce(score, provisional_score)) as best "
            "from scenario_attempts where org_id = ? and user_id = ? and status <> ? "
            "group by scenario_id",
            [org_id, user_id, INCOMPLETE],
        ):
            value = number(row["best"])
            if value is not None:
                best[row["scenario_id"]] = value
        return best


# Server rows -------------------------------------------------------------------------------------
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


def row_select(table: str) -> str:
    """The PostgREST `select` of a synced table's rows: its columns but the large ones."""
    large = LARGE_COLUMNS.get(table, ())
    return ",".join(column for column in SYNCED_COLUMNS[table] if column not in large)


def large_select(table: str) -> str:
    """The PostgREST `select` of a table's large columns, as JSON text (see LARGE_COLUMNS)."""
    return ",".join(["id", "sync_xid", *(f"{c}::text" for c in LARGE_COLUMNS[table])])


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


def _local_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return sql_number(value)
    return value


def _insert(db: Database, table: str, row: Mapping[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))


def _org_of(db: Database, table: str, row_id: str) -> str:
    found = db.execute(f"select org_id from {table} where id = ?", [row_id]).fetchone()
    if found is None:
        raise CacheError(f"no {table} row {row_id} in the cache")
    return str(found[0])


def _copy_of(new: NewAttempt, recording: Path | None) -> dict[str, Any]:
    """What a rebuilt cache needs to record the attempt again (sync/cache_copies.py)."""
    return {
        "org_id": new.org_id,
        "user_id": new.user_id,
        "scenario_id": new.scenario_id,
        "assignment_id": new.assignment_id,
        "started_at": iso(new.started_at),
        "ended_at": iso(new.ended_at),
        "transcript": new.transcript,
        "recording": str(recording) if recording is not None else None,
        "provisional_kpis": new.provisional_kpis,
        "provisional_breakdown": new.provisional_breakdown,
        "hold_files": new.hold_files,
    }


def _attempt_from_copy(attempt_id: str, copy: Mapping[str, Any]) -> NewAttempt:
    recording = Path(copy["recording"]) if copy.get("recording") else None
    if recording is not None and not recording.is_file():
        # The transcript and score are the attempt; a recording deleted since stays lost.
        log.warning("restored attempt's recording is gone", attempt_id=attempt_id)
        recording = None
    return NewAttempt(
        id=attempt_id,
        org_id=str(copy["org_id"]),
        user_id=str(copy["user_id"]),
        scenario_id=str(copy["scenario_id"]),
        assignment_id=copy.get("assignment_id"),
        started_at=_aware(copy["started_at"]),
        ended_at=_aware(copy["ended_at"]),
        transcript=copy["transcript"],
        recording=recording,
        provisional_kpis=copy.get("provisional_kpis"),
        provisional_breakdown=copy.get("provisional_breakdown"),
        hold_files=bool(copy.get("hold_files", False)),
    )


def _aware(value: Any) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"not a time: {value!r}")
    return parsed


def _attempt(row: Mapping[str, Any]) -> AttemptRecord:
    server_scored = row["status"] == "scored"
    if row["outbox_state"] == "rejected":
        state = AttemptSyncState.REJECTED
    elif row["held"]:
        state = AttemptSyncState.HELD
    elif row["outbox_state"] == "pending":
        state = AttemptSyncState.PENDING
    elif server_scored:
        state = AttemptSyncState.SCORED
    elif row["status"] == "failed":
        state = AttemptSyncState.FAILED
    elif row["status"] == "recorded":
        state = AttemptSyncState.RECORDED  # upload = "manual", from another computer
    else:
        state = AttemptSyncState.UPLOADED
    use_server = server_scored or (row["provisional_score"] is None and row["score"] is not None)
    return AttemptRecord(
        id=row["id"],
        org_id=row["org_id"],
        user_id=row["user_id"],
        scenario_id=row["scenario_id"],
        assignment_id=row["assignment_id"],
        started_at=parse_time(row["started_at"]) or now(),
        ended_at=parse_time(row["ended_at"]),
        duration_seconds=number(row["duration_seconds"]),
        status=row["status"],
        sync_state=state,
        score=number(row["score"] if use_server else row["provisional_score"]),
        provisional=not use_server and row["provisional_score"] is not None,
        breakdown=loads(row["score_breakdown"] if use_server else row["provisional_breakdown"]),
        kpis=loads(row["kpis"] if use_server else row["provisional_kpis"]),
        recording_path=row["recording_path"],
        local_recording=Path(row["local_recording"]) if row["local_recording"] else None,
        rejection=row["outbox_error"] if state is AttemptSyncState.REJECTED else None,
        failure_reason=row["failure_reason"],
        transcript=loads(row["transcript"]),
    )


def _scenario(row: Mapping[str, Any]) -> Scenario:
    return Scenario(
        id=row["id"],
        org_id=row["org_id"],
        title=row["title"],
        description=row["description"],
        persona=loads(row["persona"]) or {},
        difficulty=row["difficulty"],
        ai_prompt=row["ai_prompt"],
        branching=loads(row["branching"]) or {},
        rubric=loads(row["rubric"]) or {},
        status=row["status"],
        pass_score=number(row["pass_score"]) or Decimal(70),
        max_attempts=row["max_attempts"],
    )


def _due(
    row: Mapping[str, Any],
    tracks: Mapping[str, Track],
    scenarios: Mapping[str, Scenario],
    best: Mapping[str, Decimal],
) -> DueAssignment:
    if row["track_id"]:
        track = tracks.get(row["track_id"])
        title = track.title if track else "(track not available)"
        scenario_ids = track.scenario_ids if track else ()
        kind = "track"
    else:
        scenario = scenarios.get(row["scenario_id"])
        title = scenario.title if scenario else "(scenario not available)"
        scenario_ids = (row["scenario_id"],)
        kind = "scenario"
    required = number(row["required_score"])

    def passed(scenario_id: str) -> bool:
        score = best.get(scenario_id)
        scenario = scenarios.get(scenario_id)
        bar = required if required is not None else (scenario.pass_score if scenario else None)
        return score is not None and bar is not None and score >= bar

    scores = [best[s] for s in scenario_ids if s in best]
    return DueAssignment(
        id=row["id"],
        title=title,
        kind=kind,
        scenario_ids=tuple(scenario_ids),
        due_at=parse_time(row["due_at"]),
        note=row["note"] or "",
        required_score=required,
        completed=sum(1 for s in scenario_ids if passed(s)),
        best_score=max(scores) if scores else None,
    )
