"""Screenshots of every screen, from a real window under X, into docs/screenshots/.

    python -m ui.screenshots [--out docs/screenshots]

Starts `Xvfb :99` when DISPLAY is unset, the embedded backend as `coachdesk run` starts it (in a
throwaway folder: app/client/demo.py), then drives the app as a person would, with no shortcut
(nothing refreshes reporting by hand: the leaderboard shows the new call once pg_cron has refreshed
it). A trainee signs in, practises the demo cold call with espeak-ng answers standing in for the
microphone, reviews it, and recovers a call cut off mid-turn; a manager looks at the team, the
charts, a new assignment, the assignments made; an admin at the studio's library (an example
file imported), the audit log and People; HR at the reports; settings, About; and the same in
dark mode. 1366x768,
the smallest screen the app is made for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SIZE = (1366, 768)
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
WAIT_S = 120.0


@contextmanager
def display(number: int = 99) -> Iterator[str]:
    """The X display to use: $DISPLAY, or a private Xvfb started (and stopped) here."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        raise SystemExit("No DISPLAY and no Xvfb: install the xvfb package or run under X.")
    name = f":{number}"
    server = subprocess.Popen(
        ["Xvfb", name, "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)  # Xvfb opens its socket almost at once; Qt retries nothing if it is late
        if server.poll() is not None:
            raise SystemExit(f"Xvfb could not start on {name} (is that display taken?)")
        os.environ["DISPLAY"] = name
        yield name
    finally:
        server.terminate()
        server.wait(timeout=10)


def wait_until(predicate: Callable[[], object], what: str, timeout: float = WAIT_S) -> None:
    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.01)


def _pump(seconds: float) -> None:
    from PySide6.QtWidgets import QApplication

    end = time.monotonic() + seconds
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)


class Shooter:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.saved: list[Path] = []
        out.mkdir(parents=True, exist_ok=True)

    def shoot(self, widget: object, name: str) -> Path:
        """Grab the widget's area of the screen (dialogs above it included)."""
        from PySide6.QtWidgets import QApplication

        _pump(0.4)
        geometry = widget.frameGeometry()  # type: ignore[attr-defined]
        screen = QApplication.primaryScreen()
        image = screen.grabWindow(
            0, geometry.x(), geometry.y(), geometry.width(), geometry.height()
        )
        path = self.out / f"{name}.png"
        image.save(str(path))
        self.saved.append(path)
        print(f"saved {path}")
        return path


def run(out: Path) -> list[Path]:
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.client.backend import SyncedBackend
    from app.client.demo import (
        COLD_CALL_ANSWERS,
        DEMO_PASSWORD,
        FileMicrophone,
        embedded_backend,
        espeak,
    )
    from app.logs import configure_logging
    from ui.context import AppContext
    from ui.main_window import Devices, MainWindow
    from ui.preferences import Preferences
    from ui.theme import Theme, ThemeChoice
    from ui.workers import Workers

    configure_logging("WARNING")
    app = QApplication.instance() or QApplication(["coachdesk-screenshots"])
    shooter = Shooter(out)
    with embedded_backend() as stack, tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        prefs = Preferences.load(
            QSettings(str(folder / "ui.ini"), QSettings.Format.IniFormat),
            folder / "config.toml",
            folder / "managed.toml",
        )
        prefs.speak_persona = False
        theme = Theme(app, ThemeChoice.LIGHT)
        workers = Workers.create()
        backend = SyncedBackend(
            stack.server, data_dir=folder / "data", remember=False, playback_dir=folder / "p"
        )
        ctx = AppContext(backend=backend, workers=workers, theme=theme, preferences=prefs)
        microphone = FileMicrophone(espeak(COLD_CALL_ANSWERS, folder), pace=1.0)
        devices = Devices(
            recorder_factory=microphone,
            use_voice=False,
            recordings_root=folder / "recordings",
        )
        window = MainWindow(ctx, devices)
        window.resize(*SIZE)
        window.move(0, 0)
        window.show()
        try:
            _trainee_screens(window, shooter, microphone, DEMO_PASSWORD)
            _interrupted_call(window, shooter, microphone, folder, DEMO_PASSWORD)
            _manager_screens(window, shooter, DEMO_PASSWORD)
            _admin_screens(window, shooter, DEMO_PASSWORD)
            _hr_screens(window, shooter, DEMO_PASSWORD)
            theme.set_choice(ThemeChoice.DARK)
            window.workspace.setCurrentWidget(window.manager)
            window.manager.tabs.setCurrentIndex(1)
            shooter.shoot(window, "11-manager-charts-dark")
            window.sign_out()
            wait_until(lambda: window.pages.currentWidget() is window.signin, "sign-in")
            _sign_in(window, "trainee@demo.coachdesk.test", DEMO_PASSWORD)
            shooter.shoot(window, "12-home-dark")
        finally:
            window.close()
            workers.shutdown()
            ctx.close()
            backend.close()
    return shooter.saved


def _sign_in(window: object, email: str, password: str) -> None:
    signin = window.signin  # type: ignore[attr-defined]
    signin.email.setText(email)
    signin.password.setText(password)
    signin.submit()
    wait_until(lambda: window.home is not None and window.home.data is not None, "home")  # type: ignore[attr-defined]


def _trainee_screens(window, shooter, microphone, password) -> None:  # noqa: ANN001
    from app.client.views import SyncState

    window.signin.email.setText("trainee@demo.coachdesk.test")
    shooter.shoot(window, "01-sign-in")
    sign_up = window.signin.create_account()
    sign_up.name.setText("Nia New")
    sign_up.email.setText("nia@acme.example")
    sign_up.password.setText("a-long-password")
    sign_up.repeated.setText("a-long-password")
    shooter.shoot(window, "25-create-account")
    sign_up.reject()
    _sign_in(window, "trainee@demo.coachdesk.test", password)
    shooter.shoot(window, "02-home")

    home = window.home
    cold_call = next(i for i, a in enumerate(home.data.assignments) if a.kind == "scenario")
    home.assignment_table.selectRow(cold_call)
    home.start_button.click()
    practice = window.practice
    for turn in range(len(microphone._all)):
        wait_until(
            lambda: practice.controller is not None and practice.controller.recording, "your turn"
        )
        recorder = microphone.recorders[-1]
        wait_until(lambda r=recorder: r.seconds > 1.2, "speech")
        if turn == 1:
            shooter.shoot(window, "03-practice")
        wait_until(lambda r=recorder: microphone.heard(r), "the whole answer")
        practice.end_turn()
    review = window.review
    wait_until(lambda: review.detail is not None, "the review")
    wait_until(lambda: review.playback.player is not None, "playback")
    # The server scores the upload a moment later; the review shows it by itself (ctx.changes).
    wait_until(
        lambda: review.detail is not None and review.detail.row.sync_state is SyncState.SCORED,
        "the server's score",
    )
    review.transcript_view.setCurrentIndex(review.transcript.index(3))
    shooter.shoot(window, "04-review")

    review.back_button.click()
    window.workspace.setCurrentWidget(window.leaderboard)
    _refresh_until(
        window.leaderboard.refresh_button,
        lambda: window.leaderboard.model.own_row() is not None,
        "the call on the leaderboard (pg_cron refreshes it every minute)",
    )
    shooter.shoot(window, "05-leaderboard")


def _refresh_until(button, shown: Callable[[], bool], what: str) -> None:  # noqa: ANN001
    """Press Refresh every few seconds, as a person waiting for the server would."""
    deadline = time.monotonic() + 3 * WAIT_S
    while not shown():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        button.click()
        _pump(5.0)


def _interrupted_call(window, shooter, microphone, folder, password) -> None:  # noqa: ANN001
    """A call cut off mid-turn (here by signing out) is offered for recovery at the next sign-in."""
    from app.client.demo import espeak

    again = folder / "again"
    again.mkdir()
    microphone.add(espeak(["Hi Dana, this is Sam again, calling from Coachdesk."], again))
    window.workspace.setCurrentWidget(window.home)
    window.home.start_button.click()
    practice = window.practice
    wait_until(
        lambda: practice.controller is not None and practice.controller.recording, "your turn"
    )
    recorder = microphone.recorders[-1]
    wait_until(lambda: recorder.seconds > 2.0, "speech")
    window.sign_out()
    wait_until(lambda: window.pages.currentWidget() is window.signin, "sign-in")
    _sign_in(window, "trainee@demo.coachdesk.test", password)
    wait_until(lambda: window.recovery is not None and window.recovery.isVisible(), "recovery")
    dialog = window.recovery
    dialog.table.selectRow(0)
    shooter.shoot(window, "13-recovery")
    dialog.recover_button.click()
    wait_until(lambda: dialog.message.text().startswith("Recovered"), "the recovered call")
    dialog.close()


def _manager_screens(window, shooter, password) -> None:  # noqa: ANN001
    window.sign_out()
    wait_until(lambda: window.pages.currentWidget() is window.signin, "sign-in")
    _sign_in(window, "manager@demo.coachdesk.test", password)
    manager = window.manager
    window.workspace.setCurrentWidget(manager)
    wait_until(lambda: manager.data is not None, "team attempts")
    shooter.shoot(window, "06-manager-attempts")
    manager.tabs.setCurrentIndex(1)
    wait_until(lambda: manager.charts.months, "charts")
    shooter.shoot(window, "07-manager-charts")
    manager.tabs.setCurrentIndex(0)
    manager.new_assignment()
    shooter.shoot(window, "08-new-assignment")
    manager.assign_dialog.reject()
    manager.table.selectRow(0)
    manager.review_button.click()
    wait_until(lambda: window.review.detail is not None, "manager review")
    wait_until(lambda: window.review.playback.status.text() != "Loading…", "recording")
    shooter.shoot(window, "09-manager-review")
    window.review.back_button.click()
    assignments = window.assignments
    window.workspace.setCurrentWidget(assignments)
    wait_until(lambda: assignments.rows, "the manager's assignments")
    assignments.table.selectRow(0)
    shooter.shoot(window, "15-manager-assignments")
    from app.client.reminders import to_remind

    open_ones = [i for i, a in enumerate(assignments.rows) if to_remind(a)]
    if open_ones:
        assignments.table.selectRow(open_ones[0])
    remind = assignments.remind_selected()
    if remind is not None:  # None: everyone passed every assignment
        remind.note.setText("The Q3 objections call is due Friday: 15 minutes is enough.")
        shooter.shoot(window, "27-remind")
        remind.reject()
    window.workspace.setCurrentWidget(manager)
    dialog = window.open_settings()
    shooter.shoot(window, "10-settings")
    dialog.reject()
    about = window.open_about()
    shooter.shoot(window, "14-about")
    about.reject()


def _admin_screens(window, shooter, password) -> None:  # noqa: ANN001
    """An admin's own tabs: the studio's library with an example file imported, the audit log,
    People (each when the window has it)."""
    from app.scenario_package import example_packages

    window.sign_out()
    wait_until(lambda: window.pages.currentWidget() is window.signin, "sign-in")
    _sign_in(window, "admin@demo.coachdesk.test", password)
    studio = window.studio
    window.workspace.setCurrentWidget(studio)
    wait_until(lambda: studio.items, "the scenario library")
    example = next(p for p in example_packages() if p.name.startswith("objection"))
    studio.ctx.call(studio, lambda: studio.service.import_file(example), lambda _id: None)
    wait_until(lambda: any(i.status.value == "draft" for i in studio.items), "the imported draft")
    studio.table.selectRow(0)
    shooter.shoot(window, "16-studio-library")
    editor = studio.edit_selected()
    if editor is not None:
        shooter.shoot(window, "20-scenario-editor")
        editor.tabs.setCurrentWidget(editor.branching)
        shooter.shoot(window, "22-branching-editor")
        editor.tabs.setCurrentIndex(editor.tabs.indexOf(editor.branching) + 1)
        editor.table.selectRow(0)
        shooter.shoot(window, "21-rubric-editor")
        _try_it(window, shooter, editor)
        editor.reject()
    _tracks(window, shooter, studio)
    people = getattr(window, "people", None)
    if people is not None:
        window.workspace.setCurrentWidget(people)
        wait_until(lambda: people.data is not None, "people")
        invite = people.open_invite()
        invite.email.setText("nia@acme.example")
        invite.role.setCurrentIndex(invite.role.findText("Trainee"))
        shooter.shoot(window, "26-invitation")
        invite.reject()
    for name, attribute, ready in (
        ("17-audit-log", "audit", lambda pane: pane.rows),
        ("18-people", "people", lambda pane: getattr(pane, "rows", True)),
        ("24-organisation", "organisation", lambda pane: pane.data is not None),
    ):
        pane = getattr(window, attribute, None)
        if pane is None:
            continue
        window.workspace.setCurrentWidget(pane)
        wait_until(lambda p=pane, r=ready: r(p), name)
        shooter.shoot(window, name)
    if getattr(window, "webhooks", None) is not None:
        _webhooks_screen(window, shooter)
    window.workspace.setCurrentWidget(window.manager)


def _webhooks_screen(window, shooter) -> None:  # noqa: ANN001
    """An endpoint whose delivery log shows a test event the dispatcher tried: to a port of
    this computer nothing listens on (the local stack allows private targets), so the log
    shows the refusal and the next retry."""
    pane = window.webhooks
    window.workspace.setCurrentWidget(pane)
    wait_until(lambda: pane.loaded, "webhooks")
    made = pane.service.create(
        "http://127.0.0.1:9/coachdesk", ["attempt.scored"], "CRM sync (example)"
    )
    pane.service.send_test(made.endpoint.id)
    pane.refresh()
    wait_until(lambda: pane.endpoints.rows, "the endpoint")
    pane.endpoints_table.selectRow(0)

    def tried() -> bool:
        if any(d.attempts for d in pane.deliveries.rows):
            return True
        pane.load_deliveries()
        _pump(1.0)
        return False

    wait_until(tried, "the dispatcher's first attempt")
    pane.deliveries_table.selectRow(0)
    shooter.shoot(window, "23-webhooks")


def _tracks(window, shooter, studio) -> None:  # noqa: ANN001
    """The Studio's Tracks tab and the seed's track open in the track editor."""
    studio.tabs.setCurrentWidget(studio.tracks)
    panel = studio.tracks
    wait_until(lambda: panel.items, "the tracks")
    panel.table.selectRow(0)
    shooter.shoot(window, "29-studio-tracks")
    editor = panel.edit_selected()
    if editor is not None:
        wait_until(lambda: editor.order.count() > 0, "the track's scenarios")
        editor.order.setCurrentRow(0)
        shooter.shoot(window, "30-track-editor")
        editor.reject()
    studio.tabs.setCurrentIndex(0)


def _try_it(window, shooter, editor) -> None:  # noqa: ANN001
    """The editor's Try it with one typed answer: the persona's reply, the edge that matched."""
    dialog = editor.try_it()
    if dialog is None:
        return
    wait_until(lambda: not dialog.busy, "try it to start")
    dialog.answer.setText("I hear you on price. What would make switching worth it for you?")
    dialog.send()
    wait_until(lambda: not dialog.busy, "the persona's reply")
    shooter.shoot(window, "28-try-it")
    dialog.reject()


def _hr_screens(window, shooter, password) -> None:  # noqa: ANN001
    window.sign_out()
    wait_until(lambda: window.pages.currentWidget() is window.signin, "sign-in")
    _sign_in(window, "hr@demo.coachdesk.test", password)
    reports = window.reports
    wait_until(lambda: reports.charts.org_months and reports.report, "HR's reports")
    shooter.shoot(window, "19-hr-reports")
    window.sign_out()
    wait_until(lambda: window.pages.currentWidget() is window.signin, "sign-in")
    _sign_in(window, "manager@demo.coachdesk.test", password)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    with display():
        saved = run(args.out)
    print(f"{len(saved)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
