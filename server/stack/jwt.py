"""HS256 tokens: API keys, access tokens and Storage's signed-URL tokens, all with one secret.

Hosted Supabase signs all three with the project's JWT secret; so does the local stack, which
is why `public.grant_signed_url` (which signs in SQL) and the Storage endpoints agree.
"""

from __future__ import annotations

import time
from typing import Any

import jwt as pyjwt

ALGORITHM = "HS256"
# API keys are fixed for a given secret (an app keeps its anon key across restarts) and
# long-lived, as hosted keys are: issued 2025-11-24, valid about ten years.
API_KEY_IAT = 1_764_000_000
API_KEY_TTL_S = 10 * 365 * 24 * 3600


class TokenError(Exception):
    """A token that is missing, malformed, badly signed or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.expired = expired


def encode(payload: dict[str, Any], secret: str) -> str:
    return pyjwt.encode(payload, secret, algorithm=ALGORITHM)


def decode(token: str, secret: str) -> dict[str, Any]:
    """Verify signature and expiry; audience is not checked (PostgREST's default)."""
    try:
        claims = pyjwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"verify_aud": False, "require": ["exp"]},
        )
    except pyjwt.ExpiredSignatureError as exc:
        raise TokenError("JWT expired", expired=True) from exc
    except pyjwt.PyJWTError as exc:
        raise TokenError(f"invalid JWT: {exc}") from exc
    if not isinstance(claims, dict):
        raise TokenError("invalid JWT: claims are not an object")
    return claims


def api_key(role: str, secret: str) -> str:
    """An anon or service_role key in the shape hosted Supabase issues."""
    payload = {"iss": "supabase", "ref": "local", "role": role, "iat": API_KEY_IAT}
    payload["exp"] = API_KEY_IAT + API_KEY_TTL_S
    return encode(payload, secret)


def now() -> int:
    return int(time.time())
