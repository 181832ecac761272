"""What can go wrong in the client core, as errors whose text a user reads."""

from __future__ import annotations

from app.errors import CoachdeskError


class SignInError(CoachdeskError):
    """Wrong email or password, or an account that cannot sign in."""


class OfflineError(CoachdeskError):
    """The server cannot be reached; cached data is still shown."""


class PermissionDenied(CoachdeskError):
    """The server refused: the account's role in this org does not allow it."""


class NotSignedIn(CoachdeskError):
    """The session ended (signed out elsewhere, expired): sign in again."""


class UnsyncedWork(CoachdeskError):
    """Signing out now would delete practice calls the server does not have yet."""
