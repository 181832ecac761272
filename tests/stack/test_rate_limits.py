"""Rate limits of the local auth server: per client address and per account, 429 + Retry-After.

Each test starts a stack of its own on the session stack's database and JWT secret, with tight
limits (the session stack's are generous, tests/stack_fixtures.py), so its counters start at
zero; every request here comes from 127.0.0.1, one address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import psycopg
import pytest
from stack_fixtures import DEMO_PASSWORD, EMAILS, RunningStack
from supabase_auth.errors import AuthApiError

from server.db.cluster import free_port
from server.stack.config import StackConfig
from server.stack.ratelimit import RateLimits
from server.stack.runner import StackServer
from supabase import create_client

LOOSE = "1000 per minute"


@pytest.fixture
def limited(stack: RunningStack, tmp_path) -> Iterator[Callable[..., StackConfig]]:
    """`limited(sign_in_per_ip="5 per minute")` → a running stack with those limits (the rest
    loose)."""
    servers: list[StackServer] = []

    def start(**limits: str) -> StackConfig:
        rules = {rule: LOOSE for rule in RateLimits.__dataclass_fields__} | limits
        config = StackConfig(
            stack.dsn,
            tmp_path / f"limited-{len(servers)}",
            stack.config.jwt_secret,
            port=free_port(),
            scoring_worker=False,
            rate_limits=RateLimits(**rules),
        )
        server = StackServer(config)
        server.__enter__()
        servers.append(server)
        return config

    yield start
    for server in servers:
        server.__exit__(None, None, None)
    with psycopg.connect(stack.dsn, autocommit=True) as conn:  # it re-pointed storage_url
        conn.execute(
            "update private.settings set value = %s where key = 'storage_url'",
            (f"{stack.url}/storage/v1",),
        )


def _sign_in(config: StackConfig, email: str, password: str) -> httpx.Response:
    return httpx.post(
        f"{config.url}/auth/v1/token?grant_type=password",
        json={"email": email, "password": password},
        headers={"apikey": config.anon_key},
    )


def _assert_429(response: httpx.Response, code: str = "over_request_rate_limit") -> int:
    assert response.status_code == 429, response.text
    assert response.json()["error_code"] == code
    retry_after = int(response.headers["retry-after"])
    assert retry_after >= 1
    return retry_after


def test_wrong_passwords_lock_the_account_not_the_others(limited):
    config = limited(failures_per_account="3 per 15 minutes")
    for _ in range(3):
        assert _sign_in(config, EMAILS["trainee2"], "wrong-guess").status_code == 400
    # Past the limit even the right password waits: guessing cannot simply go on.
    locked = _sign_in(config, EMAILS["trainee2"], DEMO_PASSWORD)
    assert 0 < _assert_429(locked) <= 15 * 60
    assert _sign_in(config, EMAILS["hr"], DEMO_PASSWORD).status_code == 200
    # The official client reports GoTrue's error.
    supabase = create_client(config.url, config.anon_key)
    with pytest.raises(AuthApiError) as refused:
        supabase.auth.sign_in_with_password(
            {"email": EMAILS["trainee2"], "password": DEMO_PASSWORD}
        )
    assert (refused.value.status, refused.value.code) == (429, "over_request_rate_limit")


def test_right_passwords_do_not_count_against_the_account(limited):
    config = limited(failures_per_account="2 per 15 minutes")
    for _ in range(4):
        assert _sign_in(config, EMAILS["manager"], DEMO_PASSWORD).status_code == 200


def test_sign_ins_and_sign_ups_share_a_budget_per_address(limited, new_email):
    config = limited(sign_in_per_ip="4 per minute")
    for _ in range(3):
        assert _sign_in(config, new_email(), "whatever-1").status_code == 400
    signup = httpx.post(
        f"{config.url}/auth/v1/signup",
        json={"email": new_email(), "password": "s3cret-pass"},
        headers={"apikey": config.anon_key},
    )
    assert signup.status_code == 200, signup.text
    assert 0 < _assert_429(_sign_in(config, EMAILS["admin"], DEMO_PASSWORD)) <= 60


def test_token_refreshes_are_limited_per_address(limited):
    config = limited(token_refresh_per_ip="2 per minute")
    refresh = _sign_in(config, EMAILS["hr"], DEMO_PASSWORD).json()["refresh_token"]
    for _ in range(2):
        answer = httpx.post(
            f"{config.url}/auth/v1/token?grant_type=refresh_token",
            json={"refresh_token": refresh},
            headers={"apikey": config.anon_key},
        )
        assert answer.status_code == 200, answer.text
        refresh = answer.json()["refresh_token"]
    _assert_429(
        httpx.post(
            f"{config.url}/auth/v1/token?grant_type=refresh_token",
            json={"refresh_token": refresh},
            headers={"apikey": config.anon_key},
        )
    )


def test_mails_to_one_address_are_spaced(limited, new_email):
    config = limited(mail_per_account="1 per minute")
    email = new_email()
    supabase = create_client(config.url, config.anon_key)
    supabase.auth.sign_up({"email": email, "password": "s3cret-pass"})
    again = httpx.post(
        f"{config.url}/auth/v1/resend",
        json={"type": "signup", "email": email},
        headers={"apikey": config.anon_key},
    )
    seconds = _assert_429(again, "over_email_send_rate_limit")
    assert f"after {seconds} seconds" in again.json()["msg"]
    # Another address is not held up.
    supabase.auth.sign_up({"email": new_email(), "password": "s3cret-pass"})


def test_recovery_and_otp_requests_are_limited_per_address(limited, new_email):
    config = limited(otp_per_ip="3 per hour")
    headers = {"apikey": config.anon_key}
    for endpoint in ("recover", "otp", "recover"):
        answer = httpx.post(
            f"{config.url}/auth/v1/{endpoint}", json={"email": new_email()}, headers=headers
        )
        assert answer.status_code == 200, answer.text
    retry = _assert_429(
        httpx.post(f"{config.url}/auth/v1/otp", json={"email": new_email()}, headers=headers)
    )
    assert retry <= 3600


def test_wrong_codes_lock_verification_for_the_address(limited, new_email):
    config = limited(failures_per_account="3 per 15 minutes")
    email = new_email()
    supabase = create_client(config.url, config.anon_key)
    supabase.auth.sign_up({"email": email, "password": "s3cret-pass"})
    headers = {"apikey": config.anon_key}
    for guess in ("000000", "111111", "222222"):
        answer = httpx.post(
            f"{config.url}/auth/v1/verify",
            json={"type": "signup", "email": email, "token": guess},
            headers=headers,
        )
        assert answer.status_code in (403, 200), answer.text
        if answer.status_code == 200:  # one chance in a million: the guess was the code
            return
    _assert_429(
        httpx.post(
            f"{config.url}/auth/v1/verify",
            json={"type": "signup", "email": email, "token": "333333"},
            headers=headers,
        )
    )


def test_verification_requests_are_limited_per_address(limited):
    config = limited(verify_per_ip="2 per minute")
    for _ in range(2):
        link = httpx.get(f"{config.url}/auth/v1/verify?token=nope&type=signup")
        assert link.status_code == 303
    limited_link = httpx.get(f"{config.url}/auth/v1/verify?token=nope&type=signup")
    assert "error_code=over_request_rate_limit" in limited_link.headers["location"]
