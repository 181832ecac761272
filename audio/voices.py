"""The text-to-speech voices on this computer, as the persona's `voice` field names them.

The field holds a language tag such as "en-us" (espeak-ng's voices are named so: `espeak-ng
--voices` lists one per language) or, for a system engine's voice, its name ("Microsoft Zira").
The voice speaking a line is found by `find_voice`: the exact name or tag first, else a voice
of the same language; a stored voice this computer lacks is offered as "(not on this computer)"
and speaks with the engine's default voice. No Qt: ui/voice.py lists the system engine's voices
and starts espeak-ng without blocking, and gives its output to `parse_espeak_voices`.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DEFAULT_LABEL = "Default voice"
NOT_HERE = "(not on this computer)"
ESPEAK_LIST_ARGS = ("--voices",)


@dataclass(frozen=True)
class Voice:
    id: str  # what the persona's `voice` field stores
    name: str  # as people read it
    language: str  # a lower-case language tag, "en-us"

    @property
    def label(self) -> str:
        """ "English (America) — en-us"; a system voice named by its language once only."""
        return (
            self.name if self.name.casefold() == self.id.casefold() else f"{self.name} — {self.id}"
        )


@dataclass(frozen=True)
class VoiceChoice:
    label: str
    value: str | None  # None: the engine's default voice (the field is left out)
    here: bool = True  # False: stored in the scenario, but no such voice on this computer


def parse_espeak_voices(text: str) -> list[Voice]:
    """`espeak-ng --voices` as voices, one per language tag (its first voice of each)."""
    voices: dict[str, Voice] = {}
    for line in text.splitlines()[1:]:  # the first line is the column headings
        parts = line.split()
        if len(parts) < 5 or not parts[0].isdigit():
            continue
        tag = parts[1].lower()
        voices.setdefault(tag, Voice(tag, parts[3].replace("_", " ").strip(), tag))
    return sorted(voices.values(), key=lambda v: (v.name.casefold(), v.id))


def espeak_voices(program: str) -> list[Voice]:
    """espeak-ng's voices, asked synchronously (the `coachdesk` commands and tests; the app asks
    through QProcess). Empty when the program cannot be run."""
    try:
        done = subprocess.run(
            [program, *ESPEAK_LIST_ARGS], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_espeak_voices(done.stdout) if done.returncode == 0 else []


def find_voice(voices: Iterable[Voice], stored: str | None) -> Voice | None:
    """The voice that says a persona's lines whose field holds `stored`: the voice of that
    name or tag, else the first of that language ("en_GB" finds "en-gb"); None: none here."""
    wanted = _tag(stored or "")
    if not wanted:
        return None
    voices = list(voices)
    exact = next((v for v in voices if wanted in (_tag(v.id), _tag(v.name))), None)
    return exact or next((v for v in voices if _tag(v.language) == wanted), None)


def voice_choices(voices: Sequence[Voice], stored: str | None) -> list[VoiceChoice]:
    """What the editor's voice list offers: the default, every voice here, and the stored
    voice marked "(not on this computer)" when no voice here is it."""
    choices = [VoiceChoice(DEFAULT_LABEL, None)]
    choices += [VoiceChoice(v.label, v.id) for v in voices]
    stored = (stored or "").strip()
    if stored and not any(_tag(v.id) == _tag(stored) for v in voices):
        choices.append(VoiceChoice(f"{stored} {NOT_HERE}", stored, here=False))
    return choices


def choice_index(choices: Sequence[VoiceChoice], stored: str | None) -> int:
    """Where `stored` is in `choices` (0, the default, when it is not there)."""
    wanted = _tag(stored or "")
    return next((i for i, c in enumerate(choices) if c.value and _tag(c.value) == wanted), 0)


def sample_line(branching: Mapping[str, Any]) -> str:
    """What "Hear it" says: the persona's first line (the start node's), or a greeting."""
    nodes = [n for n in branching.get("nodes", ()) if isinstance(n, Mapping)]
    start = branching.get("start")
    first = next((n for n in nodes if n.get("id") == start), nodes[0] if nodes else None)
    line = str(first.get("persona_line") or "").strip() if first else ""
    return line or "Hello, who is this?"


def _tag(text: str) -> str:
    return text.strip().replace("_", "-").casefold()
