"""The inbound webhook receivers as one Starlette app: `/webhooks/stripe` and `/webhooks/clerk`.

Answers, for both providers:
- 200 `{"status": "applied" | "superseded" | "duplicate" | "ignored" | ...}`: done, or nothing to
  do (a redelivered event id, an older event than the one applied, an event type not handled);
- 400 `malformed_body` (not UTF-8 JSON, not an event) or `missing_signature` (no signature
  headers); 401 `invalid_signature` or `stale_timestamp` (outside 300 s);
- 409 `entitlement_exceeded` (the plan's seat limit) / `conflict` (e.g. an unverified email
  that another account has) / `unconfirmed_account` (a verified Clerk email that an account
  holds without having confirmed it: never linked, logged, applied by a retry once confirmed);
- 413 `body_too_large` (over 1 MiB); 422 `malformed_event` (a field we need is missing or
  mistyped) or `unknown_org` (Stripe customer not linked yet; Stripe retries, so it applies once
  the checkout that links it has arrived);
- 500 `handler_failed`: the database refused or timed out; the provider retries;
- 503 `not_configured`: no signing secret for that provider.
Nothing is written unless the answer is 200.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
import stripe
import structlog
from psycopg_pool import AsyncConnectionPool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from svix.webhooks import Webhook as SvixWebhook
from svix.webhooks import WebhookVerificationError

from server.inbound import clerk_events, stripe_events
from server.inbound.events import Event, InboundError, Receiver

log = structlog.get_logger(__name__)

# Stripe's SDKs default; Svix checks 5 minutes both ways on its own.
STRIPE_TOLERANCE_S = 300
# Stripe and Svix events are small; anything bigger is not one of theirs.
MAX_BODY_BYTES = 1024 * 1024
SVIX_HEADERS = ("svix-id", "svix-timestamp", "svix-signature")


@dataclass
class InboundConfig:
    """`database_dsn` is a superuser (or postgres) DSN; each event runs as service_role."""

    database_dsn: str
    stripe_secret: str | None = None
    clerk_secret: str | None = None
    lock_timeout_ms: int = 5000
    pool_max_size: int = 4


def _not_configured(provider: str, variable: str) -> JSONResponse:
    message = f"{provider} webhooks are not configured: set {variable}"
    return InboundError(503, "not_configured", message).response()


async def _body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise InboundError(413, "body_too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise InboundError(413, "body_too_large", f"bodies are limited to {MAX_BODY_BYTES} bytes")
    return body


def verify_stripe(body: bytes, header: str | None, secret: str) -> Event:
    if not header:
        raise InboundError(400, "missing_signature", "the Stripe-Signature header is missing")
    try:
        event = stripe.Webhook.construct_event(body, header, secret, tolerance=STRIPE_TOLERANCE_S)
    except stripe.SignatureVerificationError as exc:
        if "tolerance" in str(exc):
            raise InboundError(401, "stale_timestamp", "the signature is too old") from exc
        raise InboundError(401, "invalid_signature", "the signature does not match") from exc
    except (ValueError, AttributeError) as exc:
        # ValueError: not UTF-8 or not JSON; AttributeError: JSON that is not an object.
        raise InboundError(400, "malformed_body", "the body is not a JSON event") from exc
    return stripe_events.event_from_stripe(event.to_dict())


def verify_clerk(body: bytes, headers: dict[str, str], secret: str) -> Event:
    if not all(headers.get(name) for name in SVIX_HEADERS):
        raise InboundError(
            400,
            "missing_signature",
            "the svix-id, svix-timestamp and svix-signature headers are required",
        )
    try:
        payload = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InboundError(400, "malformed_body", "the body is not UTF-8") from exc
    try:
        SvixWebhook(secret).verify(payload, headers)
    except WebhookVerificationError as exc:
        if "timestamp" in str(exc).lower():
            raise InboundError(401, "stale_timestamp", str(exc)) from exc
        raise InboundError(401, "invalid_signature", "the signature does not match") from exc
    except ValueError as exc:
        # A signature header that is not "v1,<base64>" entries.
        raise InboundError(401, "invalid_signature", "the signature header is malformed") from exc
    try:
        values = json.loads(payload)
    except ValueError as exc:
        raise InboundError(400, "malformed_body", "the body is not JSON") from exc
    return clerk_events.event_from_clerk(headers["svix-id"], values)


def create_app(config: InboundConfig) -> Starlette:
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
        config.database_dsn, min_size=1, max_size=config.pool_max_size, open=False, name="inbound"
    )
    stripe_receiver = Receiver("stripe", stripe_events.HANDLERS, pool, config.lock_timeout_ms)
    clerk_receiver = Receiver("clerk", clerk_events.HANDLERS, pool, config.lock_timeout_ms)

    async def stripe_webhook(request: Request) -> Response:
        if not config.stripe_secret:
            return _not_configured("Stripe", "STRIPE_WEBHOOK_SECRET")
        try:
            body = await _body(request)
            event = verify_stripe(
                body, request.headers.get("stripe-signature"), config.stripe_secret
            )
        except InboundError as exc:
            log.warning("inbound.rejected", provider="stripe", code=exc.code)
            return exc.response()
        return await stripe_receiver.apply(event)

    async def clerk_webhook(request: Request) -> Response:
        if not config.clerk_secret:
            return _not_configured("Clerk", "CLERK_WEBHOOK_SECRET")
        try:
            body = await _body(request)
            headers = {k.lower(): v for k, v in request.headers.items()}
            event = verify_clerk(body, headers, config.clerk_secret)
        except InboundError as exc:
            log.warning("inbound.rejected", provider="clerk", code=exc.code)
            return exc.response()
        return await clerk_receiver.apply(event)

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await pool.open(wait=True)
        try:
            yield
        finally:
            await pool.close()

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/webhooks/stripe", stripe_webhook, methods=["POST"]),
            Route("/webhooks/clerk", clerk_webhook, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
