"""Days offline, then back: a closed port, then the real server; a second device; other orgs."""

from __future__ import annotations

import time

from stack_fixtures import wait_for_scoring
from sync_support import DEMO_ORG, GLOBEX_ORG, new_attempt_args

from sync.cache import AttemptSyncState, NewAttempt
from sync.engine import Backoff, Phase


def test_work_recorded_offline_goes_up_when_the_server_is_back(
    sign_in, make_session, engine_for, proxy, proxied, keyring_backend, recording, db, tmp_path
):
    data = tmp_path / "laptop"
    first_run = engine_for(sign_in("trainee", config=proxied, backend=keyring_backend), data)
    first_run.run_once()
    first_run.cache.close()

    proxy.stop()  # the train leaves the station
    session = make_session(config=proxied)
    assert session.restore() is not None
    engine = engine_for(session, data)
    recorded = [
        engine.cache.record_attempt(NewAttempt(**new_attempt_args(recording=recording())))
        for _ in range(3)
    ]
    for _ in range(3):
        status = engine.run_once()
        assert status.phase is Phase.OFFLINE and status.online is False
    assert status.pending == 3 and status.failures == 3
    assert all(engine.cache.attempt(r.id).sync_state is AttemptSyncState.PENDING for r in recorded)

    proxy.start()  # back online
    back = engine.run_once()
    assert back.phase is Phase.IDLE and back.online is True, back.last_error
    assert back.pending == 0
    wait_for_scoring(db)
    engine.run_once()  # the scores, made just after the upload
    ids = [r.id for r in recorded]
    on_server = db.execute(
        "select id::text, status from scenario_attempts where id::text = any(%s)", (ids,)
    ).fetchall()
    assert sorted(on_server) == sorted((i, "scored") for i in ids)
    assert all(engine.cache.attempt(i).sync_state is AttemptSyncState.SCORED for i in ids)


def test_a_second_device_of_the_same_user_sees_the_first_ones_work(
    sign_in, engine_for, tmp_path, db
):
    laptop = engine_for(sign_in("trainee"), tmp_path / "laptop")
    desktop = engine_for(sign_in("trainee"), tmp_path / "desktop")
    assert laptop.cache.device_id != desktop.cache.device_id
    laptop.run_once()
    desktop.run_once()

    from_laptop = laptop.cache.record_attempt(
        NewAttempt(**new_attempt_args(), provisional_breakdown={"score": 3, "passed": False})
    )
    from_desktop = desktop.cache.record_attempt(NewAttempt(**new_attempt_args()))
    # Both push at the same time-ish, then each pulls the other's.
    laptop.run_once()
    desktop.run_once()
    wait_for_scoring(db)
    laptop.run_once()
    desktop.run_once()

    for engine in (laptop, desktop):
        for attempt_id in (from_laptop.id, from_desktop.id):
            local = engine.cache.attempt(attempt_id)
            assert local is not None and local.sync_state is AttemptSyncState.SCORED
            server = db.execute(
                "select score, device_id from scenario_attempts where id = %s", (attempt_id,)
            ).fetchone()
            assert local.score == server[0]
    devices = dict(
        db.execute(
            "select id::text, device_id from scenario_attempts where id::text = any(%s)",
            ([from_laptop.id, from_desktop.id],),
        ).fetchall()
    )
    assert devices == {
        from_laptop.id: laptop.cache.device_id,
        from_desktop.id: desktop.cache.device_id,
    }
    # The provisional score the laptop computed is gone there too: the server's replaced it.
    assert not laptop.cache.attempt(from_laptop.id).provisional


def test_an_org_never_reaches_another_orgs_cache_and_cannot_write_into_it(sign_in, engine_for, db):
    globex = engine_for(sign_in("globex_trainee"))
    assert globex.run_once().phase is Phase.IDLE
    for table in ("scenarios", "assignments", "scenario_attempts", "org_members", "teams"):
        orgs = {row[0] for row in globex.cache.db.execute(f"select org_id from {table}").fetchall()}
        assert orgs <= {GLOBEX_ORG}, table
    demo_rows = db.execute(
        "select count(*) from scenarios where org_id = %s", (DEMO_ORG,)
    ).fetchone()[0]
    assert demo_rows > 0

    # A tampered client sends an attempt and its files into the demo org: the storage policies
    # refuse the files, the row is held back, and the change is parked here, not lost.
    args = new_attempt_args("globex_trainee", org_id=DEMO_ORG)
    globex.cache.record_attempt(NewAttempt(**args))
    with globex.cache.atomic() as local:
        local.execute("update outbox set org_id = ?", [GLOBEX_ORG])
        local.execute("update uploads set org_id = ?", [GLOBEX_ORG])
    status = globex.run_once()
    assert status.rejected == 1 and status.last_push.files_refused == 2
    [refused] = globex.cache.rejected_changes()
    # The client itself holds the row back (its org is not the entry's: sync/push.py); the
    # server refuses such a row too (tests/db/test_attacks.py, tests/stack/test_rest.py).
    assert refused.error_code == "wrong-org"
    assert (
        db.execute("select 1 from scenario_attempts where id = %s", (args["id"],)).fetchone()
        is None
    )
    assert db.execute(
        "select count(*) from storage.objects where name like %s", (f"%{args['id']}%",)
    ).fetchone() == (0,)


def _wait_for(check, timeout: float = 60.0, what: str = "the engine") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} did not get there within {timeout:.0f} s"
        time.sleep(0.05)


def test_an_offline_engine_syncs_as_soon_as_the_server_answers_again(
    sign_in, owned_engine_for, proxy, proxied, recording
):
    # A backoff far longer than the test: only the engine's own probe can bring it back.
    engine = owned_engine_for(sign_in("trainee", config=proxied), backoff=Backoff(600, 600))
    proxy.stop()
    new = NewAttempt(**new_attempt_args(recording=recording()))
    engine.owner.call(lambda: engine.cache.record_attempt(new))
    engine.start()
    try:
        _wait_for(lambda: engine.status.phase is Phase.OFFLINE)
        proxy.start()  # the server is back; nobody presses "Sync now"
        _wait_for(lambda: engine.status.phase is Phase.IDLE and engine.status.pending == 0)
    finally:
        engine.stop()


def test_wake_retries_at_once_after_the_network_comes_back(
    sign_in, owned_engine_for, proxy, proxied, recording
):
    # No probe and a long backoff: the OS saying "online" (ui/main_window) is what wakes it.
    engine = owned_engine_for(
        sign_in("trainee", config=proxied), backoff=Backoff(600, 600), probe=lambda: False
    )
    proxy.stop()
    new = NewAttempt(**new_attempt_args(recording=recording()))
    engine.owner.call(lambda: engine.cache.record_attempt(new))
    engine.start()
    try:
        _wait_for(lambda: engine.status.phase is Phase.OFFLINE)
        proxy.start()
        engine.wake()
        _wait_for(lambda: engine.status.phase is Phase.IDLE and engine.status.pending == 0)
    finally:
        engine.stop()


def test_the_default_backoff_doubles_from_2_seconds_up_to_30():
    backoff = Backoff()
    ceilings = [backoff.delay(n, rand=lambda: 1.0) for n in range(1, 9)]
    assert ceilings == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    floors = [backoff.delay(n, rand=lambda: 0.0) for n in range(1, 9)]
    assert floors == [1.0, 2.0, 4.0, 8.0, 15.0, 15.0, 15.0, 15.0]
    assert backoff.delay(10**6, rand=lambda: 1.0) == 30.0
