"""Pull: incremental and paged by (sync_xid, id) under the watermark; deletes; visibility."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
from psycopg.types.json import Jsonb
from stack_fixtures import wait_for_scoring
from sync_support import (
    DEMO_ORG,
    SCENARIO_COLD_CALL,
    TRANSCRIPT,
    USER_IDS,
    FaultyTransport,
    new_attempt_args,
)

from sync import pull as pull_module
from sync.cache import NewAttempt
from sync.engine import Phase
from sync.pull import pull

TRAINEE = USER_IDS["trainee"]
SMB_WEST = "e0000000-0000-4000-8000-000000000002"
SMB_ASSIGNMENT = "c0000000-0000-4000-8000-000000000003"
ONBOARDING_TRACK = "b0000000-0000-4000-8000-000000000001"


def _track_ids(cache) -> set[str]:
    return {track.id for track in cache.tracks(DEMO_ORG)}


def _assignment_ids(cache) -> set[str]:
    return {row[0] for row in cache.db.execute("select id from assignments").fetchall()}


def _new_assignments(db, count: int, note: str) -> list[str]:
    """`count` assignments for the trainee, written by one transaction (one sync_xid)."""
    ids = [str(uuid.uuid4()) for _ in range(count)]
    with db.transaction():
        for assignment_id in ids:
            db.execute(
                "insert into assignments (id, org_id, scenario_id, user_id, note) "
                "values (%s, %s, %s, %s, %s)",
                (assignment_id, DEMO_ORG, SCENARIO_COLD_CALL, TRAINEE, note),
            )
    return ids


def test_pull_is_incremental_and_paged(sign_in, engine_for, db):
    faults = FaultyTransport()
    session = sign_in("trainee", transport=faults)
    engine = engine_for(session, page_rows=5)
    assert engine.run_once().phase is Phase.IDLE
    ids = _new_assignments(db, 23, "paged")
    faults.requests.clear()
    status = engine.run_once()
    assert status.last_pull.rows["assignments"] == 23
    assert set(ids) <= _assignment_ids(engine.cache)
    pages = [p for m, p in faults.requests if m == "GET" and p.endswith("/assignments")]
    assert len(pages) == 5  # 5 + 5 + 5 + 5 + 3 rows, all with the same sync_xid
    # Nothing changed since: nothing comes again.
    assert engine.run_once().last_pull.total == 0
    db.execute("delete from assignments where id = any(%s)", (ids,))


def test_deletes_arrive_as_tombstones_visible_only_to_those_who_saw_the_row(
    sign_in, engine_for, db
):
    trainee = engine_for(sign_in("trainee"))
    trainee.run_once()
    [assignment] = _new_assignments(db, 1, "to delete")
    trainee.run_once()
    assert assignment in _assignment_ids(trainee.cache)
    db.execute("delete from assignments where id = %s", (assignment,))
    status = trainee.run_once()
    assert status.last_pull.deleted == 1
    assert assignment not in _assignment_ids(trainee.cache)

    def tombstones(key: str) -> list:
        client = sign_in(key).client
        return client.table("deleted_rows").select("row_id").eq("row_id", assignment).execute().data

    assert tombstones("manager") == [{"row_id": assignment}]
    assert tombstones("trainee2") == []  # not theirs, and not a role that saw it
    assert tombstones("globex_trainee") == []


def test_tombstones_of_drafts_and_of_other_teams_stay_hidden_from_trainees(sign_in, db):
    draft = str(uuid.uuid4())
    db.execute(
        "insert into scenarios (id, org_id, title, persona, branching, rubric, status) "
        "select %s, org_id, 'Draft copy', persona, branching, rubric, 'draft' "
        "from scenarios where id = %s",
        (draft, SCENARIO_COLD_CALL),
    )
    team_assignment = str(uuid.uuid4())
    db.execute(
        "insert into assignments (id, org_id, scenario_id, team_id) values (%s, %s, %s, %s)",
        (team_assignment, DEMO_ORG, SCENARIO_COLD_CALL, SMB_WEST),
    )
    db.execute("delete from scenarios where id = %s", (draft,))
    db.execute("delete from assignments where id = %s", (team_assignment,))

    def seen(key: str) -> set[str]:
        rows = (
            sign_in(key)
            .client.table("deleted_rows")
            .select("row_id")
            .in_("row_id", [draft, team_assignment])
            .execute()
            .data
        )
        return {row["row_id"] for row in rows}

    assert seen("manager") == seen("hr") == {draft, team_assignment}
    assert seen("trainee2") == {team_assignment}  # in SMB West; never saw the draft
    assert seen("trainee") == set()  # neither


def test_a_late_commit_behind_the_cursor_is_not_skipped(sign_in, engine_for, stack):
    """Transaction A writes first (lower xid) and commits after B; the pull in between must not
    move its cursor past A, or A's row would never be pulled."""
    engine = engine_for(sign_in("trainee"))
    engine.run_once()
    first, second = _new_assignments_via(stack.dsn, 2)
    tx_a = psycopg.connect(stack.dsn)
    tx_b = psycopg.connect(stack.dsn)
    try:
        tx_a.execute("update assignments set note = 'written by A' where id = %s", (first,))
        xid_a = tx_a.execute("select pg_current_xact_id()::text::bigint").fetchone()[0]
        tx_b.execute("update assignments set note = 'written by B' where id = %s", (second,))
        tx_b.commit()
        during = engine.run_once()  # A is still open
        assert during.phase is Phase.IDLE
        assert during.last_pull.watermark <= xid_a
        cursor = engine.cache.db.execute(
            "select xid from sync_cursors where table_name = 'assignments'"
        ).fetchone()[0]
        assert cursor < xid_a
        tx_a.commit()
    finally:
        tx_a.close()
        tx_b.close()
    engine.run_once()
    notes = dict(
        engine.cache.db.execute(
            "select id, note from assignments where id in (?, ?)", [first, second]
        ).fetchall()
    )
    assert notes == {first: "written by A", second: "written by B"}
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        conn.execute("delete from assignments where id in (%s, %s)", (first, second))


def test_a_full_pass_keeps_a_row_changed_after_its_watermark(sign_in, engine_for, stack):
    """A row the server changed after the pass read its watermark (an attempt scored just after
    its push) is not in the pass, yet it exists: the sweep must not drop it from the cache."""
    engine = engine_for(sign_in("trainee"))
    new = NewAttempt(**new_attempt_args())
    engine.cache.record_attempt(new)
    assert engine.run_once().phase is Phase.IDLE
    holding = psycopg.connect(stack.dsn)  # a transaction still running holds the watermark
    try:
        holding.execute("select pg_current_xact_id()")
        with psycopg.connect(stack.dsn, autocommit=True) as later:
            later.execute(
                "update scenario_attempts set failure_reason = 'changed later' where id = %s",
                (new.id,),
            )
        during = engine.run_once(full=True)
        assert during.phase is Phase.IDLE, during.last_error
        assert engine.cache.attempt(new.id) is not None
    finally:
        holding.rollback()
        holding.close()
    engine.run_once()
    assert engine.cache.attempt(new.id).failure_reason == "changed later"


def _new_assignments_via(dsn: str, count: int) -> list[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return _new_assignments(conn, count, "late commit")


def test_concurrent_writers_during_many_pulls_lose_nothing(sign_in, engine_for, stack):
    """Writers commit in random order while pulls run; afterwards the cache has every write."""
    engine = engine_for(sign_in("trainee"), page_rows=7)
    engine.run_once()
    written: list[str] = []
    lock = threading.Lock()

    def writer(n: int) -> None:
        with psycopg.connect(stack.dsn) as conn:
            for _ in range(n):
                ids = _new_assignments(conn, 3, "concurrent")
                conn.commit()
                with lock:
                    written.extend(ids)

    threads = [threading.Thread(target=writer, args=(8,)) for _ in range(3)]
    for thread in threads:
        thread.start()
    while any(t.is_alive() for t in threads):
        engine.run_once()
    for thread in threads:
        thread.join()
    engine.run_once()
    assert set(written) <= _assignment_ids(engine.cache)
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        conn.execute("delete from assignments where id = any(%s)", (written,))


def test_joining_a_team_brings_its_assignments_and_leaving_removes_them(sign_in, engine_for, db):
    engine = engine_for(sign_in("trainee"))
    engine.run_once()
    assert SMB_ASSIGNMENT not in _assignment_ids(engine.cache)
    db.execute(
        "insert into team_members (org_id, team_id, user_id) values (%s, %s, %s)",
        (DEMO_ORG, SMB_WEST, TRAINEE),
    )
    try:
        status = engine.run_once()
        assert "assignments" in status.last_pull.full_tables
        assert SMB_ASSIGNMENT in _assignment_ids(engine.cache)
        assert [d.id for d in engine.cache.due_assignments(DEMO_ORG) if d.id == SMB_ASSIGNMENT]
    finally:
        db.execute(
            "delete from team_members where team_id = %s and user_id = %s", (SMB_WEST, TRAINEE)
        )
    engine.run_once()
    assert SMB_ASSIGNMENT not in _assignment_ids(engine.cache)


def test_content_back_to_draft_leaves_a_trainees_cache_on_the_next_full_pass(
    sign_in, engine_for, db
):
    # A track: a published scenario version never goes back to draft (migration
    # 20261204000200_scenario_versions.sql), a track still may.
    engine = engine_for(sign_in("trainee"))
    engine.run_once()
    assert ONBOARDING_TRACK in _track_ids(engine.cache)
    db.execute("update tracks set status = 'draft' where id = %s", (ONBOARDING_TRACK,))
    try:
        engine.run_once(full=True)
        assert ONBOARDING_TRACK not in _track_ids(engine.cache)
    finally:
        db.execute("update tracks set status = 'published' where id = %s", (ONBOARDING_TRACK,))
    engine.run_once()
    assert ONBOARDING_TRACK in _track_ids(engine.cache)


def test_a_server_rescore_replaces_the_score_on_the_next_pull(sign_in, engine_for, db):
    engine = engine_for(sign_in("trainee"))
    engine.run_once()
    new = NewAttempt(**new_attempt_args(), provisional_breakdown={"score": 1, "passed": False})
    engine.cache.record_attempt(new)
    engine.run_once()
    db.execute(
        "update scenario_attempts set score = 42.5, score_breakdown = '{\"score\": 42.5}' "
        "where id = %s",
        (new.id,),
    )
    engine.run_once()
    local = engine.cache.attempt(new.id)
    assert str(local.score) == "42.5"
    assert not local.provisional and local.breakdown == {"score": 42.5}


def test_the_leaderboard_snapshot_is_kept_for_offline_use(sign_in, engine_for, db):
    db.execute("select public.refresh_reporting()")
    engine = engine_for(sign_in("trainee"))
    status = engine.run_once()
    expected = db.execute(
        "select count(*) from mv_leaderboard_month "
        "where org_id = %s and month = date_trunc('month', now() at time zone 'UTC')::date",
        (DEMO_ORG,),
    ).fetchone()[0]
    assert status.last_pull.leaderboard_rows == expected
    from sync.rows import now

    snapshot = engine.cache.leaderboard(DEMO_ORG, now().date())
    assert snapshot is not None and len(snapshot.rows) == expected
    assert [r.rank for r in snapshot.rows] == sorted(r.rank for r in snapshot.rows)


def test_pull_reads_only_the_tokens_org(sign_in, open_cache):
    session = sign_in("globex_trainee")
    cache = open_cache(session.require_identity().user_id)
    result = pull(session.client, cache, session.require_identity().org_id)
    assert result.total > 0
    orgs = {
        row[0]
        for table in ("scenarios", "assignments", "scenario_attempts", "org_members")
        for row in cache.db.execute(f"select distinct org_id from {table}").fetchall()
    }
    assert orgs == {session.require_identity().org_id}
    # Asking for another org's rows returns nothing: RLS decides, not the filter.
    assert pull(session.client, cache, DEMO_ORG).total == 0


# Transcripts: apart from the pages, only for versions not held, in batches of bounded size -----
class _UrlRecorder(httpx.HTTPTransport):
    """Keeps every request's URL, to see which columns each one asked for."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[httpx.URL] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(request.url)
        return super().handle_request(request)

    def attempt_selects(self) -> list[list[str]]:
        return [
            url.params["select"].split(",")
            for url in self.urls
            if url.path == "/rest/v1/scenario_attempts" and "select" in url.params
        ]

    def transcript_batches(self) -> list[list[str]]:
        """The ids each transcript request asked for, in order."""
        return [
            url.params["id"].removeprefix("in.(").removesuffix(")").split(",")
            for url in self.urls
            if url.path == "/rest/v1/scenario_attempts"
            and "transcript::text" in url.params.get("select", "").split(",")
        ]


def test_transcripts_come_apart_and_only_for_versions_not_held_here(
    sign_in, engine_for, db, tmp_path
):
    here, there = _UrlRecorder(), _UrlRecorder()
    engine = engine_for(sign_in("trainee", transport=here), tmp_path / "here")
    engine.run_once()
    new = NewAttempt(**new_attempt_args())
    engine.cache.record_attempt(new)
    here.urls.clear()
    engine.run_once()
    wait_for_scoring(db)
    engine.run_once()
    # The push's answer carried the transcript's version, so the pulls that read the row back
    # (as uploaded, then scored) ask for no transcript, and pages never carry one.
    assert here.transcript_batches() == []
    assert all("transcript" not in select for select in here.attempt_selects())
    assert engine.cache.attempt(new.id).transcript == TRANSCRIPT

    # Another computer of the same user has no version of it: it fetches the transcript.
    other = engine_for(sign_in("trainee", transport=there), tmp_path / "there")
    other.run_once()
    assert any(new.id in batch for batch in there.transcript_batches())
    assert other.cache.attempt(new.id).transcript == TRANSCRIPT

    # The server changes the transcript (a new version): both fetch that one row's again.
    changed = {**TRANSCRIPT, "turns": TRANSCRIPT["turns"][:2]}
    db.execute(
        "update scenario_attempts set transcript = %s where id = %s", (Jsonb(changed), new.id)
    )
    wait_for_scoring(db)  # rescored: a transaction the pull would otherwise wait for
    for recorder, syncing in ((here, engine), (there, other)):
        recorder.urls.clear()
        syncing.run_once()
        assert recorder.transcript_batches() == [[new.id]]
        assert syncing.cache.attempt(new.id).transcript == changed


def test_transcripts_are_fetched_in_batches_of_bounded_size(sign_in, engine_for, db, monkeypatch):
    recorder = _UrlRecorder()
    engine = engine_for(sign_in("trainee", transport=recorder))
    engine.run_once()
    text_size = db.execute("select length(%s::jsonb::text)", (Jsonb(TRANSCRIPT),)).fetchone()[0]
    # After the first batch (LARGE_FIRST_ROWS), batches hold what fits in the budget: two.
    monkeypatch.setattr(pull_module, "LARGE_BATCH_BYTES", 2 * text_size + 1)
    ids = [str(uuid.uuid4()) for _ in range(pull_module.LARGE_FIRST_ROWS + 3)]
    started = datetime.now(UTC) - timedelta(hours=1)
    with db.transaction():
        for attempt_id in ids:
            db.execute(
                "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at, "
                "ended_at, transcript) values (%s, %s, %s, %s, %s, %s, %s)",
                (attempt_id, DEMO_ORG, TRAINEE, SCENARIO_COLD_CALL, started, started,
                 Jsonb(TRANSCRIPT)),
            )  # fmt: skip
    wait_for_scoring(db)  # or scoring them would change them again during the pull
    recorder.urls.clear()
    status = engine.run_once()
    assert status.last_pull.rows["scenario_attempts"] == len(ids)
    batches = recorder.transcript_batches()
    assert [len(batch) for batch in batches] == [pull_module.LARGE_FIRST_ROWS, 2, 1]
    assert sorted(attempt_id for batch in batches for attempt_id in batch) == sorted(ids)
    for attempt_id in ids:
        assert engine.cache.attempt(attempt_id).transcript == TRANSCRIPT
    db.execute("delete from scenario_attempts where id = any(%s)", (ids,))
