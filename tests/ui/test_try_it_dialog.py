"""The editor's Try it dialog: typed and WAV answers on the real practice engine, the Why panel,
the provisional score by the edited rubric, the persona's voice; and nothing saved."""

from __future__ import annotations

import copy
import functools
from dataclasses import replace

from PySide6.QtCore import Qt
from test_practice_paths import Microphones

from app.client.demo import COLD_CALL_ANSWERS, FileMicrophone
from app.rubric_edit import from_document, preview, to_document
from app.scenarios import load_scenarios
from audio.devices import check_input
from ui.studio.try_it import TryItDialog
from ui.voice import PersonaVoice

COLD_CALL = next(s for s in load_scenarios() if s.title.startswith("Cold call"))


def _nothing_saved(ctx, monkeypatch) -> list[object]:
    """Every way the backend could save an attempt, made to record the attempt instead."""
    saved: list[object] = []
    monkeypatch.setattr(ctx.backend, "save_attempt", lambda *args, **kw: saved.append(args))
    return saved


def _type(qtbot, dialog: TryItDialog, answer: str) -> None:
    steps = dialog.why.count()
    dialog.answer.setText(answer)
    qtbot.keyClick(dialog.answer, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: dialog.why.count() == steps + 1 and not dialog.busy, timeout=10_000)


def test_typed_answers_show_why_and_the_provisional_score(qtbot, ctx, monkeypatch) -> None:
    saved = _nothing_saved(ctx, monkeypatch)
    dialog = TryItDialog(ctx, COLD_CALL)
    qtbot.addWidget(dialog)
    dialog.show()
    assert "Nothing is saved: this is a try" in dialog.note.text()
    assert dialog.transcript.toPlainText() == "Dana Whitfield: Dana speaking. Who is this?"

    for answer in COLD_CALL_ANSWERS:
        _type(qtbot, dialog, answer)

    why = [dialog.why.item(i).text() for i in range(dialog.why.count())]
    assert why == [
        '1. open → why: keyword "calling" (edge 1: keywords calling, name, from)',
        '2. why → interest: keyword "save" (edge 1: keywords save, cost, time, reduce, faster)',
        '3. interest → close: keyword "meeting" (edge 1: keywords meeting, demo, call, calendar)',
    ]
    text = dialog.transcript.toPlainText()
    assert text.count("You: ") == 3 and text.endswith("Fine, send an invite for Thursday.")
    assert dialog.outcome is not None
    breakdown = dialog.outcome.score
    assert breakdown == preview(
        from_document(COLD_CALL.rubric),
        dialog.outcome.transcript,
        COLD_CALL.pass_score,
        COLD_CALL.rubric,
    )
    assert dialog.score_label.text().startswith("Provisional score by the edited rubric: 100")
    assert "Nothing is saved: this is a try." in dialog.score_label.text()
    assert dialog.score_model.rowCount() == 3 and dialog.score_table.isVisible()
    assert [dialog.score_model.index(0, c).data() for c in range(3)] == [
        "Listen more than you talk",
        "100",
        "0.523 is within the target (from 0.35 to 0.6)",
    ]
    assert not dialog.answer.isEnabled() and not dialog.send_button.isEnabled()

    dialog.restart_button.click()
    assert dialog.why.count() == 0 and dialog.outcome is None
    assert dialog.transcript.toPlainText().endswith("Dana speaking. Who is this?")
    assert dialog.answer.isEnabled() and not dialog.score_table.isVisible()

    # The backend was never asked to save anything, and stays signed out (no cache to write).
    assert saved == [] and ctx.backend.account is None


def test_an_edited_rubric_scores_the_try_and_ending_early_scores_what_was_said(
    qtbot, ctx, monkeypatch
) -> None:
    saved = _nothing_saved(ctx, monkeypatch)
    criteria = from_document(COLD_CALL.rubric)
    only_listening = [replace(criteria[0], percent=100)]
    edited = replace(COLD_CALL, rubric=to_document(only_listening, COLD_CALL.rubric))
    dialog = TryItDialog(ctx, edited)
    qtbot.addWidget(dialog)
    _type(qtbot, dialog, "Hello.")
    assert dialog.why.item(0).text() == "1. open → why: default edge (no condition matched)"
    dialog.end_button.click()
    assert dialog.outcome is not None
    assert [c["id"] for c in dialog.outcome.score["criteria"]] == [criteria[0].id]
    assert dialog.score_model.rowCount() == 1
    assert "ended here" in dialog.status.text()
    assert saved == []


def test_a_wav_answer_is_transcribed_off_the_gui_thread(
    qtbot, ctx, transcriber, speech, monkeypatch
) -> None:
    saved = _nothing_saved(ctx, monkeypatch)
    dialog = TryItDialog(ctx, COLD_CALL, transcriber=transcriber)
    qtbot.addWidget(dialog)
    dialog.answer_with_wav(speech("Hi, my name is Sam and I am calling from Coachdesk."))
    assert dialog.busy and not dialog.send_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.why.count() == 1 and not dialog.busy, timeout=60_000)
    assert dialog.why.item(0).text().startswith('1. open → why: keyword "calling"')
    assert "You (WAV): " in dialog.transcript.toPlainText()
    assert dialog.answer.isEnabled() and saved == []


class _Voice(PersonaVoice):
    """A voice that notes what it was asked to say (no engine, no speakers)."""

    def __init__(self) -> None:
        super().__init__(engines=(), espeak=None)
        self.said: list[tuple[str, str | None]] = []

    @property
    def available(self) -> bool:
        return True

    def say(self, text: str, voice_hint: str | None = None) -> bool:
        self.said.append((text, voice_hint))
        return True


def test_the_persona_speaks_only_when_the_voice_is_on(qtbot, ctx) -> None:
    voice = _Voice()
    ctx.preferences.speak_persona = False
    quiet = TryItDialog(ctx, COLD_CALL, voice=voice)
    qtbot.addWidget(quiet)
    assert voice.said == []

    ctx.preferences.speak_persona = True
    dialog = TryItDialog(ctx, COLD_CALL, voice=voice)
    qtbot.addWidget(dialog)
    _type(qtbot, dialog, COLD_CALL_ANSWERS[0])
    hint = COLD_CALL.profile.voice
    assert voice.said == [
        ("Dana speaking. Who is this?", hint),
        ("We already have a vendor for that. Why should I spend time on this?", hint),
    ]


def test_when_no_edge_matches_the_why_panel_says_the_persona_waits(qtbot, ctx) -> None:
    branching = copy.deepcopy(COLD_CALL.branching)
    opening = next(n for n in branching["nodes"] if n["id"] == "open")
    opening["edges"] = [e for e in opening["edges"] if not e.get("default")]
    dialog = TryItDialog(ctx, replace(COLD_CALL, branching=branching))
    qtbot.addWidget(dialog)
    _type(qtbot, dialog, "Good morning.")
    assert dialog.why.item(0).text() == "1. open → open: no edge matched: the persona waits"
    assert "the persona waits" in dialog.status.text() and dialog.answer.isEnabled()
    assert dialog.transcript.toPlainText().count("Dana Whitfield: ") == 1


def test_speaking_needs_a_microphone_checked_as_before_a_call_then_records_and_transcribes(
    qtbot, ctx, transcriber, speech, monkeypatch
) -> None:
    saved = _nothing_saved(ctx, monkeypatch)
    computer = Microphones()  # PortAudio's answers on a computer with no microphone
    heard = FileMicrophone([speech("Hi, my name is Sam and I am calling from Coachdesk.")], pace=0)
    opened: list[str | None] = []
    dialog = TryItDialog(
        ctx,
        COLD_CALL,
        transcriber=transcriber,
        microphone=lambda device: opened.append(device) or heard,
        input_check=functools.partial(check_input, check_settings=computer.check_input_settings),
        input_devices=lambda: list(computer.plugged),
    )
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.speak_button.text() == "Spea&k" and dialog.speak_button.isEnabled()

    dialog.speak_button.click()
    problem = dialog.status.text()
    assert problem.startswith("Cannot record: no microphone is connected.")
    check = dialog.microphone_check
    assert check is not None and check.isVisible() and check.problem.text() == problem
    assert not dialog.recording and opened == []
    # Typing and a WAV stay usable meanwhile.
    assert dialog.answer.isEnabled() and dialog.wav_button.isEnabled()

    computer.plug("USB Headset")
    check.retry_button.click()  # the default still does not record; the headset is listed now
    check.picker.setCurrentIndex(check.picker.findData("USB Headset"))
    check.retry_button.click()
    assert opened == ["USB Headset"] and dialog.recording
    assert dialog.speak_button.text() == "Sto&p" and dialog.status.text().startswith("Recording")
    assert not dialog.answer.isEnabled() and not dialog.wav_button.isEnabled()
    assert not dialog.end_button.isEnabled() and not dialog.restart_button.isEnabled()
    recorder = heard.recorders[-1]
    qtbot.waitUntil(lambda: heard.heard(recorder), timeout=30_000)

    dialog.speak_button.click()  # Stop: transcribed off the GUI thread, as a WAV answer is
    assert not dialog.recording and dialog.speak_button.text() == "Spea&k"
    qtbot.waitUntil(lambda: dialog.why.count() == 1 and not dialog.busy, timeout=60_000)
    assert dialog.why.item(0).text().startswith('1. open → why: keyword "calling"')
    assert "You (spoken): " in dialog.transcript.toPlainText()
    assert dialog.run is not None and (dialog.run.scratch / "spoken-01.flac").exists()
    scratch = dialog.run.scratch
    dialog.close()
    assert not scratch.exists() and saved == []  # the take went with the try
