"""Steps several UI tests take the same way, on a signed-in MainWindow."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget
from stack_fixtures import FRESH_PASSWORD

from ui.main_window import MainWindow
from ui.widgets.level_meter import FLOOR_DB

# The demo trainee's assignment of the "Cold call" scenario (supabase/seed.sql).
COLD_CALL_ASSIGNMENT = "c0000000-0000-4000-8000-000000000001"
# Answers that walk the "Cold call" branching to an end node: open -> why ("calling"),
# why -> interest ("save"), interest -> close ("meeting").
COLD_CALL_ANSWERS = (
    "Hi Dana, my name is Sam and I am calling from Coachdesk.",
    "We help teams like yours reduce costs and save time. How do you handle onboarding today?",
    "Could we book a short demo meeting on Thursday?",
)
DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
SLOW = 60_000  # ms: model load and transcription on a busy CI machine


def start_assignment(window: MainWindow, assignment_id: str = COLD_CALL_ASSIGNMENT) -> None:
    """Select the assignment on the trainee's home and press Start practice."""
    home = window.home
    assert home is not None and home.data is not None
    home.assignment_table.selectRow([a.id for a in home.data.assignments].index(assignment_id))
    home.start_button.click()
    # The call starts once the scenario's briefing files are listed (none here): one round trip.
    wait_until_practising(window)


def wait_until_practising(window: MainWindow, timeout_s: float = SLOW / 1000) -> None:
    """Pump events until the start is decided (start_practice lists the briefing first): the
    practice screen shows, or a dialog asks something first (the microphone check)."""
    from PySide6.QtCore import QCoreApplication, QDeadlineTimer, QEventLoop
    from PySide6.QtWidgets import QDialog

    def decided() -> bool:
        if window.pages.currentWidget() is window.practice:
            return True
        return any(d.isVisible() for d in window.findChildren(QDialog))

    deadline = QDeadlineTimer(int(timeout_s * 1000))
    while not decided() and not deadline.hasExpired():
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def speak_answers(qtbot, window: MainWindow, devices, answers: Sequence[str]) -> None:
    """Say each answer (the FileMicrophone plays its WAV) and end the turn with Space."""
    practice, microphone = window.practice, devices.recorder_factory
    for _text in answers:
        qtbot.waitUntil(lambda: practice.controller.recording, timeout=SLOW)
        recorder = microphone.recorders[-1]
        qtbot.waitUntil(lambda r=recorder: microphone.heard(r), timeout=SLOW)
        qtbot.waitUntil(lambda: practice.meter.peak_db > FLOOR_DB, timeout=SLOW)
        assert practice.turn.text().startswith("Your turn")
        assert practice.end_turn_button.isEnabled()
        qtbot.keyClick(practice, Qt.Key.Key_Space)
        qtbot.waitUntil(lambda: not practice.controller.recording, timeout=SLOW)


def sign_in_as(qtbot, window: MainWindow, email: str, password: str = FRESH_PASSWORD) -> None:
    """Through the sign-in screen, as a person would; returns once the workspace shows."""
    window.signin.email.setText(email)
    window.signin.password.setText(password)
    window.signin.sign_in_button.click()
    qtbot.waitUntil(
        lambda: window.workspace is not None and window.workspace.isVisible(), timeout=30_000
    )


def sign_out(qtbot, window: MainWindow) -> None:
    window.sign_out()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=30_000)


def open_tab(qtbot, window: MainWindow, pane: QWidget | None, ready) -> QWidget:
    """Show an admin/HR tab and wait until `ready(pane)` says its data arrived."""
    assert pane is not None and window.workspace is not None
    window.workspace.setCurrentWidget(pane)
    qtbot.waitUntil(lambda: ready(pane), timeout=30_000)
    return pane


def join_offered_invitation(qtbot, window: MainWindow, org_id: str) -> str:
    """Accept the invitation the app offers after sign-in; returns the offer's text once the
    window is in that org."""
    offer = window.invitation_offer
    qtbot.waitUntil(lambda: offer.dialog is not None and offer.dialog.isVisible(), timeout=30_000)
    dialog = offer.dialog
    text = dialog.findChild(QLabel).text()
    dialog.join.click()
    qtbot.waitUntil(
        lambda: (
            window.ctx.backend.account is not None and window.ctx.backend.account.org_id == org_id
        ),
        timeout=30_000,
    )
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)
    return text


@contextmanager
def editing_an_imported_draft(qtbot, window: MainWindow, db, example: Path) -> Iterator[tuple]:
    """An admin's Studio with `example` imported as a draft and open in the editor: yields
    (pane, draft id, editor); the scenarios made meanwhile are removed afterwards."""
    (started,) = db.execute("select now()").fetchone()
    pane = window.studio
    window.workspace.setCurrentWidget(pane)
    try:
        draft_id = pane.service.import_file(example)
        qtbot.waitUntil(lambda: any(i.scenario.id == draft_id for i in pane.items), timeout=30_000)
        pane.table.selectRow([i.scenario.id for i in pane.items].index(draft_id))
        editor = pane.edit_selected()
        assert editor is not None
        yield pane, draft_id, editor
    finally:
        db.execute(
            "delete from public.scenarios where org_id = %s and created_at >= %s",
            (DEMO_ORG, started),
        )
