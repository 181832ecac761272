"""The Starlette application: `/rest/v1`, `/auth/v1` and `/storage/v1` on one port.

Two connection pools: `api_pool` logs in as `authenticator` (it can only become anon,
authenticated or service_role, and RLS applies to all but the last); `admin_pool` logs in as
the database owner and is used only after `SET LOCAL ROLE supabase_auth_admin` (auth) or to read
the catalog. The catalog (PostgREST's "schema cache") is reloaded when a request names a table
or function it does not know, so migrations applied while the stack runs are picked up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.scoring import ScoringWorker
from server.stack import auth, rest, resumable, storage
from server.stack import query as q
from server.stack.config import StackConfig
from server.stack.context import StackState

log = structlog.get_logger(__name__)


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
        await storage.prepare(state)
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
        *resumable.routes(),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, middleware=[Middleware(ErrorShapes)])
    app.state.stack = state
    return app
