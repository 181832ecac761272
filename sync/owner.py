"""The one thread that owns a user's cache and session; every other caller goes through it.

After Anki's collection (one owner, operations queued to it) and Buzz's single queue worker: the
SQLite cache and the supabase session are only ever used on the owner thread, so neither needs
locks, per-thread connections or a deferred close. Other threads hand it work:

- `call(fn)` runs `fn` there and returns its result (or raises its exception) to the caller;
  called on the owner thread itself it just runs `fn` (a job may use other jobs' methods).
- `submit(fn)` returns a Future at once.
- `between_rounds=True` marks work that must not run inside the background's long step (the sync
  engine's round): signing in or out, switching org, another round. Other jobs (reads, local
  writes, live reports) also run *inside* a round, between its pages, when the round calls
  `run_pending()`, so a screen waits for at most one server request, not a whole round.
- `background` is one step run on the owner when it is due (the sync engine's round): it
  returns how many seconds until it is due again (None: only when `poke()`d).

The owner knows nothing of sync, Qt or the UI; `on_start` runs first on the thread (the app
lowers its scheduling priority there, so it yields to the GUI thread).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog

log = structlog.get_logger(__name__)

T = TypeVar("T")

Background = Callable[[], float | None]


class OwnerStoppedError(RuntimeError):
    """Work handed to an owner while it stops (the app is closing)."""


@dataclass
class _Job:
    fn: Callable[[], Any]
    between_rounds: bool
    future: Future[Any] = field(default_factory=Future)

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.fn()
        except BaseException as error:  # handed to the caller, who decides
            self.future.set_exception(error)
        else:
            self.future.set_result(result)


class Owner:
    """A thread with a job queue and an optional periodic background step."""

    def __init__(self, name: str = "coachdesk-owner", on_start: Callable[[], None] | None = None):
        self.name = name
        self._on_start = on_start
        self._wakeup = threading.Condition()
        self._jobs: deque[_Job] = deque()  # in the order they came
        self._background: Background | None = None
        self._background_due: float | None = None  # monotonic; None: only when poked
        self._in_background = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._ident: int | None = None

    # For other threads ----------------------------------------------------------------------
    def call(self, fn: Callable[[], T], *, between_rounds: bool = False) -> T:
        """Run `fn` on the owner thread and return what it returns (raise what it raises)."""
        if self.is_current():
            return fn()
        return self.submit(fn, between_rounds=between_rounds).result()

    def submit(self, fn: Callable[[], T], *, between_rounds: bool = False) -> Future[T]:
        job = _Job(fn, between_rounds)
        with self._wakeup:
            if self._stopping:
                raise OwnerStoppedError(f"{self.name} has stopped")
            self._jobs.append(job)
            self._ensure_thread()
            self._wakeup.notify_all()
        return job.future

    def set_background(self, step: Background | None, *, due_in_s: float | None = 0.0) -> None:
        """Run `step` on the owner after `due_in_s` seconds, then as often as it asks; None
        removes it (a step in progress finishes first: `call(..., between_rounds=True)` after
        this returns once it has)."""
        with self._wakeup:
            self._background = step
            self._background_due = (
                None if step is None or due_in_s is None else (time.monotonic() + due_in_s)
            )
            if step is not None:
                self._ensure_thread()
            self._wakeup.notify_all()

    def poke(self) -> None:
        """Make the background step due now (any thread; a no-op without one)."""
        with self._wakeup:
            if self._background is not None:
                self._background_due = time.monotonic()
                self._wakeup.notify_all()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Finish the job or step in progress and the jobs already queued, then end the thread
        (work handed over while it ends is refused: OwnerStoppedError)."""
        with self._wakeup:
            self._stopping = True
            self._background = None
            self._wakeup.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def is_current(self) -> bool:
        return self._ident == threading.get_ident()

    # For the background step, on the owner thread --------------------------------------------
    def run_pending(self) -> None:
        """Run the jobs that may interleave with the background step (its yield point)."""
        if not self.is_current():
            raise RuntimeError("run_pending() is for the owner thread only")
        while True:
            with self._wakeup:
                job = next((j for j in self._jobs if not j.between_rounds), None)
                if job is None:
                    return
                self._jobs.remove(job)
            job.run()

    # The thread -------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        self._ident = threading.get_ident()
        if self._on_start is not None:
            self._on_start()
        while (work := self._next()) is not None:
            work()

    def _next(self) -> Callable[[], None] | None:
        """The next job, or the background step when it is due; None once stopped and drained."""
        with self._wakeup:
            while True:
                if self._jobs:
                    return self._jobs.popleft().run
                if self._stopping:
                    # Ended: work handed over from now on starts a new thread (an app that
                    # closed its backend and signs out of it, as tests do).
                    self._thread, self._ident, self._stopping = None, None, False
                    return None
                wait = self._background_wait()
                if wait is not None and wait <= 0:
                    self._background_due = None
                    return self._step
                self._wakeup.wait(wait)

    def _background_wait(self) -> float | None:
        if self._background is None or self._background_due is None:
            return None
        return self._background_due - time.monotonic()

    def _step(self) -> None:
        step = self._background
        if step is None:
            return
        try:
            again_in = step()
        except Exception:  # a step's bug must not end the owner: the next poke tries again
            log.exception("background step failed", owner=self.name)
            again_in = None
        with self._wakeup:
            # Poked while it ran (sync now, network back): due at once, whatever it said.
            if self._background is step and self._background_due is None:
                self._background_due = None if again_in is None else time.monotonic() + again_in
