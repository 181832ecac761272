"""upload = "manual": an attempt's row syncs at once, its recording and transcript on Upload."""

from __future__ import annotations

import pytest
from stack_fixtures import wait_for_scoring
from sync_support import new_attempt_args

from sync.cache import AttemptSyncState, CacheError, NewAttempt
from sync.engine import Phase


def _server_row(db, attempt_id: str) -> tuple | None:
    return db.execute(
        "select status::text, recording_path, transcript_path, transcript is not null "
        "from public.scenario_attempts where id = %s",
        (attempt_id,),
    ).fetchone()


def _stored_objects(db, attempt_id: str) -> set[str]:
    rows = db.execute(
        "select bucket_id || '/' || name from storage.objects where name like %s",
        (f"%{attempt_id}%",),
    ).fetchall()
    return {row[0] for row in rows}


def test_held_files_stay_here_until_upload_while_the_row_syncs(sign_in, engine_for, recording, db):
    session = sign_in("trainee")
    engine = engine_for(session)
    new = NewAttempt(**new_attempt_args(recording=recording()), hold_files=True)
    saved = engine.cache.record_attempt(new)
    assert saved.sync_state is AttemptSyncState.HELD

    status = engine.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert status.pending == 0 and status.last_push.files == 0
    # The metadata is on the server; neither the recording nor the transcript is.
    assert _server_row(db, new.id) == ("recorded", None, None, False)
    assert _stored_objects(db, new.id) == set()
    local = engine.cache.attempt(new.id)
    assert local.sync_state is AttemptSyncState.HELD
    assert local.transcript == new.transcript  # kept here, for the review
    assert engine.cache.held_attempts() == {new.id}
    # Later rounds leave them alone too.
    engine.run_once()
    assert _stored_objects(db, new.id) == set()
    # A manager sees that the call happened, and that its files are not uploaded yet.
    manager = engine_for(sign_in("manager"))
    assert manager.run_once().phase is Phase.IDLE
    seen = manager.cache.attempt(new.id)
    assert seen.sync_state is AttemptSyncState.RECORDED and seen.transcript is None

    released = engine.cache.upload_attempt(new.id)
    assert released.sync_state is AttemptSyncState.PENDING
    status = engine.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert status.last_push.files == 3
    org, user = new.org_id, new.user_id
    assert _stored_objects(db, new.id) == {
        f"recordings/{org}/{user}/{new.id}.flac",
        f"transcripts/{org}/{user}/{new.id}.json",
        f"transcripts/{org}/{user}/{new.id}.txt",
    }
    wait_for_scoring(db)
    assert _server_row(db, new.id) == (
        "scored",
        f"{org}/{user}/{new.id}.flac",
        f"{org}/{user}/{new.id}.json",
        True,
    )
    assert engine.cache.held_attempts() == set()
    manager.run_once()
    assert manager.cache.attempt(new.id).sync_state is AttemptSyncState.SCORED
    with pytest.raises(CacheError, match="nothing waiting to be uploaded"):
        engine.cache.upload_attempt(new.id)


def test_upload_before_the_row_ever_reached_the_server(sign_in, engine_for, db):
    """Upload pressed while offline: the metadata row and the full one go in the same round."""
    engine = engine_for(sign_in("trainee"))
    new = NewAttempt(**new_attempt_args(), hold_files=True)
    engine.cache.record_attempt(new)
    engine.cache.upload_attempt(new.id)
    status = engine.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    wait_for_scoring(db)
    assert _server_row(db, new.id)[0] == "scored"
    assert _server_row(db, new.id)[3] is True


def test_sign_out_counts_calls_not_uploaded_as_unsynced_work(sign_in, engine_for):
    from sync.session import UnsyncedWorkError

    session = sign_in("trainee")
    engine = engine_for(session)
    engine.cache.record_attempt(NewAttempt(**new_attempt_args(), hold_files=True))
    engine.run_once()
    with pytest.raises(UnsyncedWorkError):
        session.sign_out(engine.cache)
