"""The admin studio's library: the org's scenarios with their status, and what an admin does to
them as a whole — import and export `.coachdesk-scenario` files, duplicate, publish, archive,
start a new version, delete a draft. No Qt.

The list comes from the admin's cache (an admin's pull holds drafts too); every change goes to the
server at once through `Backend.live` (the owner thread, a fresh token) and is refused there if
the role or the plan does not allow it (RLS, the CD402 active-scenario limit), then the next sync
brings the change back to the cache. Published versions never change (the database refuses it):
`new_version` starts a draft to edit, `save_draft` saves it against the revision it was opened
at, `publish` puts it live and archives the version before it. The editor also keeps a draft
as it is edited (`keep_draft`): into the cache with an outbox entry, so editing works offline and
the change reaches the server at the next sync (sync/cache_drafts.py); a save someone else's
beat is parked there and shown as a `DraftConflict`, to keep as a copy or to give up for theirs.
New versions and duplicates take the briefing attachments with them (Storage's copy).
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
from sync.cache_schema import row_select
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


@dataclass(frozen=True)
class DraftConflict:
    """A draft's save kept on this computer that the server refused, because someone else saved
    the draft first (or published or deleted it): `mine` is the admin's copy."""

    scenario_id: str
    title: str
    message: str
    mine: dict[str, Any]


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
    def save_draft(
        self, scenario: Scenario, opened: Scenario | None = None, editor: str | None = None
    ) -> None:
        """Save a draft's content (the editor's form, rubric and dialog), as of the revision it
        was opened at: if someone saved it since, nothing is overwritten and StudioError says
        which fields they changed (the editor keeps this copy). Only drafts change: a published
        or archived version gets a new draft version to edit. The documents are checked as the
        database checks them before anything is sent. `opened` is the draft as the editor
        loaded it (what the other save is compared with); `editor` names the open editor whose
        autosaves (`keep_draft`) may have reached the server since (they are its own)."""
        content = self._checked_content(scenario)
        # Against our own last save of it if the editor's autosaves reached the server since;
        # one of them may reach it between that look-up and this save: then once more.
        for _try in range(2):
            based_on = self._draft_base(scenario, editor)
            row = self._live(lambda s, b=based_on: _update_draft(s, scenario.id, content, b))
            if row is not None:
                self._backend.local(
                    lambda c, b=based_on, r=row: c.draft_saved_online(scenario.id, b, r),
                    changed="scenarios",
                )
                log.info("draft saved", scenario_id=scenario.id, revision=based_on)
                return
            if self._draft_base(scenario, editor) == based_on:
                break
        raise StudioError(self._live(lambda s: _lost_save(s, opened or scenario, content)))

    def keep_draft(self, scenario: Scenario, editor: str | None = None) -> None:
        """Keep the editor's draft on this computer and send it at the next sync (autosave):
        offline too. `scenario.revision` is the revision the editor opened, `editor` names it
        (its own earlier autosaves do not count against it); a save someone else's beat
        meanwhile is refused by the server and comes back as a DraftConflict."""
        content = self._checked_content(scenario)
        self._backend.local(
            lambda c: c.keep_draft(scenario.id, content, scenario.revision, editor),
            changed="scenarios",
        )
        log.info("draft kept", scenario_id=scenario.id, opened_revision=scenario.revision)

    def _draft_base(self, scenario: Scenario, editor: str | None) -> int:
        return int(
            self._backend.local(lambda c: c.draft_base(scenario.id, scenario.revision, editor))
        )

    def _checked_content(self, scenario: Scenario) -> dict[str, Any]:
        """The draft's content to send, checked as the database checks it."""
        self._require_admin()
        if scenario.status != Status.DRAFT:
            raise StudioError("Only drafts can be edited: make a new version of it and edit that.")
        try:
            Scenario.from_json({**_row(scenario), "id": scenario.id}, source="the draft")
        except ScenarioError as error:
            raise StudioError(str(error).replace(f', scenario "{scenario.id}"', "")) from error
        return dict(plain_json(scenario.content()))

    # Conflicts -----------------------------------------------------------------------------
    def conflicts(self) -> list[DraftConflict]:
        """Drafts whose save kept here the server refused, with what differs between the
        admin's copy and the server's (offline: the server's reason alone)."""
        found = []
        account = self._require_admin()
        for parked in self._backend.local(lambda c: c.parked_drafts(str(account.org_id))):
            cached = self._backend_scenario(parked.scenario_id)
            title = str(parked.content.get("title") or (cached.title if cached else ""))
            try:
                theirs = self._live(lambda s, p=parked: _server_row(s, p.scenario_id))
                message = _conflict_text(theirs, parked.based_on, parked.content)
            except CoachdeskError:
                message = f"Conflict: someone else saved this draft ({parked.message})."
            found.append(DraftConflict(parked.scenario_id, title, message, dict(parked.content)))
        return found

    def keep_mine(self, conflict: DraftConflict) -> str:
        """The admin's copy as a new draft (with the draft's attachments), titled as theirs
        with "(my copy)"; the other save stays as it is. Returns the new draft's id."""
        account = self._require_admin()
        copy_id = _new_id()
        title = f"{conflict.mine.get('title') or conflict.title} (my copy)"[:200]
        row = {**conflict.mine, "id": copy_id, "org_id": str(account.org_id), "title": title}
        self._live(
            lambda s: s.client.table("scenarios").insert({**row, "status": "draft"}).execute()
        )
        self._copy_attachments(str(account.org_id), conflict.scenario_id, copy_id)
        self._take_server_copy(conflict.scenario_id)
        log.info("draft conflict kept as a copy", scenario_id=conflict.scenario_id, copy=copy_id)
        return copy_id

    def take_theirs(self, conflict: DraftConflict) -> None:
        """Give up the admin's copy: the draft here becomes the server's."""
        self._require_admin()
        self._take_server_copy(conflict.scenario_id)
        log.info("draft conflict settled for theirs", scenario_id=conflict.scenario_id)

    def _take_server_copy(self, scenario_id: str) -> None:
        theirs = self._live(lambda s: _server_row(s, scenario_id, row_select("scenarios")))
        self._backend.local(lambda c: c.settle_draft(scenario_id, theirs), changed="scenarios")

    def _backend_scenario(self, scenario_id: str) -> Scenario | None:
        try:
            return self._backend.scenario(scenario_id)
        except CoachdeskError:
            return None

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
        account = self._require_admin()
        new_id = str(
            self._live(lambda s: s.rpc("new_scenario_version", {"scenario_id": scenario_id}))
        )
        self._copy_attachments(str(account.org_id), scenario_id, new_id)
        log.info("scenario version started", scenario_id=scenario_id, draft_id=new_id)
        self._backend.sync_soon()
        return new_id

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
        self._copy_attachments(str(account.org_id), scenario_id, copy.id)
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
    def _copy_attachments(self, org_id: str, source_id: str, draft_id: str) -> None:
        """The source's briefing attachments into the new draft's folder (Storage copies them
        on the server); if that fails the new draft goes too, then the error is said: no draft
        without the briefing it came from."""
        try:
            copied = self._live(lambda s: _copy_folder(s, org_id, source_id, draft_id))
        except CoachdeskError:
            with contextlib.suppress(CoachdeskError):
                self._live(lambda s: _delete_scenario(s, draft_id))
            raise
        if copied:
            log.info("attachments copied", source_id=source_id, draft_id=draft_id, files=copied)

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
    code = getattr(cause, "code", None)
    conflict = f" ({CONFLICT})"  # how sync.client words a refusal before CD4xx were refusals
    if isinstance(cause, SyncError) and (code == CONFLICT or str(cause).endswith(conflict)):
        return StudioError(conflict_sentence(str(cause).removesuffix(conflict)))
    if isinstance(cause, RejectedError | SyncError) and (
        code == _PAYMENT_REQUIRED or _PAYMENT_REQUIRED in str(cause)
    ):
        return StudioError(
            "Your plan's limit of active scenarios is reached: archive one first, or ask "
            f"whoever manages billing to upgrade. ({cause})"
        )
    return error


def _update_draft(
    session: Any, scenario_id: str, content: Mapping[str, Any], based_on: int
) -> dict[str, Any] | None:
    """The draft's new content if it is still a draft at `based_on`; its row, or None."""
    rows = (
        session.client.table("scenarios")
        .update(dict(content))
        .eq("id", scenario_id)
        .eq("status", Status.DRAFT.value)
        .eq("revision", based_on)
        .execute()
        .data
    )
    return dict(rows[0]) if rows else None


def _lost_save(session: Any, mine: Scenario, content: Mapping[str, Any]) -> str:
    """Why a save changed nothing, saying what the other save changed (since `mine`, the
    draft as this editor opened it)."""
    theirs = _server_row(session, mine.id, ",".join(["status", "revision", *content]))
    return _conflict_text(theirs, mine.revision, plain_json(mine.content()), online=True)


def _conflict_text(
    theirs: Mapping[str, Any] | None,
    based_on: int,
    compared: Mapping[str, Any],
    *,
    online: bool = False,
) -> str:
    """What the server holds of a draft whose save was refused: deleted, no longer a draft, or
    saved by someone else, naming the fields where theirs differs from `compared` (the draft as
    the editor opened it for an online save; the admin's kept copy for a parked one)."""
    kept = "your copy is still open" if online else "your copy is kept on this computer"
    if theirs is None:
        return f"This draft was deleted meanwhile; nothing was saved ({kept})."
    if theirs["status"] != Status.DRAFT:
        return (
            f"This draft was {theirs['status']} meanwhile; nothing was saved ({kept}: make a "
            "new version, or keep yours as a copy, to carry your changes over)."
        )
    changed = [k for k in compared if plain_json(theirs.get(k)) != plain_json(compared.get(k))]
    differences = ", ".join(changed) or "nothing you can see"
    if online:
        return (
            f"Someone else saved this draft after you opened it (revision {based_on} → "
            f"{theirs['revision']}), changing {differences}. Nothing of yours was overwritten "
            "or lost: your copy is still open; reopen the draft to see theirs and make your "
            "changes again."
        )
    return (
        f"Conflict: someone else saved this draft (revision {based_on} → {theirs['revision']}); "
        f"yours and theirs differ in {differences}. Nothing was overwritten: {kept}. Keep "
        "yours as a copy, or take theirs."
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


def _server_row(session: Any, scenario_id: str, columns: str = "*") -> dict[str, Any] | None:
    rows = session.client.table("scenarios").select(columns).eq("id", scenario_id).execute().data
    return dict(rows[0]) if rows else None


def _copy_folder(session: Any, org_id: str, source_id: str, target_id: str) -> int:
    """Copy every file of one scenario's folder into another's, the persona's picture in its
    subfolder too (app/client/avatars.py); how many."""
    bucket = session.client.storage.from_(BUCKET)
    names = _files_under(bucket, f"{org_id}/{source_id}")
    for name in names:
        bucket.copy(f"{org_id}/{source_id}/{name}", f"{org_id}/{target_id}/{name}")
    return len(names)


def _files_under(bucket: Any, folder: str, depth: int = 2) -> list[str]:
    """The files below `folder`, as paths relative to it; Storage lists a subfolder as an
    entry without an id (a scenario has one level of them: persona/)."""
    listed: Iterable[Mapping[str, Any]] = bucket.list(folder) or []
    names: list[str] = []
    for entry in listed:
        name = str(entry.get("name") or "")
        if not name:
            continue
        if entry.get("id") is not None:
            names.append(name)
        elif depth > 1:
            names += [f"{name}/{inner}" for inner in _files_under(bucket, f"{folder}/{name}", 1)]
    return names


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
    "DraftConflict",
    "LibraryItem",
    "Status",
    "StudioError",
    "StudioService",
    "conflict_sentence",
    "editor_names",
    "matches",
]
