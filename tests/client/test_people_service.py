"""The People service against the real local stack: invitations by consent, roles, the last
admin, removal that keeps attempts, teams, and refusals in words.

Each test works in an org of its own (`fresh_org`: created and deleted with every user it made), so
the seed orgs that other tests count stay as they are.
"""

from __future__ import annotations

import uuid

import pytest
from stack_fixtures import FRESH_PASSWORD as PASSWORD
from stack_fixtures import FreshOrg as Org
from stack_fixtures import sign_up_confirmed

from app.client.people import PeopleService
from app.client.views import PermissionDenied
from app.errors import CoachdeskError
from server.stack.outbox import read_outbox
from supabase import ClientOptions, create_client

SEED_SCENARIO = "f0000000-0000-4000-8000-000000000001"


@pytest.fixture
def org(fresh_org: Org) -> Org:
    return fresh_org


@pytest.fixture
def admin(org, backend_for) -> PeopleService:
    return PeopleService(backend_for(org.emails["admin"]))


def _signed_up(stack, email: str) -> str:
    """The invitee signs up as a person would (the mail's code confirms the address)."""
    client = create_client(
        stack.url, stack.anon_key, ClientOptions(auto_refresh_token=False, persist_session=False)
    )
    sign_up_confirmed(client, stack, email, PASSWORD)
    return email


# Members and seats --------------------------------------------------------------------------


def test_admin_sees_members_with_roles_teams_email_and_seats(org, admin):
    org.team("East", org.trainee)
    people = admin.people()
    assert [(p.name, p.role.value, p.teams, p.email) for p in people] == [
        ("Ada Admin", "admin", (), org.emails["admin"]),
        ("Tom Trainee", "trainee", ("East",), org.emails["trainee"]),
    ]
    assert people[0].last_active is not None  # the admin just signed in
    seats = admin.seats()
    assert (seats.used, seats.allowed, seats.text, seats.full) == (2, 3, "2 of 3 seats used", False)
    overview = admin.overview()
    assert (overview.people, overview.seats, overview.invitations) == (people, seats, [])


def test_a_trainee_is_refused_in_words(org, backend_for):
    trainee = PeopleService(backend_for(org.emails["trainee"]))
    with pytest.raises(PermissionDenied, match="Only an admin"):
        trainee.people()  # the server's refusal (org_people is for admins)
    with pytest.raises(PermissionDenied, match="Only an admin"):
        trainee.change_role(org.admin, "trainee")


# Invitations --------------------------------------------------------------------------------


def test_an_invited_person_signs_up_accepts_and_appears(stack, org, admin, backend_for):
    team = org.team("West")
    email = org.new_email()
    invited = admin.invite(f"  {email.upper()} ", "manager", [team])
    assert (invited.email, invited.mailed, invited.note) == (email, True, "")
    assert read_outbox(stack.config.outbox_dir, to=email), "the mail went to the local outbox"
    [pending] = admin.invitations()
    assert (pending.id, pending.email, pending.role.value, pending.teams, pending.invited_by) == (
        invited.invitation_id,
        email,
        "manager",
        ("West",),
        "Ada Admin",
    )
    assert email not in {p.email for p in admin.people()}  # not a member before accepting

    invitee = backend_for(_signed_up(stack, email))  # new to the server: no org yet
    service = PeopleService(invitee)
    [offer] = service.my_invitations()
    assert offer.id == invited.invitation_id
    assert offer.text == f"Ada Admin invites you to join {org.name} as a manager."
    assert service.accept(offer.id) == org.id
    assert invitee.switch_org(org.id).role.value == "manager"  # what the app does next

    assert admin.invitations() == [] and service.my_invitations() == []
    joined = {p.email: p for p in admin.people()}[email]
    assert (joined.role.value, joined.teams) == ("manager", ("West",))
    assert admin.seats().text == "3 of 3 seats used"

    # The plan is full now: inviting works (with a note), accepting does not.
    late = org.new_email()
    invited = admin.invite(late, "trainee")
    assert "All 3 seats of the plan are in use" in invited.note
    service = PeopleService(backend_for(_signed_up(stack, late)))
    assert [i.id for i in service.my_invitations()] == [invited.invitation_id]
    with pytest.raises(CoachdeskError, match="All 3 seats of the org's plan are in use"):
        service.accept(invited.invitation_id)


def test_an_address_is_checked_before_anything_is_sent(admin):
    with pytest.raises(CoachdeskError, match="is not an email address"):
        admin.invite("ana@example", "trainee")
    assert admin.invitations() == []


def test_revoke_and_resend(stack, org, admin, backend_for):
    email = org.new_email()
    first = admin.invite(email, "trainee")
    again = admin.resend(first.invitation_id)
    assert again.invitation_id != first.invitation_id
    assert [i.id for i in admin.invitations()] == [again.invitation_id]
    assert len(read_outbox(stack.config.outbox_dir, to=email)) == 2

    admin.revoke(again.invitation_id)
    assert admin.invitations() == []
    with pytest.raises(CoachdeskError, match="no longer open"):
        admin.revoke(again.invitation_id)
    with pytest.raises(CoachdeskError, match="no longer open"):
        admin.resend(again.invitation_id)
    # Nor can the invitee accept it.
    invitee = PeopleService(backend_for(_signed_up(stack, email)))
    assert invitee.my_invitations() == []
    with pytest.raises(CoachdeskError, match="was revoked by an admin"):
        invitee.accept(again.invitation_id)


# Roles and removal --------------------------------------------------------------------------


def test_roles_change_but_the_last_admin_stays(org, admin):
    admin.change_role(org.trainee, "manager")
    assert {p.user_id: p.role.value for p in admin.people()}[org.trainee] == "manager"

    with pytest.raises(CoachdeskError, match="at least one admin") as refused:
        admin.change_role(org.admin, "trainee")
    assert "make another member an admin first" in str(refused.value)
    with pytest.raises(CoachdeskError, match="at least one admin"):
        admin.remove(org.admin)

    admin.change_role(org.trainee, "admin")
    admin.change_role(org.admin, "manager")  # another admin exists now
    roles = org.conn.execute(
        "select user_id::text, role::text from org_members where org_id = %s", (org.id,)
    ).fetchall()
    assert {r["user_id"]: r["role"] for r in roles} == {org.admin: "manager", org.trainee: "admin"}


def test_removing_a_member_frees_the_seat_and_keeps_their_attempts(org, admin):
    scenario = org.one(
        "insert into scenarios (org_id, title, persona, branching, rubric, status)"
        " select %s, 'Cold call', persona, branching, rubric, 'published' from scenarios"
        " where id = %s returning id::text",
        (org.id, SEED_SCENARIO),
    )["id"]
    attempt = str(uuid.uuid4())
    org.conn.execute(
        "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at)"
        " values (%s, %s, %s, %s, now() - interval '1 hour')",
        (attempt, org.id, org.trainee, scenario),
    )
    before = {p.user_id: p for p in admin.people()}[org.trainee]
    assert before.last_active is not None

    admin.remove(org.trainee)

    assert org.trainee not in {p.user_id for p in admin.people()}
    assert admin.seats().used == 1
    kept = org.conn.execute(
        "select user_id::text from scenario_attempts where id = %s", (attempt,)
    ).fetchone()
    assert kept == {"user_id": org.trainee}
    with pytest.raises(CoachdeskError, match="Nothing was changed"):
        admin.remove(org.trainee)


# Teams --------------------------------------------------------------------------------------


def test_teams_are_created_renamed_and_staffed(org, admin):
    team = admin.create_team("  North   Sales ")
    admin.add_to_team(team, org.trainee)
    assert [(t.name, t.member_ids) for t in admin.teams()] == [("North Sales", (org.trainee,))]
    with pytest.raises(CoachdeskError, match="already exists"):
        admin.create_team("North Sales")
    with pytest.raises(CoachdeskError, match="already a member"):
        admin.add_to_team(team, org.trainee)

    admin.rename_team(team, "North")
    admin.remove_from_team(team, org.trainee)
    assert [(t.name, t.member_ids) for t in admin.teams()] == [("North", ())]
    admin.delete_team(team)
    assert admin.teams() == []
    with pytest.raises(CoachdeskError, match="1 to 200 characters"):
        admin.create_team("   ")
