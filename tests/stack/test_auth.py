"""/auth/v1 through the official supabase client: sign-up, sign-in, claims, refresh, expiry."""

from __future__ import annotations

import time

import bcrypt
import httpx
import jwt as pyjwt
import pytest
from stack_fixtures import mailed, sign_up_confirmed
from supabase_auth.errors import AuthApiError, AuthWeakPasswordError

from server.stack.outbox import read_outbox
from supabase import create_client

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
GLOBEX_ORG = "d0000000-0000-4000-8000-000000000002"
DEMO_PASSWORD = "coachdesk-demo"


def _claims(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def test_sign_up_is_confirmed_by_mail_then_has_a_session_without_org(client, stack, new_email):
    email = new_email()
    response = client.auth.sign_up(
        {
            "email": email,
            "password": "s3cret-pass",
            "options": {"data": {"full_name": "New Person"}},
        }
    )
    # GoTrue with confirmations on: a user, no session, until the mailbox's owner confirms.
    assert response.session is None and response.user.email == email
    assert response.user.email_confirmed_at is None
    with pytest.raises(AuthApiError) as unconfirmed:
        client.auth.sign_in_with_password({"email": email, "password": "s3cret-pass"})
    assert (unconfirmed.value.status, unconfirmed.value.code) == (400, "email_not_confirmed")

    code, _ = mailed(stack, email)
    confirmed = client.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    assert confirmed.user.id == response.user.id and confirmed.user.email_confirmed_at
    assert confirmed.user.user_metadata == {"full_name": "New Person"}
    claims = _claims(confirmed.session.access_token)
    assert claims["role"] == "authenticated" and claims["sub"] == response.user.id
    assert "org_id" not in claims  # no membership yet: RLS shows this user nothing
    assert client.auth.get_user().user.id == response.user.id
    assert client.table("scenarios").select("id").execute().data == []
    # The code is used up; the password now works.
    with pytest.raises(AuthApiError) as reused:
        client.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    assert (reused.value.status, reused.value.code) == (403, "otp_expired")
    fresh = create_client(stack.url, stack.anon_key)
    assert fresh.auth.sign_in_with_password({"email": email, "password": "s3cret-pass"}).session


def test_sign_up_twice_and_weak_password(client, stack, new_email):
    email = new_email()
    sign_up_confirmed(client, stack, email, "s3cret-pass")
    real = client.auth.get_user().user.id
    mails = len(read_outbox(stack.config.outbox_dir, to=email))
    # GoTrue's answer for a confirmed address: a user that does not exist, no session, no mail,
    # so sign-up cannot tell anyone which addresses have accounts.
    again = client.auth.sign_up({"email": email, "password": "other-pass"})
    assert again.session is None and again.user.id != real
    assert len(read_outbox(stack.config.outbox_dir, to=email)) == mails
    fresh = create_client(stack.url, stack.anon_key)
    assert fresh.auth.sign_in_with_password({"email": email, "password": "s3cret-pass"}).session
    with pytest.raises(AuthWeakPasswordError):
        client.auth.sign_up({"email": new_email(), "password": "123"})


def test_password_is_stored_as_bcrypt(client, db, new_email):
    email = new_email()
    client.auth.sign_up({"email": email, "password": "s3cret-pass"})
    stored = db.execute("select encrypted_password from auth.users where email = %s", (email,))
    hashed = stored.fetchone()[0]
    assert hashed.startswith("$2") and bcrypt.checkpw(b"s3cret-pass", hashed.encode())


def test_seeded_user_signs_in_with_hook_claims(signed_in):
    manager = signed_in("manager")
    session = manager.auth.get_session()
    claims = _claims(session.access_token)
    assert claims["org_id"] == DEMO_ORG and claims["org_role"] == "manager"
    for required in (
        "sub",
        "role",
        "exp",
        "iat",
        "aud",
        "email",
        "session_id",
        "aal",
        "is_anonymous",
    ):
        assert required in claims
    assert session.expires_at == claims["exp"]
    assert session.token_type == "bearer"


def test_wrong_password_is_400_invalid_credentials(client, new_email, accounts):
    with pytest.raises(AuthApiError) as wrong:
        client.auth.sign_in_with_password({"email": accounts["trainee"], "password": "nope-nope"})
    assert (wrong.value.status, wrong.value.code) == (400, "invalid_credentials")
    with pytest.raises(AuthApiError) as unknown:
        client.auth.sign_in_with_password({"email": new_email(), "password": "whatever1"})
    assert unknown.value.code == "invalid_credentials"


def test_refresh_after_switching_org_changes_claims(signed_in):
    consultant = signed_in("consultant")
    first = _claims(consultant.auth.get_session().access_token)
    other = GLOBEX_ORG if first["org_id"] == DEMO_ORG else DEMO_ORG
    consultant.rpc("set_active_org", {"org_id": other}).execute()
    refreshed = consultant.auth.refresh_session()
    claims = _claims(refreshed.session.access_token)
    assert claims["org_id"] == other
    assert claims["org_role"] == ("manager" if other == GLOBEX_ORG else "trainee")
    assert claims["session_id"] == first["session_id"]
    orgs = {r["org_id"] for r in consultant.table("scenarios").select("org_id").execute().data}
    assert orgs == {other}


def test_refresh_rotates_and_reuse_revokes_the_family(signed_in, client):
    trainee = signed_in("trainee")
    original = trainee.auth.get_session().refresh_token
    rotated = trainee.auth.refresh_session().session
    assert rotated.refresh_token != original
    # Presenting the already-rotated token again is reuse: refused, and the session is gone.
    with pytest.raises(AuthApiError) as reused:
        client.auth.refresh_session(original)
    assert (reused.value.status, reused.value.code) == (400, "refresh_token_already_used")
    with pytest.raises(AuthApiError) as family:
        client.auth.refresh_session(rotated.refresh_token)
    assert family.value.code == "refresh_token_not_found"


def test_expired_access_token(stack, signed_in, accounts):
    trainee = signed_in("trainee")
    claims = _claims(trainee.auth.get_session().access_token)
    claims.update(exp=int(time.time()) - 5, iat=int(time.time()) - 100)
    expired = pyjwt.encode(claims, stack.config.jwt_secret)
    # GoTrue answers a bad or expired JWT with 403 bad_jwt ...
    with pytest.raises(AuthApiError) as auth_error:
        trainee.auth.get_user(expired)
    assert (auth_error.value.status, auth_error.value.code) == (403, "bad_jwt")
    # ... PostgREST with 401 PGRST303.
    rest = httpx.get(
        f"{stack.url}/rest/v1/scenarios",
        headers={"apikey": stack.anon_key, "Authorization": f"Bearer {expired}"},
    )
    assert rest.status_code == 401 and rest.json()["message"] == "JWT expired"
    # A session whose access token expired is refreshed by the client itself.
    restored = create_client(stack.url, stack.anon_key)
    refresh = trainee.auth.get_session().refresh_token
    response = restored.auth.set_session(expired, refresh)
    assert response.session.access_token != expired
    assert restored.auth.get_user().user.email == accounts["trainee"]


def test_sign_out_revokes_refresh_tokens(signed_in, client):
    trainee = signed_in("trainee")
    session = trainee.auth.get_session()
    trainee.auth.sign_out()
    assert trainee.auth.get_session() is None
    with pytest.raises(AuthApiError) as refused:
        client.auth.refresh_session(session.refresh_token)
    assert refused.value.code == "refresh_token_not_found"
    with pytest.raises(AuthApiError) as gone:
        client.auth.get_user(session.access_token)
    assert (gone.value.status, gone.value.code) == (403, "session_not_found")


def test_local_sign_out_keeps_other_sessions(signed_in, client):
    laptop = signed_in("trainee2")
    phone = signed_in("trainee2")
    laptop.auth.sign_out({"scope": "local"})
    assert phone.auth.refresh_session().session is not None


def test_update_password_then_sign_in(client, stack, new_email):
    email = new_email()
    sign_up_confirmed(client, stack, email, "first-pass")
    client.auth.update_user({"password": "second-pass", "data": {"team": "x"}})
    fresh = create_client(stack.url, stack.anon_key)
    user = fresh.auth.sign_in_with_password({"email": email, "password": "second-pass"}).user
    assert user.user_metadata["team"] == "x"
    with pytest.raises(AuthApiError):
        fresh.auth.sign_in_with_password({"email": email, "password": "first-pass"})


def test_auth_requires_a_valid_apikey(stack, accounts):
    response = httpx.post(
        f"{stack.url}/auth/v1/token?grant_type=password",
        json={"email": accounts["trainee"], "password": DEMO_PASSWORD},
        headers={"apikey": "not-a-key"},
    )
    assert response.status_code == 401
    assert set(response.json()) == {"code", "error_code", "msg"}
