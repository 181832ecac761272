"""Record offline-first, push, get the server's score back; pull content, names, leaderboard."""

from __future__ import annotations

from stack_fixtures import wait_for_scoring
from sync_support import DEMO_ORG, SCENARIO_COLD_CALL, TRANSCRIPT, USER_IDS, new_attempt_args

from app.kpis import compute_kpis
from app.scoring import score
from sync.cache import AttemptSyncState, NewAttempt
from sync.engine import Phase


def test_attempt_goes_up_and_the_servers_score_comes_back(sign_in, engine_for, recording, db):
    session = sign_in("trainee")
    engine = engine_for(session)
    first = engine.run_once()
    assert first.phase is Phase.IDLE, first.last_error
    scenario = engine.cache.scenario(SCENARIO_COLD_CALL)
    assert scenario is not None

    # Scored here first, as the practice screen does (Decimals from app/kpis and app/scoring).
    kpis = compute_kpis(TRANSCRIPT, scenario.rubric)
    breakdown = score(scenario.rubric, kpis, scenario.pass_score, TRANSCRIPT)
    new = NewAttempt(
        **new_attempt_args(recording=recording()),
        provisional_kpis=kpis,
        provisional_breakdown=breakdown,
    )
    saved = engine.cache.record_attempt(new)
    assert saved.sync_state is AttemptSyncState.PENDING
    assert saved.provisional and saved.score == breakdown["score"]

    status = engine.run_once()
    assert status.phase is Phase.IDLE, status.last_error
    assert status.pending == 0
    wait_for_scoring(db)
    engine.run_once()  # the server's score, made just after the upload
    server = db.execute(
        "select status, score, recording_path, transcript_path, device_id "
        "from scenario_attempts where id = %s",
        (new.id,),
    ).fetchone()
    assert server[0] == "scored"
    local = engine.cache.attempt(new.id)
    assert local.sync_state is AttemptSyncState.SCORED
    assert not local.provisional
    assert local.score == server[1] == breakdown["score"]  # the provisional score was right
    assert server[2] == f"{DEMO_ORG}/{USER_IDS['trainee']}/{new.id}.flac"
    assert server[4] == engine.cache.device_id
    objects = {
        (bucket, name)
        for bucket, name in db.execute(
            "select bucket_id, name from storage.objects where name like %s", (f"%{new.id}%",)
        ).fetchall()
    }
    assert objects == {
        ("recordings", f"{DEMO_ORG}/{USER_IDS['trainee']}/{new.id}.flac"),
        ("transcripts", f"{DEMO_ORG}/{USER_IDS['trainee']}/{new.id}.json"),
        ("transcripts", f"{DEMO_ORG}/{USER_IDS['trainee']}/{new.id}.txt"),
    }


def test_an_attempt_without_rep_speech_from_an_older_client_comes_back_incomplete(
    sign_in, engine_for, db
):
    """An older Coachdesk saved calls with nothing said as attempts (provisionally 0.0) and
    pushed them: the server marks them incomplete, and they count nowhere here either."""
    session = sign_in("trainee")
    engine = engine_for(session)
    assert engine.run_once().phase is Phase.IDLE
    org, user = DEMO_ORG, USER_IDS["trainee"]
    before = engine.cache.due_assignments(org, user)
    silent = {
        "version": 1,
        "turns": [{"speaker": "persona", "start": 0.0, "end": 2.5, "text": "Dana speaking."}],
    }
    scenario = engine.cache.scenario(SCENARIO_COLD_CALL)
    kpis = compute_kpis(silent, scenario.rubric)
    new = NewAttempt(
        **{**new_attempt_args(), "transcript": silent},
        provisional_kpis=kpis,
        provisional_breakdown=score(scenario.rubric, kpis, scenario.pass_score, silent),
    )
    engine.cache.record_attempt(new)

    assert engine.run_once().phase is Phase.IDLE
    wait_for_scoring(db)
    engine.run_once()
    assert db.execute(
        "select status::text, score from scenario_attempts where id = %s", (new.id,)
    ).fetchone() == ("incomplete", None)
    assert engine.cache.attempt(new.id).status == "incomplete"
    assert new.id not in [a.id for a in engine.cache.recent_attempts(org, user_id=user)]
    assert engine.cache.due_assignments(org, user) == before
