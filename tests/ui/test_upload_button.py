"""upload = "manual" (docs/deployment.md): a practised call's row syncs, but its recording and
transcript stay on this computer until the rep presses Upload on the review screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings
from ui_flows import COLD_CALL_ANSWERS, SLOW, speak_answers, start_assignment

from app.client.backend import SyncedBackend
from app.client.views import SyncState
from app.config import UploadPolicy
from ui.app import build_window
from ui.preferences import Preferences


@pytest.fixture
def backend(server, tmp_path, keyring_backend, network) -> Iterator[SyncedBackend]:
    """The app's backend as build_window makes it from a managed `upload = "manual"`."""
    backend = SyncedBackend(
        server,
        data_dir=tmp_path / "data",
        keyring_backend=keyring_backend,
        interval_s=3600,
        transport=network,
        playback_dir=tmp_path / "playback",
        upload=UploadPolicy.MANUAL,
    )
    yield backend
    if backend.account is not None:
        backend.sign_out(discard_unsynced=True)
    backend.close()


def _server_row(db, attempt_id: str) -> tuple | None:
    return db.execute(
        "select status::text, recording_path is not null, transcript is not null "
        "from public.scenario_attempts where id = %s",
        (attempt_id,),
    ).fetchone()


def _objects(db, attempt_id: str) -> list[str]:
    rows = db.execute(
        "select bucket_id from storage.objects where name like %s order by bucket_id, name",
        (f"%{attempt_id}%",),
    ).fetchall()
    return [row[0] for row in rows]


def test_a_call_stays_here_until_upload_then_goes_and_is_scored(
    key_ends_turns, window, sign_in, qtbot, devices, speech, db
):
    devices.recorder_factory.add(speech(text) for text in COLD_CALL_ANSWERS)
    sign_in(window, "trainee")
    start_assignment(window)
    speak_answers(qtbot, window, devices, COLD_CALL_ANSWERS)

    review = window.review
    qtbot.waitUntil(
        lambda: window.pages.currentWidget() is review and review.detail is not None, timeout=SLOW
    )
    attempt_id = review.detail.row.id
    # The engine syncs the new call's row by itself: its metadata reaches the server ...
    qtbot.waitUntil(lambda: _server_row(db, attempt_id) is not None, timeout=SLOW)
    qtbot.waitUntil(lambda: window.status.sync_label.text().startswith("All synced"), timeout=SLOW)
    # ... without the recording or the transcript, which nothing sends on its own.
    assert _server_row(db, attempt_id) == ("recorded", False, False)
    assert _objects(db, attempt_id) == []
    assert review.detail.row.sync_state is SyncState.HELD
    assert review.sync_state.text() == SyncState.HELD.label
    assert review.upload_button.isVisible() and review.upload_button.isEnabled()
    window.status.sync_button.click()  # syncing again changes nothing
    qtbot.waitUntil(lambda: window.status.sync_label.text().startswith("All synced"), timeout=SLOW)
    assert _objects(db, attempt_id) == []

    review.upload_button.click()
    qtbot.waitUntil(lambda: review.detail.row.sync_state is SyncState.SCORED, timeout=SLOW)
    assert not review.upload_button.isVisible()
    assert _objects(db, attempt_id) == ["recordings", "transcripts", "transcripts"]
    assert _server_row(db, attempt_id) == ("scored", True, True)


def test_the_managed_setting_reaches_the_app_backend(qapp, qtbot, tmp_path, server):
    """What IT writes (docs/deployment.md) is what `coachdesk` builds its backend with."""
    managed = tmp_path / "managed.toml"
    managed.write_text(
        f'locked = ["upload"]\nupload = "manual"\ndata_dir = "{(tmp_path / "data").as_posix()}"\n'
    )
    store = QSettings(str(tmp_path / "ui.ini"), QSettings.Format.IniFormat)
    prefs = Preferences.load(store, tmp_path / "config.toml", managed)
    window, ctx = build_window(qapp, prefs, server)
    qtbot.addWidget(window)
    try:
        assert ctx.backend.upload_policy is UploadPolicy.MANUAL
    finally:
        ctx.workers.shutdown()
        ctx.backend.close()
