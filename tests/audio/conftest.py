"""Fixtures for audio tests: one loaded model per session and espeak-ng speech made once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from audio_speech import espeak

from audio.transcribe import Transcriber, TranscriberSettings


@pytest.fixture(scope="session")
def transcriber() -> Transcriber:
    """The default transcriber (tiny.en int8, fillers kept, VAD on), loaded once."""
    transcriber = Transcriber(TranscriberSettings())
    transcriber.load()
    return transcriber


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """speech(text, speed=150) -> WAV of espeak-ng saying `text`; each text is made once."""
    folder = tmp_path_factory.mktemp("speech")
    made: dict[tuple[str, int], Path] = {}

    def make(text: str, speed: int = 150) -> Path:
        key = (text, speed)
        if key not in made:
            made[key] = espeak(text, folder / f"speech-{len(made)}.wav", speed=speed)
        return made[key]

    return make
