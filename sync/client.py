"""The Supabase client sync uses, and what each of its failures means for sync.

One httpx client carries every request (REST, Auth, Storage), so timeouts are set in one place and
tests can wrap its transport to inject faults at the HTTP boundary. `classify` turns whatever the
supabase libraries raise into one small hierarchy the engine acts on:

    OfflineError         retry later with backoff (no network, timeout, 5xx, 429, lock timeouts)
    SessionExpiredError  refresh the access token, then retry once
    NotSignedInError     the session is gone (refresh refused): sign in again
    RejectedError        refused for good (SQLSTATE class 22, 23, 42501, or our CD4xx): park,
                         keep the data
    ServerError          anything else the server refused (e.g. a schema mismatch): retry later
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import jwt
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError
from supabase_auth import SyncMemoryStorage, SyncSupportedStorage
from supabase_auth.errors import (
    AuthApiError,
    AuthError,
    AuthRetryableError,
    AuthSessionMissingError,
)

from supabase import Client, ClientOptions, create_client

# Connect fails fast (the server is down: back off); a large upload or page may take a while.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)

# SQLSTATEs that say "try again": serialization failures and deadlocks (40), lock and statement
# timeouts (55P03, 57014), the server shutting down or out of resources (57P, 53), connection
# trouble between the API and the database (08).
_TRANSIENT_SQLSTATE_PREFIXES = ("40", "53", "08", "57P", "55P03", "57014")
# Auth error codes meaning the refresh token (and so the session) is no longer valid.
_SESSION_GONE_CODES = frozenset(
    {
        "refresh_token_already_used",
        "refresh_token_not_found",
        "session_not_found",
        "session_expired",
        "user_not_found",
        "invalid_grant",
    }
)


@dataclass(frozen=True)
class ServerConfig:
    """Which Supabase to talk to: hosted or the local stack, and its public anon key."""

    url: str
    anon_key: str

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"server URL must be http(s)://host[:port], got {self.url!r}")
        if not self.anon_key:
            raise ValueError("the server's anon key is empty")
        object.__setattr__(self, "url", self.url.rstrip("/"))


def make_client(
    config: ServerConfig,
    *,
    storage: SyncSupportedStorage | None = None,
    transport: httpx.BaseTransport | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
) -> Client:
    """A supabase client that never refreshes or retries on its own: the engine decides when.

    `storage` is where the auth session is kept (sync.session passes the OS keyring);
    `transport` replaces httpx's (tests inject faults with it).
    """
    http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=True)
    headers = dict(ClientOptions().headers)
    # An explicit Authorization keeps create_client from loading (and maybe refreshing over the
    # network) a stored session while constructing; sync.session restores it when it decides.
    headers["Authorization"] = f"Bearer {config.anon_key}"
    options = ClientOptions(
        headers=headers,
        storage=storage if storage is not None else SyncMemoryStorage(),
        auto_refresh_token=False,
        persist_session=True,
        postgrest_client_retry=False,
        httpx_client=http,
    )
    return create_client(config.url, config.anon_key, options)


# Errors -----------------------------------------------------------------------------------------
class SyncError(Exception):
    """Base of every sync failure; `str()` is a message for people."""


class OfflineError(SyncError):
    """The server cannot be reached or is failing for now; nothing is lost, sync retries."""


class SessionExpiredError(SyncError):
    """The access token expired or was refused; a refresh should fix it."""


class NotSignedInError(SyncError):
    """There is no usable session: sign in again (local data is kept)."""


class SignInError(SyncError):
    """Wrong email or password, or an account that cannot sign in."""


class SignUpError(SyncError):
    """Auth refused a sign-up or its confirmation code; `code` is GoTrue's error code
    (user_already_exists, weak_password, otp_expired, signup_disabled, ...)."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class ServerError(SyncError):
    """The server refused in a way retrying might fix later (e.g. an older server schema)."""


class RejectedError(SyncError):
    """The server refused this change for good; it is parked with `code` and the message."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


class WrongOrgError(SyncError):
    """Changes of one org were about to be sent under a token for another: nothing was sent."""


def token_org_id(client: Client) -> str | None:
    """The org claim of the token the client's requests carry now (None: no org, or no user).

    Unverified on purpose: the server checks the signature; here the claim only decides what
    may be sent with it."""
    scheme, _, token = str(client.options.headers.get("Authorization", "")).partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    org = claims.get("org_id")
    return str(org) if org else None


def is_rejection_code(code: str | None) -> bool:
    """Errors that can never succeed on retry: data (22), integrity (23), permission (42501),
    and the database's own refusals CD4xx (CD + the HTTP status: CD412 a draft saved by someone
    else since, CD423 a live version that cannot change, CD402 the plan's limit)."""
    return bool(code) and (code.startswith(("22", "23", "CD4")) or code == "42501")


def classify(error: BaseException) -> SyncError:
    """What `error` means for sync; unknown exceptions are re-raised (they are bugs)."""
    if isinstance(error, SyncError):
        return error
    if isinstance(error, httpx.TransportError | AuthRetryableError):
        return OfflineError(f"cannot reach the server ({type(error).__name__}: {error})")
    if isinstance(error, APIError):
        return _classify_rest(error)
    if isinstance(error, StorageApiError):
        return _classify_storage(error)
    if isinstance(error, AuthSessionMissingError):
        return NotSignedInError("not signed in")
    if isinstance(error, AuthApiError):
        return _classify_auth(error)
    if isinstance(error, AuthError):
        return NotSignedInError(f"the session is no longer valid: {error.message}")
    raise error


def _classify_rest(error: APIError) -> SyncError:
    code = error.code or ""
    message = error.message or code or "the server refused the request"
    if code == "PGRST303" or code == "PGRST301":
        return SessionExpiredError(message)
    if is_rejection_code(code):
        return RejectedError(message, code)
    # Without a PostgREST body the code is the HTTP status ("500", "502", "429", ...).
    if code.isdigit() and (int(code) >= 500 or int(code) in (408, 429)):
        return OfflineError(f"the server answered {code}: {message}")
    if not code or code.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
        return OfflineError(f"the server could not answer now ({code or 'no code'}: {message})")
    return ServerError(f"{message} ({code})")


def _classify_storage(error: StorageApiError) -> SyncError:
    status = int(error.status) if str(error.status).isdigit() else 0
    if error.code == "InvalidJWT":
        return SessionExpiredError(error.message)
    if status >= 500 or status in (408, 429) or status == 0:
        return OfflineError(f"file storage answered {status or 'nothing'}: {error.message}")
    if status in (400, 403, 413, 415):
        # Bad name, not allowed by the storage policies, too large, wrong type: never succeeds.
        return RejectedError(error.message, f"storage-{status}")
    return ServerError(f"file storage refused the file ({status} {error.code}): {error.message}")


def _classify_auth(error: AuthApiError) -> SyncError:
    code = error.code or ""
    if error.status >= 500 or error.status == 429:
        return OfflineError(f"the sign-in service answered {error.status}: {error.message}")
    if code in ("invalid_credentials", "email_not_confirmed", "user_banned"):
        return SignInError(error.message)
    if code in _SESSION_GONE_CODES or error.status in (401, 403):
        return NotSignedInError(f"the session has ended ({code or error.status}): sign in again")
    return SignInError(error.message)
