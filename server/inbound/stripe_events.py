"""Stripe events that change an org's billing: checkout completed and subscription changes.

Which org: the org whose `stripe_customer_id` is the event's customer, else the org id our
checkout put in `client_reference_id` or `metadata.org_id`. Which plan: `metadata.plan` of the
session or subscription, else the price's `metadata.plan`, else its `lookup_key`
("team_monthly" -> team). A per-seat price's quantity becomes the seat count.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import psycopg

from server.inbound.events import (
    Event,
    Handler,
    InboundError,
    get,
    integer,
    malformed,
    maybe_uuid,
    object_id,
    required_text,
    text,
)

PLANS = ("free", "team", "business", "enterprise")
# Subscription states that keep the paid plan; past_due keeps access while Stripe retries the
# card (its dunning), the others fall back to free.
PAID_STATUSES = frozenset({"active", "trialing", "past_due"})


def event_from_stripe(values: Mapping[str, Any]) -> Event:
    """Our Event from a verified Stripe event (as a plain dict)."""
    event_id = text(values, "id")
    event_type = text(values, "type")
    obj = get(values, "data.object")
    created = integer(values, "created")
    if not event_id or not event_type or not isinstance(obj, Mapping) or created is None:
        raise InboundError(
            400, "malformed_body", "a Stripe event needs id, type, created and data.object"
        )
    return Event("stripe", event_id, event_type, obj, datetime.fromtimestamp(created, UTC))


def _plan_name(value: str | None) -> str | None:
    if value is None:
        return None
    name = value.lower().split("_", 1)[0]
    return name if name in PLANS else None


def _first_item(subscription: Mapping[str, Any]) -> Mapping[str, Any]:
    items = get(subscription, "items.data")
    if isinstance(items, list) and items and isinstance(items[0], Mapping):
        return items[0]
    return {}


def subscription_plan(subscription: Mapping[str, Any]) -> str:
    item = _first_item(subscription)
    for source in (
        text(subscription, "metadata.plan"),
        text(item, "price.metadata.plan"),
        text(item, "price.lookup_key"),
    ):
        plan = _plan_name(source)
        if plan:
            return plan
    raise malformed(
        "the subscription names no known plan (metadata.plan, price.metadata.plan or "
        f"price.lookup_key starting with one of {', '.join(PLANS)})"
    )


async def _org(conn: psycopg.AsyncConnection[Any], customer: str | None, hint: Any) -> Any:
    cur = await conn.execute("select private.stripe_org(%s, %s)", (customer, maybe_uuid(hint)))
    row = await cur.fetchone()
    org = row[0] if row else None
    if org is None:
        # Stripe does not order events: a subscription event can come before the checkout that
        # links its customer. Refusing (nothing written) makes Stripe retry it later.
        raise InboundError(
            422, "unknown_org", f"no org has Stripe customer {customer or '(none)'} yet"
        )
    return org


async def _apply(
    conn: psycopg.AsyncConnection[Any],
    event: Event,
    org: Any,
    *,
    customer: str | None,
    subscription: str | None,
    status: str | None,
    plan: str | None,
    seats: int | None,
) -> str:
    cur = await conn.execute(
        "select private.apply_stripe_billing(%s, %s, %s, %s, %s::public.org_plan, %s, %s)",
        (org, customer, subscription, status, plan, seats, event.created),
    )
    row = await cur.fetchone()
    return str(row[0]) if row else "applied"


async def checkout_completed(conn: psycopg.AsyncConnection[Any], event: Event) -> str:
    session = event.data
    customer = object_id(session, "customer")
    hint = text(session, "client_reference_id") or text(session, "metadata.org_id")
    plan = text(session, "metadata.plan")
    if plan is not None and plan not in PLANS:
        raise malformed(f"metadata.plan must be one of {', '.join(PLANS)} (got {plan!r})")
    org = await _org(conn, customer, hint)
    return await _apply(
        conn,
        event,
        org,
        customer=customer,
        subscription=object_id(session, "subscription"),
        status=None,
        plan=plan,
        seats=integer(session, "metadata.seats") if plan else None,
    )


async def subscription_changed(conn: psycopg.AsyncConnection[Any], event: Event) -> str:
    subscription = event.data
    customer = object_id(subscription, "customer")
    if customer is None:
        raise malformed("data.object.customer is missing")
    status = required_text(subscription, "status")
    deleted = event.type == "customer.subscription.deleted"
    paid = not deleted and status in PAID_STATUSES
    org = await _org(conn, customer, text(subscription, "metadata.org_id"))
    plan = subscription_plan(subscription) if paid else "free"
    return await _apply(
        conn,
        event,
        org,
        customer=customer,
        subscription=text(subscription, "id"),
        status="canceled" if deleted else status,
        plan=plan,
        seats=integer(_first_item(subscription), "quantity") if paid else None,
    )


HANDLERS: dict[str, Handler] = {
    "checkout.session.completed": checkout_completed,
    "customer.subscription.created": subscription_changed,
    "customer.subscription.updated": subscription_changed,
    "customer.subscription.deleted": subscription_changed,
}
