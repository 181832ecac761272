"""Review of an attempt that has not reached the server yet (provisional score), then sync."""

from __future__ import annotations

import uuid
from datetime import timedelta

import sounddevice
from PySide6.QtWidgets import QMessageBox

from app.client.backend import SyncedBackend
from app.client.views import FinishedAttempt, SyncState, utc_now
from audio.playback import Player
from ui.main_window import MainWindow

COLD_CALL = "f0000000-0000-4000-8000-000000000001"
TRANSCRIPT = {
    "version": 1,
    "turns": [
        {"speaker": "persona", "start": 0.0, "end": 2.1, "text": "Dana speaking. Who is this?"},
        {
            "speaker": "rep",
            "start": 2.9,
            "end": 7.4,
            "text": "Hi Dana, this is Sam from Coachdesk. Did I catch you at a bad time?",
        },
        {
            "speaker": "persona",
            "start": 8.0,
            "end": 12.5,
            "text": "We already have a vendor for that. Why should I spend time on this?",
        },
        {
            "speaker": "rep",
            "start": 13.6,
            "end": 24.0,
            "text": "Fair question. We reduce tickets and save hours. Could we book a demo?",
        },
        {"speaker": "persona", "start": 24.8, "end": 28.9, "text": "Fine, send an invite."},
    ],
}


def _finished() -> FinishedAttempt:
    started = utc_now() - timedelta(minutes=5)
    return FinishedAttempt(
        id=str(uuid.uuid4()),
        scenario_id=COLD_CALL,
        assignment_id=None,
        started_at=started,
        ended_at=started + timedelta(seconds=29),
        transcript=TRANSCRIPT,
        recording=None,
    )


def test_offline_attempt_is_provisional_until_sync_brings_the_server_score(
    window, sign_in, qtbot, db, network
):
    sign_in(window, "trainee")
    backend = window.ctx.backend
    network.offline = True  # the network goes down after sign-in
    row = backend.save_attempt(_finished())
    assert row.sync_state is SyncState.LOCAL and row.provisional and row.score is not None
    qtbot.waitUntil(
        lambda: window.status.sync_label.text().startswith("Offline · 1 waiting"), timeout=30_000
    )
    assert db.execute(
        "select count(*) from public.scenario_attempts where id = %s", (row.id,)
    ).fetchone() == (0,)

    window.open_review(row.id)
    review = window.review
    qtbot.waitUntil(
        lambda: review.detail is not None and review.detail.row.id == row.id, timeout=30_000
    )
    assert review.score.text().endswith("(provisional)")
    assert review.sync_state.text() == "Saved on this computer"
    assert review.playback.status.text() == "No recording for this attempt."

    network.offline = False
    window.status.sync_button.click()
    qtbot.waitUntil(
        lambda: window.status.sync_label.text().startswith("All synced"), timeout=30_000
    )
    qtbot.waitUntil(lambda: review.detail.row.sync_state is SyncState.SCORED, timeout=30_000)
    (server_score,) = db.execute(
        "select score from public.scenario_attempts where id = %s and status = 'scored'", (row.id,)
    ).fetchone()
    # The provisional score was computed exactly as the server computes it.
    assert review.detail.row.score == server_score == row.score
    assert not review.score.text().endswith("(provisional)")


def test_a_saved_sign_in_works_offline_after_a_restart(
    qtbot, window, sign_in, ctx, devices, server, tmp_path, keyring_backend, network
):
    sign_in(window, "trainee")
    online = window.home.data
    window.close()
    ctx.backend.close()  # quit: the sign-in stays in the keyring, the cache on disk

    network.offline = True
    ctx.backend = SyncedBackend(
        server,
        data_dir=tmp_path / "data",
        keyring_backend=keyring_backend,
        interval_s=3600,
        transport=network,
    )
    restarted = MainWindow(ctx, devices)
    qtbot.addWidget(restarted)
    restarted.show()
    button = restarted.signin.offline_button
    qtbot.waitUntil(button.isVisible, timeout=30_000)
    assert button.text() == "Continue as Tara Trainee (works offline)"
    button.click()
    qtbot.waitUntil(
        lambda: restarted.home is not None and restarted.home.data is not None, timeout=30_000
    )
    assert [a.id for a in restarted.home.data.assignments] == [a.id for a in online.assignments]
    assert restarted.home.data.recent_attempts == online.recent_attempts
    qtbot.waitUntil(
        lambda: restarted.status.sync_label.text().startswith("Offline"), timeout=30_000
    )
    assert restarted.account_label.text().endswith("offline")
    ctx.backend.sign_out(discard_unsynced=True)
    ctx.backend.close()


def _no_speakers(**_options):
    # What PortAudio raises when the output device is gone (paInvalidDevice).
    raise sounddevice.PortAudioError("Error querying device -1", -9996)


def test_playback_without_speakers_says_so_in_plain_words(qtbot, window, speech):
    review = window.review
    review.playback.set_player(Player(speech("Testing playback."), stream_factory=_no_speakers))
    review.playback.toggle()
    box = _message_box(qtbot, window)
    assert box.text().startswith("Cannot play audio")
    assert "Traceback" not in box.text()
    assert review.playback.play_button.text() == "Play"  # not stuck in a playing state


def _message_box(qtbot, window):
    qtbot.waitUntil(
        lambda: window.findChild(QMessageBox, "errorMessage") is not None, timeout=30_000
    )
    return window.findChild(QMessageBox, "errorMessage")


def test_review_of_a_seed_attempt_shows_kpis_against_ranges(window, sign_in, qtbot):
    sign_in(window, "trainee")
    strong = max(
        (a for a in window.home.data.recent_attempts if a.score is not None), key=lambda a: a.score
    )
    window.open_review(strong.id)
    review = window.review
    qtbot.waitUntil(
        lambda: review.detail is not None and review.detail.row.id == strong.id, timeout=30_000
    )
    cards = [review.kpi_grid.itemAt(i).widget() for i in range(review.kpi_grid.count())]
    talk = next(c for c in cards if c.reading.info.key == "talk_ratio")
    # The cold call's rubric scores talk ratio against 0.35–0.6: the card shows that range.
    assert talk.reading.from_rubric and "this scenario" in talk.reading.target_text
    assert talk.verdict.text() in ("✓ within range", "above range", "below range")
    assert review.breakdown.rowCount() == 3
    assert review.verdict.text() == "Passed · pass mark 70"


def test_signing_out_with_unsynced_calls_asks_first(window, sign_in, qtbot, network):
    sign_in(window, "trainee")
    network.offline = True
    window.ctx.backend.save_attempt(_finished())

    def question() -> QMessageBox | None:
        return window.findChild(QMessageBox, "confirmSignOut")

    window.sign_out_action.trigger()
    qtbot.waitUntil(lambda: question() is not None, timeout=30_000)
    box = question()
    assert "Sync first, or sign out anyway?" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    box.button(QMessageBox.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: question() is None, timeout=5_000)  # deleted on close
    assert window.pages.currentWidget() is not window.signin
    assert window.ctx.backend.account is not None  # nothing was discarded

    window.sign_out_action.trigger()
    qtbot.waitUntil(lambda: question() is not None, timeout=30_000)
    (anyway,) = [b for b in question().buttons() if b.text() == "Sign out anyway"]
    anyway.click()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=30_000)
    assert window.ctx.backend.account is None


def test_a_sync_that_brings_the_score_leaves_the_recording_playing(
    window, sign_in, qtbot, network, speech
):
    sign_in(window, "trainee")
    network.offline = True
    finished = _finished()
    row = window.ctx.backend.save_attempt(
        FinishedAttempt(**{**finished.__dict__, "recording": speech("Testing playback.")})
    )
    window.open_review(row.id)
    review = window.review
    qtbot.waitUntil(lambda: review.playback.player is not None, timeout=30_000)
    player = review.playback.player
    review.playback.toggle()  # listening when the sync lands
    assert player.playing
    cards = _kpi_cards(review)

    network.offline = False
    window.status.sync_button.click()
    qtbot.waitUntil(lambda: review.detail.row.sync_state is SyncState.SCORED, timeout=30_000)
    assert not review.score.text().endswith("(provisional)")
    # The same recording (still on this computer): the same player, still playing; the server's
    # KPIs equal the provisional ones, so the cards are not rebuilt either.
    assert review.playback.player is player and player.playing
    assert _kpi_cards(review) == cards


def _kpi_cards(review) -> list[object]:
    return [review.kpi_grid.itemAt(i).widget() for i in range(review.kpi_grid.count())]
