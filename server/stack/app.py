"""The Starlette application: `/rest/v1`, `/auth/v1` and `/storage/v1` on one port.

Two connection pools: `api_pool` logs in as `authenticator` (it can only become anon,
authenticated or service_role, and RLS applies to all but the last); `admin_pool` logs in as
the database owner and is used only after `SET LOCAL ROLE supabase_auth_admin` (auth) or to read
the catalog. The catalog (PostgREST's "schema cache") is reloaded when a request names a table
or function it does not know, so migrations applied while the stack runs are picked up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.scoring import ScoringWorker
from server.stack import auth, rest, storage
from server.stack import query as q
from server.stack.config import API_ROLES, StackConfig
from server.stack.ratelimit import Limiter

log = structlog.get_logger(__name__)

# A miss reloads the catalog at most this often, so a flood of bad names cannot hammer it.
CATALOG_RELOAD_INTERVAL_S = 1.0
# The roles' own settings (ALTER ROLE ... SET, e.g. statement_timeout), role-wide first so a
# database-specific value wins; only those a session may set (context 'user'), as PostgREST
# applies an impersonated role's settings to each of its requests.
ROLE_SETTINGS_SQL = """
select r.rolname, split_part(c.cfg, '=', 1), substr(c.cfg, strpos(c.cfg, '=') + 1)
from pg_db_role_setting s
join pg_roles r on r.oid = s.setrole
cross join lateral unnest(s.setconfig) as c (cfg)
join pg_settings p on p.name = split_part(c.cfg, '=', 1) and p.context = 'user'
where r.rolname = any (%s)
  and s.setdatabase in (0, (select oid from pg_database where datname = current_database()))
order by r.rolname, s.setdatabase
"""


class StackState:
    """Pools, catalog and settings shared by every request of one running stack."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.api_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            config.authenticator_dsn,
            min_size=2,
            max_size=config.pool_max_size,
            # A request waits this long for a free connection, then gets PostgREST's 504.
            timeout=config.pool_acquire_timeout_s,
            # A transaction this stack left open and idle (it never should) cannot pin the
            # connection, its locks and the sync watermark (public.sync_watermark) for long.
            kwargs={
                "options": "-c idle_in_transaction_session_timeout="
                f"{config.idle_in_transaction_timeout_ms}"
            },
            open=False,
            name="stack-api",
        )
        self.admin_pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            config.database_dsn, min_size=1, max_size=4, open=False, name="stack-admin"
        )
        self._catalog = q.Catalog()
        self._catalog_loaded_at = 0.0
        self._catalog_lock = asyncio.Lock()
        self.has_token_hook = False
        self.limiter = Limiter(config.rate_limits)
        # role -> {setting: value}, applied with SET LOCAL to each request acting as the role.
        self.role_settings: dict[str, dict[str, str]] = {}

    async def open(self) -> None:
        await self.api_pool.open(wait=True)
        await self.admin_pool.open(wait=True)
        await self.reload_catalog()
        async with self.admin_pool.connection() as conn:
            row = await (
                await conn.execute(
                    "select to_regprocedure('public.custom_access_token_hook(jsonb)') is not null"
                )
            ).fetchone()
            self.has_token_hook = bool(row and row[0])
            await storage.install_signing_secret(
                conn, self.config.jwt_secret, f"{self.config.url}/storage/v1"
            )
        self.config.storage_dir.mkdir(parents=True, exist_ok=True)

    async def close(self) -> None:
        await self.api_pool.close()
        await self.admin_pool.close()

    async def reload_catalog(self) -> None:
        async with self._catalog_lock:
            async with self.admin_pool.connection() as conn:
                self._catalog = await q.Catalog.load(conn)
                self.role_settings = await _role_settings(conn)
            self._catalog_loaded_at = time.monotonic()

    async def _maybe_reload(self) -> bool:
        if time.monotonic() - self._catalog_loaded_at < CATALOG_RELOAD_INTERVAL_S:
            return False
        await self.reload_catalog()
        return True

    async def table(self, name: str) -> q.Table:
        try:
            return self._catalog.table(name)
        except q.ApiError:
            if not await self._maybe_reload():
                raise
            return self._catalog.table(name)

    async def function(self, name: str, arg_names: set[str]) -> q.Function:
        try:
            return self._catalog.function(name, arg_names)
        except q.ApiError:
            if not await self._maybe_reload():
                raise
            return self._catalog.function(name, arg_names)


async def _role_settings(conn: psycopg.AsyncConnection[Any]) -> dict[str, dict[str, str]]:
    settings: dict[str, dict[str, str]] = {}
    rows = await (await conn.execute(ROLE_SETTINGS_SQL, (sorted(API_ROLES),))).fetchall()
    for role, name, value in rows:
        settings.setdefault(role, {})[name] = value
    return settings


def unexpected_error(path: str) -> JSONResponse:
    """A 500 in the error shape of the API that `path` belongs to, saying nothing internal."""
    message = "unexpected server error"
    if path.startswith("/auth/"):
        body: dict[str, Any] = {"code": 500, "error_code": "unexpected_failure", "msg": message}
    elif path.startswith("/storage/"):
        body = {"statusCode": "500", "error": "InternalError", "message": message}
    else:
        body = q.ApiError(500, "XX000", message).body()
    return JSONResponse(body, status_code=500)


class ErrorShapes:
    """The last line behind every handler: an exception none of them turned into an answer is
    logged here and answered as a 500 in the API's own shape, instead of Starlette's plain-text
    page and a traceback in the server's output; the keep-alive connection stays usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("stack.unhandled_error", method=scope["method"], path=scope["path"])
            if started:
                raise  # half a response is out: only closing the connection is honest
            await unexpected_error(scope["path"])(scope, receive, send)


async def _health(request: Request) -> JSONResponse:
    state: StackState = request.app.state.stack
    return JSONResponse({"status": "ok", "url": state.config.url})


def create_app(config: StackConfig) -> Starlette:
    state = StackState(config)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.open()
        scoring = ScoringWorker(config.database_dsn) if config.scoring_worker else None
        if scoring is not None:
            scoring.start()
        log.info("stack.ready", url=config.url, mail_outbox=str(config.outbox_dir))
        try:
            yield
        finally:
            if scoring is not None:
                await scoring.stop()
            await state.close()

    rest_methods = ["GET", "HEAD", "POST", "PATCH", "DELETE"]
    routes = [
        Route("/health", _health, methods=["GET"]),
        Route("/rest/v1/{path:path}", rest.handle, methods=rest_methods),
        *auth.routes(),
        *storage.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(ErrorShapes)])
    app.state.stack = state
    return app
