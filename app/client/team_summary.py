"""A team's standing on its assignments, for the one-page summary (ui/team_summary_pdf.py).

From the cache, as the Reports tab's completion is (app/client/assignments.py), so it works
offline and reads as the Reports tab does. Everything counts person by assignment: a member
assigned three things (to the team or to them alone) counts three times.

- completion: of everything the team's members were assigned, the share passed;
- pass rate: of what they have tried (one attempt or more), the share passed;
- average score: the mean of each person's best score on each assignment that has one;
- overdue: the members past a due date without passing.

The page's header carries the org's logo when it has one: downloaded through the Organisation
service (`org-assets`, which every member may read) once per org for the service's life, and
left out, with the page otherwise the same, when there is none or it cannot be fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import structlog

from app.client.assignments import ManagedAssignment, PersonProgress, Progress
from app.client.organisation import OrganisationService, image_type
from app.client.views import Backend, Member, Team, utc_now
from app.errors import CoachdeskError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class TeamSummary:
    team_id: str
    team_name: str
    org_name: str
    members: tuple[str, ...]  # display names, in alphabetical order
    assigned: int  # person × assignment
    attempted: int
    passed: int
    average_score: Decimal | None
    overdue: tuple[str, ...]  # display names, in alphabetical order
    at: datetime
    logo: bytes | None = None  # the org's (PNG, JPEG or WebP), for the page's header

    @property
    def completion(self) -> Decimal | None:
        return _percent(self.passed, self.assigned)

    @property
    def pass_rate(self) -> Decimal | None:
        return _percent(self.passed, self.attempted)


def _percent(part: int, whole: int) -> Decimal | None:
    return round(Decimal(100 * part) / whole, 1) if whole else None


def summarize(
    team: Team,
    members: Sequence[Member],
    assignments: Sequence[ManagedAssignment],
    at: datetime,
    org_name: str = "",
    logo: bytes | None = None,
) -> TeamSummary:
    """One team's summary from the org's members and assignments."""
    names = {m.user_id: m.display_name for m in members}
    in_team = [u for u in team.member_ids if u in names]
    progress: list[PersonProgress] = [
        person for a in assignments for person in a.people if person.user_id in team.member_ids
    ]
    scores = [p.best_score for p in progress if p.best_score is not None]
    overdue = {
        names.get(p.user_id, p.display_name) for p in progress if p.progress is Progress.OVERDUE
    }
    return TeamSummary(
        team_id=team.id,
        team_name=team.name,
        org_name=org_name,
        members=tuple(sorted((names[u] for u in in_team), key=str.casefold)),
        assigned=len(progress),
        attempted=sum(1 for p in progress if p.attempts > 0 or p.progress is Progress.PASSED),
        passed=sum(1 for p in progress if p.progress is Progress.PASSED),
        average_score=round(sum(scores, Decimal(0)) / len(scores), 1) if scores else None,
        overdue=tuple(sorted(overdue, key=str.casefold)),
        at=at,
        logo=logo,
    )


class TeamSummaryService:
    """What the summary's screen calls (blocking, off the GUI thread): every team's summary."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._organisation = OrganisationService(backend)
        self._logos: dict[str, bytes | None] = {}  # org id -> its logo (None: it has none)

    def summaries(self) -> list[TeamSummary]:
        """Every team of the org, by name; PermissionDenied for who may not read reports."""
        assignments = self._backend.managed_assignments()
        members = self._backend.members()
        account = self._backend.account
        org_name = account.org_name if account is not None else ""
        at = utc_now()
        teams = sorted(self._backend.teams(), key=lambda t: t.name.casefold())
        logo = self.logo() if teams else None
        return [summarize(t, members, assignments, at, org_name, logo) for t in teams]

    def logo(self) -> bytes | None:
        """The current org's logo, fetched once per org; None when it has none, or when it
        cannot be fetched now (offline: the pages go without it, and the next try asks again)."""
        account = self._backend.account
        org = account.org_id if account is not None else None
        if org is None:
            return None
        if org not in self._logos:
            try:
                data = self._organisation.logo()
            except CoachdeskError as error:
                log.info("team summary without the logo", org_id=org, reason=str(error))
                return None
            # Only an image the PDF can draw; another object named logo.* is left out.
            self._logos[org] = data if data and image_type(data) else None
        return self._logos[org]
