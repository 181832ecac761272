"""The whole flow on the local stack: a trainee practises an assignment with recorded speech
standing in for the microphone, reviews it, and a manager finds it with the server's score.

Real parts: Recorder (fed by espeak-ng WAVs at the device boundary), faster-whisper, the
practice engine, the supabase client, storage upload and signed-URL playback.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from ui_flows import COLD_CALL_ANSWERS as ANSWERS
from ui_flows import COLD_CALL_ASSIGNMENT, SLOW, speak_answers, start_assignment

from app.client.views import SyncState
from ui.models import ROW_ROLE

COLD_CALL = "f0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"


def test_practise_review_and_the_manager_finds_the_server_score(
    key_ends_turns, window, sign_in, qtbot, devices, speech, db
):
    devices.recorder_factory.add(speech(text) for text in ANSWERS)
    sign_in(window, "trainee")
    start_assignment(window)

    practice = window.practice
    assert window.pages.currentWidget() is practice
    assert practice.persona_card.name.text() == "Dana Whitfield"
    qtbot.waitUntil(lambda: "Who is this?" in practice.persona_line.text(), timeout=SLOW)
    speak_answers(qtbot, window, devices, ANSWERS)

    # The third answer leads to an end node: the call ends, is saved and synced, review opens.
    review = window.review
    qtbot.waitUntil(
        lambda: window.pages.currentWidget() is review and review.detail is not None, timeout=SLOW
    )
    attempt_id = review.detail.row.id
    # Saved, so nothing is left for crash recovery to offer; the recordings stay.
    folder = devices.recordings_root / attempt_id
    assert not (folder / "call.json").exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "call.flac",
        "turn-01.flac",
        "turn-02.flac",
        "turn-03.flac",
    ]
    # Saved here first (provisional score), then the engine sends it and pulls the server's
    # score; the open review follows by itself.
    qtbot.waitUntil(lambda: review.detail.row.sync_state is SyncState.SCORED, timeout=SLOW)
    detail = review.detail
    speakers = [t.speaker for t in review.transcript.turns]
    assert speakers == ["persona", "rep", "persona", "rep", "persona", "rep", "persona"]
    assert review.transcript.turns[-1].text == "Fine, send an invite for Thursday."
    assert "demo" in review.transcript.turns[-2].text.lower()
    stored = db.execute(
        "select score, status, assignment_id::text, recording_path from public.scenario_attempts"
        " where id = %s",
        (detail.row.id,),
    ).fetchone()
    assert stored is not None, "the attempt reached the server"
    score, status, assignment_id, recording_path = stored
    assert (status, assignment_id) == ("scored", COLD_CALL_ASSIGNMENT)
    assert recording_path == f"d0000000-0000-4000-8000-000000000001/{TRAINEE}/{detail.row.id}.flac"
    assert detail.row.sync_state is SyncState.SCORED and detail.row.score == score
    assert review.sync_state.text() == "Scored by the server"
    assert review.breakdown.rowCount() == 3
    assert review.kpi_grid.count() > 0

    # Click a rep turn: playback jumps to where that turn starts on the call's timeline.
    qtbot.waitUntil(lambda: review.playback.player is not None, timeout=SLOW)
    rep_row = speakers.index("rep", 2)
    index = review.transcript.index(rep_row)
    rect = review.transcript_view.visualRect(index)
    qtbot.mouseClick(
        review.transcript_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center()
    )
    expected = review.transcript.turns[rep_row].start
    assert abs(review.playback.player.position - expected) < 0.001
    assert review.playback.player.playing

    # The manager signs in and finds the attempt, with the server's score, through the filters.
    qtbot.keyClick(review, Qt.Key.Key_Escape)
    window.sign_out_action.trigger()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=30_000)
    sign_in(window, "manager")
    manager = window.manager
    window.workspace.setCurrentWidget(manager)
    qtbot.waitUntil(lambda: manager.data is not None, timeout=SLOW)
    filters = manager.filters
    filters.person.setCurrentIndex(filters.person.findData(TRAINEE))
    filters.scenario.setCurrentIndex(filters.scenario.findData(COLD_CALL))
    visible = manager.visible_attempts()
    assert visible and all(a.user_id == TRAINEE and a.scenario_id == COLD_CALL for a in visible)
    found = next(a for a in visible if a.id == attempt_id)
    assert found.score == score and found.sync_state is SyncState.SCORED
    assert found.person == "Tara Trainee"

    # ... and opens its review, with the recording fetched through grant_signed_url.
    proxy_row = [a.id for a in visible].index(attempt_id)
    manager.table.selectRow(proxy_row)
    manager.review_button.click()
    qtbot.waitUntil(
        lambda: review.detail is not None and review.detail.row.id == attempt_id, timeout=SLOW
    )
    qtbot.waitUntil(lambda: review.playback.player is not None, timeout=SLOW)
    assert review.playback.player.duration >= expected
    assert review.meta.text().startswith("Tara Trainee")
    assert manager.table.model().index(proxy_row, 0).data(ROW_ROLE).id == attempt_id
