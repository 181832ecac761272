"""The embedded backend as `coachdesk run` starts it (runner.start_background: the private
cluster in its data folder, migrations, seed, the stack in a process of its own), used the way
the app uses it: nothing here refreshes reporting, restarts a worker or picks a port by hand.

- pg_cron's jobs run (the private cluster listens only on its socket, so pg_cron must be told
  where it is), and the leaderboard and the org overview show a new attempt within the refresh
  job's interval;
- `coachdesk db status` and the app's About line say whether they run;
- a stack stopped and started again comes back on the same URL, and the app's sync engine gets
  back to it by itself;
- the desktop app, finding the local stack set up but stopped, says so and offers to start it.

Slow by nature (a cold start, then a minute boundary or two); the figures are printed (-s).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # the app's start-up question, below
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import psycopg
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from app.client.backend import SyncedBackend
from app.client.views import FinishedAttempt, ServerConfig, SyncPhase, utc_now
from server.db.local import LocalDatabase
from server.stack import runner
from ui.app import offer_to_start_local_stack, stopped_local_stack

PASSWORD = "coachdesk-demo"
TRAINEE = "trainee@demo.coachdesk.test"
MANAGER = "manager@demo.coachdesk.test"
COLD_CALL = "f0000000-0000-4000-8000-000000000001"
REFRESH_JOB = "coachdesk-refresh-reporting"
# The refresh runs every minute; an attempt also waits for its upload and its scoring.
REFRESH_INTERVAL_S = 60
TRANSCRIPT = {
    "version": 1,
    "turns": [
        {"speaker": "persona", "start": 0.0, "end": 2.1, "text": "Dana speaking. Who is this?"},
        {
            "speaker": "rep",
            "start": 2.9,
            "end": 7.4,
            "text": "Hi Dana, this is Sam from Coachdesk. Did I catch you at a bad time?",
        },
        {"speaker": "persona", "start": 8.0, "end": 12.5, "text": "Why should I care?"},
        {
            "speaker": "rep",
            "start": 13.6,
            "end": 24.0,
            "text": "Fair question. We reduce tickets and save hours. Could we book a demo?",
        },
    ],
}


def eventually(check: Callable[[], object], timeout: float, what: str) -> object:
    """Poll `check` until it returns something truthy; fail saying `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(0.5)


class Embedded:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.data_dir = runner.default_data_dir()
        self.started_at = time.monotonic()
        self.stack = runner.start_background(self.data_dir)  # what `coachdesk run` does
        self.healthy_after_s = time.monotonic() - self.started_at
        self.dsn = LocalDatabase.default().dsn()
        self.backends: list[SyncedBackend] = []

    def backend(self, email: str) -> SyncedBackend:
        backend = SyncedBackend(
            ServerConfig(self.stack.url, self.stack.anon_key),
            data_dir=self.root / f"app-{len(self.backends)}",
            remember=False,
            interval_s=3600,  # only what the engine does by itself brings changes
        )
        backend.sign_in(email, PASSWORD)
        self.backends.append(backend)
        return backend

    def query(self, sql: str, *params: object) -> list[tuple]:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def refresh_runs(self, status: str) -> int:
        rows = self.query(
            "select count(*) from cron.job_run_details d join cron.job j using (jobid)"
            " where j.jobname = %s and d.status = %s",
            REFRESH_JOB,
            status,
        )
        return int(rows[0][0])


@pytest.fixture(scope="module")
def embedded() -> Iterator[Embedded]:
    # Not pytest's tmp_path: as root the cluster runs as `postgres`, who cannot enter it.
    root = Path(tempfile.mkdtemp(prefix="coachdesk-embedded-"))
    os.chmod(root, 0o755)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("COACHDESK_STACK_DIR", str(root / "stack"))
        env.setenv("COACHDESK_PGDATA_ROOT", str(root / "pg"))
        made = Embedded(root)
        try:
            yield made
        finally:
            for backend in made.backends:
                backend.close()
            runner.stop_background(made.data_dir)
            LocalDatabase.default().reset()
            shutil.rmtree(root, ignore_errors=True)


def finished_call() -> FinishedAttempt:
    started = utc_now() - timedelta(minutes=2)
    return FinishedAttempt(
        id=str(uuid.uuid4()),
        scenario_id=COLD_CALL,
        assignment_id=None,
        started_at=started,
        ended_at=started + timedelta(seconds=25),
        transcript=TRANSCRIPT,
        recording=None,
    )


def trainee_attempts(manager: SyncedBackend, trainee_id: str) -> int:
    rows = manager.leaderboard(date.today().replace(day=1), None)
    return next((row.attempts for row in rows if row.user_id == trainee_id), 0)


def test_scheduled_jobs_run_and_reports_show_a_new_attempt_within_the_refresh_interval(
    embedded, capsys
):  # capsys: to print the figures past it
    first_run = eventually(
        lambda: embedded.refresh_runs("succeeded"),
        timeout=embedded.healthy_after_s + 3 * REFRESH_INTERVAL_S,
        what="a first successful scheduled refresh",
    )
    first_refresh_s = time.monotonic() - embedded.started_at
    assert first_run
    trainee, manager = embedded.backend(TRAINEE), embedded.backend(MANAGER)
    trainee_id = str(trainee.account.user_id)
    before = trainee_attempts(manager, trainee_id)
    overview_before = manager.org_overview(1)[-1].attempts

    saved_at = time.monotonic()
    trainee.save_attempt(finished_call())  # then the app's engine uploads it; the stack scores it
    deadline = 2 * REFRESH_INTERVAL_S + 60
    eventually(
        lambda: trainee_attempts(manager, trainee_id) == before + 1,
        timeout=deadline,
        what="the new attempt on the leaderboard",
    )
    shown_after_s = time.monotonic() - saved_at
    assert manager.org_overview(1)[-1].attempts == overview_before + 1

    assert embedded.refresh_runs("succeeded") >= 2
    assert embedded.query("select count(*) from cron.job_run_details where status = 'failed'") == [
        (0,)
    ]

    assert "the scheduled refresh is working" in trainee.reporting_status()
    status = subprocess.run(
        [sys.executable, "-m", "app", "db", "status"],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    ).stdout
    assert f"{REFRESH_JOB} (* * * * *): last run" in status
    assert "succeeded" in status and "failed" not in status
    with capsys.disabled():
        print(
            f"\nembedded backend: healthy {embedded.healthy_after_s:.1f} s after start, first "
            f"scheduled refresh succeeded {first_refresh_s:.1f} s after start; a new attempt "
            f"on the leaderboard {shown_after_s:.1f} s after it was saved"
        )


def test_a_restarted_stack_keeps_its_url_and_the_app_syncs_again_by_itself(embedded):
    trainee = embedded.backend(TRAINEE)
    url = embedded.stack.url
    runner.stop_background(embedded.data_dir)
    saved = trainee.save_attempt(finished_call())  # while the server is down
    eventually(
        lambda: trainee.sync_status().phase is SyncPhase.OFFLINE,
        timeout=60,
        what="the app noticing the server is gone",
    )

    restarted_at = time.monotonic()
    embedded.stack = runner.start_background(embedded.data_dir)
    assert embedded.stack.url == url  # the app keeps its URL, so it must stay the same

    # Nobody presses "Sync now": the engine's probe or its backoff (at most 30 s) finds it.
    eventually(
        lambda: (
            trainee.sync_status().pending == 0 and trainee.sync_status().phase is SyncPhase.IDLE
        ),
        timeout=120,
        what="the app syncing again after the restart",
    )
    back_after_s = time.monotonic() - restarted_at
    assert embedded.query(
        "select count(*) from public.scenario_attempts where id = %s", saved.id
    ) == [(1,)]
    print(f"\nsynced again {back_after_s:.1f} s after the restart began")


def answer_start_local_server(qtbot, button_text: str | None, seen: list[str]) -> None:
    """When the question appears, note its text and press `button_text` (None: Cancel)."""

    def answer() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or box.objectName() != "startLocalServer":
            QTimer.singleShot(50, answer)
            return
        seen.append(box.text())
        if button_text is None:
            box.button(QMessageBox.StandardButton.Cancel).click()
        else:
            next(b for b in box.buttons() if b.text() == button_text).click()

    QTimer.singleShot(0, answer)


def test_the_app_says_the_local_server_is_stopped_and_offers_to_start_it(
    embedded, qtbot, monkeypatch
):
    monkeypatch.delenv("SUPABASE_URL", raising=False)
    url = embedded.stack.url
    runner.stop_background(embedded.data_dir)
    stopped = stopped_local_stack()
    assert stopped == embedded.data_dir
    # Also when the settings name it; another server is not the local one.
    assert stopped_local_stack(url) == embedded.data_dir
    assert stopped_local_stack("https://example.supabase.co") is None

    seen: list[str] = []
    answer_start_local_server(qtbot, None, seen)
    assert offer_to_start_local_stack(stopped) is None  # declined: nothing started
    assert seen and seen[0].startswith("The local Coachdesk server on this computer is not running")
    assert runner.RunningStack.read(embedded.data_dir) is None

    answer_start_local_server(qtbot, "Start the local server", seen)
    config = offer_to_start_local_stack(stopped)
    assert config is not None and config.url == url
    embedded.stack = runner.RunningStack.read(embedded.data_dir)
    assert embedded.stack is not None and embedded.stack.healthy()
    assert stopped_local_stack() is None  # running now
