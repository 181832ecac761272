"""GoTrue's mailed flows on the local stack: sign-up confirmation, recovery and magic links.

With confirmations on (GoTrue's MAILER_AUTOCONFIRM=false, the default here), a sign-up only
proves it can type an address, so the account stays unconfirmed: it gets no password token and
is never linked to another identity (the Clerk receiver checks `email_confirmed_at`), until the
owner of the mailbox redeems the code or link that was mailed there. Mails go to the local
outbox (server/stack/outbox.py).

Endpoints: POST /verify (type + email + 6-digit code, or type + token_hash) answers a session;
GET /verify (a mail's link) redirects to the site with the session in the fragment, as GoTrue
does; POST /resend, /recover, /otp send mails and answer `{}` whether or not the address is
known, so they reveal nothing. Codes are GoTrue's: a 6-digit OTP and its token_hash
hex(sha224(email || otp)), one live per user and kind, valid for `mailer_otp_ttl_s`, used once.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from server.db.auth_users import (
    AUDIENCE,
    EMAIL_CONFLICT,
    INSERT_IDENTITY,
    NIL_INSTANCE_ID,
    NewUser,
    insert_user_sql,
)
from server.stack import auth, outbox
from server.stack.context import StackState
from server.stack.ratelimit import RateLimited, client_ip

log = structlog.get_logger(__name__)

# Which stored token a /verify type redeems: "email" is the code of either mail.
_REDEEMS = {
    "signup": ("confirmation_token",),
    "recovery": ("recovery_token",),
    "magiclink": ("recovery_token",),
    "email": ("confirmation_token", "recovery_token"),
}
# A mail's kind: the token it stores, its subject, and what its link does.
_MAILS = {
    "signup": ("confirmation_token", "Confirm Your Signup", "confirm your address"),
    "recovery": ("recovery_token", "Reset Your Password", "reset your password"),
    "magiclink": ("recovery_token", "Your Magic Link", "sign in"),
}
_INVALID = "Token has expired or is invalid"


def token_hash(email: str, otp: str) -> str:
    return hashlib.sha224((email + otp).encode()).hexdigest()


def redirect_target(state: StackState, requested: str | None) -> str:
    """GoTrue's allow-list in its simplest form: redirect_to must lie under the site URL."""
    site = (state.config.site_url or state.config.url).rstrip("/")
    if requested and (requested == site or requested.startswith(site + "/")):
        return requested
    return site


# -- sending -------------------------------------------------------------------------------------


async def send_mail(
    state: StackState,
    conn: psycopg.AsyncConnection[Any],
    user: dict[str, Any],
    kind: str,
    redirect_to: str | None,
) -> None:
    """Replace the user's token for this kind of mail and send its code and link to them."""
    email = user["email"]
    state.limiter.hit("mail_per_account", email)
    token_type, subject, purpose = _MAILS[kind]
    otp = f"{secrets.randbelow(10**6):06d}"
    hashed = token_hash(email, otp)
    await conn.execute(
        "insert into auth.one_time_tokens (user_id, token_type, token_hash, relates_to)"
        " values (%s, %s, %s, %s) on conflict (user_id, token_type) do update"
        " set token_hash = excluded.token_hash, relates_to = excluded.relates_to,"
        " created_at = now(), updated_at = now()",
        (user["id"], token_type, hashed, email),
    )
    target = quote(redirect_target(state, redirect_to), safe="")
    link = f"{state.config.url}/auth/v1/verify?token={hashed}&type={kind}&redirect_to={target}"
    body = f"Follow this link to {purpose}:\n{link}\n\nOr enter this code: {otp}\n"
    path = outbox.send(state.config.outbox_dir, email, subject, body)
    log.info("auth.mail_sent", user_id=str(user["id"]), kind=kind, file=path.name)


async def sign_up_unconfirmed(
    state: StackState,
    conn: psycopg.AsyncConnection[Any],
    email: str,
    hashed_password: str | None,
    data: dict[str, Any],
    redirect_to: str | None,
) -> dict[str, Any]:
    """A sign-up with confirmations on: the user (new or still unconfirmed) with a fresh
    confirmation mail. The latest sign-up of an unconfirmed address sets its password, and
    the mail it triggers is the only one that still confirms it. A confirmed address, or an
    unconfirmed one that another provider created (a Clerk user whose address Clerk has not
    verified: confirming it here would hand over that user's orgs), gets GoTrue's obfuscated
    answer: a user that does not exist, and no mail."""
    new_user = NewUser(
        email=email, password_hash=hashed_password, confirmed=False, user_metadata=data
    )
    row = await (
        await conn.execute(
            insert_user_sql(
                returning=auth.USER_COLUMNS,
                on_conflict=EMAIL_CONFLICT + " do update set"
                " encrypted_password = coalesce(nullif(excluded.encrypted_password, ''),"
                " auth.users.encrypted_password),"
                " raw_user_meta_data = excluded.raw_user_meta_data, updated_at = now()"
                " where auth.users.email_confirmed_at is null"
                " and coalesce(auth.users.raw_app_meta_data ->> 'provider', 'email') = 'email'",
            ),
            new_user.user_params(),
        )
    ).fetchone()
    if row is None:
        return _obfuscated_user(email, data)
    user = auth.readable(dict(row))
    await conn.execute(INSERT_IDENTITY, new_user.identity_params(user["id"]))
    await send_mail(state, conn, user, "signup", redirect_to)
    return auth.user_json(user)


def _obfuscated_user(email: str, data: dict[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": str(uuid.uuid4()),
        "aud": "authenticated",
        "role": "",
        "email": email,
        "phone": "",
        "confirmation_sent_at": now,
        "app_metadata": {"provider": "email", "providers": ["email"]},
        "user_metadata": data,
        "identities": [],
        "created_at": now,
        "updated_at": now,
        "is_anonymous": False,
    }


async def _user_by_email(conn: psycopg.AsyncConnection[Any], email: str) -> dict[str, Any] | None:
    row = await (
        await conn.execute(
            "select " + auth.USER_COLUMNS + auth.BY_EMAIL, (NIL_INSTANCE_ID, email, AUDIENCE)
        )
    ).fetchone()
    return auth.readable(dict(row)) if row else None


def _email(body: dict[str, Any]) -> str:
    email = body.get("email")
    if not isinstance(email, str) or not auth.valid_email(email.strip().lower()):
        raise auth.AuthError(
            400, "validation_failed", "Unable to validate email address: invalid format"
        )
    return email.strip().lower()


async def resend(request: Request) -> Response:
    state: StackState = request.app.state.stack
    auth.check_apikey(request, state)
    state.limiter.hit("otp_per_ip", client_ip(request))
    body = await auth.json_object(request)
    if body.get("type") != "signup":
        raise auth.AuthError(400, "validation_failed", "Only signup confirmations are resent")
    email = _email(body)
    async with auth.auth_tx(state) as conn:
        user = await _user_by_email(conn, email)
        if user is not None and user["email_confirmed_at"] is None:
            await send_mail(state, conn, user, "signup", _redirect(request, body))
    return JSONResponse({})


async def recover(request: Request) -> Response:
    state: StackState = request.app.state.stack
    auth.check_apikey(request, state)
    state.limiter.hit("otp_per_ip", client_ip(request))
    body = await auth.json_object(request)
    email = _email(body)
    async with auth.auth_tx(state) as conn:
        user = await _user_by_email(conn, email)
        if user is not None:
            await send_mail(state, conn, user, "recovery", _redirect(request, body))
    return JSONResponse({})


async def otp(request: Request) -> Response:
    """Magic link / email code: a confirmed user gets one; an unknown address is signed up
    (unconfirmed, without password) when create_user allows, and gets a confirmation."""
    state: StackState = request.app.state.stack
    auth.check_apikey(request, state)
    state.limiter.hit("otp_per_ip", client_ip(request))
    body = await auth.json_object(request)
    if body.get("phone"):
        raise auth.AuthError(422, "phone_provider_disabled", "Phone logins are disabled")
    email = _email(body)
    data = body.get("data") or {}
    if not isinstance(data, dict):
        raise auth.AuthError(400, "validation_failed", "data must be a JSON object")
    async with auth.auth_tx(state) as conn:
        user = await _user_by_email(conn, email)
        if user is None:
            if body.get("create_user") is False:
                raise auth.AuthError(422, "otp_disabled", "Signups not allowed for otp")
            await sign_up_unconfirmed(state, conn, email, None, data, _redirect(request, body))
        elif user["email_confirmed_at"] is None:
            await send_mail(state, conn, user, "signup", _redirect(request, body))
        else:
            await send_mail(state, conn, user, "magiclink", _redirect(request, body))
    return JSONResponse({})


def _redirect(request: Request, body: dict[str, Any]) -> str | None:
    value = request.query_params.get("redirect_to") or body.get("redirect_to")
    return value if isinstance(value, str) else None


# -- redeeming -----------------------------------------------------------------------------------


async def _redeem(state: StackState, kind: str, hashed: str, email: str | None) -> dict[str, Any]:
    """Use one token: the user confirmed (a mailed code proves the mailbox) and a session."""
    token_types = _REDEEMS.get(kind)
    if token_types is None:
        raise auth.AuthError(400, "validation_failed", f"Verify type {kind!r} is not supported")
    async with auth.auth_tx(state) as conn:
        row = await (
            await conn.execute(
                "delete from auth.one_time_tokens t using auth.users u"
                " where t.token_hash = %s and t.token_type = any(%s) and u.id = t.user_id"
                " and t.relates_to = u.email and (%s::text is null or u.email = %s)"
                " and t.created_at > now() - make_interval(secs => %s)"
                " returning t.user_id",
                (hashed, list(token_types), email, email, state.config.mailer_otp_ttl_s),
            )
        ).fetchone()
        if row is None:
            raise auth.AuthError(403, "otp_expired", _INVALID)
        user = await auth.fetch_user(
            conn,
            "update auth.users set email_confirmed_at = coalesce(email_confirmed_at, now()),"
            " updated_at = now() where id = %s returning " + auth.USER_COLUMNS,
            (row["user_id"],),
        )
        auth.check_user_can_sign_in(user)
        log.info("auth.verified", user_id=str(user["id"]), kind=kind)
        return await auth.start_session(state, conn, user)


async def verify(request: Request) -> Response:
    state: StackState = request.app.state.stack
    auth.check_apikey(request, state)
    ip = client_ip(request)
    state.limiter.hit("verify_per_ip", ip)
    body = await auth.json_object(request)
    kind = str(body.get("type") or "")
    if isinstance(body.get("token_hash"), str) and body["token_hash"]:
        return JSONResponse(await _redeem(state, kind, body["token_hash"], None))
    email = _email(body)
    code = body.get("token")
    if not isinstance(code, str) or not code:
        raise auth.AuthError(400, "validation_failed", "Verify requires a token or token_hash")
    # Six digits are guessable one try at a time: wrong codes count against the address.
    state.limiter.check("failures_per_account", email)
    try:
        return JSONResponse(await _redeem(state, kind, token_hash(email, code.strip()), email))
    except auth.AuthError as exc:
        if exc.error_code == "otp_expired":
            state.limiter.failed("failures_per_account", email)
        raise


async def verify_link(request: Request) -> Response:
    """A mail's link: no API key (a browser follows it); the answer is a redirect, with the
    session or GoTrue's error in the fragment so it never reaches a server log."""
    state: StackState = request.app.state.stack
    params = request.query_params
    target = redirect_target(state, params.get("redirect_to"))
    kind = params.get("type") or ""
    try:
        state.limiter.hit("verify_per_ip", client_ip(request))
        session = await _redeem(state, kind, params.get("token") or "", None)
    except (auth.AuthError, RateLimited) as exc:
        code = exc.error_code if isinstance(exc, auth.AuthError) else "over_request_rate_limit"
        fragment = urlencode(
            {"error": "access_denied", "error_code": code, "error_description": str(exc)}
        )
        return RedirectResponse(f"{target}#{fragment}", status_code=303)
    fragment = urlencode(
        {
            "access_token": session["access_token"],
            "expires_at": session["expires_at"],
            "expires_in": session["expires_in"],
            "refresh_token": session["refresh_token"],
            "token_type": "bearer",
            "type": kind,
        }
    )
    return RedirectResponse(f"{target}#{fragment}", status_code=303)
