"""The audit log service against the real stack: an admin's action shows up in words, filters
and pages narrow it, the CSV export holds exactly the filtered events, and only admins and HR
read anything."""

from __future__ import annotations

import csv
from datetime import timedelta

import pytest

from app.client.audit import (
    FORMER_MEMBER,
    NO_ACTOR,
    SYSTEM,
    AuditQuery,
    AuditService,
    describe,
)
from app.client.views import Member, PermissionDenied
from app.errors import CoachdeskError
from sync.db_types import AuditAction, OrgRole

PASSWORD = "coachdesk-demo"
INVITATIONS = frozenset({AuditAction.MEMBER_INVITED, AuditAction.INVITATION_REVOKED})


def _csv_rows(path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def _invite_and_revoke(backend, email: str) -> str:
    """An admin's two audited actions through the API the product uses: invite, then revoke."""
    [invitation] = backend.live(
        lambda s: s.rpc("invite_member", {"email": email, "role": "trainee"})
    )
    invitation_id = invitation["invitation_id"]
    backend.live(lambda s: s.rpc("revoke_invitation", {"invitation_id": invitation_id}))
    return invitation_id


def test_an_admins_action_is_listed_in_words_filtered_paged_and_exported(
    backend, accounts, new_email, tmp_path
):
    admin = backend.sign_in(accounts["admin"], PASSWORD)
    service = AuditService(backend)
    email = new_email()
    invitation_id = _invite_and_revoke(backend, email)

    mine = AuditQuery(actions=INVITATIONS, actor=admin.user_id)
    revoked, invited = service.events(mine).events[:2]
    assert (revoked.action, invited.action) == (
        AuditAction.INVITATION_REVOKED,
        AuditAction.MEMBER_INVITED,
    )
    assert revoked.target_id == invited.target_id == invitation_id
    assert invited.what == "Member invited" and invited.detail == f"{email} as Trainee"
    assert revoked.what == "Invitation revoked" and revoked.detail == email
    assert invited.actor_name == admin.display_name and invited.role == "Admin"
    assert "token" not in invited.details and "token_hash" not in invited.details
    assert (revoked.occurred_at, revoked.id) > (invited.occurred_at, invited.id)  # newest first

    # By action: only those asked for; by time: [since, until).
    only_invited = service.events(AuditQuery(actions=frozenset({AuditAction.MEMBER_INVITED})))
    assert {e.action for e in only_invited.events} == {AuditAction.MEMBER_INVITED}
    assert only_invited.events[0].id == invited.id
    window = AuditQuery(since=invited.occurred_at, until=revoked.occurred_at)
    in_window = service.events(window).events
    assert invited.id in {e.id for e in in_window} and revoked.id not in {e.id for e in in_window}
    assert all(invited.occurred_at <= e.occurred_at < revoked.occurred_at for e in in_window)
    assert service.events(AuditQuery(since=revoked.occurred_at + timedelta(days=1))).events == ()

    # Pages of one: the second starts right after the first (keyset on time and id).
    paged = AuditQuery(since=invited.occurred_at, actions=INVITATIONS, page_rows=1)
    first = service.events(paged)
    assert [e.id for e in first.events] == [revoked.id] and first.more
    second = service.events(paged, after=first.next)
    assert [e.id for e in second.events] == [invited.id] and not second.more

    # The export holds exactly what the filter selects, oldest first.
    since_invite = AuditQuery(since=invited.occurred_at, actions=INVITATIONS)
    listed = service.events(since_invite).events
    saved = service.export_csv(since_invite, tmp_path / "audit.csv")
    rows = _csv_rows(saved.path)
    assert saved.rows == len(rows) == len(listed) == 2
    assert [(r["action"], r["target_id"]) for r in rows] == [
        (e.action.value, e.target_id) for e in reversed(listed)
    ]
    assert rows[0]["actor_name"] == admin.display_name and rows[0]["actor_role"] == "admin"
    assert (tmp_path / "audit.csv").read_bytes().count(b"\r\n") == 3  # header + 2, CRLF

    # The actor filter applies to the file too (the export function has none of its own).
    by_admin = service.export_csv(
        AuditQuery(since=invited.occurred_at, actor=admin.user_id), tmp_path / "mine.csv"
    )
    assert {r["target_id"] for r in _csv_rows(by_admin.path)} == {invitation_id}
    nobody = service.export_csv(
        AuditQuery(since=invited.occurred_at, actor=NO_ACTOR), tmp_path / "nobody.csv"
    )
    assert nobody.rows == 0 and _csv_rows(nobody.path) == []
    assert (tmp_path / "nobody.csv").read_text(encoding="utf-8").startswith("occurred_at,")

    # A file that cannot be written is an error in words, and nothing is left behind.
    with pytest.raises(CoachdeskError, match="Could not save the audit log"):
        service.export_csv(since_invite, tmp_path / "missing" / "audit.csv")
    assert not (tmp_path / "missing").exists()
    assert list(tmp_path.glob("*.part")) == list(tmp_path.glob(".*")) == []


def test_hr_reads_the_log_and_the_systems_events_name_no_person(backend, accounts, tmp_path):
    backend.sign_in(accounts["hr"], PASSWORD)
    service = AuditService(backend)
    # The seed itself is audited: its content was published by no one (the seeding session).
    seeded = service.events(AuditQuery(actor=NO_ACTOR)).events
    assert seeded and all(e.actor_id is None and e.actor_name == SYSTEM for e in seeded)
    assert all(e.role == "–" for e in seeded)
    exported = service.export_csv(AuditQuery(), tmp_path / "all.csv")
    assert exported.rows >= len(seeded)
    choices = service.actor_choices()
    assert choices[:2] == [("Anyone", None), (f"{SYSTEM} (no person)", NO_ACTOR)]
    assert backend.account.user_id in {value for _label, value in choices}


@pytest.mark.parametrize("role", ["trainee", "manager"])
def test_trainees_and_managers_read_nothing_and_cannot_export(backend, accounts, tmp_path, role):
    backend.sign_in(accounts[role], PASSWORD)
    service = AuditService(backend)
    # The table's policy hides every row from them (an empty page, not an error) ...
    assert service.events(AuditQuery()).events == ()
    # ... and the export function refuses them outright; an older file stays as it was.
    folder = tmp_path / "exports"
    folder.mkdir()
    old = folder / "audit.csv"
    old.write_text("earlier export", encoding="utf-8")
    with pytest.raises(PermissionDenied):
        service.export_csv(AuditQuery(), old)
    assert old.read_text(encoding="utf-8") == "earlier export"
    assert [p.name for p in folder.iterdir()] == ["audit.csv"]


def test_each_action_reads_as_a_sentence():
    names = {"a1": "Ana"}
    assert describe(
        AuditAction.MEMBER_ROLE_CHANGED,
        {"user_id": "a1", "before": {"role": "trainee"}, "after": {"role": "manager"}},
        names,
    ) == ("Role changed: Trainee → Manager", "Ana")
    assert describe(
        AuditAction.TEAM_RENAMED, {"before": {"name": "East"}, "after": {"name": "North"}}
    ) == ("Team renamed", "East → North")
    assert describe(
        AuditAction.WEBHOOK_UPDATED,
        {"url": "https://h.example/x", "before": {"enabled": True}, "after": {"enabled": False}},
    ) == ("Webhook changed", "https://h.example/x; enabled: yes → no")
    assert describe(
        AuditAction.TEAM_MEMBER_ADDED, {"display_name": "Ben", "team_name": "SMB West"}
    ) == ("Added to a team", "Ben · team SMB West")
    assert describe(
        AuditAction.RECORDING_REMOVED, {"user_id": "a1", "name": "org/a1/call.flac"}, names
    ) == ("Recording removed", "Ana · call.flac")
    order = {"title": "Onboarding", "before": {"scenario_ids": ["a", "b"]}}
    assert describe(
        AuditAction.TRACK_SCENARIOS_CHANGED, {**order, "after": {"scenario_ids": ["b", "a"]}}
    ) == ("Track's scenarios changed", "Onboarding: reordered")
    assert describe(
        AuditAction.TRACK_SCENARIOS_CHANGED, {**order, "after": {"scenario_ids": ["b"]}}
    ) == ("Track's scenarios changed", "Onboarding: 2 → 1 scenarios")
    for action in AuditAction:  # every action has words, even with details missing
        what, _detail = describe(action, {})
        assert what and what != action.value


class _CannedBackend:
    """Members and the rows a page read would return, without a server."""

    def __init__(self, rows: list[dict]) -> None:
        self.rows = rows

    def members(self) -> list[Member]:
        return [Member("a0000000-0000-4000-8000-000000000001", "Ana", OrgRole.ADMIN)]

    def live(self, _call):
        return self.rows


def _row(event_id: int, actor: str | None) -> dict:
    return {
        "id": event_id, "org_id": "d0000000-0000-4000-8000-000000000001",
        "occurred_at": "2026-12-04T09:00:00+00:00", "actor_id": actor,
        "actor_role": "admin" if actor else None, "acting_as": "authenticated",
        "action": "team.created", "target_table": "teams",
        "target_id": "e0000000-0000-4000-8000-000000000009", "details": {"name": "North"},
    }  # fmt: skip


def test_actors_are_named_from_the_members_and_a_full_page_says_there_is_more():
    ana, gone = "a0000000-0000-4000-8000-000000000001", "a0000000-0000-4000-8000-0000000000ff"
    rows = [_row(3, ana), _row(2, gone), _row(1, None)]
    page = AuditService(_CannedBackend(rows)).events(AuditQuery(page_rows=2))
    assert [e.actor_name for e in page.events] == ["Ana", FORMER_MEMBER]
    assert page.more and page.next is not None and page.next.id == 2
    last = AuditService(_CannedBackend(rows[2:])).events(AuditQuery(page_rows=2))
    assert [e.actor_name for e in last.events] == [SYSTEM] and not last.more
    assert last.events[0].what == "Team created" and last.events[0].detail == "North"
