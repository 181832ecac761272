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
from collections.abc import Sequence

import qasync
import structlog
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QMessageBox

from app.logs import configure_logging
from ui.backend_synced import SyncedBackend
from ui.context import AppContext
from ui.errors import CoachdeskError, ExceptionReporter
from ui.main_window import MainWindow
from ui.preferences import Preferences
from ui.services import ServerConfig
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
    if config is None:
        QMessageBox.critical(
            None,
            "Coachdesk",
            "No Coachdesk server is configured. Start the local one with `coachdesk stack start` "
            "(or `make run`), or set the server URL and anon key in the settings file.",
        )
        return 2
    window, ctx = build_window(app, prefs, config)
    reporter.uninstall()
    reporter = ExceptionReporter(lambda: window).install()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    closed = asyncio.Event()
    app.aboutToQuit.connect(closed.set)
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
        ctx.backend.close()
        reporter.uninstall()
    return 0


if __name__ == "__main__":
    sys.exit(main())
