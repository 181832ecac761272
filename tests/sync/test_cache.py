"""The local cache on its own: schema versions, atomic writes with the outbox, local queries."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sync_support import DEMO_ORG, SCENARIO_CFO, SCENARIO_COLD_CALL, USER_IDS, new_attempt_args

from sync import outbox
from sync.cache import (
    SYNCED_COLUMNS,
    AttemptSyncState,
    Cache,
    CacheError,
    NewAttempt,
    cache_path,
    store_server_rows,
)
from sync.cache_migrations import LATEST_VERSION, CacheVersionError
from sync.outbox import Op, OutsideTransactionError
from sync.uploads import UnsupportedRecordingError

TRAINEE = USER_IDS["trainee"]


@pytest.fixture
def cache(tmp_path):
    cache = Cache.open(tmp_path, TRAINEE)
    yield cache
    cache.close()


def _server_scenario(scenario_id: str, title: str, pass_score: float = 70) -> dict:
    return {
        "id": scenario_id,
        "org_id": DEMO_ORG,
        "title": title,
        "description": "",
        "persona": {"name": "Dana", "role": "CFO"},
        "difficulty": "beginner",
        "ai_prompt": "",
        "branching": {"start": "a", "nodes": []},
        "rubric": {"criteria": []},
        "status": "published",
        "pass_score": pass_score,
        "max_attempts": None,
        "updated_at": "2026-01-01T00:00:00+00:00",
        "sync_xid": 10,
    }


def test_each_user_has_a_cache_file_in_wal_mode_at_the_latest_schema(tmp_path, cache):
    assert cache.path == tmp_path / "cache" / f"{TRAINEE}.sqlite3"
    assert cache_path(tmp_path, USER_IDS["trainee2"]) != cache.path
    conn = sqlite3.connect(cache.path)
    assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert conn.execute("pragma user_version").fetchone()[0] == LATEST_VERSION
    conn.close()


def test_a_cache_from_a_newer_app_is_refused_and_left_untouched(tmp_path):
    path = cache_path(tmp_path, TRAINEE)
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("create table outbox (seq integer)")
    conn.execute(f"pragma user_version = {LATEST_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(CacheVersionError, match="newer Coachdesk"):
        Cache(path, TRAINEE)
    conn = sqlite3.connect(path)
    assert conn.execute("pragma user_version").fetchone()[0] == LATEST_VERSION + 1
    conn.close()


def test_reopening_keeps_data_and_the_device_id(tmp_path, cache):
    cache.record_attempt(NewAttempt(**new_attempt_args()))
    device = cache.device_id
    cache.close()
    again = Cache.open(tmp_path, TRAINEE)
    assert again.device_id == device
    assert again.sync_counts() == (1, 0)
    again.close()


def test_recording_an_attempt_writes_row_files_and_outbox_together(cache, tmp_path):
    recording = tmp_path / "call.flac"
    recording.write_bytes(b"fLaC0000")
    new = NewAttempt(**new_attempt_args(recording=recording))
    saved = cache.record_attempt(new)
    assert saved.sync_state is AttemptSyncState.PENDING
    entries = outbox.pending(cache.db, DEMO_ORG, limit=10)
    assert [(e.table_name, e.row_id, e.op) for e in entries] == [
        ("scenario_attempts", new.id, Op.UPSERT)
    ]
    assert entries[0].payload["status"] == "uploaded"
    assert entries[0].payload["recording_path"] == f"{DEMO_ORG}/{TRAINEE}/{new.id}.flac"
    files = cache.db.execute(
        "select bucket, object_name, content_type from uploads order by id"
    ).fetchall()
    assert files == [
        ("recordings", f"{DEMO_ORG}/{TRAINEE}/{new.id}.flac", "audio/flac"),
        ("transcripts", f"{DEMO_ORG}/{TRAINEE}/{new.id}.json", "application/json"),
        ("transcripts", f"{DEMO_ORG}/{TRAINEE}/{new.id}.txt", "text/plain"),
    ]


def test_saving_the_same_attempt_twice_queues_it_once(cache):
    new = NewAttempt(**new_attempt_args())
    cache.record_attempt(new)
    cache.record_attempt(new)
    assert cache.sync_counts() == (1, 0)


def test_a_failure_inside_the_write_leaves_neither_row_nor_entry(cache, monkeypatch):
    def broken(*args, **kwargs):
        raise sqlite3.OperationalError("disk full")

    monkeypatch.setattr(outbox, "enqueue", broken)
    new = NewAttempt(**new_attempt_args())
    with pytest.raises(sqlite3.OperationalError):
        cache.record_attempt(new)
    assert cache.attempt(new.id) is None
    assert cache.db.execute("select count(*) from uploads").fetchone()[0] == 0


def test_outbox_writes_outside_a_transaction_are_refused(cache):
    with pytest.raises(OutsideTransactionError):
        outbox.enqueue(
            cache.db, org_id=DEMO_ORG, table_name="assignments", row_id="x", op=Op.DELETE,
            payload={},
        )  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"recording_name": "call.mp4v"}, "not an audio type"),
        ({"recording_name": None, "ended_before_start": True}, "ends before it starts"),
    ],
)
def test_bad_attempts_are_refused_with_a_reason(cache, tmp_path, changes, message):
    args = new_attempt_args()
    if changes.get("recording_name"):
        args["recording"] = tmp_path / changes["recording_name"]
        args["recording"].write_bytes(b"x")
    if changes.get("ended_before_start"):
        args["ended_at"] = args["started_at"] - timedelta(seconds=1)
    with pytest.raises((CacheError, UnsupportedRecordingError), match=message):
        cache.record_attempt(NewAttempt(**args))
    assert cache.sync_counts() == (0, 0)


def test_a_missing_recording_file_is_refused(cache, tmp_path):
    with pytest.raises(CacheError, match="does not exist"):
        cache.record_attempt(NewAttempt(**new_attempt_args(recording=tmp_path / "gone.flac")))


def test_an_attempt_of_another_user_is_refused(cache):
    with pytest.raises(CacheError, match="another user"):
        cache.record_attempt(NewAttempt(**new_attempt_args("trainee2")))


def test_patches_fold_into_a_waiting_entry_field_by_field(cache):
    assignment = cache.create_assignment(
        org_id=DEMO_ORG, scenario_id=SCENARIO_COLD_CALL, user_id=TRAINEE, note="first"
    )
    cache.update_assignment(assignment, note="second")
    cache.update_assignment(assignment, due_at=datetime(2030, 1, 2, tzinfo=UTC))
    entries = outbox.pending(cache.db, DEMO_ORG, limit=10)
    assert len(entries) == 1
    assert entries[0].payload["note"] == "second"
    assert entries[0].payload["due_at"] == "2030-01-02T00:00:00+00:00"
    with pytest.raises(CacheError, match="cannot be changed"):
        cache.update_assignment(assignment, org_id=DEMO_ORG)


def test_server_rows_keep_local_changes_still_waiting(cache):
    assignment = str(uuid.uuid4())
    server_row = {
        "id": assignment, "org_id": DEMO_ORG, "scenario_id": SCENARIO_COLD_CALL,
        "track_id": None, "user_id": TRAINEE, "team_id": None, "due_at": None,
        "required_score": None, "max_attempts": None, "note": "server note",
        "assigned_by": None, "created_at": None, "updated_at": None, "sync_xid": 5,
    }  # fmt: skip
    with cache.atomic() as db:
        store_server_rows(db, "assignments", [server_row])
    cache.update_assignment(assignment, note="my note")
    # The server's next version changed the due date; the local note still waits to be sent.
    with cache.atomic() as db:
        store_server_rows(
            db,
            "assignments",
            [{**server_row, "due_at": "2030-05-01T00:00:00+00:00", "sync_xid": 9}],
        )
    row = cache.db.execute("select note, due_at from assignments where id = ?", [assignment])
    assert row.fetchone() == ("my note", "2030-05-01T00:00:00+00:00")


def test_server_rows_leave_the_columns_they_do_not_carry(cache):
    """A pull's page of attempts comes without transcripts (fetched apart): the one held stays."""
    new = NewAttempt(**new_attempt_args())
    cache.record_attempt(new)
    row = dict.fromkeys(SYNCED_COLUMNS["scenario_attempts"])
    del row["transcript"]
    row.update(
        id=new.id, org_id=DEMO_ORG, user_id=TRAINEE, scenario_id=SCENARIO_COLD_CALL,
        started_at="2026-01-01T10:00:00+00:00", status="scored", score=81, sync_xid=12,
    )  # fmt: skip
    with cache.atomic() as db:
        store_server_rows(db, "scenario_attempts", [row])
    local = cache.attempt(new.id)
    assert local.transcript == new.transcript
    assert local.status == "scored"
    # Rows that carry it replace it (the same page may hold both kinds).
    text = '{"turns": [], "version": 1}'
    other = {**row, "id": str(uuid.uuid4()), "transcript": text}
    with cache.atomic() as db:
        store_server_rows(db, "scenario_attempts", [{**row, "sync_xid": 13}, other])
    assert cache.attempt(new.id).transcript == new.transcript
    assert cache.attempt(other["id"]).transcript == {"turns": [], "version": 1}


def test_a_write_waits_for_another_connections_transaction_instead_of_failing(cache):
    """Write transactions take the lock when they begin: one that read first and found another
    connection's commit in between (a `coachdesk` command on the same file) would otherwise
    fail at once with "database is locked"."""
    reading = threading.Event()
    errors: list[BaseException] = []

    def other_connection() -> None:
        other = Cache(cache.path, cache.user_id)
        reading.wait()
        try:
            other.set_meta("other", "wrote")
        except BaseException as error:  # reported below
            errors.append(error)
        finally:
            other.close()

    thread = threading.Thread(target=other_connection)
    thread.start()
    with cache.atomic() as db:
        db.execute("select count(*) from scenario_attempts").fetchone()
        reading.set()
        thread.join(0.5)  # the other write waits for this transaction (or slips in before)
        db.execute("insert into meta (key, value) values ('gui', 'wrote')")
    thread.join()
    assert errors == []
    assert (cache.meta("gui"), cache.meta("other")) == ("wrote", "wrote")


def test_due_assignments_show_progress_from_server_and_provisional_scores(cache):
    with cache.atomic() as db:
        store_server_rows(
            db,
            "scenarios",
            [
                _server_scenario(SCENARIO_COLD_CALL, "Cold call"),
                _server_scenario(SCENARIO_CFO, "CFO"),
            ],
        )
        store_server_rows(
            db,
            "assignments",
            [
                {"id": "a1", "org_id": DEMO_ORG, "scenario_id": SCENARIO_COLD_CALL,
                 "track_id": None, "user_id": TRAINEE, "team_id": None,
                 "due_at": "2030-01-01T00:00:00+00:00", "required_score": 80,
                 "max_attempts": None, "note": "", "assigned_by": None, "created_at": None,
                 "updated_at": None, "sync_xid": 1},
                {"id": "a2", "org_id": DEMO_ORG, "scenario_id": SCENARIO_CFO, "track_id": None,
                 "user_id": USER_IDS["trainee2"], "team_id": None, "due_at": None,
                 "required_score": None, "max_attempts": None, "note": "", "assigned_by": None,
                 "created_at": None, "updated_at": None, "sync_xid": 1},
            ],
        )  # fmt: skip
    cache.record_attempt(
        NewAttempt(**new_attempt_args(), provisional_breakdown={"score": 85, "passed": True})
    )
    due = cache.due_assignments(DEMO_ORG)
    assert [d.id for d in due] == ["a1"]  # a2 is someone else's
    assert due[0].title == "Cold call"
    assert due[0].completed == 1 and due[0].done
    assert due[0].best_score == Decimal(85)
    assert not due[0].overdue(datetime(2031, 1, 1, tzinfo=UTC))


def test_a_pass_on_an_earlier_version_counts_for_an_assignment_moved_to_the_next(cache):
    # Publishing version 2 moved the assignment to it (the server's rule); the trainee passed
    # version 1, which the cache keeps archived, and is done, as the server's completion says.
    version_2 = str(uuid.uuid4())
    with cache.atomic() as db:
        store_server_rows(
            db,
            "scenarios",
            [
                {
                    **_server_scenario(SCENARIO_COLD_CALL, "Cold call"),
                    "status": "archived",
                    "lineage_id": SCENARIO_COLD_CALL,
                    "version": 1,
                },
                {
                    **_server_scenario(version_2, "Cold call"),
                    "lineage_id": SCENARIO_COLD_CALL,
                    "version": 2,
                    "time_limit_seconds": 300,
                },
            ],
        )
        store_server_rows(
            db,
            "assignments",
            [
                {"id": "a1", "org_id": DEMO_ORG, "scenario_id": version_2, "track_id": None,
                 "user_id": TRAINEE, "team_id": None, "due_at": None, "required_score": None,
                 "max_attempts": None, "note": "", "assigned_by": None, "created_at": None,
                 "updated_at": None, "sync_xid": 1},
            ],
        )  # fmt: skip
    cache.record_attempt(
        NewAttempt(**new_attempt_args(), provisional_breakdown={"score": 85, "passed": True})
    )
    (due,) = cache.due_assignments(DEMO_ORG)
    assert (due.scenario_ids, due.completed, due.best_score) == ((version_2,), 1, Decimal(85))
    current = cache.scenario(version_2)
    assert current is not None
    assert (current.lineage_id, current.version, current.time_limit_seconds) == (
        SCENARIO_COLD_CALL,
        2,
        300,
    )
    old = cache.scenario(SCENARIO_COLD_CALL)
    assert old is not None and (old.lineage_id, old.version, old.revision) == (
        SCENARIO_COLD_CALL,
        1,
        1,
    )


def test_the_cache_refuses_a_thread_that_is_not_its_owner(tmp_path):
    """One thread uses a cache (in the app, its owner: sync/owner.py); another is told so
    instead of racing it, and after closing every use says the cache is closed."""
    cache = Cache.open(tmp_path, TRAINEE)
    outcome: list[BaseException] = []

    def intruder() -> None:
        try:
            cache.scenarios(DEMO_ORG)
        except CacheError as error:
            outcome.append(error)

    thread = threading.Thread(target=intruder)
    thread.start()
    thread.join()
    assert len(outcome) == 1 and "belongs to another thread" in str(outcome[0])
    assert cache.scenarios(DEMO_ORG) == []  # still fine on its own thread
    cache.close()
    cache.close()  # a second close does nothing
    with pytest.raises(CacheError, match="is closed"):
        cache.meta("device_id")
