"""Briefing attachments: the PDFs and images an admin attaches to a scenario for trainees to read
before the call, kept in the `scenario-assets` bucket as `<org>/<scenario id>/<name>`. No Qt.

Everything goes to the server at once through `Backend.live` (the owner thread, a fresh token;
app/client/live_service.py's plumbing); the storage policies decide
(supabase/migrations/20261125000800_storage.sql: every member of the org reads the org's
scenario assets, only its admins write them). A file is checked here first
with the rules a `.coachdesk-scenario` file's attachments follow (app/scenario_package.py: PDFs
and images whose bytes are what their name says, 50 MB), so the bucket's own refusals (its size
and type limits) only come back when the bucket is set stricter than those rules; they are
said as sentences too. Trainees open a file through a short-lived signed URL
(`grant_signed_url`), downloaded to a folder for the system's viewer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from app.client.errors import PermissionDenied
from app.client.live_service import LiveService
from app.client.studio import BUCKET
from app.client.views import Scenario
from app.durable import atomic_file
from app.errors import CoachdeskError
from app.scenario_package import (
    MAX_ATTACHMENTS,
    PLAIN_NAME_RULE,
    PackageError,
    attachment_from_file,
    plain_attachment_name,
    type_of,
)
from sync.client import RejectedError, ServerError, SyncError

log = structlog.get_logger(__name__)

# Long enough to start a download, short enough that a URL copied out of a log is useless.
SIGNED_URL_TTL_S = 120


@dataclass(frozen=True)
class Briefing:
    """One attachment as Storage lists it."""

    name: str
    type: str
    size: int  # bytes

    @property
    def kind(self) -> str:
        return "PDF" if self.type == "application/pdf" else "Image"

    @property
    def size_text(self) -> str:
        return size_text(self.size)


def size_text(size: int) -> str:
    """Bytes as people read them: "12 KB", "3.4 MB"."""
    if size < 1024 * 1024:
        return f"{max(1, round(size / 1024))} KB"
    return f"{size / 2**20:.1f} MB"


class BriefingError(CoachdeskError):
    """A briefing attachment could not be attached, removed or opened; the message says why."""


class BriefingsService(LiveService):
    """What the studio's Briefing tab and the trainee's "Read before the call" call; each
    method blocks (call it off the GUI thread)."""

    not_admin = "Only admins attach and remove briefing attachments."

    def list(self, scenario: Scenario) -> list[Briefing]:
        """The scenario's attachments by name (any member of the org may list them)."""
        listed: Iterable[Mapping[str, Any]] = (
            self._run(lambda c: c.storage.from_(BUCKET).list(_folder(scenario))) or []
        )
        found = []
        for entry in listed:
            name = str(entry.get("name") or "")
            if not name or entry.get("id") is None:  # a folder, not a file
                continue
            metadata = entry.get("metadata") or {}
            found.append(Briefing(name, _type(name, metadata), int(metadata.get("size") or 0)))
        return sorted(found, key=lambda b: b.name.casefold())

    def attach(self, scenario: Scenario, path: Path) -> Briefing:
        """Upload the file at `path` as an attachment (admins only). Refused with a sentence,
        before anything is sent, when it is not a PDF or image, not what its name says, over
        50 MB, badly named, already attached, or one too many."""
        self._require_admin()
        try:
            attachment = attachment_from_file(path)
        except PackageError as error:
            raise BriefingError(_sentence(str(error))) from error
        if not plain_attachment_name(attachment.name):
            raise BriefingError(
                f"“{attachment.name}” cannot be attached under that name: rename the file "
                f"({PLAIN_NAME_RULE})."
            )
        attached = self.list(scenario)
        if any(b.name == attachment.name for b in attached):
            raise BriefingError(
                f"“{attachment.name}” is already attached: remove it first to replace it, or "
                "rename the file."
            )
        if len(attached) >= MAX_ATTACHMENTS:
            raise BriefingError(
                f"A scenario has at most {MAX_ATTACHMENTS} briefing attachments: remove one first."
            )
        target = _object(scenario, attachment.name)

        def upload(client: Any) -> None:
            client.storage.from_(BUCKET).upload(
                target, attachment.data, {"content-type": attachment.type, "upsert": "false"}
            )

        try:
            self._run(upload)
        except CoachdeskError as error:
            refusal = self._refusal(error, attachment.name, attachment.type, len(attachment.data))
            if refusal is None:
                raise
            raise refusal from error
        log.info("briefing attached", scenario_id=scenario.id, type=attachment.type)
        return Briefing(attachment.name, attachment.type, len(attachment.data))

    def remove(self, scenario: Scenario, name: str) -> None:
        """Take the attachment `name` off the scenario (admins only)."""
        self._require_admin()
        target = _object(scenario, _plain(name))
        removed = self._run(lambda c: c.storage.from_(BUCKET).remove([target]))
        if not removed:  # Storage answers an empty list for what it did not (or could not) remove
            raise BriefingError(f"“{name}” is not attached to this scenario any more.")
        log.info("briefing removed", scenario_id=scenario.id)

    def open_url(self, scenario: Scenario, name: str) -> str:
        """A signed URL of the attachment, valid for SIGNED_URL_TTL_S seconds."""
        return self._backend.live(lambda s: self._signed_url(s, scenario, name))

    def fetch(self, scenario: Scenario, name: str, folder: Path) -> Path:
        """Download the attachment through a signed URL into `folder` (for the system's viewer);
        its path there."""
        name = _plain(name)

        def download(session: Any) -> bytes:
            url = self._signed_url(session, scenario, name)
            try:
                return bytes(session.download(url))
            except ServerError as error:
                raise BriefingError(f"“{name}” could not be downloaded: {error}.") from error

        data = self._backend.live(download)
        try:
            return save_whole(folder, name, data)
        except OSError as error:
            raise BriefingError(f"“{name}” could not be saved in {folder}: {error}") from error

    # Helpers -------------------------------------------------------------------------------
    def _signed_url(self, session: Any, scenario: Scenario, name: str) -> str:
        try:
            return signed_url(session, self._backend.server.url, _object(scenario, _plain(name)))
        except RejectedError as error:
            if error.code == "42501":  # one answer for "absent" and "not yours"
                raise BriefingError(
                    f"“{name}” is not attached to this scenario any more (or not yours to read)."
                ) from error
            raise

    def _refusal(
        self, error: CoachdeskError, name: str, kind: str, size: int
    ) -> CoachdeskError | None:
        """The bucket's or the policies' refusal of an upload as what an admin can act on
        (None: not a refusal of this file; the error says enough)."""
        cause = error.__cause__
        code = cause.code if isinstance(cause, RejectedError) else None
        if code == "storage-413":
            limit = self._bucket_limit()
            said = f"at most {size_text(limit)}" if limit else "its limit"
            return BriefingError(
                f"“{name}” ({size_text(size)}) is larger than the server accepts for briefing "
                f"attachments ({said}): make it smaller, e.g. save the PDF with compressed images."
            )
        if code == "storage-415":
            return BriefingError(
                f"The server does not accept {kind} files as briefing attachments, so “{name}” "
                "was not attached: ask whoever runs your Coachdesk server which types it allows."
            )
        if code == "storage-403":
            return PermissionDenied(
                "Only admins of this organisation attach briefings; the server refused it."
            )
        if isinstance(cause, SyncError) and "409" in str(cause):
            return BriefingError(
                f"“{name}” was attached meanwhile (by someone else?): remove it first to "
                "replace it."
            )
        return None

    def _bucket_limit(self) -> int | None:
        """The bucket's size limit in bytes, if the server says (members may read it)."""
        with contextlib.suppress(CoachdeskError):
            bucket = self._run(lambda c: c.storage.get_bucket(BUCKET))
            limit = getattr(bucket, "file_size_limit", None)
            return int(limit) if limit else None
        return None


def signed_url(session: Any, server_url: str, key: str) -> str:
    """A signed URL of the `scenario-assets` object `key`, valid for SIGNED_URL_TTL_S seconds
    (on the owner thread; RejectedError 42501 when it is absent or not the caller's to read)."""
    path = f"{BUCKET}/{key}"
    url = str(session.rpc("grant_signed_url", {"path": path, "ttl": SIGNED_URL_TTL_S}))
    if url.startswith("/"):  # relative to the Storage API, as createSignedUrl answers
        url = f"{server_url.rstrip('/')}/storage/v1{url}"
    return url


def save_whole(folder: Path, name: str, data: bytes) -> Path:
    """Write `folder/name` whole or not at all (a viewer opening a half-written PDF shows
    nonsense; a half-cached picture would stay broken); OSError when it cannot."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_file(folder / name) as out:
        out.write(data)
    return folder / name


def _folder(scenario: Scenario) -> str:
    return f"{scenario.org_id}/{scenario.id}"


def _object(scenario: Scenario, name: str) -> str:
    return f"{_folder(scenario)}/{name}"


def _plain(name: str) -> str:
    """`name` if it is a plain attachment name: never a path out of the folder it is saved in."""
    if not plain_attachment_name(name):
        raise BriefingError(f"“{name}” is not the name of a briefing attachment.")
    return name


def _type(name: str, metadata: Mapping[str, Any]) -> str:
    stored = metadata.get("mimetype")
    if stored:
        return str(stored)
    try:
        return type_of(name)
    except PackageError:
        return "application/octet-stream"


def _sentence(text: str) -> str:
    """A package check's clause as a sentence: capital first, full stop last."""
    text = text.strip()
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else f"{text}."


__all__ = [
    "SIGNED_URL_TTL_S",
    "Briefing",
    "BriefingError",
    "BriefingsService",
    "save_whole",
    "signed_url",
    "size_text",
]
