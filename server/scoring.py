"""The scoring queue's consumer: scores uploaded attempts soon after their upload commits.

An upload only queues its attempt (migration 20261125001600, `private.scoring_queue`) and sends
NOTIFY on `coachdesk_scoring`; this worker LISTENs, and on each notification (or every
`poll_interval_s`, for anything queued while it was not listening) calls
`private.score_queued()` until the queue is empty. It runs inside the local stack (the stack's
lifespan starts it), so tests and `make run` get scores within milliseconds; on hosted Supabase,
pg_cron calls the same function every 10 seconds. A database that goes away is waited for with
backoff, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import psycopg
import structlog

log = structlog.get_logger(__name__)

CHANNEL = "coachdesk_scoring"
BATCH = 100  # attempts scored per transaction (~0.25 s of Postgres for ten-minute calls)
POLL_INTERVAL_S = 5.0
MAX_BACKOFF_S = 30.0


async def score_queued(conn: psycopg.AsyncConnection[Any], batch: int = BATCH) -> int:
    """Score the queue empty (what other drainers hold aside); returns how many were taken."""
    total = 0
    while True:
        cur = await conn.execute("select private.score_queued(%s)", (batch,))
        row = await cur.fetchone()
        taken = int(row[0]) if row else 0
        total += taken
        if taken < batch:
            return total


class ScoringWorker:
    """Drains the scoring queue in an asyncio task until `stop()`."""

    def __init__(self, dsn: str, *, poll_interval_s: float = POLL_INTERVAL_S) -> None:
        self.dsn = dsn
        self.poll_interval_s = poll_interval_s
        self.scored = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="coachdesk-scoring")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.dsn, autocommit=True, application_name="coachdesk-scoring"
                )
            except psycopg.OperationalError as exc:
                log.warning("scoring.database_unavailable", error=str(exc), retry_s=backoff)
                await self._sleep(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            backoff = 1.0
            try:
                await self._serve(conn)
            except psycopg.Error as exc:
                # A deadlock with a concurrent upload, a restart: the batch rolled back and its
                # attempts are still queued; the next round takes them again.
                log.warning("scoring.round_failed", error=str(exc))
                await self._sleep(backoff)
            finally:
                with contextlib.suppress(psycopg.Error):
                    await conn.close()

    async def _serve(self, conn: psycopg.AsyncConnection[Any]) -> None:
        # Only what the service role may do: score_queued() is granted to it alone.
        await conn.execute("set role service_role")
        await conn.execute(f"listen {CHANNEL}")
        while not self._stop.is_set():
            scored = await score_queued(conn)
            if scored:
                self.scored += scored
                log.debug("scoring.scored", attempts=scored)
            await self._wait_for_work(conn)

    async def _wait_for_work(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Until a notification, the poll interval, or stop(); a burst counts as one wake-up."""
        notified = asyncio.ensure_future(_next_notification(conn))
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait(
                [notified, stopping],
                timeout=self.poll_interval_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for task in (notified, stopping):
                task.cancel()
            await asyncio.gather(notified, stopping, return_exceptions=True)
        if notified.done() and not notified.cancelled() and notified.exception() is not None:
            raise notified.exception()  # type: ignore[misc]

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)


async def _next_notification(conn: psycopg.AsyncConnection[Any]) -> None:
    async for _ in conn.notifies(stop_after=1):
        return
