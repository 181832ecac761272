"""End-of-turn detection on real speech levels (espeak-ng) and on synthetic rooms."""

from __future__ import annotations

import numpy as np
import pytest

from audio.capture import block_level
from audio.decode import SAMPLE_RATE, load_audio
from audio.turns import EndOfTurn, TurnSettings

BLOCK = SAMPLE_RATE // 20  # the recorder's 50 ms blocks


def _int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(samples * 32767, -32768, 32767).astype(np.int16)


def _noise(seconds: float, dbfs: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(0, 10 ** (dbfs / 20), int(seconds * SAMPLE_RATE)).astype(np.float32)


def _tone(seconds: float, dbfs: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sqrt(2) * 10 ** (dbfs / 20) * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def _end_time(audio: np.ndarray, settings: TurnSettings | None = None) -> float | None:
    detector = EndOfTurn(settings)
    pcm = _int16(audio)
    for index in range(0, len(pcm) - BLOCK + 1, BLOCK):
        if detector.update(block_level(pcm[index : index + BLOCK]), BLOCK / SAMPLE_RATE):
            return (index + BLOCK) / SAMPLE_RATE
    return None


def test_real_speech_then_silence_ends_after_the_pause(speech):
    speech = load_audio(speech("Thanks for taking my call, do you have a minute?"))
    audio = np.concatenate([_noise(1.0, -70), speech, _noise(3.0, -70)])
    ended = _end_time(audio)
    assert ended is not None
    spoken_until = (SAMPLE_RATE + len(speech)) / SAMPLE_RATE
    # espeak's own trailing silence counts toward the pause, so allow it on the early side.
    assert spoken_until - 0.5 <= ended <= spoken_until + TurnSettings().silence_seconds + 0.2


def test_pauses_between_words_do_not_end_the_turn():
    words = [_tone(0.4, -20), _noise(0.6, -70)] * 4
    assert _end_time(np.concatenate(words)) is None


def test_silence_before_the_rep_speaks_never_ends_the_turn():
    assert _end_time(_noise(10.0, -70)) is None


def test_a_click_is_not_a_turn():
    assert _end_time(np.concatenate([_noise(1, -70), _tone(0.1, -10), _noise(5, -70)])) is None


@pytest.mark.parametrize("room_dbfs", [-70.0, -45.0])
def test_works_in_a_quiet_office_and_a_noisy_car(room_dbfs):
    audio = np.concatenate(
        [_noise(1.0, room_dbfs), _tone(1.5, room_dbfs + 25), _noise(2.0, room_dbfs, seed=2)]
    )
    ended = _end_time(audio)
    assert ended is not None and 2.5 + 1.1 <= ended <= 2.5 + 1.4


def test_once_ended_it_stays_ended():
    detector = EndOfTurn(TurnSettings(silence_seconds=0.1, min_speech_seconds=0.05))
    loud, quiet = block_level(_int16(_tone(0.05, -10))), block_level(_int16(_noise(0.05, -70)))
    detector.update(quiet, 0.05)  # the room, before the rep speaks
    detector.update(loud, 0.05)
    detector.update(loud, 0.05)
    assert detector.speaking
    detector.update(quiet, 0.05)
    assert detector.update(quiet, 0.05)
    assert detector.update(loud, 0.05) and not detector.speaking


def test_a_rep_who_speaks_at_once_is_heard_after_the_first_pause():
    audio = np.concatenate(
        [_tone(0.5, -20), _noise(0.3, -70), _tone(1.0, -20), _noise(2.0, -70, seed=3)]
    )
    assert _end_time(audio) is not None
