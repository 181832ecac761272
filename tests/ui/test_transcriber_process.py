"""Transcription in a child process: same results and errors as in-process, and cancellable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from app.client.transcriber_process import ProcessTranscriber
from app.kpis import tokenize
from audio.errors import AudioError, AudioFileError, ModelLoadError, TranscriptionCancelled
from audio.transcribe import TranscriberSettings

SENTENCE = "Could we book a short demo meeting on Thursday?"


def test_transcribes_speech_with_progress(transcriber, speech):
    fractions: list[float] = []
    utterance = transcriber.transcribe(speech(SENTENCE), progress=fractions.append)
    words = tokenize(utterance.text)
    assert {"demo", "meeting", "thursday"} <= set(words)
    assert fractions and fractions[-1] == 1.0 and fractions == sorted(fractions)
    assert utterance.words and utterance.words[0].start < utterance.words[-1].end
    assert utterance.duration > 1.0


def test_cancel_stops_the_child_and_it_stays_usable(transcriber, speech):
    # Several 30-second windows after the first progress report, so the call is still going
    # when the cancel arrives however loaded the machine (with ~36 s, the last short window
    # sometimes finished first).
    long_audio = speech(" ".join([SENTENCE] * 40))
    asked = threading.Event()

    def cancelled() -> bool:
        return asked.is_set()

    def progress(_fraction: float) -> None:
        asked.set()  # cancel as soon as the child reports anything

    with pytest.raises(TranscriptionCancelled):
        transcriber.transcribe(long_audio, progress=progress, cancelled=cancelled)
    again = transcriber.transcribe(speech(SENTENCE))
    assert "thursday" in tokenize(again.text)


def test_errors_keep_their_kind(tmp_path):
    broken = ProcessTranscriber(TranscriberSettings(model_path=tmp_path / "no-model"))
    try:
        with pytest.raises(ModelLoadError) as error:
            broken.load()
        assert "no-model" in str(error.value) and "recording is kept" in str(error.value)
    finally:
        broken.close()


def test_an_unreadable_file_is_refused_before_the_child(transcriber, tmp_path):
    bad = tmp_path / "turn.flac"
    bad.write_bytes(b"not audio")
    with pytest.raises(AudioFileError):
        transcriber.transcribe(Path(bad))


def test_a_killed_child_is_replaced_by_a_new_one(speech):
    transcriber = ProcessTranscriber()
    try:
        transcriber.load()
        transcriber._process.kill()
        transcriber._process.join()
        utterance = transcriber.transcribe(speech(SENTENCE))  # a new child takes over
        assert "thursday" in tokenize(utterance.text)
    finally:
        transcriber.close()


def test_a_child_dying_mid_turn_is_reported_in_plain_words(speech):
    transcriber = ProcessTranscriber()
    try:
        transcriber.load()
        with pytest.raises(AudioError) as error:
            transcriber.transcribe(
                speech(" ".join([SENTENCE] * 12)),
                progress=lambda _fraction: transcriber._process.kill(),
            )
        assert str(error.value).startswith("The transcription process stopped unexpectedly")
        assert "thursday" in tokenize(transcriber.transcribe(speech(SENTENCE)).text)
    finally:
        transcriber.close()
