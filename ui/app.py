"""The desktop app's entry point: QApplication, the qasync event loop, the main window.

    from ui.app import main
    sys.exit(main(argv))          # `coachdesk` with no subcommand

The server comes from the settings (app/config.py: supabase.url and anon_key), else
SUPABASE_URL/SUPABASE_ANON_KEY, else the local stack started by `coachdesk stack start` /
`coachdesk run`. `--demo trainee|manager|admin|hr` signs in to the demo org at once (local stack).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

import qasync
import structlog
from PySide6.QtCore import QEventLoop, QMetaObject, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox, QProgressDialog

from app.client.backend import SyncedBackend
from app.client.views import ServerConfig
from app.errors import CoachdeskError
from app.logs import configure_logging
from ui.context import AppContext
from ui.errors import ExceptionReporter
from ui.main_window import MainWindow
from ui.preferences import Preferences
from ui.termination import TerminationWatch
from ui.theme import Theme
from ui.workers import Workers

log = structlog.get_logger(__name__)

DEMO_PASSWORD = "coachdesk-demo"
DEMO_ROLES = ("trainee", "manager", "admin", "hr")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="coachdesk", description="Coachdesk desktop app")
    parser.add_argument("--server", help="Supabase URL (default: settings, then the local stack)")
    parser.add_argument("--anon-key", help="the server's anon key (with --server)")
    parser.add_argument(
        "--demo", choices=DEMO_ROLES, help="sign in as this demo-org user (local stack only)"
    )
    # Qt's own options (-platform, -style) are left for QApplication.
    args, _qt_args = parser.parse_known_args(list(argv))
    return args


def server_config(args: argparse.Namespace, prefs: Preferences) -> ServerConfig | None:
    if args.server and args.anon_key:
        return ServerConfig(args.server.rstrip("/"), args.anon_key)
    supabase = prefs.loaded.settings.supabase
    if supabase.url and supabase.anon_key:
        return ServerConfig(supabase.url, supabase.anon_key)
    return ServerConfig.resolve()


def create_application(argv: Sequence[str]) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    # Fractional scaling (150 % laptops) as the system asks, not rounded to 100 or 200 %.
    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
        Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
    )
    app = QApplication([sys.argv[0] if sys.argv else "coachdesk", *argv])
    app.setApplicationName("Coachdesk")
    app.setOrganizationName("Coachdesk")
    app.setApplicationDisplayName("Coachdesk")
    return app


def build_window(
    app: QApplication, prefs: Preferences, config: ServerConfig
) -> tuple[MainWindow, AppContext]:
    theme = Theme(app, prefs.theme)
    workers = Workers.create()
    settings = prefs.loaded.settings
    backend = SyncedBackend(
        config,
        data_dir=settings.data_dir,
        playback_dir=settings.data_dir / "playback",
        upload=settings.upload,
    )
    ctx = AppContext(backend=backend, workers=workers, theme=theme, preferences=prefs)
    return MainWindow(ctx), ctx


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop app until its window closes; returns the process exit status."""
    configure_logging(to_file=True)  # no console when started from a menu: About names it
    args = parse_args(sys.argv[1:] if argv is None else argv)
    app = create_application([])
    reporter = ExceptionReporter().install()
    try:
        prefs = Preferences.load()
    except CoachdeskError as error:
        QMessageBox.critical(None, "Coachdesk", str(error))
        return 2
    config = server_config(args, prefs)
    started_here: Path | None = None
    stopped = stopped_local_stack(None if config is None else config.url)
    if stopped is not None:
        # Declined with a configured URL: the app still opens, to work offline.
        started = offer_to_start_local_stack(stopped)
        if started is not None:
            config, started_here = started, stopped
    if config is None:
        if stopped is None:
            QMessageBox.critical(
                None,
                "Coachdesk",
                "No Coachdesk server is configured. Start the local one with `coachdesk stack "
                "start` (or `make run`), or set the server URL and anon key in the settings file.",
            )
        return 2
    try:
        return _run_window(app, args, prefs, config, reporter)
    finally:
        if started_here is not None:  # as `coachdesk run`: what the app started, it stops
            from server.stack import runner

            runner.stop_background(started_here)


def stopped_local_stack(url: str | None = None) -> Path | None:
    """The local stack's data folder, when one was set up on this computer but is not running
    (with `url`: only if that is the local stack's URL)."""
    try:
        from server.stack import runner
    except ImportError:  # an installed desktop build ships without the local stack
        return None
    data_dir = runner.default_data_dir()
    state = runner.RunningStack.read(data_dir)
    if state is not None and state.alive():
        return None
    if url is not None and url.rstrip("/") != runner.last_url(data_dir):
        return None
    return data_dir if runner.set_up(data_dir) else None


def offer_to_start_local_stack(data_dir: Path) -> ServerConfig | None:
    """Say the local server is stopped and offer to start it (as `coachdesk stack start` does,
    off the GUI thread); None when the user declines or it fails to start (said)."""
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Coachdesk",
        "The local Coachdesk server on this computer is not running.\n\n"
        f"Start it now? (Its data is in {data_dir}; `coachdesk stack start` does the same.)",
    )
    box.setObjectName("startLocalServer")
    start = box.addButton("Start the local server", QMessageBox.ButtonRole.AcceptRole)
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.exec()
    if box.clickedButton() is not start:
        return None
    from server.stack import runner

    outcome: dict[str, object] = {}
    done = QEventLoop()

    def work() -> None:
        try:
            outcome["stack"] = runner.start_background(data_dir)
        except Exception as error:  # shown below, on the GUI thread
            outcome["error"] = error
        finally:
            QMetaObject.invokeMethod(done, "quit", Qt.ConnectionType.QueuedConnection)

    progress = QProgressDialog("Starting the local Coachdesk server…", "", 0, 0)
    progress.setObjectName("startingLocalServer")
    progress.setCancelButton(None)
    progress.setMinimumDuration(0)
    progress.show()
    threading.Thread(target=work, name="coachdesk-start-stack", daemon=True).start()
    done.exec()
    progress.close()
    stack = outcome.get("stack")
    if not isinstance(stack, runner.RunningStack):
        QMessageBox.critical(
            None, "Coachdesk", f"The local server could not be started: {outcome.get('error')}"
        )
        return None
    return ServerConfig(stack.url, stack.anon_key)


def _run_window(
    app: QApplication,
    args: argparse.Namespace,
    prefs: Preferences,
    config: ServerConfig,
    reporter: ExceptionReporter,
) -> int:
    window, ctx = build_window(app, prefs, config)
    reporter.uninstall()
    reporter = ExceptionReporter(lambda: window).install()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
    stop = TerminationWatch(app)
    stop.stop_requested.connect(lambda _number: closed.set())
    window.show()
    if args.demo:
        window.signin.email.setText(f"{args.demo}@demo.coachdesk.test")
        window.signin.password.setText(DEMO_PASSWORD)
        window.signin.submit()
    log.info("desktop started", server=config.url)
    try:
        with loop:
            loop.run_until_complete(closed.wait())
    finally:
        ctx.workers.shutdown()
        ctx.close()
        ctx.backend.close()
        reporter.uninstall()
        stop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
