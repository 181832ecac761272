"""What every inbound provider shares: the verified event, the errors a receiver answers with,
typed field access into untrusted JSON, and applying one event exactly once in one transaction.

An event's effects and its idempotency row (`private.inbound_events`) commit together: a
redelivery finds the row and changes nothing; a failure rolls both back, so the provider's retry
applies it afresh. Nothing is written for an event that is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
import structlog
from psycopg_pool import AsyncConnectionPool
from starlette.responses import JSONResponse

log = structlog.get_logger(__name__)

# Raised by the entitlement triggers (migration billing_and_entitlements).
ENTITLEMENT_EXCEEDED = "CD402"
# Raised by private.clerk_upsert_user: the address is held by an account that never confirmed
# it (migration clerk_links_confirmed_accounts).
UNCONFIRMED_ACCOUNT = "CD409"


class InboundError(Exception):
    """A refusal with the HTTP status and a machine-readable code; nothing was written."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def response(self) -> JSONResponse:
        return JSONResponse({"error": self.code, "message": self.message}, self.status)


def malformed(message: str) -> InboundError:
    """A verified event whose content we cannot use (a missing or mistyped field)."""
    return InboundError(422, "malformed_event", message)


@dataclass(frozen=True)
class Event:
    """One verified event: the provider's id (for idempotency), type and payload object."""

    provider: str
    id: str
    type: str
    data: Mapping[str, Any]
    created: datetime = field(default_factory=lambda: datetime.now(UTC))


# -- typed access to untrusted JSON --------------------------------------------------------------


def get(obj: Any, path: str) -> Any:
    """`get(data, "organization.public_metadata.x")`: the value, or None when any step is absent."""
    for key in path.split("."):
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def text(obj: Any, path: str, *, required: bool = False) -> str | None:
    value = get(obj, path)
    if value is None or value == "":
        if required:
            raise malformed(f"{path} is missing")
        return None
    if not isinstance(value, str):
        raise malformed(f"{path} must be a string")
    return value


def required_text(obj: Any, path: str) -> str:
    value = text(obj, path, required=True)
    assert value is not None
    return value


def integer(obj: Any, path: str) -> int | None:
    value = get(obj, path)
    if value is None:
        return None
    # bool is an int in Python; a JSON true is not a count.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.isdigit():
            return int(value)
        raise malformed(f"{path} must be a whole number")
    return value


def maybe_uuid(value: str | None) -> uuid.UUID | None:
    """Ids we put into provider metadata ourselves; anything else there is simply not ours."""
    if value is None:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def object_id(obj: Any, path: str) -> str | None:
    """A reference that is either an id string or an expanded object with an `id`."""
    value = get(obj, path)
    if isinstance(value, Mapping):
        return text(value, "id")
    return text(obj, path)


# -- applying ---------------------------------------------------------------------------------

Handler = Callable[[psycopg.AsyncConnection[Any], Event], Awaitable[str]]


@dataclass
class Receiver:
    """Applies events of one provider with its handlers, on a pool of superuser connections.

    Each event runs as `service_role` in one transaction with a lock timeout, so a handler stuck
    behind another writer fails (5xx, the provider retries) instead of holding the sender.
    """

    provider: str
    handlers: Mapping[str, Handler]
    pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]]
    lock_timeout_ms: int = 5000

    async def apply(self, event: Event) -> JSONResponse:
        handler = self.handlers.get(event.type)
        bound = log.bind(provider=self.provider, event_id=event.id, event_type=event.type)
        if handler is None:
            # Endpoints are often subscribed to more than we handle; answering 4xx would make
            # the provider retry for days and then disable the endpoint for everything.
            bound.info("inbound.ignored")
            return JSONResponse({"status": "ignored", "reason": "event type not handled"})
        try:
            outcome = await self._apply(handler, event)
        except InboundError as exc:
            bound.warning("inbound.refused", status=exc.status, code=exc.code, reason=exc.message)
            return exc.response()
        except psycopg.Error as exc:
            return self._database_error(exc, bound)
        bound.info("inbound.done", outcome=outcome)
        return JSONResponse({"status": outcome})

    async def _apply(self, handler: Handler, event: Event) -> str:
        async with self.pool.connection() as conn, conn.transaction():
            await conn.execute("set local role service_role")
            await conn.execute(
                "select set_config('lock_timeout', %s, true)", (f"{self.lock_timeout_ms}ms",)
            )
            cur = await conn.execute(
                "select private.claim_inbound_event(%s, %s, %s)",
                (self.provider, event.id, event.type),
            )
            row = await cur.fetchone()
            if not (row and row[0]):
                return "duplicate"
            outcome = await handler(conn, event)
            if outcome != "applied":
                await conn.execute(
                    "select private.set_inbound_outcome(%s, %s, %s)",
                    (self.provider, event.id, outcome),
                )
            return outcome

    @staticmethod
    def _database_error(exc: psycopg.Error, bound: Any) -> JSONResponse:
        code = exc.sqlstate or ""
        message = exc.diag.message_primary or str(exc)
        if code == ENTITLEMENT_EXCEEDED:
            # The plan's limit; the provider's retries succeed once the plan allows it.
            bound.warning("inbound.entitlement_exceeded", reason=message)
            return InboundError(409, "entitlement_exceeded", message).response()
        if code == UNCONFIRMED_ACCOUNT:
            # Linking here would hand the identity to whoever signed up with the address first.
            bound.warning("inbound.link_refused", reason=message, account=exc.diag.message_detail)
            return InboundError(409, "unconfirmed_account", message).response()
        if code == "23505":
            bound.warning("inbound.conflict", reason=message)
            return InboundError(409, "conflict", message).response()
        bound.error("inbound.failed", sqlstate=code, reason=message)
        # No database detail to the sender: it only needs to know to retry.
        body = {"error": "handler_failed", "message": "the event could not be applied; retry"}
        return JSONResponse(body, 500)
