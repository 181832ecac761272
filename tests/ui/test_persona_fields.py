"""The persona's voice and picture in the scenario editor, try it and practice: the voices of
this computer in a list (the stored one kept and marked when it is not here), "Hear it" saying
the first line through espeak-ng's own process without the GUI waiting, a picture chosen,
checked and uploaded, shown in try it, and on the trainee's practice screen (online once, then
offline from the copy kept)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QFileDialog
from test_briefing_dialog import COLD_CALL_FILE, _scenario
from ui_fakes import RecordingSpeakers
from ui_flows import SLOW

from app.client.avatars import AvatarService
from app.client.backend import SyncedBackend
from app.client.studio import StudioService
from app.client.views import Scenario
from audio.decode import SAMPLE_RATE
from audio.voices import NOT_HERE
from ui.studio.persona_fields import HEAR, STOP, VoicePicker
from ui.studio_editor import ScenarioEditor
from ui.voice import NO_ENGINE, PersonaVoice

DEMO_PASSWORD = "coachdesk-demo"
COLD_CALL_ID = "f0000000-0000-4000-8000-000000000001"


def portrait(path, color: str = "teal"):
    image = QImage(120, 90, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    assert image.save(str(path))
    return path


def _listed(qtbot, picker: VoicePicker) -> None:
    qtbot.waitUntil(lambda: picker.listed, timeout=SLOW)


def test_the_voices_of_this_computer_are_listed_and_hear_it_does_not_wait(qtbot):
    speakers = RecordingSpeakers()
    voice = PersonaVoice(engines=(), line_player=speakers.player)
    picker = VoicePicker("en-us", lambda: "Dana speaking. Who is this?", voice=voice)
    qtbot.addWidget(picker)
    _listed(qtbot, picker)
    labels = [picker.combo.itemText(i) for i in range(picker.combo.count())]
    assert labels[0] == "Default voice" and len(labels) > 50
    assert picker.combo.currentText() == "English (America) — en-us"
    assert picker.value == "en-us"

    picker.combo.setCurrentIndex(picker.combo.findData("en-gb"))
    picker.hear_button.click()
    # espeak-ng makes the line in its own process: the click is back before any audio plays.
    assert picker.speaking and picker.hear_button.text() == STOP and speakers.opened == 0
    with qtbot.waitSignal(voice.finished, timeout=SLOW):
        pass
    assert not picker.speaking and picker.hear_button.text() == HEAR
    assert len(speakers.heard()) / SAMPLE_RATE > 0.8

    # Stop while it is still being made: back at once, nothing more is played.
    picker.hear_button.click()
    picker.hear_button.click()
    assert not picker.speaking and picker.hear_button.text() == HEAR


def test_a_stored_voice_not_on_this_computer_is_kept_and_marked(qtbot):
    picker = VoicePicker("pt-xx-nowhere", lambda: "Olá", voice=PersonaVoice(engines=()))
    qtbot.addWidget(picker)
    _listed(qtbot, picker)
    assert picker.combo.currentText() == f"pt-xx-nowhere {NOT_HERE}"
    assert picker.value == "pt-xx-nowhere"  # saved as it was unless the author picks another
    picker.combo.setCurrentIndex(0)
    assert picker.value is None


def test_without_any_engine_the_list_keeps_the_stored_voice_and_says_why(qtbot):
    picker = VoicePicker("en-us", lambda: "Hi", voice=PersonaVoice(engines=(), espeak=None))
    qtbot.addWidget(picker)
    _listed(qtbot, picker)
    assert not picker.hear_button.isEnabled()
    assert picker.notice.text() == NO_ENGINE
    assert [picker.combo.itemData(i) for i in range(picker.combo.count())] == [None, "en-us"]


@pytest.fixture
def draft(ctx, accounts, db) -> Iterator[Scenario]:
    """The admin signed in here, with a draft imported from the cold call's file (removed
    afterwards with its files)."""
    ctx.backend.sign_in(accounts["admin"], DEMO_PASSWORD)
    scenario_id = StudioService(ctx.backend).import_file(COLD_CALL_FILE)
    deadline_scenario = None
    for _ in range(30):
        deadline_scenario = next((s for s in ctx.backend.scenarios() if s.id == scenario_id), None)
        if deadline_scenario is not None:
            break
        ctx.backend.sync_now()
    assert deadline_scenario is not None
    yield deadline_scenario
    _remove_files(ctx.backend, db, scenario_id)
    db.execute("delete from public.scenarios where id = %s", (scenario_id,))


def _remove_files(backend, db, scenario_id: str, folder: str = "") -> None:
    files = [
        row[0]
        for row in db.execute(
            "select name from storage.objects where bucket_id = 'scenario-assets' "
            "and (storage.foldername(name))[2] = %s and name like %s",
            (scenario_id, f"%{folder}%"),
        )
    ]
    if files:
        backend.live(lambda s: s.client.storage.from_("scenario-assets").remove(files))


def test_the_editor_picks_a_voice_and_a_picture_and_try_it_shows_them(
    qtbot, ctx, draft, tmp_path, monkeypatch
):
    voice = PersonaVoice(engines=(), espeak=None)
    editor = ScenarioEditor(ctx, draft, voice=voice)
    qtbot.addWidget(editor)
    picker, pictures = editor.persona_voice, editor.persona_avatar
    _listed(qtbot, picker)
    assert picker.value == "en-us" and editor.edited().persona["voice"] == "en-us"
    picker.combo.setCurrentIndex(0)
    assert "voice" not in editor.edited().persona  # the default voice: the field left out
    assert not pictures.avatar.showing_picture and pictures.avatar.initials == "DW"
    assert not pictures.remove_button.isEnabled()

    gif = tmp_path / "face.gif"
    gif.write_bytes(b"GIF89a" + b"\0" * 16)
    pictures.choose(gif)
    qtbot.waitUntil(lambda: "PNG or JPEG" in pictures.message.text(), timeout=SLOW)
    assert pictures.file_name is None and "avatar" not in editor.edited().persona

    face = portrait(tmp_path / "Dana.png")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(face), ""))
    pictures.choose_button.click()
    qtbot.waitUntil(lambda: pictures.file_name is not None, timeout=SLOW)
    assert pictures.message.text().startswith("Dana.png is the persona's picture")
    assert pictures.avatar.showing_picture and pictures.remove_button.isEnabled()
    assert editor.edited().persona["avatar"] == pictures.file_name

    dialog = editor.try_it()
    assert dialog is not None  # deleted on close: the editor owns it
    assert dialog.avatar.showing_picture
    assert dialog.persona_label.text() == "Dana Whitfield, IT Director"
    dialog.close()

    pictures.remove_button.click()
    assert not pictures.avatar.showing_picture and "avatar" not in editor.edited().persona


@pytest.fixture
def cold_call_picture(server, tmp_path, accounts, db) -> Iterator[str]:
    """A picture for the demo's published cold call, uploaded by the admin on another
    computer; the name its persona would hold. Removed afterwards."""
    admin = SyncedBackend(server, data_dir=tmp_path / "admin", remember=False, interval_s=3600)
    admin.sign_in(accounts["admin"], DEMO_PASSWORD)
    scenario = next(s for s in admin.scenarios() if s.id == COLD_CALL_ID)
    picture = AvatarService(admin).upload(scenario, portrait(tmp_path / "dana.png", "navy"))
    yield picture.name
    _remove_files(admin, db, COLD_CALL_ID, "/persona/")
    admin.sign_out(discard_unsynced=True)
    admin.close()


def test_practice_shows_the_persona_s_picture_and_still_does_offline(
    window, sign_in, qtbot, ctx, network, cold_call_picture
):
    sign_in(window, "trainee")
    scenario = _scenario(ctx.backend, COLD_CALL_ID)
    pictured = replace(scenario, persona={**scenario.persona, "avatar": cold_call_picture})
    practice = window.practice
    for offline in (False, True):  # the second call: the copy kept after the first
        network.offline = offline
        window.start_practice(pictured, None)
        qtbot.waitUntil(lambda: practice.controller is not None, timeout=SLOW)
        qtbot.waitUntil(lambda: practice.speaker_avatar.showing_picture, timeout=SLOW)
        assert practice.persona_card.avatar.showing_picture
        practice.close_call()
    network.offline = False

    window.start_practice(scenario, None)  # no picture: initials, as before
    qtbot.waitUntil(lambda: practice.controller is not None, timeout=SLOW)
    assert not practice.speaker_avatar.showing_picture
    assert practice.speaker_avatar.initials == "DW"
    practice.close_call()
