"""Errors in plain language: what the user sees instead of a traceback, and the last-resort hook.

Lower layers raise errors whose text is already meant for people (`app.errors.CoachdeskError`,
`audio.errors.AudioError`, `app.formats.FormatError`); this module shows them as they are and
turns everything else into a short sentence. The traceback goes to the log, never to the screen.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx
import structlog
from PySide6.QtCore import QObject, Qt, QThread, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

# Imported for its effect, here because every screen imports this module (ui/qt_compat.py).
from app.errors import CoachdeskError
from ui import qt_compat  # noqa: F401

log = structlog.get_logger(__name__)

TITLE = "Coachdesk"


def _audio_error_types() -> tuple[type[BaseException], ...]:
    # audio/ loads numpy and PortAudio; only look it up when an error needs classifying.
    try:
        from audio.errors import AudioError
    except ImportError:  # pragma: no cover - audio/ is part of the app
        return ()
    return (AudioError,)


def _format_error_types() -> tuple[type[BaseException], ...]:
    try:
        from app.formats import FormatError
    except ImportError:  # pragma: no cover
        return ()
    return (FormatError,)


def is_cancellation(error: BaseException) -> bool:
    """Whether the error only says the user cancelled (nothing to report)."""
    try:
        from audio.errors import TranscriptionCancelled
    except ImportError:  # pragma: no cover
        return False
    return isinstance(error, TranscriptionCancelled)


def plain_message(error: BaseException) -> str:
    """One or two sentences for the user; never a traceback, never a token."""
    if isinstance(error, (CoachdeskError, *_audio_error_types(), *_format_error_types())):
        return str(error)
    if isinstance(error, httpx.TimeoutException):
        return (
            "The Coachdesk server did not answer in time. Check your connection and try again; "
            "your practice calls are kept on this computer."
        )
    if isinstance(error, httpx.TransportError):
        return (
            "Cannot reach the Coachdesk server. Check your connection; your practice calls are "
            "kept on this computer and sync when the server is back."
        )
    full = _disk_full(error)
    if full is not None:
        return full
    if isinstance(error, MemoryError):
        return "Coachdesk ran out of memory. Close other programs and try again."
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        reason = error.strerror or type(error).__name__
        return f"A file could not be read or written{where}: {reason}."
    return (
        f"Something unexpected went wrong ({type(error).__name__}). Nothing you recorded is "
        "lost. The details were written to the log."
    )


def _disk_full(error: BaseException) -> str | None:
    """A full disk (an OSError, or SQLite's "database or disk is full") with the space left."""
    from app.durable import free_space, is_disk_full
    from sync.cache import default_data_dir

    if not is_disk_full(error):
        return None
    filename = error.filename if isinstance(error, OSError) else None
    space = free_space(Path(filename) if filename else default_data_dir())
    return (
        f"The disk is full{f' ({space})' if space else ''}, so Coachdesk could not save its work. "
        "Free some disk space and try again; nothing recorded so far is lost."
    )


def show_error(
    parent: QWidget | None, error: BaseException | str, *, title: str = TITLE
) -> QMessageBox:
    """A window-modal message box that does not block the event loop (it uses `open`)."""
    text = error if isinstance(error, str) else plain_message(error)
    if isinstance(error, BaseException):
        # Expected errors need no traceback; anything else is a bug and needs one in the log.
        expected = isinstance(error, (CoachdeskError, *_audio_error_types(), OSError))
        log.warning(
            "error shown to the user",
            error_type=type(error).__name__,
            text=text,
            exc_info=None if expected else error,
        )
    box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("errorMessage")
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.open()
    return box


class _MainThreadReporter(QObject):
    """Carries exceptions from other threads to the GUI thread, where widgets may be made."""

    report = Signal(object)


ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], None]


class ExceptionReporter:
    """The last resort: log any unhandled exception and tell the user in plain words.

    Installed as `sys.excepthook` (PySide6 routes exceptions escaping slots and virtual methods
    there) and `threading.excepthook`. `uninstall()` restores the previous hooks.
    """

    def __init__(self, parent: Callable[[], QWidget | None] = lambda: None) -> None:
        self._parent = parent
        self._relay = _MainThreadReporter()
        self._relay.report.connect(self._show)
        self._previous: tuple[ExceptHook, Callable[..., object]] | None = None
        self.shown: list[str] = []

    def install(self) -> ExceptionReporter:
        self._previous = (sys.excepthook, threading.excepthook)
        sys.excepthook = self.handle
        threading.excepthook = self._handle_thread
        return self

    def uninstall(self) -> None:
        if self._previous is not None:
            sys.excepthook, threading.excepthook = self._previous
            self._previous = None

    def handle(
        self,
        kind: type[BaseException],
        error: BaseException,
        traceback: TracebackType | None,
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        log.error("unhandled exception", exc_info=(kind, error, traceback))
        app = QApplication.instance()
        if app is None:
            return
        if QThread.currentThread() is app.thread():
            self._show(error)
        else:
            self._relay.report.emit(error)

    def _handle_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    def _show(self, error: BaseException) -> None:
        self.shown.append(plain_message(error))
        show_error(self._parent(), error)
