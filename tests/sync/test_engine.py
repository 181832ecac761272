"""The engine as the UI uses it: a worker thread, "sync now", status and listeners."""

from __future__ import annotations

import threading

from sync_support import new_attempt_args

from sync.cache import NewAttempt
from sync.engine import Phase


def test_the_worker_syncs_on_request_and_reports_each_change(sign_in, engine_for, db):
    engine = engine_for(sign_in("trainee"), interval_s=3600)
    seen: list[tuple[Phase, str]] = []

    def listener(status) -> None:
        seen.append((status.phase, threading.current_thread().name))

    unsubscribe = engine.subscribe(listener)
    engine.start()
    try:
        first = engine.sync_now_and_wait(timeout=60)
        assert first.phase is Phase.IDLE, first.last_error
        new = NewAttempt(**new_attempt_args())
        engine.cache.record_attempt(new)
        assert engine.refresh_counts().pending == 1
        done = engine.sync_now_and_wait(timeout=60)
        assert done.phase is Phase.IDLE and done.pending == 0
        assert db.execute(
            "select status from scenario_attempts where id = %s", (new.id,)
        ).fetchone() == ("scored",)
    finally:
        engine.stop()
        unsubscribe()
    rounds = [thread for phase, thread in seen if phase is Phase.SYNCING]
    assert len(rounds) >= 2
    assert set(rounds) == {"coachdesk-sync"}, "rounds run on the worker, never the caller"
    assert (Phase.IDLE, "coachdesk-sync") in seen
    assert engine.status.phase is Phase.STOPPED


def test_without_a_worker_sync_now_and_wait_runs_here(sign_in, engine_for):
    engine = engine_for(sign_in("trainee"))
    assert engine.sync_now_and_wait().phase is Phase.IDLE


def test_a_signed_out_session_stops_the_rounds_until_sign_in(sign_in, engine_for, keyring_backend):
    session = sign_in("trainee", backend=keyring_backend)
    engine = engine_for(session)
    session.sign_out()
    status = engine.run_once()
    assert status.phase is Phase.SIGNED_OUT
    assert status.retry_delay_s is None
