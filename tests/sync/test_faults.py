"""Faults injected at the HTTP boundary: 500s, timeouts, lost answers, expired tokens, backoff.

Every test ends with the server and the cache agreeing: nothing lost, nothing twice.
"""

from __future__ import annotations

import jwt as pyjwt
import pytest
from stack_fixtures import wait_for_scoring
from sync_support import (
    Fault,
    FaultyTransport,
    any_request,
    auth_token,
    new_attempt_args,
    rest,
    rpc,
    storage,
)

from server.stack import jwt as stack_jwt
from sync.cache import AttemptSyncState, NewAttempt
from sync.client import OfflineError
from sync.engine import Backoff, Phase


@pytest.fixture
def trainee(sign_in, engine_for, faults: FaultyTransport):
    engine = engine_for(sign_in("trainee", transport=faults))
    assert engine.run_once().phase is Phase.IDLE
    faults.requests.clear()
    return engine


def _on_server(db, attempt_id: str) -> list[tuple]:
    return db.execute(
        "select status, score from scenario_attempts where id = %s", (attempt_id,)
    ).fetchall()


def _objects(db, attempt_id: str) -> int:
    return db.execute(
        "select count(*) from storage.objects where name like %s", (f"%{attempt_id}%",)
    ).fetchone()[0]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("status", rest("scenario_attempts", "POST"), status=500),
        Fault("status", rest("scenario_attempts", "POST"), status=503),
        Fault("timeout", rest("scenario_attempts", "POST")),
        Fault("lost", rest("scenario_attempts", "POST")),  # committed, answer never arrives
        Fault("lost", storage("POST")),
        Fault("status", storage("POST"), status=502),
        Fault("timeout", rpc("sync_watermark")),
        Fault("status", rest("assignments", "GET"), status=500),
    ],
    ids=lambda f: f"{f.kind}-{f.status}" if f.kind == "status" else f.kind,
)
def test_a_failed_round_retries_without_losing_or_doubling(trainee, faults, db, recording, fault):
    new = NewAttempt(**new_attempt_args(recording=recording()))
    trainee.cache.record_attempt(new)
    faults.add(fault)
    failed = trainee.run_once()
    assert failed.phase is Phase.OFFLINE, failed.last_error
    assert failed.failures == 1
    assert faults.injected, "the fault was hit"

    recovered = trainee.run_once()
    assert recovered.phase is Phase.IDLE, recovered.last_error
    assert recovered.pending == 0 and recovered.failures == 0
    wait_for_scoring(db)
    trainee.run_once()  # the score, made just after the upload
    assert _on_server(db, new.id) == [("scored", trainee.cache.attempt(new.id).score)]
    assert trainee.cache.attempt(new.id).sync_state is AttemptSyncState.SCORED
    assert _objects(db, new.id) == 3


def test_backoff_grows_while_the_server_keeps_failing(sign_in, engine_for, faults):
    backoff = Backoff(base_s=1.0, cap_s=5.0)
    engine = engine_for(sign_in("trainee", transport=faults), backoff=backoff, rand=lambda: 1.0)
    faults.add(Fault("status", any_request, times=10**6, status=503))
    delays = [engine.run_once().retry_delay_s for _ in range(5)]
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert engine.status.failures == 5
    faults.faults.clear()
    recovered = engine.run_once()
    assert recovered.phase is Phase.IDLE and recovered.retry_delay_s is None


def test_backoff_jitter_stays_between_half_and_all_of_the_ceiling():
    backoff = Backoff(base_s=2.0, cap_s=300.0)
    assert backoff.delay(0) == 0.0
    assert backoff.delay(3, rand=lambda: 0.0) == 4.0
    assert backoff.delay(3, rand=lambda: 1.0) == 8.0
    assert backoff.delay(40, rand=lambda: 1.0) == 300.0


def _expired_token(session, stack) -> str:
    claims = pyjwt.decode(
        session.client.options.headers["Authorization"].split()[1],
        options={"verify_signature": False},
    )
    return stack_jwt.encode({**claims, "exp": stack_jwt.now() - 60}, stack.config.jwt_secret)


def test_a_token_that_expires_mid_sync_is_refreshed_and_the_round_finishes(
    trainee, faults, stack, db, recording
):
    expired = _expired_token(trainee.session, stack)
    new = NewAttempt(**new_attempt_args(recording=recording()))
    trainee.cache.record_attempt(new)
    pages = 0

    def third_page(request) -> bool:
        nonlocal pages
        if request.method == "GET" and request.url.path.startswith("/rest/v1/"):
            pages += 1
            return pages == 3
        return False

    # The recording's upload and the pull's third page meet an expired token (the server
    # checks it: 401 JWT expired from REST, InvalidJWT from Storage).
    faults.add(Fault("token", storage("POST"), token=expired))
    faults.add(Fault("token", third_page, token=expired))
    status = trainee.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert len(faults.injected) == 2
    assert len([p for _, p in faults.requests if p == "/auth/v1/token"]) == 2
    wait_for_scoring(db)
    assert _on_server(db, new.id)[0][0] == "scored"
    assert _objects(db, new.id) == 3


def test_a_sign_in_service_that_is_down_during_refresh_means_offline(trainee, faults, stack):
    faults.add(Fault("status", auth_token, status=503))
    with pytest.raises(OfflineError):
        trainee.session.ensure_fresh(margin_s=10**9)
    assert trainee.session.identity is not None, "the session survives a failed refresh"

    faults.add(Fault("token", rpc("sync_watermark"), token=_expired_token(trainee.session, stack)))
    faults.add(Fault("status", auth_token, status=503))
    status = trainee.run_once()
    assert status.phase is Phase.OFFLINE, status.last_error
    assert trainee.run_once().phase is Phase.IDLE
