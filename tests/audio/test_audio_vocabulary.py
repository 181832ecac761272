"""A scenario's vocabulary reaches the decoder: the names and keywords of the call are heard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from audio_speech import words

from app.scenarios import load_scenarios
from audio.transcribe import MAX_HOTWORDS, Transcriber, hotwords

GREETING = "Hi Dana, my name is Sam and I am calling from Coachdesk."


def test_the_persona_and_product_names_are_heard_with_the_vocabulary(
    transcriber: Transcriber, speech: Callable[..., Path]
) -> None:
    plain = words(transcriber.transcribe(speech(GREETING)).text)
    # tiny.en without help: "Hi, Baylor. ... calling from Coach Bessk." (temperature 0: every run)
    assert "dana" not in plain and "coachdesk" not in plain

    heard = words(
        transcriber.transcribe(speech(GREETING), vocabulary=("Dana Whitfield", "Coachdesk")).text
    )
    assert "dana" in heard and "coachdesk" in heard
    # The prompt makes the model want to say the hotwords again over the silent tail; that
    # invented segment is dropped (audio.transcribe.heard), so nothing follows what was said.
    assert heard == words(GREETING)


def test_the_same_vocabulary_gives_the_same_transcript_every_time(
    transcriber: Transcriber, speech: Callable[..., Path]
) -> None:
    vocabulary = ("Dana Whitfield", "Acme Logistics", "Coachdesk", "demo", "meeting")
    texts = {transcriber.transcribe(speech(GREETING), vocabulary=vocabulary).text for _ in range(3)}
    assert len(texts) == 1, texts


def test_hotwords_text_keeps_each_term_once_in_order_and_is_capped() -> None:
    assert hotwords(()) is None
    assert hotwords(["  ", ""]) is None
    assert hotwords(["Dana  Whitfield", "demo", "Dana Whitfield", "Demo"]) == (
        "Dana Whitfield, demo, Demo"
    )
    many = [f"term{i}" for i in range(MAX_HOTWORDS + 10)]
    kept = hotwords(many)
    assert kept is not None and len(kept.split(", ")) == MAX_HOTWORDS
    assert kept.startswith("term0, term1")  # the first terms (names) are never the ones left out


def test_a_scenarios_vocabulary_is_its_persona_then_what_the_rubric_and_dialog_listen_for() -> None:
    cold_call = next(s for s in load_scenarios() if s.persona["name"] == "Dana Whitfield")
    vocabulary = cold_call.vocabulary
    assert vocabulary[:2] == ("Dana Whitfield", "Acme Logistics")
    rubric_words = {
        word
        for criterion in cold_call.rubric["criteria"]
        if criterion["type"] == "keywords"
        for group in criterion["keywords"]
        for word in group
    }
    dialog_words = {
        word
        for node in cold_call.branching["nodes"]
        for edge in node.get("edges", ())
        for word in edge.get("when", {}).get("keywords", ())
    }
    assert rubric_words | dialog_words <= set(vocabulary)
    assert len(vocabulary) == len(set(vocabulary))
