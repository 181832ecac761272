"""An attempt with no rep speech is incomplete: never scored, never in reporting, even when a
client pushes one straight to the API (the desktop keeps such calls local).

The org here is committed (reporting loads only committed rows) and removed at the end; the
trainee writes as `authenticated` with real claims, as PostgREST would.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from db_support import Claims, Seed, score_queued
from psycopg.rows import dict_row

from server.db.migrate import MIGRATIONS_DIR, apply_bootstrap, apply_migrations, apply_seed
from server.db.testing import with_dbname

FIRST_NEW_MIGRATION = "20261203000100"

# Said by the persona only, then a rep turn in which nothing was heard.
NO_REP_SPEECH = {
    "version": 1,
    "turns": [
        {"speaker": "persona", "start": 0, "end": 2.5, "text": "Dana speaking. Who is this?"},
        {"speaker": "rep", "start": 3, "end": 13, "text": "  "},
        {"speaker": "persona", "start": 13.5, "end": 15, "text": "Hello? Anyone there?"},
    ],
}


@dataclass
class Org:
    id: str
    trainee: str
    manager: str
    scenario: str

    def claims(self, who: str) -> Claims:
        user = self.trainee if who == "trainee" else self.manager
        return Claims(sub=user, org_id=self.id, org_role=who)


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection:
    return psycopg.connect(dsn, row_factory=dict_row, **kwargs)


@pytest.fixture
def org(database_dsn: str) -> Iterator[Org]:
    tag = uuid.uuid4().hex[:10]
    made = Org(str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4()))
    with connect(database_dsn) as conn, conn.transaction():
        conn.execute(
            "insert into public.orgs (id, name, slug) values (%s, %s, %s)",
            (made.id, f"Incomplete {tag}", f"incomplete-{tag}"),
        )
        for user, role in ((made.trainee, "trainee"), (made.manager, "manager")):
            conn.execute(
                "insert into auth.users (id, email) values (%s, %s)",
                (user, f"{role}-{tag}@incomplete.coachdesk.test"),
            )
            conn.execute(
                "insert into public.org_members (org_id, user_id, role, display_name)"
                " values (%s, %s, %s, %s)",
                (made.id, user, role, f"{role} {tag}"),
            )
        conn.execute(
            "insert into public.scenarios (id, org_id, title, persona, branching, rubric, status)"
            " select %s, %s, title, persona, branching, rubric, 'published'"
            " from public.scenarios where id = %s",
            (made.scenario, made.id, Seed.SCENARIO_COLD_CALL),
        )
    yield made
    with connect(database_dsn, autocommit=True) as conn:
        conn.execute("delete from public.orgs where id = %s", (made.id,))
        conn.execute(
            "delete from auth.users where id = any(%s::uuid[])", ([made.trainee, made.manager],)
        )
        conn.execute("select public.refresh_reporting()")


@pytest.fixture
def as_api(database_dsn: str) -> Iterator[psycopg.Connection]:
    """A connection as `authenticator` (never the superuser) whose transactions commit."""
    dbname = psycopg.conninfo.conninfo_to_dict(database_dsn)["dbname"]
    with connect(with_dbname(database_dsn, dbname, user="authenticator")) as conn:
        yield conn


def act_as(conn: psycopg.Connection, claims: Claims) -> psycopg.Connection:
    conn.execute(f"set local role {claims.role}")
    conn.execute("select set_config('request.jwt.claims', %s, true)", (claims.as_json(),))
    return conn


def push(conn: psycopg.Connection, org: Org, transcript: dict[str, Any]) -> str:
    """What a client's upsert does: the attempt with its transcript, as the trainee."""
    attempt_id = str(uuid.uuid4())
    with conn.transaction():
        act_as(conn, org.claims("trainee")).execute(
            "insert into public.scenario_attempts (id, org_id, user_id, scenario_id, started_at,"
            " ended_at, duration_seconds, transcript, status)"
            " values (%s, %s, %s, %s, now() - interval '1 minute', now(), 15, %s::jsonb,"
            " 'uploaded')",
            (attempt_id, org.id, org.trainee, org.scenario, json.dumps(transcript)),
        )
    return attempt_id


def attempt(conn: psycopg.Connection, org: Org, attempt_id: str) -> dict[str, Any]:
    with conn.transaction():
        return (
            act_as(conn, org.claims("trainee"))
            .execute(
                "select status::text, score, kpis, score_breakdown, scored_at"
                " from public.scenario_attempts where id = %s",
                (attempt_id,),
            )
            .fetchone()
        )


def test_a_pushed_attempt_without_rep_speech_is_incomplete_and_counts_nowhere(
    org, as_api, database_dsn
):
    with connect(database_dsn) as superuser:
        strong = superuser.execute(
            "select transcript from public.scenario_attempts"
            " where org_id = %s and score is not null order by score desc limit 1",
            (Seed.DEMO_ORG,),
        ).fetchone()["transcript"]
    spoken = push(as_api, org, strong)
    silent = push(as_api, org, NO_REP_SPEECH)
    with connect(database_dsn) as worker, worker.transaction():
        assert score_queued(worker) >= 2  # as the scoring worker drains the queue

    scored = attempt(as_api, org, spoken)
    assert scored["status"] == "scored" and scored["score"] is not None
    incomplete = attempt(as_api, org, silent)
    assert incomplete == {
        "status": "incomplete",
        "score": None,
        "kpis": None,
        "score_breakdown": None,
        "scored_at": None,
    }

    # Scoring it on demand does not score it either, and a retried upsert keeps it incomplete.
    with as_api.transaction():
        conn = act_as(as_api, org.claims("trainee"))
        assert conn.execute("select public.score_attempt(%s) as b", (silent,)).fetchone() == {
            "b": None
        }
        conn.execute(
            "update public.scenario_attempts set status = 'recorded' where id = %s", (silent,)
        )
    assert attempt(as_api, org, silent)["status"] == "incomplete"

    with connect(database_dsn, autocommit=True) as superuser:
        superuser.execute("select public.refresh_reporting()")  # what pg_cron runs
        facts = superuser.execute(
            "select attempt_id::text from public.fact_scenario_attempts where org_id = %s",
            (org.id,),
        ).fetchall()
    assert facts == [{"attempt_id": spoken}]
    with as_api.transaction():
        conn = act_as(as_api, org.claims("manager"))
        (leader,) = conn.execute("select * from public.leaderboard_month()").fetchall()
        (month, *_) = conn.execute("select * from public.org_overview(1)").fetchall()
    assert (leader["user_id"], leader["attempts"]) == (uuid.UUID(org.trainee), 1)
    assert leader["avg_score"] == scored["score"]  # not dragged down by a 0.0
    assert (month["attempts"], month["scored_attempts"]) == (1, 1)
    assert month["avg_score"] == scored["score"]


def test_a_transcript_with_rep_speech_replacing_an_empty_one_is_scored(org, as_api, database_dsn):
    silent = push(as_api, org, NO_REP_SPEECH)
    with connect(database_dsn) as worker, worker.transaction():
        score_queued(worker)
    assert attempt(as_api, org, silent)["status"] == "incomplete"
    said = dict(NO_REP_SPEECH, turns=[dict(t) for t in NO_REP_SPEECH["turns"]])
    said["turns"][1]["text"] = "Hi Dana, this is Sam from Coachdesk. Do you have a minute?"
    with as_api.transaction():
        act_as(as_api, org.claims("trainee")).execute(
            "update public.scenario_attempts set transcript = %s::jsonb where id = %s",
            (json.dumps(said), silent),
        )
    with connect(database_dsn) as worker, worker.transaction():
        score_queued(worker)
    row = attempt(as_api, org, silent)
    assert row["status"] == "scored" and row["score"] is not None


def test_scores_without_rep_speech_from_before_become_incomplete(database_dsn, tmp_path):
    """A database that scored silent calls (before these migrations) loses those scores."""
    older = tmp_path / "migrations"
    older.mkdir()
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.name < FIRST_NEW_MIGRATION:
            shutil.copy(path, older / path.name)
    name = f"coachdesk_incomplete_{uuid.uuid4().hex[:10]}"
    admin = with_dbname(database_dsn, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'create database "{name}"')
    try:
        # Tuple rows: the migrator reads its own bookkeeping by position.
        with psycopg.connect(with_dbname(database_dsn, name), autocommit=True) as conn:
            apply_bootstrap(conn)
            apply_migrations(conn, Path(older))
            apply_seed(conn)
            trainee, org, _role = Seed.USERS["trainee"]
            silent = str(uuid.uuid4())
            conn.execute(
                "insert into public.scenario_attempts (id, org_id, user_id, scenario_id,"
                " started_at, transcript, status) values (%s, %s, %s, %s, now(), %s::jsonb,"
                " 'uploaded')",
                (silent, org, trainee, Seed.SCENARIO_COLD_CALL, json.dumps(NO_REP_SPEECH)),
            )
            conn.execute("select private.score_queued(100)")
            query = "select id::text, status::text, score from public.scenario_attempts"
            (status, score) = next(row[1:] for row in conn.execute(query) if row[0] == silent)
            # What these migrations fix: a call with nothing said got a score (16.28 here: the
            # rubric's "at most" criteria are met by silence).
            assert status == "scored" and score is not None

            assert apply_migrations(conn)[0] == FIRST_NEW_MIGRATION
            by_id = {row[0]: row[1:] for row in conn.execute(query)}
        assert by_id[silent] == ("incomplete", None)
        # The seed's calls, all with rep speech, keep their scores.
        assert {status for i, (status, _) in by_id.items() if i != silent} == {"scored"}
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'drop database if exists "{name}" with (force)')
