"""`/webhooks/stripe` over real HTTP: payloads signed with the `stripe` library's own helper,
verified by `stripe.Webhook.construct_event` in the receiver, applied to the real database.

After every refusal the test checks that nothing was written: no idempotency row and the org as
it was.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
import stripe
from integration_support import arrange_fixture  # noqa: F401 (fixture)

from server.db.cluster import free_port
from server.integrations import InboundServer, start_inbound

SECRET = f"whsec_{secrets.token_hex(16)}"
TEAM = {"seats": 10, "active_scenarios": 10, "retention_days": 90}
BUSINESS = {"seats": 50, "active_scenarios": 25, "retention_days": 365}
FREE = {"seats": 5, "active_scenarios": 3, "retention_days": 30}


@pytest.fixture(scope="module")
def inbound(database_dsn: str) -> Iterator[InboundServer]:
    server = start_inbound(
        database_dsn, port=free_port(), stripe_secret=SECRET, clerk_secret=None, lock_timeout_ms=300
    )
    yield server
    server.stop()


def event(kind: str, obj: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "id": fields.get("id", f"evt_{uuid.uuid4().hex}"),
        "object": "event",
        "type": kind,
        "created": fields.get("created", int(time.time())),
        "livemode": False,
        "data": {"object": obj},
    }


def post(
    inbound: InboundServer,
    body: dict[str, Any] | str,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    header: str | None = None,
) -> httpx.Response:
    text = body if isinstance(body, str) else json.dumps(body)
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(text, secret, timestamp)
    headers = {"content-type": "application/json"}
    if header:
        headers["stripe-signature"] = header
    return httpx.post(f"{inbound.url}/webhooks/stripe", content=text.encode(), headers=headers)


def subscription(customer: str, *, status: str = "active", **extra: Any) -> dict[str, Any]:
    obj = {
        "id": f"sub_{uuid.uuid4().hex[:14]}",
        "object": "subscription",
        "customer": customer,
        "status": status,
        "metadata": {},
        "items": {
            "object": "list",
            "data": [{"price": {"lookup_key": "business_monthly", "metadata": {}}, "quantity": 1}],
        },
    }
    obj.update(extra)
    return obj


def billing(arrange, org: str) -> dict[str, Any]:
    return arrange.one(
        "select plan::text, entitlements, stripe_customer_id from orgs where id = %s", (org,)
    )


def recorded(arrange, event_id: str) -> int:
    return arrange.one(
        "select count(*) as n from private.inbound_events where provider = 'stripe'"
        " and event_id = %s",
        (event_id,),
    )["n"]


def linked_org(arrange, customer: str | None = None) -> tuple[str, str]:
    """A fresh org on the free plan, linked to a fresh Stripe customer."""
    org = arrange.org(plan="free")
    customer = customer or f"cus_{uuid.uuid4().hex[:14]}"
    arrange.conn.execute("update orgs set stripe_customer_id = %s where id = %s", (customer, org))
    return org, customer


def test_the_test_header_is_what_stripe_accepts():
    body = json.dumps(event("checkout.session.completed", {"id": "cs_1"}))
    header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
    assert stripe.Webhook.construct_event(body, header, SECRET).id.startswith("evt_")


def test_checkout_links_the_customer_and_sets_the_plan(arrange, inbound):
    org = arrange.org(plan="free")
    customer = f"cus_{uuid.uuid4().hex[:14]}"
    session = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "client_reference_id": org,
        "customer": customer,
        "subscription": "sub_123",
        "metadata": {"plan": "team"},
    }
    response = post(inbound, event("checkout.session.completed", session))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "applied"}
    assert billing(arrange, org) == {
        "plan": "team",
        "entitlements": TEAM,
        "stripe_customer_id": customer,
    }


def test_subscription_events_set_plan_and_seats(arrange, inbound):
    org, customer = linked_org(arrange)
    now = int(time.time())

    created = post(
        inbound, event("customer.subscription.created", subscription(customer), created=now)
    )
    assert created.json() == {"status": "applied"}
    assert billing(arrange, org)["entitlements"] == BUSINESS

    # A per-seat quantity above what the plan includes raises the seat count.
    more = subscription(
        customer, items={"data": [{"price": {"lookup_key": "team"}, "quantity": 40}]}
    )
    post(inbound, event("customer.subscription.updated", more, created=now + 1))
    assert billing(arrange, org) | {} == {
        "plan": "team",
        "entitlements": TEAM | {"seats": 40},
        "stripe_customer_id": customer,
    }

    deleted = post(
        inbound,
        event(
            "customer.subscription.deleted",
            subscription(customer, status="canceled"),
            created=now + 2,
        ),
    )
    assert deleted.json() == {"status": "applied"}
    assert billing(arrange, org)["plan"] == "free"
    assert billing(arrange, org)["entitlements"] == FREE


def test_unpaid_subscription_falls_back_to_free(arrange, inbound):
    org, customer = linked_org(arrange)
    post(inbound, event("customer.subscription.updated", subscription(customer, status="unpaid")))
    assert billing(arrange, org)["plan"] == "free"


def test_an_older_event_arriving_late_changes_nothing(arrange, inbound):
    org, customer = linked_org(arrange)
    now = int(time.time())
    post(inbound, event("customer.subscription.updated", subscription(customer), created=now))
    late = event(
        "customer.subscription.deleted", subscription(customer, status="canceled"), created=now - 60
    )
    response = post(inbound, late)
    assert response.json() == {"status": "superseded"}
    assert billing(arrange, org)["plan"] == "business"
    outcome = arrange.one(
        "select outcome from private.inbound_events where event_id = %s", (late["id"],)
    )
    assert outcome == {"outcome": "superseded"}


def test_a_replayed_event_id_is_a_no_op(arrange, inbound):
    org, customer = linked_org(arrange)
    first = event("customer.subscription.created", subscription(customer))
    assert post(inbound, first).json() == {"status": "applied"}
    # Someone changes the plan by hand; the replay must not undo that.
    arrange.conn.execute("update orgs set plan = 'enterprise' where id = %s", (org,))

    again = post(inbound, first)

    assert again.status_code == 200
    assert again.json() == {"status": "duplicate"}
    assert billing(arrange, org)["plan"] == "enterprise"
    assert recorded(arrange, first["id"]) == 1


def test_concurrent_deliveries_of_one_event_apply_it_once(arrange, inbound):
    org, customer = linked_org(arrange)
    body = event("customer.subscription.created", subscription(customer))
    answers: list[dict[str, Any]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(post(inbound, body).json()))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a["status"] for a in answers) == [
        "applied",
        "duplicate",
        "duplicate",
        "duplicate",
    ]
    assert billing(arrange, org)["plan"] == "business"


@pytest.mark.parametrize(
    ("case", "status", "code"),
    [
        ("wrong secret", 401, "invalid_signature"),
        ("tampered body", 401, "invalid_signature"),
        ("stale timestamp", 401, "stale_timestamp"),
        ("no header", 400, "missing_signature"),
        ("garbage header", 401, "invalid_signature"),
        ("malformed json", 400, "malformed_body"),
        ("json array", 400, "malformed_body"),
        ("not an event", 400, "malformed_body"),
    ],
)
def test_refusals_write_nothing(arrange, inbound, case, status, code):
    org, customer = linked_org(arrange)
    body = event("customer.subscription.created", subscription(customer))
    text = json.dumps(body)
    if case == "wrong secret":
        response = post(inbound, body, secret="whsec_not_the_secret")
    elif case == "tampered body":
        header = stripe.WebhookSignature.generate_signature_header(text, SECRET)
        response = post(inbound, text.replace("business_monthly", "enterprise"), header=header)
    elif case == "stale timestamp":
        response = post(inbound, body, timestamp=int(time.time()) - 301)
    elif case == "no header":
        response = post(inbound, body, header="")
    elif case == "garbage header":
        response = post(inbound, body, header="t=abc,v1")
    elif case == "malformed json":
        response = post(inbound, text[:-5])
    elif case == "json array":
        response = post(inbound, json.dumps([body]))
    else:
        response = post(inbound, json.dumps({"id": body["id"], "object": "event"}))

    assert response.status_code == status, response.text
    assert response.json()["error"] == code
    assert recorded(arrange, body["id"]) == 0
    assert billing(arrange, org) == {
        "plan": "free",
        "entitlements": {},
        "stripe_customer_id": customer,
    }


def test_a_fresh_timestamp_just_inside_tolerance_is_accepted(arrange, inbound):
    org, customer = linked_org(arrange)
    body = event("customer.subscription.created", subscription(customer))
    assert post(inbound, body, timestamp=int(time.time()) - 290).status_code == 200
    assert billing(arrange, org)["plan"] == "business"


def test_unknown_event_types_are_acknowledged_and_ignored(arrange, inbound):
    body = event("invoice.paid", {"id": "in_1", "customer": "cus_x"})
    response = post(inbound, body)
    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "reason": "event type not handled"}
    assert recorded(arrange, body["id"]) == 0


@pytest.mark.parametrize(
    ("obj", "code"),
    [
        ({"customer": "cus_nobody_knows", "status": "active"}, "unknown_org"),
        ({"status": "active"}, "malformed_event"),  # no customer
        ({"customer": "LINKED"}, "malformed_event"),  # no status
        ({"customer": "LINKED", "status": "active", "items": {"data": []}}, "malformed_event"),
        (
            {"customer": "LINKED", "status": "active", "metadata": {"plan": "platinum"}},
            "malformed_event",
        ),
    ],
)
def test_events_we_cannot_apply_are_refused_with_422(arrange, inbound, obj, code):
    org, customer = linked_org(arrange)
    obj = {k: (customer if v == "LINKED" else v) for k, v in obj.items()}
    body = event("customer.subscription.updated", {"id": "sub_x", **obj})
    response = post(inbound, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == code
    assert recorded(arrange, body["id"]) == 0
    assert billing(arrange, org)["plan"] == "free"


def test_a_failing_handler_answers_500_and_the_retry_applies(arrange, inbound, database_dsn):
    org, customer = linked_org(arrange)
    body = event("customer.subscription.created", subscription(customer))
    # Another transaction holds the org row: the handler's update times out (lock_timeout).
    with psycopg.connect(database_dsn) as blocker:
        blocker.execute("select 1 from orgs where id = %s for update", (org,))
        response = post(inbound, body)
        assert response.status_code == 500
        assert response.json()["error"] == "handler_failed"
        blocker.rollback()
    assert recorded(arrange, body["id"]) == 0
    assert billing(arrange, org)["plan"] == "free"

    retried = post(inbound, body)  # Stripe's retry
    assert retried.json() == {"status": "applied"}
    assert billing(arrange, org)["plan"] == "business"


def test_the_customers_own_org_wins_over_client_reference_id(arrange, inbound):
    _, customer = linked_org(arrange)
    other = arrange.org(plan="free")
    session = {"id": "cs_2", "client_reference_id": other, "customer": customer, "metadata": {}}
    body = event("checkout.session.completed", session)
    # The customer's own org wins the lookup, so nothing moves to `other`.
    response = post(inbound, body)
    assert response.status_code == 200
    assert billing(arrange, other)["stripe_customer_id"] is None


def test_not_configured_answers_503(database_dsn):
    server = start_inbound(database_dsn, port=free_port(), stripe_secret=None, clerk_secret=None)
    try:
        response = httpx.post(f"{server.url}/webhooks/stripe", content=b"{}")
        assert response.status_code == 503
        assert "STRIPE_WEBHOOK_SECRET" in response.json()["message"]
    finally:
        server.stop()
