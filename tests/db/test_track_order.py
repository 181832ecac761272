"""A track's scenarios and order (issue 19, item 7): migrations 20261205000400_content_updated_by
and 20261205000410_track_order.

set_track_scenarios is the one way to change them: admins of the track's org only, their org's
scenarios only, in one transaction (the deferred unique on positions holds at the end), one
audit event; a published track lists only published scenarios on every path; updated_by is the
server's. Through the `authenticator` login with real claims; `set constraints all immediate`
runs the checks deferred to commit without committing.
"""

from __future__ import annotations

import psycopg
import pytest
from db_support import Claims, Seed, act

TRACK = "b0000000-0000-4000-8000-000000000001"  # the demo's published track: 01, 02, 03
GLOBEX_TRACK = "b0000000-0000-4000-8000-000000000011"
COLD, CFO, INCUMBENT = Seed.SCENARIO_COLD_CALL, Seed.SCENARIO_CFO, Seed.SCENARIO_INCUMBENT
DRAFT = Seed.SCENARIO_DRAFT
ADMIN = Seed.USERS["admin"][0]
SERVICE = Claims(sub=None, role="service_role")


@pytest.fixture
def conn(api) -> psycopg.Connection:
    return api.become(Seed.claims("admin"))


def set_order(conn: psycopg.Connection, track: str, ids: list[str]) -> None:
    conn.execute("select set_track_scenarios(%s, %s::uuid[])", (track, ids))


def order(conn: psycopg.Connection, track: str = TRACK) -> list[tuple[str, int]]:
    rows = conn.execute(
        "select scenario_id::text as s, position from track_scenarios where track_id = %s "
        "order by position",
        (track,),
    ).fetchall()
    return [(r["s"], r["position"]) for r in rows]


def refused(conn: psycopg.Connection, sql: str, params=None) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught, conn.transaction():
        conn.execute(sql, params)
    return caught.value


def test_an_admin_reorders_a_track_in_one_transaction_and_it_is_audited(conn):
    before = order(conn)
    set_order(conn, TRACK, [INCUMBENT, COLD, CFO])
    conn.execute("set constraints all immediate")  # the deferred unique holds on the result
    assert order(conn) == [(INCUMBENT, 1), (COLD, 2), (CFO, 3)]
    track = conn.execute(
        "select updated_by::text as by, updated_at = now() as now from tracks where id = %s",
        (TRACK,),
    ).fetchone()
    assert track == {"by": ADMIN, "now": True}
    act(conn, SERVICE)
    event = conn.execute(
        "select actor_id::text as actor, actor_role::text as role, details from audit_events "
        "where action = 'track.scenarios_changed' and target_id = %s order by id desc limit 1",
        (TRACK,),
    ).fetchone()
    assert event["actor"] == ADMIN and event["role"] == "admin"
    assert event["details"]["before"] == {"scenario_ids": [s for s, _ in before]}
    assert event["details"]["after"] == {"scenario_ids": [INCUMBENT, COLD, CFO]}


def test_removing_and_adding_keep_positions_one_to_n(conn):
    set_order(conn, TRACK, [CFO])
    assert order(conn) == [(CFO, 1)]
    set_order(conn, TRACK, [COLD, CFO, INCUMBENT])
    conn.execute("set constraints all immediate")
    assert order(conn) == [(COLD, 1), (CFO, 2), (INCUMBENT, 3)]


def test_an_unchanged_list_changes_nothing(conn):
    (xid,) = conn.execute("select sync_xid from tracks where id = %s", (TRACK,)).fetchone().values()
    set_order(conn, TRACK, [s for s, _ in order(conn)])
    after = conn.execute("select sync_xid from tracks where id = %s", (TRACK,)).fetchone()
    assert after["sync_xid"] == xid


@pytest.mark.parametrize("who", ["trainee", "manager", "hr", "globex_admin"])
def test_only_admins_of_the_tracks_org_may_set_its_scenarios(conn, who):
    act(conn, who)
    error = refused(conn, "select set_track_scenarios(%s, %s::uuid[])", (TRACK, [COLD]))
    assert error.sqlstate == "42501"
    assert "not found or not visible" in str(error)
    act(conn, "admin")
    assert [s for s, _ in order(conn)] == [COLD, CFO, INCUMBENT]


def test_another_orgs_scenario_is_refused(conn):
    error = refused(
        conn, "select set_track_scenarios(%s, %s::uuid[])", (TRACK, [COLD, Seed.SCENARIO_GLOBEX])
    )
    assert error.sqlstate == "42501"
    assert "is not a scenario of this org" in str(error)


def test_a_scenario_listed_twice_is_refused(conn):
    error = refused(conn, "select set_track_scenarios(%s, %s::uuid[])", (TRACK, [COLD, COLD]))
    assert error.sqlstate == "23505"


@pytest.mark.parametrize("who", ["trainee", "manager", "admin", "hr"])
def test_no_api_role_writes_track_positions_directly(conn, who):
    act(conn, who)
    error = refused(conn, "update track_scenarios set position = position + 10")
    assert error.sqlstate == "42501"


def test_a_published_track_takes_only_published_scenarios(conn):
    error = refused(conn, "select set_track_scenarios(%s, %s::uuid[])", (TRACK, [COLD, DRAFT]))
    assert error.sqlstate == "CD409"
    assert "can list only published scenarios" in str(error)
    assert "(draft)" in str(error)


def test_a_track_listing_a_draft_cannot_be_published_until_the_draft_is(conn):
    track = conn.execute(
        "insert into tracks (org_id, title) values (%s, 'Draft track') returning id::text",
        (Seed.DEMO_ORG,),
    ).fetchone()["id"]
    set_order(conn, track, [COLD, DRAFT])
    error = refused(conn, "update tracks set status = 'published' where id = %s", (track,))
    assert error.sqlstate == "CD409" and "Draft track" in str(error)
    conn.execute("select publish_scenario(%s)", (DRAFT,))
    conn.execute("update tracks set status = 'published' where id = %s", (track,))
    conn.execute("set constraints all immediate")
    assert conn.execute("select status::text from tracks where id = %s", (track,)).fetchone() == {
        "status": "published"
    }


def test_a_scenario_in_a_published_track_cannot_be_archived(conn):
    conn.execute("update scenarios set status = 'archived' where id = %s", (CFO,))
    error = refused(conn, "set constraints all immediate")
    assert error.sqlstate == "CD409"
    assert "is in the published track" in str(error) and "New hire onboarding" in str(error)


def test_publishing_a_new_version_moves_the_track_and_passes(conn):
    draft = conn.execute("select new_scenario_version(%s)::text as id", (CFO,)).fetchone()["id"]
    conn.execute("select publish_scenario(%s)", (draft,))
    conn.execute("set constraints all immediate")
    assert [s for s, _ in order(conn)] == [COLD, draft, INCUMBENT]


def test_updated_by_is_whoever_changed_it_and_cannot_be_forged(conn):
    forged = Seed.USERS["hr"][0]
    row = conn.execute(
        "update scenarios set updated_by = %s, description = description || '!' "
        "where id = %s returning updated_by::text as by",
        (forged, DRAFT),
    ).fetchone()
    assert row == {"by": ADMIN}
    act(conn, SERVICE)  # a server job is nobody's edit: the last editor stays
    row = conn.execute(
        "update tracks set updated_by = %s where id = %s returning updated_by::text as by",
        (forged, TRACK),
    ).fetchone()
    before = conn.execute("select created_by::text as by from tracks where id = %s", (TRACK,))
    assert row["by"] == before.fetchone()["by"]


def test_a_member_of_another_org_sees_and_changes_nothing(conn):
    act(conn, "globex_admin")
    assert order(conn) == []
    rows = conn.execute(
        "update tracks set title = 'x' where id = %s returning id", (TRACK,)
    ).fetchall()
    assert rows == []
    assert order(conn, GLOBEX_TRACK) == [(Seed.SCENARIO_GLOBEX, 1)]


def test_save_track_is_all_or_nothing(conn):
    (title,) = conn.execute("select title from tracks where id = %s", (TRACK,)).fetchone().values()
    before = order(conn)
    error = refused(
        conn,
        "select save_track(%s, 'Renamed', 'New words', %s::uuid[])",
        (TRACK, [COLD, DRAFT]),  # a draft in a published track
    )
    assert error.sqlstate == "CD409"
    kept = conn.execute("select title, description from tracks where id = %s", (TRACK,)).fetchone()
    assert kept["title"] == title and order(conn) == before

    conn.execute("select save_track(%s, 'Renamed', 'New words', %s::uuid[])", (TRACK, [CFO, COLD]))
    conn.execute("set constraints all immediate")
    saved = conn.execute("select title, description from tracks where id = %s", (TRACK,)).fetchone()
    assert saved == {"title": "Renamed", "description": "New words"}
    assert order(conn) == [(CFO, 1), (COLD, 2)]


def test_save_track_refuses_a_manager_and_another_org_alike(api):
    for who, track in (("manager", TRACK), ("globex_admin", TRACK), ("admin", GLOBEX_TRACK)):
        conn = api.become(Seed.claims(who))
        error = refused(conn, "select save_track(%s, 'X', '', '{}'::uuid[])", (track,))
        assert error.sqlstate == "42501", who
