"""What the client core's services that talk to the server directly share (People, Webhooks,
Exports): the caller's org, the admin check, calls on the owner thread with the database's
refusals in words, and writes that RLS may narrow to nothing. No Qt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from app.client.errors import PermissionDenied
from app.client.views import Backend
from app.errors import CoachdeskError
from supabase import Client
from sync.db_types import OrgRole
from sync.session import Session

T = TypeVar("T")


class LiveService:
    """Subclasses set `not_admin` (the sentence for a non-admin) and `nothing_changed`, and
    override `words` to put their calls' refusals into sentences."""

    not_admin = "Only an admin of this org can do this."
    nothing_changed = (
        "Nothing was changed: it is no longer there, or your role does not allow it. Refresh "
        "the list and try again."
    )

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def words(self, error: BaseException) -> CoachdeskError | None:
        """The sentence for one of this service's refusals; None: not one of ours."""
        return None

    def _org(self) -> str:
        account = self._backend.account
        if account is None or account.org_id is None:
            raise PermissionDenied("You are not a member of an org on this server.")
        return str(account.org_id)

    def _require_admin(self) -> None:
        """Saves a round trip for a screen that should not have offered the action; the
        database refuses it anyway."""
        account = self._backend.account
        if account is not None and account.role is not OrgRole.ADMIN:
            raise PermissionDenied(self.not_admin)

    def _run(self, call: Callable[[Client], T]) -> T:
        def on_owner(session: Session) -> T:
            try:
                return call(session.client)
            except Exception as error:
                worded = self.words(error)
                if worded is None:
                    raise  # Backend.live words the rest (offline, session ended, ...)
                raise worded from error

        return self._backend.live(on_owner)

    def _changed_one(self, call: Callable[[Client], Sequence[Any]]) -> Sequence[Any]:
        """A write RLS may silently narrow to no row: say so instead of pretending."""
        rows = self._run(call)
        if not rows:
            raise CoachdeskError(self.nothing_changed)
        return rows
