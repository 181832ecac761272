"""What the screens ask of the rest of the app: plain row types and the `Backend` protocol.

Screens never talk HTTP or SQL: they call a `Backend` from a worker thread (ui/workers.py) and
show the rows it returns. `app/client/backend.py` implements it over sync/ (the local cache, the
outbox and the sync engine, which use the official supabase client); tests drive that real one
against the local stack.
Every method may block and must be called off the GUI thread; every failure is a
`app.errors.CoachdeskError` (or a subclass) with a message for people.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, TypeVar

from app.client.assignments import ManagedAssignment
from app.client.errors import (
    NotSignedIn,
    PermissionDenied,
    ServerUnreachable,
    SignInRefused,
    UnsyncedWork,
)
from app.scenarios import Persona, Scenario
from sync.cache_records import DueAssignment as Assignment
from sync.cache_records import Member, Team, Track
from sync.db_types import OrgRole

__all__ = [
    "Account",
    "Assignment",
    "AttemptDetail",
    "AttemptRow",
    "Backend",
    "Changes",
    "FinishedAttempt",
    "HomeData",
    "LeaderRow",
    "Member",
    "NewAssignment",
    "NotSignedIn",
    "OrgChoice",
    "OverviewMonth",
    "PermissionDenied",
    "Persona",
    "PreviousAttempt",
    "Scenario",
    "ScenarioInsight",
    "ServerConfig",
    "ServerUnreachable",
    "SignInRefused",
    "SyncState",
    "SyncStatus",
    "Team",
    "Track",
    "UnsyncedWork",
]

T = TypeVar("T")

MANAGER_ROLES = frozenset({OrgRole.MANAGER, OrgRole.ADMIN})
# Who reads the org's reports (the reporting accessors and the org's attempts and assignments).
REPORTER_ROLES = MANAGER_ROLES | {OrgRole.HR}


# Configuration ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ServerConfig:
    """Which Supabase (hosted or the local stack) to use, and its public anon key."""

    url: str
    anon_key: str

    @classmethod
    def resolve(cls, environ: Mapping[str, str] | None = None) -> ServerConfig | None:
        """SUPABASE_URL/SUPABASE_ANON_KEY, else the local stack `coachdesk stack start` runs."""
        env = os.environ if environ is None else environ
        if env.get("SUPABASE_URL") and env.get("SUPABASE_ANON_KEY"):
            return cls(env["SUPABASE_URL"].rstrip("/"), env["SUPABASE_ANON_KEY"])
        return cls._local_stack()

    @classmethod
    def _local_stack(cls) -> ServerConfig | None:
        try:
            from server.stack import runner
        except ImportError:  # an installed desktop build ships without the local stack
            return None
        stack = runner.RunningStack.read(runner.default_data_dir())
        if stack is None or not stack.alive():
            return None
        return cls(stack.url, stack.anon_key)


# Who is signed in -------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrgChoice:
    id: str
    name: str
    role: OrgRole | None = None


@dataclass(frozen=True)
class Account:
    """The signed-in user in their current org; role and org come from the access token."""

    user_id: str
    email: str
    display_name: str
    org_id: str | None
    org_name: str
    role: OrgRole | None
    orgs: tuple[OrgChoice, ...] = ()
    offline: bool = False
    # Something the user must be told once on entering (the local cache was damaged and rebuilt).
    notice: str | None = None

    @property
    def is_manager(self) -> bool:
        """Managers and admins get the manager pane (the server refuses others anyway)."""
        return self.role in MANAGER_ROLES

    @property
    def is_admin(self) -> bool:
        return self.role is OrgRole.ADMIN

    @property
    def reads_reports(self) -> bool:
        """Managers, admins and HR read the org's reports and progress."""
        return self.role in REPORTER_ROLES

    @property
    def can_switch_org(self) -> bool:
        return len(self.orgs) > 1


# Content ----------------------------------------------------------------------------------------
# Assignments and attempts -----------------------------------------------------------------------
class SyncState(enum.StrEnum):
    """Where an attempt is between this computer and the server."""

    LOCAL = "local"  # recorded here, not yet sent
    HELD = "held"  # upload = "manual": recording and transcript stay here until Upload
    NOT_UPLOADED = "not_uploaded"  # the same, seen from another computer (a manager's)
    UPLOADING = "uploading"
    UPLOADED = "uploaded"  # on the server, waiting for its score
    SCORED = "scored"  # the server's score is in
    REJECTED = "rejected"  # the server refused it; kept here with the reason
    FAILED = "failed"  # the server has it but could not score it (failure_reason says why)

    @property
    def label(self) -> str:
        return {
            SyncState.LOCAL: "Saved on this computer",
            SyncState.HELD: "Recording and transcript on this computer only: press Upload",
            SyncState.NOT_UPLOADED: "Recording and transcript not uploaded by the rep yet",
            SyncState.UPLOADING: "Uploading…",
            SyncState.UPLOADED: "Uploaded, waiting for the server's score",
            SyncState.SCORED: "Scored by the server",
            SyncState.REJECTED: "Refused by the server (kept on this computer)",
            SyncState.FAILED: "On the server, which could not score it",
        }[self]


@dataclass(frozen=True)
class AttemptRow:
    """One practice call as lists and tables show it."""

    id: str
    user_id: str
    person: str
    scenario_id: str
    scenario_title: str
    started_at: datetime
    duration_seconds: Decimal | None
    score: Decimal | None
    sync_state: SyncState
    passed: bool | None = None
    team_ids: frozenset[str] = frozenset()
    assignment_id: str | None = None
    # The call's KPIs (the server's once scored), for reports computed here
    # (app/client/team_reports.py).
    kpis: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def provisional(self) -> bool:
        """The score shown was computed on this computer; the server's has not arrived yet."""
        return self.score is not None and self.sync_state is not SyncState.SCORED


@dataclass(frozen=True)
class AttemptDetail:
    row: AttemptRow
    transcript: Mapping[str, Any]
    kpis: Mapping[str, Any]
    breakdown: Mapping[str, Any] | None
    rubric: Mapping[str, Any]
    recording_path: str | None  # "<bucket>/<object name>" on the server
    local_recording: Path | None = None
    rejection: str | None = None
    persona_name: str = "Persona"
    pass_score: Decimal | None = None  # the scenario's pass mark
    previous: PreviousAttempt | None = None  # the same scenario's attempt before this one
    scenario_version: int = 1  # the version of the scenario it was practised and scored on


@dataclass(frozen=True)
class PreviousAttempt:
    """The attempt a review compares with: the same person's previous try of the scenario."""

    id: str
    started_at: datetime
    score: Decimal | None
    provisional: bool
    kpis: Mapping[str, Any]


@dataclass(frozen=True)
class FinishedAttempt:
    """A call the practice screen has just finished, to save, score provisionally and sync."""

    id: str
    scenario_id: str
    assignment_id: str | None
    started_at: datetime
    ended_at: datetime
    transcript: Mapping[str, Any]
    recording: Path | None


@dataclass(frozen=True)
class HomeData:
    assignments: tuple[Assignment, ...]
    recent_attempts: tuple[AttemptRow, ...]
    scenarios: Mapping[str, Scenario]


@dataclass(frozen=True)
class NewAssignment:
    """What the create-assignment dialog produces: one content and one assignee."""

    scenario_id: str | None
    track_id: str | None
    user_id: str | None
    team_id: str | None
    due_at: datetime | None
    note: str = ""

    def __post_init__(self) -> None:
        if (self.scenario_id is None) == (self.track_id is None):
            raise ValueError("an assignment needs exactly one of a scenario or a track")
        if (self.user_id is None) == (self.team_id is None):
            raise ValueError("an assignment needs exactly one of a person or a team")


# Reports ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LeaderRow:
    user_id: str
    display_name: str
    attempts: int
    avg_score: Decimal | None
    best_score: Decimal | None
    passed_attempts: int
    rank: int
    org_rank: int
    is_me: bool


@dataclass(frozen=True)
class OverviewMonth:
    month_start: date
    active_users: int
    attempts: int
    scored_attempts: int
    avg_score: Decimal | None
    pass_rate: Decimal | None
    kpi_averages: Mapping[str, Decimal | None]


@dataclass(frozen=True)
class ScenarioInsight:
    scenario_id: str
    title: str
    attempts: int
    scored_attempts: int
    avg_score: Decimal | None
    median_score: Decimal | None
    pass_rate: Decimal | None
    # kpi -> {"n", "avg", "p25", "p50", "p75", "p90"}
    kpis: Mapping[str, Mapping[str, Decimal | None]]


class SyncPhase(enum.StrEnum):
    IDLE = "idle"
    SYNCING = "syncing"
    OFFLINE = "offline"
    ERROR = "error"


@dataclass(frozen=True)
class SyncStatus:
    phase: SyncPhase
    pending: int = 0
    rejected: int = 0
    last_synced: datetime | None = None
    message: str = ""

    @property
    def text(self) -> str:
        if self.phase is SyncPhase.SYNCING:
            return "Syncing…"
        if self.phase is SyncPhase.OFFLINE:
            return f"Offline · {self.pending} waiting to sync" if self.pending else "Offline"
        if self.phase is SyncPhase.ERROR:
            return f"Sync problem: {self.message}" if self.message else "Sync problem"
        parts = ["All synced" if not self.pending else f"{self.pending} waiting to sync"]
        if self.rejected:
            parts.append(f"{self.rejected} refused by the server")
        if self.last_synced is not None:
            parts.append(f"last sync {self.last_synced.astimezone():%H:%M}")
        return " · ".join(parts)


def utc_now() -> datetime:
    return datetime.now(UTC)


# What a screen subscribes to: the names are the server's tables the cache keeps, plus OUTBOX
# (local changes sent or refused: sync states shown beside attempts) and LEADERBOARD (the
# month's cached snapshot).
OUTBOX = "outbox"
LEADERBOARD = "leaderboard"


@dataclass(frozen=True)
class Changes:
    """What a sync round or a local write changed in the client's data, by table."""

    tables: frozenset[str]

    def touch(self, *tables: str) -> bool:
        """Whether any of `tables` changed (a screen showing them refreshes)."""
        return not self.tables.isdisjoint(tables)


# The boundary -----------------------------------------------------------------------------------
class Backend(Protocol):
    """Everything the screens need; blocking, so always called from a worker thread."""

    @property
    def account(self) -> Account | None: ...
    @property
    def server(self) -> ServerConfig: ...
    @property
    def keyring_problem(self) -> str | None: ...  # why sign-in cannot be remembered, if so
    @property
    def encrypted_sign_in_file(self) -> Path: ...  # the sign-in when kept in an encrypted file
    @property
    def pictures_folder(self) -> Path: ...  # personas' pictures kept once seen

    # session
    def sign_in(self, email: str, password: str) -> Account: ...
    def sign_up(
        self, email: str, password: str, repeated: str, display_name: str
    ) -> Account | None: ...
    def confirm_sign_up(self, email: str, code: str) -> Account: ...
    def resend_sign_up_code(self, email: str) -> None: ...
    def request_password_reset(self, email: str) -> None: ...
    def reset_password(self, email: str, code: str, password: str, repeated: str) -> Account: ...
    def cached_account(self) -> Account | None: ...
    def keep_sign_in_encrypted(self, passphrase: str) -> None: ...  # no system keyring
    def resume_offline(self) -> Account: ...
    def switch_org(self, org_id: str) -> Account: ...
    def sign_out(self, discard_unsynced: bool = False) -> None: ...
    def close(self) -> None: ...

    # trainee
    def home(self) -> HomeData: ...
    def scenario(self, scenario_id: str) -> Scenario: ...
    def attempt(self, attempt_id: str) -> AttemptDetail: ...
    def save_attempt(self, finished: FinishedAttempt) -> AttemptRow: ...
    def recording_for_playback(self, detail: AttemptDetail) -> Path: ...
    def upload_attempt(self, attempt_id: str) -> AttemptRow: ...  # upload = "manual"

    # everyone
    def leaderboard(self, month: date, team_id: str | None) -> list[LeaderRow]: ...
    def teams(self) -> list[Team]: ...
    def reporting_status(self) -> str: ...  # how current leaderboard and charts are, one line

    # managers and admins
    def members(self) -> list[Member]: ...
    def scenarios(self) -> list[Scenario]: ...
    def tracks(self) -> list[Track]: ...
    def org_attempts(self, limit: int = 1000) -> list[AttemptRow]: ...
    def org_overview(self, months: int) -> list[OverviewMonth]: ...
    def scenario_insights(self) -> list[ScenarioInsight]: ...
    def create_assignment(self, new: NewAssignment) -> str: ...
    def create_assignments(self, new: Sequence[NewAssignment]) -> list[str]: ...  # one write
    def managed_assignments(self) -> list[ManagedAssignment]: ...  # the ones I made, progress
    def update_assignment(
        self, assignment_id: str, *, due_at: datetime | None, note: str
    ) -> None: ...
    def cancel_assignment(self, assignment_id: str) -> None: ...
    def attempts_per_scenario(self) -> dict[str, int]: ...  # held here, for the studio

    # services of the client core (app/client/*.py) that talk to the server directly
    def live(self, call: Callable[[Any], T]) -> T: ...  # call(session) on the owner thread
    # call(cache) on the owner thread; `changed`: the table a write changed (announced, sent)
    def local(self, call: Callable[[Any], T], changed: str | None = None) -> T: ...

    # sync
    def sync_status(self) -> SyncStatus: ...
    def sync_now(self, progress: Callable[[float, str], None] | None = None) -> SyncStatus: ...
    def wake_sync(self) -> None: ...  # the network is back: retry now; returns at once
    def sync_soon(self) -> None: ...  # the server changed: a round now, without waiting for it
    def subscribe(self, listener: Callable[[SyncStatus], None]) -> Callable[[], None]: ...
    # `listener(changes)` after each round or local write that changed data (on a worker thread)
    def subscribe_changes(self, listener: Callable[[Changes], None]) -> Callable[[], None]: ...


def month_start(day: date) -> date:
    return day.replace(day=1)
