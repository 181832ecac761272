"""A cache file emptied, overwritten or torn: set aside, rebuilt, and no unsynced call lost.

Also the backup taken before the cache's schema is upgraded.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from sync_support import DEMO_ORG, SCENARIO_CFO, USER_IDS, new_attempt_args, write_recording

from sync import cache_migrations, outbox
from sync.cache import AttemptSyncState, Cache, NewAttempt, cache_path
from sync.cache_migrations import LATEST_VERSION, MIGRATIONS, backup_path
from sync.cache_repair import CacheDamagedError
from sync.engine import Phase

TRAINEE = USER_IDS["trainee"]
PAGE = 4096
BREAKDOWN = {"score": 81.5, "passed": True, "criteria": []}


def _record_calls(data_dir: Path, count: int) -> dict[str, Path]:
    """`count` finished calls, each with its recording in its own call folder; closed cache."""
    cache = Cache.open(data_dir, TRAINEE)
    calls = {}
    for minutes in range(count):
        attempt_id = str(uuid.uuid4())
        folder = data_dir / "recordings" / attempt_id
        folder.mkdir(parents=True)
        args = new_attempt_args(recording=write_recording(folder), minutes_ago=60 + minutes)
        new = NewAttempt(**{**args, "id": attempt_id, "provisional_breakdown": BREAKDOWN})
        cache.record_attempt(new)
        calls[attempt_id] = new.recording
    cache.close()
    return calls


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _torn(path: Path) -> None:
    """Pages in the middle of the file overwritten, as a power cut on a lying disk leaves them."""
    with open(path, "r+b") as handle:
        handle.seek(2 * PAGE)
        handle.write(os.urandom(4 * PAGE))


@pytest.mark.parametrize("damage", [_empty, _garbage, _torn], ids=["empty", "garbage", "torn"])
def test_a_damaged_cache_is_set_aside_and_every_unsynced_call_recorded_again(tmp_path, damage):
    data_dir = tmp_path / "data"
    calls = _record_calls(data_dir, 30)
    path = cache_path(data_dir, TRAINEE)
    assert not Path(f"{path}-wal").exists()  # closed: everything is in the main file
    damage(path)
    damaged = path.read_bytes()

    cache = Cache.open(data_dir, TRAINEE)
    try:
        repair = cache.repair
        assert repair is not None and repair.recovered == 30
        assert repair.kept_as.read_bytes() == damaged  # kept as it was, never deleted
        assert repair.kept_as.parent == path.parent and repair.kept_as != path
        assert str(repair.kept_as) in repair.message
        assert "your 30 practice calls not yet synced were recovered" in repair.message
        assert cache.sync_counts() == (30, 0)
        for attempt_id, recording in calls.items():
            record = cache.attempt(attempt_id)  # the same id: the server never sees it twice
            assert record is not None and record.sync_state is AttemptSyncState.PENDING
            assert record.local_recording == recording.resolve()
            assert record.score == Decimal("81.5") and record.provisional
            assert record.transcript is not None and record.transcript["turns"]
        waiting = cache.db.execute("select count(*) from uploads where state = 'pending'")
        assert waiting.fetchone()[0] == 30 * 3  # each call's recording and two transcript files
    finally:
        cache.close()
    reopened = Cache.open(data_dir, TRAINEE)  # the rebuilt cache is sound: nothing to repair
    assert reopened.repair is None and reopened.sync_counts() == (30, 0)
    reopened.close()


def test_the_damage_is_named_in_plain_words(tmp_path):
    data_dir = tmp_path / "data"
    _record_calls(data_dir, 1)
    path = cache_path(data_dir, TRAINEE)
    _torn(path)
    with pytest.raises(CacheDamagedError) as refused:
        Cache.open(data_dir, TRAINEE, repair=False)
    assert str(refused.value).startswith(f"The local cache {path} is damaged: SQLite's check")
    assert path.exists()  # refusing leaves the file where it is

    _empty(path)
    with pytest.raises(CacheDamagedError, match="the file is empty"):
        Cache.open(data_dir, TRAINEE, repair=False)
    path.write_bytes(b"not a database at all" * 100)
    with pytest.raises(CacheDamagedError, match="no SQLite header"):
        Cache.open(data_dir, TRAINEE, repair=False)


def test_the_damaged_files_wal_goes_aside_with_it(tmp_path):
    """A new cache must never start beside the old one's WAL: SQLite would replay it."""
    data_dir = tmp_path / "data"
    _record_calls(data_dir, 2)
    path = cache_path(data_dir, TRAINEE)
    _garbage(path)
    stale_wal = os.urandom(3 * PAGE)
    Path(f"{path}-wal").write_bytes(stale_wal)
    cache = Cache.open(data_dir, TRAINEE)
    try:
        assert cache.repair is not None
        assert Path(f"{cache.repair.kept_as}-wal").read_bytes() == stale_wal
        assert cache.sync_counts() == (2, 0)
    finally:
        cache.close()
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").read_bytes() != stale_wal


def test_a_cache_file_deleted_outright_gets_its_unsynced_calls_back(tmp_path):
    data_dir = tmp_path / "data"
    calls = _record_calls(data_dir, 3)
    cache_path(data_dir, TRAINEE).unlink()
    cache = Cache.open(data_dir, TRAINEE)
    assert cache.repair is None  # nothing to set aside; the copies still count
    assert {a.id for a in cache.recent_attempts(new_attempt_args()["org_id"])} == set(calls)
    assert cache.sync_counts() == (3, 0)
    cache.close()


def test_a_sound_cache_opens_untouched_and_sign_out_removes_the_copies(tmp_path):
    data_dir = tmp_path / "data"
    _record_calls(data_dir, 2)
    cache = Cache.open(data_dir, TRAINEE)
    assert cache.repair is None and cache.sync_counts() == (2, 0)
    assert sorted(p.name for p in cache.path.parent.iterdir()) == sorted(
        [cache.path.name, f"{cache.path.name}-wal", f"{cache.path.name}-shm", cache.copies.name]
    )
    assert len(list(cache.copies.iterdir())) == 2
    cache.destroy()
    assert not cache.copies.exists()


def test_rebuilt_calls_reach_the_server_once_and_synced_ones_come_back_by_pull(
    sign_in, engine_for, tmp_path, db
):
    data_dir = tmp_path / "data"
    engine = engine_for(sign_in("trainee"), data_dir)
    cache = engine.cache
    synced = [NewAttempt(**new_attempt_args(minutes_ago=90 + i)) for i in range(2)]
    for new in synced:
        cache.record_attempt(new)
    assert engine.run_once().phase is Phase.IDLE
    assert not any(cache.copies.iterdir())  # the server has them: no copy kept
    engine.cache.close()

    unsynced = _record_calls(data_dir, 3)
    _garbage(cache.path)
    engine = engine_for(sign_in("trainee"), data_dir)
    assert engine.cache.repair is not None and engine.cache.repair.recovered == 3
    status = engine.run_once(full=True)
    assert status.phase is Phase.IDLE, status.last_error
    assert status.pending == 0 and status.rejected == 0
    ids = [*unsynced, *(a.id for a in synced)]
    rows = db.execute(
        "select id::text, count(*) from scenario_attempts where id::text = any(%s) group by id",
        (ids,),
    ).fetchall()
    assert dict(rows) == dict.fromkeys(ids, 1)
    for attempt_id in ids:
        assert engine.cache.attempt(attempt_id) is not None
    assert not any(engine.cache.copies.iterdir())


def test_a_held_attempt_keeps_its_copy_until_its_files_are_on_the_server(
    sign_in, engine_for, tmp_path, recording
):
    """upload = "manual": the row syncs at once, the transcript and recording only on Upload."""
    data_dir = tmp_path / "data"
    engine = engine_for(sign_in("trainee"), data_dir)
    held = NewAttempt(**new_attempt_args(recording=recording()), hold_files=True)
    engine.cache.record_attempt(held)
    assert engine.run_once().pending == 0  # the row is on the server, its files are not
    assert [p.stem for p in engine.cache.copies.iterdir()] == [held.id]
    engine.cache.close()

    _torn(cache_path(data_dir, TRAINEE))
    engine = engine_for(sign_in("trainee"), data_dir)
    assert engine.cache.repair is not None and engine.cache.repair.recovered == 1
    assert engine.cache.attempt(held.id).sync_state is AttemptSyncState.HELD  # still held
    engine.cache.upload_attempt(held.id)
    assert engine.run_once().phase is Phase.IDLE
    assert not any(engine.cache.copies.iterdir())  # everything is on the server now


# Schema upgrades ---------------------------------------------------------------------------------
def _cache_at_version(data_dir: Path, version: int, monkeypatch) -> Cache:
    """A cache made by an app that knew only the first `version` schema versions."""
    with monkeypatch.context() as older_app:
        older_app.setattr(cache_migrations, "MIGRATIONS", MIGRATIONS[:version])
        older_app.setattr(cache_migrations, "LATEST_VERSION", version)
        return Cache.open(data_dir, TRAINEE)


def _user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("pragma user_version").fetchone()[0])
    finally:
        conn.close()


def test_a_cache_is_backed_up_before_its_schema_changes_and_the_backup_restores(
    tmp_path, monkeypatch
):
    data_dir = tmp_path / "data"
    old = _cache_at_version(data_dir, LATEST_VERSION - 1, monkeypatch)
    # Unsynced work of any kind (an attempt's columns vary between versions, the outbox not).
    assignment = old.create_assignment(org_id=DEMO_ORG, scenario_id=SCENARIO_CFO, user_id=TRAINEE)
    old.close()
    path = cache_path(data_dir, TRAINEE)
    backup = backup_path(path, LATEST_VERSION - 1)

    # An upgrade that goes wrong: its script loses the outbox.
    broken = (*MIGRATIONS[:-1], f"delete from outbox; {MIGRATIONS[-1]}")
    with monkeypatch.context() as buggy_release:
        buggy_release.setattr(cache_migrations, "MIGRATIONS", broken)
        upgraded = Cache.open(data_dir, TRAINEE)
        assert upgraded.sync_counts() == (0, 0)
        upgraded.close()
    assert _user_version(backup) == LATEST_VERSION - 1  # the cache as it was before

    # Restoring: the backup copied over the cache, which the (fixed) app upgrades again.
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, path)
    restored = Cache.open(data_dir, TRAINEE)
    assert restored.repair is None
    assert restored.sync_counts() == (1, 0)
    [entry] = outbox.pending(restored.db, DEMO_ORG, limit=10)
    assert (entry.table_name, entry.row_id) == ("assignments", assignment)
    assert _user_version(path) == LATEST_VERSION
    restored.close()


def test_a_new_or_current_cache_takes_no_backup(tmp_path):
    cache = Cache.open(tmp_path, TRAINEE)
    cache.close()
    Cache.open(tmp_path, TRAINEE).close()
    assert not list(cache.path.parent.glob("*.bak"))
