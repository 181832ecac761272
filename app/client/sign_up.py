"""Creating an account (and resetting a forgotten password) from the app: what the forms check
first, and Auth's refusals in words.

The account is Supabase Auth's (hosted, or the local stack's GoTrue-compatible one): a sign-up
with email and password, confirmed by the 6-digit code Auth mails (the same mail carries a link;
a desktop app has no page to land on, so it asks for the code). A new account belongs to no org:
an invitation makes it a member (app/client/people.py, the invitation offer after sign-in).
"""

from __future__ import annotations

import re
from pathlib import Path

from app.client.errors import SignInRefused
from app.errors import CoachdeskError

MIN_PASSWORD_LENGTH = 8  # hosted Supabase's default minimum is 6; ours asks a little more
MAX_NAME_LENGTH = 100
_CODE = re.compile(r"^\d{6}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# GoTrue's error codes (supabase/auth internal/api/errorcodes.go) for what a person can fix.
_REFUSALS = {
    "user_already_exists": (
        "An account with this email address exists already. Sign in with it instead (or ask "
        "your admin to reset its password)."
    ),
    "email_exists": "An account with this email address exists already. Sign in with it instead.",
    "weak_password": "Choose a stronger password: {detail}",
    "email_address_invalid": "This email address is not accepted by the server. Check it.",
    "validation_failed": "The server did not accept this: {detail}",
    "signup_disabled": (
        "This Coachdesk server does not let people create accounts themselves. Ask your "
        "admin to invite you."
    ),
    "email_provider_disabled": (
        "This Coachdesk server does not let people create accounts with an email address. Ask "
        "your admin how to sign in."
    ),
    "otp_expired": (
        "That code is not right or has expired. Check the latest mail, or ask for a new code."
    ),
    "over_email_send_rate_limit": (
        "Too many mails were sent to this address just now. Wait a minute and try again."
    ),
}


class SignUpRefused(SignInRefused):
    """The account could not be created or confirmed; the text says what to do."""


def check_details(email: str, password: str, repeated: str, display_name: str) -> None:
    """The form's own checks, before anything is sent (the server checks again)."""
    check_email(email)
    if not display_name.strip():
        raise SignUpRefused("Enter your name as colleagues should see it.")
    if len(display_name.strip()) > MAX_NAME_LENGTH:
        raise SignUpRefused(f"Your name can be at most {MAX_NAME_LENGTH} characters.")
    check_password(password, repeated)


def check_email(email: str) -> None:
    if not _EMAIL.match(email.strip()):
        raise SignUpRefused("Enter your work email address, such as you@company.com.")


def check_password(password: str, repeated: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SignUpRefused(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    if password != repeated:
        raise SignUpRefused("The two passwords are not the same. Type them again.")


def check_code(code: str) -> str:
    """The 6-digit code from the mail, spaces allowed (mail clients split it)."""
    digits = re.sub(r"\s", "", code)
    if not _CODE.match(digits):
        raise SignUpRefused("Enter the 6-digit code from the mail.")
    return digits


def refusal(code: str, detail: str) -> CoachdeskError:
    """Auth's refusal (`code`, its message `detail`) as a sentence for the person."""
    text = _REFUSALS.get(code)
    if text is None:
        return SignUpRefused(f"The server did not create the account: {detail.rstrip('.')}.")
    return SignUpRefused(text.format(detail=detail.rstrip(".") + "."))


def local_mail_folder(server_url: str) -> Path | None:
    """Where this computer's own server (the embedded local stack) writes the mails Auth would
    send, when `server_url` is that server; None for any other server (hosted Auth mails)."""
    try:
        from server.stack import runner
    except ImportError:  # an installed desktop build ships without the local stack
        return None
    data_dir = runner.default_data_dir()
    if runner.last_url(data_dir) != server_url.rstrip("/"):
        return None
    return data_dir / "outbox"
