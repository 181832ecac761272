"""The voices on this computer as the persona's `voice` field names them: espeak-ng's listing
read for real, the stored voice found by name or language, one this computer lacks kept and
marked, and the line "Hear it" says."""

from __future__ import annotations

import shutil

from app.scenarios import load_scenarios
from audio.voices import (
    DEFAULT_LABEL,
    NOT_HERE,
    Voice,
    choice_index,
    espeak_voices,
    find_voice,
    parse_espeak_voices,
    sample_line,
    voice_choices,
)

LISTING = """Pty Language       Age/Gender VoiceName          File                 Other Languages
 5  af              --/M      Afrikaans          gmw/af
 2  en-gb           --/M      English_(Great_Britain) gmw/en            (en 2)
 5  en-us           --/M      English_(America)  gmw/en-US            (en 3)
 5  en-us           --/M      English_(America,_New_York_City) gmw/en-US-nyc
"""


def test_espeak_ng_lists_its_voices_by_language_tag() -> None:
    program = shutil.which("espeak-ng")
    assert program is not None, "the Makefile's APT_PACKAGES install espeak-ng"
    voices = espeak_voices(program)
    by_id = {v.id: v for v in voices}
    assert len(voices) > 50
    assert by_id["en-us"].name == "English (America)" and by_id["en-us"].language == "en-us"
    assert by_id["en-gb"].label == "English (Great Britain) — en-gb"
    # Every demo scenario's stored voice is one espeak-ng has.
    stored = {s.profile.voice for s in load_scenarios()} - {None}
    assert stored and all(find_voice(voices, voice) is not None for voice in stored)


def test_a_program_that_cannot_run_lists_no_voices(tmp_path) -> None:
    assert espeak_voices(str(tmp_path / "no-espeak-ng")) == []


def test_the_listing_keeps_one_voice_per_tag_in_name_order() -> None:
    voices = parse_espeak_voices(LISTING)
    assert [(v.id, v.name) for v in voices] == [
        ("af", "Afrikaans"),
        ("en-us", "English (America)"),
        ("en-gb", "English (Great Britain)"),
    ]
    assert parse_espeak_voices("") == []


def test_the_stored_voice_is_found_by_name_or_tag_else_by_language() -> None:
    system = [Voice("Zira", "Zira", "en-us"), Voice("Hazel", "Hazel", "en-gb")]
    assert find_voice(system, "hazel") == system[1]
    assert find_voice(system, "en_US") == system[0]  # a language tag: its first voice
    assert find_voice(system, "fr-fr") is None
    assert find_voice(system, None) is None and find_voice(system, "  ") is None


def test_the_editor_offers_the_default_every_voice_and_a_stored_one_not_here() -> None:
    voices = parse_espeak_voices(LISTING)
    choices = voice_choices(voices, "en-us")
    assert [c.value for c in choices] == [None, "af", "en-us", "en-gb"]
    assert choices[0].label == DEFAULT_LABEL and all(c.here for c in choices)
    assert choice_index(choices, "EN-US") == 2

    kept = voice_choices(voices, "pt-br")
    assert kept[-1].label == f"pt-br {NOT_HERE}" and kept[-1].value == "pt-br"
    assert not kept[-1].here and choice_index(kept, "pt-br") == len(kept) - 1
    assert choice_index(voice_choices(voices, None), None) == 0


def test_hear_it_says_the_persona_s_first_line() -> None:
    cold_call = next(s for s in load_scenarios() if s.title.startswith("Cold call"))
    assert sample_line(cold_call.branching) == "Dana speaking. Who is this?"
    second_first = {
        "start": "b",
        "nodes": [{"id": "a", "persona_line": "A"}, {"id": "b", "persona_line": "B"}],
    }
    assert sample_line(second_first) == "B"
    assert sample_line({"nodes": []}) == "Hello, who is this?"
