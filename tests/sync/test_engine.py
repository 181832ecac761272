"""The engine as the UI uses it: rounds on the owner thread, "sync now", status and listeners."""

from __future__ import annotations

import threading
import uuid

from stack_fixtures import wait_for_scoring
from sync_support import DEMO_ORG, SCENARIO_COLD_CALL, USER_IDS, new_attempt_args

from sync.cache import NewAttempt, store_server_rows
from sync.engine import Phase


def test_the_owner_syncs_on_request_and_reports_each_change(sign_in, owned_engine_for, db):
    engine = owned_engine_for(sign_in("trainee"), interval_s=3600)
    seen: list[tuple[Phase, str]] = []

    def listener(status) -> None:
        seen.append((status.phase, threading.current_thread().name))

    unsubscribe = engine.subscribe(listener)
    engine.start()
    try:
        first = engine.sync_now_and_wait(timeout=60)
        assert first.phase is Phase.IDLE, first.last_error
        new = NewAttempt(**new_attempt_args())
        engine.owner.call(lambda: engine.cache.record_attempt(new))
        assert engine.owner.call(engine.refresh_counts).pending == 1
        done = engine.sync_now_and_wait(timeout=60)
        assert done.phase is Phase.IDLE and done.pending == 0
        wait_for_scoring(db)
        assert db.execute(
            "select status from scenario_attempts where id = %s", (new.id,)
        ).fetchone() == ("scored",)
    finally:
        engine.stop()
        unsubscribe()
    rounds = [thread for phase, thread in seen if phase is Phase.SYNCING]
    assert len(rounds) >= 2
    assert set(rounds) == {"coachdesk-owner"}, "rounds run on the owner, never the caller"
    assert (Phase.IDLE, "coachdesk-owner") in seen
    assert engine.status.phase is Phase.STOPPED


def test_work_handed_to_the_owner_during_a_round_runs_between_its_pages(sign_in, owned_engine_for):
    """A screen's read waits for one page, not for the whole round (a first, full pull of the
    demo org in pages of 2 rows is dozens of pages)."""
    engine = owned_engine_for(sign_in("trainee"), interval_s=3600, page_rows=2)
    order: list[str] = []
    handed: list[object] = []

    def listener(status) -> None:
        if status.phase is Phase.SYNCING and not handed:  # on the owner, as the round begins
            handed.append(engine.owner.submit(lambda: order.append("read")))
        elif status.phase is Phase.IDLE and handed:
            order.append("round done")

    engine.subscribe(listener)
    engine.start()
    try:
        assert engine.sync_now_and_wait(timeout=60).phase is Phase.IDLE
    finally:
        engine.stop()
    assert order[:2] == ["read", "round done"]


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


def _next_round_in(status) -> float:
    return round((status.next_attempt_at - status.last_sync_at).total_seconds())


def test_rounds_come_sooner_while_an_upload_waits_for_its_server_score(sign_in, engine_for):
    engine = engine_for(sign_in("trainee"), interval_s=60)
    assert _next_round_in(engine.run_once()) == 60
    # What a round may find just after an upload: the server has the attempt, not its score yet
    # (it scores in the background). Stored as a pull stores it.
    waiting = {
        "id": str(uuid.uuid4()),
        "org_id": DEMO_ORG,
        "user_id": USER_IDS["trainee"],
        "scenario_id": SCENARIO_COLD_CALL,
        "started_at": "2026-11-24T10:00:00+00:00",
        "status": "uploaded",
        "sync_xid": 1,
        "transcript_xid": 1,
    }
    with engine.cache.atomic() as db:
        store_server_rows(db, "scenario_attempts", [waiting])
    # 1 s, then twice as long each round it is still waiting, never longer than the interval
    # (a score that never comes, e.g. a rubric the server cannot apply, is not polled for ever).
    assert [_next_round_in(engine.run_once()) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    with engine.cache.atomic() as db:
        store_server_rows(db, "scenario_attempts", [{**waiting, "status": "scored", "score": 80}])
    assert _next_round_in(engine.run_once()) == 60
    # A new upload starts the quick rounds again.
    with engine.cache.atomic() as db:
        store_server_rows(db, "scenario_attempts", [{**waiting, "status": "uploaded"}])
    assert _next_round_in(engine.run_once()) == 1
