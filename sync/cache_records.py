"""What the cache's reads return and its writes take, and the mappers that build them.

Reads (sync/cache.py, sync/cache_queries.py) return plain frozen dataclasses for the UI's
models; a finished practice call comes in as a NewAttempt. The mappers turn the cache's rows
into records, and a NewAttempt into the copy kept beside the cache (sync/cache_copies.py) and
back. CacheError is what a local write that cannot be done as asked raises.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from sync.db_types import AttemptStatus, OrgRole
from sync.rows import iso, loads, now, number, parse_time

log = structlog.get_logger(__name__)


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
    # Versions (server migration 20261204000200): the rows of one scenario share a lineage and
    # are numbered from 1; an attempt names the very version it was practised on. `revision`
    # is what an admin's save is checked against (a stale save changes nothing).
    lineage_id: str = ""
    version: int = 1
    revision: int = 1
    time_limit_seconds: int | None = None
    updated_at: datetime | None = None  # the server's time of the last change
    updated_by: str | None = None  # who made it (a user id; None: nobody known)
    key_terms: tuple[str, ...] = ()  # what the speech model should expect in the call


@dataclass(frozen=True)
class Track:
    id: str
    title: str
    description: str
    status: str
    scenario_ids: tuple[str, ...]
    updated_at: datetime | None = None  # the server's time of the last change (or its order's)
    updated_by: str | None = None  # who made it (a user id; None: nobody known)


@dataclass(frozen=True)
class Member:
    user_id: str
    display_name: str
    role: OrgRole


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    member_ids: frozenset[str]


@dataclass(frozen=True)
class MadeAssignment:
    """An assignment as a manager made it (what the manager's list shows and edits)."""

    id: str
    scenario_id: str | None
    track_id: str | None
    user_id: str | None
    team_id: str | None
    due_at: datetime | None
    note: str
    required_score: Decimal | None
    max_attempts: int | None
    assigned_by: str | None
    created_at: datetime | None


@dataclass(frozen=True)
class Notification:
    """Something the user is told at their next sync (a manager's reminder of an assignment)."""

    id: str
    kind: str
    assignment_id: str | None
    message: str
    created_by: str | None
    created_at: datetime | None
    read_at: datetime | None


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
    def total(self) -> int:
        return len(self.scenario_ids)

    @property
    def done(self) -> bool:
        return self.total > 0 and self.completed >= self.total

    def next_scenario_id(self, passed: frozenset[str] = frozenset()) -> str | None:
        """The first scenario of the assignment not yet passed (the first one when all are)."""
        for scenario_id in self.scenario_ids:
            if scenario_id not in passed:
                return scenario_id
        return self.scenario_ids[0] if self.scenario_ids else None

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


# Mappers -----------------------------------------------------------------------------------------
def copy_of(new: NewAttempt, recording: Path | None) -> dict[str, Any]:
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


def attempt_from_copy(attempt_id: str, copy: Mapping[str, Any]) -> NewAttempt:
    """The attempt a copy holds, to record again under its own id (see copy_of)."""
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
        started_at=aware(copy["started_at"]),
        ended_at=aware(copy["ended_at"]),
        transcript=copy["transcript"],
        recording=recording,
        provisional_kpis=copy.get("provisional_kpis"),
        provisional_breakdown=copy.get("provisional_breakdown"),
        hold_files=bool(copy.get("hold_files", False)),
    )


def aware(value: Any) -> datetime:
    """A time that must be there (ValueError if not)."""
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"not a time: {value!r}")
    return parsed


def attempt_from_row(row: Mapping[str, Any]) -> AttemptRecord:
    """An attempt row joined with its latest outbox entry and held uploads (see
    sync/cache_queries.py): its sync state, the server's score once scored, else the local one."""
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


def scenario_from_row(row: Mapping[str, Any]) -> Scenario:
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
        lineage_id=row["lineage_id"] or row["id"],
        version=int(row["version"]),
        revision=int(row["revision"]),
        time_limit_seconds=row["time_limit_seconds"],
        updated_at=parse_time(row["updated_at"]),
        updated_by=row["updated_by"],
        key_terms=tuple(loads(row["key_terms"]) or ()),
    )


def made_from_row(row: Mapping[str, Any]) -> MadeAssignment:
    return MadeAssignment(
        id=row["id"],
        scenario_id=row["scenario_id"],
        track_id=row["track_id"],
        user_id=row["user_id"],
        team_id=row["team_id"],
        due_at=parse_time(row["due_at"]),
        note=row["note"] or "",
        required_score=number(row["required_score"]),
        max_attempts=None if row["max_attempts"] is None else int(row["max_attempts"]),
        assigned_by=row["assigned_by"],
        created_at=parse_time(row["created_at"]),
    )


def notification_from_row(row: Mapping[str, Any]) -> Notification:
    return Notification(
        id=row["id"],
        kind=row["kind"],
        assignment_id=row["assignment_id"],
        message=row["message"] or "",
        created_by=row["created_by"],
        created_at=parse_time(row["created_at"]),
        read_at=parse_time(row["read_at"]),
    )


def due_from_row(
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
