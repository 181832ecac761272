"""`Backend` over sync/: screens read the local cache, writes go through the outbox, and the sync
engine keeps both in step with the server on its own thread.

So the app works offline: sign-in is remembered in the OS keyring (sync.session), home, reviews
and the manager's attempts come from the SQLite cache, and a finished call is kept with its
provisional score until the engine has sent it and pulled the server's. Only what exists on the
server alone needs it live: the leaderboard for another month or a team (this month's is cached),
the manager's charts (reporting accessors) and signed URLs for recordings made elsewhere.

The cache and the session have one owner thread (sync/owner.py), and every method here that
touches them hands its work to it and blocks until it is done: callers (the UI's network thread)
never use either themselves. The sync engine's rounds run on that thread too; reads and local
writes run between a round's pages, sign-in, sign-out, org switches and "sync now" between
rounds. Engine status changes arrive through `subscribe`, and what a round or a local write
changed through `subscribe_changes`, both on the owner thread (screens relay them to the GUI
thread).
"""

from __future__ import annotations

import functools
import json
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

import httpx
import structlog

from app.client import sign_up
from app.client.assignments import ManagedAssignment, managed_assignments
from app.client.threads import lower_this_thread_priority
from app.client.views import (
    LEADERBOARD,
    OUTBOX,
    Account,
    AttemptDetail,
    AttemptRow,
    Changes,
    FinishedAttempt,
    HomeData,
    LeaderRow,
    Member,
    NewAssignment,
    NotSignedIn,
    OrgChoice,
    OverviewMonth,
    PermissionDenied,
    PreviousAttempt,
    Scenario,
    ScenarioInsight,
    ServerConfig,
    ServerUnreachable,
    SignInRefused,
    SyncPhase,
    SyncState,
    SyncStatus,
    Team,
    Track,
    UnsyncedWork,
    utc_now,
)
from app.config import UploadPolicy
from app.durable import atomic_file
from app.errors import CoachdeskError
from app.kpis import compute_kpis
from app.scoring import score as score_rubric
from app.transcript import has_rep_speech
from sync.cache import Cache, cache_path
from sync.cache_records import (
    AttemptRecord,
    AttemptSyncState,
    CacheError,
    NewAttempt,
)
from sync.cache_records import Scenario as CachedScenario
from sync.client import NotSignedInError as SyncNotSignedIn
from sync.client import OfflineError as SyncOffline
from sync.client import RejectedError, ServerError, SyncError, classify
from sync.client import ServerConfig as SyncServerConfig
from sync.client import SignInError as SyncSignInError
from sync.client import SignUpError as SyncSignUpError
from sync.db_types import OrgRole
from sync.engine import Phase, SyncEngine
from sync.engine import SyncStatus as EngineStatus
from sync.owner import Owner
from sync.pull import CONTENT_TABLES, MEMBERSHIP_TABLES
from sync.reporting import reporting_freshness
from sync.rows import number as as_decimal
from sync.session import (
    Identity,
    NoKeyringError,
    Session,
    UnsyncedWorkError,
    encrypted_file_storage,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

SYNC_INTERVAL_S = 60.0
ENCRYPTED_SIGN_IN_FILE = "sign-in.cfg"
# Pages of 100 rows down instead of sync's 500 keep each response's JSON (parsed while holding
# the interpreter lock, which the GUI thread must wait out) to a few hundred KB. Transcripts, the
# large part, are bounded by sync itself: pushed in batches of ~400 KB (sync.push.BATCH_BYTES),
# fetched apart as text and only for versions not held here (sync.pull).
PULL_PAGE_ROWS = 100
SYNC_NOW_TIMEOUT_S = 120.0
RECENT_ATTEMPTS = 20
OVERVIEW_KPIS = (
    "talk_ratio",
    "words_per_minute",
    "filler_word_ratio",
    "questions_asked",
    "longest_monologue_seconds",
    "response_latency_seconds",
    "keyword_coverage",
)
_STATES = {
    AttemptSyncState.PENDING: SyncState.LOCAL,
    AttemptSyncState.HELD: SyncState.HELD,
    AttemptSyncState.RECORDED: SyncState.NOT_UPLOADED,
    AttemptSyncState.REJECTED: SyncState.REJECTED,
    AttemptSyncState.UPLOADED: SyncState.UPLOADED,
    AttemptSyncState.SCORED: SyncState.SCORED,
    AttemptSyncState.FAILED: SyncState.FAILED,
}
_PHASES = {
    Phase.IDLE: SyncPhase.IDLE,
    Phase.SYNCING: SyncPhase.SYNCING,
    Phase.OFFLINE: SyncPhase.OFFLINE,
    Phase.ERROR: SyncPhase.ERROR,
    Phase.SIGNED_OUT: SyncPhase.ERROR,
    Phase.STOPPED: SyncPhase.IDLE,
}
# Cache meta keys this module keeps, so an offline start can still name the orgs.
_ORGS_META = "ui.orgs"


def translate(error: BaseException, server: str) -> CoachdeskError:
    """A sync error as a sentence for people (sync's own text goes to the log)."""
    if isinstance(error, CoachdeskError):
        return error
    log.info("server call failed", error_type=type(error).__name__, reason=str(error))
    if isinstance(error, SyncOffline):
        return ServerUnreachable(
            f"Cannot reach the Coachdesk server at {server}. Check your connection; your "
            "practice calls are kept on this computer and sync when it is back."
        )
    if isinstance(error, SyncSignUpError):
        return sign_up.refusal(error.code, str(error))
    if isinstance(error, SyncSignInError):
        return SignInRefused("The email or password is not right. Check both and try again.")
    if isinstance(error, SyncNotSignedIn):
        return NotSignedIn("Your session has ended. Please sign in again.")
    if isinstance(error, UnsyncedWorkError):
        return UnsyncedWork(
            f"{error.pending} change(s) have not reached the server yet"
            + (f" and {error.rejected} were refused by it" if error.rejected else "")
            + ". Signing out deletes this computer's copy of them."
        )
    if isinstance(error, RejectedError):
        if error.code == "42501":
            return PermissionDenied(f"The server refused this: {error}.")
        return CoachdeskError(f"The server refused this: {error}.")
    if isinstance(error, SyncError):
        return CoachdeskError(f"The server could not do this now: {error}.")
    raise error


def cannot_sign_in(server: str) -> str:
    """Why signing in failed when the server does not answer, and what to do about it."""
    text = (
        f"Cannot sign in: the Coachdesk server at {server} does not answer. Check your network "
        "connection, or ask your IT team whether the server is up."
    )
    if urlsplit(server).hostname in ("127.0.0.1", "localhost", "::1"):
        text += (
            " It is the local server on this computer: start it with `coachdesk stack start` "
            "(or `coachdesk run`)."
        )
    return text


_SYNCED_TABLES = frozenset(MEMBERSHIP_TABLES + CONTENT_TABLES)


def _on_owner(
    *, between_rounds: bool = False
) -> Callable[
    [Callable[Concatenate[SyncedBackend, P], T]], Callable[Concatenate[SyncedBackend, P], T]
]:
    """Run the method on the backend's owner thread (between sync rounds if asked)."""

    def wrap(
        method: Callable[Concatenate[SyncedBackend, P], T],
    ) -> Callable[Concatenate[SyncedBackend, P], T]:
        @functools.wraps(method)
        def on_owner(self: SyncedBackend, *args: P.args, **kwargs: P.kwargs) -> T:
            return self._owner.call(
                lambda: method(self, *args, **kwargs), between_rounds=between_rounds
            )

        return on_owner

    return wrap


class SyncedBackend:
    """The app's Backend: sync.Session + sync.Cache + sync.SyncEngine, on one owner thread."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        data_dir: Path,
        keyring_backend: Any = None,
        remember: bool = True,
        interval_s: float = SYNC_INTERVAL_S,
        transport: httpx.BaseTransport | None = None,
        playback_dir: Path | None = None,
        upload: UploadPolicy = UploadPolicy.AUTO,
    ) -> None:
        self._config = config
        self._upload = UploadPolicy(upload)
        self._data_dir = data_dir
        self._interval_s = interval_s
        self._playback_dir = playback_dir or Path(tempfile.gettempdir()) / "coachdesk-playback"
        sync_config = SyncServerConfig(config.url, config.anon_key)
        self._sync_config, self._transport = sync_config, transport
        self._owner = Owner("coachdesk-owner", on_start=lower_this_thread_priority)
        # Where the OS has no keyring, sign-in is kept in memory only until the user chooses an
        # encrypted file (keep_sign_in_encrypted); the UI says so.
        self.keyring_problem: str | None = None
        try:
            self._session = Session(
                sync_config, remember=remember, keyring_backend=keyring_backend, transport=transport
            )
        except NoKeyringError as error:
            self.keyring_problem = str(error)
            self._session = Session(sync_config, remember=False, transport=transport)
        self._cache: Cache | None = None
        self._engine: SyncEngine | None = None
        self._account: Account | None = None
        self._listeners: list[Callable[[SyncStatus], None]] = []
        self._change_listeners: list[Callable[[Changes], None]] = []
        self._lock = threading.Lock()  # guards the listener lists (subscribed from any thread)
        self._last_round: object = None

    # Session -------------------------------------------------------------------------------
    @property
    def account(self) -> Account | None:
        return self._account

    @property
    def server(self) -> ServerConfig:
        return self._config

    @property
    def upload_policy(self) -> UploadPolicy:
        """When a finished call's recording and transcript go (the `upload` setting)."""
        return self._upload

    @_on_owner(between_rounds=True)
    def sign_in(self, email: str, password: str) -> Account:
        if not email.strip() or not password:
            raise SignInRefused("Enter your email address and password.")
        try:
            identity = self._guard(lambda: self._session.sign_in(email, password))
        except ServerUnreachable as error:
            raise ServerUnreachable(cannot_sign_in(self._config.url)) from error
        return self._signed_in(identity)

    @_on_owner(between_rounds=True)
    def sign_up(
        self, email: str, password: str, repeated: str, display_name: str
    ) -> Account | None:
        """A new account (app/client/sign_up.py). None: Auth mailed a code to confirm it
        (`confirm_sign_up`); a server that confirms at once signs the account in."""
        sign_up.check_details(email, password, repeated, display_name)
        identity = self._signing_up(lambda: self._session.sign_up(email, password, display_name))
        return None if identity is None else self._signed_in(identity)

    @_on_owner(between_rounds=True)
    def confirm_sign_up(self, email: str, code: str) -> Account:
        """Redeem the mailed code: the new account is signed in (in no org until it accepts
        an invitation)."""
        digits = sign_up.check_code(code)
        identity = self._signing_up(lambda: self._session.confirm_sign_up(email, digits))
        return self._signed_in(identity)

    @_on_owner(between_rounds=True)
    def resend_sign_up_code(self, email: str) -> None:
        self._signing_up(lambda: self._session.resend_sign_up_code(email))

    @_on_owner(between_rounds=True)
    def request_password_reset(self, email: str) -> None:
        """A recovery code mailed to `email` (if it has an account: Auth does not say)."""
        sign_up.check_email(email)
        self._signing_up(lambda: self._session.request_password_reset(email))

    @_on_owner(between_rounds=True)
    def reset_password(self, email: str, code: str, password: str, repeated: str) -> Account:
        """The mailed code and a new password: signed in with it."""
        digits = sign_up.check_code(code)
        sign_up.check_password(password, repeated)
        identity = self._signing_up(lambda: self._session.reset_password(email, digits, password))
        return self._signed_in(identity)

    def _signing_up(self, call: Callable[[], T]) -> T:
        try:
            return self._guard(call)
        except ServerUnreachable as error:
            raise ServerUnreachable(cannot_sign_in(self._config.url)) from error

    def _signed_in(self, identity: Identity) -> Account:
        self._open(identity)
        # A first round now, so home shows the server's rows, not an empty cache.
        status = self._engine_required().run_once(full=True)
        self._account = self._account_for(identity, offline=status.online is False)
        self._engine_required().start()
        log.info("signed in", org_id=identity.org_id, role=identity.org_role)
        return self._account

    @property
    def encrypted_sign_in_file(self) -> Path:
        """Where the sign-in is kept when there is no system keyring and the user chose a file."""
        return self._data_dir / ENCRYPTED_SIGN_IN_FILE

    @property
    def pictures_folder(self) -> Path:
        """Where the personas' pictures are kept once seen (app/client/avatars.py)."""
        return self._data_dir / "avatars"

    @_on_owner(between_rounds=True)
    def keep_sign_in_encrypted(self, passphrase: str) -> None:
        """No system keyring: keep the sign-in in a file encrypted with `passphrase`, made now or
        unlocked if an earlier run made it. Only while signed out (the next sign-in uses it)."""
        if self._account is not None:
            raise CoachdeskError("Sign out first: the file is used from the next sign-in on.")
        try:
            storage = encrypted_file_storage(
                self.encrypted_sign_in_file, passphrase, self._sync_config.url
            )
        except NoKeyringError as error:
            raise CoachdeskError(str(error)) from error
        self._session = Session(self._sync_config, storage=storage, transport=self._transport)
        self.keyring_problem = None
        log.info("sign-in kept in an encrypted file", path=str(self.encrypted_sign_in_file))

    @_on_owner(between_rounds=True)
    def cached_account(self) -> Account | None:
        """The account kept in the keyring, if its cache is on this computer (no network)."""
        try:
            identity = self._session.restore()
        except (SyncError, NoKeyringError, ValueError):
            return None
        if identity is None or not cache_path(self._data_dir, identity.user_id).exists():
            return None
        self._open(identity)
        return self._account_for(identity, offline=True)

    @_on_owner(between_rounds=True)
    def resume_offline(self) -> Account:
        """Start on the saved session and cache; the engine syncs whenever the server answers."""
        account = self.cached_account()
        if account is None:
            raise SignInRefused("There is no saved sign-in on this computer. Sign in once online.")
        self._account = account
        self._engine_required().start()
        return account

    @_on_owner(between_rounds=True)
    def switch_org(self, org_id: str) -> Account:
        engine = self._engine_required()
        engine.stop()
        try:
            identity = self._guard(lambda: self._session.switch_org(org_id))
            engine.run_once(full=True)
            self._account = self._account_for(identity, offline=False)
        finally:
            engine.start()
        return self._account

    @_on_owner(between_rounds=True)
    def sign_out(self, discard_unsynced: bool = False) -> None:
        engine, cache = self._engine, self._cache
        if engine is not None:
            engine.stop()
        try:
            self._guard(lambda: self._session.sign_out(cache, discard_unsynced=discard_unsynced))
        except UnsyncedWork:
            if engine is not None:
                engine.start()  # still signed in: keep syncing what is waiting
            raise
        self._engine = self._cache = self._account = None

    def close(self) -> None:
        """Stop syncing, close the cache and end the owner thread (quitting the app; the session
        stays remembered)."""

        def close_on_owner() -> None:
            if self._engine is not None:
                self._engine.stop()
            if self._cache is not None:
                self._cache.close()

        self._owner.call(close_on_owner, between_rounds=True)
        self._owner.stop()

    def _open(self, identity: Identity) -> None:
        if self._cache is not None and self._cache.user_id == identity.user_id:
            return
        if self._engine is not None:
            self._engine.stop()
        self._cache = Cache.open(self._data_dir, identity.user_id)
        self._engine = SyncEngine(
            self._session,
            self._cache,
            interval_s=self._interval_s,
            page_rows=PULL_PAGE_ROWS,
            owner=self._owner,
        )
        self._engine.subscribe(self._status_changed)

    def _account_for(self, identity: Identity, *, offline: bool) -> Account:
        cache = self._cache_required()
        org_id = identity.org_id
        names = {m.user_id: m.display_name for m in cache.members(org_id)} if org_id else {}
        orgs = self._org_choices(identity, offline=offline)
        org_name = next((o.name for o in orgs if o.id == org_id), "")
        return Account(
            user_id=identity.user_id,
            email=identity.email,
            display_name=names.get(identity.user_id) or identity.email,
            org_id=org_id,
            org_name=org_name,
            role=OrgRole(identity.org_role) if identity.org_role else None,
            orgs=orgs,
            offline=offline,
            notice=cache.repair.message if cache.repair is not None else None,
        )

    def _org_choices(self, identity: Identity, *, offline: bool) -> tuple[OrgChoice, ...]:
        """The user's orgs: from the server when online (remembered), else as remembered."""
        cache = self._cache_required()
        if not offline:
            try:
                memberships = self._session.memberships()
            except SyncError as error:
                log.info("orgs not listed", reason=str(error))
            else:
                cache.set_meta(
                    _ORGS_META,
                    json.dumps([[m.org_id, m.name, m.role] for m in memberships]),
                )
        stored = json.loads(cache.meta(_ORGS_META) or "[]")
        choices = tuple(OrgChoice(o, n, OrgRole(r) if r else None) for o, n, r in stored)
        if identity.org_id and not any(c.id == identity.org_id for c in choices):
            role = OrgRole(identity.org_role) if identity.org_role else None
            choices += (OrgChoice(identity.org_id, "", role),)
        return choices

    # Trainee -------------------------------------------------------------------------------
    @_on_owner()
    def home(self) -> HomeData:
        account, cache = self._require_account(), self._cache_required()
        org = str(account.org_id)
        scenarios = {s.id: _scenario(s) for s in cache.scenarios(org)}
        names = self._names()
        recent = cache.recent_attempts(org, user_id=account.user_id, limit=RECENT_ATTEMPTS)
        return HomeData(
            assignments=tuple(cache.due_assignments(org, account.user_id)),
            recent_attempts=tuple(self._row(r, scenarios, names) for r in recent),
            scenarios=scenarios,
        )

    @_on_owner()
    def scenario(self, scenario_id: str) -> Scenario:
        cached = self._cache_required().scenario(scenario_id)
        if cached is None:
            raise CoachdeskError("This scenario is not available (unpublished or removed).")
        return _scenario(cached)

    @_on_owner()
    def attempt(self, attempt_id: str) -> AttemptDetail:
        record = self._cache_required().attempt(attempt_id)
        if record is None:
            raise CoachdeskError(
                "This attempt is not on this computer (it may belong to another org)."
            )
        scenario = self.scenario(record.scenario_id)
        before = self._cache_required().previous_attempt(record)
        previous = None
        if before is not None:
            previous = PreviousAttempt(
                id=before.id,
                started_at=before.started_at,
                score=before.score,
                provisional=before.provisional,
                kpis=before.kpis or {},
            )
        return AttemptDetail(
            row=self._row(record, {scenario.id: scenario}, self._names()),
            transcript=record.transcript or {"version": 1, "turns": []},
            kpis=record.kpis or {},
            breakdown=record.breakdown,
            rubric=scenario.rubric,
            recording_path=f"recordings/{record.recording_path}" if record.recording_path else None,
            local_recording=record.local_recording,
            rejection=record.rejection or record.failure_reason,
            persona_name=scenario.profile.name,
            pass_score=scenario.pass_score,
            previous=previous,
            scenario_version=scenario.version,
        )

    @_on_owner()
    def save_attempt(self, finished: FinishedAttempt) -> AttemptRow:
        """Keep the call with its provisional score (same numbers as the server's), then sync."""
        if not has_rep_speech(finished.transcript):
            # Incomplete: kept as a call record by the practice screen, never an attempt.
            raise CoachdeskError(
                "Nothing you said was heard in this call, so it is not saved as an attempt."
            )
        account, cache = self._require_account(), self._cache_required()
        scenario = self.scenario(finished.scenario_id)
        kpis = compute_kpis(finished.transcript, scenario.rubric)
        breakdown = score_rubric(scenario.rubric, kpis, scenario.pass_score, finished.transcript)
        record = self._guard(
            lambda: cache.record_attempt(
                NewAttempt(
                    org_id=str(account.org_id),
                    user_id=account.user_id,
                    scenario_id=finished.scenario_id,
                    started_at=finished.started_at,
                    ended_at=finished.ended_at,
                    transcript=finished.transcript,
                    assignment_id=finished.assignment_id,
                    recording=finished.recording,
                    provisional_kpis=kpis,
                    provisional_breakdown=breakdown,
                    hold_files=self._upload is UploadPolicy.MANUAL,
                    id=finished.id,
                )
            )
        )
        log.info("attempt saved", attempt_id=record.id, org_id=account.org_id)
        self._after_local_write("scenario_attempts")
        return self._row(record, {scenario.id: scenario}, self._names())

    @_on_owner()
    def upload_attempt(self, attempt_id: str) -> AttemptRow:
        """Send a call kept here (upload = "manual"): its files and transcript go next round."""
        cache = self._cache_required()
        record = self._guard(lambda: cache.upload_attempt(attempt_id))
        log.info("attempt released for upload", attempt_id=attempt_id)
        self._after_local_write("scenario_attempts")
        scenario = self.scenario(record.scenario_id)
        return self._row(record, {scenario.id: scenario}, self._names())

    @_on_owner()
    def recording_for_playback(self, detail: AttemptDetail) -> Path:
        if detail.local_recording is not None and detail.local_recording.exists():
            return detail.local_recording
        if not detail.recording_path:
            raise CoachdeskError("This attempt has no recording to play.")
        url = self._rpc("grant_signed_url", {"path": detail.recording_path, "ttl": 300})
        try:
            content = self._session.download(url)
        except ServerError as error:
            raise CoachdeskError(f"The recording could not be downloaded: {error}.") from error
        except SyncError as error:
            raise translate(error, self._config.url) from error
        target = self._playback_dir / f"{detail.row.id}{Path(detail.recording_path).suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(target) as out:  # a crash mid-write must not leave a cut recording
            out.write(content)
        return target

    # Everyone ------------------------------------------------------------------------------
    @_on_owner()
    def leaderboard(self, month: date, team_id: str | None) -> list[LeaderRow]:
        """Live from `leaderboard_month`; offline, the org's snapshot of that month if cached."""
        account = self._require_account()
        try:
            rows = self._rpc("leaderboard_month", {"month": month.isoformat(), "team": team_id})
        except ServerUnreachable:
            snapshot = self._cache_required().leaderboard(str(account.org_id), month)
            if snapshot is None or team_id is not None:
                raise
            rows = [r.__dict__ for r in snapshot.rows]
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
            for r in rows or []
        ]

    @_on_owner()
    def reporting_status(self) -> str:
        """How current the server's leaderboard and charts are, in one line (live)."""
        self._require_account()

        def call() -> str:
            self._session.ensure_fresh()
            return reporting_freshness(self._session.client).describe()

        return self._guard(call)

    @_on_owner()
    def teams(self) -> list[Team]:
        org = str(self._require_account().org_id)
        return self._cache_required().teams(org)

    # Managers ------------------------------------------------------------------------------
    @_on_owner()
    def members(self) -> list[Member]:
        org = str(self._require_account().org_id)
        return self._cache_required().members(org)

    @_on_owner()
    def scenarios(self) -> list[Scenario]:
        org = str(self._require_account().org_id)
        return [_scenario(s) for s in self._cache_required().scenarios(org)]

    @_on_owner()
    def tracks(self) -> list[Track]:
        org = str(self._require_account().org_id)
        return self._cache_required().tracks(org)

    @_on_owner()
    def org_attempts(self, limit: int = 1000) -> list[AttemptRow]:
        """The org's attempts as the cache holds them (RLS let the manager's pull have them)."""
        account = self._require_manager()
        cache = self._cache_required()
        scenarios = {s.id: s for s in self.scenarios()}
        names = self._names()
        teams_of: dict[str, set[str]] = {}
        for team in self.teams():
            for user_id in team.member_ids:
                teams_of.setdefault(user_id, set()).add(team.id)
        records = cache.recent_attempts(str(account.org_id), limit=limit)
        return [
            replace(self._row(r, scenarios, names), team_ids=frozenset(teams_of.get(r.user_id, ())))
            for r in records
        ]

    @_on_owner()
    def org_overview(self, months: int) -> list[OverviewMonth]:
        rows = self._rpc("org_overview", {"months": months})
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

    @_on_owner()
    def scenario_insights(self) -> list[ScenarioInsight]:
        rows = self._rpc("scenario_insights", {})
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

    @_on_owner()
    def create_assignments(self, new: Sequence[NewAssignment]) -> list[str]:
        """Several at once (people and teams chosen together): all kept, or none (one
        transaction), then sent by the engine."""
        account = self._require_manager()
        cache = self._cache_required()

        def write() -> list[str]:
            with cache.atomic():
                return [self._new_assignment(cache, str(account.org_id), n) for n in new]

        ids = self._guard(write)
        log.info("assignments created", org_id=account.org_id, count=len(ids))
        self._after_local_write("assignments")
        return ids

    @_on_owner()
    def managed_assignments(self) -> list[ManagedAssignment]:
        """The assignments this manager made (admins and HR: all of the org's), with each
        assigned person's progress, from the cache (works offline)."""
        account = self._require_account()
        if not account.reads_reports:
            raise PermissionDenied("Only managers, admins and HR see the org's assignments.")
        # A manager follows what they assigned; admins and HR see the whole org's.
        mine = account.user_id if account.role is OrgRole.MANAGER else None
        return managed_assignments(self._cache_required(), str(account.org_id), utc_now(), mine)

    @_on_owner()
    def update_assignment(self, assignment_id: str, *, due_at: datetime | None, note: str) -> None:
        """A new due date (None: no due date) and note; only these fields are sent."""
        account = self._require_manager()
        cache = self._cache_required()
        self._guard(lambda: cache.update_assignment(assignment_id, due_at=due_at, note=note))
        log.info("assignment changed", org_id=account.org_id, assignment_id=assignment_id)
        self._after_local_write("assignments")

    @_on_owner()
    def cancel_assignment(self, assignment_id: str) -> None:
        """Withdraw it: gone from the assignees' homes at their next sync; attempts stay."""
        account = self._require_manager()
        cache = self._cache_required()
        self._guard(lambda: cache.delete_assignment(assignment_id))
        log.info("assignment cancelled", org_id=account.org_id, assignment_id=assignment_id)
        self._after_local_write("assignments")

    @_on_owner()
    def attempts_per_scenario(self) -> dict[str, int]:
        """How many attempts at each scenario the cache holds (a manager's or admin's: the
        org's), incomplete calls left out."""
        account = self._require_manager()
        per_scenario: dict[str, int] = {}
        for (_user, scenario), n in (
            self._cache_required().attempt_counts(str(account.org_id)).items()
        ):
            per_scenario[scenario] = per_scenario.get(scenario, 0) + n
        return per_scenario

    @staticmethod
    def _new_assignment(cache: Cache, org_id: str, new: NewAssignment) -> str:
        return cache.create_assignment(
            org_id=org_id,
            scenario_id=new.scenario_id,
            track_id=new.track_id,
            user_id=new.user_id,
            team_id=new.team_id,
            due_at=new.due_at,
            note=new.note,
        )

    @_on_owner()
    def create_assignment(self, new: NewAssignment) -> str:
        """Kept in the outbox at once (works offline), sent by the engine."""
        account = self._require_manager()
        cache = self._cache_required()
        assignment_id = self._guard(lambda: self._new_assignment(cache, str(account.org_id), new))
        log.info("assignment created", org_id=account.org_id, assignment_id=assignment_id)
        self._after_local_write("assignments")
        return assignment_id

    # For the client core's services ----------------------------------------------------------
    @_on_owner()
    def live(self, call: Callable[[Session], T]) -> T:
        """`call(session)` on the owner thread with a fresh token, its sync errors turned into
        sentences: how the client core's services (app/client/*.py: reports, administration)
        reach what exists on the server alone, without their own thread or session. What the
        supabase client raises inside `call` is classified as sync's errors are."""
        self._require_account()

        def run() -> T:
            self._session.ensure_fresh()
            try:
                return call(self._session)
            except SyncError:
                raise
            except Exception as error:  # a supabase error: classify re-raises anything else
                raise classify(error) from error

        return self._guard(run)

    @_on_owner()
    def local(self, call: Callable[[Cache], T], changed: str | None = None) -> T:
        """`call(cache)` on the owner thread, the cache's refusals in words: how the client
        core's services read and write what the cache holds (works offline). With `changed`
        (the table a write changed), the screens hear of it and the engine sends it."""
        self._require_account()
        cache = self._cache_required()
        result = self._guard(lambda: call(cache))
        if changed is not None:
            self._after_local_write(changed)
        return result

    # Sync ----------------------------------------------------------------------------------
    def sync_status(self) -> SyncStatus:
        engine = self._engine
        if engine is None:
            return SyncStatus(SyncPhase.IDLE, message="Not signed in")
        return _status(engine.status)

    @_on_owner(between_rounds=True)
    def sync_now(self, progress: Callable[[float, str], None] | None = None) -> SyncStatus:
        engine = self._engine_required()
        if progress is not None:
            progress(-1.0, "Syncing…")
        return _status(engine.sync_now_and_wait(timeout=SYNC_NOW_TIMEOUT_S))

    def wake_sync(self) -> None:
        """The network is back: retry a failed sync now. Returns at once (any thread)."""
        if self._engine is not None:
            self._engine.wake()

    def sync_soon(self) -> None:
        """The server changed (an admin's edit went there directly): a round as soon as
        possible, to bring it back into the cache. Returns at once (any thread)."""
        if self._engine is not None:
            self._engine.sync_now()

    def subscribe(self, listener: Callable[[SyncStatus], None]) -> Callable[[], None]:
        """`listener(status)` on every engine change, on the engine's thread."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def subscribe_changes(self, listener: Callable[[Changes], None]) -> Callable[[], None]:
        """`listener(changes)` after each round or local write that changed data (on the owner
        thread): screens decide from it whether what they show needs reading again."""
        with self._lock:
            self._change_listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._change_listeners:
                    self._change_listeners.remove(listener)

        return unsubscribe

    def _status_changed(self, status: EngineStatus) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(_status(status))
        # A finished round is a new PullResult (status updates in between carry the same one).
        if status.last_pull is not None and status.last_pull is not self._last_round:
            self._last_round = status.last_pull
            tables = _round_changes(status)
            if tables:
                self._changed(tables)

    def _changed(self, tables: frozenset[str]) -> None:
        with self._lock:
            listeners = list(self._change_listeners)
        changes = Changes(tables)
        for listener in listeners:
            try:
                listener(changes)
            except Exception:  # a screen's bug must not undo the write or stop sync
                log.exception("change listener failed", tables=sorted(tables))

    def _after_local_write(self, table: str) -> None:
        engine = self._engine_required()
        engine.refresh_counts()
        self._changed(frozenset({table, OUTBOX}))
        engine.sync_now()

    # Helpers -------------------------------------------------------------------------------
    def _rpc(self, function: str, params: Mapping[str, Any]) -> Any:
        """A live call to the server (reports, signed URLs), with a fresh token."""

        return self._guard(lambda: self._session.rpc(function, params))

    def _guard(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except (SyncError, UnsyncedWorkError) as error:
            raise translate(error, self._config.url) from error
        except (ValueError, CacheError) as error:  # a local write the cache refuses
            raise CoachdeskError(str(error)) from error

    def _require_account(self) -> Account:
        if self._account is None:
            raise NotSignedIn("Please sign in first.")
        return self._account

    def _require_manager(self) -> Account:
        account = self._require_account()
        if not account.is_manager:
            raise PermissionDenied("Only managers and admins can see the team's attempts.")
        return account

    def _cache_required(self) -> Cache:
        if self._cache is None:
            raise NotSignedIn("Please sign in first.")
        return self._cache

    def _engine_required(self) -> SyncEngine:
        if self._engine is None:
            raise NotSignedIn("Please sign in first.")
        return self._engine

    def _names(self) -> dict[str, str]:
        account = self._require_account()
        return {
            m.user_id: m.display_name for m in self._cache_required().members(str(account.org_id))
        }

    @staticmethod
    def _row(
        record: AttemptRecord, scenarios: Mapping[str, Scenario], names: Mapping[str, str]
    ) -> AttemptRow:
        scenario = scenarios.get(record.scenario_id)
        return AttemptRow(
            id=record.id,
            user_id=record.user_id,
            person=names.get(record.user_id, ""),
            scenario_id=record.scenario_id,
            scenario_title=scenario.title if scenario else "(scenario not available)",
            started_at=record.started_at,
            duration_seconds=record.duration_seconds,
            score=record.score,
            sync_state=_STATES[record.sync_state],
            passed=record.passed,
            assignment_id=record.assignment_id,
            kpis=record.kpis or {},
        )


def _round_changes(status: EngineStatus) -> frozenset[str]:
    """The tables a finished round changed here: pulled rows, deletions, sent or refused
    changes, the month's leaderboard."""
    pulled, pushed = status.last_pull, status.last_push
    tables = {table for table, rows in (pulled.rows if pulled else {}).items() if rows}
    if pulled is not None and pulled.deleted:
        tables |= _SYNCED_TABLES  # tombstones are not counted by table
    if pulled is not None and pulled.leaderboard_rows:
        tables.add(LEADERBOARD)
    if pushed is not None and (pushed.rows or pushed.files or pushed.rejected):
        tables.add(OUTBOX)
    return frozenset(tables)


def _status(status: EngineStatus) -> SyncStatus:
    message = status.last_error or ""
    if status.phase is Phase.SIGNED_OUT:
        message = "signed out: sign in again to sync"
    return SyncStatus(
        phase=_PHASES[status.phase],
        pending=status.pending,
        rejected=status.rejected,
        last_synced=status.last_sync_at,
        message=message,
    )


def _scenario(cached: CachedScenario) -> Scenario:
    return Scenario(
        id=cached.id,
        title=cached.title,
        description=cached.description,
        persona=dict(cached.persona),
        difficulty=cached.difficulty,
        pass_score=cached.pass_score,
        status=cached.status,
        branching=dict(cached.branching),
        rubric=dict(cached.rubric),
        org_id=cached.org_id,
        max_attempts=cached.max_attempts,
        ai_prompt=cached.ai_prompt,
        time_limit_seconds=cached.time_limit_seconds,
        lineage_id=cached.lineage_id or cached.id,
        version=cached.version,
        revision=cached.revision,
        updated_at=cached.updated_at,
        updated_by=cached.updated_by,
        key_terms=cached.key_terms,
    )
