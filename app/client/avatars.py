"""The persona's picture: one PNG or JPEG per scenario, kept in the `scenario-assets` bucket
as `<org>/<scenario id>/persona/<name>` (a folder beside the briefing attachments, which
therefore never lists it), named in the persona document's `avatar` field. No Qt.

The picture is checked on this computer first (app/scenario_package.py: PNG or JPEG, at most
5 MB, the bytes what the name says) and named by its contents, so a copy kept here never goes
stale: the practice screen reads it from `<cache>/<org>/<scenario id>/<name>` once it has been
downloaded (through a signed URL, `grant_signed_url`), and so shows it offline too. Every
member of the org may read it; only admins upload (the storage policies decide).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from app.client.briefings import save_whole, signed_url, size_text
from app.client.errors import PermissionDenied
from app.client.live_service import LiveService
from app.client.studio import BUCKET
from app.client.views import Backend, Scenario
from app.errors import CoachdeskError
from app.scenario_package import (
    AVATAR_FOLDER,
    MAX_AVATAR_BYTES,
    PackageError,
    avatar_from_file,
    plain_attachment_name,
)
from sync.client import RejectedError, ServerError

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Picture:
    name: str  # what the persona's `avatar` field holds
    data: bytes


class AvatarError(CoachdeskError):
    """A persona's picture could not be chosen, uploaded or fetched; the message says why."""


class AvatarService(LiveService):
    """Each method but `cached` blocks on the server: call them off the GUI thread."""

    not_admin = "Only admins choose a persona's picture."

    def __init__(self, backend: Backend, cache: Path | None = None) -> None:
        """`cache`: the folder pictures are kept in once seen (None: the backend's)."""
        super().__init__(backend)
        self._cache = cache if cache is not None else backend.pictures_folder

    def upload(self, scenario: Scenario, path: Path) -> Picture:
        """Check the image at `path` and upload it as the persona's picture of `scenario`
        (admins only); the persona's `avatar` field is then set to its name by the editor
        and saved with the draft. Refused with a sentence before anything is sent when it is
        not a PNG or JPEG, not what its name says, empty or over 5 MB."""
        self._require_admin()
        try:
            picture = avatar_from_file(path)
        except PackageError as error:
            raise AvatarError(_sentence(str(error))) from error
        key = avatar_key(scenario, picture.name)

        def upload(client: Any) -> None:
            # Named by its contents: uploading the same picture again changes nothing.
            client.storage.from_(BUCKET).upload(
                key, picture.data, {"content-type": picture.type, "upsert": "true"}
            )

        try:
            self._run(upload)
        except CoachdeskError as error:
            refusal = _refusal(error, path.name, picture.type, len(picture.data))
            if refusal is None:
                raise
            raise refusal from error
        self._keep(scenario, picture.name, picture.data)
        log.info("persona picture uploaded", scenario_id=scenario.id, type=picture.type)
        return Picture(picture.name, picture.data)

    def prune(self, scenario: Scenario, keep: set[str]) -> int:
        """Remove the pictures of `scenario`'s folder other than `keep` (the one chosen now,
        the one it was opened with): a picture replaced or removed while editing leaves no
        file behind to be copied into every later version. How many were removed."""
        self._require_admin()
        folder = avatar_key(scenario, "").rstrip("/")

        def prune(client: Any) -> int:
            bucket = client.storage.from_(BUCKET)
            listed = bucket.list(folder) or []
            stale = [
                f"{folder}/{entry['name']}"
                for entry in listed
                if entry.get("id") is not None and entry.get("name") not in keep
            ]
            if stale:
                bucket.remove(stale)
            return len(stale)

        removed = int(self._run(prune))
        if removed:
            log.info("persona pictures pruned", scenario_id=scenario.id, removed=removed)
        return removed

    def cached(self, scenario: Scenario) -> bytes | None:
        """The persona's picture as kept on this computer (no server asked); None if unseen."""
        name = avatar_name(scenario)
        path = self._path(scenario, name) if name else None
        try:
            return path.read_bytes() if path is not None else None
        except OSError:
            return None

    def image(self, scenario: Scenario) -> bytes | None:
        """The persona's picture (None: it has none): the copy kept here, else downloaded
        through a signed URL and kept. AvatarError if it cannot be fetched (offline: the
        backend's error), for the screen to fall back to initials."""
        name = avatar_name(scenario)
        if name is None:
            return None
        kept = self.cached(scenario)
        if kept is not None:
            return kept
        key = avatar_key(scenario, name)

        def download(session: Any) -> bytes:
            try:
                url = signed_url(session, self._backend.server.url, key)
                return bytes(session.download(url))
            except RejectedError as error:
                if error.code != "42501":
                    raise
                raise AvatarError(f"The persona's picture {name} is not on the server.") from error
            except ServerError as error:
                raise AvatarError(
                    f"The persona's picture could not be downloaded: {error}."
                ) from error

        data = self._backend.live(download)
        self._keep(scenario, name, data)
        return data

    def _keep(self, scenario: Scenario, name: str, data: bytes) -> None:
        path = self._path(scenario, name)
        try:
            save_whole(path.parent, path.name, data)
        except OSError as error:  # shown anyway; only offline practice misses it
            log.warning("persona picture not kept", scenario_id=scenario.id, error=str(error))

    def _path(self, scenario: Scenario, name: str) -> Path:
        return self._cache / str(scenario.org_id) / scenario.id / name


def avatar_name(scenario: Scenario) -> str | None:
    """The persona's picture's file name, if it has one a Storage key can safely carry."""
    name = scenario.persona.get("avatar")
    return name if isinstance(name, str) and plain_attachment_name(name) else None


def avatar_key(scenario: Scenario, name: str) -> str:
    """Where the picture is in the bucket: the scenario's folder, `persona/` below it."""
    return f"{scenario.org_id}/{scenario.id}/{AVATAR_FOLDER}{name}"


def _refusal(error: CoachdeskError, name: str, kind: str, size: int) -> CoachdeskError | None:
    cause = error.__cause__
    code = cause.code if isinstance(cause, RejectedError) else None
    if code == "storage-413":
        return AvatarError(
            f"{name} ({size_text(size)}) is larger than the server accepts for scenario files: "
            f"save a smaller picture (this computer allows up to {size_text(MAX_AVATAR_BYTES)})."
        )
    if code == "storage-415":
        return AvatarError(
            f"The server does not accept {kind} files for scenarios, so {name} was not used: "
            "ask whoever runs your Coachdesk server which types it allows."
        )
    if code == "storage-403":
        return PermissionDenied("Only admins of this organisation choose a persona's picture.")
    return None


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else f"{text}."


__all__ = ["AvatarError", "AvatarService", "Picture", "avatar_key", "avatar_name"]
