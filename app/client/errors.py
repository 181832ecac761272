"""What can go wrong in the client core, as errors whose text a user reads.

Named apart from sync's own (sync/client.py: OfflineError, SignInError, ...), whose text is for
the log: app/client/backend.py `translate` turns those into these."""

from __future__ import annotations

from app.errors import CoachdeskError


class SignInRefused(CoachdeskError):
    """Wrong email or password, or an account that cannot sign in."""


class ServerUnreachable(CoachdeskError):
    """The server cannot be reached; cached data is still shown."""


class PermissionDenied(CoachdeskError):
    """The server refused: the account's role in this org does not allow it."""


class NotSignedIn(CoachdeskError):
    """The session ended (signed out elsewhere, expired): sign in again."""


class UnsyncedWork(CoachdeskError):
    """Signing out now would delete practice calls the server does not have yet."""
