"""The People screen's service: an org's members, invitations, seats and teams (no Qt).

Everything here exists on the server alone (emails, sign-in times, invitations are not
synced), so every call reaches it through `Backend.live`: on the owner thread, with a fresh
token. What the database refuses (not an admin, the last admin, no seat left, an expired
invitation) comes back as a sentence a person can act on; the database decides, the service
only words it (docs/security.md, "Membership by consent").

An invitation's mail is Auth's: the address gets a sign-in (or, new to the server, a sign-up
confirmation) mail through Auth's `/otp` endpoint, which the local stack writes to its outbox
and hosted Supabase sends with the project's templates. The invitee accepts after signing in
with that confirmed address (`accept`). Resending is inviting again: `invite_member` revokes
the open invitation and makes a new one, with a fresh expiry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

import httpx
import structlog
from supabase_auth import SyncMemoryStorage

from app.client.errors import PermissionDenied
from app.client.live_service import LiveService
from app.client.views import Account
from app.errors import CoachdeskError
from supabase import Client, ClientOptions, create_client
from sync.client import DEFAULT_TIMEOUT
from sync.db_types import OrgRole
from sync.rows import parse_time
from sync.session import Session

log = structlog.get_logger(__name__)

T = TypeVar("T")

# As the database checks it (org_invitations.email), plus a dot in the domain: a typo such as
# "ana@example" is caught before an invitation nobody can receive exists.
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
ROLES = (OrgRole.TRAINEE, OrgRole.MANAGER, OrgRole.HR, OrgRole.ADMIN)
_AS_ROLE = {
    OrgRole.TRAINEE: "a trainee",
    OrgRole.MANAGER: "a manager",
    OrgRole.ADMIN: "an admin",
    OrgRole.HR: "HR",
}
NOT_ADMIN = "Only an admin of this org can manage its people and teams."


class Backend(Protocol):
    """What the service needs of app.client.backend.SyncedBackend."""

    @property
    def account(self) -> Account | None: ...

    def live(self, call: Callable[[Session], T]) -> T: ...


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str  # the display name, else the email address
    email: str | None
    role: OrgRole
    teams: tuple[str, ...]  # team names, sorted
    joined_at: datetime | None
    last_active: datetime | None  # their latest attempt or sign-in, whichever is later


@dataclass(frozen=True)
class PendingInvitation:
    id: str
    email: str
    role: OrgRole
    team_ids: tuple[str, ...]
    teams: tuple[str, ...]  # names of the teams that still exist
    expires_at: datetime
    invited_by: str  # a member's name, or "" when the inviter is gone
    created_at: datetime | None

    def expired(self, at: datetime) -> bool:
        return self.expires_at <= at


@dataclass(frozen=True)
class InvitationToMe:
    """An invitation the signed-in user may accept."""

    id: str
    org_id: str
    org_name: str
    role: OrgRole
    invited_by: str  # the admin's name, or ""
    expires_at: datetime

    @property
    def text(self) -> str:
        """ "Ada Admin invites you to join Acme as a manager." """
        who = f"{self.invited_by} invites you" if self.invited_by else "You are invited"
        return f"{who} to join {self.org_name} as {_AS_ROLE[self.role]}."


@dataclass(frozen=True)
class Seats:
    used: int
    allowed: int | None  # None: the plan has no seat limit

    @property
    def full(self) -> bool:
        return self.allowed is not None and self.used >= self.allowed

    @property
    def text(self) -> str:
        """ "7 of 10 seats used", "3 seats used (no limit)"."""
        if self.allowed is None:
            return f"{self.used} seat{'s' if self.used != 1 else ''} used (no limit)"
        return f"{self.used} of {self.allowed} seats used"


@dataclass(frozen=True)
class TeamView:
    id: str
    name: str
    member_ids: tuple[str, ...]


@dataclass(frozen=True)
class Overview:
    people: list[Person]
    invitations: list[PendingInvitation]
    seats: Seats
    teams: list[TeamView]


@dataclass(frozen=True)
class Invited:
    """What inviting did: the invitation, and whether its mail went out."""

    invitation_id: str
    email: str
    expires_at: datetime
    mailed: bool
    note: str  # what the admin should know ("" when all went well)


class PeopleService(LiveService):
    """An admin's view of the current org's people; every method is one server round trip
    (or a few) on the owner thread, to be called from a worker (ctx.call), never the GUI."""

    not_admin = NOT_ADMIN

    def words(self, error: BaseException) -> CoachdeskError | None:
        return refusal(error)

    # Reading -------------------------------------------------------------------------------
    def people(self) -> list[Person]:
        def read(client: Client) -> list[Person]:
            rows = client.rpc("org_people", {}).execute().data or []
            teams = _teams(client, self._org())
            return _people(rows, teams)

        return self._run(read)

    def teams(self) -> list[TeamView]:
        return self._run(lambda client: _teams(client, self._org()))

    def invitations(self) -> list[PendingInvitation]:
        """Open invitations (neither accepted nor revoked; expired ones too), newest first."""
        return self._run(lambda client: _open_invitations(client, self._org()))

    def overview(self) -> Overview:
        """Everything the People screen shows, in one trip to the owner thread."""

        def read(client: Client) -> Overview:
            org = self._org()
            teams = _teams(client, org)
            people = _people(client.rpc("org_people", {}).execute().data or [], teams)
            return Overview(people, _open_invitations(client, org), read_seats(client, org), teams)

        return self._run(read)

    def seats(self) -> Seats:
        return self._run(lambda client: read_seats(client, self._org()))

    # Invitations ---------------------------------------------------------------------------
    def invite(self, email: str, role: OrgRole | str, team_ids: Iterable[str] = ()) -> Invited:
        address = email.strip().lower()
        if not EMAIL.match(address):
            raise CoachdeskError(f"“{email.strip()}” is not an email address (name@example.com).")
        role = OrgRole(role)
        teams = sorted(set(team_ids))
        self._require_admin()

        def send(client: Client) -> Invited:
            made = client.rpc(
                "invite_member", {"email": address, "role": role.value, "team_ids": teams}
            ).execute()
            row = made.data[0]
            mailed, note = _mail(client, address)
            seats = read_seats(client, self._org())
            if mailed and seats.full:
                note = (
                    f"All {seats.allowed} seats of the plan are in use: {address} can accept "
                    "once a member is removed or the plan has more seats."
                )
            return Invited(
                str(row["invitation_id"]), address, _time(row["expires_at"]), mailed, note
            )

        return self._run(send)

    def resend(self, invitation_id: str) -> Invited:
        """A new invitation (new link, new expiry) with the same address, role and teams; the
        old one is revoked by inviting again (the database has no resend of its own)."""

        def find(client: Client) -> dict[str, Any]:
            rows = (
                client.table("org_invitations")
                .select("email, role, team_ids, accepted_at, revoked_at")
                .eq("id", invitation_id)
                .execute()
                .data
            )
            if not rows or rows[0]["accepted_at"] or rows[0]["revoked_at"]:
                raise CoachdeskError(
                    "This invitation is no longer open (accepted or revoked): refresh the list."
                )
            return rows[0]

        row = self._run(find)
        return self.invite(row["email"], row["role"], row["team_ids"] or ())

    def revoke(self, invitation_id: str) -> None:
        self._require_admin()
        self._run(
            lambda client: client.rpc(
                "revoke_invitation", {"invitation_id": invitation_id}
            ).execute()
        )

    # Members -------------------------------------------------------------------------------
    def change_role(self, user_id: str, role: OrgRole | str) -> None:
        role = OrgRole(role)
        self._require_admin()
        self._changed_one(
            lambda client: (
                client.table("org_members")
                .update({"role": role.value})
                .eq("org_id", self._org())
                .eq("user_id", user_id)
                .execute()
                .data
            )
        )

    def remove(self, user_id: str) -> None:
        """Ends their membership: the seat is free, their teams and assignments go with it;
        their attempts stay the org's (reviews, reports, exports)."""
        self._require_admin()
        self._changed_one(
            lambda client: (
                client.table("org_members")
                .delete()
                .eq("org_id", self._org())
                .eq("user_id", user_id)
                .execute()
                .data
            )
        )

    # Teams ---------------------------------------------------------------------------------
    def create_team(self, name: str) -> str:
        name = _team_name(name)
        self._require_admin()
        rows = self._run(
            lambda client: (
                client.table("teams").insert({"org_id": self._org(), "name": name}).execute().data
            )
        )
        return str(rows[0]["id"])

    def rename_team(self, team_id: str, name: str) -> None:
        name = _team_name(name)
        self._require_admin()
        self._changed_one(
            lambda client: (
                client.table("teams")
                .update({"name": name})
                .eq("org_id", self._org())
                .eq("id", team_id)
                .execute()
                .data
            )
        )

    def delete_team(self, team_id: str) -> None:
        """The team and its memberships; its members stay in the org."""
        self._require_admin()
        self._changed_one(
            lambda client: (
                client.table("teams")
                .delete()
                .eq("org_id", self._org())
                .eq("id", team_id)
                .execute()
                .data
            )
        )

    def add_to_team(self, team_id: str, user_id: str) -> None:
        self._require_admin()
        self._run(
            lambda client: (
                client.table("team_members")
                .insert({"org_id": self._org(), "team_id": team_id, "user_id": user_id})
                .execute()
            )
        )

    def remove_from_team(self, team_id: str, user_id: str) -> None:
        self._require_admin()
        self._changed_one(
            lambda client: (
                client.table("team_members")
                .delete()
                .eq("org_id", self._org())
                .eq("team_id", team_id)
                .eq("user_id", user_id)
                .execute()
                .data
            )
        )

    # The invitee ---------------------------------------------------------------------------
    def my_invitations(self) -> list[InvitationToMe]:
        """Open, unexpired invitations to the signed-in user's confirmed address (any org)."""

        def read(client: Client) -> list[InvitationToMe]:
            rows = client.rpc("my_invitations", {}).execute().data or []
            return [
                InvitationToMe(
                    id=str(r["invitation_id"]),
                    org_id=str(r["org_id"]),
                    org_name=str(r["org_name"]),
                    role=OrgRole(r["role"]),
                    invited_by=str(r["invited_by_name"] or ""),
                    expires_at=_time(r["expires_at"]),
                )
                for r in rows
            ]

        return self._run(read)

    def accept(self, invitation_id: str) -> str:
        """Join the invitation's org; returns its id. The current org stays as it is."""
        return str(
            self._run(
                lambda client: (
                    client.rpc("accept_invitation", {"invitation_id": invitation_id}).execute().data
                )
            )
        )


# Words for the database's refusals ----------------------------------------------------------
def refusal(error: BaseException) -> CoachdeskError | None:
    """The sentence for a refusal of the People screen's calls; None: not one of ours."""
    code = getattr(error, "code", None)
    message = str(getattr(error, "message", "") or "")
    if not isinstance(code, str):
        return None
    if code == "CD409":
        return CoachdeskError(
            "An org needs at least one admin, and this is its last: make another member an "
            "admin first."
        )
    if code == "CD402":
        return CoachdeskError(_seats_sentence(getattr(error, "details", None)))
    if code == "42501":
        if "in your org" in message:  # revoke_invitation: accepted, revoked or not the org's
            return CoachdeskError(
                "This invitation is no longer open (accepted or revoked): refresh the list."
            )
        if "invitation" in message:
            return PermissionDenied(
                "There is no open invitation for your confirmed email address with this link. "
                "Check that you signed in with the invited address."
            )
        return PermissionDenied(NOT_ADMIN)
    if code == "22023":  # invalid_parameter_value: the invitation's state
        if "expired" in message:
            return CoachdeskError(
                "This invitation has expired. Ask an admin of the org to invite you again."
            )
        if "revoked" in message:
            return CoachdeskError("This invitation was revoked by an admin of the org.")
        if "accepted" in message:
            return CoachdeskError("This invitation has already been accepted.")
        return None
    if code == "23505":
        if "you are already a member" in message:  # accept_invitation
            return CoachdeskError(
                "You are already a member of this org: choose it in the org list."
            )
        if "already a member" in message or "team_members" in message:
            return CoachdeskError("They are already a member.")
        if "teams" in message:
            return CoachdeskError("A team with that name already exists; choose another name.")
        return CoachdeskError("That already exists.")
    if code == "23503":
        return CoachdeskError(
            "A team or person chosen is no longer in the org: refresh the list and try again."
        )
    return None


def _seats_sentence(details: object) -> str:
    try:
        limit = json.loads(str(details))["limit"]
    except (ValueError, KeyError, TypeError):
        limit = None
    seats = f"All {limit} seats" if limit is not None else "Every seat"
    return (
        f"{seats} of the org's plan are in use: an admin can remove a member or upgrade the "
        "plan to add more people."
    )


# Rows to views ------------------------------------------------------------------------------
def _mail(client: Client, email: str) -> tuple[bool, str]:
    """Auth mails the address a sign-in link (a sign-up confirmation if the address is new).

    A client of its own, without a session: the admin's must not carry the invitee's sign-in,
    and the link must work on the invitee's computer, so no PKCE (its verifier would stay on
    the admin's). The invitation stands even if the mail cannot go out now: resend it later."""
    http = httpx.Client(timeout=DEFAULT_TIMEOUT)
    options = ClientOptions(
        flow_type="implicit",
        storage=SyncMemoryStorage(),
        auto_refresh_token=False,
        persist_session=False,
        httpx_client=http,
    )
    mailer = create_client(str(client.supabase_url).rstrip("/"), client.supabase_key, options)
    try:
        mailer.auth.sign_in_with_otp({"email": email, "options": {"should_create_user": True}})
    except Exception as error:  # Auth's refusal (a rate limit) or the network
        log.warning("invitation mail not sent", error_type=type(error).__name__)
        return False, (
            "The invitation was made, but its mail could not be sent now (the server's mail "
            "service refused or is busy): use Send again in a minute."
        )
    finally:
        http.close()
    return True, ""


def _teams(client: Client, org: str) -> list[TeamView]:
    teams = client.table("teams").select("id, name").eq("org_id", org).order("name").execute().data
    links = client.table("team_members").select("team_id, user_id").eq("org_id", org).execute()
    members: dict[str, list[str]] = {}
    for link in links.data:
        members.setdefault(str(link["team_id"]), []).append(str(link["user_id"]))
    return [
        TeamView(str(t["id"]), str(t["name"]), tuple(sorted(members.get(str(t["id"]), ()))))
        for t in teams
    ]


def _open_invitations(client: Client, org: str) -> list[PendingInvitation]:
    rows = (
        client.table("org_invitations")
        .select("id, email, role, team_ids, expires_at, invited_by, created_at")
        .eq("org_id", org)
        .is_("accepted_at", "null")
        .is_("revoked_at", "null")
        .order("created_at", desc=True)
        .execute()
        .data
    )
    names = _names(client, org)
    teams = {t.id: t.name for t in _teams(client, org)}
    return [_invitation(r, names, teams) for r in rows]


def read_seats(client: Client, org: str) -> Seats:
    """The org's members against its plan's seat limit (the People and Organisation tabs)."""
    found = client.table("orgs").select("entitlements").eq("id", org).execute().data
    entitlements = (found[0]["entitlements"] if found else None) or {}
    members = (
        client.table("org_members")
        .select("id", count="exact")  # type: ignore[arg-type]
        .eq("org_id", org)
        .execute()
    )
    limit = entitlements.get("seats")
    used = members.count if members.count is not None else len(members.data)
    return Seats(int(used), None if limit is None else int(limit))


def _names(client: Client, org: str) -> dict[str, str]:
    rows = client.table("org_members").select("user_id, display_name").eq("org_id", org).execute()
    return {str(r["user_id"]): str(r["display_name"]) for r in rows.data}


def _people(rows: Sequence[Mapping[str, Any]], teams: Sequence[TeamView]) -> list[Person]:
    team_names: dict[str, list[str]] = {}
    for team in teams:
        for user_id in team.member_ids:
            team_names.setdefault(user_id, []).append(team.name)
    people = []
    for row in rows:
        user_id = str(row["user_id"])
        email = row.get("email") or None
        seen = (_maybe_time(row.get("last_attempt_at")), _maybe_time(row.get("last_sign_in_at")))
        moments = [t for t in seen if t is not None]
        people.append(
            Person(
                user_id=user_id,
                name=str(row.get("display_name") or "") or email or "(no name)",
                email=email,
                role=OrgRole(row["role"]),
                teams=tuple(sorted(team_names.get(user_id, ()), key=str.casefold)),
                joined_at=_maybe_time(row.get("joined_at")),
                last_active=max(moments) if moments else None,
            )
        )
    return sorted(people, key=lambda p: (p.name.casefold(), p.user_id))


def _invitation(
    row: Mapping[str, Any], names: Mapping[str, str], teams: Mapping[str, str]
) -> PendingInvitation:
    team_ids = tuple(str(t) for t in row.get("team_ids") or ())
    return PendingInvitation(
        id=str(row["id"]),
        email=str(row["email"]),
        role=OrgRole(row["role"]),
        team_ids=team_ids,
        teams=tuple(sorted((teams[t] for t in team_ids if t in teams), key=str.casefold)),
        expires_at=_time(row["expires_at"]),
        invited_by=names.get(str(row.get("invited_by")), ""),
        created_at=_maybe_time(row.get("created_at")),
    )


def _team_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 200:
        raise CoachdeskError("A team needs a name of 1 to 200 characters.")
    return name


def _maybe_time(value: object) -> datetime | None:
    return parse_time(value) if value else None


def _time(value: object) -> datetime:
    moment = parse_time(value)
    if moment is None:
        raise CoachdeskError("The server answered without a time; try again.")
    return moment
