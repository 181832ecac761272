"""Rate limits of the local auth server, per client address and per account, as GoTrue has them.

Without them a password could be guessed at 40 tries a second. Limits are moving windows (the
`limits` library, in memory: one stack process is one GoTrue), written in its notation
("30 per 5 minutes"). Per-address rules count every request of their kind; per-account rules
count only failures (a wrong password, a wrong code), so a locked-out guesser never locks the
owner out for long, and mails to one address are spaced like GoTrue's SMTP_MAX_FREQUENCY.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Literal

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.requests import Request

Rule = Literal[
    "sign_in_per_ip",
    "token_refresh_per_ip",
    "verify_per_ip",
    "otp_per_ip",
    "failures_per_account",
    "mail_per_account",
]


@dataclass(frozen=True)
class RateLimits:
    """Defaults are hosted GoTrue's where it has one (sign-ins and sign-ups 30 per 5 minutes
    per IP, token refreshes 150, verifications 30, OTP and magic-link requests 30 per hour,
    one mail per address a minute)."""

    sign_in_per_ip: str = "30 per 5 minutes"  # POST /token (password), /signup
    token_refresh_per_ip: str = "150 per 5 minutes"  # POST /token (refresh_token)
    verify_per_ip: str = "30 per 5 minutes"  # GET and POST /verify
    otp_per_ip: str = "30 per hour"  # POST /otp, /recover, /resend
    failures_per_account: str = "10 per 15 minutes"  # wrong passwords or codes for one email
    mail_per_account: str = "1 per minute"  # any mail to one address

    @classmethod
    def generous(cls) -> RateLimits:
        """For test suites that sign in hundreds of times from one address."""
        return cls(**dict.fromkeys(asdict(cls()), "100000 per minute"))


def client_ip(request: Request) -> str:
    """The peer address. No X-Forwarded-For: the stack listens on loopback, behind no proxy,
    and trusting the header would let a guesser pick a fresh address per try."""
    return request.client.host if request.client else "unknown"


class RateLimited(Exception):
    """Over a limit: answer 429 with Retry-After; `mail` tells GoTrue's two error codes apart."""

    def __init__(self, rule: Rule, retry_after_s: int) -> None:
        super().__init__(f"rate limit {rule} reached; retry after {retry_after_s} s")
        self.rule = rule
        self.retry_after_s = retry_after_s

    @property
    def mail(self) -> bool:
        return self.rule == "mail_per_account"


class Limiter:
    """The stack's counters. `hit` counts and refuses; `check` refuses without counting and
    `failed` counts without refusing, for rules that count only failures."""

    def __init__(self, limits: RateLimits) -> None:
        self._items: dict[str, RateLimitItem] = {
            rule: parse(value) for rule, value in asdict(limits).items()
        }
        self._strategy = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, rule: Rule, key: str) -> None:
        if not self._strategy.hit(self._items[rule], rule, key):
            raise self._limited(rule, key)

    def check(self, rule: Rule, key: str) -> None:
        if not self._strategy.test(self._items[rule], rule, key):
            raise self._limited(rule, key)

    def failed(self, rule: Rule, key: str) -> None:
        self._strategy.hit(self._items[rule], rule, key)

    def _limited(self, rule: Rule, key: str) -> RateLimited:
        reset_at = self._strategy.get_window_stats(self._items[rule], rule, key).reset_time
        return RateLimited(rule, max(1, math.ceil(reset_at - time.time())))
