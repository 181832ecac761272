"""The request context every API of the local stack shares: the running stack's state (pools,
catalog, settings), who the request is (its token's claims) and the transaction it runs in as
that token's role.

REST and Storage (simple and resumable uploads) take the caller's claims and transaction from
here, Auth takes the state; none of these APIs imports another's module. Errors are raised as
PostgREST's `ApiError` (server.stack.query); each API turns them into its own error shape.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.requests import Request

from server.stack import jwt as stack_jwt
from server.stack import query as q
from server.stack.config import API_ROLES, StackConfig
from server.stack.query import ApiError
from server.stack.ratelimit import Limiter

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


def stack_state(request: Request) -> StackState:
    """The state of the stack serving `request` (create_app puts it on the app)."""
    return request.app.state.stack  # type: ignore[no-any-return]


# -- authentication ------------------------------------------------------------------------------


def authenticate(request: Request, state: StackState) -> dict[str, Any]:
    """Claims of the request's token, checked like Kong (apikey) and PostgREST (Bearer)."""
    apikey = request.headers.get("apikey") or request.query_params.get("apikey")
    if not apikey:
        raise ApiError(
            401,
            "PGRST301",
            "No API key found in request",
            hint="No `apikey` request header or url param was found.",
        )
    try:
        key_claims = stack_jwt.decode(apikey, state.config.jwt_secret)
    except stack_jwt.TokenError:
        key_claims = {}
    if key_claims.get("role") not in ("anon", "service_role"):
        raise ApiError(
            401,
            "PGRST301",
            "Invalid API key",
            hint="Double check your Supabase `anon` or `service_role` API key.",
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        token = apikey
    elif scheme.lower() != "bearer" or not token:
        raise ApiError(401, "PGRST301", "Authorization header must be 'Bearer <token>'")
    try:
        claims = stack_jwt.decode(token.strip(), state.config.jwt_secret)
    except stack_jwt.TokenError as exc:
        if exc.expired:
            raise ApiError(401, "PGRST303", "JWT expired") from exc
        raise ApiError(401, "PGRST301", exc.message) from exc
    if claims.get("role") not in API_ROLES:
        raise ApiError(401, "PGRST301", f'role "{claims.get("role")}" may not use the API')
    return claims


@asynccontextmanager
async def as_role(
    state: StackState, claims: dict[str, Any], method: str
) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """One transaction acting as the token's role with its claims and the role's own settings
    (its statement_timeout above all), rolled back on any error."""
    settings = state.role_settings.get(claims["role"], {})
    statement = (
        "select set_config('role', %s, true), set_config('request.jwt.claims', %s, true),"
        " set_config('request.method', %s, true)" + ", set_config(%s, %s, true)" * len(settings)
    )
    params = [claims["role"], json.dumps(claims), method]
    for name, value in settings.items():
        params += [name, value]
    try:
        conn = await state.api_pool.getconn()
    except PoolTimeout as exc:
        raise ApiError(
            504, "PGRST003", "Timed out acquiring connection from connection pool."
        ) from exc
    try:
        async with conn.transaction():
            await conn.execute(statement, params)
            yield conn
    finally:
        await state.api_pool.putconn(conn)
