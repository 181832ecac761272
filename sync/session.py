"""The signed-in user: email + password sign-in, the session in the OS keyring, refresh, orgs.

The supabase client keeps its session (access and refresh token, user) through a storage object;
here that storage is the OS keyring (Keychain, Credential Manager, Secret Service, KWallet via
`keyring`), so the session is never written to a plain file. Starting offline works from what
the keyring holds: `restore()` needs no network, and the identity (user, org, role) is read from
the stored access token's claims even when it has expired.

No keyring backend: `Session(..., remember=True)` raises NoKeyringError; the documented choice is
`remember=False`, which keeps the session in memory only (sign in at every start; working offline
then needs a sign-in earlier in the same run).

All network calls of one Session must come from one thread at a time (the sync worker): refresh
tokens are single-use, and the lock below keeps two refreshes from racing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
import jwt
import keyring
import keyring.backends.fail
import keyring.backends.null
import structlog
from keyring.backend import KeyringBackend
from keyring.errors import KeyringError, PasswordDeleteError
from supabase_auth import SyncMemoryStorage, SyncSupportedStorage
from supabase_auth.constants import STORAGE_KEY
from supabase_auth.types import Session as AuthSession

from supabase import Client
from sync.cache import Cache
from sync.client import (
    NotSignedInError,
    ServerConfig,
    ServerError,
    SignInError,
    SyncError,
    classify,
    make_client,
)

log = structlog.get_logger(__name__)

KEYRING_SERVICE = "Coachdesk"
# Refresh this long before the access token expires, so no request leaves with a dying token.
REFRESH_MARGIN_S = 120
# A health probe is one small GET on a server that is either up or not.
PROBE_TIMEOUT_S = 2.0


class NoKeyringError(SyncError):
    """No OS keyring to keep the session in; the message says what the user can do."""


class UnsyncedWorkError(SyncError):
    """Signing out would delete local changes the server does not have yet."""

    def __init__(self, pending: int, rejected: int) -> None:
        super().__init__(
            f"{pending} change(s) are not synced yet and {rejected} were refused by the server; "
            "signing out deletes this computer's copy. Sync first, or sign out anyway."
        )
        self.pending = pending
        self.rejected = rejected


def usable_keyring(backend: KeyringBackend | None = None) -> KeyringBackend:
    """The keyring backend to use, or NoKeyringError when there is none worth the name."""
    chosen = backend if backend is not None else keyring.get_keyring()
    name = f"{type(chosen).__module__}.{type(chosen).__name__}"
    plain_file = name.startswith("keyrings.alt.file") and "Encrypted" not in name
    unusable = keyring.backends.fail.Keyring | keyring.backends.null.Keyring
    if isinstance(chosen, unusable) or plain_file:
        raise NoKeyringError(
            f"No system keyring is available to keep your sign-in safe (found {name}). "
            "Coachdesk never writes your session to a plain file. Unlock or install a keyring "
            "(Keychain on macOS, Credential Manager on Windows, GNOME Keyring or KWallet on "
            "Linux), or continue without remembering the sign-in: the session then stays in "
            "memory only and you sign in again each time Coachdesk starts."
        )
    return chosen


class KeyringSessionStorage(SyncSupportedStorage):
    """The supabase client's session storage, in the OS keyring (one entry per server)."""

    def __init__(self, backend: KeyringBackend, server_url: str) -> None:
        self.backend = backend
        self.service = f"{KEYRING_SERVICE} {server_url}"

    def get_item(self, key: str) -> str | None:
        try:
            return self.backend.get_password(self.service, key)
        except KeyringError as error:
            raise NoKeyringError(f"the system keyring cannot be read: {error}") from error

    def set_item(self, key: str, value: str) -> None:
        try:
            self.backend.set_password(self.service, key, value)
        except KeyringError as error:
            raise NoKeyringError(f"the system keyring cannot be written: {error}") from error

    def remove_item(self, key: str) -> None:
        try:
            self.backend.delete_password(self.service, key)
        except PasswordDeleteError:
            pass  # nothing stored: already removed
        except KeyringError as error:
            raise NoKeyringError(f"the system keyring cannot be changed: {error}") from error


@dataclass(frozen=True)
class Identity:
    """Who the session is for, from the access token's claims (the org is the server's choice)."""

    user_id: str
    email: str
    org_id: str | None
    org_role: str | None
    expires_at: int

    @classmethod
    def from_access_token(cls, token: str) -> Identity:
        # The signature is the server's business; here the claims only label the local cache.
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        return cls(
            user_id=str(claims["sub"]),
            email=str(claims.get("email") or ""),
            org_id=str(claims["org_id"]) if claims.get("org_id") else None,
            org_role=str(claims["org_role"]) if claims.get("org_role") else None,
            expires_at=int(claims.get("exp") or 0),
        )


@dataclass(frozen=True)
class Membership:
    org_id: str
    name: str
    role: str | None


class Session:
    """One user's session with one server, and the supabase client that carries it."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        remember: bool = True,
        keyring_backend: KeyringBackend | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = config
        self._storage: SyncSupportedStorage = (
            KeyringSessionStorage(usable_keyring(keyring_backend), config.url)
            if remember
            else SyncMemoryStorage()
        )
        # Probes get a client of their own (same transport, short timeout), apart from the
        # supabase client's.
        self._probe_http = httpx.Client(timeout=PROBE_TIMEOUT_S, transport=transport)
        self.client: Client = make_client(config, storage=self._storage, transport=transport)
        self._lock = threading.RLock()

    # Who ----------------------------------------------------------------------------------
    @property
    def identity(self) -> Identity | None:
        """The stored session's identity, without the network (None: not signed in)."""
        stored = self._stored()
        return Identity.from_access_token(stored.access_token) if stored else None

    def require_identity(self) -> Identity:
        identity = self.identity
        if identity is None:
            raise NotSignedInError("not signed in: sign in to sync")
        return identity

    def _stored(self) -> AuthSession | None:
        raw = self._storage.get_item(STORAGE_KEY)
        if not raw:
            return None
        try:
            return AuthSession.model_validate_json(raw)
        except ValueError:
            log.warning("stored session unreadable; signing in again is needed")
            return None

    # Sign in and out ----------------------------------------------------------------------
    def sign_in(self, email: str, password: str) -> Identity:
        if not email.strip() or not password:
            raise SignInError("Enter your email address and password.")
        with self._lock:
            self._call(
                lambda: self.client.auth.sign_in_with_password(
                    {"email": email.strip(), "password": password}
                )
            )
        identity = self.require_identity()
        log.info("signed in", user_id=identity.user_id, org_id=identity.org_id)
        return identity

    def restore(self) -> Identity | None:
        """Resume the session kept in the keyring; works offline (no request is made)."""
        with self._lock:
            # With auto refresh off this only loads the stored session and, if its access token
            # is still valid, puts it on the client's requests; an expired one waits for
            # ensure_fresh() once the server is reachable.
            self.client.auth.initialize_from_storage()
        return self.identity

    def sign_out(self, cache: Cache | None = None, *, discard_unsynced: bool = False) -> None:
        """End the session here (and on the server when reachable); delete the user's cache.

        Refuses (UnsyncedWorkError) while the cache holds changes the server does not have,
        unless `discard_unsynced`."""
        if cache is not None and not discard_unsynced:
            pending, rejected = cache.sync_counts()
            pending += len(cache.held_attempts())  # calls kept here until the user uploads
            if pending or rejected:
                raise UnsyncedWorkError(pending, rejected)
        with self._lock:
            try:
                self.client.auth.sign_out({"scope": "local"})
            except Exception as error:  # classify re-raises what it does not know
                problem = classify(error)
                # Signed out here either way; the server forgets the session when it expires.
                log.info("server sign-out not confirmed", reason=str(problem))
            self._storage.remove_item(STORAGE_KEY)
        if cache is not None:
            cache.destroy()

    # Freshness ----------------------------------------------------------------------------
    def ensure_fresh(self, margin_s: int = REFRESH_MARGIN_S) -> Identity:
        """Refresh the access token if it expires within `margin_s`; OfflineError if the server
        cannot be reached (the session stays, for later), NotSignedInError if it is gone."""
        with self._lock:
            stored = self._stored()
            if stored is None:
                raise NotSignedInError("not signed in: sign in to sync")
            if (stored.expires_at or 0) - time.time() < margin_s:
                self._refresh(stored.refresh_token)
            else:
                self._ensure_on_client(stored)
        return self.require_identity()

    def refresh(self) -> Identity:
        """A new access token now (after the server said the token expired, or an org switch)."""
        with self._lock:
            stored = self._stored()
            if stored is None:
                raise NotSignedInError("not signed in: sign in to sync")
            self._refresh(stored.refresh_token)
        return self.require_identity()

    def _refresh(self, refresh_token: str) -> None:
        try:
            self._call(lambda: self.client.auth.refresh_session(refresh_token))
        except NotSignedInError:
            # The refresh token was refused (revoked, reused, expired): the session is over.
            self._storage.remove_item(STORAGE_KEY)
            raise

    def _ensure_on_client(self, stored: AuthSession) -> None:
        """The client sends the stored token (after an offline start it may still send none)."""
        expected = f"Bearer {stored.access_token}"
        if self.client.options.headers.get("Authorization") != expected:
            self.client.auth.initialize_from_storage()

    def server_answers(self, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
        """Whether the server answers at all now (its Auth health endpoint; no session needed).
        Thread-safe, and cheap enough to ask every few seconds while offline."""
        try:
            response = self._probe_http.get(
                f"{self.config.url}/auth/v1/health",
                headers={"apikey": self.config.anon_key},
                timeout=timeout_s,
            )
        except httpx.HTTPError:
            return False
        return response.status_code < 500

    # Orgs ---------------------------------------------------------------------------------
    def memberships(self) -> list[Membership]:
        """The orgs the user belongs to (`my_orgs()` where the server has it; otherwise the
        current org, the only one RLS shows)."""
        identity = self.ensure_fresh()
        try:
            rows = self._call(lambda: self.client.rpc("my_orgs").execute()).data or []
            return [Membership(str(r["org_id"]), str(r["name"]), r.get("role")) for r in rows]
        except ServerError:
            log.info("server has no my_orgs(); listing the current org only")
        if identity.org_id is None:
            return []
        rows = self._call(
            lambda: self.client.table("orgs").select("id,name").eq("id", identity.org_id).execute()
        ).data
        name = str(rows[0]["name"]) if rows else ""
        return [Membership(identity.org_id, name, identity.org_role)]

    def switch_org(self, org_id: str) -> Identity:
        """Make `org_id` the active org; the server enforces the org on the token, so the token
        is refreshed and must come back with the new org."""
        self.ensure_fresh()
        self._call(lambda: self.client.rpc("set_active_org", {"org_id": org_id}).execute())
        identity = self.refresh()
        if identity.org_id != org_id:
            raise ServerError(
                f"the server issued a token for org {identity.org_id}, not {org_id}; "
                "is the custom access token hook enabled?"
            )
        log.info("switched org", user_id=identity.user_id, org_id=org_id)
        return identity

    # Helpers ------------------------------------------------------------------------------
    @staticmethod
    def _call(call: Any) -> Any:
        try:
            return call()
        except SyncError:
            raise
        except Exception as error:  # classify re-raises what it does not know
            raise classify(error) from error


__all__ = [
    "Identity",
    "KeyringSessionStorage",
    "Membership",
    "NoKeyringError",
    "Session",
    "UnsyncedWorkError",
    "usable_keyring",
]
