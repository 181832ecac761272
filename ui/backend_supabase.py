"""`Backend` over the official supabase client: the same code for hosted Supabase and the stack.

The database decides what each account may see (RLS); this module only asks and reshapes rows.
All calls go through one worker thread (ui/workers.py `Workers.network`), so the token refresh
below never races another request: a refresh token is single-use, and a second refresh with the
same token would end the session (reuse detection).

Finished attempts are scored provisionally on this computer (app/kpis, app/scoring: the same
numbers the server computes), kept in an outbox until the server has them, and shown with their
sync state; the server's own score replaces the provisional one when it arrives.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import jwt
import structlog
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase_auth.errors import AuthApiError, AuthError, AuthRetryableError

from app.kpis import compute_kpis
from app.scoring import score as score_rubric
from supabase import Client, ClientOptions, create_client
from sync.db_types import OrgRole
from ui.errors import CoachdeskError
from ui.services import (
    Account,
    Assignment,
    AttemptDetail,
    AttemptRow,
    FinishedAttempt,
    HomeData,
    LeaderRow,
    Member,
    NewAssignment,
    NotSignedIn,
    OfflineError,
    OrgChoice,
    OverviewMonth,
    PermissionDenied,
    Persona,
    Scenario,
    ScenarioInsight,
    ServerConfig,
    SignInError,
    SyncPhase,
    SyncState,
    SyncStatus,
    Team,
    Track,
    as_decimal,
    parse_time,
    utc_now,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

# Refresh a little before expiry so a request never goes out with a token about to die.
REFRESH_MARGIN_S = 60
SCENARIO_COLUMNS = "id,title,description,persona,difficulty,pass_score,status,branching,rubric"
ATTEMPT_LIST_COLUMNS = (
    "id,user_id,scenario_id,assignment_id,started_at,duration_seconds,score,status,score_breakdown"
)
OVERVIEW_KPIS = (
    "talk_ratio",
    "words_per_minute",
    "filler_word_ratio",
    "questions_asked",
    "longest_monologue_seconds",
    "response_latency_seconds",
    "keyword_coverage",
)
_SERVER_STATES = {
    "recorded": SyncState.UPLOADED,
    "uploaded": SyncState.UPLOADED,
    "scored": SyncState.SCORED,
    "failed": SyncState.REJECTED,
}


@dataclass
class _Pending:
    """An attempt finished here and not yet confirmed by the server."""

    finished: FinishedAttempt
    kpis: dict[str, Any]
    breakdown: dict[str, Any] | None
    state: SyncState = SyncState.LOCAL
    rejection: str | None = None


def translate(error: BaseException, server: str) -> CoachdeskError:
    """A supabase/httpx error as a message for people (the details go to the log)."""
    if isinstance(error, CoachdeskError):
        return error
    # The auth client reports network failures (and 5xx gateways) as AuthRetryableError.
    if isinstance(error, httpx.TransportError | AuthRetryableError):
        return OfflineError(
            f"Cannot reach the Coachdesk server at {server}. Check your connection; your "
            "practice calls are kept on this computer and sync when it is back."
        )
    if isinstance(error, AuthApiError):
        code = error.code or ""
        if code in ("invalid_credentials", "invalid_grant") or (error.status == 400 and not code):
            return SignInError("The email or password is not right. Check both and try again.")
        if code in ("session_not_found", "refresh_token_already_used", "bad_jwt"):
            return NotSignedIn("Your session has ended. Please sign in again.")
        return SignInError(f"Signing in did not work: {error.message}.")
    if isinstance(error, AuthError):
        return NotSignedIn("Your session has ended. Please sign in again.")
    if isinstance(error, APIError):
        if error.code == "42501":
            return PermissionDenied(f"The server refused this: {error.message}.")
        if error.code in ("PGRST301", "PGRST303"):
            return NotSignedIn("Your session has ended. Please sign in again.")
        return CoachdeskError(f"The server refused this: {error.message or error.code}.")
    if isinstance(error, StorageApiError):
        return CoachdeskError(f"The server could not store or send a file: {error.message}.")
    raise error


class SupabaseBackend:
    """The app's Backend: the supabase client in one thread, plus a small outbox."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        device_id: str = "desktop",
        cache_dir: Path | None = None,
        client_factory: Callable[[ServerConfig], Client] | None = None,
    ) -> None:
        self._config = config
        self._device_id = device_id
        self._cache_dir = cache_dir or Path(tempfile.gettempdir()) / "coachdesk-playback"
        self._client_factory = client_factory or _make_client
        self._client: Client | None = None
        self._account: Account | None = None
        self._cached: Account | None = None
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()  # the outbox is read by the status bar's poll too
        self._last_synced: datetime | None = None
        self._offline = False

    # Session -------------------------------------------------------------------------------
    @property
    def account(self) -> Account | None:
        return self._account

    @property
    def server(self) -> ServerConfig:
        return self._config

    def sign_in(self, email: str, password: str) -> Account:
        if not email.strip() or not password:
            raise SignInError("Enter your email address and password.")
        client = self._client_factory(self._config)
        self._guard(
            lambda: client.auth.sign_in_with_password(
                {"email": email.strip(), "password": password}
            )
        )
        self._client = client
        self._offline = False
        self._account = self._load_account()
        self._cached = replace(self._account, offline=True)
        log.info("signed in", org_id=self._account.org_id, role=str(self._account.role))
        return self._account

    def cached_account(self) -> Account | None:
        return self._cached

    def resume_offline(self) -> Account:
        if self._cached is None:
            raise SignInError("There is no saved session on this computer. Sign in once online.")
        self._account = self._cached
        self._offline = True
        return self._account

    def switch_org(self, org_id: str) -> Account:
        client = self._require_client()
        self._guard(lambda: client.rpc("set_active_org", {"org_id": org_id}).execute())
        # Claims are only as fresh as the token: the new org arrives with the next token.
        self._guard(lambda: client.auth.refresh_session())
        self._account = self._load_account()
        self._cached = replace(self._account, offline=True)
        return self._account

    def sign_out(self) -> None:
        client, self._client = self._client, None
        self._account = None
        self._cached = None
        if client is not None:
            try:
                client.auth.sign_out()
            except (AuthError, httpx.TransportError) as error:
                # Signed out here either way; the server forgets the session when it expires.
                log.warning("server sign-out failed", error=type(error).__name__)

    def _load_account(self) -> Account:
        client = self._require_client()
        session = client.auth.get_session()
        if session is None:
            raise NotSignedIn("Your session has ended. Please sign in again.")
        claims = jwt.decode(session.access_token, options={"verify_signature": False})
        user_id = str(claims["sub"])
        org_id = claims.get("org_id")
        role = OrgRole(claims["org_role"]) if claims.get("org_role") else None
        metadata = claims.get("user_metadata") or {}
        name = str(metadata.get("full_name") or claims.get("email") or "")
        org_name = ""
        if org_id:
            me = self._rows(
                client.table("org_members")
                .select("display_name")
                .eq("org_id", org_id)
                .eq("user_id", user_id)
            )
            name = str(me[0]["display_name"]) if me else name
            org = self._rows(client.table("orgs").select("name").eq("id", org_id))
            org_name = str(org[0]["name"]) if org else ""
        return Account(
            user_id=user_id,
            email=str(claims.get("email") or ""),
            display_name=name,
            org_id=str(org_id) if org_id else None,
            org_name=org_name,
            role=role,
            orgs=self._org_choices(org_id, org_name, role),
        )

    def _org_choices(
        self, org_id: str | None, org_name: str, role: OrgRole | None
    ) -> tuple[OrgChoice, ...]:
        """Every org the user belongs to, through `my_orgs()` where the server has it."""
        current = (OrgChoice(str(org_id), org_name, role),) if org_id else ()
        try:
            rows = self._require_client().rpc("my_orgs").execute().data or []
        except APIError as error:
            # PGRST202: this server has no my_orgs(); RLS shows only the current org's rows.
            if error.code != "PGRST202":
                log.warning("cannot list orgs", code=error.code)
            return current
        choices = tuple(
            OrgChoice(
                str(r["org_id"]), str(r["name"]), OrgRole(r["role"]) if r.get("role") else None
            )
            for r in rows
        )
        return choices or current

    # Trainee --------------------------------------------------------------------------------
    def home(self) -> HomeData:
        account = self._require_online_account()
        client = self._require_client()
        assignments = self._rows(
            client.table("assignments")
            .select("id,scenario_id,track_id,user_id,team_id,due_at,note,required_score")
            .order("due_at", nullsfirst=False)
        )
        my_teams = {
            r["team_id"]
            for r in self._rows(
                client.table("team_members").select("team_id").eq("user_id", account.user_id)
            )
        }
        scenarios = {s.id: s for s in self.scenarios()}
        tracks = {t.id: t for t in self.tracks()}
        attempts = self._rows(
            client.table("scenario_attempts")
            .select(ATTEMPT_LIST_COLUMNS)
            .eq("user_id", account.user_id)
            .order("started_at", desc=True)
            .limit(200)
        )
        names = {account.user_id: account.display_name}
        rows = self._merge_pending(
            [self._attempt_row(a, scenarios, names) for a in attempts], scenarios, names
        )
        mine = [
            a for a in assignments if a["user_id"] == account.user_id or a["team_id"] in my_teams
        ]
        return HomeData(
            assignments=tuple(
                sorted(
                    (build_assignment(a, scenarios, tracks, rows) for a in mine),
                    key=lambda a: (a.due_at is None, a.due_at or utc_now()),
                )
            ),
            recent_attempts=tuple(rows[:20]),
            scenarios=scenarios,
        )

    def scenario(self, scenario_id: str) -> Scenario:
        client = self._require_client()
        rows = self._rows(client.table("scenarios").select(SCENARIO_COLUMNS).eq("id", scenario_id))
        if not rows:
            raise CoachdeskError("This scenario is not available to you (unpublished or removed).")
        return _scenario(rows[0])

    def attempt(self, attempt_id: str) -> AttemptDetail:
        with self._lock:
            pending = self._pending.get(attempt_id)
        if pending is not None:
            return self._pending_detail(pending)
        client = self._require_client()
        rows = self._rows(client.table("scenario_attempts").select("*").eq("id", attempt_id))
        if not rows:
            raise CoachdeskError("This attempt is not available (it may belong to another org).")
        row = rows[0]
        scenario = self.scenario(row["scenario_id"])
        names = self._names([row["user_id"]])
        return AttemptDetail(
            row=self._attempt_row(row, {scenario.id: scenario}, names),
            transcript=row.get("transcript") or {"version": 1, "turns": []},
            kpis=row.get("kpis") or {},
            breakdown=row.get("score_breakdown"),
            rubric=scenario.rubric,
            recording_path=(
                f"recordings/{row['recording_path']}" if row.get("recording_path") else None
            ),
            rejection=row.get("failure_reason"),
            persona_name=scenario.persona.name,
        )

    def save_attempt(self, finished: FinishedAttempt) -> AttemptRow:
        """Score provisionally here, keep it in the outbox, then try to send it at once."""
        account = self._require_account()
        scenario = self.scenario(finished.scenario_id)
        kpis = compute_kpis(finished.transcript, scenario.rubric)
        breakdown = score_rubric(scenario.rubric, kpis, scenario.pass_score, finished.transcript)
        pending = _Pending(finished, kpis, breakdown)
        with self._lock:
            self._pending[finished.id] = pending
        log.info("attempt saved", attempt_id=finished.id, org_id=account.org_id)
        if not self._offline:
            try:
                self._push(pending)
            except OfflineError:
                self._offline = True
        return self._pending_row(pending)

    def recording_for_playback(self, detail: AttemptDetail) -> Path:
        if detail.local_recording is not None and detail.local_recording.exists():
            return detail.local_recording
        if not detail.recording_path:
            raise CoachdeskError("This attempt has no recording to play.")
        client = self._require_client()
        url = self._guard(
            lambda: client.rpc(
                "grant_signed_url", {"path": detail.recording_path, "ttl": 300}
            ).execute()
        ).data
        if url.startswith("/"):
            url = f"{self._config.url}/storage/v1{url}"
        target = self._cache_dir / f"{detail.row.id}{Path(detail.recording_path).suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        response = self._guard(lambda: httpx.get(url, timeout=60))
        if response.status_code != 200:
            raise CoachdeskError(
                "The recording could not be downloaded "
                f"(the server answered {response.status_code})."
            )
        target.write_bytes(response.content)
        return target

    # Everyone -------------------------------------------------------------------------------
    def leaderboard(self, month: date, team_id: str | None) -> list[LeaderRow]:
        account = self._require_online_account()
        client = self._require_client()
        params: dict[str, Any] = {"month": month.isoformat(), "team": team_id}
        rows = self._guard(lambda: client.rpc("leaderboard_month", params).execute()).data or []
        return [
            LeaderRow(
                user_id=str(r["user_id"]),
                display_name=str(r["display_name"]),
                attempts=int(r["attempts"] or 0),
                avg_score=as_decimal(r["avg_score"]),
                best_score=as_decimal(r["best_score"]),
                passed_attempts=int(r["passed_attempts"] or 0),
                rank=int(r["rank"]),
                org_rank=int(r["org_rank"]),
                is_me=str(r["user_id"]) == account.user_id,
            )
            for r in rows
        ]

    def teams(self) -> list[Team]:
        client = self._require_client()
        teams = self._rows(client.table("teams").select("id,name").order("name"))
        members = self._rows(client.table("team_members").select("team_id,user_id"))
        by_team: dict[str, set[str]] = {}
        for m in members:
            by_team.setdefault(m["team_id"], set()).add(str(m["user_id"]))
        return [
            Team(str(t["id"]), str(t["name"]), frozenset(by_team.get(t["id"], ()))) for t in teams
        ]

    # Managers -------------------------------------------------------------------------------
    def members(self) -> list[Member]:
        client = self._require_client()
        rows = self._rows(
            client.table("org_members").select("user_id,display_name,role").order("display_name")
        )
        return [Member(str(r["user_id"]), str(r["display_name"]), OrgRole(r["role"])) for r in rows]

    def scenarios(self) -> list[Scenario]:
        client = self._require_client()
        rows = self._rows(client.table("scenarios").select(SCENARIO_COLUMNS).order("title"))
        return [_scenario(r) for r in rows]

    def tracks(self) -> list[Track]:
        client = self._require_client()
        tracks = self._rows(client.table("tracks").select("id,title").order("title"))
        links = self._rows(
            client.table("track_scenarios")
            .select("track_id,scenario_id,position")
            .order("position")
        )
        return [
            Track(
                str(t["id"]),
                str(t["title"]),
                tuple(str(link["scenario_id"]) for link in links if link["track_id"] == t["id"]),
            )
            for t in tracks
        ]

    def org_attempts(self, limit: int = 1000) -> list[AttemptRow]:
        self._require_manager()
        client = self._require_client()
        rows = self._rows(
            client.table("scenario_attempts")
            .select(ATTEMPT_LIST_COLUMNS)
            .order("started_at", desc=True)
            .limit(limit)
        )
        scenarios = {s.id: s for s in self.scenarios()}
        names = {m.user_id: m.display_name for m in self.members()}
        teams_of: dict[str, set[str]] = {}
        for team in self.teams():
            for user_id in team.member_ids:
                teams_of.setdefault(user_id, set()).add(team.id)
        return [
            replace(
                self._attempt_row(r, scenarios, names),
                team_ids=frozenset(teams_of.get(str(r["user_id"]), ())),
            )
            for r in rows
        ]

    def org_overview(self, months: int) -> list[OverviewMonth]:
        client = self._require_client()
        rows = self._guard(lambda: client.rpc("org_overview", {"months": months}).execute()).data
        return [
            OverviewMonth(
                month_start=date.fromisoformat(r["month_start"]),
                active_users=int(r["active_users"]),
                attempts=int(r["attempts"]),
                scored_attempts=int(r["scored_attempts"]),
                avg_score=as_decimal(r["avg_score"]),
                pass_rate=as_decimal(r["pass_rate"]),
                kpi_averages={k: as_decimal(r.get(f"avg_{k}")) for k in OVERVIEW_KPIS},
            )
            for r in rows or []
        ]

    def scenario_insights(self) -> list[ScenarioInsight]:
        client = self._require_client()
        rows = self._guard(lambda: client.rpc("scenario_insights", {}).execute()).data
        return [
            ScenarioInsight(
                scenario_id=str(r["scenario_id"]),
                title=str(r["title"]),
                attempts=int(r["attempts"]),
                scored_attempts=int(r["scored_attempts"]),
                avg_score=as_decimal(r["avg_score"]),
                median_score=as_decimal(r["median_score"]),
                pass_rate=as_decimal(r["pass_rate"]),
                kpis={
                    kpi: {k: as_decimal(v) for k, v in stats.items()}
                    for kpi, stats in (r.get("kpis") or {}).items()
                },
            )
            for r in rows or []
        ]

    def create_assignment(self, new: NewAssignment) -> str:
        account = self._require_manager()
        client = self._require_client()
        payload = {
            "org_id": account.org_id,
            "scenario_id": new.scenario_id,
            "track_id": new.track_id,
            "user_id": new.user_id,
            "team_id": new.team_id,
            "due_at": new.due_at.isoformat() if new.due_at else None,
            "note": new.note,
        }
        rows = self._rows(client.table("assignments").insert(payload))
        log.info("assignment created", org_id=account.org_id, assignment_id=rows[0]["id"])
        return str(rows[0]["id"])

    # Sync -----------------------------------------------------------------------------------
    def sync_status(self) -> SyncStatus:
        with self._lock:
            pending = [p for p in self._pending.values() if p.state is not SyncState.REJECTED]
            rejected = len(self._pending) - len(pending)
        phase = SyncPhase.OFFLINE if self._offline else SyncPhase.IDLE
        return SyncStatus(phase, len(pending), rejected, self._last_synced)

    def sync_now(self, progress: Callable[[float, str], None] | None = None) -> SyncStatus:
        """Send every waiting attempt, then fetch the server's scores for those sent."""
        if self._client is None:
            raise NotSignedIn("Sign in to sync your practice calls.")
        with self._lock:
            waiting = [p for p in self._pending.values() if p.state is not SyncState.REJECTED]
        for index, pending in enumerate(waiting):
            if progress is not None:
                progress(
                    index / max(len(waiting), 1), f"Sending call {index + 1} of {len(waiting)}"
                )
            try:
                self._push(pending)
            except OfflineError:
                self._offline = True
                raise
        self._offline = False
        if self._account is not None and self._account.offline:
            self._account = replace(self._account, offline=False)
        self._last_synced = utc_now()
        if progress is not None:
            progress(1.0, "Up to date")
        return self.sync_status()

    def _push(self, pending: _Pending) -> None:
        """Upload the recording, then upsert the attempt; the server scores it on arrival."""
        account = self._require_account()
        client = self._require_client()
        finished = pending.finished
        pending.state = SyncState.UPLOADING
        recording_path = None
        try:
            if finished.recording is not None and finished.recording.exists():
                recording_path = f"{account.org_id}/{account.user_id}/{finished.id}.flac"
                data = finished.recording.read_bytes()
                self._guard(
                    lambda: client.storage.from_("recordings").upload(
                        recording_path,
                        data,
                        {"content-type": "audio/flac", "x-upsert": "true"},
                    )
                )
            row = {
                "id": finished.id,
                "org_id": account.org_id,
                "user_id": account.user_id,
                "scenario_id": finished.scenario_id,
                "assignment_id": finished.assignment_id,
                "started_at": finished.started_at.isoformat(),
                "ended_at": finished.ended_at.isoformat(),
                "duration_seconds": round(
                    (finished.ended_at - finished.started_at).total_seconds(), 3
                ),
                "recording_path": recording_path,
                "transcript": finished.transcript,
                "status": "uploaded",
                "device_id": self._device_id,
            }
            saved = self._rows(client.table("scenario_attempts").upsert(row))
        except OfflineError:
            pending.state = SyncState.LOCAL
            raise
        except CoachdeskError as error:
            # Refused for good (bad data, no permission): keep it here, visibly, with the reason.
            pending.state = SyncState.REJECTED
            pending.rejection = str(error)
            log.warning("attempt refused by the server", attempt_id=finished.id)
            return
        status = str(saved[0]["status"]) if saved else "uploaded"
        pending.state = _SERVER_STATES.get(status, SyncState.UPLOADED)
        with self._lock:
            self._pending.pop(finished.id, None)
        log.info(
            "attempt synced", attempt_id=finished.id, status=saved[0]["status"] if saved else ""
        )

    # Helpers --------------------------------------------------------------------------------
    def _require_client(self) -> Client:
        if self._client is None:
            if self._account is not None and self._account.offline:
                raise OfflineError("You are working offline; this needs the server.")
            raise NotSignedIn("Please sign in first.")
        self._refresh_if_needed(self._client)
        return self._client

    def _require_account(self) -> Account:
        if self._account is None:
            raise NotSignedIn("Please sign in first.")
        return self._account

    def _require_online_account(self) -> Account:
        account = self._require_account()
        self._require_client()
        return account

    def _require_manager(self) -> Account:
        account = self._require_account()
        if not account.is_manager:
            raise PermissionDenied("Only managers and admins can see the team's attempts.")
        return account

    def _refresh_if_needed(self, client: Client) -> None:
        session = client.auth.get_session()
        expires_at = session.expires_at if session is not None else None
        if expires_at is not None and expires_at - time.time() < REFRESH_MARGIN_S:
            self._guard(lambda: client.auth.refresh_session())

    def _guard(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (httpx.HTTPError, AuthError, APIError, StorageApiError) as error:
            raise translate(error, self._config.url) from error

    def _rows(self, query: Any) -> list[dict[str, Any]]:
        return list(self._guard(query.execute).data or [])

    def _names(self, user_ids: Iterable[str]) -> dict[str, str]:
        client = self._require_client()
        wanted = sorted(set(user_ids))
        rows = self._rows(
            client.table("org_members").select("user_id,display_name").in_("user_id", wanted)
        )
        return {str(r["user_id"]): str(r["display_name"]) for r in rows}

    def _attempt_row(
        self, row: Mapping[str, Any], scenarios: Mapping[str, Scenario], names: Mapping[str, str]
    ) -> AttemptRow:
        scenario = scenarios.get(str(row["scenario_id"]))
        breakdown = row.get("score_breakdown") or {}
        return AttemptRow(
            id=str(row["id"]),
            user_id=str(row["user_id"]),
            person=names.get(str(row["user_id"]), ""),
            scenario_id=str(row["scenario_id"]),
            scenario_title=scenario.title if scenario else "(scenario not available)",
            started_at=parse_time(row["started_at"]) or utc_now(),
            duration_seconds=as_decimal(row.get("duration_seconds")),
            score=as_decimal(row.get("score")),
            sync_state=_SERVER_STATES.get(str(row.get("status")), SyncState.UPLOADED),
            passed=breakdown.get("passed") if isinstance(breakdown, dict) else None,
            assignment_id=row.get("assignment_id"),
        )

    def _merge_pending(
        self, rows: list[AttemptRow], scenarios: Mapping[str, Scenario], names: Mapping[str, str]
    ) -> list[AttemptRow]:
        with self._lock:
            pending = list(self._pending.values())
        on_server = {r.id for r in rows}
        local = [
            replace(self._pending_row(p), scenario_title=_title(scenarios, p.finished.scenario_id))
            for p in pending
            if p.finished.id not in on_server
        ]
        return sorted(local + rows, key=lambda r: r.started_at, reverse=True)

    def _pending_row(self, pending: _Pending) -> AttemptRow:
        account = self._require_account()
        finished = pending.finished
        breakdown = pending.breakdown or {}
        return AttemptRow(
            id=finished.id,
            user_id=account.user_id,
            person=account.display_name,
            scenario_id=finished.scenario_id,
            scenario_title="",
            started_at=finished.started_at,
            duration_seconds=Decimal(
                str(round((finished.ended_at - finished.started_at).total_seconds(), 3))
            ),
            score=as_decimal(breakdown.get("score")),
            sync_state=pending.state,
            passed=breakdown.get("passed"),
            assignment_id=finished.assignment_id,
        )

    def _pending_detail(self, pending: _Pending) -> AttemptDetail:
        scenario = self.scenario(pending.finished.scenario_id)
        return AttemptDetail(
            row=replace(self._pending_row(pending), scenario_title=scenario.title),
            transcript=pending.finished.transcript,
            kpis=pending.kpis,
            breakdown=pending.breakdown,
            rubric=scenario.rubric,
            recording_path=None,
            local_recording=pending.finished.recording,
            rejection=pending.rejection,
            persona_name=scenario.persona.name,
        )


def build_assignment(
    row: Mapping[str, Any],
    scenarios: Mapping[str, Scenario],
    tracks: Mapping[str, Track],
    attempts: Iterable[AttemptRow],
) -> Assignment:
    """An assignment with the user's progress: how many of its scenarios they have passed."""
    required = as_decimal(row.get("required_score"))
    if row.get("track_id"):
        track = tracks.get(str(row["track_id"]))
        title = track.title if track else "(track not available)"
        scenario_ids = track.scenario_ids if track else ()
        kind = "track"
    else:
        scenario_ids = (str(row["scenario_id"]),)
        title = _title(scenarios, str(row["scenario_id"]))
        kind = "scenario"
    scores: dict[str, Decimal] = {}
    for attempt in attempts:
        if attempt.scenario_id in scenario_ids and attempt.score is not None:
            best = scores.get(attempt.scenario_id)
            scores[attempt.scenario_id] = max(best, attempt.score) if best else attempt.score
    passed = {
        sid
        for sid, best in scores.items()
        if best >= (required if required is not None else _pass_score(scenarios, sid))
    }
    return Assignment(
        id=str(row["id"]),
        title=title,
        kind=kind,
        scenario_ids=scenario_ids,
        due_at=parse_time(row.get("due_at")),
        note=str(row.get("note") or ""),
        required_score=required,
        completed=len(passed),
        best_score=max(scores.values()) if scores else None,
    )


def _pass_score(scenarios: Mapping[str, Scenario], scenario_id: str) -> Decimal:
    scenario = scenarios.get(scenario_id)
    return scenario.pass_score if scenario else Decimal(70)


def _title(scenarios: Mapping[str, Scenario], scenario_id: str) -> str:
    scenario = scenarios.get(scenario_id)
    return scenario.title if scenario else "(scenario not available)"


def _scenario(row: Mapping[str, Any]) -> Scenario:
    return Scenario(
        id=str(row["id"]),
        title=str(row["title"]),
        description=str(row.get("description") or ""),
        persona=Persona.from_json(row.get("persona")),
        difficulty=str(row.get("difficulty") or ""),
        pass_score=as_decimal(row.get("pass_score")) or Decimal(70),
        status=str(row.get("status") or "published"),
        branching=row.get("branching") or {},
        rubric=row.get("rubric") or {},
    )


def _make_client(config: ServerConfig) -> Client:
    # No background refresh thread: SupabaseBackend refreshes on its own single worker thread.
    options = ClientOptions(auto_refresh_token=False, persist_session=True)
    return create_client(config.url, config.anon_key, options)
