"""The org's audit log for admins and HR: events page by page, in words, and as a CSV file.

Live only (the log is on the server alone, never in the cache): every read goes through
`Backend.live`, so it runs on the owner thread with a fresh token and its refusals arrive as
sentences. The database decides who reads (supabase/migrations/20261204000100_org_audit_log.sql):
an admin's or HR's select sees the current org's events, anyone else's sees none, and the CSV
export refuses anyone else outright. What each action means in words is decided here, so every
screen and the tests read the same labels.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.client.formatting import local_time
from app.client.saving import save_as
from app.client.views import Account, Backend
from app.errors import CoachdeskError
from sync.db_types import AuditAction, AuditEvents, OrgRole
from sync.session import Session

AUDIT_READERS = frozenset({OrgRole.ADMIN, OrgRole.HR})
# A page the screen shows at once: enough to scroll a day of an active org, small enough that
# its JSON parses in a blink (the GUI thread waits for the interpreter lock meanwhile).
PAGE_ROWS = 200
# `AuditQuery.actor` for events no person did (the service role, a job).
NO_ACTOR = "system"
SYSTEM = "System"
FORMER_MEMBER = "(former member)"

ROLE_NAMES = {
    OrgRole.TRAINEE: "Trainee",
    OrgRole.MANAGER: "Manager",
    OrgRole.ADMIN: "Admin",
    OrgRole.HR: "HR",
}
ACTION_NAMES = {
    AuditAction.MEMBER_ADDED: "Member added",
    AuditAction.MEMBER_INVITED: "Member invited",
    AuditAction.INVITATION_ACCEPTED: "Invitation accepted",
    AuditAction.INVITATION_REVOKED: "Invitation revoked",
    AuditAction.MEMBER_ROLE_CHANGED: "Role changed",
    AuditAction.MEMBER_REMOVED: "Member removed",
    AuditAction.TEAM_CREATED: "Team created",
    AuditAction.TEAM_RENAMED: "Team renamed",
    AuditAction.TEAM_DELETED: "Team deleted",
    AuditAction.TEAM_MEMBER_ADDED: "Added to a team",
    AuditAction.TEAM_MEMBER_REMOVED: "Removed from a team",
    AuditAction.WEBHOOK_CREATED: "Webhook created",
    AuditAction.WEBHOOK_UPDATED: "Webhook changed",
    AuditAction.WEBHOOK_DELETED: "Webhook deleted",
    AuditAction.WEBHOOK_SECRET_ROTATED: "Webhook secret rotated",
    AuditAction.SCENARIO_PUBLISHED: "Scenario published",
    AuditAction.SCENARIO_ARCHIVED: "Scenario archived",
    AuditAction.TRACK_PUBLISHED: "Track published",
    AuditAction.TRACK_ARCHIVED: "Track archived",
    AuditAction.TRACK_SCENARIOS_CHANGED: "Track's scenarios changed",
    AuditAction.RECORDING_REMOVED: "Recording removed",
    AuditAction.TRANSCRIPT_REMOVED: "Transcript removed",
}


def _actions(prefixes: Sequence[str]) -> frozenset[AuditAction]:
    return frozenset(a for a in AuditAction if a.value.split(".")[0] in prefixes)


# What the action filter offers: every action, the groups an admin asks about, then each one.
ACTION_FILTERS: tuple[tuple[str, frozenset[AuditAction]], ...] = (
    ("All actions", frozenset()),
    ("Members and invitations", _actions(("member", "invitation"))),
    ("Teams", _actions(("team",))),
    ("Webhooks", _actions(("webhook",))),
    ("Content published or archived", _actions(("scenario", "track"))),
    ("Evidence removed", _actions(("recording", "transcript"))),
    *((name, frozenset({action})) for action, name in ACTION_NAMES.items()),
)


def can_read_audit_log(account: Account | None) -> bool:
    """Admins and HR get the screen (the database shows anyone else nothing)."""
    return account is not None and account.role in AUDIT_READERS


def role_name(role: OrgRole | str | None) -> str:
    if not role:
        return "–"
    try:
        return ROLE_NAMES[OrgRole(role)]
    except ValueError:  # a role newer than this app
        return str(role)


@dataclass(frozen=True)
class AuditEvent:
    """One event as the screen shows it; `details` is the server's, for a closer look."""

    id: int
    occurred_at: datetime
    action: AuditAction
    actor_id: str | None
    actor_name: str  # SYSTEM without a person, FORMER_MEMBER for someone no longer in the org
    actor_role: OrgRole | None  # their role when they acted
    acting_as: str  # the API role of the request (authenticated, service_role) or a job's
    target_table: str
    target_id: str
    what: str  # "Role changed: Trainee → Manager"
    detail: str  # what it was done to: "Ana Trainee", "https://hooks.example/…"
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return role_name(self.actor_role)

    @property
    def when(self) -> str:
        return local_time(self.occurred_at)


@dataclass(frozen=True)
class PageMark:
    """Where a page ended: the next one starts after this event (newest first)."""

    occurred_at: datetime
    id: int


@dataclass(frozen=True)
class AuditQuery:
    """Which events: in [since, until) (each open when None), of `actions` (all when empty), by
    `actor` (a user id, NO_ACTOR for events nobody did, None for anyone)."""

    since: datetime | None = None
    until: datetime | None = None
    actions: frozenset[AuditAction] = frozenset()
    actor: str | None = None
    page_rows: int = PAGE_ROWS

    def __post_init__(self) -> None:
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise ValueError("audit query times must be timezone-aware")
        if self.since is not None and self.until is not None and self.since > self.until:
            raise CoachdeskError("The start date is after the end date; choose an earlier start.")
        if self.page_rows < 1:
            raise ValueError("page_rows must be positive")


@dataclass(frozen=True)
class AuditPage:
    events: tuple[AuditEvent, ...]
    next: PageMark | None  # None: this was the last page

    @property
    def more(self) -> bool:
        return self.next is not None


@dataclass(frozen=True)
class AuditExport:
    path: Path
    rows: int  # events in the file (the header not counted)


class AuditService:
    """What the audit log screen calls (blocking: from a worker thread, never the GUI's)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    def actor_choices(self) -> list[tuple[str, str | None]]:
        """(label, AuditQuery.actor) for the actor filter: anyone, nobody, each member."""
        members = sorted(self._backend.members(), key=lambda m: m.display_name.casefold())
        return [
            ("Anyone", None),
            (f"{SYSTEM} (no person)", NO_ACTOR),
            *((m.display_name, m.user_id) for m in members),
        ]

    def events(self, query: AuditQuery, after: PageMark | None = None) -> AuditPage:
        """One page of the events `query` selects, newest first, from after `after` on."""
        names = {m.user_id: m.display_name for m in self._backend.members()}
        rows = self._backend.live(lambda session: _select(session, query, after))
        events = [_event(AuditEvents.model_validate(row), names) for row in rows]
        if len(events) <= query.page_rows:
            return AuditPage(tuple(events), None)
        shown = events[: query.page_rows]
        return AuditPage(tuple(shown), PageMark(shown[-1].occurred_at, shown[-1].id))

    def export_csv(self, query: AuditQuery, path: Path) -> AuditExport:
        """Every event `query` selects (not only the pages shown), oldest first, as the server
        writes them (`audit_log_csv`), saved at `path`: complete, or not at all."""
        params = {
            "since": _iso(query.since),
            "until": _iso(query.until),
            "actions": sorted(query.actions) or None,
        }
        text = self._backend.live(lambda session: session.rpc("audit_log_csv", params))
        if not isinstance(text, str) or not text.strip():
            raise CoachdeskError("The server sent no audit log to save; no file was written.")
        header, rows = _parse_csv(text)
        if query.actor is not None:
            # The export function has no actor filter: the rows are chosen here, and written
            # back with the same quoting (the csv module's minimal quoting, as the server's).
            column = header.index("actor_id")
            wanted = "" if query.actor == NO_ACTOR else query.actor
            rows = [row for row in rows if row[column] == wanted]
            text = _csv_text(header, rows)
        save_as(Path(path), text.encode("utf-8"), "the audit log", "export")
        return AuditExport(Path(path), len(rows))


# Reading -------------------------------------------------------------------------------------
def _iso(moment: datetime | None) -> str | None:
    # UTC with "Z": no "+" in a URL, where it would read as a space.
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z") if moment else None


def _select(session: Session, query: AuditQuery, after: PageMark | None) -> list[dict[str, Any]]:
    request = session.client.table("audit_events").select("*")
    if query.since is not None:
        request = request.gte("occurred_at", _iso(query.since))
    if query.until is not None:
        request = request.lt("occurred_at", _iso(query.until))
    if query.actions:
        request = request.in_("action", sorted(query.actions))
    if query.actor == NO_ACTOR:
        request = request.is_("actor_id", "null")
    elif query.actor is not None:
        request = request.eq("actor_id", query.actor)
    if after is not None:
        # Keyset paging on the index's order (occurred_at desc, id desc): events written while
        # someone reads never shift a page, as an offset would.
        at = _iso(after.occurred_at)
        request = request.or_(f"occurred_at.lt.{at},and(occurred_at.eq.{at},id.lt.{after.id})")
    request = request.order("occurred_at", desc=True).order("id", desc=True)
    # Backend.live classifies what the supabase client raises here.
    return list(request.limit(query.page_rows + 1).execute().data)


def _event(row: AuditEvents, names: Mapping[str, str]) -> AuditEvent:
    details = row.details if isinstance(row.details, Mapping) else {}
    actor_id = str(row.actor_id) if row.actor_id else None
    what, detail = describe(row.action, details, names)
    return AuditEvent(
        id=row.id,
        occurred_at=row.occurred_at,
        action=row.action,
        actor_id=actor_id,
        actor_name=SYSTEM if actor_id is None else names.get(actor_id, FORMER_MEMBER),
        actor_role=row.actor_role,
        acting_as=row.acting_as,
        target_table=row.target_table,
        target_id=str(row.target_id),
        what=what,
        detail=detail,
        details=details,
    )


# In words --------------------------------------------------------------------------------------
def describe(
    action: AuditAction, details: Mapping[str, Any], names: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """(what happened, what it was done to) for one event, from its details."""
    facts = _Facts(details, names or {})
    name = ACTION_NAMES[action]
    describer = _DESCRIBERS.get(action.value.split(".")[0])
    return describer(action, name, facts) if describer else (name, "")


@dataclass(frozen=True)
class _Facts:
    details: Mapping[str, Any]
    names: Mapping[str, str]

    def text(self, key: str) -> str:
        value = self.details.get(key)
        return "" if value is None else str(value)

    def change(self, key: str) -> tuple[Any, Any]:
        before, after = self.details.get("before"), self.details.get("after")
        return (
            before.get(key) if isinstance(before, Mapping) else None,
            after.get(key) if isinstance(after, Mapping) else None,
        )

    def person(self) -> str:
        """The member the event is about: the name it recorded, else today's, else the id."""
        user_id = self.text("user_id")
        return self.text("display_name") or self.names.get(user_id) or user_id or "(someone)"


def _members(action: AuditAction, name: str, facts: _Facts) -> tuple[str, str]:
    role = role_name(facts.text("role") or None)
    if action is AuditAction.MEMBER_ROLE_CHANGED:
        before, after = facts.change("role")
        return f"{name}: {role_name(before)} → {role_name(after)}", facts.person()
    if action in (AuditAction.MEMBER_ADDED, AuditAction.MEMBER_REMOVED):
        return name, f"{facts.person()} ({role})"
    if action is AuditAction.INVITATION_REVOKED:
        return name, facts.text("email")
    teams = facts.details.get("team_ids") or []
    joined = f", {len(teams)} team(s)" if isinstance(teams, list) and teams else ""
    return name, f"{facts.text('email')} as {role}{joined}"


def _teams(action: AuditAction, name: str, facts: _Facts) -> tuple[str, str]:
    if action is AuditAction.TEAM_RENAMED:
        before, after = facts.change("name")
        return name, f"{before} → {after}"
    if action in (AuditAction.TEAM_MEMBER_ADDED, AuditAction.TEAM_MEMBER_REMOVED):
        return name, f"{facts.person()} · team {facts.text('team_name')}"
    return name, facts.text("name")


def _webhooks(action: AuditAction, name: str, facts: _Facts) -> tuple[str, str]:
    url = facts.text("url")
    if action is AuditAction.WEBHOOK_SECRET_ROTATED:
        until = facts.text("previous_secret_expires_at")
        if until:
            until = local_time(datetime.fromisoformat(until))
            return name, f"{url}; the previous secret signs until {until}"
        return name, url
    if action is AuditAction.WEBHOOK_UPDATED:
        after = facts.details.get("after")
        changed = [
            f"{key}: {_value(facts.change(key)[0])} → {_value(facts.change(key)[1])}"
            for key in (after if isinstance(after, Mapping) else {})
        ]
        return name, "; ".join([url, *changed])
    return name, url


def _content(action: AuditAction, name: str, facts: _Facts) -> tuple[str, str]:
    if action is AuditAction.TRACK_SCENARIOS_CHANGED:
        before, after = (list(ids or ()) for ids in facts.change("scenario_ids"))
        if sorted(before) == sorted(after):
            return name, f"{facts.text('title')}: reordered"
        return name, f"{facts.text('title')}: {len(before)} → {len(after)} scenarios"
    return name, facts.text("title")


def _evidence(action: AuditAction, name: str, facts: _Facts) -> tuple[str, str]:
    file_name = facts.text("name").rsplit("/", 1)[-1]
    return name, f"{facts.person()} · {file_name}" if file_name else facts.person()


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value in (None, "") else str(value)


_DESCRIBERS: dict[str, Callable[[AuditAction, str, _Facts], tuple[str, str]]] = {
    "member": _members,
    "invitation": _members,
    "team": _teams,
    "webhook": _webhooks,
    "scenario": _content,
    "track": _content,
    "recording": _evidence,
    "transcript": _evidence,
}


# The file --------------------------------------------------------------------------------------
def _parse_csv(text: str) -> tuple[list[str], list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows:
        raise CoachdeskError("The server sent no audit log to save; no file was written.")
    return rows[0], rows[1:]


def _csv_text(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()
