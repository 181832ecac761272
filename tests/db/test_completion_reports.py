"""Completion reports (migration 20261205000200): completion by assignment, team and track, the
overdue list and score bands per scenario, on a small org whose every number is known, read as
`authenticated` with real claims; who may read what.

The accessors read committed rows (and the distribution the star schema), so the org is
committed here and deleted at the end of the module.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from db_support import ApiSession, Claims, Seed
from psycopg.rows import dict_row

ROLES = {"hr": "hr", "admin": "admin", "manager": "manager"}
PEOPLE = ("hr", "admin", "manager", "ana", "ben", "cal", "dee")
REPORTS = (
    "assignment_completion",
    "team_completion",
    "track_completion",
    "overdue_assignments",
    "scenario_score_distribution",
)
STATES = ("assigned", "passed", "in_progress", "not_started", "overdue", "failed")


@dataclass
class KnownOrg:
    id: str
    users: dict[str, str]
    names: dict[str, str]
    scenarios: dict[str, str]
    teams: dict[str, str]
    track: str
    assignments: dict[str, str]

    def claims(self, key: str) -> Claims:
        return Claims(sub=self.users[key], org_id=self.id, org_role=ROLES.get(key, "trainee"))


def _ids(*keys: str) -> dict[str, str]:
    return {key: str(uuid.uuid4()) for key in keys}


def _create(conn: psycopg.Connection) -> KnownOrg:
    """Team A: manager, ana, ben; team B: cal; dee in no team. Scenarios s1, s2 (pass 70) and s3
    (pass 70, at most 2 attempts); track T = s1, s2. Assignments:
      a1  s1 to team A, due 2 days ago: ana 80 (passed), ben 50 and the manager nothing (overdue)
      a2  T to cal, due in 5 days: cal 75 on s1 and 85 on s2 (passed)
      a3  s3 to dee: 40 and 45, both attempts allowed used (failed)
      a4  s2 to team B, required 90, due 10 days ago: cal's 85 is not enough (overdue)
      a5  s2 to dee, no due date (not started)
    """
    tag = uuid.uuid4().hex[:10]
    org = KnownOrg(
        id=str(uuid.uuid4()),
        users=_ids(*PEOPLE),
        names={key: f"{key.title()} {tag}" for key in PEOPLE},
        scenarios=_ids("s1", "s2", "s3"),
        teams=_ids("A", "B"),
        track=str(uuid.uuid4()),
        assignments=_ids("a1", "a2", "a3", "a4", "a5"),
    )
    run = conn.execute
    run(
        "insert into public.orgs (id, name, slug, plan) values (%s, %s, %s, 'business')",
        (org.id, f"Known {tag}", f"known-{tag}"),
    )
    for key, user_id in org.users.items():
        run("insert into auth.users (id, email) values (%s, %s)", (user_id, f"{key}-{tag}@k.test"))
        run(
            "insert into public.org_members (org_id, user_id, role, display_name)"
            " values (%s, %s, %s, %s)",
            (org.id, user_id, ROLES.get(key, "trainee"), org.names[key]),
        )
    for name, team_id in org.teams.items():
        run(
            "insert into public.teams (id, org_id, name) values (%s, %s, %s)",
            (team_id, org.id, name),
        )
    for team, key in (("A", "manager"), ("A", "ana"), ("A", "ben"), ("B", "cal")):
        run(
            "insert into public.team_members (org_id, team_id, user_id) values (%s, %s, %s)",
            (org.id, org.teams[team], org.users[key]),
        )
    for key, scenario_id in org.scenarios.items():
        run(
            "insert into public.scenarios (id, org_id, title, persona, branching, rubric, status,"
            " pass_score, max_attempts) select %s, %s, %s, persona, branching, rubric,"
            " 'published', 70, %s from public.scenarios where id = %s",
            (scenario_id, org.id, key, 2 if key == "s3" else None, Seed.SCENARIO_COLD_CALL),
        )
    run(
        "insert into public.tracks (id, org_id, title, status) values (%s, %s, 'T', 'published')",
        (org.track, org.id),
    )
    for position, key in enumerate(("s1", "s2"), start=1):
        run(
            "insert into public.track_scenarios (org_id, track_id, scenario_id, position)"
            " values (%s, %s, %s, %s)",
            (org.id, org.track, org.scenarios[key], position),
        )
    for key, content, to, due, required in (
        ("a1", ("scenario", "s1"), ("team", "A"), "now() - interval '2 days 1 hour'", None),
        ("a2", ("track", None), ("user", "cal"), "now() + interval '5 days'", None),
        ("a3", ("scenario", "s3"), ("user", "dee"), "null", None),
        ("a4", ("scenario", "s2"), ("team", "B"), "now() - interval '10 days 3 hours'", 90),
        ("a5", ("scenario", "s2"), ("user", "dee"), "null", None),
    ):
        scenario = org.scenarios[content[1]] if content[0] == "scenario" else None
        track = org.track if content[0] == "track" else None
        team = org.teams[to[1]] if to[0] == "team" else None
        user = org.users[to[1]] if to[0] == "user" else None
        run(
            "insert into public.assignments (id, org_id, scenario_id, track_id, team_id, user_id,"
            f" due_at, required_score) values (%s, %s, %s, %s, %s, %s, {due}, %s)",
            (org.assignments[key], org.id, scenario, track, team, user, required),
        )
    for user, scenario, score in (
        ("ana", "s1", 80),
        ("ben", "s1", 50),
        ("cal", "s1", 75),
        ("dee", "s3", 40),
        ("dee", "s3", 45),
        ("cal", "s2", 85),
    ):
        run(
            "insert into public.scenario_attempts (id, org_id, user_id, scenario_id, started_at,"
            " duration_seconds, score, score_breakdown, status, scored_at)"
            " values (gen_random_uuid(), %s, %s, %s, now() - interval '1 hour', 60, %s,"
            " jsonb_build_object('passed', %s >= 70), 'scored', now())",
            (org.id, org.users[user], org.scenarios[scenario], score, score),
        )
    return org


@pytest.fixture(scope="module")
def known(database_dsn: str) -> Iterator[KnownOrg]:
    with psycopg.connect(database_dsn, row_factory=dict_row, autocommit=True) as conn:
        with conn.transaction():
            org = _create(conn)
        conn.execute("select public.refresh_reporting()")
        yield org
        conn.execute("delete from public.orgs where id = %s", (org.id,))
        conn.execute(
            "delete from auth.users where id = any(%s::uuid[])", (list(org.users.values()),)
        )
        conn.execute("select public.refresh_reporting()")


def report(api: ApiSession, claims: Claims, name: str) -> list[dict[str, Any]]:
    return api.become(claims).execute(f"select * from public.{name}()").fetchall()


def states(row: dict[str, Any]) -> tuple[int, ...]:
    return tuple(row[s] for s in STATES)


def test_completion_by_assignment(known, api):
    rows = report(api, known.claims("hr"), "assignment_completion")
    by_id = {str(r["assignment_id"]): r for r in rows}
    a = known.assignments
    # assigned, passed, in progress, not started, overdue, failed
    assert {key: states(by_id[a[key]]) for key in a} == {
        "a1": (3, 1, 0, 0, 2, 0),
        "a2": (1, 1, 0, 0, 0, 0),
        "a3": (1, 0, 0, 0, 0, 1),
        "a4": (1, 0, 0, 0, 1, 0),
        "a5": (1, 0, 0, 1, 0, 0),
    }
    assert len(rows) == len(a)
    assert (by_id[a["a1"]]["title"], by_id[a["a1"]]["kind"], by_id[a["a1"]]["assignee"]) == (
        "s1",
        "scenario",
        "Team A",
    )
    assert (by_id[a["a2"]]["title"], by_id[a["a2"]]["kind"], by_id[a["a2"]]["assignee"]) == (
        "T",
        "track",
        known.names["cal"],
    )
    assert report(api, known.claims("admin"), "assignment_completion") == rows


def test_completion_by_team_and_track(known, api):
    teams = {r["name"]: r for r in report(api, known.claims("hr"), "team_completion")}
    assert {name: (r["members"], *states(r)) for name, r in teams.items()} == {
        "A": (3, 3, 1, 0, 0, 2, 0),
        "B": (1, 2, 1, 0, 0, 1, 0),
    }
    (track,) = report(api, known.claims("hr"), "track_completion")
    assert (track["title"], track["scenarios"], track["assignments"], *states(track)) == (
        "T",
        2,
        1,
        1,
        1,
        0,
        0,
        0,
        0,
    )


def test_overdue_list_says_who_which_and_how_late(known, api):
    rows = report(api, known.claims("hr"), "overdue_assignments")
    assert [(r["display_name"], r["title"], r["days_late"]) for r in rows] == [
        (known.names["cal"], "s2", 10),
        (known.names["ben"], "s1", 2),
        (known.names["manager"], "s1", 2),
    ]
    assert [(r["scenarios"], r["scenarios_passed"], r["attempts"]) for r in rows] == [
        (1, 0, 1),
        (1, 0, 1),
        (1, 0, 0),
    ]


def test_score_distribution_and_pass_rate_per_scenario(known, api):
    rows = {r["title"]: r for r in report(api, known.claims("hr"), "scenario_score_distribution")}
    s1 = rows["s1"]
    assert (s1["scored_attempts"], s1["passed_attempts"], s1["pass_rate"], s1["avg_score"]) == (
        3,
        2,
        Decimal("0.6667"),
        Decimal("68.33"),
    )
    assert s1["bands"] == [0, 0, 0, 0, 0, 1, 0, 1, 1, 0]  # 50, 75, 80
    assert rows["s3"]["bands"] == [0, 0, 0, 0, 2, 0, 0, 0, 0, 0]  # 40, 45
    assert rows["s3"]["pass_rate"] == Decimal("0.0000")
    assert (rows["s2"]["scored_attempts"], rows["s2"]["bands"][8]) == (1, 1)  # 85


def test_a_manager_sees_only_their_teams_people(known, api):
    manager = known.claims("manager")
    completion = report(api, manager, "assignment_completion")
    assert [(str(r["assignment_id"]), *states(r)) for r in completion] == [
        (known.assignments["a1"], 3, 1, 0, 0, 2, 0)
    ]
    assert [r["name"] for r in report(api, manager, "team_completion")] == ["A"]
    (track,) = report(api, manager, "track_completion")
    assert states(track) == (0, 0, 0, 0, 0, 0)  # cal, who has it, is not in team A
    overdue = report(api, manager, "overdue_assignments")
    assert [r["display_name"] for r in overdue] == [known.names["ben"], known.names["manager"]]
    s1 = next(r for r in report(api, manager, "scenario_score_distribution") if r["title"] == "s1")
    assert (s1["scored_attempts"], s1["passed_attempts"], s1["avg_score"]) == (
        2,
        1,
        Decimal("65.00"),
    )


def test_a_manager_in_no_team_sees_no_people(known, api, database_dsn):
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        conn.execute(
            "delete from public.team_members where user_id = %s", (known.users["manager"],)
        )
    try:
        manager = known.claims("manager")
        assert report(api, manager, "assignment_completion") == []
        assert report(api, manager, "team_completion") == []
        assert report(api, manager, "overdue_assignments") == []
    finally:
        with psycopg.connect(database_dsn, autocommit=True) as conn:
            conn.execute(
                "insert into public.team_members (org_id, team_id, user_id) values (%s, %s, %s)",
                (known.id, known.teams["A"], known.users["manager"]),
            )


@pytest.mark.parametrize("name", REPORTS)
def test_a_trainee_is_refused(known, api, name):
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only for manager, admin, hr"):
        report(api, known.claims("ana"), name)


@pytest.mark.parametrize("name", REPORTS)
def test_another_orgs_members_get_nothing_of_this_org(known, api, name):
    ours = {*known.assignments.values(), *known.teams.values(), known.track}
    ours |= set(known.scenarios.values())
    for key in ("globex_hr", "globex_admin", "globex_manager", "hr"):
        for row in report(api, Seed.claims(key), name):
            assert not ours & {str(v) for v in row.values()}, (key, row)
    # This org's id in the claim, another org's person: no current org at all.
    forged = Claims(sub=Seed.USERS["globex_hr"][0], org_id=known.id, org_role="hr")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="needs a current org"):
        report(api, forged, name)


@pytest.mark.parametrize("name", REPORTS)
def test_anon_cannot_call_them(api, name):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        report(api, Claims(sub=None, role="anon"), name)


def test_the_helpers_are_not_callable_from_the_api(known, api):
    conn = api.become(known.claims("hr"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "select * from private.assignment_progress(%s, null, now())", (known.id,)
        ).fetchall()
