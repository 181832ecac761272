"""SIGKILL the sync process at random points, many times; then server and cache agree exactly."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from stack_fixtures import DEMO_PASSWORD, EMAILS, wait_for_scoring

from sync.engine import Phase

CHILD = Path(__file__).with_name("kill_child.py")
KILLS = 20  # runs killed before the work was done
MAX_RUNS = 60
ATTEMPTS_PER_RUN = 2


def _run_child(args: dict, kill_after: float | None, stderr: Path) -> tuple[str, float]:
    """Start the child; SIGKILL it `kill_after` seconds after it is ready (None: let it finish).
    Returns what happened and how long it worked after "ready"."""
    with stderr.open("a") as errors:
        child = subprocess.Popen(
            [sys.executable, str(CHILD), json.dumps(args)],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=Path(__file__).parents[2],
        )
    assert child.stdout is not None
    ready = child.stdout.readline().strip()
    assert ready == "ready", stderr.read_text()[-3000:]
    start = time.monotonic()
    if kill_after is None:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0, stderr.read_text()[-3000:]
        return out.strip(), time.monotonic() - start
    time.sleep(kill_after)
    if child.poll() is None:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
        return "killed", kill_after
    child.communicate(timeout=30)
    return "finished", time.monotonic() - start


def _left_to_send(data_dir: Path) -> int:
    """Outbox entries and files not sent yet, read straight from the cache file."""
    [path] = (data_dir / "cache").glob("*.sqlite3")
    conn = sqlite3.connect(path)
    try:
        entries = conn.execute("select count(*) from outbox").fetchone()[0]
        files = conn.execute("select count(*) from uploads where state = 'pending'").fetchone()[0]
        return entries + files
    finally:
        conn.close()


@pytest.mark.slow
def test_killed_at_random_points_then_server_and_cache_agree(
    stack, sign_in, engine_for, flac, tmp_path, db
):
    data_dir = tmp_path / "data"
    log = tmp_path / "recorded.log"
    args = {
        "url": stack.url,
        "anon_key": stack.anon_key,
        "email": EMAILS["trainee"],
        "password": DEMO_PASSWORD,
        "data_dir": str(data_dir),
        "recording": str(flac),
        "count": ATTEMPTS_PER_RUN,
        "log": str(log),
    }
    rng = random.Random(20261125)
    stderr = tmp_path / "child.log"
    # One run to the end measures how long a run works after "ready"; kills land inside that.
    outcome, working = _run_child(args, None, stderr)
    assert outcome == "synced"
    outcomes: list[str] = []
    killed: list[int] = []  # what was left to send at each kill
    while len(killed) < KILLS and len(outcomes) < MAX_RUNS:
        outcome, _ = _run_child(args, rng.uniform(0.0, working), stderr)
        outcomes.append(outcome)
        if outcome == "killed":
            killed.append(_left_to_send(data_dir))
    assert len(killed) == KILLS, outcomes
    # The kills landed both while sending (work left) and after (while pulling).
    assert any(left > 0 for left in killed) and any(left == 0 for left in killed), killed
    assert _run_child({**args, "count": 0}, None, stderr)[0] == "synced"

    wait_for_scoring(db)  # then the last round below brings every score back
    engine = engine_for(sign_in("trainee"), data_dir)
    assert engine.run_once().phase is Phase.IDLE
    cache = engine.cache
    recorded = log.read_text().split()
    assert len(recorded) == len(set(recorded))

    local = {
        row[0]: row[1:]
        for row in cache.db.execute(
            "select id, status, score, recording_path, transcript_path from scenario_attempts "
            "where device_id = ?",
            [cache.device_id],
        ).fetchall()
    }
    server = {
        str(row[0]): (row[1], float(row[2]) if row[2] is not None else None, row[3], row[4])
        for row in db.execute(
            "select id, status, score, recording_path, transcript_path from scenario_attempts "
            "where device_id = %s",
            (cache.device_id,),
        ).fetchall()
    }
    # Nothing that was saved is lost; nothing is on the server twice or unknown here.
    assert set(recorded) <= set(local)
    assert local == server
    assert all(status == "scored" for status, *_ in server.values())
    assert cache.sync_counts() == (0, 0)
    assert cache.db.execute("select count(*) from uploads where state <> 'done'").fetchone() == (0,)
    objects = db.execute(
        "select count(*), count(distinct name) from storage.objects "
        "where split_part(name, '/', 3) similar to %s",
        ("(" + "|".join(local) + ")%",),
    ).fetchone()
    assert objects == (3 * len(local), 3 * len(local))
