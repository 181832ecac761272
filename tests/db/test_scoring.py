"""score_attempt() and scoring after a transcript upload (queued, then scored by
private.score_queued()): rules, edge rubrics, who may score."""

from __future__ import annotations

import hashlib
import json
import uuid
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from db_support import Claims, Seed, score_queued

D = Decimal
TRAINEE_ID = Seed.USERS["trainee"][0]


def seed_attempt_id(n: int) -> str:
    """Ids of the seed's past attempts (supabase/seed.sql)."""
    return str(uuid.UUID(hashlib.md5(f"coachdesk-seed-attempt-{n}".encode()).hexdigest()))


# Seed attempt 4: the trainee's "strong" cold call (scenario f...0001).
STRONG_COLD_CALL = seed_attempt_id(4)
# Seed attempt 10: the Globex trainee's call.
GLOBEX_ATTEMPT = seed_attempt_id(10)

# The seed's cold-call rubric on the strong transcript, by hand: rep talks 4500 + 10400 + 6200 =
# 21100 ms of 21100 + 12700 = 33800 ms of speech, talk_ratio 0.6243, 0.0243 above 0.6 with
# tolerance 0.25 -> 100 * (1 - 0.0243 / 0.25) = 90.28; 4 questions (>= 2) -> 100; both keyword
# groups ("reduce"/"save", "demo"/"meeting") -> 100. 0.3 * 90.28 + 0.3 * 100 + 0.4 * 100 = 97.084.
STRONG_SCORE = D("97.08")


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def score_attempt(conn: psycopg.Connection, attempt_id: str) -> dict[str, Any]:
    row = conn.execute("select public.score_attempt(%s)::text as b", (attempt_id,)).fetchone()
    return loads(row["b"])


def rep_call(*texts: str) -> dict[str, Any]:
    """A rep-only call: one 5-second rep turn per text."""
    return {
        "version": 1,
        "turns": [
            {"speaker": "rep", "start": 5 * i, "end": 5 * i + 5, "text": text}
            for i, text in enumerate(texts)
        ],
    }


def make_scenario(admin_conn: psycopg.Connection, criteria: list[dict[str, Any]]) -> str:
    scenario_id = str(uuid.uuid4())
    admin_conn.execute(
        "insert into public.scenarios (id, org_id, title, persona, branching, rubric, status)"
        " select %s, %s, 'Edge rubric', persona, branching, %s::jsonb, 'published'"
        " from public.scenarios where id = %s",
        (
            scenario_id,
            Seed.DEMO_ORG,
            json.dumps({"version": 1, "criteria": criteria}),
            Seed.SCENARIO_COLD_CALL,
        ),
    )
    return scenario_id


def add_attempt(
    conn: psycopg.Connection,
    scenario_id: str,
    body: dict[str, Any] | None,
    user_id: str = TRAINEE_ID,
) -> dict[str, Any]:
    """Insert an attempt (as whoever `conn` acts as), let the queue be scored, and return the
    row as `conn` then sees it."""
    inserted = conn.execute(
        "insert into public.scenario_attempts (id, org_id, user_id, scenario_id, started_at,"
        " transcript, status) values (%s, %s, %s, %s, now(), %s::jsonb, 'uploaded')"
        " returning id::text, status::text, score",
        (
            str(uuid.uuid4()),
            Seed.DEMO_ORG,
            user_id,
            scenario_id,
            None if body is None else json.dumps(body),
        ),
    ).fetchone()
    # The upload itself never scores: that is the queue's work, after it.
    assert (inserted["status"], inserted["score"]) == ("uploaded", None)
    score_queued(conn)
    return attempt_row(conn, inserted["id"])


def attempt_row(conn: psycopg.Connection, attempt_id: str) -> dict[str, Any]:
    return conn.execute(
        "select id::text, status::text, score, kpis::text, score_breakdown::text, scored_at"
        " from public.scenario_attempts where id = %s",
        (attempt_id,),
    ).fetchone()


def test_seed_attempts_arrive_scored(admin_conn):
    rows = admin_conn.execute(
        "select id::text, status::text, score, score_breakdown::text as b"
        " from public.scenario_attempts"
    ).fetchall()
    assert len(rows) == 10
    assert {r["status"] for r in rows} == {"scored"}
    strong = next(r for r in rows if r["id"] == STRONG_COLD_CALL)
    assert strong["score"] == STRONG_SCORE
    breakdown = loads(strong["b"])
    assert [c["score"] for c in breakdown["criteria"]] == [D("90.28"), D("100"), D("100")]
    assert breakdown["passed"] is True
    assert breakdown["pass_score"] == D("70")


def test_score_attempt_writes_the_row_and_rerunning_changes_nothing(admin_conn):
    admin_conn.execute(
        "update public.scenario_attempts set kpis = null, score = null, score_breakdown = null,"
        " scored_at = null, status = 'uploaded' where id = %s",
        (STRONG_COLD_CALL,),
    )
    breakdown = score_attempt(admin_conn, STRONG_COLD_CALL)
    assert breakdown["version"] == 1
    assert breakdown["score"] == STRONG_SCORE
    assert [c["id"] for c in breakdown["criteria"]] == ["listen", "questions", "value"]
    assert breakdown["criteria"][0]["value"] == D("0.6243")
    assert breakdown["criteria"][0]["detail"] == (
        "0.6243 is 0.0243 above the target (from 0.35 to 0.6); tolerance 0.25"
    )
    stored = admin_conn.execute(
        "select status::text, score, kpis ->> 'talk_ratio' as talk_ratio,"
        " score_breakdown::text as b, scored_at, ctid::text from public.scenario_attempts"
        " where id = %s",
        (STRONG_COLD_CALL,),
    ).fetchone()
    assert stored["status"] == "scored"
    assert stored["score"] == STRONG_SCORE
    assert stored["talk_ratio"] == "0.6243"
    assert loads(stored["b"]) == breakdown
    assert stored["scored_at"] is not None

    assert score_attempt(admin_conn, STRONG_COLD_CALL) == breakdown
    again = admin_conn.execute(
        "select ctid::text from public.scenario_attempts where id = %s", (STRONG_COLD_CALL,)
    ).fetchone()
    # Same tuple: the re-run did not write a new row version (and so no new sync_xid).
    assert again["ctid"] == stored["ctid"]


def test_zero_weight_criteria_are_shown_but_do_not_count(admin_conn):
    scenario = make_scenario(
        admin_conn,
        [
            {
                "id": "q",
                "label": "Questions",
                "weight": 0,
                "type": "kpi",
                "kpi": "questions_asked",
                "target": {"min": 10},
                "tolerance": 5,
            },
            {
                "id": "kw",
                "label": "Next step",
                "weight": 1,
                "type": "keywords",
                "keywords": [["demo"], ["budget"]],
            },
        ],
    )
    row = add_attempt(admin_conn, scenario, rep_call("Could we book a demo?"))
    breakdown = loads(row["score_breakdown"])
    assert row["status"] == "scored"
    assert row["score"] == D("50.00")
    q, kw = breakdown["criteria"]
    # 1 question, 9 short of 10 with tolerance 5: scored 0, weight 0.
    assert (q["score"], q["weight"], q["value"]) == (D("0"), 0, 1)
    assert q["detail"] == "1 is 9 below the target (at least 10); tolerance 5"
    assert (kw["score"], kw["value"], kw["detail"]) == (
        D("50"),
        1,
        "1 of 2 keyword groups mentioned",
    )
    assert breakdown["passed"] is False


def test_unmeasured_kpi_is_left_out_and_weights_renormalised(admin_conn):
    scenario = make_scenario(
        admin_conn,
        [
            {
                "id": "patience",
                "label": "Pause",
                "weight": 0.5,
                "type": "kpi",
                "kpi": "response_latency_seconds",
                "target": {"min": 0.5, "max": 3},
            },
            {
                "id": "q",
                "label": "Questions",
                "weight": 0.5,
                "type": "kpi",
                "kpi": "questions_asked",
                "target": {"min": 2},
                "tolerance": 2,
            },
        ],
    )
    # A rep-only call has no persona->rep transition, so no response latency.
    row = add_attempt(admin_conn, scenario, rep_call("Any questions?"))
    patience, q = loads(row["score_breakdown"])["criteria"]
    assert patience["score"] is None
    assert patience["detail"] == "not measured: response_latency_seconds has no value for this call"
    assert q["score"] == D("50.00")  # 1 question, 1 short with tolerance 2
    # 0.5 * 50 / 0.5, not 0.5 * 50 / 1.
    assert row["score"] == D("50.00")


def test_nothing_measurable_means_no_score(admin_conn):
    scenario = make_scenario(
        admin_conn,
        [
            {
                "id": "patience",
                "label": "Pause",
                "weight": 1,
                "type": "kpi",
                "kpi": "response_latency_seconds",
                "target": {"max": 3},
            },
            {
                "id": "q",
                "label": "Questions",
                "weight": 0,
                "type": "kpi",
                "kpi": "questions_asked",
                "target": {"min": 2},
            },
        ],
    )
    row = add_attempt(admin_conn, scenario, rep_call("Hello?"))
    breakdown = loads(row["score_breakdown"])
    assert row["status"] == "scored"
    assert row["score"] is None
    assert breakdown["score"] is None
    assert breakdown["passed"] is False
    # The weight-0 criterion was measured: a miss without tolerance scores 0.
    assert breakdown["criteria"][1]["score"] == D("0")
    assert breakdown["criteria"][1]["detail"].endswith("; no tolerance")


def test_malformed_rubric_is_named_not_scored(admin_conn):
    # Only possible by bypassing validation (and the immutability of a published version), as
    # a superuser can.
    admin_conn.execute("alter table public.scenarios disable trigger check_documents")
    admin_conn.execute("alter table public.scenarios disable trigger guard_version")
    admin_conn.execute(
        "update public.scenarios set rubric = jsonb_set(rubric, '{criteria,0,weight}', '0.1')"
        " where id = %s",
        (Seed.SCENARIO_COLD_CALL,),
    )
    admin_conn.execute("alter table public.scenarios enable trigger guard_version")
    admin_conn.execute("alter table public.scenarios enable trigger check_documents")

    # An upload is kept (unscored, and off the queue) rather than lost because of the content
    # problem...
    row = add_attempt(admin_conn, Seed.SCENARIO_COLD_CALL, rep_call("Hi, can we talk?"))
    assert (row["status"], row["score"], row["kpis"]) == ("uploaded", None, None)
    assert score_queued(admin_conn) == 0
    # ...and asking for a score says what is wrong.
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        score_attempt(admin_conn, row["id"])
    message = str(caught.value)
    assert f"cannot score attempt {row['id']}" in message
    assert "rubric is invalid: weights must sum to 1 (they sum to 0.8)" in message


def test_attempt_without_transcript_cannot_be_scored(admin_conn):
    row = add_attempt(admin_conn, Seed.SCENARIO_COLD_CALL, None)
    assert (row["status"], row["score"]) == ("uploaded", None)
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="has no transcript yet"):
        score_attempt(admin_conn, row["id"])


def test_trainee_upload_comes_back_scored(admin_conn, as_user):
    transcript = admin_conn.execute(
        "select transcript::text as t, score_breakdown::text as b from public.scenario_attempts"
        " where id = %s",
        (STRONG_COLD_CALL,),
    ).fetchone()
    conn = as_user("trainee")
    row = add_attempt(conn, Seed.SCENARIO_COLD_CALL, json.loads(transcript["t"]))
    assert row["status"] == "scored"
    assert row["score"] == STRONG_SCORE
    assert row["scored_at"] is not None
    assert loads(row["score_breakdown"]) == loads(transcript["b"])
    assert loads(row["kpis"])["talk_ratio"] == D("0.6243")


def test_transcript_added_later_is_scored_and_a_resend_is_a_no_op(as_user):
    conn = as_user("trainee")
    row = add_attempt(conn, Seed.SCENARIO_COLD_CALL, None)
    assert row["status"] == "uploaded"
    body = rep_call("Could we save you time? Maybe a demo?", "Does Thursday work?")
    conn.execute(
        "update public.scenario_attempts set transcript = %s::jsonb where id = %s",
        (json.dumps(body), row["id"]),
    )
    assert score_queued(conn) == 1
    scored = conn.execute(
        "select status::text, score, scored_at from public.scenario_attempts where id = %s",
        (row["id"],),
    ).fetchone()
    # Rep-only: talk_ratio 1.0 is 0.4 above 0.6 (tolerance 0.25) -> 0; 3 questions -> 100;
    # both keyword groups -> 100: 0.3 * 0 + 0.3 * 100 + 0.4 * 100.
    assert (scored["status"], scored["score"]) == ("scored", D("70.00"))
    resent = conn.execute(
        "update public.scenario_attempts set transcript = %s::jsonb, status = 'uploaded'"
        " where id = %s returning status::text, score, scored_at",
        (json.dumps(body), row["id"]),
    ).fetchone()
    assert resent == scored
    assert score_queued(conn) == 0  # the same transcript again: nothing queued


@pytest.mark.parametrize(
    "caller", ["globex_trainee", "trainee2", "consultant_globex", "globex_manager"]
)
def test_callers_who_cannot_see_the_attempt_are_refused(as_user, caller):
    conn = as_user(caller)
    with pytest.raises(psycopg.errors.InsufficientPrivilege) as caught:
        score_attempt(conn, STRONG_COLD_CALL)
    assert f"attempt {STRONG_COLD_CALL} not found or not visible to you" in str(caught.value)


def test_unknown_attempt_gets_the_same_refusal(as_user):
    unknown = str(uuid.uuid4())
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match=f"attempt {unknown} not found or not visible"
    ):
        score_attempt(as_user("manager"), unknown)


@pytest.mark.parametrize("caller", ["manager", "admin", "hr", "trainee"])
def test_owner_and_org_staff_may_score(as_user, caller):
    assert score_attempt(as_user(caller), STRONG_COLD_CALL)["score"] == STRONG_SCORE


def test_service_role_scores_any_org(api):
    conn = api.become(Claims(sub=None, role="service_role"))
    assert score_attempt(conn, GLOBEX_ATTEMPT)["score"] == D("100.00")


def test_anon_may_not_score(api, admin_conn):
    for role, allowed in (("anon", False), ("authenticated", True), ("service_role", True)):
        row = admin_conn.execute(
            "select has_function_privilege(%s, 'public.score_attempt(uuid)', 'execute') as ok",
            (role,),
        ).fetchone()
        assert row["ok"] is allowed, role
    conn = api.become(Claims(sub=None, role="anon"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        score_attempt(conn, STRONG_COLD_CALL)


def test_scoring_functions_are_definer_only_where_needed(admin_conn):
    rows = admin_conn.execute(
        "select p.oid::regprocedure::text as fn, p.prosecdef, p.proconfig"
        " from pg_proc p where p.oid in ("
        "  'public.score_attempt(uuid)'::regprocedure,"
        "  'private.scenario_rubric(uuid, uuid)'::regprocedure,"
        "  'private.score_breakdown(jsonb, jsonb, jsonb, numeric)'::regprocedure)"
        " order by 1"
    ).fetchall()
    assert {r["fn"]: r["prosecdef"] for r in rows} == {
        "score_attempt(uuid)": True,
        "private.scenario_rubric(uuid,uuid)": True,
        "private.score_breakdown(jsonb,jsonb,jsonb,numeric)": False,
    }
    assert all(r["proconfig"] == ['search_path=""'] for r in rows)


def test_no_scoring_function_is_executable_by_anon(admin_conn):
    rows = admin_conn.execute(
        "select p.oid::regprocedure::text as fn,"
        " has_function_privilege('anon', p.oid, 'execute') as anon_may from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where n.nspname in ('public', 'private')"
        "   and p.proname in ('compute_kpis', 'score_attempt', 'kpi_ms', 'kpi_ratio', 'kpi_tokens',"
        "     'kpi_turns', 'keyword_hits', 'score_number', 'score_criterion', 'score_breakdown',"
        "     'scenario_rubric', 'queue_for_scoring', 'score_queued')"
    ).fetchall()
    assert len(rows) == 13
    assert [r["fn"] for r in rows if r["anon_may"]] == []


def test_the_transcript_keeps_its_version_when_the_attempt_is_scored(admin_conn, as_user):
    """transcript_xid changes with the transcript only: a client that holds it fetches nothing
    again when the score arrives (the row's sync_xid does change)."""
    uploaded = admin_conn.execute(
        "insert into public.scenario_attempts (id, org_id, user_id, scenario_id, started_at,"
        " transcript, status) values (%s, %s, %s, %s, now(), %s::jsonb, 'uploaded')"
        " returning id::text, transcript_xid, sync_xid",
        (
            str(uuid.uuid4()),
            Seed.DEMO_ORG,
            TRAINEE_ID,
            Seed.SCENARIO_COLD_CALL,
            json.dumps(rep_call("Could we book a demo?")),
        ),
    ).fetchone()
    assert uploaded["transcript_xid"] == uploaded["sync_xid"]  # this transaction's

    # All of this is one transaction (one xid): give the version an older transaction's first.
    for sql in (
        "alter table public.scenario_attempts disable trigger stamp_transcript_version",
        "update public.scenario_attempts set transcript_xid = 42 where id = %(id)s",
        "alter table public.scenario_attempts enable trigger stamp_transcript_version",
    ):
        admin_conn.execute(sql, {"id": uploaded["id"]})

    def version() -> tuple[str, int]:
        row = admin_conn.execute(
            "select status::text, transcript_xid from public.scenario_attempts where id = %s",
            (uploaded["id"],),
        ).fetchone()
        return row["status"], row["transcript_xid"]

    assert score_queued(admin_conn) == 1
    assert version() == ("scored", 42)  # scored, same transcript: the same version
    admin_conn.execute(
        "update public.scenario_attempts set transcript = %s::jsonb where id = %s",
        (json.dumps(rep_call("Any questions?")), uploaded["id"]),
    )
    assert version()[1] == uploaded["sync_xid"]  # a new transcript: this transaction's


def test_clients_cannot_set_the_transcript_version(as_user):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        as_user("trainee").execute(
            "update public.scenario_attempts set transcript_xid = 1 where id = %s",
            (STRONG_COLD_CALL,),
        )
