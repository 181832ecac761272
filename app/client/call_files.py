"""What a practice call keeps on disk while it runs, so that a crash or kill loses nothing.

A call's folder is `<recordings>/<attempt id>/`: one recording per rep turn (`turn-01.flac`, ...,
or the Recorder's crash-safe journal `turn-NN.recording/` while a turn is being recorded), the
assembled `call.flac` once the call is over, and `call.json`, the call's record: whose call it is,
which scenario and assignment, when it started, the persona's lines so far and where each rep turn
sits on the call's timeline. The record is written (atomically) when each rep turn starts and when
the call ends, and removed once the attempt is saved; a folder that still has one is a call that
never reached the attempt store, which app/client/recovery.py offers to recover at the next start.

A call that ended with nothing said by the rep is no attempt (nothing to score): it keeps its
record, marked `incomplete` with the reason, and is offered the same way, to resume or discard.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import soundfile
import structlog

from app.durable import atomic_file
from audio.decode import SAMPLE_RATE

log = structlog.get_logger(__name__)

RECORD_NAME = "call.json"
CALL_AUDIO_NAME = "call.flac"
RECORD_VERSION = 1
# Why a call with no rep speech is incomplete, as its record and the recovery list say it.
NOTHING_SAID = "nothing you said was heard"


class CallRecordError(ValueError):
    """A call record that cannot be read (damaged, or written by a newer Coachdesk)."""


@dataclass(frozen=True)
class RecordedTurn:
    """A rep turn's recording (a file name in the call's folder) and where it starts in the call."""

    audio: str
    offset: float  # seconds into the call


@dataclass(frozen=True)
class CallRecord:
    attempt_id: str
    user_id: str
    org_id: str | None
    scenario_id: str
    scenario_title: str
    assignment_id: str | None
    started_at: datetime  # timezone-aware
    persona_turns: tuple[Mapping[str, Any], ...]  # transcript turns ("speaker": "persona")
    rep_turns: tuple[RecordedTurn, ...]
    # Why the call ended without becoming an attempt ("nothing you said was heard"); None: it
    # was interrupted (a crash or kill) before it could be saved.
    incomplete: str | None = None
    # The scenario's key terms, so that recovering transcribes with the hotwords practice used.
    vocabulary: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "version": RECORD_VERSION,
            "attempt_id": self.attempt_id,
            "user_id": self.user_id,
            "org_id": self.org_id,
            "scenario_id": self.scenario_id,
            "scenario_title": self.scenario_title,
            "assignment_id": self.assignment_id,
            "started_at": self.started_at.isoformat(),
            "persona_turns": [dict(turn) for turn in self.persona_turns],
            "rep_turns": [{"audio": t.audio, "offset": t.offset} for t in self.rep_turns],
            # Optional: a record without it (or read by an older Coachdesk) is an interrupted call.
            "incomplete": self.incomplete,
            # Optional too: a record without it recovers without hotwords.
            "vocabulary": list(self.vocabulary),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CallRecord:
        if data.get("version") != RECORD_VERSION:
            raise CallRecordError(f"unknown call record version {data.get('version')!r}")
        try:
            started_at = datetime.fromisoformat(str(data["started_at"]))
            if started_at.tzinfo is None:
                raise CallRecordError("started_at has no time zone")
            return cls(
                attempt_id=str(data["attempt_id"]),
                user_id=str(data["user_id"]),
                org_id=_optional(data.get("org_id")),
                scenario_id=str(data["scenario_id"]),
                scenario_title=str(data.get("scenario_title") or ""),
                assignment_id=_optional(data.get("assignment_id")),
                started_at=started_at,
                persona_turns=tuple(dict(turn) for turn in data["persona_turns"]),
                rep_turns=tuple(
                    RecordedTurn(_file_name(turn["audio"]), float(turn["offset"]))
                    for turn in data["rep_turns"]
                ),
                incomplete=_optional(data.get("incomplete")),
                vocabulary=tuple(str(term) for term in data.get("vocabulary") or ()),
            )
        except (KeyError, TypeError, ValueError) as error:
            if isinstance(error, CallRecordError):
                raise
            raise CallRecordError(f"damaged call record: {error!r}") from error


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)


def _file_name(value: Any) -> str:
    """A turn's file, which must be in the call's own folder (a record never points elsewhere)."""
    name = str(value)
    if Path(name).name != name or name in ("", ".", ".."):
        raise CallRecordError(f"turn audio {name!r} is not a file name")
    return name


def timeline_position(
    persona_ends: Iterable[float | None], rep_turns: Iterable[tuple[float, float]]
) -> float:
    """Where the next rep turn starts, as app.practice places it: after everything said so far.

    `rep_turns` are (offset, duration) pairs; a persona line still being said (end None) has not
    moved the timeline yet.
    """
    ends = [end for end in persona_ends if end is not None]
    ends += [offset + duration for offset, duration in rep_turns]
    return max(ends, default=0.0)


def write_record(folder: Path, record: CallRecord) -> None:
    """Replace the folder's call record atomically and durably (temp file, fsync, rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_file(folder / RECORD_NAME) as handle:
        handle.write(json.dumps(record.to_json(), indent=2).encode("utf-8"))


def read_record(folder: Path) -> CallRecord | None:
    """The folder's call record; None if it has none. CallRecordError if it cannot be used."""
    try:
        text = (folder / RECORD_NAME).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise CallRecordError(f"damaged call record: {error}") from error
    if not isinstance(data, dict):
        raise CallRecordError("damaged call record: not a JSON object")
    return CallRecord.from_json(data)


def forget_record(folder: Path) -> None:
    """The attempt is saved: the call needs no recovery any more (its audio stays).

    A record that cannot be removed is only logged: the attempt is saved, and recovery finds it
    saved and removes the record then.
    """
    try:
        (folder / RECORD_NAME).unlink(missing_ok=True)
    except OSError as error:
        log.warning("call record not removed", folder=str(folder), error=str(error))


def assemble_call_audio(
    turns: Iterable[tuple[Path, float]], length_s: float, target: Path
) -> Path | None:
    """One FLAC on the call's timeline from (turn audio, offset) pairs, silence elsewhere.

    The review's click-a-turn-to-seek uses transcript times, which are call times; the persona's
    synthetic voice is not recorded. None when no turn has audio.
    """
    clips: list[tuple[int, np.ndarray]] = []
    for audio, offset in turns:
        try:
            samples, rate = soundfile.read(audio, dtype="float32", always_2d=False)
        except (OSError, RuntimeError, soundfile.LibsndfileError):
            continue  # a failed turn's unreadable file: the turn is marked failed already
        if rate == SAMPLE_RATE and samples.ndim == 1:
            clips.append((round(offset * SAMPLE_RATE), samples))
    if not clips:
        return None
    end = max(max(start + len(s) for start, s in clips), round(length_s * SAMPLE_RATE))
    call = np.zeros(end, dtype=np.float32)
    for start, samples in clips:
        call[start : start + len(samples)] = samples
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_suffix(".tmp.flac")
    soundfile.write(temp, call, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    temp.replace(target)
    return target


def call_length(transcript: Mapping[str, Any], audio: Sequence[tuple[float, float]] = ()) -> float:
    """Seconds from the call's start to its last turn's end, or its last audio's end if later."""
    ends = [float(turn["end"]) for turn in transcript.get("turns", [])]
    ends += [offset + seconds for offset, seconds in audio]
    return max(ends, default=0.0)
