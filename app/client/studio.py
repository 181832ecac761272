"""The admin studio's library: the org's scenarios with their status, and what an admin does to
them as a whole — import and export `.coachdesk-scenario` files, duplicate, publish, archive,
start a new version, delete a draft. No Qt.

The list comes from the admin's cache (an admin's pull holds drafts too); every change goes to the
server at once through `Backend.live` (the owner thread, a fresh token) and is refused there if
the role or the plan does not allow it (RLS, the CD402 active-scenario limit), then the next sync
brings the change back to the cache. Published versions never change (the database refuses it):
`new_version` starts a draft to edit, `save_draft` saves it against the revision it was opened
at, `publish` puts it live and archives the version before it. Drafts kept offline and the
branching editor are still to come (issue 19).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import structlog

from app.client.errors import PermissionDenied
from app.client.views import Backend, Scenario
from app.errors import CoachdeskError
from app.scenario_package import (
    AVATAR_FOLDER,
    Attachment,
    PackageError,
    ScenarioPackage,
    avatar_type,
    plain_attachment_name,
    plain_json,
    read_package,
    type_of,
    write_package,
)
from app.scenarios import ScenarioError
from sync.client import RejectedError, SyncError

log = structlog.get_logger(__name__)

BUCKET = "scenario-assets"
# What the database says when the plan's active-scenario limit is reached (migration
# 20261125001300_billing_and_entitlements.sql).
_PAYMENT_REQUIRED = "CD402"
# What it says when a published track would list a scenario that is not published
# (20261205000410_track_order.sql).
CONFLICT = "CD409"


class Status(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


@dataclass(frozen=True)
class LibraryItem:
    scenario: Scenario
    attempts: int
    edited_by: str = ""  # who changed it last, by name ("" when nobody known)

    @property
    def status(self) -> Status:
        return Status(self.scenario.status)

    @property
    def deletable(self) -> bool:
        """Only a draft no attempt used may go (attempts keep their scenario for reports)."""
        return self.status is Status.DRAFT and self.attempts == 0


class StudioError(CoachdeskError):
    """The studio could not do this; the message says why and what to do."""


class StudioService:
    """What the library screen calls; each method blocks (call it off the GUI thread)."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend

    # The library ---------------------------------------------------------------------------
    def library(self, search: str = "", status: Status | None = None) -> list[LibraryItem]:
        """The org's scenarios, drafts first, then by title; `search` matches title and
        description, case-insensitively."""
        self._require_admin()
        counts = self._backend.attempts_per_scenario()
        names = editor_names(self._backend)
        items = [
            LibraryItem(
                scenario, counts.get(scenario.id, 0), names.get(scenario.updated_by or "", "")
            )
            for scenario in self._backend.scenarios()
            if (status is None or scenario.status == status)
            and matches(search, scenario.title, scenario.description)
        ]
        order = {Status.DRAFT: 0, Status.PUBLISHED: 1, Status.ARCHIVED: 2}
        return sorted(items, key=lambda i: (order[i.status], i.scenario.title.casefold()))

    # Files ---------------------------------------------------------------------------------
    def import_file(self, path: Path) -> str:
        """A new draft of the org from a `.coachdesk-scenario` file, with its attachments;
        returns its id. The file is checked whole first (PackageError says what is wrong)."""
        account = self._require_admin()
        try:
            package = read_package(path)
        except PackageError as error:
            raise StudioError(str(error)) from error
        scenario = replace(package.scenario, org_id=account.org_id, status=Status.DRAFT)
        self._live(lambda s: s.client.table("scenarios").insert(_row(scenario)).execute())
        files = [(a.name, a) for a in package.attachments]
        if package.avatar is not None:
            files.append((AVATAR_FOLDER + package.avatar.name, package.avatar))
        try:
            for name, attachment in files:
                self._live(lambda s, n=name, a=attachment: _upload(s, _asset_path(scenario, n), a))
        except CoachdeskError:
            # No draft without the briefing it came with: take it back, then say why.
            with contextlib.suppress(CoachdeskError):
                self._live(lambda s: _delete_scenario(s, scenario.id))
            raise
        log.info("scenario imported", scenario_id=scenario.id, attachments=len(package.attachments))
        self._backend.sync_soon()
        return scenario.id

    def export_file(self, scenario_id: str, path: Path) -> Path:
        """The scenario and its attachments as one `.coachdesk-scenario` file at `path`."""
        self._require_admin()
        scenario = self._backend.scenario(scenario_id)
        attachments = self._live(lambda s: _download_all(s, scenario))
        avatar = self._live(lambda s: _download_avatar(s, scenario))
        if avatar is None and "avatar" in scenario.persona:
            # Its picture is not on the server (a version made before it was chosen): the
            # file says nothing of a picture it cannot carry.
            persona = {k: v for k, v in scenario.persona.items() if k != "avatar"}
            scenario = replace(scenario, persona=persona)
        try:
            package = ScenarioPackage(scenario, tuple(attachments), avatar)
            written = write_package(path, package)
        except PackageError as error:
            raise StudioError(str(error)) from error
        log.info("scenario exported", scenario_id=scenario_id, attachments=len(attachments))
        return written

    # Content -------------------------------------------------------------------------------
    def save_draft(self, scenario: Scenario, opened: Scenario | None = None) -> None:
        """Save a draft's content (the editor's form, rubric and dialog), as of the revision it
        was opened at: if someone saved it since, nothing is overwritten and StudioError says
        which fields they changed (the editor keeps this copy). Only drafts change: a published
        or archived version gets a new draft version to edit. The documents are checked as the
        database checks them before anything is sent. `opened` is the draft as the editor
        loaded it (what the other save is compared with)."""
        self._require_admin()
        if scenario.status != Status.DRAFT:
            raise StudioError("Only drafts can be edited: make a new version of it and edit that.")
        try:
            Scenario.from_json({**_row(scenario), "id": scenario.id}, source="the draft")
        except ScenarioError as error:
            raise StudioError(str(error).replace(f', scenario "{scenario.id}"', "")) from error
        content = plain_json(scenario.content())

        def update(session: Any) -> None:
            rows = (
                session.client.table("scenarios")
                .update(content)
                .eq("id", scenario.id)
                .eq("status", Status.DRAFT.value)
                .eq("revision", scenario.revision)
                .execute()
                .data
            )
            if not rows:
                raise StudioError(_lost_save(session, opened or scenario, content))

        self._live(update)
        log.info("draft saved", scenario_id=scenario.id, revision=scenario.revision)
        self._backend.sync_soon()

    def create_blank(self, title: str = "New scenario") -> str:
        """A new draft to build in the editor: one persona line that ends the call and one
        criterion, the least the database accepts; its id."""
        account = self._require_admin()
        scenario = Scenario(
            id=_new_id(),
            title=title,
            persona={"name": "New persona", "role": "Buyer"},
            branching={
                "version": 1,
                "start": "open",
                "nodes": [{"id": "open", "persona_line": "Hello, who is this?", "end": True}],
            },
            rubric={
                "version": 1,
                "criteria": [
                    {
                        "id": "questions",
                        "label": "Ask questions",
                        "type": "kpi",
                        "kpi": "questions_asked",
                        "target": {"min": 2},
                        "weight": 1,
                    }
                ],
            },
            pass_score=Decimal(70),
            status=Status.DRAFT,
            org_id=account.org_id,
        )
        self._live(lambda s: s.client.table("scenarios").insert(_row(scenario)).execute())
        log.info("scenario created", scenario_id=scenario.id)
        self._backend.sync_soon()
        return scenario.id

    def new_version(self, scenario_id: str) -> str:
        """A new draft version of a published or archived scenario, to edit; its id."""
        self._require_admin()
        new_id = self._live(lambda s: s.rpc("new_scenario_version", {"scenario_id": scenario_id}))
        log.info("scenario version started", scenario_id=scenario_id, draft_id=new_id)
        self._backend.sync_soon()
        return str(new_id)

    # Status --------------------------------------------------------------------------------
    def duplicate(self, scenario_id: str) -> str:
        """A new draft with the same content, titled "Copy of …"."""
        account = self._require_admin()
        original = self._backend.scenario(scenario_id)
        copy = replace(
            original,
            id=_new_id(),
            title=f"Copy of {original.title}"[:200],
            status=Status.DRAFT,
            org_id=account.org_id,
        )
        self._live(lambda s: s.client.table("scenarios").insert(_row(copy)).execute())
        self._backend.sync_soon()
        return copy.id

    def publish(self, scenario_id: str) -> None:
        """Live for trainees and assignable (a draft, or an archived version back again); the
        scenario's live version before it is archived in the same step, and its assignments
        follow. Refused with the plan's limit when it is reached."""
        self._require_admin()
        self._live(lambda s: s.rpc("publish_scenario", {"scenario_id": scenario_id}))
        log.info("scenario published", scenario_id=scenario_id)
        self._backend.sync_soon()

    def archive(self, scenario_id: str) -> None:
        """No longer assignable; its attempts and their scores stay in every report."""
        self._set_status(scenario_id, Status.ARCHIVED)

    def delete_draft(self, item: LibraryItem) -> None:
        if not item.deletable:
            raise StudioError(
                "Only a draft that nobody has practised can be deleted; archive it instead "
                "(its attempts keep it for the reports)."
            )
        self._live(lambda s: _delete_scenario(s, item.scenario.id))
        self._backend.sync_soon()

    # Helpers -------------------------------------------------------------------------------
    def _set_status(self, scenario_id: str, status: Status) -> None:
        self._require_admin()

        def update(session: Any) -> None:
            rows = (
                session.client.table("scenarios")
                .update({"status": status.value})
                .eq("id", scenario_id)
                .execute()
                .data
            )
            if not rows:
                raise StudioError("This scenario is no longer on the server (deleted elsewhere?).")

        self._live(update)
        log.info("scenario status changed", scenario_id=scenario_id, status=status.value)
        self._backend.sync_soon()

    def _live(self, call: Callable[[Any], Any]) -> Any:
        try:
            return self._backend.live(call)
        except CoachdeskError as error:
            raise _plain(error) from error

    def _require_admin(self) -> Any:
        account = self._backend.account
        if account is None or account.role is None or account.role.value != "admin":
            raise PermissionDenied("Only admins author scenarios.")
        return account


def _plain(error: CoachdeskError) -> CoachdeskError:
    """The database's refusals as what an admin can act on."""
    cause = error.__cause__
    conflict = f" ({CONFLICT})"  # how sync.client words a refusal it does not classify
    if isinstance(cause, SyncError) and str(cause).endswith(conflict):
        return StudioError(conflict_sentence(str(cause).removesuffix(conflict)))
    if isinstance(cause, RejectedError | SyncError) and _PAYMENT_REQUIRED in str(cause):
        return StudioError(
            "Your plan's limit of active scenarios is reached: archive one first, or ask "
            f"whoever manages billing to upgrade. ({cause})"
        )
    return error


def _lost_save(session: Any, mine: Scenario, content: Mapping[str, Any]) -> str:
    """Why a save changed nothing, saying what the other save changed (since `mine`, the
    draft as this editor opened it)."""
    rows = (
        session.client.table("scenarios")
        .select(",".join(["status", "revision", *content]))
        .eq("id", mine.id)
        .execute()
        .data
    )
    if not rows:
        return "This draft was deleted meanwhile; nothing was saved (your copy is still open)."
    theirs = rows[0]
    if theirs["status"] != Status.DRAFT:
        return (
            f"This draft was {theirs['status']} meanwhile; nothing was saved (your copy is still "
            "open: make a new version to carry your changes over)."
        )
    opened = plain_json(mine.content())
    changed = [k for k in content if plain_json(theirs.get(k)) != opened.get(k)]
    return (
        f"Someone else saved this draft after you opened it (revision {mine.revision} → "
        f"{theirs['revision']}), changing {', '.join(changed) or 'nothing you can see'}. "
        "Nothing of yours was overwritten or lost: your copy is still open; reopen the draft to "
        "see theirs and make your changes again."
    )


def matches(search: str, *texts: str) -> bool:
    """Whether `search` (trimmed, any case) is in one of `texts`; an empty search matches."""
    wanted = search.strip().casefold()
    return not wanted or any(wanted in text.casefold() for text in texts)


def editor_names(backend: Backend) -> Mapping[str, str]:
    """User id → display name of the org's members (who edited a scenario or a track)."""
    return {m.user_id: m.display_name for m in backend.members()}


def conflict_sentence(message: str) -> str:
    """The database's CD409 about a track's scenarios, as a sentence with what to do."""
    text = message[:1].upper() + message[1:]
    if "cannot be" in message:
        return f"{text}. Remove it from the track first, or archive the track."
    return f"{text}. Publish those scenarios first, or remove them from the track."


def _new_id() -> str:
    return str(uuid.uuid4())


def _row(scenario: Scenario) -> dict[str, Any]:
    """The `scenarios` row to send: id, org, status and the content, as plain JSON."""
    row = {"id": scenario.id, "org_id": scenario.org_id, "status": scenario.status}
    return plain_json({**row, **scenario.content()})


def _asset_path(scenario: Scenario, name: str) -> str:
    return f"{scenario.org_id}/{scenario.id}/{name}"


def _upload(session: Any, path: str, attachment: Attachment) -> None:
    session.client.storage.from_(BUCKET).upload(
        path, attachment.data, {"content-type": attachment.type, "upsert": "true"}
    )


def _download_all(session: Any, scenario: Scenario) -> list[Attachment]:
    bucket = session.client.storage.from_(BUCKET)
    folder = f"{scenario.org_id}/{scenario.id}"
    listed: Iterable[Mapping[str, Any]] = bucket.list(folder) or []
    attachments = []
    for entry in sorted(listed, key=lambda e: str(e.get("name"))):
        name = str(entry.get("name"))
        if not name or entry.get("id") is None:  # a folder, not a file
            continue
        data = bucket.download(f"{folder}/{name}")
        attachments.append(Attachment(name, type_of(name), data))
    return attachments


def _download_avatar(session: Any, scenario: Scenario) -> Attachment | None:
    """The persona's picture (app/client/avatars.py keeps it there), None if it has none or
    it is not on the server."""
    name = scenario.persona.get("avatar")
    if not isinstance(name, str) or not plain_attachment_name(name):
        return None
    try:
        kind = avatar_type(name)
    except PackageError:
        return None
    bucket = session.client.storage.from_(BUCKET)
    folder = _asset_path(scenario, AVATAR_FOLDER.rstrip("/"))
    listed: Iterable[Mapping[str, Any]] = bucket.list(folder) or []
    if not any(entry.get("name") == name and entry.get("id") is not None for entry in listed):
        return None
    return Attachment(name, kind, bucket.download(f"{folder}/{name}"))


def _delete_scenario(session: Any, scenario_id: str) -> None:
    session.client.table("scenarios").delete().eq("id", scenario_id).execute()


__all__ = [
    "CONFLICT",
    "LibraryItem",
    "Status",
    "StudioError",
    "StudioService",
    "conflict_sentence",
    "editor_names",
    "matches",
]
