"""The signed-in user: email + password sign-in, the session in the OS keyring, refresh, orgs.

The supabase client keeps its session (access and refresh token, user) through a storage object;
here that storage is the OS keyring (Keychain, Credential Manager, Secret Service, KWallet via
`keyring`), so the session is never written to a plain file. Starting offline works from what
the keyring holds: `restore()` needs no network, and the identity (user, org, role) is read from
the stored access token's claims even when it has expired.

No keyring backend: `Session(..., remember=True)` raises NoKeyringError; the choices are
`remember=False`, which keeps the session in memory only (sign in at every start; working offline
then needs a sign-in earlier in the same run), or, when the user asks for it, a file encrypted
with a passphrase they choose (`encrypted_file_keyring`, keyrings.cryptfile), passed as the
keyring backend.

One thread uses a Session (in the app, the owner thread of the cache and session:
sync/owner.py): refresh tokens are single-use, so two refreshes must never race, and with one
thread they cannot. Only `server_answers` (its own HTTP client) may be asked from any thread.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import keyring
import keyring.backends.fail
import keyring.backends.null
import structlog
from keyring.backend import KeyringBackend
from keyring.backends.chainer import ChainerBackend
from keyring.errors import KeyringError, PasswordDeleteError
from keyrings.cryptfile.cryptfile import CryptFileKeyring
from supabase_auth import SyncMemoryStorage, SyncSupportedStorage
from supabase_auth.constants import STORAGE_KEY
from supabase_auth.errors import AuthApiError, AuthRetryableError, CustomAuthError
from supabase_auth.types import Session as AuthSession

from supabase import Client
from sync.cache import Cache
from sync.client import (
    DEFAULT_TIMEOUT,
    NotSignedInError,
    OfflineError,
    ServerConfig,
    ServerError,
    SignInError,
    SignUpError,
    SyncError,
    classify,
    make_client,
)

log = structlog.get_logger(__name__)

KEYRING_SERVICE = "Coachdesk"
# Keyrings that are files, not the system's: never chosen on their own (see usable_keyring).
FILE_KEYRING_MODULES = ("keyrings.alt", "keyrings.cryptfile")
KEYRING_HOW_TO = (
    "To get one: on Linux install and unlock GNOME Keyring (`sudo apt install gnome-keyring`, "
    "then log out and in) or KWallet; on macOS and Windows the Keychain and Credential Manager "
    "are built in."
)
# Refresh this long before the access token expires, so no request leaves with a dying token.
REFRESH_MARGIN_S = 120
# A health probe is one small GET on a server that is either up or not.
PROBE_TIMEOUT_S = 2.0


class NoKeyringError(SyncError):
    """No OS keyring to keep the session in; the message says what the user can do."""


class WrongPassphraseError(NoKeyringError):
    """The passphrase does not unlock the encrypted sign-in file (or is empty)."""


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
    """The system keyring to use, or NoKeyringError when there is none worth the name.

    File keyrings (keyrings.alt, keyrings.cryptfile) are never picked by themselves: a plain one
    is no keyring at all, and an encrypted one asks for its passphrase on a terminal the app
    does not have. The encrypted file is the user's explicit choice (encrypted_file_keyring)."""
    chosen = backend if backend is not None else keyring.get_keyring()
    candidates = chosen.backends if isinstance(chosen, ChainerBackend) else [chosen]
    usable = [candidate for candidate in candidates if not _not_a_system_keyring(candidate)]
    if not usable:
        names = ", ".join(_name(candidate) for candidate in candidates) or _name(chosen)
        raise NoKeyringError(
            f"No system keyring is available to keep your sign-in safe (found {names}); "
            f"Coachdesk never writes your session to a plain file. {KEYRING_HOW_TO} Or keep "
            "the sign-in in a file encrypted with a passphrase of your choice, or sign in again "
            "each time Coachdesk starts."
        )
    return usable[0]


def _name(backend: KeyringBackend) -> str:
    return f"{type(backend).__module__}.{type(backend).__name__}"


def _not_a_system_keyring(backend: KeyringBackend) -> bool:
    unusable = keyring.backends.fail.Keyring | keyring.backends.null.Keyring
    return isinstance(backend, unusable) or _name(backend).startswith(FILE_KEYRING_MODULES)


def encrypted_file_storage(path: Path, passphrase: str, server_url: str) -> SyncSupportedStorage:
    """The session kept in `path`, encrypted with `passphrase` (created on first use, unlocked
    after; WrongPassphraseError when it does not unlock). Read once, then kept in memory: every
    read of the file derives the key again (Argon2, about a second by design)."""
    return RememberingStorage(
        KeyringSessionStorage(encrypted_file_keyring(path, passphrase), server_url)
    )


def encrypted_file_keyring(path: Path, passphrase: str) -> KeyringBackend:
    """A keyring in `path`, encrypted (Argon2 + AES) with `passphrase`: created on first use,
    unlocked after. WrongPassphraseError when it does not unlock an existing file."""
    if not passphrase.strip():
        raise WrongPassphraseError("Choose a passphrase (it cannot be empty).")
    path.parent.mkdir(parents=True, exist_ok=True)
    backend = CryptFileKeyring()
    backend.file_path = str(path)
    try:
        backend.keyring_key = passphrase  # creates the file, or checks the passphrase
    except ValueError as error:  # "Incorrect Password", "MAC check failed"
        raise WrongPassphraseError(
            f"That passphrase does not unlock the saved sign-in in {path}."
        ) from error
    path.chmod(0o600)
    return backend


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


class RememberingStorage(SyncSupportedStorage):
    """Another storage, read at most once per key: this Session is the only writer."""

    def __init__(self, inner: SyncSupportedStorage) -> None:
        self.inner = inner
        self._known: dict[str, str | None] = {}

    def get_item(self, key: str) -> str | None:
        if key not in self._known:
            self._known[key] = self.inner.get_item(key)
        return self._known[key]

    def set_item(self, key: str, value: str) -> None:
        self.inner.set_item(key, value)
        self._known[key] = value

    def remove_item(self, key: str) -> None:
        self.inner.remove_item(key)
        self._known[key] = None


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
        storage: SyncSupportedStorage | None = None,
    ) -> None:
        """`storage`, when given, keeps the session instead of the system keyring (the
        encrypted file the user chose: encrypted_file_storage)."""
        self.config = config
        self._storage: SyncSupportedStorage
        if storage is not None:
            self._storage = storage
        elif remember:
            self._storage = KeyringSessionStorage(usable_keyring(keyring_backend), config.url)
        else:
            self._storage = SyncMemoryStorage()
        # Probes get a client of their own (same transport, short timeout), apart from the
        # supabase client's.
        self._probe_http = httpx.Client(timeout=PROBE_TIMEOUT_S, transport=transport)
        self.client: Client = make_client(config, storage=self._storage, transport=transport)
        # Downloads of signed URLs (no session header: the URL carries its own grant).
        self._download_http = httpx.Client(timeout=DEFAULT_TIMEOUT, transport=transport)

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
            log.warning("stored session unreadable", next_step="sign in again")
            return None

    # Sign in and out ----------------------------------------------------------------------
    def sign_in(self, email: str, password: str) -> Identity:
        if not email.strip() or not password:
            raise SignInError("Enter your email address and password.")
        # A server that is down or hung would hold the sign-in for the full request timeout;
        # the probe's short one says so in seconds.
        if not self.server_answers():
            raise OfflineError(f"the server at {self.config.url} does not answer")
        self._call(
            lambda: self.client.auth.sign_in_with_password(
                {"email": email.strip(), "password": password}
            )
        )
        identity = self.require_identity()
        log.info("signed in", user_id=identity.user_id, org_id=identity.org_id)
        return identity

    def sign_up(self, email: str, password: str, display_name: str) -> Identity | None:
        """A new account. With confirmations on (hosted Supabase's default and the local
        stack's) Auth mails a code and there is no session yet: None; `confirm_sign_up`
        redeems the code. A server that auto-confirms signs the new user in at once."""
        if not self.server_answers():
            raise OfflineError(f"the server at {self.config.url} does not answer")
        credentials: Any = {
            "email": email.strip(),
            "password": password,
            # accept_invitation() names the member from full_name (as OAuth providers fill it).
            "options": {"data": {"full_name": display_name.strip()}},
        }
        response = self._auth_call(lambda: self.client.auth.sign_up(credentials))
        if response.session is None:
            return None
        return self.require_identity()

    def confirm_sign_up(self, email: str, code: str) -> Identity:
        """Redeem the code Auth mailed to `email`; the confirmed account is signed in."""
        params: Any = {"email": email.strip(), "token": code.strip(), "type": "signup"}
        self._auth_call(lambda: self.client.auth.verify_otp(params))
        identity = self.require_identity()
        log.info("signed up", user_id=identity.user_id)
        return identity

    def resend_sign_up_code(self, email: str) -> None:
        """Another confirmation mail (Auth answers alike for unknown addresses)."""
        params: Any = {"type": "signup", "email": email.strip()}
        self._auth_call(lambda: self.client.auth.resend(params))

    def request_password_reset(self, email: str) -> None:
        """Auth mails a recovery code (and answers alike for unknown addresses)."""
        if not self.server_answers():
            raise OfflineError(f"the server at {self.config.url} does not answer")
        self._auth_call(lambda: self.client.auth.reset_password_for_email(email.strip()))

    def reset_password(self, email: str, code: str, password: str) -> Identity:
        """Redeem the recovery code (that signs in) and set the new password."""
        params: Any = {"email": email.strip(), "token": code.strip(), "type": "recovery"}
        self._auth_call(lambda: self.client.auth.verify_otp(params))
        self._auth_call(lambda: self.client.auth.update_user({"password": password}))
        identity = self.require_identity()
        log.info("password reset", user_id=identity.user_id)
        return identity

    def restore(self) -> Identity | None:
        """Resume the session kept in the keyring; works offline (no request is made)."""
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
            log.info("server has no my_orgs", listed="the current org only")
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

    # Live calls ---------------------------------------------------------------------------
    def rpc(self, function: str, params: Mapping[str, Any] | None = None) -> Any:
        """Call the database function `function` now, with a fresh token; its JSON result
        (OfflineError, RejectedError, ... as `classify` says)."""
        self.ensure_fresh()
        return self._call(lambda: self.client.rpc(function, dict(params or {})).execute().data)

    def download(self, url: str) -> bytes:
        """The body of a signed URL (a recording); a path-only URL is taken as the server's
        Storage path. OfflineError when the server cannot be reached, ServerError when it
        answers anything but 200."""
        if url.startswith("/"):
            url = f"{self.config.url}/storage/v1{url}"
        try:
            response = self._download_http.get(url)
        except httpx.HTTPError as error:
            raise OfflineError(f"the download from {self.config.url} failed: {error}") from error
        if response.status_code != 200:
            raise ServerError(
                f"the download was refused (the server answered {response.status_code})"
            )
        return response.content

    # Helpers ------------------------------------------------------------------------------
    @classmethod
    def _auth_call(cls, call: Any) -> Any:
        """As `_call`, but Auth's refusals of a sign-up keep GoTrue's code: "user exists",
        "weak password" and "code expired" need different words than a wrong password (and
        otp_expired's 403 is no ended session)."""
        try:
            return call()
        except (AuthApiError, CustomAuthError) as error:  # weak_password is a custom one
            status = int(getattr(error, "status", 400) or 400)
            if status >= 500 or status == 429 or isinstance(error, AuthRetryableError):
                raise classify(error) from error
            raise SignUpError(error.message, str(error.code or status)) from error
        except Exception as error:  # classify re-raises what it does not know
            raise classify(error) from error

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
    "WrongPassphraseError",
    "encrypted_file_keyring",
    "encrypted_file_storage",
    "usable_keyring",
]
