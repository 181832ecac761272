"""Errors reach people as sentences, never tracebacks; background work reports, cancels, returns."""

from __future__ import annotations

import os
import threading
import time

import pytest
from PySide6.QtCore import QThreadPool, QTimer
from PySide6.QtWidgets import QMessageBox, QWidget

from app.client.threads import BACKGROUND_NICENESS, lower_this_thread_priority
from app.errors import CoachdeskError
from ui.errors import ExceptionReporter, plain_message
from ui.widgets.status_bar import AppStatusBar
from ui.workers import Operation, Task


@pytest.fixture
def reporter(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    parent.show()
    reporter = ExceptionReporter(lambda: parent).install()
    yield reporter, parent
    reporter.uninstall()


def _boxes(parent: QWidget) -> list[QMessageBox]:
    return parent.findChildren(QMessageBox, "errorMessage")


# pytest-qt would otherwise install its own hook and fail the test on the exception.
@pytest.mark.qt_no_exception_capture
def test_an_exception_escaping_a_slot_becomes_a_message(reporter, qtbot):
    _hook, parent = reporter

    def broken_slot() -> None:
        {}["missing"]  # a bug

    QTimer.singleShot(0, broken_slot)
    qtbot.waitUntil(lambda: bool(_boxes(parent)), timeout=30_000)
    text = _boxes(parent)[0].text()
    assert text.startswith("Something unexpected went wrong (KeyError)")
    assert "Traceback" not in text and "missing" not in text


def test_hook_on_a_worker_thread_is_shown_on_the_gui_thread(reporter, qtbot):
    hook, parent = reporter
    thread = threading.Thread(target=lambda: (_ for _ in ()).throw(OSError(28, "No space left")))
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: bool(_boxes(parent)), timeout=30_000)
    [shown] = hook.shown
    assert shown.startswith("The disk is full (") and "could not save its work" in shown


def test_user_facing_errors_are_shown_word_for_word():
    assert plain_message(CoachdeskError("Your session has ended.")) == "Your session has ended."


def test_operation_delivers_results_and_progress_on_the_gui_thread(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    bar = AppStatusBar(owner)
    pool = QThreadPool()
    gui = threading.current_thread()
    seen: dict[str, object] = {}

    def work(task: Task) -> int:
        seen["worker"] = threading.current_thread()
        task.progress(0.5, "halfway")
        return 42

    def done(value: int) -> None:
        seen["result"] = (value, threading.current_thread())

    Operation(owner, work).success(done).with_progress(bar, "Counting…").run(pool)
    qtbot.waitUntil(lambda: "result" in seen, timeout=30_000)
    assert seen["result"] == (42, gui) and seen["worker"] is not gui
    assert bar.running_labels == [] and not bar.progress.isVisible()
    pool.waitForDone()


def test_cancel_in_the_status_bar_stops_the_work(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    bar = AppStatusBar(owner)
    owner.show()
    pool = QThreadPool()
    started = threading.Event()
    outcome: list[str] = []

    def slow(task: Task) -> None:
        started.set()
        while True:
            task.check()
            time.sleep(0.01)

    handle = (
        Operation(owner, slow)
        .with_progress(bar, "Transcribing…", cancellable=True)
        .cancelled(lambda: outcome.append("cancelled"))
        .failure(lambda error: outcome.append(f"failed: {error!r}"))
        .run(pool)
    )
    qtbot.waitUntil(started.is_set, timeout=30_000)
    assert bar.cancel_button.isVisible() and bar.running_labels == ["Transcribing…"]
    bar.cancel_button.click()
    qtbot.waitUntil(lambda: bool(outcome), timeout=30_000)
    assert outcome == ["cancelled"] and not handle.running and not _boxes(owner)
    pool.waitForDone()


def test_a_failure_with_no_handler_is_shown_not_raised(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    owner.show()
    pool = QThreadPool()

    def fail(_task: Task) -> None:
        raise CoachdeskError("The server refused this: only managers can assign work.")

    Operation(owner, fail).run(pool)
    qtbot.waitUntil(lambda: bool(_boxes(owner)), timeout=30_000)
    assert _boxes(owner)[0].text() == "The server refused this: only managers can assign work."
    pool.waitForDone()


def test_background_work_yields_the_cpu_to_the_gui_thread(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    pool = QThreadPool()
    seen: list[int] = []

    def niceness(_task: Task) -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    Operation(owner, niceness).success(seen.append).run(pool)
    qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
    assert seen[0] >= BACKGROUND_NICENESS  # Linux: per-thread niceness
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < BACKGROUND_NICENESS
    pool.waitForDone()


def test_the_gui_thread_is_never_made_to_yield():
    # The sync engine may report to its listener on the caller's thread (a stop, a sign-out);
    # the GUI thread's priority, once lowered, could never be raised back.
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    lower_this_thread_priority()
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
