"""Outbound webhooks: endpoints, the delivery outbox and the dispatcher's functions.

Everything acts through the `authenticator` login as API roles with real claims; one
transaction switches between the service role (arranging, dispatching) and org members, and is
rolled back. The concurrency tests commit a throwaway org, because a second connection only
sees committed rows, and remove it afterwards.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from db_support import Claims, Seed, act, score_queued
from psycopg.rows import dict_row
from standardwebhooks.webhooks import Webhook

from server.db.testing import with_dbname

DEMO, GLOBEX = Seed.DEMO_ORG, Seed.GLOBEX_ORG
USER = {key: Seed.USERS[key][0] for key in Seed.USERS}
SERVICE = Claims(sub=None, role="service_role")
OUTSIDERS = ("manager", "trainee", "hr", "globex_admin")
SECRET = re.compile(r"^whsec_([A-Za-z0-9+/]+={0,2})$")
ALL_EVENTS = (
    "attempt.scored",
    "attempt.uploaded",
    "assignment.created",
    "assignment.completed",
    "track.completed",
    "member.added",
    "member.removed",
    "export.ready",
)
TRANSCRIPT = {
    "version": 1,
    "turns": [
        {"speaker": "persona", "start": 0, "end": 2, "text": "Who is this?"},
        {"speaker": "rep", "start": 2, "end": 8, "text": "Could we book a demo to save you time?"},
    ],
}


def add_webhook(
    conn: psycopg.Connection,
    org: str = DEMO,
    events: tuple[str, ...] = ("*",),
    *,
    enabled: bool = True,
) -> str:
    """An endpoint created by the service role (the role is left switched to it)."""
    act(conn, SERVICE)
    return conn.execute(
        "insert into webhooks (org_id, url, events, enabled) values (%s, %s, %s, %s)"
        " returning id::text",
        (org, f"https://hooks.example.com/{uuid.uuid4()}", list(events), enabled),
    ).fetchone()["id"]


def enqueue(conn: psycopg.Connection, event: str, data: dict[str, Any]) -> set[str]:
    act(conn, SERVICE)
    rows = conn.execute(
        "select id::text from enqueue_webhook(%s, %s::jsonb) as id", (event, json.dumps(data))
    ).fetchall()
    return {r["id"] for r in rows}


def claim(conn: psycopg.Connection, worker: str = "w1", batch: int = 100) -> list[dict[str, Any]]:
    act(conn, SERVICE)
    return conn.execute(
        "select id::text, webhook_id::text, status::text, attempt_count, locked_by"
        " from claim_webhook_deliveries(%s, %s)",
        (worker, batch),
    ).fetchall()


def record(
    conn: psycopg.Connection,
    delivery: str,
    status: int | None,
    body: str | None = "ok",
    error: str | None = None,
) -> dict[str, Any]:
    """Record an attempt; returns the row plus `wait`, the seconds until the next attempt."""
    act(conn, SERVICE)
    return conn.execute(
        "select status::text, attempt_count, response_status, response_body, last_error,"
        " duration_ms, locked_at, last_attempt_at,"
        " extract(epoch from next_attempt_at - now())::float as wait"
        " from record_webhook_attempt(%s, %s, %s, %s, 42)",
        (delivery, status, body, error),
    ).fetchone()


def delivery_row(conn: psycopg.Connection, delivery: str) -> dict[str, Any]:
    act(conn, SERVICE)
    return conn.execute(
        "select *, status::text as state, extract(epoch from next_attempt_at - now())::float"
        " as wait from webhook_deliveries where id = %s",
        (delivery,),
    ).fetchone()


def one_delivery(conn: psycopg.Connection, webhook: str) -> str:
    """Enqueue an event for DEMO and return the delivery created for `webhook`."""
    created = enqueue(conn, "member.removed", {"org_id": DEMO, "user_id": USER["trainee2"]})
    return conn.execute(
        "select id::text from webhook_deliveries where webhook_id = %s and id = any(%s::uuid[])",
        (webhook, list(created)),
    ).fetchone()["id"]


@pytest.fixture
def conn(api) -> psycopg.Connection:
    """The API connection in a fresh transaction, acting as the service role."""
    return api.become(SERVICE)


# Endpoints: who may see and manage them ---------------------------------------------------------


def test_admin_creates_and_rotates_and_sees_each_secret_only_once(conn):
    act(conn, "admin")
    made = conn.execute(
        "select create_webhook('https://crm.example.com/coachdesk', '{attempt.scored}',"
        " 'CRM sync') as made"
    ).fetchone()["made"]
    assert SECRET.match(made["secret"])
    created = conn.execute(
        "select id::text, enabled, created_by::text, org_id::text from webhooks"
    ).fetchone()
    assert created == {
        "id": made["id"],
        "enabled": True,
        "created_by": USER["admin"],
        "org_id": DEMO,
    }
    for column in ("secret", "previous_secret", "*"):
        conn.execute("savepoint read")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"select {column} from webhooks")
        conn.execute("rollback to savepoint read")

    fresh = conn.execute("select rotate_webhook_secret(%s) as s", (made["id"],)).fetchone()["s"]
    assert SECRET.match(fresh)
    assert fresh != made["secret"]
    act(conn, SERVICE)
    stored = conn.execute(
        "select secret, previous_secret, previous_secret_expires_at - now() as grace"
        " from webhooks where id = %s",
        (made["id"],),
    ).fetchone()
    assert stored["secret"] == fresh
    assert stored["previous_secret"] == made["secret"]
    assert stored["grace"] == dt.timedelta(hours=24)


def test_only_an_admin_of_the_current_org_creates_an_endpoint(conn):
    for role in ("manager", "trainee"):
        act(conn, role)
        conn.execute("savepoint attempt")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select create_webhook('https://crm.example.com/x', '{attempt.scored}')")
        conn.execute("rollback to savepoint attempt")
    act(conn, "admin")
    with pytest.raises(psycopg.errors.CheckViolation):
        conn.execute("select create_webhook('ftp://crm.example.com/x', '{attempt.scored}')")


def test_admin_updates_and_deletes_an_endpoint(conn):
    act(conn, "admin")
    hook = conn.execute(
        "insert into webhooks (org_id, url, events) values (%s, 'https://a.example.com', '{*}')"
        " returning id",
        (DEMO,),
    ).fetchone()["id"]
    changed = conn.execute(
        "update webhooks set url = 'https://b.example.com/x', events = '{member.added}'"
        " where id = %s returning url, events",
        (hook,),
    ).fetchall()
    assert changed == [{"url": "https://b.example.com/x", "events": ["member.added"]}]
    deleted = conn.execute("delete from webhooks where id = %s returning id", (hook,)).fetchall()
    assert len(deleted) == 1


def test_secrets_are_standard_webhooks_keys_unique_per_endpoint(conn):
    act(conn, "admin")
    secrets = [
        conn.execute(
            "select create_webhook(%s, '{*}') ->> 'secret' as secret",
            (f"https://hooks.example.com/{n}",),
        ).fetchone()["secret"]
        for n in range(8)
    ]
    assert len(set(secrets)) == len(secrets)
    for secret in secrets:
        match = SECRET.match(secret)
        assert match, secret
        assert len(base64.b64decode(match[1], validate=True)) >= 24
    # The reference implementation accepts the key: what it signs, it verifies.
    hook = Webhook(secrets[0])
    now = dt.datetime.now(dt.UTC)
    body = '{"type":"member.added"}'
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": hook.sign("msg_1", now, body),
    }
    assert hook.verify(body, headers) == {"type": "member.added"}


@pytest.mark.parametrize("column", ["secret", "previous_secret", "failure_since", "created_by"])
def test_clients_cannot_write_server_columns(conn, column):
    hook = add_webhook(conn)
    act(conn, "admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(f"update webhooks set {column} = null where id = %s", (hook,))


def test_clients_cannot_choose_the_secret_on_insert(conn):
    act(conn, "admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(
            "insert into webhooks (org_id, url, events, secret)"
            " values (%s, 'https://a.example.com', '{*}', 'whsec_bad')",
            (DEMO,),
        )


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_see_no_endpoints_or_deliveries(conn, who):
    hook = add_webhook(conn)
    assert one_delivery(conn, hook)
    act(conn, who)
    assert conn.execute("select count(*) as n from webhooks").fetchone()["n"] == 0
    assert conn.execute("select count(*) as n from webhook_deliveries").fetchone()["n"] == 0
    assert conn.execute("update webhooks set enabled = false returning id").fetchall() == []
    assert conn.execute("delete from webhooks returning id").fetchall() == []


@pytest.mark.parametrize("who", OUTSIDERS)
def test_outsiders_cannot_create_endpoints_in_the_demo_org(conn, who):
    act(conn, who)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn.execute(
            "insert into webhooks (org_id, url, events)"
            " values (%s, 'https://a.example.com', '{*}') returning id",
            (DEMO,),
        )


def test_each_admin_sees_only_their_own_orgs_endpoints(conn):
    demo_hook = add_webhook(conn, DEMO)
    globex_hook = add_webhook(conn, GLOBEX)
    act(conn, "admin")
    assert [r["id"] for r in conn.execute("select id::text from webhooks")] == [demo_hook]
    act(conn, "globex_admin")
    assert [r["id"] for r in conn.execute("select id::text from webhooks")] == [globex_hook]


@pytest.mark.parametrize("table", ["webhooks", "webhook_deliveries"])
def test_anon_reads_nothing(conn, table):
    add_webhook(conn)
    act(conn, Claims(sub=None, role="anon"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(f"select count(*) from {table}")


@pytest.mark.parametrize("who", OUTSIDERS)
def test_rotation_is_refused_to_non_admins(conn, who):
    hook = add_webhook(conn)
    act(conn, who)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not found or not visible"):
        conn.execute("select rotate_webhook_secret(%s)", (hook,))


def test_rotating_an_unknown_endpoint_gets_the_same_refusal(conn):
    act(conn, "admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not found or not visible"):
        conn.execute("select rotate_webhook_secret(%s)", (str(uuid.uuid4()),))


def test_disabling_by_hand_says_so_and_enabling_starts_afresh(conn):
    hook = add_webhook(conn)
    conn.execute(
        "update webhooks set failure_since = now() - interval '1 day' where id = %s", (hook,)
    )
    act(conn, "admin")
    off = conn.execute(
        "update webhooks set enabled = false where id = %s returning disabled_reason", (hook,)
    ).fetchone()
    assert off["disabled_reason"] == "disabled by an admin"
    on = conn.execute(
        "update webhooks set enabled = true where id = %s returning disabled_reason, failure_since",
        (hook,),
    ).fetchone()
    assert on == {"disabled_reason": None, "failure_since": None}


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/hook", "must start with https:// (or http://)"),
        ("example.com/hook", "must start with https:// (or http://)"),
        ("https://exa mple.com/", "must not contain spaces or control characters"),
        ("https://user:pw@example.com/", "must not contain a user name or password"),
        ("https:///path", "needs a host name after the scheme"),
        ("https://exa_mple.com/", '"exa_mple.com" is not a valid host name'),
        ("https://example.com:0/", "port must be a number between 1 and 65535"),
        ("https://example.com:70000/", "port must be a number between 1 and 65535"),
        ("https://example.com:80a/", "port must be a number between 1 and 65535"),
        ("https://example.com/#top", "must not contain a #fragment"),
        ("https://example.com/" + "a" * 2100, "must be at most 2048 characters"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(conn, url, problem):
    act(conn, "admin")
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        conn.execute(
            "insert into webhooks (org_id, url, events) values (%s, %s, '{*}')", (DEMO, url)
        )
    assert refused.value.diag.message_primary == f"url is invalid: {problem}"


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/coachdesk?token=abc&x=1",
        "http://localhost:8080/hook",
        "https://[2001:db8::1]:8443/in",
        "HTTPS://Example.COM",
    ],
)
def test_good_urls_are_accepted(conn, url):
    act(conn, "admin")
    stored = conn.execute(
        "insert into webhooks (org_id, url, events) values (%s, %s, '{*}') returning url",
        (DEMO, url),
    ).fetchone()
    assert stored["url"] == url


def test_urls_are_checked_on_update_too(conn):
    hook = add_webhook(conn)
    act(conn, "admin")
    with pytest.raises(psycopg.errors.CheckViolation, match="url is invalid: must start with"):
        conn.execute("update webhooks set url = 'file:///etc/passwd' where id = %s", (hook,))


@pytest.mark.parametrize(
    ("events", "problem"),
    [
        ([], 'subscribe to at least one event (or "*" for all)'),
        (["attempt.scored", None], "must not contain null"),
        (
            ["attempt.score"],
            'unknown event "attempt.score"; known events: ' + ", ".join(ALL_EVENTS) + ', or "*"'
            " for all",
        ),
    ],
)
def test_bad_event_lists_are_refused_with_the_reason(conn, events, problem):
    act(conn, "admin")
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        conn.execute(
            "insert into webhooks (org_id, url, events) values (%s, 'https://a.example.com', %s)",
            (DEMO, events),
        )
    assert refused.value.diag.message_primary == f"events is invalid: {problem}"


# Enqueueing ----------------------------------------------------------------------------------


def test_enqueue_creates_one_delivery_per_subscribed_enabled_endpoint(conn):
    exact = add_webhook(conn, DEMO, ("attempt.scored", "member.added"))
    everything = add_webhook(conn, DEMO, ("*",))
    add_webhook(conn, DEMO, ("attempt.scored",), enabled=False)
    add_webhook(conn, DEMO, ("assignment.created",))
    add_webhook(conn, GLOBEX, ("attempt.scored", "*"))
    data = {"org_id": DEMO, "attempt_id": str(uuid.uuid4()), "score": 91.5}

    created = enqueue(conn, "attempt.scored", data)

    rows = conn.execute(
        "select webhook_id::text, status::text, attempt_count, message_id, payload, event,"
        " next_attempt_at = now() as due_now from webhook_deliveries where id = any(%s::uuid[])",
        (list(created),),
    ).fetchall()
    assert sorted(r["webhook_id"] for r in rows) == sorted([exact, everything])
    total = conn.execute("select count(*) as n from webhook_deliveries").fetchone()["n"]
    assert total == 2
    assert {r["status"] for r in rows} == {"pending"}
    assert {r["attempt_count"] for r in rows} == {0}
    assert all(r["due_now"] for r in rows)
    assert len({r["message_id"] for r in rows}) == 1, "one message id per event, for deduping"
    payload = rows[0]["payload"]
    assert payload["type"] == "attempt.scored"
    assert payload["data"] == data
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", payload["timestamp"])


def test_enqueue_without_listeners_creates_nothing(conn):
    add_webhook(conn, GLOBEX, ("*",))
    assert enqueue(conn, "member.added", {"org_id": DEMO}) == set()


@pytest.mark.parametrize(
    "payload",
    [{}, {"org_id": None}, {"org_id": "not-a-uuid"}, {"user_id": USER["admin"]}, [1]],
)
def test_enqueue_requires_an_org_id(conn, payload):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match='with "org_id"'):
        conn.execute("select enqueue_webhook('member.added', %s::jsonb)", (json.dumps(payload),))


@pytest.mark.parametrize("event", ["attempt.score", "*", ""])
def test_enqueue_refuses_unknown_events(conn, event):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown webhook event"):
        conn.execute("select enqueue_webhook(%s, %s::jsonb)", (event, json.dumps({"org_id": DEMO})))


@pytest.mark.parametrize(
    "call",
    [
        "enqueue_webhook('member.added', '{\"org_id\": \"" + DEMO + "\"}')",
        "claim_webhook_deliveries('w', 1)",
        f"record_webhook_attempt('{uuid.uuid4()}', 200, '', null, 1)",
        "reap_webhook_deliveries()",
    ],
)
@pytest.mark.parametrize(
    "who", ["admin", "trainee", Claims(sub=None, role="anon")], ids=["admin", "trainee", "anon"]
)
def test_dispatcher_functions_are_for_the_service_only(conn, call, who):
    act(conn, who)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(f"select {call}")


@pytest.mark.parametrize(
    "sql",
    [
        "update webhook_deliveries set status = 'succeeded' where id = %s",
        "delete from webhook_deliveries where id = %s",
        "insert into webhook_deliveries (org_id, webhook_id, event, payload)"
        " select org_id, webhook_id, event, payload from webhook_deliveries where id = %s",
    ],
    ids=["update", "delete", "insert"],
)
def test_admins_cannot_write_deliveries_directly(conn, sql):
    delivery = one_delivery(conn, add_webhook(conn))
    act(conn, "admin")
    assert conn.execute("select count(*) as n from webhook_deliveries").fetchone()["n"] == 1
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(sql, (delivery,))


# Retry schedule ----------------------------------------------------------------------------------


def delay(conn: psycopg.Connection, attempt: int, jitter: float | None = None) -> float:
    if jitter is None:
        sql, params = "select private.webhook_retry_delay(%s) as d", (attempt,)
    else:
        sql, params = "select private.webhook_retry_delay(%s, %s) as d", (attempt, jitter)
    return conn.execute(sql, params).fetchone()["d"].total_seconds()


def test_retry_schedule_at_neutral_jitter(conn):
    # 5 s * 6^(n-1): 5 s, 30 s, 3 min, 18 min, 1 h 48 min, then the 10 h cap.
    expected = [0, 5, 30, 180, 1080, 6480, 36000, 36000, 36000]
    assert [delay(conn, n, 0.5) for n in range(9)] == expected


def test_retry_schedule_is_capped_at_ten_hours_for_any_attempt(conn):
    assert {delay(conn, n, 0.5) for n in (7, 20, 100, 2_000_000_000)} == {36000}


def test_jitter_spans_eighty_to_one_hundred_twenty_percent(conn):
    assert delay(conn, 1, 0.0) == 4
    assert delay(conn, 1, 1.0) == 6
    assert delay(conn, 3, 0.25) == 180 * 0.9
    assert delay(conn, 50, 0.0) == 8 * 3600
    assert delay(conn, 50, 1.0) == 12 * 3600


def test_default_jitter_is_random_within_bounds(conn):
    samples = [
        r["d"].total_seconds()
        for r in conn.execute(
            "select private.webhook_retry_delay(2) as d from generate_series(1, 200)"
        )
    ]
    assert all(24 <= s <= 36 for s in samples)
    assert len(set(samples)) > 1, "retries of endpoints that failed together must spread out"


@pytest.mark.parametrize(("attempt", "jitter"), [(1, -0.1), (1, 1.5), (None, 0.5)])
def test_retry_delay_refuses_bad_arguments(conn, attempt, jitter):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="jitter in"):
        conn.execute("select private.webhook_retry_delay(%s, %s)", (attempt, jitter))


def test_retry_delay_is_not_for_members(conn):
    act(conn, "admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute("select private.webhook_retry_delay(1, 0.5)")


# Claiming --------------------------------------------------------------------------------------


def test_claim_marks_due_deliveries_running(conn):
    hook = add_webhook(conn)
    delivery = one_delivery(conn, hook)
    claimed = claim(conn, "worker-a")
    assert claimed == [
        {
            "id": delivery,
            "webhook_id": hook,
            "status": "running",
            "attempt_count": 1,
            "locked_by": "worker-a",
        }
    ]
    assert claim(conn, "worker-b") == [], "a running delivery is not handed out twice"


def test_claim_skips_future_retries(conn):
    delivery = one_delivery(conn, add_webhook(conn))
    conn.execute(
        "update webhook_deliveries set next_attempt_at = now() + interval '1 minute' where id = %s",
        (delivery,),
    )
    assert claim(conn) == []
    conn.execute("update webhook_deliveries set next_attempt_at = now() where id = %s", (delivery,))
    assert [r["id"] for r in claim(conn)] == [delivery]


def test_claim_skips_deliveries_of_disabled_endpoints(conn):
    """Disabling parks waiting deliveries; one written in a transaction racing with the disable
    (inserted directly here) must still not be sent."""
    hook = add_webhook(conn, enabled=False)
    conn.execute(
        "insert into webhook_deliveries (org_id, webhook_id, event, payload)"
        " values (%s, %s, 'member.added', '{}')",
        (DEMO, hook),
    )
    assert claim(conn) == []


def test_claim_respects_the_batch_size(conn):
    add_webhook(conn)
    for _ in range(5):
        enqueue(conn, "member.added", {"org_id": DEMO})
    first = claim(conn, batch=3)
    second = claim(conn, batch=3)
    assert len(first) == 3
    assert len(second) == 2
    assert not {r["id"] for r in first} & {r["id"] for r in second}


@pytest.mark.parametrize(("worker", "batch"), [("", 10), ("w", 0), ("w", 1001), (None, 10)])
def test_claim_refuses_bad_arguments(conn, worker, batch):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="worker name and a batch"):
        conn.execute("select * from claim_webhook_deliveries(%s, %s)", (worker, batch))


@dataclass
class Queue:
    org: str
    deliveries: set[str]


@pytest.fixture
def committed_queue(database_dsn: str) -> Iterator[Queue]:
    """A committed org with one endpoint and 20 due deliveries; removed afterwards."""
    org = str(uuid.uuid4())
    with psycopg.connect(database_dsn, autocommit=True, row_factory=dict_row) as su:
        su.execute(
            "insert into orgs (id, name, slug) values (%s, 'Queue test', %s)",
            (org, f"queue-{org[:8]}"),
        )
        try:
            su.execute(
                "insert into webhooks (org_id, url, events)"
                " values (%s, 'https://q.example.com', '{*}')",
                (org,),
            )
            rows = su.execute(
                "select private.enqueue_webhook_for_org(%s, 'member.added',"
                " jsonb_build_object('org_id', %s::uuid, 'n', n))::text as id"
                " from generate_series(1, 20) as n",
                (org, org),
            ).fetchall()
            yield Queue(org, {r["id"] for r in rows})
        finally:
            su.execute("delete from orgs where id = %s", (org,))


def service_connection(database_dsn: str) -> psycopg.Connection:
    """A second `authenticator` login acting as the service role, like another worker."""
    dbname = psycopg.conninfo.conninfo_to_dict(database_dsn)["dbname"]
    conn = psycopg.connect(
        with_dbname(database_dsn, dbname, user="authenticator"), row_factory=dict_row
    )
    # A claim that waited on another worker's rows instead of skipping them would hang the test.
    conn.execute("set lock_timeout = '10s'")
    act(conn, SERVICE)
    return conn


def claimed_ids(conn: psycopg.Connection, worker: str, batch: int) -> list[str]:
    return [
        r["id"]
        for r in conn.execute(
            "select id::text from claim_webhook_deliveries(%s, %s)", (worker, batch)
        )
    ]


def test_open_claims_never_overlap(committed_queue, database_dsn):
    workers = [service_connection(database_dsn) for _ in range(3)]
    try:
        first = claimed_ids(workers[0], "a", 5)  # its transaction stays open
        second = claimed_ids(workers[1], "b", 100)
        third = claimed_ids(workers[2], "c", 100)
        mine = committed_queue.deliveries
        assert len(first) == 5
        assert set(first) <= mine
        assert set(second) & mine == mine - set(first)
        assert not set(third) & mine
        assert not set(first) & set(second)
    finally:
        for worker in workers:
            worker.rollback()
            worker.close()


def test_concurrent_workers_share_out_the_queue_exactly_once(committed_queue, database_dsn):
    workers = 4
    start = threading.Barrier(workers)
    done = threading.Barrier(workers)
    results: list[list[str]] = [[] for _ in range(workers)]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        conn = service_connection(database_dsn)
        try:
            start.wait()
            # Small batches in one open transaction: each worker keeps its rows locked until all
            # have finished, as a worker does while it sends.
            while batch := claimed_ids(conn, f"worker-{n}", 2):
                results[n].extend(batch)
            done.wait()
        except BaseException as error:  # reported to the test thread below
            errors.append(error)
            done.abort()
        finally:
            conn.rollback()
            conn.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    everything = [delivery for batch in results for delivery in batch]
    assert len(everything) == len(set(everything)), "a delivery was claimed twice"
    assert set(everything) & committed_queue.deliveries == committed_queue.deliveries


# Recording results -------------------------------------------------------------------------------


def claimed_delivery(conn: psycopg.Connection, *, max_attempts: int = 8) -> str:
    hook = add_webhook(conn)
    delivery = one_delivery(conn, hook)
    conn.execute(
        "update webhook_deliveries set max_attempts = %s where id = %s", (max_attempts, delivery)
    )
    assert delivery in [r["id"] for r in claim(conn)]
    return delivery


def make_due(conn: psycopg.Connection, delivery: str) -> None:
    act(conn, SERVICE)
    conn.execute("update webhook_deliveries set next_attempt_at = now() where id = %s", (delivery,))


def test_a_2xx_succeeds(conn):
    delivery = claimed_delivery(conn)
    row = record(conn, delivery, 204, body="")
    assert row["status"] == "succeeded"
    assert row["response_status"] == 204
    assert row["duration_ms"] == 42
    assert row["wait"] is None
    assert row["locked_at"] is None
    assert row["last_attempt_at"] is not None
    assert claim(conn) == []


def test_a_failure_is_retried_after_the_backoff(conn):
    delivery = claimed_delivery(conn)
    row = record(conn, delivery, 500, body="x" * 5000)
    assert row["status"] == "failed"
    assert row["response_status"] == 500
    assert row["response_body"] == "x" * 2048
    # First retry: 5 s with +-20 % jitter.
    assert 4 <= row["wait"] <= 6
    assert claim(conn) == [], "not due before its retry time"
    make_due(conn, delivery)
    again = claim(conn)
    assert [(r["id"], r["attempt_count"]) for r in again] == [(delivery, 2)]
    row = record(conn, delivery, 502)
    assert 24 <= row["wait"] <= 36, "second retry: 30 s +-20 %"


def test_no_response_is_a_failure_with_the_error_kept(conn):
    delivery = claimed_delivery(conn)
    row = record(conn, delivery, None, body=None, error="timed out after 15 s" + "!" * 3000)
    assert row["status"] == "failed"
    assert row["response_status"] is None
    assert row["last_error"] == ("timed out after 15 s" + "!" * 3000)[:2048]


@pytest.mark.parametrize("status", [199, 301, 404, 429])
def test_only_2xx_counts_as_success(conn, status):
    delivery = claimed_delivery(conn)
    assert record(conn, delivery, status)["status"] == "failed"


def test_the_last_attempt_failing_makes_the_delivery_dead(conn):
    delivery = claimed_delivery(conn, max_attempts=2)
    assert record(conn, delivery, 500)["status"] == "failed"
    make_due(conn, delivery)
    assert [r["attempt_count"] for r in claim(conn)] == [2]
    row = record(conn, delivery, 503)
    assert row["status"] == "dead"
    assert row["wait"] is None
    make_due(conn, delivery)
    assert claim(conn) == [], "a dead delivery is never claimed again"


def test_a_result_for_a_delivery_not_running_is_refused(conn):
    delivery = claimed_delivery(conn)
    record(conn, delivery, 200)
    with pytest.raises(
        psycopg.errors.ObjectNotInPrerequisiteState, match="is succeeded, not running"
    ):
        record(conn, delivery, 200)


def test_a_result_for_an_unknown_delivery_is_refused(conn):
    with pytest.raises(psycopg.errors.NoDataFound, match="does not exist"):
        record(conn, str(uuid.uuid4()), 200)


@pytest.mark.parametrize(
    ("status", "error", "duration", "message"),
    [
        (None, None, 5, "needs a response status or an error"),
        (0, None, 5, "0 is not an HTTP status"),
        (600, None, 5, "600 is not an HTTP status"),
        (200, None, -1, "duration_ms must be >= 0"),
    ],
)
def test_a_malformed_result_is_refused(conn, status, error, duration, message):
    delivery = claimed_delivery(conn)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match=message):
        conn.execute(
            "select record_webhook_attempt(%s, %s, '', %s, %s)", (delivery, status, error, duration)
        )


def endpoint_state(conn: psycopg.Connection, delivery: str) -> dict[str, Any]:
    act(conn, SERVICE)
    return conn.execute(
        "select w.enabled, w.failure_since, w.disabled_reason from webhooks w"
        " join webhook_deliveries d on d.webhook_id = w.id where d.id = %s",
        (delivery,),
    ).fetchone()


def test_failures_are_tracked_on_the_endpoint_and_a_success_clears_them(conn):
    delivery = claimed_delivery(conn)
    record(conn, delivery, 500)
    failing = endpoint_state(conn, delivery)
    assert failing["enabled"] is True
    assert failing["failure_since"] is not None
    make_due(conn, delivery)
    claim(conn)
    record(conn, delivery, 200)
    assert endpoint_state(conn, delivery)["failure_since"] is None


def test_an_endpoint_failing_for_five_days_is_disabled(conn):
    delivery = claimed_delivery(conn)
    conn.execute(
        "update webhooks set failure_since = now() - interval '5 days 1 minute'"
        " where id = (select webhook_id from webhook_deliveries where id = %s)",
        (delivery,),
    )
    row = record(conn, delivery, 500)
    state = endpoint_state(conn, delivery)
    assert state["enabled"] is False
    assert state["disabled_reason"].startswith("every delivery failed since ")
    assert row["status"] == "dead"
    assert row["last_error"].startswith("not sent: the endpoint was disabled (every delivery")


def test_disabling_an_endpoint_parks_its_waiting_deliveries(conn):
    hook = add_webhook(conn)
    other = add_webhook(conn)
    failed = one_delivery(conn, hook)
    for row in claim(conn):
        record(conn, row["id"], 500 if row["id"] == failed else 200)
    enqueue(conn, "member.added", {"org_id": DEMO})
    act(conn, "admin")
    conn.execute("update webhooks set enabled = false where id = %s", (hook,))
    act(conn, SERVICE)
    states = conn.execute(
        "select webhook_id::text, status::text, last_error from webhook_deliveries"
        " where status <> 'succeeded'"
    ).fetchall()
    parked = "not sent: the endpoint was disabled (disabled by an admin)"
    assert sorted((r["webhook_id"], r["status"], r["last_error"]) for r in states) == sorted(
        [(hook, "dead", parked), (hook, "dead", parked), (other, "pending", None)]
    )


def test_a_delivery_in_flight_when_its_endpoint_is_disabled_dies_on_failure(conn):
    delivery = claimed_delivery(conn)
    conn.execute(
        "update webhooks set enabled = false"
        " where id = (select webhook_id from webhook_deliveries where id = %s)",
        (delivery,),
    )
    assert delivery_row(conn, delivery)["state"] == "running", "a running delivery is not parked"
    row = record(conn, delivery, 500)
    assert row["status"] == "dead"
    assert row["last_error"] is None
    assert row["response_status"] == 500


# Reaper --------------------------------------------------------------------------------------


def test_the_reaper_takes_back_only_stale_running_deliveries(conn):
    stale = claimed_delivery(conn)
    fresh = claimed_delivery(conn)
    conn.execute(
        "update webhook_deliveries set locked_at = now() - interval '10 minutes' where id = %s",
        (stale,),
    )
    reaped = conn.execute("select reap_webhook_deliveries('5 minutes') as n").fetchone()["n"]
    assert reaped == 1
    row = delivery_row(conn, stale)
    assert row["state"] == "failed"
    assert row["locked_at"] is None
    assert 4 <= row["wait"] <= 6
    assert row["last_error"] == "worker w1 reported no result within 00:05:00"
    assert delivery_row(conn, fresh)["state"] == "running"
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="is failed"):
        record(conn, stale, 200)


def test_the_reaper_buries_a_delivery_on_its_last_attempt(conn):
    delivery = claimed_delivery(conn, max_attempts=1)
    conn.execute(
        "update webhook_deliveries set locked_at = now() - interval '1 hour' where id = %s",
        (delivery,),
    )
    assert conn.execute("select reap_webhook_deliveries() as n").fetchone()["n"] == 1
    row = delivery_row(conn, delivery)
    assert row["state"] == "dead"
    assert row["next_attempt_at"] is None


def test_the_reaper_buries_a_delivery_whose_endpoint_was_disabled(conn):
    delivery = claimed_delivery(conn)
    conn.execute(
        "update webhook_deliveries set locked_at = now() - interval '1 hour' where id = %s",
        (delivery,),
    )
    conn.execute(
        "update webhooks set enabled = false"
        " where id = (select webhook_id from webhook_deliveries where id = %s)",
        (delivery,),
    )
    assert conn.execute("select reap_webhook_deliveries() as n").fetchone()["n"] == 1
    assert delivery_row(conn, delivery)["state"] == "dead"


def test_the_reaper_needs_a_positive_interval(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="positive interval"):
        conn.execute("select reap_webhook_deliveries('0 seconds')")


# Redelivery ----------------------------------------------------------------------------------


def dead_delivery(conn: psycopg.Connection) -> str:
    delivery = claimed_delivery(conn, max_attempts=1)
    assert record(conn, delivery, 500)["status"] == "dead"
    return delivery


def test_an_admin_redelivers_as_a_new_delivery_keeping_history(conn):
    original = dead_delivery(conn)
    act(conn, "admin")
    copy = conn.execute("select redeliver_webhook(%s)::text as id", (original,)).fetchone()["id"]
    rows = {
        r["id"]: r
        for r in conn.execute(
            "select id::text, status::text, attempt_count, message_id, payload, event,"
            " redelivery_of::text from webhook_deliveries"
        )
    }
    assert set(rows) == {original, copy}
    assert rows[original]["status"] == "dead"
    assert rows[copy]["status"] == "pending"
    assert rows[copy]["attempt_count"] == 0
    assert rows[copy]["redelivery_of"] == original
    for key in ("message_id", "payload", "event"):
        assert rows[copy][key] == rows[original][key], key
    assert [r["id"] for r in claim(conn)] == [copy]


@pytest.mark.parametrize("who", OUTSIDERS)
def test_redelivery_is_refused_to_non_admins(conn, who):
    original = dead_delivery(conn)
    act(conn, who)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not found or not visible"):
        conn.execute("select redeliver_webhook(%s)", (original,))


@pytest.mark.parametrize("with_token", [True, False], ids=["token", "set-role-only"])
def test_the_service_redelivers_with_a_token_or_by_role_alone(conn, with_token):
    original = dead_delivery(conn)
    if not with_token:
        # A worker on a direct database connection: SET ROLE service_role and no JWT at all.
        conn.execute("select set_config('request.jwt.claims', '', true)")
    assert conn.execute("select current_user").fetchone()["current_user"] == "service_role"
    copy = conn.execute("select redeliver_webhook(%s)::text as id", (original,)).fetchone()["id"]
    assert copy != original


def test_redelivery_to_a_disabled_endpoint_says_so(conn):
    original = dead_delivery(conn)
    conn.execute(
        "update webhooks set enabled = false"
        " where id = (select webhook_id from webhook_deliveries where id = %s)",
        (original,),
    )
    act(conn, "admin")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="is disabled"):
        conn.execute("select redeliver_webhook(%s)", (original,))


# Test events (20261204000400) ---------------------------------------------------------------------


def test_an_admin_sends_a_test_event_to_one_endpoint_whatever_it_subscribes_to(conn):
    chosen = add_webhook(conn, events=("member.added",))
    other = add_webhook(conn)
    act(conn, "admin")
    sent = conn.execute("select send_test_webhook(%s)::text as id", (chosen,)).fetchone()["id"]
    rows = conn.execute(
        "select id::text, webhook_id::text, event, status::text, payload from webhook_deliveries"
    ).fetchall()
    assert [(r["id"], r["webhook_id"], r["event"], r["status"]) for r in rows] == [
        (sent, chosen, "webhook.test", "pending")
    ]
    assert other not in {r["webhook_id"] for r in rows}
    payload = rows[0]["payload"]
    assert payload["type"] == "webhook.test"
    assert payload["data"] == {"org_id": DEMO, "webhook_id": chosen, "test": True}
    assert [r["id"] for r in claim(conn)] == [sent]


def test_no_endpoint_subscribes_to_test_events(conn):
    act(conn, "admin")
    with pytest.raises(psycopg.errors.CheckViolation, match=r'unknown event "webhook\.test"'):
        conn.execute(
            "insert into webhooks (org_id, url, events)"
            " values (%s, 'https://a.example.com', '{webhook.test}')",
            (DEMO,),
        )


def test_no_event_raises_test_events(conn):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown webhook event"):
        enqueue(conn, "webhook.test", {"org_id": DEMO})


@pytest.mark.parametrize("who", OUTSIDERS)
def test_test_events_are_refused_to_non_admins(conn, who):
    hook = add_webhook(conn)
    act(conn, who)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not found or not visible"):
        conn.execute("select send_test_webhook(%s)", (hook,))


def test_a_test_event_to_a_disabled_endpoint_says_so(conn):
    hook = add_webhook(conn, enabled=False)
    act(conn, "admin")
    with pytest.raises(psycopg.errors.ObjectNotInPrerequisiteState, match="is disabled"):
        conn.execute("select send_test_webhook(%s)", (hook,))


# Events raised by the database ------------------------------------------------------------------


def deliveries_as_admin(conn: psycopg.Connection) -> list[dict[str, Any]]:
    act(conn, "admin")
    return conn.execute(
        "select event, payload from webhook_deliveries order by created_at"
    ).fetchall()


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_creating_an_assignment_enqueues_assignment_created(conn, who):
    hook = add_webhook(conn, DEMO, ("assignment.created",))
    add_webhook(conn, GLOBEX, ("*",))
    act(conn, who)
    assignment = conn.execute(
        "insert into assignments (org_id, scenario_id, user_id) values (%s, %s, %s)"
        " returning id::text",
        (DEMO, Seed.SCENARIO_COLD_CALL, USER["trainee"]),
    ).fetchone()["id"]
    rows = deliveries_as_admin(conn)
    assert [r["event"] for r in rows] == ["assignment.created"]
    data = rows[0]["payload"]["data"]
    assert data["assignment_id"] == assignment
    assert data["org_id"] == DEMO
    assert data["user_id"] == USER["trainee"]
    assert data["assigned_by"] == USER[who]
    act(conn, SERVICE)
    assert conn.execute("select webhook_id::text from webhook_deliveries").fetchall() == [
        {"webhook_id": hook}
    ]


def test_adding_a_member_enqueues_member_added(conn):
    add_webhook(conn, DEMO, ("member.added",))
    # Members are added by accepting an invitation or by the service role (an identity sync).
    act(conn, SERVICE)
    member = conn.execute(
        "insert into org_members (org_id, user_id, role) values (%s, %s, 'manager')"
        " returning id::text",
        (DEMO, USER["globex_trainee"]),
    ).fetchone()["id"]
    rows = deliveries_as_admin(conn)
    assert [r["event"] for r in rows] == ["member.added"]
    data = rows[0]["payload"]["data"]
    assert dt.datetime.fromisoformat(data.pop("created_at"))
    assert data == {
        "org_id": DEMO,
        "member_id": member,
        "user_id": USER["globex_trainee"],
        "role": "manager",
        "display_name": "",
    }


def insert_attempt(conn: psycopg.Connection, transcript: dict[str, Any] | None) -> str:
    act(conn, "trainee")
    return conn.execute(
        "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at, transcript)"
        " values (%s, %s, %s, %s, now(), %s::jsonb) returning id::text",
        (
            str(uuid.uuid4()),
            DEMO,
            USER["trainee"],
            Seed.SCENARIO_COLD_CALL,
            None if transcript is None else json.dumps(transcript),
        ),
    ).fetchone()["id"]


def test_an_attempt_scored_after_its_upload_enqueues_attempt_scored(conn):
    add_webhook(conn, DEMO, ("attempt.scored",))
    attempt = insert_attempt(conn, TRANSCRIPT)
    assert deliveries_as_admin(conn) == [], "uploaded: queued for scoring, not scored yet"
    assert score_queued(conn) == 1
    rows = deliveries_as_admin(conn)
    assert [r["event"] for r in rows] == ["attempt.scored"]
    data = rows[0]["payload"]["data"]
    assert data["attempt_id"] == attempt
    assert data["user_id"] == USER["trainee"]
    assert isinstance(data["score"], int | float)
    assert isinstance(data["passed"], bool)
    assert "transcript" not in data


def test_an_attempt_scored_later_enqueues_once(conn):
    add_webhook(conn, DEMO, ("attempt.scored",))
    attempt = insert_attempt(conn, None)
    assert deliveries_as_admin(conn) == [], "recorded, not scored yet"
    act(conn, "trainee")
    conn.execute(
        "update scenario_attempts set transcript = %s::jsonb where id = %s",
        (json.dumps(TRANSCRIPT), attempt),
    )
    conn.execute(
        "update scenario_attempts set ended_at = started_at + interval '1 minute' where id = %s",
        (attempt,),
    )
    act(conn, "manager")
    conn.execute("select score_attempt(%s)", (attempt,))
    rows = deliveries_as_admin(conn)
    assert [r["payload"]["data"]["attempt_id"] for r in rows] == [attempt]


def test_events_nobody_subscribed_to_create_nothing(conn):
    add_webhook(conn, DEMO, ("member.added",))
    add_webhook(conn, DEMO, ("assignment.created",), enabled=False)
    insert_attempt(conn, TRANSCRIPT)
    act(conn, "admin")
    conn.execute(
        "insert into assignments (org_id, scenario_id, user_id) values (%s, %s, %s)",
        (DEMO, Seed.SCENARIO_COLD_CALL, USER["trainee"]),
    )
    assert deliveries_as_admin(conn) == []
