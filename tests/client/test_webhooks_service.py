"""The Webhooks service against the real local stack, and the real dispatcher sending to a real
receiver on 127.0.0.1 that verifies every request with the reference `standardwebhooks` library
(only the customer's endpoint is faked, at the HTTP boundary).

Each test works in an org of its own (`fresh_org`, deleted with its endpoints and deliveries).
The dispatcher is run one batch at a time (`dispatch_once`), so nothing is sent behind a test's
back; dead-lettering is reached by giving the delivery a single attempt, not by waiting.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from stack_fixtures import DEMO_PASSWORD
from stack_fixtures import FreshOrg as Org

from app.client.views import PermissionDenied
from app.client.webhooks import EVENTS, DeliveryStatus, WebhooksService
from app.errors import CoachdeskError
from server.webhooks.testing import Receiver, start_receiver
from server.webhooks.worker import Dispatcher, DispatcherConfig

# A public address literal: the sandbox resolves no names, and the dispatcher's check resolves
# every host (a name that does not resolve is refused as the dispatcher would refuse it).
PUBLIC = "https://93.184.215.14"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = start_receiver()
    yield server
    server.stop()


@pytest.fixture
def admin(fresh_org: Org, backend_for) -> WebhooksService:
    """The fresh org's admin, in local mode (the receiver is on 127.0.0.1)."""
    return WebhooksService(backend_for(fresh_org.emails["admin"]), allow_private_targets=True)


def dispatch_once(dsn: str) -> int:
    """One batch through the real dispatcher in local mode; returns how many it claimed."""
    config = DispatcherConfig(dsn, allow_private_targets=True, timeout_s=5.0, reap_stale_s=60.0)

    async def once() -> int:
        async with Dispatcher(config) as dispatcher:
            return await dispatcher.run_once()

    return asyncio.run(once())


def hooked(admin: WebhooksService, receiver: Receiver, events=("*",)):
    """An endpoint at a fresh path of the receiver, which verifies with its secret."""
    path = f"/hooks/{uuid.uuid4().hex}"
    created = admin.create(f"{receiver.base_url}{path}", events, "CRM")
    receiver.endpoint(path, created.secret)
    return created, path


def test_the_events_offered_are_the_databases(db):
    [(known,)] = db.execute("select private.webhook_event_types()").fetchall()
    assert tuple(known) == EVENTS


def test_private_urls_are_refused_with_the_dispatchers_words(fresh_org, backend_for):
    hosted = WebhooksService(backend_for(fresh_org.emails["admin"]), allow_private_targets=False)
    for url, words in (
        ("http://127.0.0.1:8080/hook", "127.0.0.1 is a loopback address"),
        ("http://10.1.2.3/hook", "10.1.2.3 is a private address"),
        ("http://169.254.169.254/latest", "is a link-local address"),
    ):
        with pytest.raises(CoachdeskError, match=words) as refused:
            hosted.create(url, ["*"])
        assert "private targets are allowed only in local mode" in str(refused.value)
    with pytest.raises(CoachdeskError, match="must not contain credentials"):
        hosted.create("https://user:pw@93.184.215.14/x", ["*"])
    with pytest.raises(CoachdeskError, match="only http and https"):
        hosted.create("ftp://93.184.215.14/x", ["*"])
    assert hosted.endpoints() == []


def test_local_mode_follows_the_server(fresh_org, backend_for):
    """Against the local stack (127.0.0.1) the service allows what its dispatcher sends to."""
    service = WebhooksService(backend_for(fresh_org.emails["admin"]))
    assert service.check_url("http://127.0.0.1:9/hook") == "http://127.0.0.1:9/hook"


def test_create_returns_the_secret_once_and_the_list_never(admin, fresh_org):
    created = admin.create(f" {PUBLIC}/coachdesk ", ["member.added"], " CRM ")
    assert created.secret.startswith("whsec_")
    assert created.endpoint.url == f"{PUBLIC}/coachdesk"
    assert created.endpoint.events == ("member.added",)
    assert created.endpoint.description == "CRM"
    assert created.endpoint.enabled
    [listed] = admin.endpoints()
    assert listed == created.endpoint
    assert created.secret not in repr(listed)
    stored = fresh_org.one("select secret from webhooks where id = %s", (listed.id,))
    assert stored["secret"] == created.secret


def test_update_enable_disable_and_delete(admin, fresh_org):
    made = admin.create(f"{PUBLIC}/a", ["*"]).endpoint
    assert made.all_events and made.events_text == "All events"
    changed = admin.update(made.id, url=f"{PUBLIC}/b", events=["attempt.scored"])
    assert (changed.url, changed.events) == (f"{PUBLIC}/b", ("attempt.scored",))
    off = admin.update(made.id, enabled=False)
    assert not off.enabled and off.disabled_reason == "disabled by an admin"
    with pytest.raises(CoachdeskError, match="disabled: enable it first"):
        admin.send_test(made.id)
    on = admin.update(made.id, enabled=True)
    assert on.enabled and on.disabled_reason is None
    with pytest.raises(CoachdeskError, match="must not contain a #fragment"):
        admin.update(made.id, url=f"{PUBLIC}/#x")
    with pytest.raises(CoachdeskError, match="at least one event"):
        admin.update(made.id, events=[])
    admin.delete(made.id)
    assert admin.endpoints() == []
    with pytest.raises(CoachdeskError, match="Nothing was changed"):
        admin.delete(made.id)


def test_send_test_is_delivered_signed_and_logged(admin, receiver, stack):
    created, path = hooked(admin, receiver, events=("member.added",))
    delivery = admin.send_test(created.endpoint.id)
    [queued] = admin.deliveries(created.endpoint.id).deliveries
    assert (queued.id, queued.event, queued.status) == (delivery, "webhook.test", "pending")

    assert dispatch_once(stack.dsn) >= 1

    [got] = receiver.for_path(path)
    assert got.error is None, got.error  # verified with the secret create() returned
    assert got.payload["type"] == "webhook.test"
    assert got.payload["data"] == {
        "org_id": admin._org(),
        "webhook_id": created.endpoint.id,
        "test": True,
    }
    page = admin.deliveries(created.endpoint.id)
    [sent] = page.deliveries
    assert not page.more
    assert sent.status is DeliveryStatus.SUCCEEDED
    assert (sent.attempts, sent.response_code, sent.body_excerpt) == (1, 200, "answered 200")
    assert sent.latency_ms is not None and sent.latency_ms >= 0
    assert sent.next_retry is None and sent.error is None
    assert admin.deliveries(created.endpoint.id, "dead").deliveries == []


def test_rotation_signs_with_both_secrets_for_24_hours(admin, receiver, stack):
    created, path = hooked(admin, receiver)
    rotated = admin.rotate_secret(created.endpoint.id)
    assert rotated.secret.startswith("whsec_") and rotated.secret != created.secret
    assert rotated.previous_until is not None
    left = rotated.previous_until - datetime.now(UTC)
    assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)
    [listed] = admin.endpoints()
    assert listed.previous_secret_until == rotated.previous_until

    # A receiver still on the old secret verifies (the secret create() gave is registered).
    admin.send_test(created.endpoint.id)
    dispatch_once(stack.dsn)
    [got] = receiver.for_path(path)
    assert got.error is None, got.error
    signatures = got.headers["webhook-signature"].split()
    assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)


def test_a_failing_receiver_goes_dead_and_is_redelivered(admin, receiver, stack, fresh_org):
    created, path = hooked(admin, receiver)
    endpoint = created.endpoint.id
    first = admin.send_test(endpoint)
    # One attempt allowed: the first failure is the last (the schedule is the database's).
    fresh_org.conn.execute("update webhook_deliveries set max_attempts = 1 where id = %s", (first,))
    receiver.status = 503
    dispatch_once(stack.dsn)

    [dead] = admin.deliveries(endpoint, DeliveryStatus.DEAD).deliveries
    assert dead.id == first
    assert (dead.attempts, dead.response_code, dead.error) == (1, 503, "HTTP 503")
    assert dead.body_excerpt == "answered 503"
    assert dead.next_retry is None

    receiver.status = 200
    copy = admin.redeliver(first)
    assert admin.redeliver_all_dead(endpoint) == 0  # the one dead delivery is redelivered
    dispatch_once(stack.dsn)
    done = admin.deliveries(endpoint, "succeeded").deliveries
    assert [(d.id, d.redelivery_of) for d in done] == [(copy, first)]
    first_sent, again = receiver.for_path(path)
    assert first_sent.headers["webhook-id"] == again.headers["webhook-id"]  # deduplicable

    # Several dead ones at once.
    for _ in range(3):
        fresh_org.conn.execute(
            "update webhook_deliveries set max_attempts = 1 where id = %s",
            (admin.send_test(endpoint),),
        )
    receiver.status = 500
    dispatch_once(stack.dsn)
    assert len(admin.deliveries(endpoint, "dead").deliveries) == 4
    assert admin.redeliver_all_dead(endpoint) == 3
    assert admin.redeliver_all_dead(endpoint) == 0
    assert len(admin.deliveries(endpoint, "pending").deliveries) == 3


def test_the_log_pages_newest_first(admin):
    endpoint = admin.create(f"{PUBLIC}/p", ["*"]).endpoint.id
    sent = [admin.send_test(endpoint) for _ in range(5)]
    first = admin.deliveries(endpoint, limit=3)
    second = admin.deliveries(endpoint, offset=3, limit=3)
    assert first.more and not second.more
    assert {d.id for d in first.deliveries + second.deliveries} == set(sent)
    stamps = [d.created_at for d in first.deliveries + second.deliveries]
    assert stamps == sorted(stamps, reverse=True)


def test_a_manager_is_refused_in_words(backend_for, accounts, admin):
    endpoint = admin.create(f"{PUBLIC}/m", ["*"]).endpoint.id
    manager = WebhooksService(backend_for(accounts["manager"], DEMO_PASSWORD))
    for call in (
        manager.endpoints,
        lambda: manager.create(f"{PUBLIC}/x", ["*"]),
        lambda: manager.rotate_secret(endpoint),
        lambda: manager.send_test(endpoint),
        lambda: manager.redeliver_all_dead(endpoint),
    ):
        with pytest.raises(PermissionDenied, match="Only an admin"):
            call()


def test_the_database_refuses_another_orgs_admin_in_words(backend_for, accounts, admin):
    """Not the service's shortcut: the database's refusal, worded (an admin, the wrong org)."""
    endpoint = admin.create(f"{PUBLIC}/o", ["*"]).endpoint.id
    other = WebhooksService(backend_for(accounts["admin"], DEMO_PASSWORD))
    for call in (lambda: other.rotate_secret(endpoint), lambda: other.send_test(endpoint)):
        with pytest.raises(PermissionDenied, match="Only an admin"):
            call()
    assert all(e.id != endpoint for e in other.endpoints())
