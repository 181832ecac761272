"""A manager's assignments and where each person stands, from a real cache (no server)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.client.assignments import Progress, judge, managed_assignments
from sync.cache import Cache, store_server_rows

ORG = "d0000000-0000-4000-8000-000000000001"
MANAGER = "a0000000-0000-4000-8000-000000000002"
ANA, BEN, CAL = (f"a0000000-0000-4000-8000-00000000001{n}" for n in (1, 2, 3))
COLD_CALL, CFO = "f0000000-0000-4000-8000-000000000001", "f0000000-0000-4000-8000-000000000002"
TEAM = "e0000000-0000-4000-8000-000000000001"
NOW = datetime(2026, 12, 3, 12, tzinfo=UTC)


def _scenario(scenario_id: str, title: str, max_attempts: int | None = None) -> dict:
    return {
        "id": scenario_id, "org_id": ORG, "title": title, "description": "",
        "persona": {"name": "Dana"}, "difficulty": "beginner", "ai_prompt": "",
        "branching": {"start": "a", "nodes": []}, "rubric": {"criteria": []},
        "status": "published", "pass_score": 70, "max_attempts": max_attempts,
        "updated_at": "2026-01-01T00:00:00+00:00", "sync_xid": 1,
    }  # fmt: skip


def _assignment(assignment_id: str, *, by: str = MANAGER, due: datetime | None = None, **to):
    row = {
        "id": assignment_id, "org_id": ORG, "scenario_id": COLD_CALL, "track_id": None,
        "user_id": None, "team_id": None, "due_at": due.isoformat() if due else None,
        "required_score": None, "max_attempts": None, "note": "by Friday",
        "assigned_by": by, "created_at": "2026-12-01T09:00:00+00:00",
        "updated_at": "2026-12-01T09:00:00+00:00", "sync_xid": 2,
    }  # fmt: skip
    return {**row, **to}


@pytest.fixture
def cache(tmp_path):
    cache = Cache.open(tmp_path, MANAGER)
    with cache.atomic() as db:
        store_server_rows(
            db, "scenarios", [_scenario(COLD_CALL, "Cold call"), _scenario(CFO, "CFO", 2)]
        )
        store_server_rows(
            db,
            "org_members",
            [
                {"id": str(uuid.uuid4()), "org_id": ORG, "user_id": user, "role": role,
                 "display_name": name, "sync_xid": 1}
                for user, role, name in (
                    (MANAGER, "manager", "Morgan"), (ANA, "trainee", "Ana"),
                    (BEN, "trainee", "Ben"), (CAL, "trainee", "Cal"),
                )
            ],
        )  # fmt: skip
        store_server_rows(db, "teams", [{"id": TEAM, "org_id": ORG, "name": "East", "sync_xid": 1}])
        store_server_rows(
            db,
            "team_members",
            [
                {"id": str(uuid.uuid4()), "org_id": ORG, "team_id": TEAM, "user_id": user,
                 "sync_xid": 1}
                for user in (ANA, BEN, CAL)
            ],
        )  # fmt: skip
    yield cache
    cache.close()


def _attempt(cache: Cache, user_id: str, scenario_id: str, score: int) -> None:
    """Another person's scored attempt, as a manager's pull stores it."""
    started = NOW - timedelta(hours=1)
    row = {
        "id": str(uuid.uuid4()), "org_id": ORG, "user_id": user_id, "assignment_id": None,
        "scenario_id": scenario_id, "started_at": started.isoformat(),
        "ended_at": (started + timedelta(minutes=5)).isoformat(), "duration_seconds": 300,
        "recording_path": None, "transcript_path": None, "kpis": {}, "score": score,
        "score_breakdown": {"score": score, "passed": score >= 70}, "status": "scored",
        "failure_reason": None, "scored_at": started.isoformat(), "device_id": None,
        "created_at": started.isoformat(), "updated_at": started.isoformat(), "sync_xid": 5,
        "transcript_xid": 5,
    }  # fmt: skip
    with cache.atomic() as db:
        store_server_rows(db, "scenario_attempts", [row])


def test_each_person_of_a_team_assignment_gets_their_own_status(cache):
    with cache.atomic() as db:
        store_server_rows(
            db, "assignments", [_assignment("a-team", team_id=TEAM, due=NOW - timedelta(days=1))]
        )
    _attempt(cache, ANA, COLD_CALL, 85)  # passed
    _attempt(cache, BEN, COLD_CALL, 40)  # tried, not passed, and the due date is gone
    [made] = managed_assignments(cache, ORG, NOW, assigned_by=MANAGER)
    assert (made.title, made.assignee, made.kind) == ("Cold call", "Team East", "scenario")
    status = {p.display_name: (p.progress, p.attempts, p.best_score) for p in made.people}
    assert status == {
        "Ana": (Progress.PASSED, 1, Decimal(85)),
        "Ben": (Progress.OVERDUE, 1, Decimal(40)),
        "Cal": (Progress.OVERDUE, 0, None),
    }
    assert made.summary == "1 passed · 2 overdue"


def test_progress_before_the_due_date_and_after_the_last_allowed_attempt(cache):
    with cache.atomic() as db:
        store_server_rows(
            db,
            "assignments",
            [
                _assignment("a-ana", user_id=ANA, due=NOW + timedelta(days=3)),
                _assignment("a-ben", user_id=BEN, scenario_id=CFO),  # CFO allows 2 attempts
                _assignment("a-cal", user_id=CAL),
            ],
        )
    _attempt(cache, ANA, COLD_CALL, 50)
    _attempt(cache, BEN, CFO, 50)
    _attempt(cache, BEN, CFO, 60)
    by_person = {
        a.people[0].display_name: a.people[0].progress
        for a in managed_assignments(cache, ORG, NOW, MANAGER)
    }
    assert by_person == {
        "Ana": Progress.IN_PROGRESS,
        "Ben": Progress.FAILED,
        "Cal": Progress.NOT_STARTED,
    }


def test_a_manager_sees_what_they_made_and_what_is_not_sent_yet(cache):
    with cache.atomic() as db:
        store_server_rows(
            db,
            "assignments",
            [_assignment("theirs", user_id=ANA, by=CAL), _assignment("mine", user_id=BEN)],
        )
    local = cache.create_assignment(org_id=ORG, scenario_id=CFO, user_id=CAL)  # offline
    mine = [a.id for a in managed_assignments(cache, ORG, NOW, MANAGER)]
    assert mine == [local, "mine"]  # the unsent one first: it is the newest
    everyone = {a.id for a in managed_assignments(cache, ORG, NOW)}  # an admin's view
    assert everyone == {local, "mine", "theirs"}


def test_judge_puts_passing_before_caps_and_due_dates():
    assert judge(None, 0, None, NOW) is Progress.NOT_STARTED
    assert judge(None, 3, 3, NOW) is Progress.FAILED
