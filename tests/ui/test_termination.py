"""SIGTERM (log-out, shutdown, `kill`) ends the app's loop like closing the window, so that what
runs after the loop (`coachdesk run` stopping the local stack it started) still runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from ui.termination import TerminationWatch


def test_sigterm_reaches_the_gui_thread_as_a_stop_request(qtbot, qapp):
    watch = TerminationWatch(qapp)
    try:
        with qtbot.waitSignal(watch.stop_requested, timeout=5000) as stopped:
            os.kill(os.getpid(), signal.SIGTERM)
        assert stopped.args == [signal.SIGTERM]
    finally:
        watch.close()
    # The previous disposition is back: the process would end on the next SIGTERM as before.
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_the_desktop_app_ends_cleanly_on_sigterm(stack, tmp_path):
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        XDG_CONFIG_HOME=str(tmp_path / "config"),
        XDG_DATA_HOME=str(tmp_path / "data"),
        XDG_STATE_HOME=str(tmp_path / "state"),
        XDG_CACHE_HOME=str(tmp_path / "cache"),
    )
    app = subprocess.Popen(
        [sys.executable, "-m", "ui.app", "--server", stack.url, "--anon-key", stack.anon_key],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = ""
    try:
        assert app.stdout is not None
        deadline = time.monotonic() + 60
        while "desktop started" not in seen and time.monotonic() < deadline:
            line = app.stdout.readline()
            if not line:
                break
            seen += line
        assert "desktop started" in seen, seen
        app.send_signal(signal.SIGTERM)
        rest, _ = app.communicate(timeout=30)
    finally:
        if app.poll() is None:
            app.kill()
    # Without the watch, SIGTERM's default action ends the process at once: status -15.
    assert app.returncode == 0, seen + rest
    assert "app.stop_requested" in rest
