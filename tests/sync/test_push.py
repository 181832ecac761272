"""Push: refusals parked with the server's reason (the rest goes through), files, assignments."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from stack_fixtures import wait_for_scoring
from sync_support import (
    DEMO_ORG,
    GLOBEX_ORG,
    SCENARIO_COLD_CALL,
    TRANSCRIPT,
    USER_IDS,
    FaultyTransport,
    new_attempt_args,
)

from sync.cache import AttemptSyncState, NewAttempt
from sync.client import WrongOrgError
from sync.engine import Phase
from sync.push import push

TRAINEE2_ASSIGNMENT = "c0000000-0000-4000-8000-000000000004"
SCENARIO_GLOBEX = "f0000000-0000-4000-8000-000000000011"
SCENARIO_DRAFT = "f0000000-0000-4000-8000-000000000004"


def _server_ids(db, ids: list[str]) -> set[str]:
    rows = db.execute("select id::text from scenario_attempts where id::text = any(%s)", (ids,))
    return {row[0] for row in rows.fetchall()}


def test_refused_attempts_are_parked_and_the_rest_of_the_batch_goes_through(
    sign_in, engine_for, db
):
    engine = engine_for(sign_in("trainee"))
    engine.run_once()
    good = [NewAttempt(**new_attempt_args()) for _ in range(3)]
    # Someone else's assignment: the insert policy refuses it (42501).
    not_mine = NewAttempt(**{**new_attempt_args(), "assignment_id": TRAINEE2_ASSIGNMENT})
    # A transcript the server's validator refuses (check_violation, 23514).
    bad_turn = {**TRANSCRIPT["turns"][0], "speaker": "narrator"}
    invalid = NewAttempt(
        **{**new_attempt_args(), "transcript": {"version": 1, "turns": [bad_turn]}}
    )
    for attempt in [good[0], not_mine, good[1], invalid, good[2]]:
        engine.cache.record_attempt(attempt)

    status = engine.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert (status.pending, status.rejected) == (0, 2)
    assert status.last_push.rows == 3 and status.last_push.rejected == 2
    assert _server_ids(db, [a.id for a in [*good, not_mine, invalid]]) == {a.id for a in good}
    refused = {e.row_id: e for e in engine.cache.rejected_changes()}
    assert refused[not_mine.id].error_code == "42501"
    assert refused[invalid.id].error_code == "23514"
    assert "speaker" in refused[invalid.id].last_error
    local = engine.cache.attempt(invalid.id)
    assert local.sync_state is AttemptSyncState.REJECTED
    assert local.rejection == refused[invalid.id].last_error
    assert local.transcript == {"version": 1, "turns": [bad_turn]}  # the data is kept

    # Retrying is the user's call; the server still refuses, nothing is lost either way.
    assert engine.cache.retry_rejected() == 2
    assert engine.run_once().rejected == 2


def test_a_recording_that_vanished_is_refused_but_the_attempt_still_goes(
    sign_in, engine_for, recording, db
):
    engine = engine_for(sign_in("trainee"))
    path = recording()
    new = NewAttempt(**new_attempt_args(recording=path))
    engine.cache.record_attempt(new)
    path.unlink()
    status = engine.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert status.last_push.files_refused == 1 and status.last_push.files == 2
    wait_for_scoring(db)
    row = db.execute(
        "select recording_path, transcript_path, status from scenario_attempts where id = %s",
        (new.id,),
    ).fetchone()
    assert row[0] is None and row[1].endswith(f"{new.id}.json") and row[2] == "scored"
    refusal = engine.cache.db.execute(
        "select last_error from uploads where attempt_id = ? and state = 'rejected'", [new.id]
    ).fetchone()[0]
    assert "no longer on this computer" in refusal


def test_assignment_edits_merge_by_field(sign_in, engine_for, db):
    manager = engine_for(sign_in("manager"))
    manager.run_once()
    assignment = manager.cache.create_assignment(
        org_id=DEMO_ORG,
        scenario_id=SCENARIO_COLD_CALL,
        user_id=USER_IDS["trainee"],
        note="created offline",
    )
    assert manager.run_once().pending == 0
    assert db.execute("select note from assignments where id = %s", (assignment,)).fetchone() == (
        "created offline",
    )
    # Another manager moves the due date while this one, offline, rewrites the note.
    db.execute(
        "update assignments set due_at = '2031-03-01T00:00:00Z' where id = %s", (assignment,)
    )
    manager.cache.update_assignment(assignment, note="rewritten offline")
    manager.run_once()
    due, note = db.execute(
        "select due_at, note from assignments where id = %s", (assignment,)
    ).fetchone()
    assert (due, note) == (datetime(2031, 3, 1, tzinfo=UTC), "rewritten offline")
    local = manager.cache.db.execute(
        "select due_at, note from assignments where id = ?", [assignment]
    ).fetchone()
    assert local[1] == "rewritten offline" and local[0].startswith("2031-03-01")

    trainee = engine_for(sign_in("trainee"))
    trainee.run_once()
    assert assignment in {d.id for d in trainee.cache.due_assignments(DEMO_ORG)}

    manager.cache.delete_assignment(assignment)
    manager.run_once()
    assert db.execute("select 1 from assignments where id = %s", (assignment,)).fetchone() is None
    trainee.run_once()
    assert assignment not in {d.id for d in trainee.cache.due_assignments(DEMO_ORG)}


def test_a_trainee_cannot_change_an_assignment_and_is_told(sign_in, engine_for, db):
    trainee = engine_for(sign_in("trainee"))
    trainee.run_once()
    [mine] = [d.id for d in trainee.cache.due_assignments(DEMO_ORG)][:1]
    before = db.execute("select note from assignments where id = %s", (mine,)).fetchone()
    trainee.cache.update_assignment(mine, note="trainee edit")
    status = trainee.run_once()
    assert status.rejected == 1
    [refused] = trainee.cache.rejected_changes()
    assert refused.row_id == mine and refused.error_code == "no-row"
    assert db.execute("select note from assignments where id = %s", (mine,)).fetchone() == before


def test_attempts_go_in_requests_of_bounded_size_and_keep_their_transcripts(
    sign_in, engine_for, db
):
    faults = FaultyTransport()
    session = sign_in("trainee", transport=faults)
    engine = engine_for(session)
    engine.run_once()
    attempts = [NewAttempt(**new_attempt_args()) for _ in range(5)]
    for attempt in attempts:
        engine.cache.record_attempt(attempt)
    size = engine.cache.db.execute(
        "select max(length(payload)) from outbox where table_name = 'scenario_attempts'"
    ).fetchone()[0]
    faults.requests.clear()
    # Room for two payloads a request: 2 + 2 + 1.
    result = push(session.client, engine.cache, DEMO_ORG, batch_bytes=2 * size + 1)
    assert result.rows == 5
    posts = [p for m, p in faults.requests if (m, p) == ("POST", "/rest/v1/scenario_attempts")]
    assert len(posts) == 3
    assert _server_ids(db, [a.id for a in attempts]) == {a.id for a in attempts}
    # The answers come without the transcripts just sent; the cache keeps its own.
    for attempt in attempts:
        local = engine.cache.attempt(attempt.id)
        assert local.transcript == TRANSCRIPT
        assert local.sync_state is AttemptSyncState.UPLOADED  # the server scores just after
    wait_for_scoring(db)
    engine.run_once()
    for attempt in attempts:
        local = engine.cache.attempt(attempt.id)
        assert local.transcript == TRANSCRIPT
        assert local.sync_state is AttemptSyncState.SCORED


# Rows of one org never travel under a token for another (issue 15) ------------------------------


def _work_for_the_other_org(session) -> tuple[str, str, NewAttempt]:
    """The consultant belongs to both orgs: (token's org, the other, an attempt for the other)."""
    mine = session.require_identity().org_id
    other, scenario = (
        (GLOBEX_ORG, SCENARIO_GLOBEX) if mine == DEMO_ORG else (DEMO_ORG, SCENARIO_COLD_CALL)
    )
    attempt = NewAttempt(**new_attempt_args("consultant", org_id=other, scenario_id=scenario))
    return mine, other, attempt


def test_a_push_for_another_org_than_the_tokens_sends_nothing_and_keeps_the_rows(
    sign_in, engine_for, db
):
    """Work recorded for the other org waits for a token of that org."""
    session = sign_in("consultant")
    engine = engine_for(session)
    mine, other, work = _work_for_the_other_org(session)
    engine.cache.record_attempt(work)

    with pytest.raises(WrongOrgError, match=f"token is for organisation {mine}"):
        push(session.client, engine.cache, other)

    assert _server_ids(db, [work.id]) == set()
    assert engine.cache.sync_counts(other) == (1, 0)
    status = engine.run_once()  # a round under this token leaves the other org's work alone
    assert status.phase is Phase.IDLE, status.last_error
    assert _server_ids(db, [work.id]) == set()
    assert engine.cache.sync_counts(other) == (1, 0)
    assert engine.cache.attempt(work.id).transcript == TRANSCRIPT


def test_an_entry_whose_row_names_another_org_is_parked_not_sent(sign_in, engine_for, db):
    session = sign_in("consultant")
    engine = engine_for(session)
    mine, other, misfiled = _work_for_the_other_org(session)
    engine.cache.record_attempt(misfiled)
    with engine.cache.atomic() as cache_db:  # the entry filed under the token's org
        cache_db.execute("update outbox set org_id = ? where row_id = ?", [mine, misfiled.id])

    status = engine.run_once()

    assert _server_ids(db, [misfiled.id]) == set()
    refused = {e.row_id: e for e in engine.cache.rejected_changes()}
    assert refused[misfiled.id].error_code == "wrong-org"
    assert f"belongs to organisation {other}" in refused[misfiled.id].last_error
    assert status.rejected == 1
    assert engine.cache.attempt(misfiled.id).transcript == TRANSCRIPT


def test_a_patch_folded_into_an_entry_while_the_push_is_under_way_is_not_lost(
    sign_in, engine_for, db
):
    """Push lets local writes run between its batches (sync/owner.py): an edit folded into an
    entry already read, but not yet sent, stays in the outbox and goes with the next push."""
    session = sign_in("manager")
    manager = engine_for(session)
    manager.run_once()
    first, second = (
        manager.cache.create_assignment(
            org_id=DEMO_ORG, scenario_id=SCENARIO_COLD_CALL, user_id=USER_IDS["trainee"]
        )
        for _ in range(2)
    )
    assert manager.run_once().pending == 0
    manager.cache.update_assignment(first, note="first edit")
    manager.cache.update_assignment(second, note="second edit")
    edits = iter([lambda: manager.cache.update_assignment(second, note="edited mid-push")])

    def between() -> None:  # after the first request: the second entry is read, not yet sent
        next(edits, lambda: None)()

    push(session.client, manager.cache, DEMO_ORG, batch_rows=1, between=between)
    assert manager.cache.sync_counts(DEMO_ORG) == (1, 0)
    push(session.client, manager.cache, DEMO_ORG)
    notes = dict(
        db.execute(
            "select id::text, note from assignments where id = any(%s::uuid[])", ([first, second],)
        ).fetchall()
    )
    assert notes == {first: "first edit", second: "edited mid-push"}
    assert manager.cache.sync_counts(DEMO_ORG) == (0, 0)
    db.execute("delete from assignments where id = any(%s::uuid[])", ([first, second],))


def test_a_stale_draft_patch_is_parked_and_a_live_scenarios_is_never_sent(sign_in, engine_for, db):
    """A draft's patch carries the revision it was based on: a stale one is refused (CD412)
    and parked with the admin's copy, not retried; one for a scenario live meanwhile is parked
    unsent (sync/cache_drafts.py)."""
    faults = FaultyTransport()
    admin = engine_for(sign_in("admin", transport=faults))
    admin.run_once()
    draft = SCENARIO_DRAFT
    (revision,) = db.execute("select revision from scenarios where id = %s", (draft,)).fetchone()
    admin.cache.keep_draft(draft, {"description": "Mine"}, revision)
    db.execute("update scenarios set title = title where id = %s", (draft,))  # someone's save
    status = admin.run_once()
    assert (status.pending, status.rejected) == (0, 1)
    (parked,) = admin.cache.parked_drafts(DEMO_ORG)
    assert (parked.code, parked.content) == ("CD412", {"description": "Mine"})
    assert admin.run_once().rejected == 1  # parked, not retried
    (theirs,) = db.execute("select description from scenarios where id = %s", (draft,)).fetchone()
    assert theirs != "Mine"
    admin.cache.settle_draft(draft, None)
    assert admin.cache.sync_counts(DEMO_ORG) == (0, 0)

    # A waiting patch whose scenario the cache now holds as published never leaves.
    published = next(s for s in admin.cache.scenarios(DEMO_ORG) if s.status == "published")
    with admin.cache.atomic() as cache_db:  # as a pull that published it after the edit
        cache_db.execute("update scenarios set status = 'draft' where id = ?", [published.id])
    admin.cache.keep_draft(published.id, {"description": "Mine"}, published.revision)
    with admin.cache.atomic() as cache_db:
        cache_db.execute("update scenarios set status = 'published' where id = ?", [published.id])
    faults.requests.clear()
    assert admin.run_once().rejected == 1
    assert ("PATCH", "/rest/v1/scenarios") not in faults.requests
    assert admin.cache.parked_drafts(DEMO_ORG)[0].code == "CD423"
