"""The Webhooks screen's service: an org's outbound endpoints and their delivery log (no Qt).

Endpoints and deliveries exist on the server alone (admins only, never synced), so every call
reaches it through `Backend.live`. The database decides and keeps the rules
(supabase/migrations/20261125001000_webhooks.sql, 20261204000400_webhook_test_event.sql): it
generates every secret, keeps the previous one signing for 24 hours after a rotation, and
refuses non-admins; this service words its refusals. A URL is checked before it is saved by the
dispatcher's own rules (`app.webhook_targets`), so the screen accepts only what will be sent to.

A secret is handed to the caller once, by `create` (create_webhook()) and `rotate_secret`; no
API role can read it back (20261205000700_webhook_secret_shown_once.sql), so every read here
names its columns, and it is never logged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import structlog

from app.client.errors import PermissionDenied
from app.client.live_service import LiveService
from app.client.views import Account, ServerConfig
from app.errors import CoachdeskError
from app.webhook_targets import TargetRefused, refusal, resolve_target
from supabase import Client
from sync.db_types import WebhookDeliveryStatus
from sync.rows import parse_time
from sync.session import Session

log = structlog.get_logger(__name__)

T = TypeVar("T")

DeliveryStatus = WebhookDeliveryStatus

# The events an endpoint subscribes to, as private.webhook_event_types() lists them (the API
# cannot call it; tests/client/test_webhooks_service.py fails when the two differ). "*" is all
# of them, present and future. `webhook.test` is none of them: it goes only where it is sent.
EVENTS = (
    "attempt.scored",
    "attempt.uploaded",
    "assignment.created",
    "assignment.completed",
    "track.completed",
    "member.added",
    "member.removed",
    "export.ready",
)
ALL_EVENTS = "*"
TEST_EVENT = "webhook.test"
OVERLAP = "24 hours"  # rotate_webhook_secret(): how long the previous secret keeps signing
EXCERPT_CHARS = 200  # of the receiver's answer, for the log's table (the database keeps 2048)
PAGE_SIZE = 50
NOT_ADMIN = "Only an admin of this org can manage its webhooks."

_ENDPOINT_COLUMNS = (
    "id, url, description, events, enabled, disabled_reason, failure_since,"
    " previous_secret_expires_at, created_at"
)
_DELIVERY_COLUMNS = (
    "id, webhook_id, event, status, attempt_count, max_attempts, next_attempt_at,"
    " last_attempt_at, response_status, response_body, last_error, duration_ms, created_at,"
    " redelivery_of"
)


class Backend(Protocol):
    """What the service needs of app.client.backend.SyncedBackend."""

    @property
    def account(self) -> Account | None: ...

    @property
    def server(self) -> ServerConfig: ...

    def live(self, call: Callable[[Session], T]) -> T: ...


@dataclass(frozen=True)
class Endpoint:
    """An endpoint as the screen shows it; its secret is not part of it."""

    id: str
    url: str
    description: str
    events: tuple[str, ...]  # ("*",) for every event
    enabled: bool
    disabled_reason: str | None  # "disabled by an admin", or the dispatcher's reason
    failing_since: datetime | None  # first failure of the current run of failures
    previous_secret_until: datetime | None  # end of a rotation's overlap (may be past)
    created_at: datetime | None

    @property
    def all_events(self) -> bool:
        return ALL_EVENTS in self.events

    @property
    def events_text(self) -> str:
        return "All events" if self.all_events else ", ".join(self.events)


@dataclass(frozen=True)
class Created:
    """A new endpoint and its signing secret: shown once, then only its receiver knows it."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True)
class NewSecret:
    """A rotated secret: `previous_until` is when the old one stops signing deliveries."""

    secret: str
    previous_until: datetime | None


@dataclass(frozen=True)
class Delivery:
    """One row of an endpoint's delivery log: its latest attempt's outcome."""

    id: str
    webhook_id: str
    event: str
    status: DeliveryStatus
    attempts: int
    max_attempts: int
    next_retry: datetime | None  # pending or failed: when the dispatcher tries again
    last_attempt_at: datetime | None
    response_code: int | None  # None: no answer (refused, timeout): see `error`
    body_excerpt: str  # the start of the receiver's answer
    error: str | None
    latency_ms: int | None  # the latest attempt's duration_ms, as the dispatcher measured it
    created_at: datetime | None
    redelivery_of: str | None


@dataclass(frozen=True)
class DeliveryPage:
    deliveries: list[Delivery]
    offset: int
    more: bool  # another page follows


class WebhooksService(LiveService):
    """An admin's view of the current org's webhooks; every method is one server round trip
    (or a few) on the owner thread, to be called from a worker (ctx.call), never the GUI.

    `allow_private_targets` is the dispatcher's local mode: None decides as the server's own
    dispatcher does, allowing private URLs only when the server itself is on a private address
    (the local stack, whose dispatcher runs in local mode); hosted Supabase's never does."""

    not_admin = NOT_ADMIN
    nothing_changed = (
        "Nothing was changed: the endpoint is no longer there, or your role does not allow it. "
        "Refresh the list and try again."
    )

    def __init__(self, backend: Backend, *, allow_private_targets: bool | None = None) -> None:
        super().__init__(backend)
        self._allow_private = allow_private_targets

    def words(self, error: BaseException) -> CoachdeskError | None:
        return words_for(error)

    # Endpoints -----------------------------------------------------------------------------
    def endpoints(self) -> list[Endpoint]:
        self._require_admin()

        def read(client: Client) -> list[Endpoint]:
            rows = (
                client.table("webhooks")
                .select(_ENDPOINT_COLUMNS)
                .eq("org_id", self._org())
                .order("created_at")
                .order("id")
                .execute()
                .data
            )
            return [_endpoint(row) for row in rows]

        return self._run(read)

    def create(self, url: str, events: Iterable[str], description: str = "") -> Created:
        """A new enabled endpoint; its secret (generated by the database) is returned once."""
        url = self.check_url(url)
        chosen = _events(events)
        text = _description(description)
        self._require_admin()
        org = self._org()
        # create_webhook(): no API role may read a secret back, so it comes with the insert.
        arguments = {"url": url, "events": list(chosen), "description": text}

        def insert(client: Client) -> Created:
            made = client.rpc("create_webhook", arguments).execute().data
            row = (
                client.table("webhooks")
                .select(_ENDPOINT_COLUMNS)
                .eq("id", made["id"])
                .execute()
                .data[0]
            )
            return Created(_endpoint(row), str(made["secret"]))

        created = self._run(insert)
        log.info("webhook created", webhook_id=created.endpoint.id, org_id=org)
        return created

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        events: Iterable[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Endpoint:
        """Change what is given; enabling again clears the failure record (the database does)."""
        fields: dict[str, Any] = {}
        if url is not None:
            fields["url"] = self.check_url(url)
        if events is not None:
            fields["events"] = list(_events(events))
        if description is not None:
            fields["description"] = _description(description)
        if enabled is not None:
            fields["enabled"] = bool(enabled)
        self._require_admin()
        if not fields:
            raise CoachdeskError("Nothing to change.")
        rows = self._changed_one(
            lambda client: (
                client.table("webhooks")
                .update(fields)
                .eq("org_id", self._org())
                .eq("id", webhook_id)
                .select(_ENDPOINT_COLUMNS)  # `*` would name the secret, which clients may not read
                .execute()
                .data
            )
        )
        return _endpoint(rows[0])

    def delete(self, webhook_id: str) -> None:
        """The endpoint and its whole delivery log."""
        self._require_admin()
        self._changed_one(
            lambda client: (
                client.table("webhooks")
                .delete()
                .eq("org_id", self._org())
                .eq("id", webhook_id)
                .select("id")
                .execute()
                .data
            )
        )

    def rotate_secret(self, webhook_id: str) -> NewSecret:
        """A new secret, returned once; the old one keeps signing (a second signature) for
        24 hours, so the receiver can switch without rejecting deliveries."""
        self._require_admin()

        def rotate(client: Client) -> NewSecret:
            fresh = client.rpc("rotate_webhook_secret", {"webhook_id": webhook_id}).execute()
            until = (
                client.table("webhooks")
                .select("previous_secret_expires_at")
                .eq("id", webhook_id)
                .execute()
                .data
            )
            moment = until[0]["previous_secret_expires_at"] if until else None
            return NewSecret(str(fresh.data), _maybe_time(moment))

        rotated = self._run(rotate)
        log.info("webhook secret rotated", webhook_id=webhook_id)
        return rotated

    def send_test(self, webhook_id: str) -> str:
        """Queue one `webhook.test` delivery to this endpoint; returns the delivery's id."""
        self._require_admin()
        return str(
            self._run(
                lambda client: (
                    client.rpc("send_test_webhook", {"webhook_id": webhook_id}).execute().data
                )
            )
        )

    # The delivery log ----------------------------------------------------------------------
    def deliveries(
        self,
        webhook_id: str,
        status: DeliveryStatus | str | None = None,
        *,
        offset: int = 0,
        limit: int = PAGE_SIZE,
    ) -> DeliveryPage:
        """One page of the endpoint's deliveries, newest first, of one status or all."""
        wanted = None if status is None else DeliveryStatus(status)
        self._require_admin()

        def read(client: Client) -> DeliveryPage:
            query = (
                client.table("webhook_deliveries")
                .select(_DELIVERY_COLUMNS)
                .eq("org_id", self._org())
                .eq("webhook_id", webhook_id)
            )
            if wanted is not None:
                query = query.eq("status", wanted.value)
            # One more than a page says whether another follows, without counting them all.
            rows = (
                query.order("created_at", desc=True)
                .order("id", desc=True)
                .range(offset, offset + limit)
                .execute()
                .data
            )
            return DeliveryPage([_delivery(r) for r in rows[:limit]], offset, len(rows) > limit)

        return self._run(read)

    def redeliver(self, delivery_id: str) -> str:
        """Queue a copy (same event, payload and webhook-id); the original stays in the log."""
        self._require_admin()
        return str(
            self._run(
                lambda client: (
                    client.rpc("redeliver_webhook", {"delivery_id": delivery_id}).execute().data
                )
            )
        )

    def redeliver_all_dead(self, webhook_id: str) -> int:
        """Redeliver every dead delivery of the endpoint not redelivered already; returns how
        many were queued. Asking twice sends nothing twice."""
        self._require_admin()

        def redeliver(client: Client) -> int:
            org = self._org()
            dead = (
                client.table("webhook_deliveries")
                .select("id")
                .eq("org_id", org)
                .eq("webhook_id", webhook_id)
                .eq("status", DeliveryStatus.DEAD.value)
                .execute()
                .data
            )
            copies = (
                client.table("webhook_deliveries")
                .select("redelivery_of")
                .eq("org_id", org)
                .eq("webhook_id", webhook_id)
                .not_.is_("redelivery_of", "null")
                .execute()
                .data
            )
            done = {str(row["redelivery_of"]) for row in copies}
            todo = [str(row["id"]) for row in dead if str(row["id"]) not in done]
            for delivery_id in todo:
                client.rpc("redeliver_webhook", {"delivery_id": delivery_id}).execute()
            return len(todo)

        return self._run(redeliver)

    # URLs ----------------------------------------------------------------------------------
    def check_url(self, url: str) -> str:
        """The URL as it will be saved, or a refusal in the dispatcher's own words."""
        url = url.strip()
        if not url:
            raise CoachdeskError("An endpoint needs a URL (https://…).")
        try:
            _resolve(url, self._private_allowed())
        except TargetRefused as error:
            raise CoachdeskError(f"Webhooks cannot be sent to {url}: {error}.") from error
        return url

    def _private_allowed(self) -> bool:
        if self._allow_private is None:
            try:
                server = _resolve(self._backend.server.url, True)
            except TargetRefused:
                self._allow_private = False
            else:
                self._allow_private = refusal(server.address) is not None
        return self._allow_private


# Words for the database's refusals ----------------------------------------------------------
def words_for(error: BaseException) -> CoachdeskError | None:
    """The sentence for a refusal of the Webhooks screen's calls; None: not one of ours."""
    code = getattr(error, "code", None)
    message = str(getattr(error, "message", "") or "")
    if not isinstance(code, str):
        return None
    if code == "42501":
        return PermissionDenied(NOT_ADMIN)
    if code == "55000":  # object_not_in_prerequisite_state: the endpoint is disabled
        return CoachdeskError("This endpoint is disabled: enable it first, then try again.")
    if code == "23514":  # the database's url/events checks say precisely what is wrong
        if message.startswith("url is invalid: "):
            return CoachdeskError(f"The URL {message.removeprefix('url is invalid: ')}.")
        if message.startswith("events is invalid: "):
            return CoachdeskError(f"Events: {message.removeprefix('events is invalid: ')}.")
        if "description" in message:
            return CoachdeskError("A description has at most 500 characters.")
        return CoachdeskError(message or "The server refused the endpoint as it is.")
    return None


# Checks and rows to views -------------------------------------------------------------------
def _resolve(url: str, allow_private: bool) -> Any:
    """The dispatcher's check, run to completion here (a worker thread, no loop running)."""
    return asyncio.run(resolve_target(url, allow_private=allow_private))


def _events(events: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(e.strip() for e in events if e.strip()))
    if not chosen:
        raise CoachdeskError("Choose at least one event to send (or all events).")
    if ALL_EVENTS in chosen:
        return (ALL_EVENTS,)
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise CoachdeskError(f"“{unknown[0]}” is not an event Coachdesk sends.")
    return tuple(e for e in EVENTS if e in chosen)  # in the documented order


def _description(description: str) -> str:
    text = " ".join(description.split())
    if len(text) > 500:
        raise CoachdeskError("A description has at most 500 characters.")
    return text


def _endpoint(row: Mapping[str, Any]) -> Endpoint:
    return Endpoint(
        id=str(row["id"]),
        url=str(row["url"]),
        description=str(row.get("description") or ""),
        events=tuple(str(e) for e in row.get("events") or ()),
        enabled=bool(row["enabled"]),
        disabled_reason=row.get("disabled_reason") or None,
        failing_since=_maybe_time(row.get("failure_since")),
        previous_secret_until=_maybe_time(row.get("previous_secret_expires_at")),
        created_at=_maybe_time(row.get("created_at")),
    )


def _delivery(row: Mapping[str, Any]) -> Delivery:
    body = str(row.get("response_body") or "")
    excerpt = " ".join(body.split())
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[: EXCERPT_CHARS - 1] + "…"
    code = row.get("response_status")
    latency = row.get("duration_ms")
    redelivery = row.get("redelivery_of")
    return Delivery(
        id=str(row["id"]),
        webhook_id=str(row["webhook_id"]),
        event=str(row["event"]),
        status=DeliveryStatus(row["status"]),
        attempts=int(row["attempt_count"]),
        max_attempts=int(row["max_attempts"]),
        next_retry=_maybe_time(row.get("next_attempt_at")),
        last_attempt_at=_maybe_time(row.get("last_attempt_at")),
        response_code=None if code is None else int(code),
        body_excerpt=excerpt,
        error=row.get("last_error") or None,
        latency_ms=None if latency is None else int(latency),
        created_at=_maybe_time(row.get("created_at")),
        redelivery_of=None if redelivery is None else str(redelivery),
    )


def _maybe_time(value: object) -> datetime | None:
    return parse_time(value) if value else None
