"""Launchers for the integration processes beside the local stack: the webhook worker (with the
export and storage-expiry jobs, and optionally the scoring queue's consumer) and the inbound
Stripe/Clerk receiver.

In-process (tests, `coachdesk stack`): `start_worker(...)` and `start_inbound(...)` return handles
running in daemon threads; `.stop()` shuts each down gracefully. In the foreground (`coachdesk
worker`, `coachdesk inbound`): `serve_worker(...)` and `serve_inbound(...)` run until SIGTERM or
SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
import uvicorn

from server.exports.job import ExportJob, StorageTarget
from server.inbound import InboundConfig, create_app
from server.scoring import ScoringWorker
from server.webhooks.worker import Dispatcher, DispatcherConfig, run_until_signalled

log = structlog.get_logger(__name__)

# Stripe and Clerk must reach this in production; locally, only this machine.
INBOUND_HOST = "127.0.0.1"
INBOUND_PORT = 54329


class IntegrationError(RuntimeError):
    """A worker or receiver could not start."""


# -- inbound ------------------------------------------------------------------------------------


class InboundServer:
    """The inbound app under uvicorn in a daemon thread."""

    def __init__(self, config: InboundConfig, host: str, port: int) -> None:
        self.url = f"http://{host}:{port}"
        self._server = uvicorn.Server(
            uvicorn.Config(
                create_app(config),
                host=host,
                port=port,
                log_level="warning",
                lifespan="on",
                access_log=False,
            )
        )
        self._thread = threading.Thread(target=self._server.run, name="inbound", daemon=True)

    def start(self, timeout: float = 30.0) -> InboundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise IntegrationError("the inbound receiver failed to start (see the log)")
            if time.monotonic() > deadline:
                self.stop()
                raise IntegrationError(f"the inbound receiver did not start in {timeout:.0f} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)


def inbound_config(database_dsn: str, **overrides: Any) -> InboundConfig:
    """Secrets from the environment unless given (never from files in the repository)."""
    overrides.setdefault("stripe_secret", os.environ.get("STRIPE_WEBHOOK_SECRET"))
    overrides.setdefault("clerk_secret", os.environ.get("CLERK_WEBHOOK_SECRET"))
    return InboundConfig(database_dsn, **overrides)


def start_inbound(
    database_dsn: str, *, host: str = INBOUND_HOST, port: int = INBOUND_PORT, **options: Any
) -> InboundServer:
    """Start the receiver on `host:port`; options are InboundConfig fields (secrets, timeouts)."""
    return InboundServer(inbound_config(database_dsn, **options), host, port).start()


def serve_inbound(
    database_dsn: str, *, host: str = INBOUND_HOST, port: int = INBOUND_PORT, **options: Any
) -> int:
    uvicorn.run(
        create_app(inbound_config(database_dsn, **options)),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
    )
    return 0


# -- worker -------------------------------------------------------------------------------------


@dataclass
class WorkerOptions:
    """What the worker process runs: the dispatcher always; exports/expiry when given storage."""

    database_dsn: str
    allow_private_targets: bool = False
    storage: StorageTarget | None = None
    # How often the export queue is looked at, and how often expiry and reports run.
    exports_every_s: float = 5.0
    maintenance_every_s: float = 3600.0
    dispatcher: dict[str, Any] | None = None
    # Score uploaded attempts too (server/scoring.py), where neither pg_cron nor the local
    # stack does.
    score: bool = False


async def _every(seconds: float, stop: asyncio.Event, work: Callable[[], Awaitable[Any]]) -> None:
    """Run `work` every `seconds` until stop; a failed run is logged, not fatal. The first run
    waits one period too, so a worker started beside the stack does not upload before the
    stack's HTTP server listens."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        if stop.is_set():
            return
        try:
            await work()
        except Exception:
            log.exception("integrations.job_failed", job=getattr(work, "__name__", str(work)))


async def _worker_main(options: WorkerOptions, stop: asyncio.Event) -> None:
    config = DispatcherConfig(
        options.database_dsn,
        allow_private_targets=options.allow_private_targets,
        **(options.dispatcher or {}),
    )
    async with Dispatcher(config) as dispatcher:
        tasks = [asyncio.create_task(dispatcher.run(stop))]
        if options.score:
            tasks.append(asyncio.create_task(_score_until(options.database_dsn, stop)))
        if options.storage is not None:
            job = ExportJob(options.database_dsn, options.storage)
            tasks.append(asyncio.create_task(_every(options.exports_every_s, stop, job.run_async)))
            tasks.append(
                asyncio.create_task(_every(options.maintenance_every_s, stop, job.maintain_async))
            )
        await asyncio.gather(*tasks)


async def _score_until(database_dsn: str, stop: asyncio.Event) -> None:
    scoring = ScoringWorker(database_dsn)
    scoring.start()
    await stop.wait()
    await scoring.stop()


class WorkerThread:
    """The worker's event loop in a daemon thread; `stop()` drains in-flight deliveries."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="webhook-worker", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(_worker_main(self.options, self._stop))
        except BaseException as exc:
            self._error = exc
            log.exception("integrations.worker_crashed")
        finally:
            self._loop.close()

    def start(self) -> WorkerThread:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(timeout=timeout)
        if self._error is not None:
            raise IntegrationError(f"the webhook worker failed: {self._error}") from self._error


def worker_options(
    database_dsn: str,
    *,
    allow_private_targets: bool = False,
    storage: StorageTarget | None = None,
    exports_every_s: float = 5.0,
    maintenance_every_s: float = 3600.0,
    score: bool = False,
    **dispatcher_options: Any,
) -> WorkerOptions:
    """Options for the worker; `dispatcher_options` are DispatcherConfig fields."""
    return WorkerOptions(
        database_dsn,
        allow_private_targets=allow_private_targets,
        storage=storage,
        exports_every_s=exports_every_s,
        maintenance_every_s=maintenance_every_s,
        dispatcher=dispatcher_options,
        score=score,
    )


def start_worker(database_dsn: str, **options: Any) -> WorkerThread:
    """Start the dispatcher (and, with `storage`, the export/expiry jobs) in a thread; options
    as `worker_options`."""
    return WorkerThread(worker_options(database_dsn, **options)).start()


def serve_worker(database_dsn: str, **options: Any) -> int:
    """Foreground worker until SIGTERM/SIGINT, draining in-flight deliveries before exit."""
    chosen = worker_options(database_dsn, **options)
    return run_until_signalled(lambda stop: _worker_main(chosen, stop))
