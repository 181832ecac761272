"""Membership by consent (issue 15, item 1): nobody joins an org without accepting an invitation
addressed to their confirmed email, and the org a user's token is for never changes by itself.

Everything acts as API roles through the `authenticator` login with real claims; one
transaction may switch between users (`act`) so an invitation and its acceptance meet. The token
hook runs as `supabase_auth_admin`, as Supabase Auth runs it, on committed data (created fresh
and removed afterwards).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from db_support import Claims, Seed, act
from psycopg.rows import dict_row

from server.db.auth_users import NewUser, create_user

DEMO, GLOBEX = Seed.DEMO_ORG, Seed.GLOBEX_ORG
USER = {key: Seed.USERS[key][0] for key in Seed.USERS}
GLOBEX_TRAINEE_EMAIL = "trainee@globex.coachdesk.test"
TEAM_EAST = "e0000000-0000-4000-8000-000000000001"
SERVICE = Claims(sub=None, role="service_role")


@pytest.fixture
def conn(api) -> psycopg.Connection:
    return api.become(Seed.claims("admin"))


def invite(conn: psycopg.Connection, email: str, role: str = "trainee", teams=()) -> dict:
    act(conn, "admin")
    return conn.execute(
        "select invitation_id::text, token, expires_at from invite_member(%s, %s, %s::uuid[])",
        (email, role, list(teams)),
    ).fetchone()


def accept(conn: psycopg.Connection, invitation: str) -> str:
    return str(conn.execute("select accept_invitation(%s) as org", (invitation,)).fetchone()["org"])


# The attack: an admin adding someone without their consent ---------------------------------


def test_an_admin_cannot_insert_a_member_of_their_choosing(conn):
    act(conn, "globex_admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "insert into org_members (org_id, user_id, role, created_at)"
            " values (%s, %s, 'trainee', '2000-01-01') returning id",
            (GLOBEX, USER["trainee"]),
        )


def test_an_admin_cannot_turn_a_membership_into_someone_elses(conn):
    """An update of user_id would be an insert by another name."""
    act(conn, "globex_admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "update org_members set user_id = %s where org_id = %s and user_id = %s",
            (USER["trainee"], GLOBEX, USER["globex_trainee"]),
        )


def test_an_admin_still_changes_a_members_role(conn):
    changed = conn.execute(
        "update org_members set role = 'manager' where org_id = %s and user_id = %s"
        " returning role::text",
        (DEMO, USER["trainee2"]),
    ).fetchall()
    assert changed == [{"role": "manager"}]


def test_the_invitee_cannot_mark_an_invitation_accepted_by_hand(conn):
    invitation = invite(conn, GLOBEX_TRAINEE_EMAIL)["invitation_id"]
    act(conn, "globex_trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("update org_invitations set accepted_at = now() where id = %s", (invitation,))


# The invitation flow --------------------------------------------------------------------------


def test_an_invitee_accepts_and_joins_with_the_role_and_teams(conn):
    invitation = invite(conn, "  Trainee@Globex.Coachdesk.TEST ", "manager", [TEAM_EAST])
    assert len(invitation["token"]) == 64

    act(conn, "globex_trainee")  # their token is for Globex: invitations follow the email
    seen = conn.execute(
        "select id::text, org_id::text, email, role::text from org_invitations"
    ).fetchall()
    assert seen == [
        {
            "id": invitation["invitation_id"],
            "org_id": DEMO,
            "email": GLOBEX_TRAINEE_EMAIL,
            "role": "manager",
        }
    ]
    assert accept(conn, invitation["invitation_id"]) == DEMO

    act(conn, "admin")
    member = conn.execute(
        "select role::text, display_name from org_members where user_id = %s",
        (USER["globex_trainee"],),
    ).fetchall()
    assert member == [{"role": "manager", "display_name": "Gina Globex"}]
    teams = conn.execute(
        "select team_id::text from team_members where user_id = %s", (USER["globex_trainee"],)
    ).fetchall()
    assert teams == [{"team_id": TEAM_EAST}]
    outcome = conn.execute(
        "select accepted_at = now() as now, accepted_by::text, invited_by::text"
        " from org_invitations where id = %s",
        (invitation["invitation_id"],),
    ).fetchone()
    assert outcome == {
        "now": True,
        "accepted_by": USER["globex_trainee"],
        "invited_by": USER["admin"],
    }


def test_the_mail_links_token_accepts_too(conn):
    token = invite(conn, GLOBEX_TRAINEE_EMAIL)["token"]
    act(conn, "globex_trainee")
    assert (
        str(conn.execute("select accept_invitation_token(%s) as org", (token,)).fetchone()["org"])
        == DEMO
    )


def test_a_made_up_token_is_refused(conn):
    invite(conn, GLOBEX_TRAINEE_EMAIL)
    act(conn, "globex_trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not valid"):
        conn.execute("select accept_invitation_token(%s)", ("0" * 64,))


def test_an_invitation_is_accepted_once(conn):
    invitation = invite(conn, GLOBEX_TRAINEE_EMAIL)["invitation_id"]
    act(conn, "globex_trainee")
    accept(conn, invitation)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="already accepted"):
        accept(conn, invitation)


def test_an_existing_member_is_told_so(conn):
    invitation = invite(conn, "trainee@demo.coachdesk.test")["invitation_id"]
    act(conn, "trainee")
    with pytest.raises(psycopg.errors.UniqueViolation, match="already a member"):
        accept(conn, invitation)


def test_inviting_again_replaces_the_open_invitation(conn):
    first = invite(conn, GLOBEX_TRAINEE_EMAIL)["invitation_id"]
    second = invite(conn, GLOBEX_TRAINEE_EMAIL)["invitation_id"]
    act(conn, "globex_trainee")
    with (
        pytest.raises(psycopg.errors.InvalidParameterValue, match="was revoked"),
        conn.transaction(),
    ):
        accept(conn, first)
    assert accept(conn, second) == DEMO


@pytest.mark.parametrize("who", ["manager", "trainee", "hr"])
def test_only_the_orgs_admins_invite(conn, who):
    act(conn, who)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), conn.transaction():
        conn.execute("select invite_member(%s)", (GLOBEX_TRAINEE_EMAIL,))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "insert into org_invitations (org_id, email, token_hash) values (%s, %s, %s)",
            (DEMO, GLOBEX_TRAINEE_EMAIL, "a" * 64),
        )


def test_another_orgs_admin_cannot_invite_into_this_org(conn):
    act(conn, "globex_admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn.execute(
            "insert into org_invitations (org_id, email, token_hash) values (%s, %s, %s)",
            (DEMO, GLOBEX_TRAINEE_EMAIL, "a" * 64),
        )


@pytest.mark.parametrize("who", ["manager", "trainee", "hr", "globex_admin", "globex_trainee"])
def test_others_see_no_invitation(conn, who):
    invite(conn, "newcomer@example.test")
    act(conn, who)
    assert conn.execute("select count(*) as n from org_invitations").fetchone() == {"n": 0}


def test_an_invitation_cannot_name_another_orgs_team(conn):
    with pytest.raises(psycopg.errors.ForeignKeyViolation, match="only teams of its own org"):
        invite(conn, GLOBEX_TRAINEE_EMAIL, teams=["e0000000-0000-4000-8000-000000000011"])


# Refusals ------------------------------------------------------------------------------------


def test_an_invitation_for_another_address_is_refused(conn):
    invitation = invite(conn, "someone.else@example.test")["invitation_id"]
    act(conn, "globex_trainee")
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="no invitation"),
        conn.transaction(),
    ):
        accept(conn, invitation)
    act(conn, "globex_admin")
    assert conn.execute("select count(*) as n from org_members").fetchone() == {"n": 5}


def test_a_revoked_invitation_is_refused_and_stays_revoked(conn):
    invitation = invite(conn, GLOBEX_TRAINEE_EMAIL)["invitation_id"]
    conn.execute("select revoke_invitation(%s)", (invitation,))
    revoked = conn.execute(
        "select revoked_at = now() as now, revoked_by::text from org_invitations where id = %s",
        (invitation,),
    ).fetchone()
    assert revoked == {"now": True, "revoked_by": USER["admin"]}
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="already revoked"):
        conn.execute("update org_invitations set revoked_at = null where id = %s", (invitation,))


def test_a_revoked_invitation_cannot_be_accepted(conn):
    invitation = invite(conn, GLOBEX_TRAINEE_EMAIL)["invitation_id"]
    conn.execute("select revoke_invitation(%s)", (invitation,))
    act(conn, "globex_trainee")
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="was revoked"):
        accept(conn, invitation)


def test_an_invitation_cannot_be_rewritten(conn):
    invitation = invite(conn, "someone.else@example.test")["invitation_id"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "update org_invitations set email = %s where id = %s",
            (GLOBEX_TRAINEE_EMAIL, invitation),
        )


@pytest.fixture
def committed(database_dsn: str) -> Iterator[psycopg.Connection]:
    """Superuser connection whose writes the API connection sees; removes what it recorded."""
    with psycopg.connect(database_dsn, autocommit=True, row_factory=dict_row) as conn:
        conn.info_cleanup = []  # type: ignore[attr-defined]
        yield conn
        for sql, params in reversed(conn.info_cleanup):  # type: ignore[attr-defined]
            conn.execute(sql, params)


def new_user(committed: psycopg.Connection, *, confirmed: bool = True) -> tuple[str, str]:
    email = f"h15-{uuid.uuid4().hex[:10]}@example.test"
    user = str(create_user(committed, NewUser(email=email, confirmed=confirmed)))
    committed.info_cleanup.append(("delete from auth.users where id = %s", (user,)))
    committed.info_cleanup.append(("delete from org_invitations where email = %s", (email,)))
    return user, email


def test_an_expired_invitation_is_refused(api, committed):
    user, email = new_user(committed)
    # Time travel: an invitation whose week has passed (the checks refuse writing one).
    committed.execute("set session_replication_role = replica")
    invitation = committed.execute(
        "insert into org_invitations (org_id, email, token_hash, expires_at)"
        " values (%s, %s, %s, now() - interval '1 minute') returning id::text",
        (DEMO, email, uuid.uuid4().hex * 2),
    ).fetchone()["id"]
    committed.execute("set session_replication_role = origin")
    conn = api.become(Claims(sub=user))
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="expired"):
        accept(conn, invitation)


def test_an_unconfirmed_address_cannot_accept(api, committed):
    user, email = new_user(committed, confirmed=False)
    conn = api.become(Seed.claims("admin"))
    invitation = invite(conn, email)["invitation_id"]
    act(conn, Claims(sub=user))
    assert conn.execute("select count(*) as n from org_invitations").fetchone() == {"n": 0}
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="confirm your email"):
        accept(conn, invitation)


def test_anon_cannot_accept(conn):
    invitation = invite(conn, GLOBEX_TRAINEE_EMAIL)["invitation_id"]
    conn.execute("set local role anon")
    conn.execute("select set_config('request.jwt.claims', %s, true)", ('{"role": "anon"}',))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        accept(conn, invitation)


# The active org never changes by itself ------------------------------------------------------


def hook_org(committed: psycopg.Connection, user: str) -> str | None:
    """The org of the next token, as Supabase Auth issues it (claims from auth.users)."""
    meta = committed.execute(
        "select coalesce(raw_app_meta_data, '{}') as m from auth.users where id = %s", (user,)
    ).fetchone()["m"]
    event = {
        "user_id": user,
        "claims": {"sub": user, "role": "authenticated", "app_metadata": meta},
    }
    with committed.transaction():
        committed.execute("set local role supabase_auth_admin")
        out = committed.execute(
            "select public.custom_access_token_hook(%s::jsonb) as e", (json.dumps(event),)
        ).fetchone()["e"]
    return out["claims"].get("org_id")


def test_accepting_an_invitation_does_not_move_the_active_org(api, committed):
    user, email = new_user(committed)
    committed.execute("insert into org_members (org_id, user_id) values (%s, %s)", (GLOBEX, user))
    assert hook_org(committed, user) == GLOBEX

    conn = api.become(Seed.claims("admin"))
    invitation = invite(conn, email)["invitation_id"]
    act(conn, Claims(sub=user, org_id=GLOBEX))
    accept(conn, invitation)
    conn.commit()

    assert hook_org(committed, user) == GLOBEX


def test_a_membership_added_by_the_service_with_an_old_date_does_not_move_the_active_org(
    api, committed
):
    """The reported attack's ingredients: a backdated membership and the hook's default."""
    user, _ = new_user(committed)
    committed.execute("insert into org_members (org_id, user_id) values (%s, %s)", (GLOBEX, user))
    conn = act(api.become(SERVICE), SERVICE)
    conn.execute(
        "insert into org_members (org_id, user_id, created_at) values (%s, %s, '2000-01-01')",
        (DEMO, user),
    )
    conn.commit()
    assert hook_org(committed, user) == GLOBEX


def test_the_chosen_org_is_kept_over_an_older_membership(api, committed):
    user, _ = new_user(committed)
    committed.execute("insert into org_members (org_id, user_id) values (%s, %s)", (GLOBEX, user))
    committed.execute("insert into org_members (org_id, user_id) values (%s, %s)", (DEMO, user))
    conn = api.become(Claims(sub=user, org_id=DEMO))
    conn.execute("select set_active_org(%s)", (DEMO,))
    conn.commit()
    assert hook_org(committed, user) == DEMO
