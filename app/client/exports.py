"""CSV exports for managers, admins and HR: asked for through `export_requests`, written by the
export job into the `exports` bucket, fetched here through a signed URL.

Live only (the requests and files are on the server alone): every call goes through
`Backend.live`, so it runs on the owner thread with a fresh token. The database decides who may
ask and read (supabase/migrations/20261125001300_billing_and_entitlements.sql: the org's
managers, admins and hr; the row's requester is stamped by the server). Who fulfils a request is
the export job (server/exports/job.py) on the worker beside the stack: `coachdesk run` and
`coachdesk stack` start it, and a hosted project runs `coachdesk worker` with the service key.
The kinds a member asks for are attempts and leaderboard (managers, admins, hr) and
assignments (admins and hr); the weekly zip is queued by the server's schedule alone and listed
with the rest. The audit log has an export of its own (`AuditService.export_csv`,
app/client/audit.py), made at once rather than queued.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from app.client.errors import PermissionDenied
from app.client.formatting import local_time
from app.client.live_service import LiveService
from app.client.saving import save_as
from app.client.views import REPORTER_ROLES, Account, Backend
from app.errors import CoachdeskError
from sync.db_types import ExportRequests, OrgRole

# The database's check (export_requests_range): to_date - from_date <= 366.
MAX_RANGE_DAYS = 366
# The signed URL is used at once; a short life is enough and leaks little if logged.
SIGNED_URL_TTL_S = 120
# How `wait` polls: the worker looks at the queue every few seconds, so start soon, back off.
FIRST_POLL_S = 0.25
MAX_POLL_S = 2.0
WAIT_TIMEOUT_S = 120.0
RECENT_ROWS = 20
NOT_A_REPORTER = "Only managers, admins and HR of this org can export its data."
NOT_FOR_MANAGERS = "Only admins and HR of this org can export everyone's assignments."


class ExportKind(StrEnum):
    """What export_requests.kind allows (its check constraint)."""

    ATTEMPTS = "attempts"
    LEADERBOARD = "leaderboard"
    ASSIGNMENTS = "assignments"
    WEEKLY = "weekly"  # the scheduled zip: nobody asks for it


KIND_NAMES = {
    ExportKind.ATTEMPTS: "Attempts",
    ExportKind.LEADERBOARD: "Leaderboard",
    ExportKind.ASSIGNMENTS: "Assignments",
    ExportKind.WEEKLY: "Weekly report (zip)",
}
# Who may ask for each kind (the insert policy of export_requests says the same).
_ASKERS = {
    ExportKind.ATTEMPTS: REPORTER_ROLES,
    ExportKind.LEADERBOARD: REPORTER_ROLES,
    ExportKind.ASSIGNMENTS: frozenset({OrgRole.ADMIN, OrgRole.HR}),
}


# Who may open each kind's file (the exports bucket's select policy: 20261205000900).
_READERS = {**_ASKERS, ExportKind.WEEKLY: _ASKERS[ExportKind.ASSIGNMENTS]}


def requestable_kinds(account: Account | None) -> list[ExportKind]:
    """The kinds this account may ask for, in the order a menu offers them."""
    if account is None:
        return []
    return [kind for kind, roles in _ASKERS.items() if account.role in roles]


class ExportStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


STATUS_NAMES = {
    ExportStatus.PENDING: "Waiting",
    ExportStatus.RUNNING: "Being written",
    ExportStatus.DONE: "Ready",
    ExportStatus.FAILED: "Failed",
}


@dataclass(frozen=True)
class ExportParams:
    """UTC days `first`..`last`, both included (the export functions' range)."""

    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise CoachdeskError("The start date is after the end date; choose an earlier start.")
        if (self.last - self.first).days > MAX_RANGE_DAYS:
            raise CoachdeskError(
                f"An export covers at most {MAX_RANGE_DAYS} days; choose a shorter range."
            )


@dataclass(frozen=True)
class ExportRequest:
    """One request as the screen shows it."""

    id: str
    kind: ExportKind
    first: date
    last: date
    status: ExportStatus
    rows: int | None
    error: str | None
    object_name: str | None
    created_at: datetime
    completed_at: datetime | None

    @property
    def finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED)

    @property
    def kind_name(self) -> str:
        return KIND_NAMES.get(self.kind, str(self.kind))

    @property
    def status_name(self) -> str:
        name = STATUS_NAMES[self.status]
        if self.status is ExportStatus.DONE and self.rows is not None:
            return f"{name} · {self.rows} row(s)"
        if self.status is ExportStatus.FAILED and self.error:
            return f"{name}: {self.error}"
        return name

    @property
    def when(self) -> str:
        return local_time(self.created_at)

    @property
    def file_name(self) -> str:
        """A name to suggest when saving: coachdesk-attempts-2026-03-01_2026-03-31.csv."""
        return f"coachdesk-{self.kind}-{self.first}_{self.last}.{self.extension}"

    @property
    def extension(self) -> str:
        return "zip" if self.kind is ExportKind.WEEKLY else "csv"


@dataclass(frozen=True)
class ExportFile:
    path: Path
    rows: int | None  # the server's count (the header not counted)


# `progress(fraction, text)`: fraction is -1 while unknown (as the sync's progress).
Progress = Callable[[float, str], None]


class ExportsService(LiveService):
    """What the exports panel calls (blocking: from a worker thread, never the GUI's)."""

    def __init__(self, backend: Backend, *, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(backend)
        self._sleep = sleep

    def words(self, error: BaseException) -> CoachdeskError | None:
        return words_for(error)

    def request(self, kind: ExportKind | str, params: ExportParams) -> str:
        """Ask for one CSV; returns the request's id (the job picks it up within seconds)."""
        org = self._reporter_org()
        chosen = ExportKind(kind)
        if chosen not in requestable_kinds(self._backend.account):
            raise PermissionDenied(
                NOT_FOR_MANAGERS
                if chosen is ExportKind.ASSIGNMENTS
                else "The weekly report is made by the server every Monday; nobody asks for it."
            )
        row = {
            "org_id": org,
            "kind": str(chosen),
            "from_date": params.first.isoformat(),
            "to_date": params.last.isoformat(),
        }
        [created] = self._run(lambda c: c.table("export_requests").insert(row).execute().data)
        return str(created["id"])

    def status(self, request_id: str) -> ExportRequest:
        rows = self._run(
            lambda c: c.table("export_requests").select("*").eq("id", request_id).execute().data
        )
        if not rows:
            raise CoachdeskError("This export is not there any more, or your role cannot see it.")
        return _request(rows[0])

    def recent(self, limit: int = RECENT_ROWS) -> list[ExportRequest]:
        """The org's latest requests, newest first (everyone's: the exports are the org's),
        of the kinds this role may open (a manager's list has no assignments or weekly files)."""
        self._reporter_org()
        role = self._backend.account.role if self._backend.account else None
        rows = self._run(
            lambda c: (
                c.table("export_requests")
                .select("*")
                .order("created_at", desc=True)
                .order("id", desc=True)
                .limit(limit)
                .execute()
                .data
            )
        )
        return [r for r in map(_request, rows) if role in _READERS[r.kind]]

    def wait(
        self,
        request_id: str,
        progress: Progress | None = None,
        *,
        timeout_s: float = WAIT_TIMEOUT_S,
    ) -> ExportRequest:
        """Until the request is done (returned) or failed (CoachdeskError with the job's
        reason), polling with backoff; CoachdeskError after `timeout_s` too."""
        deadline = time.monotonic() + timeout_s
        pause = FIRST_POLL_S
        while True:
            current = self.status(request_id)
            if progress is not None:
                progress(-1.0, f"Export: {current.status_name}")
            if current.status is ExportStatus.DONE:
                return current
            if current.status is ExportStatus.FAILED:
                raise CoachdeskError(
                    f"The export failed on the server: {current.error or 'no reason given'}."
                )
            if time.monotonic() + pause > deadline:
                raise CoachdeskError(
                    f"The export is still {current.status.value} after {timeout_s:.0f} s: the "
                    "server's export worker may not be running. It is kept; look again later."
                )
            self._sleep(pause)
            pause = min(pause * 2, MAX_POLL_S)

    def download(self, request_id: str, path: Path) -> ExportFile:
        """The finished export's file (a CSV, or the weekly zip) saved at `path`: complete, or
        not at all."""
        current = self.status(request_id)
        if current.status is not ExportStatus.DONE or not current.object_name:
            raise CoachdeskError(f"This export is not ready ({current.status_name}).")
        signed = {"path": f"exports/{current.object_name}", "ttl": SIGNED_URL_TTL_S}
        url = self._run(lambda c: c.rpc("grant_signed_url", signed).execute().data)
        content = self._backend.live(lambda session: session.download(str(url)))
        return ExportFile(save_as(path, content, "the export"), current.rows)

    def export(
        self,
        kind: ExportKind | str,
        params: ExportParams,
        path: Path,
        progress: Progress | None = None,
    ) -> ExportFile:
        """Request, wait and download in one: what a script or the command line wants."""
        request_id = self.request(kind, params)
        self.wait(request_id, progress)
        return self.download(request_id, path)

    # Plumbing ------------------------------------------------------------------------------
    def _reporter_org(self) -> str:
        """Saves a round trip for a role that the database refuses anyway."""
        org = self._org()
        account = self._backend.account
        if account is None or account.role not in REPORTER_ROLES:
            raise PermissionDenied(NOT_A_REPORTER)
        return org


def words_for(error: BaseException) -> CoachdeskError | None:
    """The sentence for the database's refusals of an export; None: not one of ours."""
    code = getattr(error, "code", None)
    if code == "42501":
        return PermissionDenied(NOT_A_REPORTER)
    if code == "23514":
        return CoachdeskError(
            f"The server refused this range or kind: an export covers at most {MAX_RANGE_DAYS} "
            "days, and the end may not be before the start."
        )
    return None


def _request(raw: dict[str, Any]) -> ExportRequest:
    row = ExportRequests.model_validate(raw)
    return ExportRequest(
        id=str(row.id),
        kind=ExportKind(row.kind),
        first=row.from_date,
        last=row.to_date,
        status=ExportStatus(row.status),
        rows=row.row_count,
        error=row.error,
        object_name=row.object_name,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )
