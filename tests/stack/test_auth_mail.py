"""The mailed flows of the local auth server, through the official supabase client and the mails
the stack writes to its outbox: sign-up confirmation (code and link), resend, recovery, magic
links and email codes. An address counts as proven only once its mailbox answered."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from stack_fixtures import mailed, sign_up_confirmed
from supabase_auth.errors import AuthApiError

from server.stack.outbox import read_outbox
from supabase import create_client


def _confirmed(db, email: str) -> bool:
    row = db.execute(
        "select email_confirmed_at is not null from auth.users where email = %s", (email,)
    ).fetchone()
    return bool(row and row[0])


def _refused(call) -> tuple[int, str]:
    with pytest.raises(AuthApiError) as refused:
        call()
    return refused.value.status, refused.value.code


def test_the_mailed_link_confirms_and_lands_on_the_site(client, stack, db, new_email):
    email = new_email()
    landing = f"{stack.url}/welcome"
    client.auth.sign_up(
        {"email": email, "password": "s3cret-pass", "options": {"email_redirect_to": landing}}
    )
    mail = read_outbox(stack.config.outbox_dir, to=email)[-1]
    assert mail["Subject"] == "Confirm Your Signup"
    _, link = mailed(stack, email)

    followed = httpx.get(link, follow_redirects=False)
    assert followed.status_code == 303
    target, _, fragment = followed.headers["location"].partition("#")
    assert target == landing
    session = parse_qs(fragment)
    assert session["type"] == ["signup"] and session["token_type"] == ["bearer"]
    assert client.auth.get_user(session["access_token"][0]).user.email == email
    assert _confirmed(db, email)

    again = httpx.get(link, follow_redirects=False)
    assert parse_qs(again.headers["location"].partition("#")[2])["error_code"] == ["otp_expired"]


def test_redirects_never_leave_the_site(client, stack, new_email):
    email = new_email()
    client.auth.sign_up(
        {
            "email": email,
            "password": "s3cret-pass",
            "options": {"email_redirect_to": "https://evil.example/steal"},
        }
    )
    _, link = mailed(stack, email)
    assert parse_qs(urlsplit(link).query)["redirect_to"] == [stack.url]
    query = parse_qs(urlsplit(link).query)
    followed = httpx.get(
        f"{stack.url}/auth/v1/verify",
        params={
            "token": query["token"][0],
            "type": "signup",
            "redirect_to": "https://evil.example",
        },
        follow_redirects=False,
    )
    assert followed.headers["location"].startswith(stack.url + "#")


def test_a_wrong_code_or_another_addresss_code_confirms_nothing(client, stack, db, new_email):
    first, second = new_email(), new_email()
    for email in (first, second):
        client.auth.sign_up({"email": email, "password": "s3cret-pass"})
    code, _ = mailed(stack, first)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    assert _refused(
        lambda: client.auth.verify_otp({"email": first, "token": wrong, "type": "signup"})
    ) == (403, "otp_expired")
    assert _refused(
        lambda: client.auth.verify_otp({"email": second, "token": code, "type": "signup"})
    ) == (403, "otp_expired")
    assert not _confirmed(db, first) and not _confirmed(db, second)


def test_an_expired_code_confirms_nothing(client, stack, db, new_email):
    email = new_email()
    client.auth.sign_up({"email": email, "password": "s3cret-pass"})
    code, _ = mailed(stack, email)
    db.execute(
        "update auth.one_time_tokens set created_at = now() - interval '2 hours'"
        " where relates_to = %s",
        (email,),
    )
    assert _refused(
        lambda: client.auth.verify_otp({"email": email, "token": code, "type": "signup"})
    ) == (403, "otp_expired")
    assert not _confirmed(db, email)


def test_the_latest_sign_up_of_an_unconfirmed_address_wins(client, stack, new_email):
    """Someone signed up with your address first: their code dies with your sign-up, and the
    password that works after you confirm is yours."""
    email = new_email()
    client.auth.sign_up({"email": email, "password": "squatter-pass"})
    squatter_code, _ = mailed(stack, email)
    client.auth.sign_up({"email": email, "password": "owner-pass"})
    owner_code, _ = mailed(stack, email)
    assert _refused(
        lambda: client.auth.verify_otp({"email": email, "token": squatter_code, "type": "signup"})
    ) == (403, "otp_expired")
    client.auth.verify_otp({"email": email, "token": owner_code, "type": "signup"})
    fresh = create_client(stack.url, stack.anon_key)
    assert _refused(
        lambda: fresh.auth.sign_in_with_password({"email": email, "password": "squatter-pass"})
    ) == (400, "invalid_credentials")
    assert fresh.auth.sign_in_with_password({"email": email, "password": "owner-pass"}).session


def test_resend_replaces_the_code(client, stack, db, new_email):
    email = new_email()
    client.auth.sign_up({"email": email, "password": "s3cret-pass"})
    old, _ = mailed(stack, email)
    client.auth.resend({"type": "signup", "email": email})
    new, _ = mailed(stack, email)
    assert len(read_outbox(stack.config.outbox_dir, to=email)) == 2
    if new != old:  # one chance in a million that the new code repeats the old one
        assert _refused(
            lambda: client.auth.verify_otp({"email": email, "token": old, "type": "signup"})
        ) == (403, "otp_expired")
    client.auth.verify_otp({"email": email, "token": new, "type": "signup"})
    assert _confirmed(db, email)


def test_recovery_mail_signs_in_to_set_a_new_password(client, stack, new_email):
    email = new_email()
    sign_up_confirmed(client, stack, email, "forgotten-pass")
    client.auth.reset_password_for_email(email)
    assert read_outbox(stack.config.outbox_dir, to=email)[-1]["Subject"] == "Reset Your Password"
    code, _ = mailed(stack, email)
    recovered = client.auth.verify_otp({"email": email, "token": code, "type": "recovery"})
    assert recovered.session is not None
    client.auth.update_user({"password": "remembered-pass"})
    fresh = create_client(stack.url, stack.anon_key)
    assert fresh.auth.sign_in_with_password({"email": email, "password": "remembered-pass"}).user


def test_recovery_for_an_unknown_address_says_nothing_and_sends_nothing(client, stack, new_email):
    email = new_email()
    client.auth.reset_password_for_email(email)  # no error: nothing revealed
    assert read_outbox(stack.config.outbox_dir, to=email) == []


def test_magic_link_and_email_codes(client, stack, db, new_email):
    known = new_email()
    sign_up_confirmed(client, stack, known, "s3cret-pass")
    client.auth.sign_in_with_otp({"email": known})
    assert read_outbox(stack.config.outbox_dir, to=known)[-1]["Subject"] == "Your Magic Link"
    code, _ = mailed(stack, known)
    assert client.auth.verify_otp({"email": known, "token": code, "type": "magiclink"}).session

    # An unknown address gets an unconfirmed account and a confirmation; its code confirms it.
    unknown = new_email()
    client.auth.sign_in_with_otp({"email": unknown})
    assert not _confirmed(db, unknown)
    code, _ = mailed(stack, unknown)
    assert client.auth.verify_otp({"email": unknown, "token": code, "type": "email"}).session
    assert _confirmed(db, unknown)

    never = new_email()
    assert _refused(
        lambda: client.auth.sign_in_with_otp(
            {"email": never, "options": {"should_create_user": False}}
        )
    ) == (422, "otp_disabled")


def test_sign_up_never_adopts_an_account_another_provider_created(client, stack, db, new_email):
    """A Clerk user whose address Clerk has not verified has an unconfirmed account here; a
    local sign-up with that address must not set its password or confirm it."""
    email = new_email()
    db.execute(
        "select private.clerk_upsert_user(%s, %s, false, 'Clerk User', 1)",
        (f"user_{uuid.uuid4().hex[:12]}", email),
    )
    answer = client.auth.sign_up({"email": email, "password": "taken-over"})
    assert answer.session is None
    assert read_outbox(stack.config.outbox_dir, to=email) == []
    row = db.execute(
        "select encrypted_password, email_confirmed_at from auth.users where email = %s", (email,)
    ).fetchone()
    assert row == (None, None)
