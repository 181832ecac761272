"""The disk filling up during a call, and a local cache found damaged at sign-in: both said in
plain words, and nothing recorded is lost."""

from __future__ import annotations

import errno
import os
import sqlite3
from datetime import UTC, datetime, timedelta

import soundfile
from disk_support import journals_fill_the_disk
from PySide6.QtWidgets import QMessageBox
from ui_flows import start_assignment

from app.transcript import load_sample_transcript
from audio.capture import SAMPLE_BYTES
from audio.decode import SAMPLE_RATE
from sync.cache import Cache, NewAttempt, cache_path
from ui.errors import plain_message

COLD_CALL = "f0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
SLOW = 90_000
ROOM_SECONDS = 2


def _messages(window) -> list[str]:
    return [box.text() for box in window.findChildren(QMessageBox, "errorMessage")]


def test_a_full_disk_ends_the_call_cleanly_keeping_what_was_said(
    window, sign_in, qtbot, devices, speech, monkeypatch, db
):
    words = "Hi Dana, my name is Sam and I am calling from Coachdesk about your sales training."
    devices.recorder_factory.add([speech(words)])
    journals_fill_the_disk(monkeypatch, ROOM_SECONDS * SAMPLE_RATE * SAMPLE_BYTES)
    sign_in(window, "trainee")
    start_assignment(window)
    # Nobody ends the turn: the full disk does, and the call with it.
    review = window.review
    qtbot.waitUntil(lambda: review.detail is not None, timeout=SLOW)

    [notice] = _messages(window)  # said once
    assert notice.startswith("The disk is full (") and "free in " in notice
    assert "the recording stopped at 0:02. Everything recorded up to then is kept." in notice
    detail = review.detail
    assert detail.local_recording is not None
    assert soundfile.info(detail.local_recording).duration >= ROOM_SECONDS
    assert [t.speaker for t in review.transcript.turns].count("rep") == 1
    # Saved, then synced like any other call.
    qtbot.waitUntil(
        lambda: (
            db.execute(
                "select 1 from public.scenario_attempts where id = %s", (detail.row.id,)
            ).fetchone()
            is not None
        ),
        timeout=SLOW,
    )


def test_a_damaged_cache_is_rebuilt_at_sign_in_and_the_user_told(
    window, sign_in, qtbot, tmp_path, db
):
    data_dir = tmp_path / "data"  # the backend fixture's
    cache = Cache.open(data_dir, TRAINEE)
    ids = []
    # The newest calls of the trainee (the home lists the 20 latest; earlier tests add more).
    for seconds in (150, 120):
        started = datetime.now(UTC) - timedelta(seconds=seconds)
        new = NewAttempt(
            org_id=DEMO_ORG,
            user_id=TRAINEE,
            scenario_id=COLD_CALL,
            started_at=started,
            ended_at=started + timedelta(seconds=90),
            transcript=load_sample_transcript(),
        )
        cache.record_attempt(new)
        ids.append(new.id)
    cache.close()
    cache_path(data_dir, TRAINEE).write_bytes(b"")  # emptied while Coachdesk was closed

    sign_in(window, "trainee")
    qtbot.waitUntil(lambda: bool(_messages(window)), timeout=SLOW)
    [text] = _messages(window)
    assert text.startswith("Coachdesk's local data was damaged (the file is empty)")
    assert "your 2 practice calls not yet synced were recovered" in text
    shown = {row.id for row in window.home.data.recent_attempts}
    assert set(ids) <= shown
    rows = db.execute(
        "select id::text from public.scenario_attempts where id::text = any(%s)", (ids,)
    ).fetchall()
    assert sorted(row[0] for row in rows) == sorted(ids)  # the sign-in's sync sent them


def test_a_full_disk_is_said_with_the_space_left(tmp_path):
    error = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp_path / "call.json"))
    text = plain_message(error)
    assert text.startswith("The disk is full (") and f"free in {tmp_path})" in text
    assert "nothing recorded so far is lost" in text

    # SQLite says it its own way (SQLITE_FULL), not as an OSError: a database at its page limit.
    conn = sqlite3.connect(tmp_path / "full.sqlite3")
    conn.execute("create table t (x blob)")
    conn.execute("pragma max_page_count = 3")
    try:
        conn.execute("insert into t values (zeroblob(100000))")
    except sqlite3.OperationalError as full:
        assert plain_message(full).startswith("The disk is full")
    else:
        raise AssertionError("SQLite took a row larger than its file may grow")
    finally:
        conn.close()
