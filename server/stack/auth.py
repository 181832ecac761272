"""`/auth/v1`: the GoTrue subset the supabase client uses for email + password accounts.

Endpoints: POST /signup, POST /token?grant_type=password|refresh_token, GET /user, PUT /user,
POST /logout?scope=global|local|others, GET /settings, GET /health, and the mailed flows of
server/stack/auth_mail.py (/verify, /resend, /recover, /otp). Sign-ups stay unconfirmed until
the mailed code or link is redeemed (GoTrue with `MAILER_AUTOCONFIRM` off; the config's
`mailer_autoconfirm` turns it on). Sign-in, sign-up, refresh, verify and mail endpoints are rate
limited per client address and per account (server/stack/ratelimit.py): 429 with Retry-After.

Access tokens carry GoTrue's claims, then pass through `public.custom_access_token_hook` in the
database (as `supabase_auth_admin`, like hosted GoTrue), so the migration's hook is the single
source of `org_id`/`org_role`. Refresh tokens rotate on every use; presenting an already-used
one is treated as theft and deletes the whole session. Passwords are bcrypt, the same scheme
as `auth.users.encrypted_password` on hosted Supabase and pgcrypto's `crypt(..., gen_salt('bf'))`.

Errors use GoTrue's shape: {"code": <http status>, "error_code": "...", "msg": "..."}.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio.to_thread
import bcrypt
import psycopg
import structlog
from psycopg.rows import dict_row
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.db import auth_users
from server.stack import jwt as stack_jwt
from server.stack.bodies import MalformedJson, parse_json
from server.stack.context import StackState
from server.stack.ratelimit import RateLimited, client_ip

log = structlog.get_logger(__name__)
Endpoint = Callable[[Request], Awaitable[Response]]

# GoTrue's bcrypt cost (Go's bcrypt.DefaultCost) and password rules.
BCRYPT_COST = 10
MIN_PASSWORD_LENGTH = 6
MAX_PASSWORD_BYTES = 72  # bcrypt ignores (bcrypt>=5: rejects) anything longer
# No whitespace or control characters anywhere (they would reach mail headers and logs).
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
# Checked when the email is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = bcrypt.hashpw(b"not-a-password", bcrypt.gensalt(BCRYPT_COST))
# Read as GoTrue reads them: the string columns too, which it cannot read when NULL.
_USER_COLUMNS = (
    "id, instance_id, email, encrypted_password, email_confirmed_at, last_sign_in_at,"
    " raw_app_meta_data, raw_user_meta_data, is_anonymous, banned_until, deleted_at,"
    " created_at, updated_at, " + ", ".join(auth_users.STRING_COLUMNS)
)
# GoTrue finds users of this project only: the nil instance and its audience.
_BY_ID = " from auth.users where instance_id = %s and id = %s"
_BY_EMAIL = (
    " from auth.users where instance_id = %s and lower(email) = %s and aud = %s"
    " and is_sso_user = false"
)


class AuthError(Exception):
    def __init__(self, status: int, error_code: str, msg: str, **extra: Any) -> None:
        super().__init__(msg)
        self.status = status
        self.error_code = error_code
        self.msg = msg
        self.extra = extra

    def response(self) -> JSONResponse:
        body = {"code": self.status, "error_code": self.error_code, "msg": self.msg, **self.extra}
        return JSONResponse(body, status_code=self.status)


def _check_apikey(request: Request, state: StackState) -> None:
    apikey = request.headers.get("apikey") or request.query_params.get("apikey")
    try:
        role = stack_jwt.decode(apikey or "", state.config.jwt_secret).get("role")
    except stack_jwt.TokenError:
        role = None
    if role not in ("anon", "service_role"):
        raise AuthError(401, "no_authorization", "Invalid API key")


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = parse_json(await request.body(), empty={})
    except MalformedJson as exc:
        raise AuthError(400, "bad_json", f"Could not parse request body as JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise AuthError(400, "bad_json", "Request body must be a JSON object")
    return body


def _user_claims(request: Request, state: StackState) -> dict[str, Any]:
    """Verify the Bearer access token of a signed-in user (GoTrue: 401 missing, 403 bad)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError(401, "no_authorization", "This endpoint requires a Bearer token")
    try:
        claims = stack_jwt.decode(token.strip(), state.config.jwt_secret)
    except stack_jwt.TokenError as exc:
        detail = "token has invalid claims: token is expired" if exc.expired else exc.message
        raise AuthError(
            403, "bad_jwt", f"invalid JWT: unable to parse or verify signature, {detail}"
        ) from exc
    if not claims.get("sub") or not claims.get("session_id"):
        raise AuthError(403, "bad_jwt", "invalid claim: missing sub claim")
    return claims


@asynccontextmanager
async def _auth_tx(state: StackState) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """A transaction acting as supabase_auth_admin, the role hosted GoTrue connects as."""
    async with state.admin_pool.connection() as conn, conn.transaction():
        conn.row_factory = dict_row  # type: ignore[assignment]
        try:
            await conn.execute("set local role supabase_auth_admin")
            yield conn
        finally:
            conn.row_factory = psycopg.rows.tuple_row  # type: ignore[assignment]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def user_json(user: dict[str, Any]) -> dict[str, Any]:
    app_metadata = {
        "provider": "email",
        "providers": ["email"],
        **(user["raw_app_meta_data"] or {}),
    }
    return {
        "id": str(user["id"]),
        "aud": user["aud"] or "authenticated",
        "role": user["role"] or "authenticated",
        "email": user["email"],
        "email_confirmed_at": _iso(user["email_confirmed_at"]),
        "confirmed_at": _iso(user["email_confirmed_at"]),
        "phone": "",
        "last_sign_in_at": _iso(user["last_sign_in_at"]),
        "app_metadata": app_metadata,
        "user_metadata": user["raw_user_meta_data"] or {},
        "identities": [],
        "created_at": _iso(user["created_at"]),
        "updated_at": _iso(user["updated_at"]),
        "is_anonymous": bool(user["is_anonymous"]),
    }


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def _new_refresh_token(
    conn: psycopg.AsyncConnection[Any],
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    parent_id: int | None,
) -> str:
    token = secrets.token_urlsafe(24)
    await conn.execute(
        "insert into auth.refresh_tokens (token_hash, user_id, session_id, parent_id)"
        " values (%s, %s, %s, %s)",
        (_hash_token(token), user_id, session_id, parent_id),
    )
    return token


async def access_token(
    state: StackState,
    conn: psycopg.AsyncConnection[Any],
    user: dict[str, Any],
    session_id: uuid.UUID,
    auth_time: datetime,
) -> tuple[str, int]:
    """GoTrue's claims, then the custom access token hook, signed HS256."""
    now = stack_jwt.now()
    exp = now + state.config.access_token_ttl_s
    public = user_json(user)
    claims: dict[str, Any] = {
        "iss": f"{state.config.url}/auth/v1",
        "aud": "authenticated",
        "exp": exp,
        "iat": now,
        "sub": str(user["id"]),
        "email": user["email"] or "",
        "phone": "",
        "app_metadata": public["app_metadata"],
        "user_metadata": public["user_metadata"],
        "role": user["role"] or "authenticated",
        "aal": "aal1",
        "amr": [{"method": "password", "timestamp": int(auth_time.timestamp())}],
        "session_id": str(session_id),
        "is_anonymous": bool(user["is_anonymous"]),
    }
    if state.has_token_hook:
        event = {"user_id": str(user["id"]), "claims": claims, "authentication_method": "password"}
        row = await (
            await conn.execute(
                "select public.custom_access_token_hook(%s::jsonb) as event", (json.dumps(event),)
            )
        ).fetchone()
        hooked = (row or {}).get("event") or {}
        new_claims = hooked.get("claims") if isinstance(hooked, dict) else None
        if not isinstance(new_claims, dict):
            raise AuthError(
                500, "unexpected_failure", "custom access token hook returned no claims"
            )
        # GoTrue refuses a hook that drops required claims; exp/iat/sub/role stay authoritative.
        for required in ("exp", "iat", "sub", "role", "aud", "session_id"):
            new_claims.setdefault(required, claims[required])
        claims = new_claims
    return stack_jwt.encode(claims, state.config.jwt_secret), int(claims["exp"])


async def _session(
    state: StackState,
    conn: psycopg.AsyncConnection[Any],
    user: dict[str, Any],
    session_id: uuid.UUID,
    auth_time: datetime,
    refresh_token: str,
) -> dict[str, Any]:
    token, exp = await access_token(state, conn, user, session_id, auth_time)
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": state.config.access_token_ttl_s,
        "expires_at": exp,
        "refresh_token": refresh_token,
        "user": user_json(user),
    }


async def _start_session(
    state: StackState, conn: psycopg.AsyncConnection[Any], user: dict[str, Any]
) -> dict[str, Any]:
    session_id = uuid.uuid4()
    row = await (
        await conn.execute(
            "insert into auth.sessions (id, user_id) values (%s, %s) returning created_at",
            (session_id, user["id"]),
        )
    ).fetchone()
    assert row is not None
    user = await _fetch_user(
        conn,
        "update auth.users set last_sign_in_at = now(), updated_at = now() where id = %s"
        " returning " + _USER_COLUMNS,
        (user["id"],),
    )
    refresh = await _new_refresh_token(conn, user["id"], session_id, None)
    return await _session(state, conn, user, session_id, row["created_at"], refresh)


async def _fetch_user(
    conn: psycopg.AsyncConnection[Any], statement: str, params: tuple[Any, ...]
) -> dict[str, Any]:
    row = await (await conn.execute(statement, params)).fetchone()  # type: ignore[arg-type]
    if row is None:
        raise AuthError(404, "user_not_found", "User not found")
    return _readable(dict(row))


def _readable(user: dict[str, Any]) -> dict[str, Any]:
    """GoTrue fails to load a user with NULL in a string column; so does this server."""
    if auth_users.null_string_columns(user):
        raise AuthError(500, "unexpected_failure", "Database error querying schema")
    return user


async def _user_by_id(conn: psycopg.AsyncConnection[Any], user_id: Any) -> dict[str, Any]:
    return await _fetch_user(
        conn, "select " + _USER_COLUMNS + _BY_ID, (auth_users.NIL_INSTANCE_ID, user_id)
    )


def _check_user_can_sign_in(user: dict[str, Any]) -> None:
    if user["deleted_at"] is not None:
        raise AuthError(400, "invalid_credentials", "Invalid login credentials")
    if user["banned_until"] is not None and user["banned_until"] > datetime.now(UTC):
        raise AuthError(400, "user_banned", "User is banned")
    if user["email_confirmed_at"] is None:
        raise AuthError(400, "email_not_confirmed", "Email not confirmed")


def _validate_password(password: Any) -> bytes:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(
            422,
            "weak_password",
            f"Password should be at least {MIN_PASSWORD_LENGTH} characters.",
            weak_password={"reasons": ["length"]},
        )
    encoded = _password_bytes(password)
    if encoded is None:
        raise AuthError(422, "validation_failed", "Password must be text without NUL characters")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise AuthError(
            422, "validation_failed", f"Password cannot be longer than {MAX_PASSWORD_BYTES} bytes"
        )
    return encoded


def _password_bytes(password: str) -> bytes | None:
    """UTF-8 bytes bcrypt can take; None for a lone surrogate (JSON "\\ud800") or a NUL."""
    try:
        encoded = password.encode()
    except UnicodeEncodeError:
        return None
    return None if b"\x00" in encoded else encoded


async def _hash_password(password: bytes) -> str:
    hashed = await anyio.to_thread.run_sync(bcrypt.hashpw, password, bcrypt.gensalt(BCRYPT_COST))
    return hashed.decode()


async def _password_matches(password: str, stored: str | None) -> bool:
    encoded = _password_bytes(password)
    if encoded is None or len(encoded) > MAX_PASSWORD_BYTES:
        return False
    target = stored.encode() if stored else _DUMMY_HASH
    try:
        ok = await anyio.to_thread.run_sync(bcrypt.checkpw, encoded, target)
    except ValueError:
        return False  # a hash bcrypt cannot read never matches
    return ok and bool(stored)  # '' is GoTrue's "no password", never a match


# -- endpoints -----------------------------------------------------------------------------------


def _state(request: Request) -> StackState:
    return request.app.state.stack  # type: ignore[no-any-return]


async def signup(request: Request) -> Response:
    state = _state(request)
    try:
        _check_apikey(request, state)
        limit_sign_in(request, state)
        body = await _body(request)
        if body.get("phone"):
            raise AuthError(422, "phone_provider_disabled", "Phone signups are disabled")
        email = str(body.get("email") or "").strip().lower()
        if not email and not body.get("password"):
            raise AuthError(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled")
        if not _EMAIL.match(email):
            raise AuthError(
                400, "validation_failed", "Unable to validate email address: invalid format"
            )
        password = _validate_password(body.get("password"))
        data = body.get("data") or {}
        if not isinstance(data, dict):
            raise AuthError(400, "validation_failed", "data must be a JSON object")
        hashed = await _hash_password(password)
        if not state.config.mailer_autoconfirm:
            return JSONResponse(await _sign_up_unconfirmed(request, state, email, hashed, data))
        new_user = auth_users.NewUser(email=email, password_hash=hashed, user_metadata=data)
        async with _auth_tx(state) as conn:
            row = await (
                await conn.execute(
                    auth_users.insert_user_sql(
                        returning=_USER_COLUMNS,
                        on_conflict=auth_users.EMAIL_CONFLICT + " do nothing",
                    ),
                    new_user.user_params(),
                )
            ).fetchone()
            if row is None:
                raise AuthError(422, "user_already_exists", "User already registered")
            await conn.execute(auth_users.INSERT_IDENTITY, new_user.identity_params())
            session = await _start_session(state, conn, dict(row))
        return JSONResponse(session)
    except AuthError as exc:
        return exc.response()


async def token(request: Request) -> Response:
    state = _state(request)
    try:
        _check_apikey(request, state)
        grant = request.query_params.get("grant_type")
        body = await _body(request)
        if grant == "password":
            limit_sign_in(request, state)
            return JSONResponse(await _limited_password_grant(state, body))
        if grant == "refresh_token":
            state.limiter.hit("token_refresh_per_ip", client_ip(request))
            return JSONResponse(await _refresh_grant(state, body))
        raise AuthError(400, "validation_failed", f"unsupported grant_type {grant!r}")
    except AuthError as exc:
        return exc.response()


async def _password_grant(state: StackState, body: dict[str, Any]) -> dict[str, Any]:
    email = str(body.get("email") or "").strip().lower()
    password = body.get("password")
    if not email or not isinstance(password, str):
        raise AuthError(400, "validation_failed", "email and password are required")
    async with _auth_tx(state) as conn:
        row = await (
            await conn.execute(
                "select " + _USER_COLUMNS + _BY_EMAIL,
                (auth_users.NIL_INSTANCE_ID, email, auth_users.AUDIENCE),
            )
        ).fetchone()
        user = _readable(dict(row)) if row else None
        stored = user["encrypted_password"] if user else None
        if not await _password_matches(password, stored) or user is None:
            raise AuthError(400, "invalid_credentials", "Invalid login credentials")
        _check_user_can_sign_in(user)
        return await _start_session(state, conn, user)


async def _refresh_grant(state: StackState, body: dict[str, Any]) -> dict[str, Any]:
    presented = body.get("refresh_token")
    if not isinstance(presented, str) or not presented:
        raise AuthError(400, "validation_failed", "refresh_token is required")
    async with _auth_tx(state) as conn:
        row = await (
            await conn.execute(
                "select t.id, t.revoked, t.session_id, t.user_id, s.created_at as auth_time"
                " from auth.refresh_tokens t join auth.sessions s on s.id = t.session_id"
                " where t.token_hash = %s for update of t, s",
                (_hash_token(presented),),
            )
        ).fetchone()
        if row is None:
            raise AuthError(
                400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"
            )
        if row["revoked"]:
            reuse = True
            await conn.execute("delete from auth.sessions where id = %s", (row["session_id"],))
        else:
            reuse = False
            await conn.execute(
                "update auth.refresh_tokens set revoked = true, updated_at = now() where id = %s",
                (row["id"],),
            )
            await conn.execute(
                "update auth.sessions set refreshed_at = now(), updated_at = now() where id = %s",
                (row["session_id"],),
            )
            user = await _user_by_id(conn, row["user_id"])
            _check_user_can_sign_in(user)
            fresh = await _new_refresh_token(conn, user["id"], row["session_id"], row["id"])
            session = await _session(state, conn, user, row["session_id"], row["auth_time"], fresh)
    # Raised after the transaction commits: the revocation of a reused family must stick.
    if reuse:
        raise AuthError(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used")
    return session


async def get_user(request: Request) -> Response:
    state = _state(request)
    try:
        _check_apikey(request, state)
        claims = _user_claims(request, state)
        async with _auth_tx(state) as conn:
            await _require_session(conn, claims)
            user = await _user_by_id(conn, claims["sub"])
        return JSONResponse(user_json(user))
    except AuthError as exc:
        return exc.response()


async def _require_session(conn: psycopg.AsyncConnection[Any], claims: dict[str, Any]) -> None:
    row = await (
        await conn.execute(
            "select 1 from auth.sessions where id = %s and user_id = %s",
            (claims["session_id"], claims["sub"]),
        )
    ).fetchone()
    if row is None:
        raise AuthError(
            403, "session_not_found", "Session from session_id claim in JWT does not exist"
        )


async def update_user(request: Request) -> Response:
    state = _state(request)
    try:
        _check_apikey(request, state)
        claims = _user_claims(request, state)
        body = await _body(request)
        if body.get("email") or body.get("phone"):
            raise AuthError(
                422, "validation_failed", "Changing email or phone is not supported locally"
            )
        async with _auth_tx(state) as conn:
            await _require_session(conn, claims)
            if body.get("password") is not None:
                hashed = await _hash_password(_validate_password(body["password"]))
                await conn.execute(
                    "update auth.users set encrypted_password = %s, updated_at = now()"
                    " where id = %s",
                    (hashed, claims["sub"]),
                )
            if isinstance(body.get("data"), dict):
                await conn.execute(
                    "update auth.users set raw_user_meta_data"
                    " = coalesce(raw_user_meta_data, '{}'::jsonb) || %s::jsonb,"
                    " updated_at = now() where id = %s",
                    (json.dumps(body["data"]), claims["sub"]),
                )
            user = await _user_by_id(conn, claims["sub"])
        return JSONResponse(user_json(user))
    except AuthError as exc:
        return exc.response()


async def logout(request: Request) -> Response:
    state = _state(request)
    try:
        _check_apikey(request, state)
        claims = _user_claims(request, state)
        scope = request.query_params.get("scope", "global")
        statements = {
            "global": ("delete from auth.sessions where user_id = %s", (claims["sub"],)),
            "local": ("delete from auth.sessions where id = %s", (claims["session_id"],)),
            "others": (
                "delete from auth.sessions where user_id = %s and id <> %s",
                (claims["sub"], claims["session_id"]),
            ),
        }
        if scope not in statements:
            raise AuthError(400, "validation_failed", "scope must be global, local or others")
        statement, params = statements[scope]
        async with _auth_tx(state) as conn:
            await conn.execute(statement, params)  # type: ignore[arg-type]
        return Response(status_code=204)
    except AuthError as exc:
        return exc.response()


async def settings(request: Request) -> Response:
    return JSONResponse(
        {
            "external": {"email": True, "phone": False, "anonymous_users": False},
            "disable_signup": False,
            "mailer_autoconfirm": _state(request).config.mailer_autoconfirm,
            "phone_autoconfirm": False,
            "sms_provider": "",
            "mfa_enabled": False,
        }
    )


async def health(request: Request) -> Response:
    return JSONResponse({"version": "coachdesk-local", "name": "GoTrue", "description": "local"})


def _gotrue_errors(handler: Endpoint) -> Endpoint:
    """Every failure of an endpoint in GoTrue's shape: a value the database cannot take (a NUL,
    a lone surrogate, an invalid escape) is the request's fault, 400; anything else is a
    logged 500 that tells the caller nothing about the database."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)
        except AuthError as exc:
            return exc.response()
        except RateLimited as exc:
            return rate_limited_response(exc)
        except (psycopg.DataError, UnicodeEncodeError) as exc:
            log.info("auth.unstorable_value", error=type(exc).__name__)
            message = "Request contains a value that cannot be stored (NUL or invalid Unicode)"
            return AuthError(400, "validation_failed", message).response()
        except psycopg.Error as exc:
            log.error("auth.database_error", sqlstate=exc.sqlstate)
            return AuthError(500, "unexpected_failure", "Unexpected failure").response()

    return wrapper


def routes() -> list[Route]:
    endpoints: list[tuple[str, Endpoint, str]] = [
        ("/auth/v1/signup", signup, "POST"),
        ("/auth/v1/token", token, "POST"),
        ("/auth/v1/user", get_user, "GET"),
        ("/auth/v1/user", update_user, "PUT"),
        ("/auth/v1/logout", logout, "POST"),
        ("/auth/v1/settings", settings, "GET"),
        ("/auth/v1/health", health, "GET"),
        *_mail_endpoints(),
    ]
    return [Route(path, _gotrue_errors(fn), methods=[method]) for path, fn, method in endpoints]


# -- rate limits (server/stack/ratelimit.py) -------------------------------------------------------


def limit_sign_in(request: Request, state: StackState) -> None:
    """Password sign-ins and sign-ups share GoTrue's per-address budget."""
    state.limiter.hit("sign_in_per_ip", client_ip(request))


async def _limited_password_grant(state: StackState, body: dict[str, Any]) -> dict[str, Any]:
    """The password grant, with wrong passwords counted per account: past the limit even the
    right password waits, or guessing would simply go on."""
    email = str(body.get("email") or "").strip().lower()
    state.limiter.check("failures_per_account", email)
    try:
        return await _password_grant(state, body)
    except AuthError as exc:
        if exc.error_code == "invalid_credentials":
            state.limiter.failed("failures_per_account", email)
        raise


def rate_limited_response(exc: RateLimited) -> JSONResponse:
    """GoTrue's 429s: over_email_send_rate_limit for mails, over_request_rate_limit else."""
    if exc.mail:
        error = AuthError(
            429,
            "over_email_send_rate_limit",
            f"For security purposes, you can only request this after {exc.retry_after_s} seconds.",
        )
    else:
        error = AuthError(429, "over_request_rate_limit", "Request rate limit reached")
    response = error.response()
    response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


# -- confirmation mails (server/stack/auth_mail.py builds on the helpers below) ------------------

USER_COLUMNS = _USER_COLUMNS
BY_EMAIL = _BY_EMAIL
readable = _readable
check_apikey = _check_apikey
json_object = _body
auth_tx = _auth_tx
fetch_user = _fetch_user
check_user_can_sign_in = _check_user_can_sign_in
start_session = _start_session


def valid_email(email: str) -> bool:
    return _EMAIL.match(email) is not None


async def _sign_up_unconfirmed(
    request: Request, state: StackState, email: str, hashed: str, data: dict[str, Any]
) -> dict[str, Any]:
    from server.stack import auth_mail

    redirect_to = request.query_params.get("redirect_to")
    async with _auth_tx(state) as conn:
        return await auth_mail.sign_up_unconfirmed(state, conn, email, hashed, data, redirect_to)


def _mail_endpoints() -> list[tuple[str, Endpoint, str]]:
    from server.stack import auth_mail

    return [
        ("/auth/v1/verify", auth_mail.verify, "POST"),
        ("/auth/v1/verify", auth_mail.verify_link, "GET"),
        ("/auth/v1/resend", auth_mail.resend, "POST"),
        ("/auth/v1/recover", auth_mail.recover, "POST"),
        ("/auth/v1/otp", auth_mail.otp, "POST"),
    ]
