"""The persona's picture against the real stack: an admin uploads a PNG for a draft it imported,
it never shows among the briefing attachments, it travels in the scenario's file and comes back
with an import, a trainee of the org fetches it through a signed URL once and then reads the
copy kept on the computer (offline too), and pictures the rules refuse never reach the server."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage
from test_briefings_service import COLD_CALL_FILE, _synced, png_bytes

from app.client.avatars import AvatarError, AvatarService, avatar_key
from app.client.backend import SyncedBackend
from app.client.briefings import BriefingsService
from app.client.studio import StudioService
from app.client.views import PermissionDenied, Scenario, ServerConfig
from app.scenario_package import MAX_AVATAR_BYTES, read_package

DEMO_PASSWORD = "coachdesk-demo"


def _objects(db, scenario_id: str) -> list[str]:
    return [
        row[0]
        for row in db.execute(
            "select name from storage.objects where bucket_id = 'scenario-assets' "
            "and (storage.foldername(name))[2] = %s order by name",
            (scenario_id,),
        )
    ]


@pytest.fixture
def drafts(backend, accounts, db) -> Iterator[list[str]]:
    """The admin signed in; every draft id appended is removed afterwards with its files."""
    backend.sign_in(accounts["admin"], DEMO_PASSWORD)
    made: list[str] = []
    yield made
    for scenario_id in made:
        files = _objects(db, scenario_id)
        if files:
            backend.live(lambda s, f=files: s.client.storage.from_("scenario-assets").remove(f))
        db.execute("delete from public.scenarios where id = %s", (scenario_id,))


@pytest.fixture
def trainee(stack, tmp_path, accounts) -> Iterator[SyncedBackend]:
    backend = SyncedBackend(
        ServerConfig(stack.url, stack.anon_key),
        data_dir=tmp_path / "trainee",
        remember=False,
        interval_s=3600,
    )
    backend.sign_in(accounts["trainee"], DEMO_PASSWORD)
    yield backend
    if backend.account is not None:
        backend.sign_out(discard_unsynced=True)
    backend.close()


def _saved(backend, scenario_id: str, avatar: str) -> Scenario:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = _synced(backend, scenario_id)
        if found.persona.get("avatar") == avatar:
            return found
        backend.sync_now()
    pytest.fail("the saved picture never reached the cache")


def test_the_picture_is_uploaded_exported_imported_and_kept_once_seen(
    drafts, backend, trainee, db, tmp_path
):
    studio = StudioService(backend)
    drafts.append(studio.import_file(COLD_CALL_FILE))
    draft = _synced(backend, drafts[0])
    portrait = tmp_path / "Dana portrait.png"
    portrait.write_bytes(png_bytes())

    picture = AvatarService(backend).upload(draft, portrait)
    assert picture.name.startswith("avatar-") and picture.name.endswith(".png")
    assert picture.data == portrait.read_bytes()
    key = avatar_key(draft, picture.name)
    assert key == f"{draft.org_id}/{draft.id}/persona/{picture.name}"
    assert _objects(db, draft.id) == [f"{draft.org_id}/{draft.id}/briefing.pdf", key]
    # A folder beside the briefing: never one of the attachments a trainee reads.
    assert [b.name for b in BriefingsService(backend).list(draft)] == ["briefing.pdf"]

    edited = replace(draft, persona={**draft.persona, "avatar": picture.name})
    studio.save_draft(edited, draft)
    saved = _saved(backend, draft.id, picture.name)

    exported = studio.export_file(saved.id, tmp_path / "with-picture")
    package = read_package(exported)
    assert package.avatar is not None and package.avatar.data == portrait.read_bytes()
    assert [a.name for a in package.attachments] == ["briefing.pdf"]
    drafts.append(studio.import_file(exported))
    again = _synced(backend, drafts[1])
    assert again.persona["avatar"] == picture.name
    assert avatar_key(again, picture.name) in _objects(db, again.id)

    # A trainee of the org: not while it is a draft (20261205000600); once it is live,
    # fetched once through a signed URL, then the copy kept here.
    service = AvatarService(trainee)
    with pytest.raises(AvatarError, match="not on the server"):
        service.image(saved)
    studio.publish(saved.id)
    assert service.cached(saved) is None
    assert service.image(saved) == portrait.read_bytes()
    kept = trainee.pictures_folder / str(saved.org_id) / saved.id / picture.name
    assert kept.read_bytes() == portrait.read_bytes()
    with pytest.raises(PermissionDenied, match="Only admins"):
        service.upload(saved, portrait)
    trainee.sign_out(discard_unsynced=True)  # no server to ask any more
    assert AvatarService(trainee).image(saved) == portrait.read_bytes()
    assert AvatarService(trainee).image(replace(saved, persona={"name": "A", "role": "B"})) is None


def test_a_picture_no_longer_on_the_server_is_said_and_left_out_of_the_file(
    drafts, backend, trainee, tmp_path
):
    studio = StudioService(backend)
    drafts.append(studio.import_file(COLD_CALL_FILE))
    draft = _synced(backend, drafts[0])
    named = replace(draft, persona={**draft.persona, "avatar": "avatar-0000000000000000.png"})
    with pytest.raises(AvatarError, match="not on the server"):
        AvatarService(trainee, tmp_path / "pictures").image(named)
    studio.save_draft(named, draft)
    saved = _saved(backend, draft.id, "avatar-0000000000000000.png")
    package = read_package(studio.export_file(saved.id, tmp_path / "no-picture"))
    assert package.avatar is None and "avatar" not in package.scenario.persona


@pytest.mark.parametrize(
    ("name", "content", "refusal"),
    [
        ("face.gif", b"GIF89a" + b"\0" * 16, "cannot be a persona's picture: choose a PNG or JPEG"),
        ("face.png", b"not a picture at all", "is not really a PNG image"),
        ("face.jpg", b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "is not really a JPEG image"),
        ("face.png", b"", "is empty"),
        ("face.png", None, "a persona's picture may be at most 5 MB"),
    ],
)
def test_pictures_the_rules_refuse_never_reach_the_server(
    drafts, backend, db, tmp_path, name, content, refusal
):
    drafts.append(StudioService(backend).import_file(COLD_CALL_FILE))
    draft = _synced(backend, drafts[0])
    path = tmp_path / name
    if content is None:  # a camera original: larger than the limit (sparse: no disk used)
        with path.open("wb") as handle:
            handle.write(b"\x89PNG\r\n\x1a\n")
            handle.truncate(MAX_AVATAR_BYTES + 1)
    else:
        path.write_bytes(content)
    with pytest.raises(AvatarError, match=refusal) as raised:
        AvatarService(backend).upload(draft, path)
    assert str(raised.value).endswith(".")  # a sentence
    assert _objects(db, draft.id) == [f"{draft.org_id}/{draft.id}/briefing.pdf"]
    assert os.path.exists(path)


def test_a_duplicate_takes_the_persona_s_picture_with_the_briefing(drafts, backend, db, tmp_path):
    studio = StudioService(backend)
    drafts.append(studio.import_file(COLD_CALL_FILE))
    draft = _synced(backend, drafts[0])
    portrait = tmp_path / "portrait.png"
    portrait.write_bytes(png_bytes())
    picture = AvatarService(backend).upload(draft, portrait)
    studio.save_draft(replace(draft, persona={**draft.persona, "avatar": picture.name}), draft)
    _saved(backend, draft.id, picture.name)

    drafts.append(studio.duplicate(draft.id))
    copy = _synced(backend, drafts[1])
    assert _objects(db, copy.id) == [
        f"{copy.org_id}/{copy.id}/briefing.pdf",
        avatar_key(copy, picture.name),
    ]


def test_a_replaced_picture_leaves_no_file_behind_but_the_one_opened_with(
    drafts, backend, db, tmp_path
):
    def png(color: str) -> Path:
        image = QImage(40, 30, QImage.Format.Format_RGB32)
        image.fill(QColor(color))
        data = QByteArray()
        buffer = QBuffer(data)
        buffer.open(QIODevice.OpenModeFlag.WriteOnly)
        assert image.save(buffer, "PNG")
        path = tmp_path / f"{color}.png"
        path.write_bytes(bytes(data.data()))
        return path

    studio = StudioService(backend)
    drafts.append(studio.import_file(COLD_CALL_FILE))
    draft = _synced(backend, drafts[0])
    service = AvatarService(backend)
    opened = service.upload(draft, png("teal"))
    draft = replace(draft, persona={**draft.persona, "avatar": opened.name})  # as saved
    first = service.upload(draft, png("orange"))
    second = service.upload(draft, png("purple"))
    assert service.prune(draft, {second.name, opened.name}) == 1  # the orange one
    assert _objects(db, draft.id) == sorted(
        [
            f"{draft.org_id}/{draft.id}/briefing.pdf",
            *(avatar_key(draft, p.name) for p in (opened, second)),
        ]
    )
    assert avatar_key(draft, first.name) not in _objects(db, draft.id)
    assert service.prune(draft, {second.name, opened.name}) == 0
