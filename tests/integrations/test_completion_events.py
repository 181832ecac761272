"""assignment.completed and track.completed: raised once, by the scored attempt that completes
the work (the database triggers in the billing_and_entitlements migration).

Everything happens in one rolled-back superuser transaction; the outbox rows are the events.
"""

from __future__ import annotations

import uuid

import psycopg
import pytest

from server.db.auth_users import NewUser, create_user

SEED_SCENARIO = "f0000000-0000-4000-8000-000000000001"


class World:
    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        slug = f"ce-{uuid.uuid4().hex[:10]}"
        self.org = self.one(
            "insert into orgs (name, slug) values (%s, %s) returning id", (slug, slug)
        )
        self.user = create_user(conn, NewUser(email=f"{slug}@x.test"))
        conn.execute(
            "insert into org_members (org_id, user_id) values (%s, %s)", (self.org, self.user)
        )
        conn.execute(
            "insert into webhooks (org_id, url, events) values (%s, 'https://hooks.example.com/c',"
            " '{assignment.completed,track.completed}')",
            (self.org,),
        )

    def one(self, sql: str, params: tuple = ()) -> object:
        row = self.conn.execute(sql, params).fetchone()
        assert row is not None
        return next(iter(row.values()))

    def scenario(self, pass_score: int = 70) -> str:
        return self.one(
            "insert into scenarios (org_id, title, persona, branching, rubric, status, pass_score)"
            " select %s, 'S', persona, branching, rubric, 'published', %s from scenarios"
            " where id = %s returning id",
            (self.org, pass_score, SEED_SCENARIO),
        )

    def track(self, *scenarios: str) -> str:
        track = self.one(
            "insert into tracks (org_id, title, status) values (%s, 'T', 'published') returning id",
            (self.org,),
        )
        for position, scenario in enumerate(scenarios, start=1):
            self.conn.execute(
                "insert into track_scenarios (org_id, track_id, scenario_id, position)"
                " values (%s, %s, %s, %s)",
                (self.org, track, scenario, position),
            )
        return track

    def assign(
        self, *, scenario: str | None = None, track: str | None = None, required=None
    ) -> str:
        return self.one(
            "insert into assignments (org_id, scenario_id, track_id, user_id, required_score)"
            " values (%s, %s, %s, %s, %s) returning id",
            (self.org, scenario, track, self.user, required),
        )

    def attempt(self, scenario: str, score: float, assignment: str | None = None) -> None:
        self.conn.execute(
            "insert into scenario_attempts (id, org_id, user_id, scenario_id, assignment_id,"
            " started_at, status, score, scored_at)"
            " values (gen_random_uuid(), %s, %s, %s, %s, now(), 'scored', %s, now())",
            (self.org, self.user, scenario, assignment, score),
        )

    def events(self) -> list[tuple[str, dict]]:
        rows = self.conn.execute(
            "select event, payload -> 'data' as data from webhook_deliveries where org_id = %s",
            (self.org,),
        ).fetchall()
        return [(r["event"], r["data"]) for r in rows]


@pytest.fixture
def world(admin_conn) -> World:
    return World(admin_conn)


def test_a_scenario_assignment_completes_at_its_required_score_once(world):
    scenario = world.scenario(pass_score=70)
    assignment = world.assign(scenario=scenario, required=85)

    world.attempt(scenario, 80, assignment)  # passes the scenario, not the assignment
    assert world.events() == []
    world.attempt(scenario, 90, assignment)
    world.attempt(scenario, 95, assignment)  # already complete: no second event

    [(event, data)] = world.events()
    assert event == "assignment.completed"
    assert data["assignment_id"] == str(assignment)
    assert data["user_id"] == str(world.user)
    assert (data["score"], data["required_score"]) == (90, 85)


def test_tracks_complete_when_every_scenario_is_passed(world):
    first, second = world.scenario(), world.scenario(pass_score=80)
    track = world.track(first, second)
    track_assignment = world.assign(track=track)

    world.attempt(first, 75)  # outside the assignment: counts for the track, not the assignment
    world.attempt(second, 79, track_assignment)  # below the second's pass score
    assert world.events() == []

    world.attempt(second, 85, track_assignment)
    assert [e for e, _ in world.events()] == ["track.completed"]
    assert world.events()[0][1]["track_id"] == str(track)

    world.attempt(first, 71, track_assignment)  # now every scenario passed under the assignment
    world.attempt(first, 99, track_assignment)
    events = dict(world.events())  # one of each (one transaction: created_at cannot order them)
    assert len(world.events()) == 2
    assert events["track.completed"]["track_id"] == str(track)
    assert events["assignment.completed"]["assignment_id"] == str(track_assignment)
    assert events["assignment.completed"]["track_id"] == str(track)


def test_no_listener_no_event(world):
    world.conn.execute("delete from webhooks where org_id = %s", (world.org,))
    scenario = world.scenario()
    world.attempt(scenario, 90, world.assign(scenario=scenario))
    assert world.events() == []
