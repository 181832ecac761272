"""Reminders of assignments: a manager reminds the people who have not passed one yet, and each
reads the reminder on their home after their next sync and dismisses it (no Qt).

A reminder is made on the server at once (`remind_assignment`, through Backend.live: it checks
the role, who is still assigned and passed, and the once-an-hour limit); the trainee's side is
the cache (Backend.local), so unread reminders show and dismissing works offline, the dismissal
going back through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.client.assignments import ManagedAssignment, PersonProgress, Progress
from app.client.errors import PermissionDenied
from app.client.live_service import LiveService
from app.errors import CoachdeskError
from sync.cache import Cache

NOTIFICATIONS = "notifications"  # the table (app.client.views.Changes names it)
NOTE_LIMIT = 500  # characters; the database's check


@dataclass(frozen=True)
class Reminder:
    """An unread reminder as the trainee's home shows it."""

    id: str
    assignment_id: str | None
    assignment_title: str
    sender: str  # the manager's name
    note: str
    sent_at: datetime | None


def to_remind(assignment: ManagedAssignment) -> tuple[PersonProgress, ...]:
    """Who a reminder of the assignment can reach: everyone assigned who has not passed."""
    return tuple(p for p in assignment.people if p.progress is not Progress.PASSED)


class RemindersService(LiveService):
    not_manager = "Only managers and admins of this org remind people of assignments."

    def remind(
        self,
        assignment: ManagedAssignment,
        people: Sequence[PersonProgress] | None = None,
        note: str = "",
    ) -> int:
        """Remind `people` (None: everyone not passed yet); returns how many were reminded.
        The server leaves out, when reminding everyone, whoever was reminded this hour."""
        account = self._backend.account
        if account is not None and not account.is_manager:
            raise PermissionDenied(self.not_manager)
        note = note.strip()
        if len(note) > NOTE_LIMIT:
            raise CoachdeskError(
                f"The note is {len(note)} characters long; keep it to {NOTE_LIMIT}."
            )
        params = {
            "assignment_id": assignment.id,
            "user_ids": None if people is None else [p.user_id for p in people],
            "note": note,
        }
        made = self._run(lambda client: client.rpc("remind_assignment", params).execute().data)
        return len(made or [])

    def unread(self) -> list[Reminder]:
        """This user's reminders not dismissed yet, newest first, from the cache."""
        org_id = self._org()
        return self._backend.local(lambda cache: _unread(cache, org_id))

    def mark_read(self, reminder_id: str) -> None:
        """Dismiss it: gone from home at once, sent with the next sync (works offline)."""
        self._backend.local(
            lambda cache: cache.dismiss_notification(reminder_id), changed=NOTIFICATIONS
        )

    def words(self, error: BaseException) -> CoachdeskError | None:
        return refusal(error)


def _unread(cache: Cache, org_id: str) -> list[Reminder]:
    titles = {a.id: a.title for a in cache.due_assignments(org_id)}
    names = {m.user_id: m.display_name for m in cache.members(org_id)}
    return [
        Reminder(
            id=n.id,
            assignment_id=n.assignment_id,
            assignment_title=titles.get(n.assignment_id or "", "(assignment no longer open)"),
            sender=names.get(n.created_by or "", "your manager"),
            note=n.message,
            sent_at=n.created_at,
        )
        for n in cache.unread_notifications(org_id)
    ]


def refusal(error: BaseException) -> CoachdeskError | None:
    """The sentence for a refusal of remind_assignment; None: not one of ours."""
    code = getattr(error, "code", None)
    message = str(getattr(error, "message", "") or "")
    hint = str(getattr(error, "hint", "") or "")
    if code == "CD429":
        return CoachdeskError(
            "They were already reminded of this assignment in the last hour. "
            + (hint or "Try again later.")
        )
    if code == "CD409":
        if "nobody to remind" in message:
            return CoachdeskError("Everyone assigned has passed it: there is nobody to remind.")
        return CoachdeskError("They have already passed this assignment: refresh the list.")
    if code == "22023":
        if "not assigned" in message:
            return CoachdeskError(
                "They are no longer assigned this (they left the team?): refresh the list."
            )
        return CoachdeskError(message[:1].upper() + message[1:] + ".")
    if code == "42501":
        return PermissionDenied(
            "You can no longer remind people of this assignment: it was withdrawn, or your "
            "role does not allow it. Refresh the list."
        )
    return None
