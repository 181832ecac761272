"""The assignments a manager made, with where each assigned person stands (no Qt, no network).

Built from the manager's cache, which holds the org's attempts (RLS lets a manager's pull have
them), so the list works offline and shows provisional scores until the server's arrive. A
person's progress is judged exactly as their own home judges it (sync.cache due_assignments:
the best score of each scenario, the server's or else the provisional one, against the
assignment's required score or else the scenario's pass mark).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sync.cache import Cache, DueAssignment, MadeAssignment, Member, Scenario, Team, Track


class Progress(StrEnum):
    NOT_STARTED = "not started"
    IN_PROGRESS = "in progress"
    PASSED = "passed"
    FAILED = "failed"  # every attempt the cap allows used without passing
    OVERDUE = "overdue"  # past the due date, not passed


@dataclass(frozen=True)
class PersonProgress:
    user_id: str
    display_name: str
    progress: Progress
    attempts: int
    best_score: Decimal | None
    completed: int  # scenarios of the assignment passed


@dataclass(frozen=True)
class ManagedAssignment:
    id: str
    title: str
    kind: str  # "scenario" or "track"
    assignee: str  # the person's or the team's name
    team_id: str | None
    user_id: str | None
    scenario_count: int
    due_at: datetime | None
    note: str
    created_at: datetime | None
    people: tuple[PersonProgress, ...]
    track_id: str | None = None

    def count(self, progress: Progress) -> int:
        return sum(1 for person in self.people if person.progress is progress)

    @property
    def summary(self) -> str:
        """ "2 passed · 1 overdue · 3 not started", in the order of Progress."""
        parts = [f"{self.count(p)} {p.value}" for p in Progress if self.count(p)]
        return " · ".join(parts) or "nobody assigned"


def judge(
    due: DueAssignment | None,
    attempts: int,
    cap: int | None,
    at: datetime,
) -> Progress:
    """One person's standing on one assignment."""
    if due is not None and due.done:
        return Progress.PASSED
    if cap is not None and attempts >= cap:
        return Progress.FAILED
    if due is not None and due.overdue(at):
        return Progress.OVERDUE
    return Progress.IN_PROGRESS if attempts else Progress.NOT_STARTED


def managed_assignments(
    cache: Cache, org_id: str, at: datetime, assigned_by: str | None = None
) -> list[ManagedAssignment]:
    """The org's assignments (those `assigned_by` made, if given) with each person's progress."""
    made = cache.assignments_made(org_id, assigned_by)
    members = {m.user_id: m for m in cache.members(org_id)}
    teams = {t.id: t for t in cache.teams(org_id)}
    tracks = {t.id: t for t in cache.tracks(org_id)}
    scenarios = {s.id: s for s in cache.scenarios(org_id)}
    counts = cache.attempt_counts(org_id)
    people = {p for a in made for p in _assigned_people(a, teams)}
    due_of = {p: {d.id: d for d in cache.due_assignments(org_id, p)} for p in people}
    return [_managed(a, members, teams, tracks, scenarios, counts, due_of, at) for a in made]


def _assigned_people(assignment: MadeAssignment, teams: Mapping[str, Team]) -> list[str]:
    if assignment.user_id is not None:
        return [assignment.user_id]
    team = teams.get(assignment.team_id or "")
    return sorted(team.member_ids) if team else []


def _managed(
    assignment: MadeAssignment,
    members: Mapping[str, Member],
    teams: Mapping[str, Team],
    tracks: Mapping[str, Track],
    scenarios: Mapping[str, Scenario],
    counts: Mapping[tuple[str, str], int],
    due_of: Mapping[str, Mapping[str, DueAssignment]],
    at: datetime,
) -> ManagedAssignment:
    scenario_ids = _scenario_ids(assignment, tracks)
    title, kind = _title(assignment, tracks, scenarios)
    cap = _cap(assignment, scenario_ids, scenarios)
    people = []
    for user_id in _assigned_people(assignment, teams):
        due = due_of.get(user_id, {}).get(assignment.id)
        attempts = sum(counts.get((user_id, s), 0) for s in scenario_ids)
        member = members.get(user_id)
        people.append(
            PersonProgress(
                user_id=user_id,
                display_name=member.display_name if member else "(no longer a member)",
                progress=judge(due, attempts, cap, at),
                attempts=attempts,
                best_score=due.best_score if due else None,
                completed=due.completed if due else 0,
            )
        )
    team = teams.get(assignment.team_id or "")
    person = members.get(assignment.user_id or "")
    assignee = f"Team {team.name}" if team else person.display_name if person else "(not available)"
    return ManagedAssignment(
        id=assignment.id,
        title=title,
        kind=kind,
        assignee=assignee,
        team_id=assignment.team_id,
        user_id=assignment.user_id,
        scenario_count=len(scenario_ids),
        due_at=assignment.due_at,
        note=assignment.note,
        created_at=assignment.created_at,
        people=tuple(sorted(people, key=lambda p: p.display_name.casefold())),
        track_id=assignment.track_id,
    )


def _scenario_ids(assignment: MadeAssignment, tracks: Mapping[str, Track]) -> Sequence[str]:
    if assignment.track_id is not None:
        track = tracks.get(assignment.track_id)
        return track.scenario_ids if track else ()
    return (assignment.scenario_id,) if assignment.scenario_id else ()


def _title(
    assignment: MadeAssignment, tracks: Mapping[str, Track], scenarios: Mapping[str, Scenario]
) -> tuple[str, str]:
    if assignment.track_id is not None:
        track = tracks.get(assignment.track_id)
        return (track.title if track else "(track not available)"), "track"
    scenario = scenarios.get(assignment.scenario_id or "")
    return (scenario.title if scenario else "(scenario not available)"), "scenario"


def _cap(
    assignment: MadeAssignment, scenario_ids: Sequence[str], scenarios: Mapping[str, Scenario]
) -> int | None:
    """The attempts allowed on a one-scenario assignment (the assignment's cap, else the
    scenario's); a track has no single cap, so it never counts as failed by attempts."""
    if assignment.max_attempts is not None:
        return assignment.max_attempts * max(len(scenario_ids), 1)
    if len(scenario_ids) == 1:
        scenario = scenarios.get(scenario_ids[0])
        return scenario.max_attempts if scenario else None
    return None
