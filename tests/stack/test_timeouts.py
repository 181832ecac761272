"""The API roles' statement timeouts over HTTP, and a pool that survives slow requests (issue 15,
item 6). The roles' settings come from the migration (ALTER ROLE ... SET statement_timeout, as
hosted Supabase has them); the stack applies the impersonated role's to each request, as
PostgREST does.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from postgrest import APIError
from stack_fixtures import RunningStack

from server.db.cluster import free_port
from server.stack.config import StackConfig
from server.stack.runner import StackServer

PROBES = """
create or replace function public.h15_statement_timeout() returns text
language sql stable as $$ select current_setting('statement_timeout') $$;
create or replace function public.h15_sleep(seconds float) returns void
language sql volatile as $$ select pg_sleep(seconds) $$;
create or replace function public.h15_wait_for_lock(key bigint) returns void
language sql volatile as $$ select pg_advisory_xact_lock_shared(key) $$;
grant execute on function public.h15_statement_timeout(), public.h15_sleep(float),
  public.h15_wait_for_lock(bigint) to anon, authenticated, service_role;
"""


@pytest.fixture
def probes(db: psycopg.Connection, stack: RunningStack) -> Iterator[None]:
    """Functions the test calls over HTTP to look inside a request; dropped afterwards."""
    db.execute(PROBES)
    _until_known(stack, "h15_statement_timeout")
    yield
    db.execute(
        "drop function public.h15_statement_timeout(), public.h15_sleep(float),"
        " public.h15_wait_for_lock(bigint)"
    )


def test_each_api_role_gets_its_hosted_statement_timeout(probes, client, signed_in, service_client):
    assert client.rpc("h15_statement_timeout").execute().data == "3s"
    assert signed_in("trainee").rpc("h15_statement_timeout").execute().data == "8s"
    # The service role has no setting of its own: the login role's (authenticator) applies.
    assert service_client.rpc("h15_statement_timeout").execute().data == "8s"


def test_a_slow_statement_is_cancelled_and_the_next_request_served(probes, client):
    with pytest.raises(APIError) as cancelled:
        client.rpc("h15_sleep", {"seconds": 30}).execute()
    assert cancelled.value.code == "57014"
    assert "statement timeout" in cancelled.value.message
    assert client.rpc("h15_statement_timeout").execute().data == "3s"


@pytest.fixture
def small_stack(stack: RunningStack, tmp_path) -> Iterator[RunningStack]:
    """A second stack on the same database with a pool of two and a short acquisition wait."""
    config = StackConfig(
        stack.dsn,
        tmp_path,
        stack.config.jwt_secret,  # the same project: tokens of the main stack work here
        port=free_port(),
        pool_max_size=2,
        pool_acquire_timeout_s=1.0,
        scoring_worker=False,
    )
    with StackServer(config):
        small = RunningStack(config, stack.dsn)
        _until_known(small, "h15_statement_timeout")
        yield small


def _rpc(stack: RunningStack, token: str, name: str, body: dict) -> httpx.Response:
    return httpx.post(
        f"{stack.url}/rest/v1/rpc/{name}",
        headers={"apikey": stack.anon_key, "Authorization": f"Bearer {token}"},
        json=body,
        timeout=60,
    )


def test_a_full_pool_answers_504_and_recovers(probes, small_stack, db, signed_in):
    token = signed_in("trainee").auth.get_session().access_token
    key = uuid.uuid4().int % 2**62
    holder = psycopg.connect(small_stack.dsn, autocommit=True)
    holder.execute("select pg_advisory_lock(%s)", (key,))
    answers: list[int] = []
    waiters = [
        threading.Thread(
            target=lambda: answers.append(
                _rpc(small_stack, token, "h15_wait_for_lock", {"key": key}).status_code
            )
        )
        for _ in range(2)
    ]
    try:
        for waiter in waiters:
            waiter.start()
        _until_waiting(db, key, 2, answers)  # both pooled connections are busy now

        busy = _rpc(small_stack, token, "h15_statement_timeout", {})
        assert busy.status_code == 504
        assert busy.json()["code"] == "PGRST003"
    finally:
        holder.execute("select pg_advisory_unlock(%s)", (key,))
        holder.close()
        for waiter in waiters:
            waiter.join(timeout=30)
    assert answers == [204, 204]  # both waited, then finished
    again = _rpc(small_stack, token, "h15_statement_timeout", {})
    assert (again.status_code, again.json()) == (200, "8s")


def _until_waiting(
    db: psycopg.Connection, key: int, count: int, answers: list[int], timeout: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        waiting = db.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted"
            " and objid = (%s::bigint & 4294967295)::oid",
            (key,),
        ).fetchone()[0]
        if waiting >= count:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{waiting} of {count} requests waited on the lock ({answers})")
        time.sleep(0.02)


def _until_known(stack: RunningStack, function: str, timeout: float = 30.0) -> None:
    """Until the stack's schema cache has the function (it reloads on a miss, at most once a
    second)."""
    deadline = time.monotonic() + timeout
    while _rpc(stack, stack.anon_key, function, {}).status_code == 404:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the stack never found {function}")
        time.sleep(0.2)
