"""Scenario versions (issue 19, items 7, 9, 10): migration 20261204000200_scenario_versions.sql.

A published or archived version is never changed in place; new_scenario_version() makes a
draft copy, publish_scenario() puts it live and archives the version it replaces, in one
transaction; attempts keep the version (and so the rubric and score) they were practised on;
a save based on a stale revision changes nothing; the plan's active-scenario limit applies at
publish. Everything is done through the `authenticator` login with real claims, in one
transaction that `act` switches between users (nothing is committed).
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from db_support import Claims, Seed, act, score_queued

DEMO, GLOBEX = Seed.DEMO_ORG, Seed.GLOBEX_ORG
COLD_CALL = Seed.SCENARIO_COLD_CALL
TRACK = "b0000000-0000-4000-8000-000000000001"
# The seed's assignment of the cold call to the trainee.
COLD_CALL_ASSIGNMENT = "c0000000-0000-4000-8000-000000000001"
SERVICE = Claims(sub=None, role="service_role")
# A rubric the seed's calls all miss: one keyword nobody says.
ZEBRA_RUBRIC = {
    "version": 1,
    "criteria": [{"id": "zebra", "type": "keywords", "weight": 1, "keywords": [["zebra"]]}],
}


@pytest.fixture
def conn(api) -> psycopg.Connection:
    return api.become(Seed.claims("admin"))


def refused(conn: psycopg.Connection, sql: str, params: Any = None) -> psycopg.Error:
    """Run `sql` in a savepoint that must fail; the transaction goes on."""
    with pytest.raises(psycopg.Error) as caught, conn.transaction():
        conn.execute(sql, params)
    return caught.value


def scenario(conn: psycopg.Connection, scenario_id: str) -> dict[str, Any]:
    return conn.execute(
        "select id::text, lineage_id::text, version, revision, status::text, title, rubric,"
        " time_limit_seconds from scenarios where id = %s",
        (scenario_id,),
    ).fetchone()


def new_version(conn: psycopg.Connection, scenario_id: str = COLD_CALL) -> str:
    row = conn.execute("select new_scenario_version(%s)::text as id", (scenario_id,)).fetchone()
    return row["id"]


def publish(conn: psycopg.Connection, scenario_id: str) -> None:
    conn.execute("select publish_scenario(%s)", (scenario_id,))


def last_event(conn: psycopg.Connection) -> int:
    act(conn, SERVICE)
    return conn.execute("select coalesce(max(id), 0) as id from audit_events").fetchone()["id"]


# Live versions are immutable ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "column"),
    [
        ("title = title || '!'", "title"),
        ("rubric = %s::jsonb", "rubric"),
        ("pass_score = 10", "pass_score"),
        ("time_limit_seconds = 300", "time_limit_seconds"),
    ],
)
def test_a_published_version_refuses_any_content_change(conn, change, column):
    params = (json.dumps(ZEBRA_RUBRIC), COLD_CALL) if "%s" in change else (COLD_CALL,)
    error = refused(conn, f"update scenarios set {change} where id = %s returning id", params)
    assert error.sqlstate == "CD423"
    assert error.diag.message_primary == (
        f'scenario "Cold call: the skeptical IT director" version 1 is published and cannot '
        f"be changed (changed: {column})"
    )
    assert "new_scenario_version()" in error.diag.message_hint
    assert scenario(conn, COLD_CALL)["status"] == "published"


def test_the_database_refuses_it_for_the_service_role_too(conn):
    act(conn, SERVICE)
    error = refused(conn, "update scenarios set title = 'x' where id = %s", (COLD_CALL,))
    assert error.sqlstate == "CD423"


def test_archive_is_allowed_then_the_archived_version_is_immutable_too(conn):
    archived = conn.execute(
        "update scenarios set status = 'archived' where id = %s returning status::text",
        (COLD_CALL,),
    ).fetchall()
    assert archived == [{"status": "archived"}]
    error = refused(conn, "update scenarios set title = 'x' where id = %s", (COLD_CALL,))
    assert error.sqlstate == "CD423"
    assert "version 1 is archived and cannot be changed" in error.diag.message_primary
    # Brought back as it was.
    publish(conn, COLD_CALL)
    assert scenario(conn, COLD_CALL)["status"] == "published"


@pytest.mark.parametrize("status", ["published", "archived"])
def test_a_live_or_archived_version_never_goes_back_to_draft(conn, status):
    conn.execute("update scenarios set status = %s where id = %s", (status, COLD_CALL))
    error = refused(conn, "update scenarios set status = 'draft' where id = %s", (COLD_CALL,))
    assert error.sqlstate == "CD423"
    assert error.diag.message_primary.endswith(f"is {status}, so it cannot go back to draft")


def test_a_draft_is_edited_freely_but_keeps_its_lineage_and_version(conn):
    edited = conn.execute(
        "update scenarios set title = 'Renamed', time_limit_seconds = 600 where id = %s"
        " returning title, time_limit_seconds, revision",
        (Seed.SCENARIO_DRAFT,),
    ).fetchone()
    assert edited == {"title": "Renamed", "time_limit_seconds": 600, "revision": 2}
    for change in ("version = 2", f"lineage_id = '{COLD_CALL}'"):
        error = refused(
            conn, f"update scenarios set {change} where id = %s", (Seed.SCENARIO_DRAFT,)
        )
        assert error.sqlstate == "CD423"
    error = refused(
        conn, "update scenarios set time_limit_seconds = 0 where id = %s", (Seed.SCENARIO_DRAFT,)
    )
    assert error.sqlstate == "23514"


# New versions and publishing ----------------------------------------------------------------


def test_new_scenario_version_copies_the_version_as_the_next_draft(conn):
    source = conn.execute(
        "select title, description, persona, difficulty::text, ai_prompt, branching, rubric,"
        " pass_score, max_attempts, time_limit_seconds from scenarios where id = %s",
        (COLD_CALL,),
    ).fetchone()
    draft = new_version(conn)
    row = conn.execute(
        "select lineage_id::text, version, revision, status::text, created_by::text, title,"
        " description, persona, difficulty::text, ai_prompt, branching, rubric, pass_score,"
        " max_attempts, time_limit_seconds from scenarios where id = %s",
        (draft,),
    ).fetchone()
    assert (row.pop("lineage_id"), row.pop("version"), row.pop("revision")) == (COLD_CALL, 2, 1)
    assert (row.pop("status"), row.pop("created_by")) == ("draft", Seed.USERS["admin"][0])
    assert row == source
    # The original is untouched and still live; the draft is the admin's and the manager's only.
    assert scenario(conn, COLD_CALL)["status"] == "published"
    act(conn, "trainee")
    assert conn.execute("select id from scenarios where id = %s", (draft,)).fetchall() == []


def test_one_draft_per_scenario(conn):
    draft = new_version(conn)
    error = refused(conn, "select new_scenario_version(%s)", (COLD_CALL,))
    assert error.sqlstate == "23505"
    assert error.diag.message_primary == (
        'scenario "Cold call: the skeptical IT director" already has a draft (version 2): '
        "edit that draft instead of starting another"
    )
    assert json.loads(error.diag.message_detail) == {"draft_id": draft, "version": 2}
    error = refused(conn, "select new_scenario_version(%s)", (draft,))
    assert error.sqlstate == "55000"
    assert "is a draft: edit it as it is" in error.diag.message_primary


def test_a_direct_insert_may_join_only_a_lineage_of_its_own_org(conn):
    # The server numbers versions, whatever the row says.
    own = conn.execute(
        "insert into scenarios (org_id, title, persona, branching, rubric, version)"
        " select org_id, 'Fresh', persona, branching, rubric, 7 from scenarios where id = %s"
        " returning id::text, lineage_id::text, version",
        (COLD_CALL,),
    ).fetchone()
    assert (own["lineage_id"], own["version"]) == (own["id"], 1)
    act(conn, "globex_admin")
    error = refused(
        conn,
        "insert into scenarios (org_id, lineage_id, title, persona, branching, rubric)"
        " select org_id, %s, 'Hijack', persona, branching, rubric from scenarios where id = %s",
        (COLD_CALL, Seed.SCENARIO_GLOBEX),
    )
    assert error.sqlstate == "23503"
    assert "does not exist in this org" in error.diag.message_primary


def test_publishing_supersedes_the_live_version_in_one_transaction(conn):
    draft = new_version(conn)
    conn.execute(
        "update scenarios set rubric = %s::jsonb, title = 'Cold call v2' where id = %s",
        (json.dumps(ZEBRA_RUBRIC), draft),
    )
    mark = last_event(conn)
    act(conn, "admin")
    publish(conn, draft)
    assert scenario(conn, draft)["status"] == "published"
    assert scenario(conn, COLD_CALL)["status"] == "archived"
    live = conn.execute(
        "select count(*) as n from scenarios where lineage_id = %s and status = 'published'",
        (COLD_CALL,),
    ).fetchone()
    assert live == {"n": 1}
    # Exactly two audit events: the old version archived, the new one published.
    act(conn, SERVICE)
    events = conn.execute(
        "select action::text, target_id::text, details -> 'before' as before from audit_events"
        " where id > %s order by id",
        (mark,),
    ).fetchall()
    assert events == [
        {"action": "scenario.archived", "target_id": COLD_CALL, "before": {"status": "published"}},
        {"action": "scenario.published", "target_id": draft, "before": {"status": "draft"}},
    ]
    # The assignment and the track now name the live version, at the same position.
    assigned = conn.execute(
        "select scenario_id::text from assignments where id = %s", (COLD_CALL_ASSIGNMENT,)
    ).fetchone()
    assert assigned == {"scenario_id": draft}
    positions = conn.execute(
        "select scenario_id::text, position from track_scenarios where track_id = %s"
        " order by position",
        (TRACK,),
    ).fetchall()
    assert positions[0] == {"scenario_id": draft, "position": 1}
    assert COLD_CALL not in {p["scenario_id"] for p in positions}
    # Publishing the live version again is a no-op.
    act(conn, "admin")
    mark = last_event(conn)
    act(conn, "admin")
    publish(conn, draft)
    act(conn, SERVICE)
    assert conn.execute("select id from audit_events where id > %s", (mark,)).fetchall() == []


def test_a_direct_status_update_supersedes_as_well(conn):
    draft = new_version(conn)
    conn.execute("update scenarios set status = 'published' where id = %s", (draft,))
    assert scenario(conn, COLD_CALL)["status"] == "archived"
    # Bringing version 1 back archives version 2.
    publish(conn, COLD_CALL)
    assert (scenario(conn, COLD_CALL)["status"], scenario(conn, draft)["status"]) == (
        "published",
        "archived",
    )


def test_a_failed_publish_changes_nothing(conn):
    draft = new_version(conn)
    # Make the new version unpublishable: the org is over its limit ... by lowering it to 0.
    act(conn, SERVICE).execute(
        "update orgs set entitlements = entitlements || '{\"active_scenarios\": 0}' where id = %s",
        (DEMO,),
    )
    act(conn, "admin")
    # Replacing a live version takes no new slot, so even at 0 it goes through ...
    publish(conn, draft)
    assert scenario(conn, COLD_CALL)["status"] == "archived"
    # ... but a scenario that was not live needs one, and the whole publish is undone.
    error = refused(conn, "select publish_scenario(%s)", (Seed.SCENARIO_DRAFT,))
    assert error.sqlstate == "CD402"
    assert scenario(conn, Seed.SCENARIO_DRAFT)["status"] == "draft"


# The plan's limit at publish ---------------------------------------------------------------------


def test_the_active_scenario_limit_is_a_clear_message_at_publish(conn):
    live = conn.execute(
        "select count(distinct lineage_id) as n from scenarios where status = 'published'"
    ).fetchone()["n"]
    act(conn, SERVICE).execute(
        "update orgs set entitlements = entitlements || jsonb_build_object('active_scenarios', %s)"
        " where id = %s",
        (live, DEMO),
    )
    act(conn, "admin")
    error = refused(conn, "select publish_scenario(%s)", (Seed.SCENARIO_DRAFT,))
    assert error.sqlstate == "CD402"
    assert error.diag.message_primary == (
        f"active scenario limit reached: the plan of Northwind Demo allows {live}, and "
        f"Northwind Demo already uses {live}"
    )
    assert error.diag.message_hint == (
        "Archive a published scenario or upgrade the plan to publish more."
    )
    assert json.loads(error.diag.message_detail) == {
        "entitlement": "active_scenarios",
        "limit": live,
        "in_use": live,
        "org_id": DEMO,
    }
    # A new version of a live scenario counts as that scenario: at the limit it still publishes.
    draft = new_version(conn)
    publish(conn, draft)
    assert scenario(conn, draft)["status"] == "published"


# Two admins, one draft ----------------------------------------------------------------


def test_a_save_based_on_a_stale_revision_changes_nothing(conn):
    draft = new_version(conn)
    seen = scenario(conn, draft)["revision"]
    # The first admin's save, filtered by the revision they loaded (PostgREST .eq("revision")).
    first = conn.execute(
        "update scenarios set title = 'First' where id = %s and revision = %s returning revision",
        (draft, seen),
    ).fetchall()
    assert first == [{"revision": seen + 1}]
    # The second admin loaded the same revision: their save matches no row.
    second = conn.execute(
        "update scenarios set title = 'Second' where id = %s and revision = %s returning id",
        (draft, seen),
    ).fetchall()
    assert second == []
    assert scenario(conn, draft)["title"] == "First"
    # Sending the stale revision in the row itself is refused in words.
    error = refused(
        conn, "update scenarios set title = 'Second', revision = %s where id = %s", (seen, draft)
    )
    assert error.sqlstate == "CD412"
    assert error.diag.message_primary == (
        f'scenario "First" was saved by someone else since you loaded it (it is at revision '
        f"{seen + 1}, your change is based on revision {seen})"
    )
    # And so is publishing what the second admin reviewed.
    error = refused(conn, "select publish_scenario(%s, %s)", (draft, seen))
    assert error.sqlstate == "CD412"
    conn.execute("select publish_scenario(%s, %s)", (draft, seen + 1))
    assert scenario(conn, draft)["status"] == "published"


def test_every_update_moves_the_revision_whatever_the_client_sends(conn):
    before = scenario(conn, Seed.SCENARIO_DRAFT)["revision"]
    row = conn.execute(
        "update scenarios set description = 'x', revision = %s where id = %s returning revision",
        (before, Seed.SCENARIO_DRAFT),
    ).fetchone()
    assert row == {"revision": before + 1}
    inserted = conn.execute(
        "insert into scenarios (org_id, title, persona, branching, rubric, revision)"
        " select org_id, 'R', persona, branching, rubric, 99 from scenarios where id = %s"
        " returning revision",
        (COLD_CALL,),
    ).fetchone()
    assert inserted == {"revision": 1}


# Attempts keep their version ----------------------------------------------------------------


def test_an_attempt_keeps_its_version_its_score_and_its_rubric(conn):
    act(conn, SERVICE)
    old = conn.execute(
        "select id::text, score, transcript::text from scenario_attempts"
        " where scenario_id = %s and status = 'scored' order by score desc limit 1",
        (COLD_CALL,),
    ).fetchone()
    act(conn, "admin")
    draft = new_version(conn)
    conn.execute(
        "update scenarios set rubric = %s::jsonb where id = %s", (json.dumps(ZEBRA_RUBRIC), draft)
    )
    publish(conn, draft)

    # The old attempt still names version 1 and keeps its score; rescoring uses version 1's rubric.
    act(conn, SERVICE)
    kept = conn.execute(
        "select scenario_id::text, score from scenario_attempts where id = %s", (old["id"],)
    ).fetchone()
    assert kept == {"scenario_id": COLD_CALL, "score": old["score"]}
    rescored = conn.execute("select score_attempt(%s) ->> 'score' as s", (old["id"],)).fetchone()
    assert Decimal(rescored["s"]) == old["score"]
    # The review can say which version it was: the attempt's row is that version.
    version = conn.execute(
        "select s.version from scenario_attempts a join scenarios s on s.id = a.scenario_id"
        " where a.id = %s",
        (old["id"],),
    ).fetchone()
    assert version == {"version": 1}

    # The same call practised on version 2 is scored with version 2's rubric.
    act(conn, "trainee")
    fresh = str(uuid.uuid4())
    conn.execute(
        "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at, transcript,"
        " status) values (%s, %s, %s, %s, now(), %s::jsonb, 'uploaded')",
        (fresh, DEMO, Seed.USERS["trainee"][0], draft, old["transcript"]),
    )
    score_queued(conn)
    scored = conn.execute(
        "select score, status::text from scenario_attempts where id = %s", (fresh,)
    ).fetchone()
    assert scored == {"score": Decimal("0.00"), "status": "scored"}


def test_nobody_moves_an_attempt_to_another_version(conn):
    draft = new_version(conn)
    publish(conn, draft)
    act(conn, "trainee")
    error = refused(
        conn,
        "update scenario_attempts set scenario_id = %s where user_id = %s and scenario_id = %s",
        (draft, Seed.USERS["trainee"][0], COLD_CALL),
    )
    assert error.sqlstate == "42501"
    act(conn, SERVICE)
    error = refused(
        conn,
        "update scenario_attempts set scenario_id = %s where scenario_id = %s",
        (draft, COLD_CALL),
    )
    assert error.sqlstate == "42501"


def test_completion_counts_an_attempt_on_any_version(admin_conn):
    # The completion helpers are private (the webhook trigger's): called as the superuser, who
    # may also version and publish (no claims: the server's own session).
    trainee = Seed.USERS["trainee"][0]

    def left() -> int:
        return admin_conn.execute(
            "select private.track_scenarios_left(%s, %s, %s, null, null, %s) as n",
            (DEMO, TRACK, trainee, Seed.SCENARIO_CFO),
        ).fetchone()["n"]

    before = left()
    draft = admin_conn.execute("select new_scenario_version(%s)::text as id", (COLD_CALL,))
    draft = draft.fetchone()["id"]
    admin_conn.execute("select publish_scenario(%s)", (draft,))
    # The track now lists version 2, which has no attempt of its own; the trainee's pass on
    # version 1 still counts, for the track and for the scenario.
    assert left() == before
    passed = admin_conn.execute(
        "select private.passed_before(%s, %s, %s, null, null, %s) as p",
        (DEMO, trainee, draft, str(uuid.uuid4())),
    ).fetchone()
    assert passed == {"p": True}


# Who may call the functions ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["trainee", "manager", "hr", "globex_admin"])
@pytest.mark.parametrize("call", ["new_scenario_version(%s)", "publish_scenario(%s)"])
def test_only_the_orgs_admins_version_and_publish(conn, who, call):
    target = Seed.SCENARIO_DRAFT if call.startswith("publish") else COLD_CALL
    act(conn, who)
    error = refused(conn, f"select {call}", (target,))
    assert error.sqlstate == "42501"
    assert error.diag.message_primary == f"scenario {target} not found or not visible to you"
    act(conn, "admin")
    assert scenario(conn, target)["status"] == (
        "draft" if target == Seed.SCENARIO_DRAFT else "published"
    )
    count = conn.execute(
        "select count(*) as n from scenarios where lineage_id = %s", (target,)
    ).fetchone()
    assert count == {"n": 1}


def test_an_unknown_scenario_gets_the_same_refusal(conn):
    error = refused(conn, "select publish_scenario(%s)", (str(uuid.uuid4()),))
    assert error.sqlstate == "42501"


def test_anon_may_not_call_them(api):
    conn = api.become(Claims(sub=None, role="anon"))
    for call in ("new_scenario_version(%s)", "publish_scenario(%s)"):
        error = refused(conn, f"select {call}", (COLD_CALL,))
        assert error.sqlstate == "42501"
