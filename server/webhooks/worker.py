"""The webhook dispatcher (`coachdesk worker`): sends due deliveries from the outbox.

It claims deliveries with `claim_webhook_deliveries` (FOR UPDATE SKIP LOCKED, so several
workers never hold the same row), POSTs each with Standard Webhooks headers signed by the
endpoint's own secret, and stores the outcome with `record_webhook_attempt`, which decides
between succeeded, a retry on the backoff schedule, and dead. All of that schedule lives in SQL;
this process only moves bytes.

Only a 2xx answer within `timeout_s` (15 s, as Svix) counts; redirects are not followed. Up to
`concurrency` requests are in flight at once, and a slot is refilled as soon as one finishes, so
one slow endpoint does not hold up the others. A worker that dies mid-flight leaves rows running;
`reap_webhook_deliveries` (run here every `reap_every_s`) schedules them again. Delivery is at
least once: a result lost with the database connection means a resend with the same
`webhook-id`, which receivers use to deduplicate.

Stopping (SIGTERM/SIGINT, or `stop` set) claims nothing more and waits for requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import structlog
from psycopg.rows import dict_row

from app.webhook_targets import TargetRefused, resolve_target
from server.webhooks.signing import body_of, signed_headers

log = structlog.get_logger(__name__)

# Columns kept by record_webhook_attempt (response_body, last_error are text <= 2048).
EXCERPT_CHARS = 2048
USER_AGENT = "Coachdesk-Webhooks/1.0"
# Longest wait between reconnection attempts while the database is unavailable.
MAX_BACKOFF_S = 30.0


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class DispatcherConfig:
    """`dsn` logs in as a role that may `SET ROLE service_role` (the owner, or authenticator)."""

    dsn: str
    worker_id: str = field(default_factory=default_worker_id)
    concurrency: int = 16
    batch_size: int = 16
    timeout_s: float = 15.0
    poll_interval_s: float = 1.0
    reap_every_s: float = 60.0
    # Longer than any request may take, so a live worker's rows are never taken back.
    reap_stale_s: float = 300.0
    # Local mode: the desktop stack and tests send to 127.0.0.1.
    allow_private_targets: bool = False

    def __post_init__(self) -> None:
        if self.reap_stale_s <= self.timeout_s:
            raise ValueError("reap_stale_s must exceed timeout_s, or live deliveries get reaped")
        if self.concurrency < 1 or not 1 <= self.batch_size <= 1000:
            raise ValueError("concurrency must be >= 1 and batch_size between 1 and 1000")


@dataclass(frozen=True)
class Endpoint:
    url: str
    secrets: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What one HTTP attempt produced, as record_webhook_attempt takes it."""

    status: int | None
    body: str | None
    error: str | None
    duration_ms: int


class Dispatcher:
    """One worker: a database connection (as service_role) and an HTTP client.

    Use as `async with Dispatcher(config) as d: await d.run(stop)`; tests drive `run_once()`.
    """

    def __init__(self, config: DispatcherConfig) -> None:
        self.config = config
        self.log = log.bind(worker=config.worker_id)
        self._conn: psycopg.AsyncConnection[dict[str, Any]] | None = None
        self._http: httpx.AsyncClient | None = None
        self._last_reap = 0.0
        self._reconnecting = asyncio.Lock()
        self.sent = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> Dispatcher:
        await self._connect()
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(self.config.timeout_s),
            follow_redirects=False,
            headers={"user-agent": USER_AGENT},
            limits=httpx.Limits(max_connections=self.config.concurrency * 2),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()
        if self._conn is not None:
            await self._conn.close()

    async def _connect(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                await self._conn.close()
        conn = await psycopg.AsyncConnection.connect(
            self.config.dsn,
            autocommit=True,
            row_factory=dict_row,
            # Names the worker in pg_stat_activity (truncated by Postgres at 63 bytes).
            application_name=f"coachdesk-webhooks {self.config.worker_id}",
        )
        # For the session: the dispatcher's functions are granted to service_role only.
        await conn.execute("set role service_role")
        self._conn = conn

    async def _query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """One statement; a dropped connection is reopened once (the statement is repeated)."""
        for retry in (True, False):
            conn = self._conn
            assert conn is not None
            try:
                cur = await conn.execute(sql, params)
                return await cur.fetchall() if cur.description else []
            except psycopg.OperationalError:
                if not retry or not conn.closed:
                    raise
                async with self._reconnecting:
                    if self._conn is conn:  # not already replaced by a concurrent delivery
                        self.log.warning("webhooks.reconnect")
                        await self._connect()
        raise AssertionError("unreachable")

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, then let the requests in flight finish. A database that
        goes away is waited for (with backoff), not fatal."""
        in_flight: set[asyncio.Task[None]] = set()
        stopping = asyncio.ensure_future(stop.wait())
        backoff = self.config.poll_interval_s
        self.log.info("webhooks.worker_started", concurrency=self.config.concurrency)
        try:
            while not stop.is_set():
                try:
                    claimed = await self._fill(in_flight)
                except psycopg.OperationalError as exc:
                    self.log.warning(
                        "webhooks.database_unavailable", error=str(exc), retry_s=backoff
                    )
                    await asyncio.wait([stopping], timeout=backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                backoff = self.config.poll_interval_s
                if claimed and len(in_flight) < self.config.concurrency:
                    continue  # more may be due: fill the free slots first
                done, _ = await asyncio.wait(
                    [*in_flight, stopping],
                    timeout=self.config.poll_interval_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
                for task in done - {stopping}:
                    in_flight.discard(task)  # type: ignore[arg-type]
                    if task.exception() is not None:
                        # A bug, not the receiver: its row stays running until the reaper.
                        self.log.error("webhooks.delivery_crashed", exc_info=task.exception())
        finally:
            stopping.cancel()
            if in_flight:
                self.log.info("webhooks.draining", in_flight=len(in_flight))
                await asyncio.gather(*in_flight, return_exceptions=True)
            self.log.info("webhooks.worker_stopped", sent=self.sent)

    async def _fill(self, in_flight: set[asyncio.Task[None]]) -> int:
        """Reap when due, then claim as many deliveries as there are free slots."""
        await self._maybe_reap()
        free = self.config.concurrency - len(in_flight)
        claimed = await self._claim(min(free, self.config.batch_size)) if free else []
        for delivery, endpoint in claimed:
            in_flight.add(asyncio.create_task(self._deliver(delivery, endpoint)))
        return len(claimed)

    async def run_once(self) -> int:
        """Claim one batch, deliver it, record every result; returns how many were claimed."""
        claimed = await self._claim(self.config.batch_size)
        await asyncio.gather(*(self._deliver(d, e) for d, e in claimed))
        return len(claimed)

    async def _maybe_reap(self) -> None:
        now = time.monotonic()
        if now - self._last_reap >= self.config.reap_every_s:
            self._last_reap = now
            await self.reap()

    async def reap(self) -> int:
        """Schedule again the deliveries a dead worker left running; returns how many."""
        rows = await self._query(
            "select reap_webhook_deliveries(make_interval(secs => %s)) as n",
            (self.config.reap_stale_s,),
        )
        reaped = int(rows[0]["n"]) if rows else 0
        if reaped:
            self.log.warning("webhooks.reaped", deliveries=reaped)
        return reaped

    async def _claim(self, batch: int) -> list[tuple[dict[str, Any], Endpoint]]:
        rows = await self._query(
            "select id, webhook_id, message_id, event, payload, attempt_count, max_attempts"
            " from claim_webhook_deliveries(%s, %s)",
            (self.config.worker_id, batch),
        )
        if not rows:
            return []
        endpoints = await self._endpoints({row["webhook_id"] for row in rows})
        # An endpoint deleted since the claim took its deliveries with it (cascade): skip them.
        return [
            (row, endpoints[row["webhook_id"]]) for row in rows if row["webhook_id"] in endpoints
        ]

    async def _endpoints(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, Endpoint]:
        rows = await self._query(
            "select id, url, secret, case when previous_secret_expires_at > now()"
            " then previous_secret end as previous_secret"
            " from webhooks where id = any(%s)",
            (list(ids),),
        )
        return {
            row["id"]: Endpoint(
                row["url"], tuple(s for s in (row["secret"], row["previous_secret"]) if s)
            )
            for row in rows
        }

    # -- one delivery ---------------------------------------------------------------------------

    async def _deliver(self, delivery: dict[str, Any], endpoint: Endpoint) -> None:
        outcome = await self.attempt(delivery, endpoint)
        bound = self.log.bind(
            delivery_id=str(delivery["id"]),
            event=delivery["event"],
            attempt=delivery["attempt_count"],
        )
        try:
            rows = await self._query(
                "select status::text, next_attempt_at"
                " from record_webhook_attempt(%s, %s, %s, %s, %s)",
                (delivery["id"], outcome.status, outcome.body, outcome.error, outcome.duration_ms),
            )
        except psycopg.errors.ObjectNotInPrerequisiteState:
            # The reaper took it back (this worker was too slow); it will be claimed again.
            bound.warning("webhooks.result_too_late")
            return
        except psycopg.Error as exc:
            # The reaper will schedule it again; the receiver deduplicates by webhook-id.
            bound.error("webhooks.record_failed", error=str(exc))
            return
        self.sent += 1
        state = rows[0]["status"] if rows else "?"
        if state == "succeeded":
            bound.debug("webhooks.delivered", status=outcome.status, ms=outcome.duration_ms)
        else:
            bound.info(
                "webhooks.failed",
                state=state,
                status=outcome.status,
                error=outcome.error,
                next_attempt_at=str(rows[0]["next_attempt_at"]) if rows else None,
            )

    async def attempt(self, delivery: dict[str, Any], endpoint: Endpoint) -> Outcome:
        """POST one delivery; never raises for what the receiver or the network does."""
        assert self._http is not None
        started = time.monotonic()
        status: int | None = None
        excerpt: str | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(self.config.timeout_s):
                target = await resolve_target(
                    endpoint.url, allow_private=self.config.allow_private_targets
                )
                body = body_of(delivery["payload"])
                headers = signed_headers(endpoint.secrets, str(delivery["message_id"]), body)
                headers["content-type"] = "application/json"
                headers["host"] = target.host_header
                extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
                async with self._http.stream(
                    "POST",
                    target.connect_url,
                    content=body.encode(),
                    headers=headers,
                    extensions=extensions,
                ) as response:
                    status = response.status_code
                    excerpt = await _excerpt(response)
        except TargetRefused as exc:
            error = f"refused: {exc}"
        except TimeoutError:
            error = f"no response within {self.config.timeout_s:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        duration_ms = int((time.monotonic() - started) * 1000)
        if status is not None and not 200 <= status <= 299 and error is None:
            error = f"HTTP {status}"
        return Outcome(status, excerpt, error and error[:EXCERPT_CHARS], duration_ms)


async def _excerpt(response: httpx.Response) -> str:
    """The start of the answer, for the admin's delivery log; the rest is never read."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_CHARS * 4:
            break
    return b"".join(chunks).decode("utf-8", errors="replace")[:EXCERPT_CHARS]


# -- entry points ------------------------------------------------------------------------------


async def serve(config: DispatcherConfig, stop: asyncio.Event) -> None:
    async with Dispatcher(config) as dispatcher:
        await dispatcher.run(stop)


def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> int:
    """Run `main(stop)` in a fresh event loop; SIGTERM/SIGINT set `stop` (graceful shutdown)."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await main(stop)

    asyncio.run(runner())
    return 0


def run_worker(dsn: str, *, allow_private_targets: bool = False, **options: Any) -> int:
    """Foreground dispatcher until SIGTERM/SIGINT; options are DispatcherConfig fields."""
    config = DispatcherConfig(dsn, allow_private_targets=allow_private_targets, **options)
    return run_until_signalled(lambda stop: serve(config, stop))
