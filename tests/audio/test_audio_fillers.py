"""Disfluencies kept: "um" and "uh" spoken by espeak-ng survive transcription, spelled the way the
filler KPIs count them, and the filler prompt is what makes the difference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from app.kpis import FILLER_WORDS, compute_kpis, count_fillers, tokenize
from audio.fillers import CANONICAL_FILLERS, canonical_filler, normalize_word
from audio.transcribe import Transcriber, TranscriberSettings, Utterance

# espeak-ng says "uh" as a short schwa ('V) and "um" as 'Vm; spellings like "uhh" come out as
# "oo" and are not fillers at all. 130 words per minute leaves the fillers audible.
FILLER_SENTENCES = [
    "Well, uh, I think, um, our product could help you.",
    "Our team, uh, saves you, um, about ten hours, uh, every week.",
    "Uh, thanks for taking my call. Um, do you have a minute?",
    "I, uh, wanted to ask about, um, your current process.",
]
SPOKEN_FILLERS = sum(count_fillers(tokenize(sentence)) for sentence in FILLER_SENTENCES)


def transcribe_all(transcriber: Transcriber, speech: Callable[..., Path]) -> list[Utterance]:
    return [transcriber.transcribe(speech(text, speed=130)) for text in FILLER_SENTENCES]


def fillers_in(utterance: Utterance) -> int:
    return count_fillers(tokenize(utterance.text))


@pytest.fixture(scope="module")
def with_prompt(transcriber: Transcriber, speech: Callable[..., Path]) -> list[Utterance]:
    assert transcriber.settings.keep_disfluencies
    return transcribe_all(transcriber, speech)


def test_fillers_are_transcribed(with_prompt: list[Utterance]) -> None:
    found = [fillers_in(utterance) for utterance in with_prompt]
    assert all(count >= 1 for count in found), [u.text for u in with_prompt]
    assert sum(found) >= 0.75 * SPOKEN_FILLERS, [u.text for u in with_prompt]
    said = {token for u in with_prompt for token in tokenize(u.text)}
    assert {"um", "uh"} <= said


def test_filler_words_are_spelled_as_the_kpis_count_them(with_prompt: list[Utterance]) -> None:
    filler_words = [
        word
        for utterance in with_prompt
        for word in utterance.words
        if canonical_filler(word.text.strip(".,!?;:\"'()")) is not None
    ]
    assert filler_words
    for word in filler_words:
        [token] = tokenize(word.text)
        assert token in CANONICAL_FILLERS and token in FILLER_WORDS
    # Word list and text agree, so a filler KPI gives the same count from either.
    assert len(filler_words) == sum(fillers_in(u) for u in with_prompt)


def test_filler_kpi_of_a_transcribed_turn(with_prompt: list[Utterance]) -> None:
    utterance = with_prompt[0]
    transcript = {
        "turns": [{"speaker": "rep", "start": 0, "end": utterance.duration, "text": utterance.text}]
    }
    assert compute_kpis(transcript)["filler_word_ratio"] > 0


def test_without_the_prompt_whisper_drops_fillers(
    speech: Callable[..., Path], with_prompt: list[Utterance]
) -> None:
    """The baseline that shows the technique matters: same model, same audio, no prompt."""
    plain = Transcriber(TranscriberSettings(keep_disfluencies=False))
    without = transcribe_all(plain, speech)
    with_count = sum(fillers_in(u) for u in with_prompt)
    without_count = sum(fillers_in(u) for u in without)
    assert without_count <= with_count / 2, [u.text for u in without]


def test_every_canonical_spelling_is_a_kpi_filler() -> None:
    assert CANONICAL_FILLERS <= FILLER_WORDS


@pytest.mark.parametrize(
    ("word", "normalized"),
    [
        (" Umm,", " Um,"),
        (" ummm", " um"),
        (" Uhm.", " Um."),
        ("uhh...", "uh..."),
        (" Mm-hmm.", " Mhmm."),
        (" mhm", " mhmm"),
        (" Uh-huh,", " Uh-huh,"),
        (" Erm,", " Erm,"),
        (" errr", " er"),
        (" Hmmm?", " Hmm?"),
        (" mmm", " mm"),
        (" Ahh,", " Ah,"),
        (" hello", " hello"),
        (" summer", " summer"),
        (" human", " human"),
        (" am", " am"),
        (" 10", " 10"),
    ],
)
def test_normalize_word(word: str, normalized: str) -> None:
    assert normalize_word(word) == normalized
    if canonical_filler(normalized.strip(" .,?")):
        assert count_fillers(tokenize(normalized)) == 1
