"""The review screen as a rep uses it after a call: one call length everywhere, the pass mark,
KPIs outside a range the rubric does not score explained, the previous attempt beside this one,
Practise again, Play only with a recording, and a copy of the recording saved where they say."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from ui_fakes import SilentOutputStream
from ui_flows import SLOW

from app.client.formatting import score_text
from app.client.views import FinishedAttempt, utc_now
from audio.playback import Player
from ui.review import ReviewScreen

COLD_CALL = "f0000000-0000-4000-8000-000000000001"
COLD_CALL_ASSIGNMENT = "c0000000-0000-4000-8000-000000000001"
# A rep talking far too fast (pace is not in the cold call's rubric) for a call of 63.466 s.
FAST = " ".join(["we", "help", "teams", "save", "time", "and", "money", "every", "week"] * 6)
TRANSCRIPT = {
    "version": 1,
    "turns": [
        {"speaker": "persona", "start": 0.0, "end": 2.0, "text": "Dana speaking. Who is this?"},
        {"speaker": "rep", "start": 2.5, "end": 12.0, "text": f"Hi Dana, this is Sam. {FAST}?"},
        {"speaker": "persona", "start": 12.5, "end": 20.0, "text": "Why should I care?"},
        {"speaker": "rep", "start": 20.5, "end": 30.0, "text": f"Could we book a demo? {FAST}"},
        {"speaker": "persona", "start": 30.5, "end": 63.466, "text": "Fine, send an invite."},
    ],
}


def _save(backend, *, minutes_ago: float, recording: Path | None = None) -> str:
    started = utc_now() - timedelta(minutes=minutes_ago)
    row = backend.save_attempt(
        FinishedAttempt(
            id=str(uuid.uuid4()),
            scenario_id=COLD_CALL,
            assignment_id=COLD_CALL_ASSIGNMENT,
            started_at=started,
            ended_at=started + timedelta(seconds=65.2),  # saved a moment after the last word
            transcript=TRANSCRIPT,
            recording=recording,
        )
    )
    return row.id


@pytest.fixture
def recording(speech, tmp_path) -> Path:
    """A real recording (espeak-ng WAV) of its own: saving an attempt keeps its path."""
    path = tmp_path / "call.wav"
    path.write_bytes(speech("Hi Dana, this is Sam from Coachdesk.").read_bytes())
    return path


class _TrackedPlayer(Player):
    closed = False

    def close(self) -> None:
        self.closed = True
        super().close()


def _open(qtbot, review: ReviewScreen, attempt_id: str) -> None:
    review.open_attempt(attempt_id)
    qtbot.waitUntil(
        lambda: review.detail is not None and review.detail.row.id == attempt_id, timeout=SLOW
    )


def _cards(review: ReviewScreen) -> dict:
    cards = [review.kpi_grid.itemAt(i).widget() for i in range(review.kpi_grid.count())]
    return {card.reading.info.key: card for card in cards}


def test_one_call_length_pass_mark_and_unscored_kpis_explained(window, sign_in, qtbot, recording):
    sign_in(window, "trainee")
    attempt_id = _save(window.ctx.backend, minutes_ago=5, recording=recording)
    window.open_review(attempt_id)
    review = window.review
    qtbot.waitUntil(lambda: review.detail is not None, timeout=SLOW)
    qtbot.waitUntil(lambda: review.playback.player is not None, timeout=SLOW)

    # Header, player and card: the same length, the same way (not 1:05 here, 63.466 s there).
    assert review.meta.text().endswith(" · 1:03")
    assert review.playback.time.text() == "0:00 / 1:03"
    assert _cards(review)["call_duration_seconds"].value.text() == "1:03"

    # The verdict names the pass mark (the scenario's 70).
    verdict = review.verdict.text()
    assert verdict.endswith("pass mark 70")
    assert verdict.startswith("Passed" if review.detail.breakdown["passed"] else "Not passed yet")

    # Pace is far above its range but not in the cold call's rubric: the card says it cost nothing.
    pace = _cards(review)["words_per_minute"]
    assert pace.verdict.text() == "above range"
    assert pace.note.isVisibleTo(pace) and "not scored in this scenario" in pace.note.text()
    talk = _cards(review)["talk_ratio"]  # scored by the rubric: no such note
    assert not talk.note.isVisibleTo(talk)


def test_the_previous_attempt_is_shown_beside_this_one(window, sign_in, qtbot):
    sign_in(window, "trainee")
    backend = window.ctx.backend
    # Long ago, a minute apart: other tests' calls (the stack is shared) never fall between.
    long_ago = 60 * 24 * 400 + random.uniform(0, 60 * 24 * 30)
    first = _save(backend, minutes_ago=long_ago + 1)
    second = _save(backend, minutes_ago=long_ago)
    review = window.review
    window.open_review(second)
    qtbot.waitUntil(lambda: review.detail is not None, timeout=SLOW)
    previous = review.detail.previous
    assert previous is not None and previous.id == first
    assert review.previous.text().startswith("Previous attempt (")
    assert review.previous.text().endswith(score_text(previous.score, provisional=True))
    pace = _cards(review)["words_per_minute"]
    assert pace.previous_value.isVisibleTo(pace)
    assert pace.previous_value.text() == f"Previous attempt: {pace.reading.value_text}"


def test_practise_again_starts_the_same_assignment(window, sign_in, qtbot):
    sign_in(window, "trainee")
    attempt_id = _save(window.ctx.backend, minutes_ago=5)
    window.open_review(attempt_id)
    review = window.review
    qtbot.waitUntil(lambda: review.detail is not None, timeout=SLOW)
    assert review.again_button.isVisible()
    review.again_button.click()
    practice = window.practice
    qtbot.waitUntil(lambda: window.pages.currentWidget() is practice, timeout=SLOW)
    assert practice.controller.scenario.id == COLD_CALL
    assert practice.controller.assignment_id == COLD_CALL_ASSIGNMENT
    qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
    practice.close_call()


def test_play_stays_disabled_for_an_attempt_without_a_recording(
    ctx, window, sign_in, qtbot, recording
):
    """Even when the attempt opened before it finishes preparing its player late."""
    sign_in(window, "trainee")
    with_recording = _save(ctx.backend, minutes_ago=10, recording=recording)
    without = _save(ctx.backend, minutes_ago=5)
    gate, asked = threading.Event(), threading.Event()
    opened = []

    def slow_player(path: Path) -> Player:
        asked.set()
        gate.wait(SLOW / 1000)
        player = _TrackedPlayer(path, stream_factory=SilentOutputStream)
        opened.append(player)
        return player

    review = ReviewScreen(ctx, player_factory=slow_player)
    qtbot.addWidget(review)
    _open(qtbot, review, with_recording)
    qtbot.waitUntil(asked.is_set, timeout=SLOW)
    _open(qtbot, review, without)
    assert review.playback.status.text() == "No recording for this attempt."
    gate.set()
    # The late player reaches the screen, which closes it: it is not this attempt's.
    qtbot.waitUntil(lambda: len(opened) == 1 and opened[0].closed, timeout=SLOW)
    assert review.playback.player is None
    assert not review.playback.play_button.isEnabled()
    assert not review.save_recording_button.isEnabled()


def test_the_rep_saves_a_copy_of_their_recording(ctx, window, sign_in, qtbot, recording, tmp_path):
    sign_in(window, "trainee")
    attempt_id = _save(ctx.backend, minutes_ago=5, recording=recording)
    asked: list[str] = []

    def choose(_parent, suggested: str) -> Path:
        asked.append(suggested)
        return tmp_path / "copies" / "my call"

    (tmp_path / "copies").mkdir()
    review = ReviewScreen(ctx, save_dialog=choose)
    qtbot.addWidget(review)
    _open(qtbot, review, attempt_id)
    qtbot.waitUntil(review.save_recording_button.isEnabled, timeout=SLOW)
    assert review.playback.play_button.isEnabled()
    review.save_recording_button.click()
    saved = tmp_path / "copies" / "my call.wav"
    qtbot.waitUntil(saved.exists, timeout=SLOW)
    qtbot.waitUntil(lambda: review.playback.status.text().startswith("Saved a copy"), timeout=SLOW)
    assert saved.read_bytes() == recording.read_bytes()
    assert asked and asked[0].startswith("Cold call") and asked[0].endswith(".wav")
    assert ":" not in asked[0]
