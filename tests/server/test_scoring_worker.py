"""The scoring queue's consumer (server/scoring.py) against a real database of its own.

Uploads commit here (the worker only sees committed queue rows), so the tests use a database
created for this module, beside the session's, with no stack (and so no other worker) on it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from app.transcript import load_sample_transcript
from server.db.testing import database_beside
from server.integrations import start_worker
from server.scoring import ScoringWorker, score_queued

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
COLD_CALL = "f0000000-0000-4000-8000-000000000001"
TRANSCRIPT = load_sample_transcript()
PATIENCE_S = 60.0  # how long a test waits for something that normally takes milliseconds


@pytest.fixture(scope="module")
def scoring_dsn(database_dsn: str) -> Iterator[str]:
    with database_beside(
        database_dsn, f"{conninfo_to_dict(database_dsn)['dbname']}_scoring"
    ) as dsn:
        yield dsn


def upload(dsn: str, count: int = 1) -> list[str]:
    """`count` committed uploads with a transcript, as a trainee's push leaves them."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with psycopg.connect(dsn, autocommit=True) as conn, conn.transaction():
        for attempt_id in ids:
            conn.execute(
                "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at,"
                " transcript, status) values (%s, %s, %s, %s, now(), %s, 'uploaded')",
                (attempt_id, DEMO_ORG, TRAINEE, COLD_CALL, json.dumps(TRANSCRIPT)),
            )
    return ids


def statuses(dsn: str, ids: list[str]) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(
            "select status::text from scenario_attempts where id = any(%s::uuid[])", (ids,)
        ).fetchall()
    return [row[0] for row in rows]


async def eventually(check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not await asyncio.to_thread(check):
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not get there")
        await asyncio.sleep(0.02)


def with_worker(dsn: str, body: Callable[[ScoringWorker], Awaitable[None]]) -> None:
    """Run `body(worker)` while a worker that never polls (notifications only) runs."""

    async def main() -> None:
        worker = ScoringWorker(dsn, poll_interval_s=3600)
        worker.start()
        try:
            await body(worker)
        finally:
            await worker.stop()

    asyncio.run(main())


def all_scored(dsn: str, ids: list[str]) -> Callable[[], bool]:
    return lambda: statuses(dsn, ids) == ["scored"] * len(ids)


def test_the_worker_scores_what_was_queued_before_it_started_and_each_new_upload(scoring_dsn):
    before = upload(scoring_dsn, 3)
    assert statuses(scoring_dsn, before) == ["uploaded"] * 3

    async def body(worker: ScoringWorker) -> None:
        await eventually(all_scored(scoring_dsn, before))  # drained on connecting
        # It never polls: only the upload's notification can wake it for these.
        later = await asyncio.to_thread(upload, scoring_dsn, 2)
        await eventually(all_scored(scoring_dsn, later))
        assert worker.scored == 5

    with_worker(scoring_dsn, body)


def test_the_worker_reconnects_when_its_connection_is_killed(scoring_dsn):
    def kill_worker_connection() -> int:
        with psycopg.connect(scoring_dsn, autocommit=True) as conn:
            return conn.execute(
                "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                " where application_name = 'coachdesk-scoring' and datname = current_database()"
            ).fetchone()[0]

    async def body(worker: ScoringWorker) -> None:
        first = await asyncio.to_thread(upload, scoring_dsn)
        await eventually(all_scored(scoring_dsn, first))
        assert await asyncio.to_thread(kill_worker_connection) == 1
        # Uploaded while it is away: taken when it is back (it drains on connecting).
        second = await asyncio.to_thread(upload, scoring_dsn)
        await eventually(all_scored(scoring_dsn, second))

    with_worker(scoring_dsn, body)


def test_drainers_running_at_once_take_each_queued_attempt_once(scoring_dsn):
    """The stack's worker and pg_cron may drain together: SKIP LOCKED shares the queue out."""
    ids = upload(scoring_dsn, 40)
    taken: list[int] = []

    def drain() -> None:
        async def run() -> int:
            conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
                scoring_dsn, autocommit=True
            )
            async with conn:
                await conn.execute("set role service_role")
                return await score_queued(conn, batch=3)

        taken.append(asyncio.run(run()))

    drainers = [threading.Thread(target=drain) for _ in range(3)]
    for thread in drainers:
        thread.start()
    for thread in drainers:
        thread.join()
    assert sum(taken) == 40
    assert statuses(scoring_dsn, ids) == ["scored"] * 40


def test_only_the_service_role_may_drain(scoring_dsn):
    with psycopg.connect(scoring_dsn, autocommit=True) as conn:
        for role, allowed in (("anon", False), ("authenticated", False), ("service_role", True)):
            may = conn.execute(
                "select has_function_privilege(%s, 'private.score_queued(int)', 'execute')",
                (role,),
            ).fetchone()[0]
            assert may is allowed, role


def test_the_integrations_worker_scores_when_asked(scoring_dsn):
    """`coachdesk worker --score`: for a server where neither pg_cron nor the stack scores."""
    worker = start_worker(scoring_dsn, score=True)
    try:
        uploaded = upload(scoring_dsn, 2)
        deadline = time.monotonic() + PATIENCE_S
        while not all_scored(scoring_dsn, uploaded)():
            assert time.monotonic() < deadline, "the worker did not score"
            time.sleep(0.02)
    finally:
        worker.stop()
