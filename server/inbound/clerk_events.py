"""Clerk events (delivered through Svix): users and organisation memberships.

Clerk's ids map to ours in `private.clerk_users` and `private.clerk_orgs`. A membership for an
org we have not seen links the org named by its `public_metadata.coachdesk_org_id`, or creates a
free org; a membership for a user we have not seen creates the user first (Svix does not order
events). A Clerk user is linked to an existing account only when Clerk verified the address and
the account confirmed it; anything else with the same address is refused, never merged.
Roles "org:admin|manager|hr" map to ours; any other role becomes trainee.
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
    required_text,
    text,
)


def event_from_clerk(message_id: str, values: Any) -> Event:
    """Our Event from a verified Svix message: Clerk's {type, data, timestamp} envelope."""
    if not isinstance(values, Mapping):
        raise InboundError(400, "malformed_body", "a Clerk event must be a JSON object")
    event_type = values.get("type")
    data = values.get("data")
    if not isinstance(event_type, str) or not isinstance(data, Mapping):
        raise InboundError(400, "malformed_body", "a Clerk event needs type and a data object")
    stamp = integer(values, "timestamp")
    created = datetime.fromtimestamp(stamp / 1000, UTC) if stamp else datetime.now(UTC)
    return Event("clerk", message_id, event_type, data, created)


def _full_name(first: str | None, last: str | None, fallback: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part)
    return name or fallback


def _primary_email(user: Mapping[str, Any]) -> tuple[str | None, bool]:
    """The primary address and whether Clerk verified it."""
    primary = text(user, "primary_email_address_id")
    addresses = get(user, "email_addresses")
    if addresses is not None and not isinstance(addresses, list):
        raise malformed("data.email_addresses must be a list")
    for address in addresses or []:
        if isinstance(address, Mapping) and (primary is None or address.get("id") == primary):
            email = text(address, "email_address")
            return email, text(address, "verification.status") == "verified"
    return None, False


async def _scalar(conn: psycopg.AsyncConnection[Any], sql: str, params: tuple[Any, ...]) -> Any:
    cur = await conn.execute(sql, params)
    row = await cur.fetchone()
    return row[0] if row else None


async def user_upserted(conn: psycopg.AsyncConnection[Any], event: Event) -> str:
    user = event.data
    email, verified = _primary_email(user)
    name = _full_name(text(user, "first_name"), text(user, "last_name"), text(user, "username"))
    await _scalar(
        conn,
        "select private.clerk_upsert_user(%s, %s, %s, %s, %s)",
        (required_text(user, "id"), email, verified, name, integer(user, "updated_at") or 0),
    )
    return "applied"


async def user_deleted(conn: psycopg.AsyncConnection[Any], event: Event) -> str:
    found = await _scalar(
        conn, "select private.clerk_delete_user(%s)", (required_text(event.data, "id"),)
    )
    return "applied" if found else "unknown_user"


async def membership_upserted(conn: psycopg.AsyncConnection[Any], event: Event) -> str:
    data = event.data
    person = get(data, "public_user_data")
    await _scalar(
        conn,
        "select private.clerk_upsert_membership(%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            required_text(data, "organization.id"),
            text(data, "organization.name"),
            text(data, "organization.slug"),
            maybe_uuid(text(data, "organization.public_metadata.coachdesk_org_id")),
            required_text(data, "public_user_data.user_id"),
            text(person, "identifier"),
            _full_name(text(person, "first_name"), text(person, "last_name"), None),
            required_text(data, "role"),
        ),
    )
    return "applied"


async def membership_deleted(conn: psycopg.AsyncConnection[Any], event: Event) -> str:
    found = await _scalar(
        conn,
        "select private.clerk_delete_membership(%s, %s)",
        (
            required_text(event.data, "organization.id"),
            required_text(event.data, "public_user_data.user_id"),
        ),
    )
    return "applied" if found else "unknown_membership"


HANDLERS: dict[str, Handler] = {
    "user.created": user_upserted,
    "user.updated": user_upserted,
    "user.deleted": user_deleted,
    "organizationMembership.created": membership_upserted,
    "organizationMembership.updated": membership_upserted,
    "organizationMembership.deleted": membership_deleted,
}
