"""Practice calls a crash or kill interrupted: found at the next start, made into real attempts.

A call leaves its folder behind (app/client/call_files.py): turn recordings, perhaps a Recorder
journal of the turn being recorded, and the call's record. `find_interrupted_calls` lists those of
the signed-in user; `recover_call` finishes the journals into FLAC, transcribes every rep turn as
the practice screen would, and rebuilds the transcript on the call's timeline; `save_recovered`
saves it through the backend under the call's own attempt id, so recovering twice (a kill during
recovery) saves one attempt. Audio without a record (an older Coachdesk's journal) can only be
finished into a FLAC: with no scenario there is nothing to score it against.

A call in which the rep said nothing is no attempt: the practice screen keeps it as incomplete
(its record says so) and so does `recover_call` when it finds no rep speech, whether the call was
killed after some seconds of silence or its turns could not be transcribed. Such a call stays
listed, never scored or synced, until it is recovered with speech found or discarded.

Nothing here touches widgets; `recover_call` blocks (transcription) and runs on the compute
thread, the rest on the network thread (ui/recovery_dialog.py launches them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import soundfile
import structlog

from app.client.call_files import (
    CALL_AUDIO_NAME,
    NOTHING_SAID,
    RECORD_NAME,
    CallRecord,
    CallRecordError,
    RecordedTurn,
    assemble_call_audio,
    call_length,
    forget_record,
    read_record,
    timeline_position,
    write_record,
)
from app.client.views import AttemptRow, Backend, FinishedAttempt
from app.errors import CoachdeskError
from app.practice import TranscriberLike
from app.transcript import build_transcript, has_rep_speech, rep_turn
from audio import capture
from audio.capture import InterruptedRecording
from audio.decode import SAMPLE_RATE, load_audio
from audio.errors import AudioError, TranscriptionCancelled

log = structlog.get_logger(__name__)

Progress = Callable[[float], None]
# The practice controller's recording names (turn-01 ...), as the Recorder finishes them.
TURN_FILES = "turn-*.flac"


@dataclass(frozen=True)
class InterruptedCall:
    """A call that never became an attempt, with what it left on disk."""

    folder: Path
    record: CallRecord | None  # None: audio only (no record, or one that cannot be read)
    journals: tuple[InterruptedRecording, ...]  # recordings still to finish into FLAC
    started_at: datetime
    seconds: float  # audio captured, all turns together

    @property
    def key(self) -> str:
        """Identifies the call in a list: its folder, or its lone journal."""
        if self.record is None and len(self.journals) == 1:
            return str(self.journals[0].journal)
        return str(self.folder)

    @property
    def scenario_title(self) -> str | None:
        return self.record.scenario_title if self.record is not None else None

    @property
    def incomplete(self) -> str | None:
        """Why the call is incomplete (it ended with no rep speech); None: it was interrupted."""
        return self.record.incomplete if self.record is not None else None


@dataclass(frozen=True)
class RecoveredCall:
    call: InterruptedCall
    audio: tuple[Path, ...]  # the call's complete audio files, kept whatever happens next
    attempt: FinishedAttempt | None  # None: no record, or incomplete (see `incomplete`)
    not_transcribed: tuple[str, ...] = ()  # why turns were left out of the transcript
    incomplete: str | None = None  # no rep speech was found: why it stays an incomplete call


def find_interrupted_calls(
    root: Path,
    *,
    user_id: str,
    org_id: str | None,
    exclude: Collection[str] = (),
    is_saved: Callable[[str], bool] = lambda _attempt_id: False,
) -> list[InterruptedCall]:
    """The interrupted calls under `root` this user may recover in this org, oldest first.

    `exclude`: folder names to leave alone (a call being recorded right now). Calls of other
    users or orgs stay on disk for them. A record whose attempt `is_saved` (killed after saving,
    before the record was removed) is removed here, its call not listed.
    """
    root = Path(root)
    if not root.is_dir():
        return []
    found = [_lone_journal(root, journal) for journal in capture.recover_interrupted(root)]
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in exclude):
        if folder.name.endswith(capture.JOURNAL_SUFFIX):
            continue  # a journal at the top level, listed above
        call = _call_in(folder, user_id=user_id, org_id=org_id, is_saved=is_saved)
        if call is not None:
            found.append(call)
    return sorted(found, key=lambda call: call.started_at)


def _lone_journal(root: Path, journal: InterruptedRecording) -> InterruptedCall:
    return InterruptedCall(root, None, (journal,), journal.started_at, journal.seconds)


def _call_in(
    folder: Path, *, user_id: str, org_id: str | None, is_saved: Callable[[str], bool]
) -> InterruptedCall | None:
    try:
        record = read_record(folder)
    except (OSError, CallRecordError) as error:
        log.warning("call record unreadable", offered="audio only", folder=str(folder), error=error)
        record = None
    if record is not None:
        if (record.user_id, record.org_id) != (user_id, org_id):
            return None
        if is_saved(record.attempt_id):
            log.info("interrupted call was saved already", attempt_id=record.attempt_id)
            forget_record(folder)
            return None
    journals = tuple(capture.recover_interrupted(folder))
    if record is None:
        if not journals:
            return None
        started = min(journal.started_at for journal in journals)
        return InterruptedCall(folder, None, journals, started, sum(j.seconds for j in journals))
    seconds = sum(j.seconds for j in journals)
    journal_names = {f"{j.name}.flac" for j in journals}
    for turn in record.rep_turns:
        if turn.audio not in journal_names:
            seconds += _seconds_of(folder / turn.audio)
    return InterruptedCall(folder, record, journals, record.started_at, seconds)


def _seconds_of(path: Path) -> float:
    try:
        return float(soundfile.info(str(path)).duration)
    except (OSError, RuntimeError, soundfile.LibsndfileError):
        return 0.0  # missing (never recorded) or unreadable: no audio to count


def recover_call(
    call: InterruptedCall,
    transcriber: TranscriberLike,
    *,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> RecoveredCall:
    """Finish the call's journals into FLAC, then transcribe and rebuild it as an attempt.

    Blocks; call it off the GUI thread. If the speech model cannot be loaded this raises
    (AudioError) with the audio already safe in FLAC and the record kept, so the call is offered
    again later. A turn that cannot be transcribed is left out of the transcript, as in practice.
    """
    # A journal an earlier try already finished (then failed to transcribe) is its FLAC now.
    finished = tuple(
        capture.recover(journal) if journal.journal.exists() else journal.final_path
        for journal in call.journals
    )
    record = call.record
    if record is None:
        return RecoveredCall(call, finished, None)
    load = getattr(transcriber, "load", None)
    if callable(load):
        load()
    listed = {turn.audio for turn in record.rep_turns}
    # A journal the record does not list (the record could not be written): still a rep turn.
    turns = [
        *record.rep_turns,
        *(RecordedTurn(p.name, -1.0) for p in finished if p.name not in listed),
    ]
    rep, clips, problems = _transcribe_turns(
        call.folder, record, turns, transcriber, progress, cancelled
    )
    transcript = build_transcript([dict(turn) for turn in record.persona_turns] + rep)
    length = call_length(transcript, [(offset, seconds) for _, offset, seconds in clips])
    audio = assemble_call_audio(
        [(path, offset) for path, offset, _ in clips], length, call.folder / CALL_AUDIO_NAME
    )
    kept = (audio,) if audio is not None else tuple(path for path, _, _ in clips) or finished
    if not has_rep_speech(transcript):
        return _keep_incomplete(call, replace(record, rep_turns=tuple(turns)), kept, problems)
    attempt = FinishedAttempt(
        id=record.attempt_id,
        scenario_id=record.scenario_id,
        assignment_id=record.assignment_id,
        started_at=record.started_at,
        ended_at=record.started_at + timedelta(seconds=length),
        transcript=transcript,
        recording=audio,
    )
    return RecoveredCall(call, kept, attempt, tuple(problems))


def _keep_incomplete(
    call: InterruptedCall, record: CallRecord, kept: tuple[Path, ...], problems: list[str]
) -> RecoveredCall:
    """No rep speech in the call: mark its record incomplete, so it is kept and never scored.

    `record` lists every turn found, those a crash kept it from listing too (offset -1: placed
    after what was said before them when recovered again), so none is lost from a later try."""
    marked = replace(record, incomplete=record.incomplete or NOTHING_SAID)
    if marked != call.record:
        write_record(call.folder, marked)
    log.info("recovered call has no rep speech", kept_as="incomplete", attempt_id=record.attempt_id)
    found = replace(call, record=marked, journals=())
    return RecoveredCall(found, kept, None, tuple(problems), incomplete=marked.incomplete)


Clip = tuple[Path, float, float]  # a turn's audio, its offset in the call, its length (seconds)


def _transcribe_turns(
    folder: Path,
    record: CallRecord,
    turns: list[RecordedTurn],
    transcriber: TranscriberLike,
    progress: Progress | None,
    cancelled: Callable[[], bool] | None,
) -> tuple[list[dict[str, Any]], list[Clip], list[str]]:
    """Each turn's transcript turn (if words were said), its audio clip, and the turns' problems."""
    rep: list[dict[str, Any]] = []
    clips: list[Clip] = []
    problems: list[str] = []
    for index, turn in enumerate(turns):
        path = folder / turn.audio
        if not path.exists():
            # Listed as its microphone opened; the crash came before a sample was recorded.
            log.info("recovered call: turn has no audio", audio=str(path))
            continue
        offset = turn.offset
        if offset < 0:  # unlisted: it starts after everything said before it
            persona_ends = (float(line["end"]) for line in record.persona_turns)
            offset = timeline_position(persona_ends, ((o, s) for _, o, s in clips))
        try:
            samples = load_audio(path)
            clips.append((path, offset, len(samples) / SAMPLE_RATE))
            utterance = transcriber.transcribe(
                samples,
                progress=_part(progress, index, len(turns)),
                cancelled=cancelled,
                vocabulary=record.vocabulary,
            )
        except TranscriptionCancelled:
            raise
        except AudioError as error:
            problems.append(f"turn {index + 1}: {error}")
            log.warning("recovered turn not transcribed", audio=str(path), error=str(error))
            continue
        built = rep_turn(utterance, offset)
        if built is not None:
            rep.append(built)
    return rep, clips, problems


def _part(progress: Progress | None, index: int, count: int) -> Progress | None:
    """Progress of one turn's transcription as progress of the whole call."""
    if progress is None:
        return None
    return lambda fraction: progress((index + fraction) / count)


def save_recovered(backend: Backend, recovered: RecoveredCall) -> AttemptRow:
    """Save the recovered attempt (scored provisionally, then synced); then forget its record.

    Blocks (network thread). The attempt keeps the call's id: saving it again is a no-op.
    """
    if recovered.attempt is None:
        raise CoachdeskError("This recording has no scenario, so it cannot be saved as an attempt.")
    if not has_rep_speech(recovered.attempt.transcript):
        raise CoachdeskError("Nothing you said was heard in this call, so it is not an attempt.")
    row = backend.save_attempt(recovered.attempt)
    forget_record(recovered.call.folder)
    log.info("interrupted call recovered", attempt_id=row.id)
    return row


def attempt_saved(backend: Backend, attempt_id: str) -> bool:
    """Whether this computer already has the attempt (blocking, network thread)."""
    try:
        backend.attempt(attempt_id)
    except CoachdeskError:
        return False
    return True


def discard_call(call: InterruptedCall) -> None:
    """Delete what the call left: its journals and, for a recorded call, its whole folder's files.

    Only files the call made are deleted; a folder that holds anything else is left in place.
    """
    for journal in call.journals:
        if journal.journal.exists():
            capture.discard(journal)
    record = call.record
    if record is None:
        return
    # The turns the record lists, and any a crash kept it from listing (the Recorder's names).
    turns = {call.folder / turn.audio for turn in record.rep_turns}
    turns |= set(call.folder.glob(TURN_FILES))
    for path in [*turns, call.folder / CALL_AUDIO_NAME, call.folder / RECORD_NAME]:
        path.unlink(missing_ok=True)
    try:
        call.folder.rmdir()
    except OSError:
        log.info("recording folder kept: it holds other files", folder=str(call.folder))
    log.info("interrupted call discarded", attempt_id=record.attempt_id)
