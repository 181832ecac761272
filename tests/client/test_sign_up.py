"""Creating an account from the app against the real stack: Auth mails a code, the code signs
the new account in (in no org yet), and every refusal comes back in words a person can act on."""

from __future__ import annotations

import pytest
from stack_fixtures import mailed

from app.client import sign_up
from app.client.errors import SignInRefused
from app.client.sign_up import SignUpRefused, check_code, check_details, local_mail_folder

PASSWORD = "new-person-pass-1"


@pytest.mark.parametrize(
    ("email", "password", "repeated", "name", "words"),
    [
        ("ana@example", PASSWORD, PASSWORD, "Ana", "work email address"),
        ("ana@example.com", PASSWORD, PASSWORD, "  ", "Enter your name"),
        ("ana@example.com", PASSWORD, PASSWORD, "A" * 101, "at most 100"),
        ("ana@example.com", "short", "short", "Ana", "at least 8 characters"),
        ("ana@example.com", PASSWORD, PASSWORD + "x", "Ana", "not the same"),
    ],
)
def test_the_form_is_checked_before_anything_is_sent(email, password, repeated, name, words):
    with pytest.raises(SignUpRefused, match=words):
        check_details(email, password, repeated, name)


def test_a_code_may_be_split_by_spaces_but_is_six_digits():
    assert check_code(" 123 456 ") == "123456"
    for wrong in ("12345", "1234567", "12a456", ""):
        with pytest.raises(SignUpRefused, match="6-digit code"):
            check_code(wrong)


def test_auth_codes_become_sentences_and_unknown_ones_keep_auth_s_words():
    exists = sign_up.refusal("user_already_exists", "User already registered")
    assert "exists already" in str(exists)
    assert "not right or has expired" in str(sign_up.refusal("otp_expired", "Token has expired"))
    weak = sign_up.refusal("weak_password", "Password should be at least 6 characters")
    assert str(weak) == "Choose a stronger password: Password should be at least 6 characters."
    assert "Something odd." in str(sign_up.refusal("brand_new_code", "Something odd"))


def test_a_new_account_is_confirmed_by_the_mailed_code_and_signed_in_without_an_org(
    backend, stack, new_email
):
    email = new_email()
    assert backend.sign_up(email, PASSWORD, PASSWORD, "Nia New") is None
    assert backend.account is None  # nothing to sign in with before the code
    with pytest.raises(SignUpRefused, match="not right or has expired"):
        backend.confirm_sign_up(email, "000000")
    code, _ = mailed(stack, email)
    account = backend.confirm_sign_up(email, code)
    assert (account.email, account.org_id, account.role) == (email, None, None)
    assert backend.account == account
    backend.sign_out(discard_unsynced=True)
    # The password chosen in the form is the account's from now on.
    assert backend.sign_in(email, PASSWORD).email == email


def test_a_lost_code_is_sent_again_and_only_the_new_one_works(backend, stack, new_email):
    email = new_email()
    backend.sign_up(email, PASSWORD, PASSWORD, "Nia New")
    first, _ = mailed(stack, email)
    backend.resend_sign_up_code(email)
    second, _ = mailed(stack, email)
    assert second != first
    with pytest.raises(SignUpRefused, match="not right or has expired"):
        backend.confirm_sign_up(email, first)
    assert backend.confirm_sign_up(email, second).email == email


def test_the_server_s_own_password_rule_is_worded(backend, stack, new_email, monkeypatch):
    # The form asks for 8 characters; a server asking more refuses in its own words.
    monkeypatch.setattr(sign_up, "MIN_PASSWORD_LENGTH", 1)
    with pytest.raises(SignUpRefused, match="Choose a stronger password: Password should be"):
        backend.sign_up(new_email(), "abc", "abc", "Nia New")


def test_the_mail_folder_is_named_only_for_this_computer_s_own_server(stack, tmp_path, monkeypatch):
    from server.stack import runner

    monkeypatch.setenv("COACHDESK_STACK_DIR", str(tmp_path))
    assert local_mail_folder(stack.url) is None  # that stack never ran from this folder
    (tmp_path / runner.PORT_FILE).write_text(stack.url.rsplit(":", 1)[1])
    assert local_mail_folder(stack.url) == tmp_path / "outbox"
    assert local_mail_folder("https://abc.supabase.co") is None


def test_a_forgotten_password_is_replaced_with_the_mailed_code(backend, stack, new_email):
    email = new_email()
    backend.sign_up(email, PASSWORD, PASSWORD, "Nia New")
    backend.confirm_sign_up(email, mailed(stack, email)[0])
    backend.sign_out(discard_unsynced=True)

    backend.request_password_reset(email)
    code, _ = mailed(stack, email)
    with pytest.raises(SignUpRefused, match="not the same"):
        backend.reset_password(email, code, "brand-new-pass", "brand-new-pass!")
    with pytest.raises(SignUpRefused, match="not right or has expired"):
        backend.reset_password(email, "000000", "brand-new-pass", "brand-new-pass")
    account = backend.reset_password(email, code, "brand-new-pass", "brand-new-pass")
    assert backend.account == account and account.email == email
    backend.sign_out(discard_unsynced=True)
    with pytest.raises(SignInRefused):
        backend.sign_in(email, PASSWORD)
    assert backend.sign_in(email, "brand-new-pass").email == email


def test_a_reset_for_an_unknown_address_looks_like_any_other(backend, stack, new_email):
    backend.request_password_reset(new_email())  # no error: Auth says nothing about addresses
