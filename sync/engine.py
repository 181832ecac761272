"""The sync engine: pushes the outbox and pulls changes on the owner thread, and says how it is.

It knows no Qt. Its rounds run on the owner thread of the user's cache and session
(sync/owner.py) as the owner's background step; between pages and batches the round lets the
owner run the jobs waiting (a screen's read, a saved call), so nothing waits for a whole round.
A screen calls `sync_now()` (returns at once) and listens with `subscribe()`: callbacks get an
immutable `SyncStatus` on the thread that changed it (the owner, during rounds), so a Qt window
re-emits them as a signal to reach the GUI thread; `status` can be read from any thread. One
round is: refresh the token if it is about to expire, push (files, then rows), pull (changes,
tombstones, the month's leaderboard). A round that cannot reach the server backs off
exponentially with jitter (Backoff, at most 30 s); "sync now" always tries at once. An expired
token found mid-round is refreshed and the round's step retried once.

Without `start()` nothing runs by itself: `run_once()` is a round on the calling thread (tests,
the CLI), which must then be the one using the cache.

Coming back needs nobody: while offline, a probe thread asks the server's health endpoint every
PROBE_S (apart from the owner, so a server that does not answer never holds up a screen) and
pokes the owner as soon as it answers; `wake()` (the UI calls it when the OS says the network
is back) starts a round at once.

The server scores an uploaded attempt in the background, a moment after the upload. While
attempts in the cache (a trainee's own, a manager's org's) wait for their scores, the next
round comes sooner than `interval_s`: after SCORE_POLL_S, doubling with each round that still
finds some waiting (a rubric the server cannot apply must not keep the client polling every
second).
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TypeVar

import structlog

from sync.cache import Cache
from sync.client import (
    NotSignedInError,
    OfflineError,
    SessionExpiredError,
    SyncError,
)
from sync.owner import Owner
from sync.pull import PAGE_ROWS, PullResult, pull
from sync.push import BATCH_ROWS, PushResult, push
from sync.rows import now
from sync.session import Identity, Session, UnsyncedWorkError

log = structlog.get_logger(__name__)

T = TypeVar("T")

SCORE_POLL_S = 1.0
# How often an offline engine asks whether the server answers again (one tiny GET).
PROBE_S = 2.0


class Phase(StrEnum):
    IDLE = "idle"  # the last round worked; waiting for the next
    SYNCING = "syncing"
    OFFLINE = "offline"  # the server could not be reached; retrying with backoff
    ERROR = "error"  # the server answered but sync could not finish; retrying with backoff
    SIGNED_OUT = "signed_out"  # no usable session: sign in again (local data is kept)
    STOPPED = "stopped"


@dataclass(frozen=True)
class SyncStatus:
    phase: Phase
    online: bool | None = None  # None: not known yet
    pending: int = 0  # local changes waiting to be sent
    rejected: int = 0  # local changes the server refused (kept, visible)
    last_sync_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0  # rounds failed in a row
    retry_delay_s: float | None = None  # the backoff chosen after the last failure
    next_attempt_at: datetime | None = None
    last_push: PushResult | None = None
    last_pull: PullResult | None = None


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: the n-th failure in a row waits between half and all of
    min(cap, base * 2^(n-1)) seconds, so many clients do not come back in step."""

    base_s: float = 2.0
    # A server back after a restart is found within half a minute even without a probe.
    cap_s: float = 30.0

    def delay(self, failures: int, rand: Callable[[], float] = random.random) -> float:
        if failures <= 0:
            return 0.0
        ceiling = min(self.cap_s, self.base_s * 2 ** min(failures - 1, 30))
        return ceiling / 2 + rand() * ceiling / 2


Listener = Callable[[SyncStatus], None]


class SyncEngine:
    """Keeps one user's cache in sync with the server for the session's current org."""

    def __init__(
        self,
        session: Session,
        cache: Cache,
        *,
        interval_s: float = 60.0,
        backoff: Backoff | None = None,
        page_rows: int = PAGE_ROWS,
        batch_rows: int = BATCH_ROWS,
        rand: Callable[[], float] = random.random,
        probe: Callable[[], bool] | None = None,
        owner: Owner | None = None,
    ) -> None:
        """`owner`: the thread that owns `cache` and `session` (the app's); without one, the
        engine makes its own for `start()`, and the cache must then be opened on it."""
        self.owner = owner if owner is not None else Owner("coachdesk-sync")
        self.session = session
        # None: ask the session's server (sync.session.Session.server_answers).
        self._probe = probe if probe is not None else session.server_answers
        self.cache = cache
        self.interval_s = interval_s
        self.backoff = backoff or Backoff()
        self.page_rows = page_rows
        self.batch_rows = batch_rows
        self._rand = rand
        self._lock = threading.Lock()  # guards status and listeners
        self._listeners: list[Listener] = []
        self._started = False
        self._prober: threading.Thread | None = None
        self._stop_probing = threading.Event()
        self._full_pass_due = True  # the first round after start re-reads everything
        self._score_polls = 0  # rounds in a row that found attempts waiting for their score
        pending, rejected = cache.sync_counts()
        self._status = SyncStatus(Phase.IDLE, pending=pending, rejected=rejected)

    # For the UI -----------------------------------------------------------------------------
    @property
    def status(self) -> SyncStatus:
        with self._lock:
            return self._status

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(status)` on every change (on the changing thread); returns unsubscribe."""
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def start(self) -> None:
        """Sync in the background on the owner: a round now, then as the last one says."""
        if self._started:
            return
        self._started = True
        self.owner.set_background(self._step)

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the round in progress (its work is committed page by page) and stop."""
        self._started = False
        self.owner.set_background(None)
        self._stop_probing.set()
        if not self.owner.is_current():
            # Queued behind the round in progress, so it returns once that has finished.
            self.owner.submit(lambda: None, between_rounds=True).result(timeout)
        self._update(phase=Phase.STOPPED)

    def sync_now(self) -> None:
        """Start a round as soon as possible, even while backing off; returns at once."""
        self.owner.poke()

    def wake(self) -> None:
        """The network (or server) may be back: retry now if the last round failed to reach it.
        Cheap and safe from any thread; a no-op while rounds work."""
        if self.status.phase in (Phase.OFFLINE, Phase.ERROR):
            log.info("woken: retrying sync now")
            self.owner.poke()

    def sync_now_and_wait(self, timeout: float | None = None) -> SyncStatus:
        """A round that starts after this call, finished (run here when not started, or when
        called on the owner thread)."""
        if not self._started or self.owner.is_current():
            return self.run_once()
        future = self.owner.submit(self.run_once, between_rounds=True)
        try:
            return future.result(timeout)
        except TimeoutError:
            return self.status

    def switch_org(self, org_id: str) -> Identity:
        """Switch the session's org between rounds (a pull must never see the org change under
        it: its cursors are per org), then sync the new org."""
        identity = self._between_rounds(lambda: self.session.switch_org(org_id))
        self.sync_now()
        return identity

    def sign_out(self, *, discard_unsynced: bool = False) -> None:
        """Stop syncing, end the session and delete this user's cache (UnsyncedWorkError while
        changes are unsent, unless `discard_unsynced`)."""
        pending, rejected = self._between_rounds(self.cache.sync_counts)
        if (pending or rejected) and not discard_unsynced:
            raise UnsyncedWorkError(pending, rejected)
        self.stop()
        self._between_rounds(lambda: self.session.sign_out(self.cache, discard_unsynced=True))

    def refresh_counts(self) -> SyncStatus:
        """Re-read pending/rejected counts after a local write (the UI calls it after saving)."""
        pending, rejected = self.cache.sync_counts()
        return self._update(pending=pending, rejected=rejected)

    def _between_rounds(self, fn: Callable[[], T]) -> T:
        """`fn` on the owner between rounds once started; here otherwise (see the docstring)."""
        if self._started:
            return self.owner.call(fn, between_rounds=True)
        return fn()

    # A round --------------------------------------------------------------------------------
    def run_once(self, *, full: bool | None = None) -> SyncStatus:
        """One push + pull round, synchronously; never raises for sync failures."""
        return self._round(self._full_pass_due if full is None else full)

    def _round(self, full: bool) -> SyncStatus:
        self._update(phase=Phase.SYNCING)
        try:
            identity = self.session.ensure_fresh()
            self._check_identity(identity)
            between = self._yield_point()
            pushed = self._with_fresh_token(
                lambda org: push(
                    self.session.client,
                    self.cache,
                    org,
                    batch_rows=self.batch_rows,
                    between=between,
                )
            )
            pulled = self._with_fresh_token(
                lambda org: pull(
                    self.session.client,
                    self.cache,
                    org,
                    page_rows=self.page_rows,
                    full=full,
                    on_page=None if between is None else lambda _table, _rows: between(),
                )
            )
        except NotSignedInError as error:
            return self._failed(Phase.SIGNED_OUT, error, online=True, retry=False)
        except OfflineError as error:
            return self._failed(Phase.OFFLINE, error, online=False)
        except SyncError as error:
            return self._failed(Phase.ERROR, error, online=True)
        self._full_pass_due = False
        pending, rejected = self.cache.sync_counts()
        delay = self._next_round_delay(identity, pushed)
        log.info(
            "sync round done",
            pushed=pushed.rows,
            files=pushed.files,
            refused=pushed.rejected,
            pulled=pulled.total,
            deleted=pulled.deleted,
        )
        return self._update(
            phase=Phase.IDLE,
            online=True,
            pending=pending,
            rejected=rejected,
            last_sync_at=now(),
            last_error=None,
            failures=0,
            retry_delay_s=None,
            next_attempt_at=now() + timedelta(seconds=delay),
            last_push=pushed,
            last_pull=pulled,
        )

    def _next_round_delay(self, identity: Identity, pushed: PushResult) -> float:
        """`interval_s`, or sooner while the server is still scoring attempts held here."""
        if pushed.rows:
            self._score_polls = 0  # new uploads: look for their scores promptly again
        if not self.cache.awaiting_scores(str(identity.org_id)):
            self._score_polls = 0
            return self.interval_s
        delay = min(self.interval_s, SCORE_POLL_S * 2 ** min(self._score_polls, 30))
        self._score_polls += 1
        return delay

    def _check_identity(self, identity: Identity) -> None:
        if identity.user_id != self.cache.user_id:
            raise NotSignedInError("the session is for another user than this cache: sign in again")
        if identity.org_id is None:
            raise SyncError("this account is not a member of any organisation yet")

    def _with_fresh_token(self, step: Callable[[str], T]) -> T:
        identity = self.session.require_identity()
        try:
            return step(str(identity.org_id))
        except SessionExpiredError:
            log.info("access token refused mid-sync", next_step="refresh")
            identity = self.session.refresh()
            self._check_identity(identity)
            return step(str(identity.org_id))

    def _failed(
        self, phase: Phase, error: SyncError, *, online: bool, retry: bool = True
    ) -> SyncStatus:
        failures = self.status.failures + 1
        delay = self.backoff.delay(failures, self._rand) if retry else None
        pending, rejected = self.cache.sync_counts()
        log.info("sync round failed", phase=phase.value, failures=failures, reason=str(error))
        return self._update(
            phase=phase,
            online=online,
            pending=pending,
            rejected=rejected,
            last_error=str(error),
            failures=failures,
            retry_delay_s=delay,
            next_attempt_at=now() + timedelta(seconds=delay) if delay is not None else None,
        )

    def _yield_point(self) -> Callable[[], None] | None:
        """On the owner: let its waiting jobs run between a round's pages and batches."""
        return self.owner.run_pending if self.owner.is_current() else None

    # In the background, on the owner ------------------------------------------------------------
    def _step(self) -> float | None:
        """One round; returns the seconds until the next (None: only when poked)."""
        self._stop_probing.set()
        status = self.run_once()
        if status.phase is Phase.SIGNED_OUT:
            return None  # nothing to do until someone signs in again
        if status.phase is Phase.OFFLINE:
            self._probe_until_answered()
        if status.failures:
            return status.retry_delay_s
        if status.next_attempt_at is not None:
            return max(0.0, (status.next_attempt_at - now()).total_seconds())
        return self.interval_s

    def _probe_until_answered(self) -> None:
        """Offline: ask the server every PROBE_S, off the owner, and poke it once it answers
        (the backoff's own retry comes anyway)."""
        self._stop_probing = stop = threading.Event()

        def probe() -> None:
            while not stop.wait(PROBE_S):
                if self._server_answers():
                    log.info("the server answers again: retrying sync now")
                    self.owner.poke()
                    return

        self._prober = threading.Thread(target=probe, name="coachdesk-sync-probe", daemon=True)
        self._prober.start()

    def _server_answers(self) -> bool:
        try:
            return self._probe()
        except Exception:  # a probe's bug must not stop sync; the backoff still retries
            log.exception("sync probe failed")
            return False

    def _update(self, **changes: object) -> SyncStatus:
        with self._lock:
            self._status = replace(self._status, **changes)  # type: ignore[arg-type]
            status, listeners = self._status, list(self._listeners)
        for listener in listeners:
            try:
                listener(status)
            except Exception:  # a listener's bug must not stop sync
                log.exception("sync status listener failed")
        return status
