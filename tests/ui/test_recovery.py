"""Calls a crash or kill interrupted are offered at the next sign-in, recovered as real attempts
(transcribed, scored, synced) or discarded after a confirmation; the audio is never lost.

"Killed" means: the call's folder is copied exactly as it is on disk at that instant (the live
Recorder journal included) and the app then carries on elsewhere; the copy is what a kill -9
would have left (tests/audio covers the journal under a real kill).
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import soundfile
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from ui_flows import COLD_CALL_ASSIGNMENT, start_assignment

from app.client.call_files import (
    NOTHING_SAID,
    RECORD_NAME,
    CallRecord,
    CallRecordError,
    RecordedTurn,
    read_record,
    timeline_position,
    write_record,
)
from app.client.demo import FileMicrophone
from app.client.recovery import find_interrupted_calls, recover_call
from app.client.transcriber_process import ProcessTranscriber
from app.client.views import FinishedAttempt, SyncState
from app.errors import CoachdeskError
from audio.transcribe import TranscriberSettings
from ui.recovery_dialog import KEPT, NO_SPEECH_FOUND, UNKNOWN_SCENARIO, RecoveryDialog

COLD_CALL = "f0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
MANAGER = "a0000000-0000-4000-8000-000000000002"
DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
FIRST = "Hi Dana, my name is Sam and I am calling from Coachdesk."
SECOND = "We help teams like yours reduce costs and save time."
SLOW = 90_000


def _kill_snapshot(folder: Path, into: Path) -> Path:
    """The call's folder as a kill at this instant leaves it."""
    target = into / folder.name
    shutil.copytree(folder, target)
    return target


def _recording_journal(qtbot, folder: Path, name: str, wav: Path, tmp_path: Path) -> None:
    """A Recorder journal interrupted after it heard `wav` (a snapshot of a live recording)."""
    microphone = FileMicrophone([wav], pace=0)
    recorder = microphone(tmp_path / f"live-{uuid.uuid4()}", name, lambda _level: None)
    recorder.start()
    qtbot.waitUntil(lambda: microphone.heard(recorder), timeout=SLOW)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(recorder.journal, folder / recorder.journal.name)
    recorder.finish()


def _restart(window, sign_in, qtbot, recordings: Path) -> RecoveryDialog | None:
    """Sign out, point the app at the recordings a crash left, and sign in again."""
    window.practice.close_call()
    window.sign_out()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=SLOW)
    window.devices.recordings_root = recordings
    sign_in(window, "trainee")
    return window.recovery


def _dialog_rows(qtbot, window, count: int) -> RecoveryDialog:
    qtbot.waitUntil(
        lambda: window.recovery is not None and window.recovery.model.rowCount() == count,
        timeout=SLOW,
    )
    return window.recovery


def test_a_call_killed_mid_turn_is_recovered_as_one_synced_attempt(
    key_ends_turns, window, sign_in, qtbot, devices, speech, db, tmp_path
):
    microphone = devices.recorder_factory
    microphone.add([speech(FIRST), speech(SECOND)])
    sign_in(window, "trainee")
    assert window.recovery is None  # nothing was interrupted before
    start_assignment(window)
    practice = window.practice
    qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
    qtbot.waitUntil(lambda: microphone.heard(microphone.recorders[-1]), timeout=SLOW)
    practice.end_turn()
    qtbot.waitUntil(lambda: len(microphone.recorders) == 2, timeout=SLOW)
    second = microphone.recorders[-1]
    qtbot.waitUntil(lambda: microphone.heard(second), timeout=SLOW)
    attempt_id = practice.controller.attempt_id
    key_terms = practice.controller.session.scenario.vocabulary
    crashed = tmp_path / "after-the-crash"
    folder = _kill_snapshot(practice.controller.folder, crashed)
    assert (folder / "turn-01.flac").exists() and (folder / "turn-02.recording").is_dir()

    _restart(window, sign_in, qtbot, crashed)
    dialog = _dialog_rows(qtbot, window, 1)
    assert dialog.isVisible() and not dialog.isModal()
    (entry,) = dialog.model.rows
    assert entry.call.record.attempt_id == attempt_id
    # Recovering hears with the hotwords the live call used: the scenario's key terms.
    assert entry.call.record.vocabulary == key_terms != ()
    assert dialog.model.index(0, 2).data() == "Cold call: the skeptical IT director"
    assert entry.call.seconds >= second.seconds - 1.0  # both turns' audio, the cut one included
    record_text = (folder / RECORD_NAME).read_text()

    dialog.table.selectRow(0)
    dialog.recover_button.click()
    qtbot.waitUntil(lambda: dialog.message.text().startswith("Recovered"), timeout=SLOW)
    assert dialog.model.rowCount() == 0
    assert not (folder / RECORD_NAME).exists() and not (folder / "turn-02.recording").exists()
    assert soundfile.info(str(folder / "turn-02.flac")).duration > 1.0
    assert (folder / "call.flac").exists()

    # It is an attempt like any other: in the recent list, synced, scored by the server.
    qtbot.waitUntil(
        lambda: attempt_id in [a.id for a in window.home.data.recent_attempts], timeout=SLOW
    )
    window.sync_now()
    qtbot.waitUntil(
        lambda: (
            db.execute(
                "select status from public.scenario_attempts where id = %s", (attempt_id,)
            ).fetchone()
            == ("scored",)
        ),
        timeout=SLOW,
    )
    transcript, assignment = db.execute(
        "select transcript, assignment_id::text from public.scenario_attempts where id = %s",
        (attempt_id,),
    ).fetchone()
    assert assignment == COLD_CALL_ASSIGNMENT
    speakers = [turn["speaker"] for turn in transcript["turns"]]
    assert speakers[:4] == ["persona", "rep", "persona", "rep"]
    rep = [turn["text"].lower() for turn in transcript["turns"] if turn["speaker"] == "rep"]
    assert "calling" in rep[0] and "costs" in rep[1]

    # Killed after saving but before the record was removed: the next start finds the attempt
    # saved, removes the record, offers nothing and saves nothing twice.
    (folder / RECORD_NAME).write_text(record_text)
    window.look_for_interrupted_calls()
    qtbot.waitUntil(lambda: not (folder / RECORD_NAME).exists(), timeout=SLOW)
    assert dialog.model.rowCount() == 0
    (count,) = db.execute(
        "select count(*) from public.scenario_attempts where user_id = %s and started_at = %s",
        (TRAINEE, read_started(record_text)),
    ).fetchone()
    assert count == 1
    window.open_review(attempt_id)
    qtbot.waitUntil(lambda: window.review.detail is not None, timeout=SLOW)
    qtbot.waitUntil(lambda: window.review.detail.row.sync_state is SyncState.SCORED, timeout=SLOW)


INCOMPLETE = f"Incomplete: {NOTHING_SAID}"


def _silent_call(window, sign_in, qtbot, devices, seconds: float):
    """Sign in and start the cold-call assignment; the rep says nothing for `seconds`."""
    microphone = devices.recorder_factory  # no answers given: a quiet room
    sign_in(window, "trainee")
    start_assignment(window)
    practice = window.practice
    qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
    qtbot.waitUntil(lambda: microphone.recorders[-1].seconds > seconds, timeout=SLOW)
    return practice.controller


def _no_attempt(window, db, attempt_id: str) -> bool:
    """Neither this computer nor the server has the attempt."""
    try:
        window.ctx.backend.attempt(attempt_id)
    except CoachdeskError:
        on_server = db.execute(
            "select 1 from public.scenario_attempts where id = %s", (attempt_id,)
        ).fetchone()
        return on_server is None
    return False


def _question(qtbot, window, name: str) -> QMessageBox:
    qtbot.waitUntil(
        lambda: any(box.isVisible() for box in window.findChildren(QMessageBox, name)),
        timeout=SLOW,
    )
    return next(box for box in window.findChildren(QMessageBox, name) if box.isVisible())


def test_ending_a_call_with_nothing_said_asks_then_keeps_it_incomplete_unscored(
    key_ends_turns, window, sign_in, qtbot, devices, db
):
    controller = _silent_call(window, sign_in, qtbot, devices, 2.0)
    practice, attempt_id, folder = window.practice, controller.attempt_id, controller.folder
    before = window.home.data
    assert controller.nothing_said

    qtbot.keyClick(practice, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    box = _question(qtbot, window, "confirmEndCall")
    assert box.text().startswith("Nothing you said has been heard in this call.")
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert controller.recording and not controller.session.finished  # the call goes on
    practice.end_call_button.click()
    box = _question(qtbot, window, "confirmEndCall")
    (end,) = [button for button in box.buttons() if button.text() == "End call"]
    end.click()

    # Back home, the call offered to recover or discard; no attempt anywhere.
    dialog = _dialog_rows(qtbot, window, 1)
    (entry,) = dialog.model.rows
    assert (entry.call.record.attempt_id, entry.status) == (attempt_id, INCOMPLETE)
    assert window.pages.currentWidget() is window.workspace
    assert read_record(folder).incomplete == NOTHING_SAID
    assert soundfile.info(str(folder / "turn-01.flac")).duration > 1.0  # its audio is kept
    qtbot.waitUntil(lambda: window.home.data is not before, timeout=SLOW)  # home, refreshed
    assert _no_attempt(window, db, attempt_id)
    after = window.home.data
    assert [a.id for a in after.recent_attempts] == [a.id for a in before.recent_attempts]
    assert after.assignments == before.assignments  # progress and best score as they were
    # Nor can anything save one: the backend refuses a transcript without rep speech.
    with pytest.raises(CoachdeskError, match="Nothing you said was heard"):
        window.ctx.backend.save_attempt(
            FinishedAttempt(
                id=attempt_id,
                scenario_id=COLD_CALL,
                assignment_id=COLD_CALL_ASSIGNMENT,
                started_at=entry.call.started_at,
                ended_at=entry.call.started_at,
                transcript={"version": 1, "turns": list(entry.call.record.persona_turns)},
                recording=None,
            )
        )
    assert _no_attempt(window, db, attempt_id)

    # Offered again at the next sign-in, until discarded.
    dialog = _restart(window, sign_in, qtbot, window.recordings_root())
    dialog = _dialog_rows(qtbot, window, 1)
    assert dialog.model.rows[0].status == INCOMPLETE
    dialog.table.selectRow(0)
    # Resumed the only way a call with nothing in it can be: its scenario from the first line,
    # for the same assignment; the incomplete call stays listed until discarded.
    assert dialog.call_again_button.isEnabled()
    dialog.call_again_button.click()
    qtbot.waitUntil(
        lambda: window.practice.controller is not None and window.practice.controller.recording,
        timeout=SLOW,
    )
    again = window.practice.controller
    assert again.attempt_id != attempt_id and again.folder != folder
    assert (again.session.scenario.id, again.assignment_id) == (COLD_CALL, COLD_CALL_ASSIGNMENT)
    window.practice.close_call()
    dialog.show()
    dialog.table.selectRow(0)
    box = dialog.discard_selected()
    assert "Discard the incomplete call" in box.text()
    (discard,) = [b for b in box.buttons() if b.text() == "Discard"]
    discard.click()
    assert dialog.model.rowCount() == 0 and not folder.exists()


def test_a_call_killed_before_anything_was_said_is_recovered_as_incomplete_not_zero(
    key_ends_turns, window, sign_in, qtbot, devices, db, tmp_path
):
    controller = _silent_call(window, sign_in, qtbot, devices, 3.0)
    attempt_id = controller.attempt_id
    crashed = tmp_path / "after-the-crash"
    folder = _kill_snapshot(controller.folder, crashed)

    _restart(window, sign_in, qtbot, crashed)
    dialog = _dialog_rows(qtbot, window, 1)
    assert dialog.model.rows[0].status == "Interrupted"
    dialog.table.selectRow(0)
    dialog.recover_button.click()
    qtbot.waitUntil(lambda: dialog.message.text() == NO_SPEECH_FOUND, timeout=SLOW)
    (entry,) = dialog.model.rows
    assert (entry.status, entry.busy) == (INCOMPLETE, False)
    assert read_record(folder).incomplete == NOTHING_SAID
    assert soundfile.info(str(folder / "turn-01.flac")).duration > 2.0
    window.sync_now()
    assert _no_attempt(window, db, attempt_id)
    # Still offered, as incomplete, at the next start.
    window.look_for_interrupted_calls()
    qtbot.waitUntil(lambda: dialog.model.rows[0].call.incomplete == NOTHING_SAID, timeout=SLOW)
    assert dialog.model.rows[0].status == INCOMPLETE


def read_started(record_text: str) -> datetime:
    return datetime.fromisoformat(json.loads(record_text)["started_at"])


@pytest.fixture
def broken_model(devices, tmp_path) -> ProcessTranscriber:
    """The app's transcriber process, configured with a model folder that does not exist."""
    transcriber = ProcessTranscriber(TranscriberSettings(model_path=tmp_path / "no-model-here"))
    devices.transcriber = transcriber
    yield transcriber
    transcriber.close()


def _record(attempt_id: str, user_id: str = TRAINEE, turns: int = 1) -> CallRecord:
    return CallRecord(
        attempt_id=attempt_id,
        user_id=user_id,
        org_id=DEMO_ORG,
        scenario_id=COLD_CALL,
        scenario_title="Cold call: the skeptical IT director",
        assignment_id=None,
        started_at=datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        persona_turns=({"speaker": "persona", "start": 0.0, "end": 1.5, "text": "Who is this?"},),
        rep_turns=tuple(RecordedTurn(f"turn-{n + 1:02d}.flac", 1.5 + 6 * n) for n in range(turns)),
    )


def test_a_model_that_fails_to_load_keeps_the_recording_and_says_so(
    broken_model, window, sign_in, qtbot, speech, db, tmp_path
):
    crashed = tmp_path / "after-the-crash"
    attempt_id = str(uuid.uuid4())
    folder = crashed / attempt_id
    _recording_journal(qtbot, folder, "turn-01", speech(FIRST), tmp_path)
    write_record(folder, _record(attempt_id))

    _restart(window, sign_in, qtbot, crashed)
    dialog = _dialog_rows(qtbot, window, 1)
    dialog.table.selectRow(0)
    dialog.recover_button.click()
    qtbot.waitUntil(lambda: dialog.model.rows[0].status == "Not recovered", timeout=SLOW)
    message = dialog.message.text()
    assert message.startswith(f"The speech-to-text model at {broken_model.settings.model_path}")
    assert message.endswith(KEPT) and "Traceback" not in message
    # The journal became a FLAC (nothing can be lost now), the record stays for another try.
    assert soundfile.info(str(folder / "turn-01.flac")).duration > 1.0
    assert read_record(folder) == _record(attempt_id)
    assert dialog.recover_button.isEnabled()
    # Trying again (the model still broken) fails the same way, and loses nothing either.
    dialog.recover_button.click()
    qtbot.waitUntil(lambda: dialog.model.rows[0].status == "Recovering…", timeout=SLOW)
    qtbot.waitUntil(lambda: dialog.model.rows[0].status == "Not recovered", timeout=SLOW)
    assert dialog.message.text() == message and (folder / "turn-01.flac").exists()
    assert (
        db.execute("select 1 from public.scenario_attempts where id = %s", (attempt_id,)).fetchone()
        is None
    )

    # Still offered at the next start.
    window.look_for_interrupted_calls()
    qtbot.waitUntil(lambda: dialog.model.rows[0].status == "Interrupted", timeout=SLOW)
    assert dialog.model.rows[0].call.record.attempt_id == attempt_id


def test_audio_without_a_record_is_kept_as_flac_or_discarded_after_confirming(
    window, sign_in, qtbot, speech, tmp_path
):
    crashed = tmp_path / "after-the-crash"
    older = crashed / str(uuid.uuid4())  # an older Coachdesk's call: journal, no record
    _recording_journal(qtbot, older, "turn-01", speech(FIRST), tmp_path)
    stray = crashed / str(uuid.uuid4())
    _recording_journal(qtbot, stray, "turn-01", speech(SECOND), tmp_path)
    someone_else = crashed / str(uuid.uuid4())  # the manager's call on the same computer
    _recording_journal(qtbot, someone_else, "turn-01", speech(SECOND), tmp_path)
    write_record(someone_else, _record(someone_else.name, user_id=MANAGER))

    _restart(window, sign_in, qtbot, crashed)
    dialog = _dialog_rows(qtbot, window, 2)
    assert {entry.call.folder for entry in dialog.model.rows} == {older, stray}
    assert dialog.model.index(0, 2).data() == UNKNOWN_SCENARIO

    row = [entry.call.folder for entry in dialog.model.rows].index(older)
    dialog.table.selectRow(row)
    dialog.recover_button.click()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=SLOW)
    assert dialog.message.text() == (
        f"The recording is saved as {older / 'turn-01.flac'}. Coachdesk does not know which "
        "scenario it was for, so it cannot be scored or synced as an attempt."
    )
    assert soundfile.info(str(older / "turn-01.flac")).duration > 1.0

    dialog.table.selectRow(0)
    box = dialog.discard_selected()
    assert isinstance(box, QMessageBox) and box.objectName() == "confirmDiscard"
    box.button(QMessageBox.StandardButton.Cancel).click()
    assert (stray / "turn-01.recording").is_dir() and dialog.model.rowCount() == 1
    box = dialog.discard_selected()
    (discard,) = [b for b in box.buttons() if b.text() == "Discard"]
    discard.click()
    assert not (stray / "turn-01.recording").exists() and dialog.model.rowCount() == 0
    # The other user's call is left as it was, for them.
    assert (someone_else / "turn-01.recording").is_dir() and (someone_else / RECORD_NAME).exists()


def test_the_call_record_round_trips_and_refuses_damage(tmp_path):
    record = _record(str(uuid.uuid4()), turns=2)
    write_record(tmp_path, record)
    assert read_record(tmp_path) == record
    assert read_record(tmp_path / "elsewhere") is None
    (tmp_path / RECORD_NAME).write_text('{"version": 1, "attempt_id": "x"')
    with pytest.raises(CallRecordError, match="damaged call record"):
        read_record(tmp_path)
    data = record.to_json()
    data["rep_turns"][0]["audio"] = "../../etc/passwd"
    (tmp_path / RECORD_NAME).write_text(json.dumps(data))
    with pytest.raises(CallRecordError, match="is not a file name"):
        read_record(tmp_path)


def test_a_record_keeps_the_scenarios_key_terms_and_an_older_one_reads_without(tmp_path):
    record = replace(_record(str(uuid.uuid4())), vocabulary=("Coachdesk", "ServiceNow"))
    write_record(tmp_path, record)
    assert read_record(tmp_path).vocabulary == ("Coachdesk", "ServiceNow")
    older = record.to_json()
    del older["vocabulary"]  # written by a Coachdesk before key terms were kept
    (tmp_path / RECORD_NAME).write_text(json.dumps(older))
    assert read_record(tmp_path).vocabulary == ()


class HeardWith:
    """The real transcriber, noting the hotwords each call to it was given."""

    def __init__(self, transcriber) -> None:
        self.transcriber = transcriber
        self.vocabularies: list[tuple[str, ...]] = []

    def transcribe(self, audio, **options):
        self.vocabularies.append(tuple(options.get("vocabulary", ())))
        return self.transcriber.transcribe(audio, **options)


def test_recovery_transcribes_with_the_key_terms_practice_used(
    qtbot, transcriber, speech, tmp_path
):
    root = tmp_path / "recordings"
    attempt_id = str(uuid.uuid4())
    folder = root / attempt_id
    _recording_journal(qtbot, folder, "turn-01", speech(FIRST), tmp_path)
    record = replace(_record(attempt_id), vocabulary=("Coachdesk", "ticket"))
    write_record(folder, record)
    (call,) = find_interrupted_calls(root, user_id=TRAINEE, org_id=DEMO_ORG)
    heard = HeardWith(transcriber)
    recovered = recover_call(call, heard)
    assert heard.vocabularies == [("Coachdesk", "ticket")]
    assert "calling" in recovered.attempt.transcript["turns"][1]["text"].lower()


def test_a_turn_starts_after_everything_said_before_it():
    assert timeline_position([], []) == 0.0
    assert timeline_position([2.0, 9.5], [(3.0, 4.0)]) == 9.5
    assert timeline_position([2.0, None], [(3.0, 8.0)]) == 11.0


def test_an_unlisted_turn_is_placed_after_what_was_said_and_a_missing_one_is_skipped(
    qtbot, transcriber, speech, tmp_path
):
    root = tmp_path / "recordings"
    attempt_id = str(uuid.uuid4())
    folder = root / attempt_id
    _recording_journal(qtbot, folder, "turn-01", speech(FIRST), tmp_path)
    # The record lists turn-02 (its microphone never delivered) but not turn-01's journal.
    record = replace(_record(attempt_id), rep_turns=(RecordedTurn("turn-02.flac", 9.0),))
    write_record(folder, record)
    (call,) = find_interrupted_calls(root, user_id=TRAINEE, org_id=DEMO_ORG)
    progress: list[float] = []

    recovered = recover_call(call, transcriber, progress=progress.append)
    assert recovered.not_transcribed == ()
    transcript = recovered.attempt.transcript
    persona, rep = transcript["turns"]
    assert persona["text"] == "Who is this?" and "calling" in rep["text"].lower()
    assert rep["start"] >= persona["end"] == 1.5  # after the persona's line, as a live call
    assert recovered.audio == (folder / "call.flac",)
    assert progress and progress == sorted(progress) and progress[-1] <= 1.0
    # Offered to its owner only, and not while that call is being recorded.
    assert find_interrupted_calls(root, user_id=MANAGER, org_id=DEMO_ORG) == []
    assert (
        find_interrupted_calls(root, user_id=TRAINEE, org_id=DEMO_ORG, exclude={attempt_id}) == []
    )
