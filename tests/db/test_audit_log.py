"""The org audit log (issue 20, item 5): public.audit_events and audit_log_csv().

Every action is done as an API role through the `authenticator` login with real claims, in one
transaction that `act` switches between users (so an invitation and its acceptance meet), and
the events it wrote are read back in that transaction as the service role, which reads every
org's events (nothing is committed). Each action must write exactly one event, naming the
actor, their role in the org then, the target row and the fields before and after; no secret
may reach an event. Who reads, and that nobody rewrites an event, is tested the same way; only
the owner's refusal uses the superuser connection, because the owner is what it tests.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import psycopg
import pytest
from db_support import Claims, Seed, act, as_storage_api

DEMO, GLOBEX = Seed.DEMO_ORG, Seed.GLOBEX_ORG
USER = {key: Seed.USERS[key][0] for key in Seed.USERS}
GLOBEX_TRAINEE_EMAIL = "trainee@globex.coachdesk.test"
TEAM_EAST = "e0000000-0000-4000-8000-000000000001"
TEAM_WEST = "e0000000-0000-4000-8000-000000000002"
TRACK = "b0000000-0000-4000-8000-000000000001"
SERVICE = Claims(sub=None, role="service_role")
CSV_HEADER = [
    "occurred_at",
    "action",
    "actor_id",
    "actor_name",
    "actor_role",
    "acting_as",
    "target_table",
    "target_id",
    "details",
]


@pytest.fixture
def conn(api) -> psycopg.Connection:
    return api.become(Seed.claims("admin"))


def last_id(conn: psycopg.Connection) -> int:
    act(conn, SERVICE)
    return conn.execute("select coalesce(max(id), 0) as id from audit_events").fetchone()["id"]


def events_since(conn: psycopg.Connection, mark: int) -> list[dict[str, Any]]:
    """The events written after `mark`, as the service role; the role is left switched to it."""
    act(conn, SERVICE)
    return conn.execute(
        "select org_id::text, actor_id::text, actor_role::text, acting_as, action::text,"
        " target_table, target_id::text, details from audit_events where id > %s order by id",
        (mark,),
    ).fetchall()


def only_event(conn: psycopg.Connection, mark: int) -> dict[str, Any]:
    written = events_since(conn, mark)
    assert len(written) == 1, [e["action"] for e in written]
    return written[0]


def assert_actor(event: dict[str, Any], who: str, role: str | None = None) -> None:
    user_id, org_id, seed_role = Seed.USERS[who]
    assert event["actor_id"] == user_id
    assert event["actor_role"] == (role or seed_role)
    assert event["org_id"] == org_id
    assert event["acting_as"] == "authenticated"


def invite(conn: psycopg.Connection, email: str, role: str = "trainee", teams=()) -> str:
    act(conn, "admin")
    return conn.execute(
        "select invitation_id::text from invite_member(%s, %s, %s::uuid[])",
        (email, role, list(teams)),
    ).fetchone()["invitation_id"]


# Each action writes exactly one event ----------------------------------------------------------


def test_an_invitation_is_one_event_without_its_token(conn):
    mark = last_id(conn)
    invitation = invite(conn, "New.Person@Example.COM", "manager", [TEAM_EAST])
    event = only_event(conn, mark)
    assert event["action"] == "member.invited"
    assert_actor(event, "admin")
    assert (event["target_table"], event["target_id"]) == ("org_invitations", invitation)
    assert event["details"]["email"] == "new.person@example.com"
    assert event["details"]["role"] == "manager"
    assert event["details"]["team_ids"] == [TEAM_EAST]
    token_hash = conn.execute(
        "select token_hash from org_invitations where id = %s", (invitation,)
    ).fetchone()["token_hash"]
    assert token_hash not in json.dumps(event["details"])


def test_accepting_is_one_event_by_the_invitee(conn):
    invitation = invite(conn, GLOBEX_TRAINEE_EMAIL, "manager", [TEAM_EAST])
    mark = last_id(conn)
    act(conn, "globex_trainee")
    conn.execute("select accept_invitation(%s)", (invitation,))
    # Not also member.added and team.member_added: the acceptance is the one action.
    event = only_event(conn, mark)
    assert event["action"] == "invitation.accepted"
    assert event["actor_id"] == USER["globex_trainee"]
    assert event["actor_role"] == "manager"  # their role in the org they just joined
    assert event["org_id"] == DEMO
    assert event["target_id"] == invitation
    member = conn.execute(
        "select id::text from org_members where org_id = %s and user_id = %s",
        (DEMO, USER["globex_trainee"]),
    ).fetchone()["id"]
    assert event["details"]["user_id"] == USER["globex_trainee"]
    assert event["details"]["member_id"] == member
    assert event["details"]["team_ids"] == [TEAM_EAST]


def test_revoking_is_one_event(conn):
    invitation = invite(conn, "someone@example.com")
    mark = last_id(conn)
    act(conn, "admin")
    conn.execute("select revoke_invitation(%s)", (invitation,))
    event = only_event(conn, mark)
    assert event["action"] == "invitation.revoked"
    assert_actor(event, "admin")
    assert event["target_id"] == invitation
    assert event["details"]["email"] == "someone@example.com"


def test_inviting_an_address_again_revokes_the_open_invitation_and_says_so(conn):
    first = invite(conn, "again@example.com")
    mark = last_id(conn)
    second = invite(conn, "again@example.com")
    written = events_since(conn, mark)
    assert [(e["action"], e["target_id"]) for e in written] == [
        ("invitation.revoked", first),
        ("member.invited", second),
    ]


def test_a_role_change_records_before_and_after(conn):
    mark = last_id(conn)
    act(conn, "admin")
    member = conn.execute(
        "update org_members set role = 'manager' where org_id = %s and user_id = %s"
        " returning id::text",
        (DEMO, USER["trainee2"]),
    ).fetchone()["id"]
    event = only_event(conn, mark)
    assert event["action"] == "member.role_changed"
    assert_actor(event, "admin")
    assert (event["target_table"], event["target_id"]) == ("org_members", member)
    assert event["details"]["user_id"] == USER["trainee2"]
    assert event["details"]["before"] == {"role": "trainee"}
    assert event["details"]["after"] == {"role": "manager"}


def test_a_rename_or_a_same_role_update_is_no_event(conn):
    mark = last_id(conn)
    act(conn, "admin")
    conn.execute(
        "update org_members set display_name = 'Theo T.', role = 'trainee'"
        " where org_id = %s and user_id = %s",
        (DEMO, USER["trainee2"]),
    )
    assert events_since(conn, mark) == []


def test_an_admin_demoting_themselves_is_recorded_with_the_role_they_had(conn):
    act(conn, "admin")
    # Another admin first: the last one may not step down (tests/db/test_people_rules.py).
    conn.execute(
        "update org_members set role = 'admin' where org_id = %s and user_id = %s",
        (DEMO, USER["manager"]),
    )
    mark = last_id(conn)
    act(conn, "admin")
    conn.execute(
        "update org_members set role = 'hr' where org_id = %s and user_id = %s",
        (DEMO, USER["admin"]),
    )
    event = only_event(conn, mark)
    assert event["actor_role"] == "admin"


def test_a_removal_is_one_event_even_with_team_memberships(conn):
    """trainee2 is in SMB West: the team membership goes with the membership, silently."""
    mark = last_id(conn)
    act(conn, "admin")
    member = conn.execute(
        "delete from org_members where org_id = %s and user_id = %s returning id::text",
        (DEMO, USER["trainee2"]),
    ).fetchone()["id"]
    event = only_event(conn, mark)
    assert event["action"] == "member.removed"
    assert_actor(event, "admin")
    assert event["target_id"] == member
    assert event["details"] == {
        "user_id": USER["trainee2"],
        "role": "trainee",
        "display_name": "Theo Trainee",
    }


def test_the_service_role_adding_a_member_is_recorded_without_an_actor(conn):
    mark = last_id(conn)
    act(conn, SERVICE)
    conn.execute(
        "insert into org_members (org_id, user_id, role) values (%s, %s, 'trainee')",
        (DEMO, USER["globex_admin"]),
    )
    event = only_event(conn, mark)
    assert event["action"] == "member.added"
    assert (event["actor_id"], event["actor_role"], event["acting_as"]) == (
        None,
        None,
        "service_role",
    )
    assert event["details"]["user_id"] == USER["globex_admin"]


def test_teams_created_renamed_and_deleted(conn):
    mark = last_id(conn)
    act(conn, "admin")
    team = conn.execute(
        "insert into teams (org_id, name) values (%s, 'Partners') returning id::text", (DEMO,)
    ).fetchone()["id"]
    created = only_event(conn, mark)
    assert created["action"] == "team.created"
    assert_actor(created, "admin")
    assert (created["target_table"], created["target_id"]) == ("teams", team)
    assert created["details"] == {"name": "Partners"}

    mark = last_id(conn)
    act(conn, "admin").execute("update teams set name = 'Channel' where id = %s", (team,))
    renamed = only_event(conn, mark)
    assert renamed["action"] == "team.renamed"
    assert renamed["details"] == {"before": {"name": "Partners"}, "after": {"name": "Channel"}}

    mark = last_id(conn)
    act(conn, "admin").execute("update teams set updated_at = now() where id = %s", (team,))
    assert events_since(conn, mark) == []


def test_deleting_a_team_with_members_is_one_event(conn):
    mark = last_id(conn)
    act(conn, "admin").execute("delete from teams where id = %s", (TEAM_WEST,))
    event = only_event(conn, mark)
    assert event["action"] == "team.deleted"
    assert event["target_id"] == TEAM_WEST
    assert event["details"] == {"name": "SMB West"}


def test_team_members_added_and_removed(conn):
    mark = last_id(conn)
    act(conn, "admin")
    row = conn.execute(
        "insert into team_members (org_id, team_id, user_id) values (%s, %s, %s)"
        " returning id::text",
        (DEMO, TEAM_EAST, USER["trainee2"]),
    ).fetchone()["id"]
    added = only_event(conn, mark)
    assert added["action"] == "team.member_added"
    assert_actor(added, "admin")
    assert (added["target_table"], added["target_id"]) == ("team_members", row)
    assert added["details"] == {
        "team_id": TEAM_EAST,
        "team_name": "Enterprise East",
        "user_id": USER["trainee2"],
        "display_name": "Theo Trainee",
    }

    mark = last_id(conn)
    act(conn, "admin").execute("delete from team_members where id = %s", (row,))
    removed = only_event(conn, mark)
    assert removed["action"] == "team.member_removed"
    assert removed["target_id"] == row


def test_an_admin_adding_themselves_to_a_team_is_recorded(conn):
    """Only an invitee's own acceptance adds teams silently; an admin's own choice is logged."""
    mark = last_id(conn)
    act(conn, "admin").execute(
        "insert into team_members (org_id, team_id, user_id) values (%s, %s, %s)",
        (DEMO, TEAM_EAST, USER["admin"]),
    )
    event = only_event(conn, mark)
    assert event["action"] == "team.member_added"
    assert event["details"]["user_id"] == USER["admin"]


def test_webhook_life_cycle_never_records_a_secret(conn):
    act(conn, "admin")
    mark = last_id(conn)
    act(conn, "admin")
    hook = conn.execute(
        "select created ->> 'id' as id, created ->> 'secret' as secret from create_webhook("
        "'https://hooks.example.com/a', '{attempt.scored}', 'CRM') as created"
    ).fetchone()
    secrets = [hook["secret"]]
    created = only_event(conn, mark)
    assert created["action"] == "webhook.created"
    assert_actor(created, "admin")
    assert (created["target_table"], created["target_id"]) == ("webhooks", hook["id"])
    assert created["details"] == {
        "url": "https://hooks.example.com/a",
        "description": "CRM",
        "events": ["attempt.scored"],
        "enabled": True,
    }

    mark = last_id(conn)
    act(conn, "admin").execute(
        "update webhooks set url = 'https://hooks.example.com/b', events = '{*}' where id = %s",
        (hook["id"],),
    )
    updated = only_event(conn, mark)
    assert updated["action"] == "webhook.updated"
    assert updated["details"]["before"] == {
        "url": "https://hooks.example.com/a",
        "events": ["attempt.scored"],
    }
    assert updated["details"]["after"] == {"url": "https://hooks.example.com/b", "events": ["*"]}

    mark = last_id(conn)
    act(conn, "admin")
    secrets.append(
        conn.execute("select rotate_webhook_secret(%s) as s", (hook["id"],)).fetchone()["s"]
    )
    rotated = only_event(conn, mark)
    assert rotated["action"] == "webhook.secret_rotated"
    assert_actor(rotated, "admin")
    assert set(rotated["details"]) == {"url", "previous_secret_expires_at"}

    # The dispatcher's bookkeeping alone is no admin action.
    mark = last_id(conn)
    act(conn, SERVICE).execute(
        "update webhooks set failure_since = now() where id = %s", (hook["id"],)
    )
    assert events_since(conn, mark) == []

    mark = last_id(conn)
    act(conn, "admin").execute("delete from webhooks where id = %s", (hook["id"],))
    deleted = only_event(conn, mark)
    assert deleted["action"] == "webhook.deleted"
    assert deleted["details"]["url"] == "https://hooks.example.com/b"

    act(conn, SERVICE)
    everything = conn.execute(
        "select string_agg(details::text, ' ') as text from audit_events"
    ).fetchone()["text"]
    for secret in secrets:
        assert secret not in everything
        assert secret.removeprefix("whsec_") not in everything


def test_the_details_can_never_hold_a_secret_key(admin_conn):
    with pytest.raises(psycopg.errors.CheckViolation):
        admin_conn.execute(
            "insert into audit_events (org_id, acting_as, action, target_table, target_id,"
            " details) values (%s, 'postgres', 'webhook.updated', 'webhooks', gen_random_uuid(),"
            ' \'{"secret": "whsec_x"}\')',
            (DEMO,),
        )


@pytest.mark.parametrize(
    ("table", "row_id"), [("scenarios", Seed.SCENARIO_DRAFT), ("tracks", TRACK)]
)
def test_content_published_and_archived(conn, table, row_id):
    kind = table.removesuffix("s")
    if table == "tracks":  # the seed's track is live: take it back to a draft first
        act(conn, "admin").execute(f"update {table} set status = 'draft' where id = %s", (row_id,))
    for status, before in (("published", "draft"), ("archived", "published")):
        mark = last_id(conn)
        act(conn, "admin").execute(
            f"update {table} set status = %s where id = %s", (status, row_id)
        )
        event = only_event(conn, mark)
        assert event["action"] == f"{kind}.{status}"
        assert_actor(event, "admin")
        assert (event["target_table"], event["target_id"]) == (table, row_id)
        assert event["details"]["before"] == {"status": before}
        assert event["details"]["after"] == {"status": status}
        assert event["details"]["title"]
    if table == "scenarios":  # an archived version never goes back to draft (scenario versions)
        return
    mark = last_id(conn)
    act(conn, "admin").execute(f"update {table} set status = 'draft' where id = %s", (row_id,))
    act(conn, "admin").execute(f"update {table} set title = title || '!' where id = %s", (row_id,))
    assert events_since(conn, mark) == []


def test_content_inserted_as_published_is_recorded(conn):
    mark = last_id(conn)
    act(conn, "admin")
    track = conn.execute(
        "insert into tracks (org_id, title, status) values (%s, 'Live', 'published')"
        " returning id::text",
        (DEMO,),
    ).fetchone()["id"]
    event = only_event(conn, mark)
    assert (event["action"], event["target_id"]) == ("track.published", track)
    assert event["details"]["before"] == {"status": None}


def test_removing_a_recording_is_one_event(conn):
    attempt = str(uuid.uuid4())
    name = f"{DEMO}/{USER['trainee']}/{attempt}.flac"
    act(conn, "trainee")
    obj = conn.execute(
        "insert into storage.objects (bucket_id, name, metadata) values ('recordings', %s,"
        ' \'{"size": 1234, "mimetype": "audio/flac", "eTag": "abc"}\') returning id::text',
        (name,),
    ).fetchone()["id"]
    mark = last_id(conn)
    act(conn, "admin")
    removed = (
        as_storage_api(conn)
        .execute("delete from storage.objects where id = %s returning id", (obj,))
        .fetchall()
    )
    assert len(removed) == 1
    event = only_event(conn, mark)
    assert event["action"] == "recording.removed"
    assert_actor(event, "admin")
    assert (event["target_table"], event["target_id"]) == ("storage.objects", obj)
    assert event["details"] == {
        "bucket": "recordings",
        "name": name,
        "user_id": USER["trainee"],
        "size": 1234,
        "mimetype": "audio/flac",
    }
    # The storage-level evidence audit still has its own row.
    assert (
        conn.execute(
            "select count(*) as n from private.evidence_audit where object_name = %s", (name,)
        ).fetchone()["n"]
        == 1
    )


# Who reads -------------------------------------------------------------------------------------


def _demo_event_ids(conn: psycopg.Connection) -> set[int]:
    return {r["id"] for r in conn.execute("select id from audit_events where org_id = %s", (DEMO,))}


def test_admins_and_hr_read_their_orgs_log_and_nobody_else(conn):
    act(conn, "admin").execute("insert into teams (org_id, name) values (%s, 'Readers')", (DEMO,))
    act(conn, SERVICE)
    demo_events = _demo_event_ids(conn)
    globex_events = {
        r["id"] for r in conn.execute("select id from audit_events where org_id = %s", (GLOBEX,))
    }
    assert demo_events and globex_events  # the seed's own actions were recorded too

    for who in ("admin", "hr"):
        act(conn, who)
        assert {r["id"] for r in conn.execute("select id from audit_events")} == demo_events
    for who in ("trainee", "manager", "consultant_demo"):
        act(conn, who)
        assert conn.execute("select id from audit_events").fetchall() == [], who
    for who in ("globex_admin", "globex_hr"):
        act(conn, who)
        assert {r["id"] for r in conn.execute("select id from audit_events")} == globex_events


def test_a_forged_role_or_org_claim_reads_nothing(conn):
    forged = [
        Claims(sub=USER["trainee"], org_id=DEMO, org_role="admin"),
        Claims(sub=USER["globex_admin"], org_id=DEMO, org_role="admin"),
    ]
    for claims in forged:
        act(conn, claims)
        assert conn.execute("select id from audit_events").fetchall() == []


def test_anon_reads_nothing(conn):
    act(conn, Claims(sub=None, role="anon"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select id from audit_events")


# Nobody rewrites the log -----------------------------------------------------------------------

REWRITES = [
    "update audit_events set details = '{}' returning id",
    "delete from audit_events returning id",
    "insert into audit_events (org_id, acting_as, action, target_table, target_id)"
    " values ('" + DEMO + "', 'x', 'team.created', 'teams', gen_random_uuid()) returning id",
    "truncate audit_events",
]


@pytest.mark.parametrize("who", ["admin", "hr", "trainee", "service"])
@pytest.mark.parametrize("sql", REWRITES, ids=["update", "delete", "insert", "truncate"])
def test_no_api_role_writes_the_log(conn, who, sql):
    act(conn, SERVICE if who == "service" else who)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(sql)


@pytest.mark.parametrize("sql", REWRITES[:2] + REWRITES[3:], ids=["update", "delete", "truncate"])
def test_not_even_the_owner_changes_or_removes_an_event(admin_conn, sql):
    assert admin_conn.execute("select count(*) as n from audit_events").fetchone()["n"] > 0
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        admin_conn.execute(sql)


def test_no_api_role_may_call_the_writer(conn):
    for who in ("admin", SERVICE):
        act(conn, who)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute(
                "select private.write_audit_event(%s, 'team.created', 'teams',"
                " gen_random_uuid(), '{}')",
                (DEMO,),
            )


# The CSV export ----------------------------------------------------------------------------------


def read_csv(conn: psycopg.Connection, **kwargs: Any) -> list[list[str]]:
    args = ", ".join(f"{name} => %({name})s" for name in kwargs)
    text = conn.execute(f"select audit_log_csv({args}) as csv", kwargs).fetchone()["csv"]
    assert text.endswith("\r\n")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows[0] == CSV_HEADER
    return rows[1:]


def test_csv_filters_by_time_and_action(conn):
    act(conn, "admin")
    conn.execute(
        "update org_members set display_name = '=SUM(1,2)' where org_id = %s and user_id = %s",
        (DEMO, USER["admin"]),
    )
    team = conn.execute(
        "insert into teams (org_id, name) values (%s, 'Export, \"quoted\"') returning id::text",
        (DEMO,),
    ).fetchone()["id"]
    conn.execute("update teams set name = 'Exported' where id = %s", (team,))
    now = conn.execute("select now() as t").fetchone()["t"]

    for who in ("admin", "hr"):
        act(conn, who)
        # This transaction's events carry its time; the seed's are older.
        mine = read_csv(conn, since=now)
        assert [row[1] for row in mine] == ["team.created", "team.renamed"]
        created = mine[0]
        assert created[2] == USER["admin"]
        assert created[3] == "'=SUM(1,2)"  # a formula is defused for spreadsheets
        assert created[4:8] == ["admin", "authenticated", "teams", team]
        assert json.loads(created[8]) == {"name": 'Export, "quoted"'}

        only_created = read_csv(conn, since=now, actions=["team.created"])
        assert [row[7] for row in only_created] == [team]
        older = read_csv(conn, until=now)
        assert older and team not in {row[7] for row in older}
        assert {row[1] for row in read_csv(conn, actions=["member.added"])} == {"member.added"}
        assert read_csv(conn, since=now, until=now) == []


def test_csv_is_for_admins_and_hr_only(conn):
    for who in ("trainee", "manager"):
        act(conn, who)
        with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
            conn.execute("select audit_log_csv()")
    act(conn, Claims(sub=USER["trainee"], org_id=DEMO, org_role="admin"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute("select audit_log_csv()")
    act(conn, Claims(sub=None, role="anon"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute("select audit_log_csv()")


def test_csv_of_another_org_is_that_orgs_own(conn):
    act(conn, "globex_admin")
    rows = read_csv(conn)
    assert rows
    act(conn, SERVICE)
    demo_targets = {
        r["t"]
        for r in conn.execute(
            "select target_id::text as t from audit_events where org_id = %s", (DEMO,)
        )
    }
    assert not demo_targets & {row[7] for row in rows}


def test_csv_refuses_unknown_actions_and_a_backwards_range(conn):
    act(conn, "admin")
    unknown = pytest.raises(psycopg.errors.InvalidParameterValue, match="unknown audit action")
    with unknown, conn.transaction():
        read_csv(conn, actions=["member.hacked"])
    backwards = pytest.raises(psycopg.errors.InvalidParameterValue, match="after until")
    with backwards, conn.transaction():
        conn.execute("select audit_log_csv(now(), now() - interval '1 day')")
