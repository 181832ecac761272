"""Desktop responsiveness: cold start to an interactive home, the longest event-loop stall while
a turn is transcribed and while sync runs, and memory after a ten-minute practice call.

Everything runs on the offscreen platform against a throwaway local stack in its own process
(app/client/demo.py), so the server's work does not share this interpreter. Baselines, measured
in the same run:
- cold start: a bare PySide6 process showing one window (what any Qt app pays);
- stalls: a QTimer heartbeat (every HEARTBEAT_MS) on an idle loop; a stall is how late a beat
  fires. Target: longest stall < 50 ms while transcribing and while syncing;
- memory: resident memory of the app at its interactive home, before practising.

Sizes: COACHDESK_BENCH_UI_TURNS (persona/rep exchanges in the call, default 20: about ten
minutes of conversation), COACHDESK_BENCH_UI_SYNC (attempts queued offline, default 20),
COACHDESK_BENCH_UI_STARTS (cold starts per side, default 3).

HR's Reports tab (also alone: `python -m bench.bench_ui --reports`): from constructing the pane
to the event loop handling its next event (interactive: target ≤ 1 s), and on to every report
shown, against a bare widget built and shown the same way; COACHDESK_BENCH_UI_REPORTS times
(default 5), alternating.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HEARTBEAT_MS = 5
WAKE_MS = 20  # how often a waiting benchmark looks at state other threads change
IDLE_S = 3.0
STALL_TARGET_MS = 50.0
TURNS = int(os.environ.get("COACHDESK_BENCH_UI_TURNS", "20"))
SYNC_ATTEMPTS = int(os.environ.get("COACHDESK_BENCH_UI_SYNC", "20"))
STARTS = int(os.environ.get("COACHDESK_BENCH_UI_STARTS", "3"))
REPORT_OPENS = int(os.environ.get("COACHDESK_BENCH_UI_REPORTS", "5"))
INTERACTIVE_TARGET_S = 1.0
DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
ADMIN = "a0000000-0000-4000-8000-000000000004"
ANSWER = (
    "Thanks for asking. Um, we help sales teams like yours cut the time they spend on admin, "
    "so reps can spend more of the week talking to customers. What does your team do today "
    "when a new rep joins, and how long does it take before they close their first deal? "
)
CLOSING = "Great, I will send an invite for Thursday at ten. Thanks for your time today."


# The stack, in its own process ---------------------------------------------------------------
@dataclass(frozen=True)
class Stack:
    url: str
    anon_key: str
    service_key: str
    dsn: str


def _server_cpus() -> tuple[set[int], set[int]] | None:
    """(CPUs for the app, CPUs for the server) when the server gets a core of its own.

    In use the server is Supabase, on other machines; here the stack and its Postgres would
    otherwise take the app's cores at the moments measured (a sync is when the server works
    hardest), and the stall would measure this machine's sharing, not the app. Set
    COACHDESK_BENCH_UI_SHARED_CPUS=1 to measure them sharing all cores, as before.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if os.environ.get("COACHDESK_BENCH_UI_SHARED_CPUS") == "1" or len(cpus) < 2:
        return None
    return set(cpus[:-1]), {cpus[-1]}


@contextmanager
def stack_process() -> Iterator[Stack]:
    split = _server_cpus()
    child = subprocess.Popen(
        [sys.executable, "-m", "app.client.demo"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        # Postgres and the stack's worker, started by the child, inherit its CPUs.
        preexec_fn=(lambda: os.sched_setaffinity(0, split[1])) if split else None,
    )
    everything = os.sched_getaffinity(0)
    if split:
        os.sched_setaffinity(0, split[0])
    try:
        line = child.stdout.readline() if child.stdout else ""
        if not line:
            raise RuntimeError("the throwaway stack did not start")
        yield Stack(**json.loads(line))
    finally:
        if child.stdin:
            child.stdin.close()
        child.wait(timeout=60)
        os.sched_setaffinity(0, everything)


# Cold start ----------------------------------------------------------------------------------
def _bare_qt_child() -> None:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication([])
    label = QLabel("ready")
    label.show()
    app.processEvents()
    print("ready", flush=True)


def _app_child() -> None:
    """The real start: imports, settings, theme, window, sign-in, home loaded from the server."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.client.views import ServerConfig
    from app.logs import configure_logging
    from ui.app import build_window
    from ui.preferences import Preferences

    configure_logging("WARNING")
    app = QApplication([])
    folder = Path(tempfile.mkdtemp())
    os.environ["COACHDESK_DATA_DIR"] = str(folder / "data")  # never the user's own cache
    prefs = Preferences.load(
        QSettings(str(folder / "ui.ini"), QSettings.Format.IniFormat),
        folder / "config.toml",
        folder / "managed.toml",
    )
    config = ServerConfig(os.environ["SUPABASE_URL"], os.environ["SUPABASE_ANON_KEY"])
    window, ctx = build_window(app, prefs, config)
    window.show()
    window.signin.email.setText("trainee@demo.coachdesk.test")
    window.signin.password.setText("coachdesk-demo")
    window.signin.submit()
    _pump_until(lambda: window.home is not None and window.home.data is not None, 60)
    print("ready", flush=True)
    ctx.workers.shutdown()


def _time_child(mode: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_ui", mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    line = child.stdout.readline() if child.stdout else ""
    elapsed = time.perf_counter() - start
    child.wait(timeout=60)
    if line.strip() != "ready":
        raise RuntimeError(f"{mode} did not get ready")
    return elapsed


def cold_start(stack: Stack) -> dict[str, float]:
    env = {**os.environ, "SUPABASE_URL": stack.url, "SUPABASE_ANON_KEY": stack.anon_key}
    bare, full = [], []
    for _ in range(STARTS):  # alternate, so a noisy moment hits both sides
        bare.append(_time_child("--bare-qt-child", env))
        full.append(_time_child("--app-child", env))
    return {"bare_qt_s": statistics.median(bare), "app_home_s": statistics.median(full)}


# Stalls --------------------------------------------------------------------------------------
class Heartbeat:
    """A timer every HEARTBEAT_MS; records the gap before each beat while `recording`.

    A gap longer than HEARTBEAT_MS is a stall of the event loop: gap - HEARTBEAT_MS.
    """

    def __init__(self) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.recording: Callable[[], bool] = lambda: True
        self.gaps_ms: list[float] = []
        self._last = time.perf_counter()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(HEARTBEAT_MS)
        self._timer.timeout.connect(self._beat)

    def start(self, recording: Callable[[], bool]) -> None:
        self.recording = recording
        self.gaps_ms = []
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> list[float]:
        self._timer.stop()
        return self.gaps_ms

    def _beat(self) -> None:
        now = time.perf_counter()
        if self.recording():
            self.gaps_ms.append((now - self._last) * 1000)
        self._last = now


def _pump_until(predicate: Callable[[], object], timeout: float) -> None:
    """Run the event loop until `predicate()` holds, waiting for events as the app's loop does.

    QApplication.processEvents(flags, ms) drops WaitForMoreEvents and returns at once when
    nothing is pending: a loop over it spins the GUI thread at 100% of a core, taking the
    interpreter lock hundreds of thousands of times a second from the threads the app runs (the
    sync worker's stalls measured that way were the spinning's as much as the sync's).
    QEventLoop.processEvents(WaitForMoreEvents) sleeps until an event has been handled; a timer
    every WAKE_MS wakes it to look at predicates that other threads change without an event.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    wake = QTimer()
    wake.setInterval(WAKE_MS)
    wake.start()
    try:
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError("the benchmark waited too long")
            loop.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents)
    finally:
        wake.stop()


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values) or [0.0]
    return {
        "max_gap_ms": ordered[-1],
        "stall_ms": max(ordered[-1] - HEARTBEAT_MS, 0.0),
        "p99_gap_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "beats": float(len(values)),
    }


def _rss_mb(pid: int | str = "self") -> float:
    with open(f"/proc/{pid}/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _chain_scenario(stack: Stack, turns: int) -> str:
    """A published scenario whose dialog is a chain of `turns` lines (a long call)."""
    import psycopg
    from psycopg.types.json import Jsonb

    nodes = [
        {
            "id": f"n{i}",
            "persona_line": f"Interesting. Tell me more about point {i}, how would that work?",
            "edges": [{"to": f"n{i + 1}" if i + 1 < turns else "end", "default": True}],
        }
        for i in range(turns)
    ]
    nodes.append({"id": "end", "persona_line": "Okay, send me the invite.", "end": True})
    scenario_id = str(uuid.uuid4())
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        rubric, persona = conn.execute(
            "select rubric, persona from public.scenarios where title like 'Cold call%%'"
        ).fetchone()
        conn.execute(
            "insert into public.scenarios (id, org_id, title, description, persona, difficulty,"
            " branching, rubric, status, created_by) values (%s, %s, 'Ten-minute call', '', %s,"
            " 'advanced', %s, %s, 'published', %s)",
            (
                scenario_id,
                DEMO_ORG,
                Jsonb(persona),
                Jsonb({"version": 1, "start": "n0", "nodes": nodes}),
                Jsonb(rubric),
                ADMIN,
            ),
        )
    return scenario_id


def in_process(stack: Stack) -> dict[str, object]:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from app.client.backend import SyncedBackend
    from app.client.demo import FileMicrophone, NetworkSwitch, espeak
    from app.client.transcriber_process import ProcessTranscriber
    from app.client.views import FinishedAttempt, ServerConfig, utc_now
    from app.logs import configure_logging
    from ui.context import AppContext
    from ui.main_window import Devices, MainWindow
    from ui.preferences import Preferences
    from ui.theme import Theme, ThemeChoice
    from ui.workers import Workers

    configure_logging("WARNING")
    app = QApplication.instance() or QApplication([])
    scenario_id = _chain_scenario(stack, TURNS)
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        prefs = Preferences.load(
            QSettings(str(folder / "ui.ini"), QSettings.Format.IniFormat),
            folder / "config.toml",
            folder / "managed.toml",
        )
        prefs.speak_persona = False
        network = NetworkSwitch()
        backend = SyncedBackend(
            ServerConfig(stack.url, stack.anon_key),
            data_dir=folder / "data",
            remember=False,
            transport=network,
            playback_dir=folder / "p",
        )
        workers = Workers.create()
        ctx = AppContext(backend, workers, Theme(app, ThemeChoice.LIGHT), prefs)
        answers = espeak([ANSWER * 2] * (TURNS - 1) + [CLOSING], folder)
        microphone = FileMicrophone(answers, pace=0)  # answers arrive at once, then real time
        transcriber = ProcessTranscriber()  # what the app uses
        devices = Devices(
            recorder_factory=microphone,
            transcriber=transcriber,
            use_voice=False,
            recordings_root=folder / "recordings",
        )
        window = MainWindow(ctx, devices)
        window.resize(1366, 768)
        window.show()
        window.signin.email.setText("trainee@demo.coachdesk.test")
        window.signin.password.setText("coachdesk-demo")
        window.signin.submit()
        _pump_until(lambda: window.home is not None and window.home.data is not None, 60)
        heartbeat = Heartbeat()

        # Idle baseline.
        heartbeat.start(lambda: True)
        end = time.monotonic() + IDLE_S
        _pump_until(lambda: time.monotonic() > end, IDLE_S + 5)
        idle = _summary(heartbeat.stop())
        rss_home = _rss_mb()

        # A long practice call; beats count only while a turn is being transcribed.
        scenario = backend.scenario(scenario_id)
        practice = window.practice

        def transcribing() -> bool:
            return practice.controller is not None and practice.controller.state == "transcribing"

        heartbeat.start(transcribing)
        started = time.perf_counter()
        window.start_practice(scenario, None)
        for _ in range(TURNS):
            _pump_until(lambda: practice.controller.recording, 600)
            recorder = microphone.recorders[-1]
            _pump_until(lambda r=recorder: microphone.heard(r), 600)
            practice.end_turn()
        _pump_until(lambda: window.review.detail is not None, 600)
        practice_s = time.perf_counter() - started
        transcribe = _summary(heartbeat.stop())
        turns = window.review.detail.transcript.get("turns", [])
        call_s = max((float(t["end"]) for t in turns), default=0.0)  # the call's own timeline
        rss_after = _rss_mb()
        child = transcriber._process
        rss_transcriber = _rss_mb(child.pid) if child is not None and child.is_alive() else 0.0

        # Sync: attempts saved while the network is down, then sent in one go when it is back;
        # beats count while "Sync now" runs.
        transcript = window.review.detail.transcript
        network.offline = True
        for _ in range(SYNC_ATTEMPTS):
            now = utc_now()
            backend.save_attempt(
                FinishedAttempt(
                    str(uuid.uuid4()),
                    scenario_id,
                    None,
                    now - timedelta(seconds=call_s),
                    now,
                    transcript,
                    None,
                )
            )
        _pump_until(lambda: backend.sync_status().pending >= SYNC_ATTEMPTS, 60)
        network.offline = False
        done: list[object] = []
        heartbeat.start(lambda: not done)
        sync_started = time.perf_counter()
        ctx.call(window, backend.sync_now, done.append, on_failure=done.append)
        _pump_until(lambda: bool(done), 300)
        sync_s = time.perf_counter() - sync_started
        if backend.sync_status().pending:
            raise RuntimeError(f"sync left {backend.sync_status().pending} changes unsent")
        sync = _summary(heartbeat.stop())
        window.close()
        workers.shutdown()
        ctx.close()
        transcriber.close()
    return {
        "idle": idle,
        "transcribe": transcribe,
        "sync": sync,
        "sync_s": sync_s,
        "practice_s": practice_s,
        "call_s": call_s,
        "rss_home_mb": rss_home,
        "rss_after_mb": rss_after,
        "rss_transcriber_mb": rss_transcriber,
    }


# HR's Reports tab ----------------------------------------------------------------------------
def _until_next_event() -> None:
    """Until the event loop has handled an event posted now: the screen answers input again."""
    from PySide6.QtCore import QTimer

    handled: list[bool] = []
    QTimer.singleShot(0, lambda: handled.append(True))
    _pump_until(lambda: handled, 30)


def reports_screen(stack: Stack) -> dict[str, float]:
    """Medians over REPORT_OPENS opens of the Reports pane as HR, and of a bare widget."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QLabel

    from app.client.backend import SyncedBackend
    from app.client.views import ServerConfig
    from app.logs import configure_logging
    from ui.context import AppContext
    from ui.preferences import Preferences
    from ui.reports_pane import ReportsPane
    from ui.theme import Theme, ThemeChoice
    from ui.workers import Workers

    configure_logging("WARNING")
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        prefs = Preferences.load(
            QSettings(str(folder / "ui.ini"), QSettings.Format.IniFormat),
            folder / "config.toml",
            folder / "managed.toml",
        )
        backend = SyncedBackend(
            ServerConfig(stack.url, stack.anon_key), data_dir=folder / "data", remember=False
        )
        workers = Workers.create()
        ctx = AppContext(backend, workers, Theme(app, ThemeChoice.LIGHT), prefs)
        backend.sign_in("hr@demo.coachdesk.test", "coachdesk-demo")
        backend.sync_now()
        bare, interactive, loaded = [], [], []
        try:
            for _ in range(REPORT_OPENS):
                start = time.perf_counter()
                label = QLabel("ready")
                label.show()
                _until_next_event()
                bare.append(time.perf_counter() - start)
                label.close()

                start = time.perf_counter()
                pane = ReportsPane(ctx)
                pane.resize(1366, 768)
                pane.show()
                pane.refresh()  # what showing the tab does
                _until_next_event()
                interactive.append(time.perf_counter() - start)
                _pump_until(
                    lambda p=pane: not p.loading and p.scores.rows and p.charts.org_months, 60
                )
                loaded.append(time.perf_counter() - start)
                pane.close()
                pane.deleteLater()
                _until_next_event()
        finally:
            backend.sign_out(discard_unsynced=True)
            backend.close()
            workers.shutdown()
    return {
        "bare_s": statistics.median(bare),
        "interactive_s": statistics.median(interactive),
        "interactive_max_s": max(interactive),
        "loaded_s": statistics.median(loaded),
    }


def print_reports_screen(figures: dict[str, float]) -> None:
    verdict = "meets" if figures["interactive_max_s"] <= INTERACTIVE_TARGET_S else "MISSES"
    print(
        f"HR's Reports tab: interactive {figures['interactive_s'] * 1000:.0f} ms after it opens "
        f"(slowest of {REPORT_OPENS}: {figures['interactive_max_s'] * 1000:.0f} ms; a bare "
        f"widget {figures['bare_s'] * 1000:.1f} ms, ratio "
        f"{figures['interactive_s'] / figures['bare_s']:.0f}x) - {verdict} the "
        f"{INTERACTIVE_TARGET_S:.0f} s target; every report shown after "
        f"{figures['loaded_s'] * 1000:.0f} ms"
    )


def main() -> None:
    # Stall figures depend on what else the machine runs; say how busy it was.
    load_before = os.getloadavg()[0]
    with stack_process() as stack:
        starts = cold_start(stack)
        print(
            f"cold start to interactive home: {starts['app_home_s']:.2f} s "
            f"(bare Qt window: {starts['bare_qt_s']:.2f} s, "
            f"ratio {starts['app_home_s'] / starts['bare_qt_s']:.1f}x); median of {STARTS}"
        )
        figures = in_process(stack)
        print_reports_screen(reports_screen(stack))
    idle = figures["idle"]
    print(
        f"idle loop (baseline): longest gap between {HEARTBEAT_MS} ms beats "
        f"{idle['max_gap_ms']:.1f} ms, p99 {idle['p99_gap_ms']:.1f} ms"
    )
    for name, label in (("transcribe", "while transcribing turns"), ("sync", "while syncing")):
        stats = figures[name]
        ratio = stats["max_gap_ms"] / idle["max_gap_ms"]
        verdict = "meets" if stats["stall_ms"] < STALL_TARGET_MS else "MISSES"
        print(
            f"longest stall {label}: {stats['stall_ms']:.1f} ms (longest gap "
            f"{stats['max_gap_ms']:.1f} ms, p99 {stats['p99_gap_ms']:.1f} ms, "
            f"{int(stats['beats'])} beats; {ratio:.1f}x idle) - {verdict} the "
            f"{STALL_TARGET_MS:.0f} ms target"
        )
    print(
        f"practice: {TURNS} turns, call {figures['call_s'] / 60:.1f} min on the call's timeline, "
        f"{figures['practice_s']:.0f} s wall; "
        f"sync of {SYNC_ATTEMPTS} attempts {figures['sync_s']:.1f} s"
    )
    home_mb, after_mb = figures["rss_home_mb"], figures["rss_after_mb"]
    print(
        f"memory: {home_mb:.0f} MB at home, {after_mb:.0f} MB after the call and its review "
        f"(ratio {after_mb / home_mb:.2f}x); the transcriber process with its model: "
        f"{figures['rss_transcriber_mb']:.0f} MB"
    )

    print(
        f"machine load (1-min average): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    split = _server_cpus()
    print(
        f"CPUs: the app on {sorted(split[0])}, the local server (stack, Postgres) on "
        f"{sorted(split[1])}, as a remote server would not share them"
        if split
        else "CPUs: the app and the local server share all of them"
    )


if __name__ == "__main__":
    if sys.argv[1:] == ["--bare-qt-child"]:
        _bare_qt_child()
    elif sys.argv[1:] == ["--app-child"]:
        _app_child()
    elif sys.argv[1:] == ["--reports"]:
        with stack_process() as running:
            print_reports_screen(reports_screen(running))
    else:
        main()
