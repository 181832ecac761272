"""The owner thread of the cache and session: jobs, their order, the background step, stopping."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from sync.owner import Owner, OwnerStoppedError


@pytest.fixture
def owner() -> Iterator[Owner]:
    owner = Owner("test-owner")
    yield owner
    owner.stop()


def test_call_runs_on_the_owner_and_returns_or_raises_there(owner):
    assert owner.call(lambda: threading.current_thread().name) == "test-owner"

    def fails() -> None:
        raise ValueError("the cache refused it")

    with pytest.raises(ValueError, match="the cache refused it"):
        owner.call(fails)
    assert owner.call(lambda: 42) == 42  # a failed job does not end the owner


def test_a_job_may_call_the_owner_again_without_deadlocking(owner):
    assert owner.call(lambda: owner.call(lambda: owner.is_current())) is True
    assert owner.is_current() is False


def test_jobs_run_in_the_order_they_came(owner):
    gate = threading.Event()
    order: list[int] = []
    owner.submit(gate.wait)  # hold the owner while the others queue up
    futures = [
        owner.submit(lambda i=i: order.append(i), between_rounds=i % 2 == 0) for i in range(6)
    ]
    gate.set()
    for future in futures:
        future.result(10)
    assert order == [0, 1, 2, 3, 4, 5]


def test_inside_the_background_step_only_jobs_that_may_interleave_run(owner):
    """Between a round's pages (run_pending) reads and local writes run; sign-in, sign-out and
    org switches (between_rounds) wait for the round to end."""
    order: list[str] = []
    queued = threading.Event()
    release = threading.Event()

    def step() -> float | None:
        order.append("step begins")
        queued.wait(10)
        owner.run_pending()
        order.append("step ends")
        release.set()
        return None

    owner.set_background(step)
    queue_them = threading.Thread(
        target=lambda: (
            owner.submit(lambda: order.append("switch org"), between_rounds=True),
            owner.submit(lambda: order.append("read")),
            queued.set(),
        )
    )
    # The step must be running before the jobs come, or they would simply run first.
    for _ in range(1000):
        if order:
            break
        threading.Event().wait(0.01)
    queue_them.start()
    queue_them.join()
    assert release.wait(10)
    owner.call(lambda: None)
    assert order == ["step begins", "read", "step ends", "switch org"]


def test_the_background_step_runs_as_often_as_it_asks_and_when_poked(owner):
    runs: list[int] = []
    second, third = threading.Event(), threading.Event()

    def step() -> float | None:
        runs.append(len(runs))
        {2: second, 3: third}.get(len(runs), threading.Event()).set()
        return None if len(runs) >= 2 else 0.01  # then only when poked

    owner.set_background(step)
    assert second.wait(10)
    assert not third.wait(0.3), "a step that asked for no next run ran again unpoked"
    owner.poke()
    assert third.wait(10)
    assert len(runs) == 3


def test_a_failing_step_does_not_end_the_owner(owner):
    def step() -> float | None:
        raise RuntimeError("a bug in a round")

    owner.set_background(step)
    assert owner.call(lambda: "still here") == "still here"


def test_stop_finishes_queued_jobs_refuses_work_while_stopping_and_can_start_again():
    owner = Owner("test-owner")
    gate = threading.Event()
    done: list[str] = []
    first = owner.call(threading.get_ident)
    owner.submit(gate.wait)
    last = owner.submit(lambda: done.append("queued before stop"))
    stopper = threading.Thread(target=owner.stop)
    stopper.start()
    for _ in range(1000):  # until stop() has begun
        try:
            owner.submit(lambda: None)  # taken: stop() has not begun yet (runs before stopping)
        except OwnerStoppedError:
            break
        threading.Event().wait(0.01)
    else:
        pytest.fail("work was still taken while the owner stopped")
    gate.set()
    stopper.join(10)
    assert last.result(10) is None and done == ["queued before stop"]
    # Stopped: the next work starts a new thread.
    assert owner.call(threading.get_ident) not in (None, threading.get_ident())
    assert first is not None
    owner.stop()
