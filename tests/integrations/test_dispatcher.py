"""The webhook dispatcher against a real receiver on 127.0.0.1 and the real outbox in Postgres.

Every request the receiver gets is verified with the reference `standardwebhooks` library.
Retry times are read from the database and then made due by moving `next_attempt_at`, never by
sleeping through the backoff.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from integration_support import (  # noqa: F401 (fixtures)
    Arrange,
    arrange_fixture,
    dispatch_once,
    dispatcher_config,
    hook,
    receiver_fixture,
)

from server.db.cluster import free_port
from server.integrations import start_worker
from server.webhooks.worker import Dispatcher

MAX_ATTEMPTS = 8  # the column default: immediately, then 7 retries


def backoff_bounds(attempt: int) -> tuple[float, float]:
    """The documented schedule: 5 s * 6^(n-1), capped at 10 h, times a jitter in [0.8, 1.2]."""
    base = min(5 * 6 ** (attempt - 1), 36000)
    return base * 0.8, base * 1.2


def test_delivery_is_signed_verified_and_recorded(arrange, receiver, database_dsn):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    [delivery] = arrange.enqueue(org, "member.removed", user_id="u-1")

    assert dispatch_once(database_dsn) >= 1

    [got] = receiver.for_path(endpoint["path"])
    assert got.error is None, got.error
    row = arrange.delivery(delivery)
    assert got.headers["webhook-id"] == str(row["message_id"])
    assert got.headers["content-type"] == "application/json"
    assert got.headers["webhook-signature"].startswith("v1,")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 300
    assert got.payload == {
        "type": "member.removed",
        "timestamp": row["payload"]["timestamp"],
        "data": {"org_id": org, "user_id": "u-1"},
    }
    assert row["state"] == "succeeded"
    assert row["attempt_count"] == 1
    assert row["response_status"] == 200
    assert row["response_body"] == "answered 200"
    assert row["last_error"] is None
    assert row["duration_ms"] >= 0
    assert row["locked_at"] is None


def test_database_events_reach_the_receiver(arrange, receiver, database_dsn):
    """member.added is raised by a trigger on org_members, not by the application."""
    org = arrange.org()
    endpoint = hook(arrange, receiver, org, events=("member.added",))
    user = arrange.member(org, role="manager", name="Mia")

    dispatch_once(database_dsn)

    [got] = receiver.for_path(endpoint["path"])
    assert got.error is None
    assert got.payload["type"] == "member.added"
    assert got.payload["data"]["user_id"] == user
    assert got.payload["data"]["role"] == "manager"


def test_rotation_signs_with_both_secrets(arrange, receiver, database_dsn):
    """During a rotation a receiver still on the old secret keeps verifying."""
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    fresh = arrange.one("select rotate_webhook_secret(%s) as s", (endpoint["id"],))["s"]
    arrange.enqueue(org)

    dispatch_once(database_dsn)

    [got] = receiver.for_path(endpoint["path"])  # registered with the OLD secret
    assert got.error is None
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    receiver.secrets[endpoint["path"]] = [fresh]
    assert receiver.handle(endpoint["path"], got.headers, got.body)[0] == 200
    assert receiver.received[-1].error is None


@pytest.mark.parametrize("failure", ["answers 500", "is down", "is too slow"])
def test_failures_retry_on_schedule_then_dead_letter(arrange, receiver, database_dsn, failure):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    if failure == "answers 500":
        receiver.status = 500
    elif failure == "is too slow":
        receiver.delay_s = 1.5
    else:
        dead_url = f"http://127.0.0.1:{free_port()}/nobody-listens"
        arrange.conn.execute(
            "update webhooks set url = %s where id = %s", (dead_url, endpoint["id"])
        )
    [delivery] = arrange.enqueue(org)

    for attempt in range(1, MAX_ATTEMPTS + 1):
        dispatch_once(database_dsn, timeout_s=0.5)
        row = arrange.delivery(delivery)
        assert row["attempt_count"] == attempt
        if attempt < MAX_ATTEMPTS:
            assert row["state"] == "failed"
            low, high = backoff_bounds(attempt)
            assert low <= row["delay_s"] <= high, (attempt, row["delay_s"])
            # Not due yet: another pass must not touch it.
            dispatch_once(database_dsn, timeout_s=0.5)
            assert arrange.delivery(delivery)["attempt_count"] == attempt
            arrange.make_due(delivery)

    row = arrange.delivery(delivery)
    assert row["state"] == "dead"
    assert row["next_attempt_at"] is None
    if failure == "answers 500":
        assert row["response_status"] == 500
        assert row["last_error"] == "HTTP 500"
        assert row["response_body"] == "answered 500"
    elif failure == "is too slow":
        assert row["response_status"] is None
        assert row["last_error"] == "no response within 0.5 s"
    else:
        assert row["response_status"] is None
        assert row["last_error"].startswith("ConnectError")
    got = receiver.for_path(endpoint["path"])
    expected = 0 if failure == "is down" else MAX_ATTEMPTS
    assert len(got) == expected
    assert all(r.error is None for r in got)
    # Dead is final: nothing claims it again.
    dispatch_once(database_dsn, timeout_s=0.5)
    assert arrange.delivery(delivery)["attempt_count"] == MAX_ATTEMPTS


def test_a_retry_that_succeeds(arrange, receiver, database_dsn):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    [delivery] = arrange.enqueue(org)
    receiver.status = 503
    dispatch_once(database_dsn)
    assert arrange.delivery(delivery)["state"] == "failed"

    receiver.status = 204
    arrange.make_due(delivery)
    dispatch_once(database_dsn)

    row = arrange.delivery(delivery)
    assert (row["state"], row["attempt_count"], row["response_status"]) == ("succeeded", 2, 204)
    first, second = receiver.for_path(endpoint["path"])
    # Same message id on every try: the receiver can deduplicate.
    assert first.headers["webhook-id"] == second.headers["webhook-id"]


def test_redirects_are_not_followed(arrange, receiver, database_dsn):
    org = arrange.org()
    hook(arrange, receiver, org)
    [delivery] = arrange.enqueue(org)
    receiver.status = 307
    dispatch_once(database_dsn)
    row = arrange.delivery(delivery)
    assert (row["state"], row["response_status"], row["last_error"]) == ("failed", 307, "HTTP 307")


def test_manual_redelivery_sends_the_same_message_again(arrange, receiver, database_dsn):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    [original] = arrange.enqueue(org)
    dispatch_once(database_dsn)
    before = arrange.delivery(original)

    copy = arrange.one("select redeliver_webhook(%s)::text as id", (original,))["id"]
    dispatch_once(database_dsn)

    first, second = receiver.for_path(endpoint["path"])
    assert second.error is None
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert second.payload == first.payload
    redelivered = arrange.delivery(copy)
    assert redelivered["state"] == "succeeded"
    assert str(redelivered["redelivery_of"]) == original
    after = arrange.delivery(original)
    assert (after["state"], after["attempt_count"]) == (before["state"], before["attempt_count"])


def test_private_targets_are_refused_outside_local_mode(arrange, receiver, database_dsn):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    [delivery] = arrange.enqueue(org)

    dispatch_once(database_dsn, allow_private_targets=False)

    row = arrange.delivery(delivery)
    assert row["state"] == "failed"
    assert row["response_status"] is None
    assert row["last_error"] == (
        "refused: 127.0.0.1 resolves to 127.0.0.1 is a loopback address;"
        " private targets are allowed only in local mode"
    )
    assert receiver.for_path(endpoint["path"]) == []


def test_reaper_takes_back_what_a_dead_worker_held(arrange, receiver, database_dsn):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    [delivery] = arrange.enqueue(org)
    # A worker claimed it and died: running, locked long ago.
    arrange.conn.execute(
        "update webhook_deliveries set status = 'running', attempt_count = 1,"
        " locked_by = 'crashed', locked_at = now() - interval '1 hour', next_attempt_at = null"
        " where id = %s",
        (delivery,),
    )

    async def reap() -> int:
        async with Dispatcher(dispatcher_config(database_dsn)) as dispatcher:
            return await dispatcher.reap()

    assert asyncio.run(reap()) >= 1
    row = arrange.delivery(delivery)
    assert row["state"] == "failed"
    assert "worker crashed reported no result" in row["last_error"]
    arrange.make_due(delivery)
    dispatch_once(database_dsn)
    assert arrange.delivery(delivery)["state"] == "succeeded"
    assert len(receiver.for_path(endpoint["path"])) == 1


def _run_worker(dsn: str, stop: threading.Event, name: str) -> None:
    async def main() -> None:
        stop_async = asyncio.Event()
        loop = asyncio.get_running_loop()
        threading.Thread(
            target=lambda: (stop.wait(), loop.call_soon_threadsafe(stop_async.set)), daemon=True
        ).start()
        config = dispatcher_config(
            dsn, worker_id=name, concurrency=8, batch_size=8, poll_interval_s=0.05
        )
        async with Dispatcher(config) as dispatcher:
            await dispatcher.run(stop_async)

    asyncio.run(main())


def test_two_workers_deliver_each_message_exactly_once(arrange, receiver, database_dsn):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    receiver.delay_s = 0.005  # long enough that both workers get a share
    deliveries = [d for n in range(300) for d in arrange.enqueue(org, n=n)]
    stop = threading.Event()
    workers = [
        threading.Thread(target=_run_worker, args=(database_dsn, stop, f"worker-{i}"))
        for i in (1, 2)
    ]
    for worker in workers:
        worker.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done = arrange.one(
                "select count(*) filter (where status = 'succeeded') as n"
                " from webhook_deliveries where id = any(%s::uuid[])",
                (deliveries,),
            )["n"]
            if done == len(deliveries):
                break
            time.sleep(0.1)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)

    got = receiver.for_path(endpoint["path"])
    ids = [r.headers["webhook-id"] for r in got]
    assert len(ids) == len(deliveries)
    assert len(set(ids)) == len(deliveries)
    assert all(r.error is None for r in got)
    by_worker = arrange.conn.execute(
        "select locked_by, count(*) as n, max(attempt_count) as tries from webhook_deliveries"
        " where id = any(%s::uuid[]) group by locked_by",
        (deliveries,),
    ).fetchall()
    assert {r["locked_by"] for r in by_worker} == {"worker-1", "worker-2"}
    assert all(r["tries"] == 1 for r in by_worker)


def test_stopping_the_worker_finishes_requests_in_flight(arrange, receiver, database_dsn):
    org = arrange.org()
    hook(arrange, receiver, org)
    receiver.delay_s = 1.0
    [delivery] = arrange.enqueue(org)
    worker = start_worker(database_dsn, allow_private_targets=True, poll_interval_s=0.05)
    try:
        assert receiver.arrived.wait(timeout=30)
    finally:
        worker.stop()  # while the receiver is still sleeping on our request
    row = arrange.delivery(delivery)
    assert row["state"] == "succeeded"
    assert row["duration_ms"] >= 900


def test_the_worker_survives_losing_its_database_connection(arrange, receiver, database_dsn):
    org = arrange.org()
    endpoint = hook(arrange, receiver, org)
    worker = start_worker(
        database_dsn, allow_private_targets=True, poll_interval_s=0.05, worker_id="survivor"
    )
    try:
        [first] = arrange.enqueue(org)
        wait_for(lambda: arrange.delivery(first)["state"] == "succeeded")
        killed = arrange.one(
            "select count(pg_terminate_backend(pid)) as n from pg_stat_activity"
            " where application_name = 'coachdesk-webhooks survivor'"
        )["n"]
        assert killed == 1
        [second] = arrange.enqueue(org)
        wait_for(lambda: arrange.delivery(second)["state"] == "succeeded")
    finally:
        worker.stop()
    assert len(receiver.for_path(endpoint["path"])) == 2


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_sigterm_drains_the_worker_process(arrange, receiver, database_dsn):
    """`coachdesk worker` as a process: SIGTERM while a request is in flight records it, then
    exits 0."""
    org = arrange.org()
    hook(arrange, receiver, org)
    receiver.delay_s = 1.0
    [delivery] = arrange.enqueue(org)
    code = (
        "import sys; from server.integrations import serve_worker;"
        " sys.exit(serve_worker(sys.argv[1], allow_private_targets=True, poll_interval_s=0.05))"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", code, database_dsn],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert receiver.arrived.wait(timeout=60)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert arrange.delivery(delivery)["state"] == "succeeded"
