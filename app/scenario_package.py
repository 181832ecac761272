"""`.coachdesk-scenario` files: one scenario with its persona, branching, rubric and briefing
attachments, to move content between orgs or keep it outside the app.

A package is a zip holding `scenario.json` and the attachments under `assets/`:

    {"format": "coachdesk-scenario", "version": 1,
     "scenario": {"title", "description", "difficulty", "pass_score", "max_attempts",
                  "ai_prompt", "time_limit_seconds", "key_terms", "persona", "branching",
                  "rubric"},
     "attachments": [{"name": "briefing.pdf", "type": "application/pdf", "sha256": "…"}]}

`key_terms` (the words the speech model should expect, app/key_terms.py) may be left out: no
terms. A scenario without any is written without it, so older Coachdesks still read its file.

A persona with a picture (`persona.avatar`, its file name) makes a version 2 file: the picture
is listed as `"avatar": {"name", "type", "sha256"}` and kept as `assets/persona/<name>`, so a
Coachdesk that reads only version 1 says to update rather than import a scenario without it.

Reading checks everything before anything is used, and says what is wrong in one sentence: not a
zip, no or unreadable `scenario.json`, another format or a newer version, a scenario the
database would refuse (the same persona/branching/rubric checks as `resources/schemas/` and the
SQL validators: app/formats.py), an attachment missing, listed twice, altered (sha256), of a type
or size the `scenario-assets` bucket refuses, or a file in the zip that nothing lists. Names are
plain file names (no folders, no `..`), and sizes are checked before anything is decompressed, so
a hostile package cannot write outside its folder or fill the disk.

An imported scenario is a new draft: it gets a new id and no org (the caller's org takes it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
import uuid
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from app.scenarios import CONTENT_FIELDS, Scenario, ScenarioError

FORMAT = "coachdesk-scenario"
VERSION = 2  # the newest this reads; a file without a persona picture is still written as 1
PLAIN_VERSION = 1
SUFFIX = ".coachdesk-scenario"
DOCUMENT = "scenario.json"
ASSETS = "assets/"
# The `scenario-assets` bucket's limit (supabase/migrations/20261125000800_storage.sql); the
# briefing a trainee reads before the call is a PDF or an image.
MAX_ATTACHMENT_BYTES = 50 * 1024 * 1024
MAX_ATTACHMENTS = 20
# A persona's picture is shown at most 96 pixels wide: a few hundred KB is plenty, 5 MB (well
# inside the bucket's 50 MB) refuses camera originals before they are sent to every trainee.
MAX_AVATAR_BYTES = 5 * 1024 * 1024
AVATAR_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
AVATAR_FOLDER = "persona/"  # under assets/ in a package, under the scenario's folder in Storage
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
TYPES = {
    ".pdf": "application/pdf",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._()-]{0,99}")
PLAIN_NAME_RULE = "letters, digits, spaces, . _ - ( ); no folders"  # _NAME, for people
# What a file's "scenario" may hold: exactly what an author writes (Scenario.content).
_SCENARIO_FIELDS = CONTENT_FIELDS


class PackageError(ValueError):
    """A package that cannot be read or written; the message says why, for people."""


@dataclass(frozen=True)
class Attachment:
    name: str
    type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True)
class ScenarioPackage:
    scenario: Scenario  # its ai_prompt travels with it
    attachments: tuple[Attachment, ...] = ()
    avatar: Attachment | None = None  # the persona's picture, named as persona.avatar says


# Writing ------------------------------------------------------------------------------------------
def attachment_from_file(path: Path) -> Attachment:
    """An attachment read from disk, checked as a package's would be (its name and size
    before its bytes are read: a wrong file costs no memory)."""
    kind = type_of(path.name)
    try:
        if path.stat().st_size > MAX_ATTACHMENT_BYTES:
            raise PackageError(_too_large(path.name))
        data = path.read_bytes()
    except OSError as error:
        raise PackageError(f"cannot read the attachment {path}: {error.strerror}") from error
    attachment = Attachment(path.name, kind, data)
    _check_attachment(attachment)
    return attachment


def write_package(path: Path, package: ScenarioPackage) -> Path:
    """Write `package` to `path` (SUFFIX added if missing); a failed write leaves no file."""
    if path.suffix != SUFFIX:
        path = path.with_name(path.name + SUFFIX)
    names = [a.name for a in package.attachments]
    if len(set(names)) != len(names):
        raise PackageError("two attachments have the same name")
    for attachment in package.attachments:
        _check_attachment(attachment)
    avatar = package.avatar
    if avatar is not None:
        check_avatar(avatar)
    if (avatar.name if avatar else None) != package.scenario.persona.get("avatar"):
        raise PackageError("the persona's picture is not the one its avatar field names")
    scenario = package.scenario.content()
    if not scenario["key_terms"]:
        del scenario["key_terms"]  # absent means none, and older Coachdesks read the file
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION if avatar is not None else PLAIN_VERSION,
        "scenario": scenario,
        "attachments": [_listing(a) for a in package.attachments],
    }
    if avatar is not None:
        document["avatar"] = _listing(avatar)
    buffer = io.BytesIO()
    text = json.dumps(document, indent=2, default=_json_default) + "\n"
    with zipfile.ZipFile(buffer, "w") as archive:
        _add(archive, DOCUMENT, text.encode("utf-8"))
        for attachment in package.attachments:
            _add(archive, ASSETS + attachment.name, attachment.data)
        if avatar is not None:
            _add(archive, ASSETS + AVATAR_FOLDER + avatar.name, avatar.data)
    _write_atomically(path, buffer.getvalue())
    return path


def _listing(attachment: Attachment) -> dict[str, str]:
    return {"name": attachment.name, "type": attachment.type, "sha256": attachment.sha256}


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    # A fixed timestamp: the same package makes the same bytes (reviewable example files).
    entry = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
    entry.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(entry, data)


def plain_json(document: Any) -> Any:
    """A document read with Decimal numbers (as written) with plain JSON numbers again."""
    return json.loads(json.dumps(document, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        raise PackageError(f"cannot write {path}: {error.strerror or error}") from error


# Reading ------------------------------------------------------------------------------------------
def read_package(path: Path) -> ScenarioPackage:
    """The package at `path`, checked whole; PackageError says what is wrong with it."""
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise PackageError(f"there is no file {path}") from None
    except zipfile.BadZipFile:
        raise PackageError(f"{path.name} is not a Coachdesk scenario file (not a zip)") from None
    except OSError as error:
        raise PackageError(f"cannot read {path}: {error.strerror}") from error
    with archive:
        try:
            return _read(archive, path.name)
        except zipfile.BadZipFile as error:
            raise PackageError(f"{path.name} is damaged: {error}") from error


def _read(archive: zipfile.ZipFile, name: str) -> ScenarioPackage:
    entries = {info.filename: info for info in archive.infolist() if not info.is_dir()}
    if DOCUMENT not in entries:
        raise PackageError(f"{name} has no {DOCUMENT}: it is not a Coachdesk scenario file")
    document = _document(archive, entries[DOCUMENT], name)
    listed = _listed_attachments(document, name)
    avatar_listed = _listed_avatar(document, name)
    known = {DOCUMENT} | {ASSETS + a["name"] for a in listed}
    if avatar_listed is not None:
        known.add(ASSETS + AVATAR_FOLDER + avatar_listed["name"])
    extra = sorted(set(entries) - known)
    if extra:
        raise PackageError(f"{name} holds files its {DOCUMENT} does not list: {', '.join(extra)}")
    attachments = tuple(_attachment(archive, entries, a, name) for a in listed)
    scenario = _scenario(document.get("scenario"), name)
    avatar = None
    if avatar_listed is not None:
        avatar = _attachment(archive, entries, avatar_listed, name, folder=AVATAR_FOLDER)
    named = scenario.persona.get("avatar")
    if named != (avatar.name if avatar else None):
        raise PackageError(
            f'{name}: the persona\'s picture "{named}" is not in the file'
            if avatar is None
            else f'{name}: the file holds the picture "{avatar.name}" but the persona names '
            f'"{named}"'
        )
    return ScenarioPackage(scenario, attachments, avatar)


def _document(archive: zipfile.ZipFile, info: zipfile.ZipInfo, name: str) -> Mapping[str, Any]:
    if info.file_size > MAX_DOCUMENT_BYTES:
        raise PackageError(f"{name}: {DOCUMENT} is larger than {MAX_DOCUMENT_BYTES} bytes")
    try:
        document = json.loads(archive.read(info).decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackageError(f"{name}: {DOCUMENT} is not valid JSON ({error})") from error
    if not isinstance(document, Mapping):
        raise PackageError(f"{name}: {DOCUMENT} must be a JSON object")
    if document.get("format") != FORMAT:
        raise PackageError(f'{name} is not a Coachdesk scenario file ("format" is not "{FORMAT}")')
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PackageError(f'{name}: "version" must be a whole number')
    if version > VERSION:
        raise PackageError(
            f"{name} was written by a newer Coachdesk (format version {version}; this one "
            f"reads up to {VERSION}): update Coachdesk to import it"
        )
    return document


def _listed_attachments(document: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    listed = document.get("attachments", [])
    if not isinstance(listed, list) or not all(isinstance(a, Mapping) for a in listed):
        raise PackageError(f'{name}: "attachments" must be a list of objects')
    if len(listed) > MAX_ATTACHMENTS:
        raise PackageError(f"{name} has {len(listed)} attachments; at most {MAX_ATTACHMENTS}")
    names = [a.get("name") for a in listed]
    for entry in names:
        if not isinstance(entry, str) or not plain_attachment_name(entry):
            raise PackageError(
                f"{name}: the attachment name {entry!r} is not a plain file name "
                f"({PLAIN_NAME_RULE})"
            )
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate is not None:
        raise PackageError(f'{name}: the attachment "{duplicate}" is listed twice')
    return listed


def _listed_avatar(document: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    listed = document.get("avatar")
    if listed is None:
        return None
    if not isinstance(listed, Mapping):
        raise PackageError(f'{name}: "avatar" must be an object')
    file_name = listed.get("name")
    if not isinstance(file_name, str) or not plain_attachment_name(file_name):
        raise PackageError(
            f"{name}: the persona's picture {file_name!r} is not a plain file name "
            f"({PLAIN_NAME_RULE})"
        )
    return listed


def _attachment(
    archive: zipfile.ZipFile,
    entries: Mapping[str, zipfile.ZipInfo],
    listed: Mapping[str, Any],
    name: str,
    *,
    folder: str = "",
) -> Attachment:
    """An attachment (or, in `folder` AVATAR_FOLDER, the persona's picture), checked."""
    file_name = str(listed["name"])
    picture = folder == AVATAR_FOLDER
    info = entries.get(ASSETS + folder + file_name)
    if info is None:
        raise PackageError(f'{name}: the attachment "{file_name}" is listed but not in the file')
    limit = MAX_AVATAR_BYTES if picture else MAX_ATTACHMENT_BYTES
    if info.file_size > limit:
        what = "a persona's picture" if picture else "briefing attachments"
        raise PackageError(
            f'{name}: the attachment "{file_name}" is {info.file_size / 2**20:.1f} MB; '
            f"{what} may be at most {limit // 2**20} MB"
        )
    try:
        kind = avatar_type(file_name) if picture else type_of(file_name)
        attachment = Attachment(file_name, kind, archive.read(info))
    except PackageError as error:
        raise PackageError(f"{name}: {error}") from None
    if listed.get("type") != attachment.type:
        raise PackageError(
            f'{name}: the attachment "{file_name}" says it is {listed.get("type")!r} '
            f"but its name says {attachment.type}"
        )
    if listed.get("sha256") != attachment.sha256:
        raise PackageError(
            f'{name}: the attachment "{file_name}" was changed after the file was written '
            "(its sha256 does not match)"
        )
    try:
        (check_avatar if picture else _check_attachment)(attachment)
    except PackageError as error:
        raise PackageError(f"{name}: {error}") from None
    return attachment


def _scenario(document: Any, name: str) -> Scenario:
    if not isinstance(document, Mapping):
        raise PackageError(f'{name}: "scenario" must be a JSON object')
    unknown = sorted(set(document) - set(_SCENARIO_FIELDS))
    if unknown:
        raise PackageError(f"{name}: the scenario has fields Coachdesk does not know: {unknown}")
    ai_prompt = document.get("ai_prompt", "")
    if not isinstance(ai_prompt, str):
        raise PackageError(f'{name}: "ai_prompt" must be text')
    max_attempts = _whole(document, "max_attempts", name)
    time_limit = _whole(document, "time_limit_seconds", name)
    data = {**document, "id": str(uuid.uuid4()), "status": "draft"}
    try:
        scenario = Scenario.from_json(data, source=name)
    except ScenarioError as error:
        raise PackageError(str(error).replace(f', scenario "{data["id"]}"', "")) from error
    return replace(scenario, max_attempts=max_attempts, time_limit_seconds=time_limit)


def _whole(document: Mapping[str, Any], key: str, name: str) -> int | None:
    value = document.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise PackageError(f'{name}: "{key}" must be a whole number of at least 1')
    return value


# Attachments --------------------------------------------------------------------------------------
_MAGIC = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),
}


def plain_attachment_name(file_name: str) -> bool:
    """Whether `file_name` may name an attachment: a plain file name a package can carry
    (and a Storage key segment), never a folder or `..`."""
    return bool(_NAME.fullmatch(file_name)) and ".." not in file_name


def type_of(file_name: str) -> str:
    """The media type a briefing attachment's name gives it (PackageError if not allowed)."""
    kind = TYPES.get(Path(file_name).suffix.lower())
    if kind is None:
        allowed = ", ".join(sorted(TYPES))
        raise PackageError(
            f'"{file_name}" cannot be a briefing attachment: only PDFs and images ({allowed})'
        )
    return kind


def _check_attachment(attachment: Attachment) -> None:
    if not attachment.data:
        raise PackageError(f'the attachment "{attachment.name}" is empty')
    if len(attachment.data) > MAX_ATTACHMENT_BYTES:
        raise PackageError(_too_large(attachment.name))
    magic = _MAGIC[attachment.type]
    looks_right = attachment.data.startswith(magic) and (
        attachment.type != "image/webp" or attachment.data[8:12] == b"WEBP"
    )
    if not looks_right:
        raise PackageError(
            f'the attachment "{attachment.name}" is not really {attachment.type} '
            "(its contents do not match its name)"
        )


# The persona's picture ---------------------------------------------------------------------------
def avatar_type(file_name: str) -> str:
    """The media type of a persona's picture by its name (PackageError: not PNG or JPEG)."""
    kind = AVATAR_TYPES.get(Path(file_name).suffix.lower())
    if kind is None:
        raise PackageError(
            f'"{file_name}" cannot be a persona\'s picture: choose a PNG or JPEG image'
        )
    return kind


def avatar_from_file(path: Path) -> Attachment:
    """A persona's picture read from disk, checked (type by name, size before reading, the
    bytes what the name says) and named by its contents, `avatar-<sha256 prefix>.<ext>`: a
    new picture is a new name, so a copy kept on a computer is never stale."""
    kind = avatar_type(path.name)
    try:
        size = path.stat().st_size
        if size > MAX_AVATAR_BYTES:
            raise PackageError(_avatar_too_large(path.name, size))
        data = path.read_bytes()
    except OSError as error:
        raise PackageError(f"cannot read the picture {path}: {error.strerror}") from error
    check_avatar(Attachment(path.name, kind, data))
    extension = "png" if kind == "image/png" else "jpg"
    return Attachment(f"avatar-{hashlib.sha256(data).hexdigest()[:16]}.{extension}", kind, data)


def check_avatar(picture: Attachment) -> None:
    """PackageError unless `picture` is a PNG or JPEG of at most MAX_AVATAR_BYTES whose bytes
    are what its name says."""
    if avatar_type(picture.name) != picture.type:
        raise PackageError(f'the picture "{picture.name}" is not a {picture.type} by its name')
    if not picture.data:
        raise PackageError(f'the picture "{picture.name}" is empty')
    if len(picture.data) > MAX_AVATAR_BYTES:
        raise PackageError(_avatar_too_large(picture.name, len(picture.data)))
    if not picture.data.startswith(_MAGIC[picture.type]):
        label = "PNG" if picture.type == "image/png" else "JPEG"
        raise PackageError(
            f'the picture "{picture.name}" is not really a {label} image (its contents do not '
            "match its name)"
        )


def _avatar_too_large(name: str, size: int) -> str:
    return (
        f'the picture "{name}" is {size / 2**20:.1f} MB; a persona\'s picture may be at most '
        f"{MAX_AVATAR_BYTES // 2**20} MB: save a smaller version (a few hundred pixels is "
        "plenty)"
    )


def _too_large(name: str) -> str:
    return (
        f'the attachment "{name}" is larger than {MAX_ATTACHMENT_BYTES // 2**20} MB, the limit '
        "for briefing attachments"
    )


def example_packages(folder: Path | None = None) -> Sequence[Path]:
    """The example scenarios shipped to import (resources/examples/)."""
    folder = folder or Path(__file__).resolve().parents[1] / "resources" / "examples"
    return sorted(folder.glob(f"*{SUFFIX}"))
