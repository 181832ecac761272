"""HR's completion reports: completion by assignment, team and track, who is overdue, and each
scenario's score bands. No Qt.

From the server's org-scoped accessors (supabase/migrations/20261205000200_completion_reports.sql:
HR and admins get the whole org, a manager their teams' people) through `Backend.live`. When
the server cannot be reached, completion and the overdue list are worked out from this
computer's copy instead (app/client/assignments.py judges each person exactly as the server
does), and the report says so (`from_this_computer`); the score bands exist on the server only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from app.client.assignments import ManagedAssignment, Progress
from app.client.errors import ServerUnreachable
from app.client.live_service import LiveService
from app.client.views import Team, Track, utc_now
from sync.rows import number as as_decimal
from sync.rows import parse_time

FROM_THIS_COMPUTER = "from this computer's copy (the server cannot be reached)"
# The accessors' columns for the five states, in the order Progress lists them.
STATE_COLUMNS = {
    Progress.NOT_STARTED: "not_started",
    Progress.IN_PROGRESS: "in_progress",
    Progress.PASSED: "passed",
    Progress.FAILED: "failed",
    Progress.OVERDUE: "overdue",
}
BANDS = 10  # scenario_score_distribution's 10-point score bands


@dataclass(frozen=True)
class Completion:
    """How many (assignment, person) pairs stand where; the states add up to `assigned`."""

    assigned: int = 0
    not_started: int = 0
    in_progress: int = 0
    passed: int = 0
    failed: int = 0
    overdue: int = 0

    def count(self, progress: Progress) -> int:
        return int(getattr(self, STATE_COLUMNS[progress]))

    @property
    def rate(self) -> Decimal | None:
        """The share passed; None when nothing is assigned."""
        if not self.assigned:
            return None
        return (Decimal(self.passed) / self.assigned).quantize(Decimal("0.0001"))

    @property
    def summary(self) -> str:
        """ "2 passed · 1 overdue", in the order of Progress."""
        parts = [f"{self.count(p)} {p.value}" for p in Progress if self.count(p)]
        return " · ".join(parts) or "nobody assigned"

    @classmethod
    def of(cls, states: Iterable[Progress]) -> Completion:
        counts = {column: 0 for column in STATE_COLUMNS.values()}
        total = 0
        for state in states:
            counts[STATE_COLUMNS[state]] += 1
            total += 1
        return cls(assigned=total, **counts)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Completion:
        return cls(
            assigned=int(row["assigned"]), **{c: int(row[c]) for c in STATE_COLUMNS.values()}
        )


@dataclass(frozen=True)
class AssignmentCompletion:
    id: str
    title: str
    kind: str  # "scenario" or "track"
    assignee: str
    due_at: datetime | None
    completion: Completion


@dataclass(frozen=True)
class TeamCompletion:
    id: str
    name: str
    members: int
    completion: Completion


@dataclass(frozen=True)
class TrackCompletion:
    id: str
    title: str
    scenarios: int
    assignments: int
    completion: Completion


@dataclass(frozen=True)
class Overdue:
    assignment_id: str
    title: str
    user_id: str
    person: str
    due_at: datetime
    days_late: int

    @property
    def key(self) -> str:
        return f"{self.assignment_id}/{self.user_id}"


@dataclass(frozen=True)
class CompletionReport:
    assignments: tuple[AssignmentCompletion, ...]
    teams: tuple[TeamCompletion, ...]
    tracks: tuple[TrackCompletion, ...]
    overdue: tuple[Overdue, ...]
    from_this_computer: bool = False  # the server could not be reached


@dataclass(frozen=True)
class ScenarioScores:
    """One scenario's scored attempts in 10-point bands (0-9.99 … 90-100)."""

    scenario_id: str
    title: str
    scored_attempts: int
    passed_attempts: int
    pass_rate: Decimal | None
    avg_score: Decimal | None
    bands: tuple[int, ...]


class ReportsService(LiveService):
    """What HR's Reports tab reads (managers and admins may call it too; the server scopes)."""

    def completion(self) -> CompletionReport:
        """The server's completion reports; offline, the same worked out from the cache."""
        try:
            return self._run(_live_completion)
        except ServerUnreachable:
            return self.completion_from_this_computer()

    def completion_from_this_computer(self) -> CompletionReport:
        backend = self._backend
        return completion_from(
            backend.managed_assignments(), backend.teams(), backend.tracks(), utc_now()
        )

    def score_distribution(self) -> list[ScenarioScores]:
        """Per scenario: scored attempts per 10-point band, pass rate, average (live only)."""
        rows = self._run(_rows("scenario_score_distribution"))
        return [
            ScenarioScores(
                scenario_id=str(r["scenario_id"]),
                title=str(r["title"]),
                scored_attempts=int(r["scored_attempts"]),
                passed_attempts=int(r["passed_attempts"]),
                pass_rate=as_decimal(r["pass_rate"]),
                avg_score=as_decimal(r["avg_score"]),
                bands=tuple(int(n) for n in r["bands"] or [0] * BANDS),
            )
            for r in rows
        ]


def _rows(function: str) -> Callable[[Any], list[dict[str, Any]]]:
    return lambda client: list(client.rpc(function, {}).execute().data or [])


def _live_completion(client: Any) -> CompletionReport:
    assignments = _rows("assignment_completion")(client)
    teams = _rows("team_completion")(client)
    tracks = _rows("track_completion")(client)
    overdue = _rows("overdue_assignments")(client)
    return CompletionReport(
        assignments=tuple(
            AssignmentCompletion(
                id=str(r["assignment_id"]),
                title=str(r["title"]),
                kind=str(r["kind"]),
                assignee=str(r["assignee"]),
                due_at=parse_time(r["due_at"]),
                completion=Completion.from_row(r),
            )
            for r in assignments
        ),
        teams=tuple(
            TeamCompletion(
                str(r["team_id"]), str(r["name"]), int(r["members"]), Completion.from_row(r)
            )
            for r in teams
        ),
        tracks=tuple(
            TrackCompletion(
                id=str(r["track_id"]),
                title=str(r["title"]),
                scenarios=int(r["scenarios"]),
                assignments=int(r["assignments"]),
                completion=Completion.from_row(r),
            )
            for r in tracks
        ),
        overdue=tuple(
            Overdue(
                assignment_id=str(r["assignment_id"]),
                title=str(r["title"]),
                user_id=str(r["user_id"]),
                person=str(r["display_name"]),
                due_at=_time(r["due_at"]),
                days_late=int(r["days_late"]),
            )
            for r in overdue
        ),
    )


def _time(value: Any) -> datetime:
    moment = parse_time(value)
    if moment is None:  # the accessor lists only dated assignments
        raise ValueError(f"not a time: {value!r}")
    return moment


# This computer's copy ---------------------------------------------------------------------------
def completion_from(
    assignments: Sequence[ManagedAssignment],
    teams: Sequence[Team],
    tracks: Sequence[Track],
    at: datetime,
) -> CompletionReport:
    """The server's reports worked out from the cache's assignments and progress."""
    pairs = [(a, p) for a in assignments for p in a.people]
    by_track: dict[str, list[ManagedAssignment]] = {}
    for assignment in assignments:
        if assignment.track_id is not None:
            by_track.setdefault(assignment.track_id, []).append(assignment)
    return CompletionReport(
        assignments=tuple(
            AssignmentCompletion(
                a.id,
                a.title,
                a.kind,
                a.assignee,
                a.due_at,
                Completion.of(p.progress for p in a.people),
            )
            for a in assignments
        ),
        teams=tuple(
            TeamCompletion(
                t.id,
                t.name,
                len(t.member_ids),
                Completion.of(p.progress for _, p in pairs if p.user_id in t.member_ids),
            )
            for t in sorted(teams, key=lambda t: (t.name, t.id))
        ),
        tracks=tuple(
            TrackCompletion(
                t.id,
                t.title,
                len(t.scenario_ids),
                len(by_track.get(t.id, ())),
                Completion.of(p.progress for a in by_track.get(t.id, ()) for p in a.people),
            )
            for t in sorted(tracks, key=lambda t: (t.title, t.id))
            if t.status != "draft" or t.id in by_track
        ),
        overdue=tuple(overdue_from(assignments, at)),
        from_this_computer=True,
    )


def overdue_from(assignments: Sequence[ManagedAssignment], at: datetime) -> list[Overdue]:
    """Everyone past a due date without passing, latest first (as overdue_assignments)."""
    rows = [
        Overdue(
            assignment_id=a.id,
            title=a.title,
            user_id=p.user_id,
            person=p.display_name,
            due_at=a.due_at,
            days_late=max(int((at - a.due_at).total_seconds() // 86400), 0),
        )
        for a in assignments
        if a.due_at is not None
        for p in a.people
        if p.progress is Progress.OVERDUE
    ]
    return sorted(rows, key=lambda r: (-r.days_late, r.person.casefold(), r.assignment_id))
