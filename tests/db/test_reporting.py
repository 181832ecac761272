"""Reporting star schema: incremental refresh, late commits, the accessors, who may read what.

refresh_reporting() only loads committed data, so these tests commit. Each works in orgs it
creates (the seed is never changed) and deletes them again at the end of the module, so the
shared session database is left as it was found (apart from the reporting tables).
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import psycopg
import pytest
from db_support import ApiSession, Claims, Seed, score_queued
from psycopg.rows import dict_row

from server.db.cluster import EPHEMERAL_SETTINGS, PostgresCluster, free_port
from server.db.migrate import apply_bootstrap, apply_migrations, migrate
from server.db.testing import with_dbname

D = Decimal
KPI_NAMES = (
    "talk_ratio",
    "words_per_minute",
    "filler_words_per_minute",
    "filler_word_ratio",
    "longest_monologue_seconds",
    "questions_asked",
    "interruptions",
    "response_latency_seconds",
    "speaker_switches_per_minute",
    "keyword_coverage",
    "rep_talk_seconds",
    "rep_word_count",
    "call_duration_seconds",
)
REPORTING_RELATIONS = (
    "dim_orgs",
    "dim_users",
    "dim_scenarios",
    "dim_tracks",
    "dim_time",
    "fact_scenario_attempts",
    "fact_kpi_events",
    "mv_leaderboard_month",
    "mv_org_overview",
    "mv_scenario_insights",
)


def seed_attempt_id(n: int) -> str:
    """Ids of the seed's past attempts (supabase/seed.sql)."""
    return str(uuid.UUID(hashlib.md5(f"coachdesk-seed-attempt-{n}".encode()).hexdigest()))


# Transcripts of the seed's past calls (strong, weak and average rep performances).
TRANSCRIPTS = {
    "strong": seed_attempt_id(4),
    "weak": seed_attempt_id(1),
    "average": seed_attempt_id(2),
}


def loads(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def connect(dsn: str, **kwargs: Any) -> psycopg.Connection:
    return psycopg.connect(dsn, row_factory=dict_row, **kwargs)


def refresh(conn: psycopg.Connection) -> dict[str, Any]:
    return loads(conn.execute("select public.refresh_reporting()::text as r").fetchone()["r"])


def round_half_up(value: Fraction, places: int) -> Decimal:
    """Postgres' round(numeric, n): half away from zero (all values here are >= 0)."""
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def percentile_disc(values: list[Decimal], fraction: Fraction) -> Decimal:
    """The first value whose position in sorted order reaches `fraction` (as Postgres)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def sql_ranks(scores: dict[str, Decimal | None]) -> dict[str, int]:
    """rank() by score descending, NULLs last, ties sharing a rank."""
    ordered = sorted(scores.values(), key=lambda s: (s is None, -(s or 0)))
    return {key: ordered.index(score) + 1 for key, score in scores.items()}


@dataclass
class ReportOrg:
    """An org made for these tests: members by key, scenarios, a team, attempts."""

    id: str
    users: dict[str, str]
    scenario: str
    draft_scenario: str
    team: str
    attempts: list[str] = field(default_factory=list)

    def claims(self, key: str) -> Claims:
        role = {"manager": "manager", "hr": "hr"}.get(key, "trainee")
        return Claims(sub=self.users[key], org_id=self.id, org_role=role)


class OrgFactory:
    """Creates committed orgs with members, content and attempts; removes them on cleanup."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.made: list[ReportOrg] = []

    def create(self) -> ReportOrg:
        tag = uuid.uuid4().hex[:10]
        org = ReportOrg(
            id=str(uuid.uuid4()),
            users={key: str(uuid.uuid4()) for key in ("manager", "hr", "ana", "ben")},
            scenario=str(uuid.uuid4()),
            draft_scenario=str(uuid.uuid4()),
            team=str(uuid.uuid4()),
        )
        self.made.append(org)
        roles = {"manager": "manager", "hr": "hr", "ana": "trainee", "ben": "trainee"}
        with connect(self.dsn) as conn, conn.transaction():
            conn.execute(
                "insert into public.orgs (id, name, slug) values (%s, %s, %s)",
                (org.id, f"Reporting {tag}", f"reporting-{tag}"),
            )
            for key, user_id in org.users.items():
                conn.execute(
                    "insert into auth.users (id, email) values (%s, %s)",
                    (user_id, f"{key}-{tag}@reporting.coachdesk.test"),
                )
                conn.execute(
                    "insert into public.org_members (org_id, user_id, role, display_name)"
                    " values (%s, %s, %s, %s)",
                    (org.id, user_id, roles[key], f"{key.title()} {tag}"),
                )
            conn.execute(
                "insert into public.teams (id, org_id, name) values (%s, %s, 'Alpha')",
                (org.team, org.id),
            )
            conn.execute(
                "insert into public.team_members (org_id, team_id, user_id) values (%s, %s, %s)",
                (org.id, org.team, org.users["ana"]),
            )
            for scenario_id, title, status in (
                (org.scenario, "Cold call copy", "published"),
                (org.draft_scenario, "Draft copy", "draft"),
            ):
                conn.execute(
                    "insert into public.scenarios (id, org_id, title, persona, branching, rubric,"
                    " status) select %s, %s, %s, persona, branching, rubric, %s"
                    " from public.scenarios where id = %s",
                    (scenario_id, org.id, title, status, Seed.SCENARIO_COLD_CALL),
                )
        return org

    def add_attempt(
        self,
        conn: psycopg.Connection,
        org: ReportOrg,
        user: str,
        *,
        quality: str | None = "strong",
        started: str = "now() - interval '1 hour'",
        scenario: str | None = None,
        status: str = "uploaded",
    ) -> str:
        """Insert an attempt and, when it has a transcript, score it in the same transaction (as
        the scoring worker would just after the commit); not committed here."""
        attempt_id = str(uuid.uuid4())
        conn.execute(
            "insert into public.scenario_attempts (id, org_id, user_id, scenario_id, started_at,"
            " duration_seconds, transcript, status, failure_reason)"
            f" select %s, %s, %s, %s, {started}, 42.5,"
            " (select transcript from public.scenario_attempts where id = %s), %s, %s",
            (
                attempt_id,
                org.id,
                org.users[user],
                scenario or org.scenario,
                TRANSCRIPTS.get(quality or ""),
                status,
                "transcription failed" if status == "failed" else None,
            ),
        )
        score_queued(conn)
        org.attempts.append(attempt_id)
        return attempt_id

    def cleanup(self) -> None:
        with connect(self.dsn, autocommit=True) as conn:
            for org in self.made:
                conn.execute("delete from public.orgs where id = %s", (org.id,))
                conn.execute(
                    "delete from auth.users where id = any(%s::uuid[])", (list(org.users.values()),)
                )
            refresh(conn)


@pytest.fixture(scope="module")
def factory(database_dsn: str) -> Iterator[OrgFactory]:
    made = OrgFactory(database_dsn)
    yield made
    made.cleanup()


@pytest.fixture(scope="module")
def org(factory: OrgFactory) -> ReportOrg:
    """Attempts this month, last month and in 2019 (before dim_time's prefilled range), scored
    and failed ones, one still unscored, one on a draft; then a first refresh."""
    made = factory.create()
    with connect(factory.dsn) as conn, conn.transaction():
        factory.add_attempt(conn, made, "ana", quality="strong")
        factory.add_attempt(conn, made, "ana", quality="weak")
        factory.add_attempt(
            conn, made, "ana", quality="average", started="now() - interval '35 days'"
        )
        factory.add_attempt(conn, made, "ana", quality=None, status="failed")
        factory.add_attempt(conn, made, "ben", quality="average")
        factory.add_attempt(conn, made, "ben", quality=None)
        factory.add_attempt(conn, made, "ben", quality="strong", started="'2019-06-15 23:30+00'")
        factory.add_attempt(conn, made, "manager", quality="weak", scenario=made.draft_scenario)
    with connect(factory.dsn, autocommit=True) as conn:
        refresh(conn)
    return made


@pytest.fixture
def superuser(database_dsn: str) -> Iterator[psycopg.Connection]:
    with connect(database_dsn, autocommit=True) as conn:
        yield conn


def call(api: ApiSession, claims: Claims, sql: str, *params: Any) -> list[dict[str, Any]]:
    return api.become(claims).execute(sql, params).fetchall()


# -- what the refresh loads ---------------------------------------------------------------------


def test_facts_hold_exactly_the_scored_and_failed_attempts(org, superuser):
    expected = superuser.execute(
        "select id, status::text, score, kpis::text from public.scenario_attempts"
        " where org_id = %s and status in ('scored', 'failed')",
        (org.id,),
    ).fetchall()
    facts = superuser.execute(
        f"select attempt_id, status::text, score, {', '.join(KPI_NAMES)}"
        " from public.fact_scenario_attempts where org_id = %s",
        (org.id,),
    ).fetchall()
    assert len(expected) == 7  # 8 attempts, one still waiting for its transcript
    assert {r["id"] for r in expected} == {f["attempt_id"] for f in facts}
    by_id = {f["attempt_id"]: f for f in facts}
    for row in expected:
        fact = by_id[row["id"]]
        assert (fact["status"], fact["score"]) == (row["status"], row["score"])
        kpis = loads(row["kpis"]) if row["kpis"] else {}
        assert {k: fact[k] for k in KPI_NAMES} == {k: kpis.get(k) for k in KPI_NAMES}

    events = superuser.execute(
        "select attempt_id, kpi, value from public.fact_kpi_events where org_id = %s", (org.id,)
    ).fetchall()
    expected_events = {
        (row["id"], kpi, value)
        for row in expected
        if row["kpis"]
        for kpi, value in loads(row["kpis"]).items()
        if kpi in KPI_NAMES and value is not None
    }
    assert expected_events
    assert {(e["attempt_id"], e["kpi"], e["value"]) for e in events} == expected_events


def test_a_refresh_with_no_changes_writes_nothing(org, superuser):
    first = refresh(superuser)
    second = refresh(superuser)
    assert second["previous_watermark"] == first["watermark"]
    assert second["watermark"] >= first["watermark"]
    for count in (
        "facts_upserted",
        "facts_deleted",
        "dims_upserted",
        "dims_deleted",
        "kpi_events_written",
    ):
        assert second[count] == 0, count
    assert second["views_refreshed"] is False


def test_dim_time_covers_every_attempt_day(org, superuser):
    uncovered = superuser.execute(
        "select a.id from public.scenario_attempts a"
        " where a.org_id = %s and a.status in ('scored', 'failed')"
        " and not exists (select 1 from public.dim_time t"
        "                 where t.date_key = (a.started_at at time zone 'UTC')::date)",
        (org.id,),
    ).fetchall()
    assert uncovered == []
    # 2019-06-15 lies before the prefilled range and was added on demand.
    day = superuser.execute(
        "select * from public.dim_time where date_key = '2019-06-15'"
    ).fetchone()
    assert day == {
        "date_key": date(2019, 6, 15),
        "day": 15,
        "day_of_week": 6,
        "iso_year": 2019,
        "iso_week": 24,
        "month_start": date(2019, 6, 1),
        "quarter": 2,
        "year": 2019,
    }
    # ISO week of a Sunday in early January belongs to the previous ISO year.
    edge = superuser.execute(
        "select iso_year, iso_week, quarter, month_start from public.dim_time"
        " where date_key = '2021-01-03'"
    ).fetchone()
    assert edge == {"iso_year": 2020, "iso_week": 53, "quarter": 1, "month_start": date(2021, 1, 1)}
    prefilled = superuser.execute(
        "select count(*) as n from public.dim_time"
        " where date_key between '2020-01-01' and '2035-12-31'"
    ).fetchone()["n"]
    assert prefilled == (date(2035, 12, 31) - date(2020, 1, 1)).days + 1


# -- accessors equal direct aggregates over scenario_attempts ----------------------------------


def expected_leaderboard(conn: psycopg.Connection, org_id: str, month: date) -> list[dict]:
    rows = conn.execute(
        """
        select a.user_id, m.display_name, count(*)::int as attempts,
               round(avg(a.score), 2) as avg_score, max(a.score) as best_score,
               (count(*) filter (where a.status = 'scored'
                                 and (a.score_breakdown ->> 'passed')::boolean))::int
                 as passed_attempts
        from public.scenario_attempts a
        join public.org_members m on m.org_id = a.org_id and m.user_id = a.user_id
        where a.org_id = %s and a.status in ('scored', 'failed')
          and date_trunc('month', a.started_at at time zone 'UTC')::date = %s
        group by a.user_id, m.display_name
        """,
        (org_id, month),
    ).fetchall()
    ranks = sql_ranks({r["user_id"]: r["avg_score"] for r in rows})
    for row in rows:
        row["rank"] = row["org_rank"] = ranks[row["user_id"]]
    return sorted(rows, key=lambda r: (r["rank"], r["display_name"]))


def attempt_months(conn: psycopg.Connection, org_id: str) -> list[date]:
    return [
        r["m"]
        for r in conn.execute(
            "select distinct date_trunc('month', started_at at time zone 'UTC')::date as m"
            " from public.scenario_attempts where org_id = %s order by 1",
            (org_id,),
        )
    ]


def test_leaderboard_equals_a_direct_aggregate_for_every_month(org, superuser, api):
    months = attempt_months(superuser, org.id)
    assert len(months) >= 3  # this month, 35 days ago, June 2019
    for month in months:
        got = call(api, org.claims("ana"), "select * from public.leaderboard_month(%s)", month)
        assert got == expected_leaderboard(superuser, org.id, month), month
        assert got, month


def test_leaderboard_defaults_to_the_current_month(org, superuser, api):
    this_month = superuser.execute(
        "select date_trunc('month', now() at time zone 'UTC')::date as m"
    ).fetchone()["m"]
    got = call(api, org.claims("ben"), "select * from public.leaderboard_month()")
    assert got == expected_leaderboard(superuser, org.id, this_month)


def test_leaderboard_of_a_team_ranks_its_members_among_themselves(org, superuser, api):
    month = attempt_months(superuser, org.id)[-1]
    whole = {r["user_id"]: r["rank"] for r in expected_leaderboard(superuser, org.id, month)}
    got = call(
        api, org.claims("ben"), "select * from public.leaderboard_month(%s, %s)", month, org.team
    )
    ana = uuid.UUID(org.users["ana"])
    assert [(r["user_id"], r["rank"], r["org_rank"]) for r in got] == [(ana, 1, whole[ana])]


def test_leaderboard_refuses_a_team_of_another_org(org, api):
    globex_team = "e0000000-0000-4000-8000-000000000011"
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="is not a team of your org"):
        call(
            api, org.claims("ana"), "select * from public.leaderboard_month(null, %s)", globex_team
        )


def test_org_overview_equals_a_direct_aggregate(org, superuser, api):
    got = call(api, org.claims("manager"), "select * from public.org_overview(3)")
    expected = superuser.execute(
        """
        with months as (
          select (date_trunc('month', now() at time zone 'UTC') - make_interval(months => i))::date
                   as month_start
          from generate_series(0, 2) as i
        ), agg as (
          select date_trunc('month', a.started_at at time zone 'UTC')::date as month_start,
                 count(distinct a.user_id)::int as active_users,
                 count(*)::int as attempts,
                 (count(*) filter (where a.status = 'scored'))::int as scored_attempts,
                 round(avg(a.score), 2) as avg_score,
                 round((count(*) filter (where (a.score_breakdown ->> 'passed')::boolean))::numeric
                       / nullif(count(*) filter (where a.status = 'scored'), 0), 4) as pass_rate,
                 round(avg((a.kpis ->> 'talk_ratio')::numeric), 4) as avg_talk_ratio,
                 round(avg((a.kpis ->> 'words_per_minute')::numeric), 4) as avg_words_per_minute,
                 round(avg((a.kpis ->> 'filler_word_ratio')::numeric), 4) as avg_filler_word_ratio,
                 round(avg((a.kpis ->> 'questions_asked')::numeric), 4) as avg_questions_asked,
                 round(avg((a.kpis ->> 'longest_monologue_seconds')::numeric), 4)
                   as avg_longest_monologue_seconds,
                 round(avg((a.kpis ->> 'response_latency_seconds')::numeric), 4)
                   as avg_response_latency_seconds,
                 round(avg((a.kpis ->> 'keyword_coverage')::numeric), 4) as avg_keyword_coverage
          from public.scenario_attempts a
          where a.org_id = %s and a.status in ('scored', 'failed')
          group by 1
        )
        select m.month_start, coalesce(agg.active_users, 0) as active_users,
               coalesce(agg.attempts, 0) as attempts,
               coalesce(agg.scored_attempts, 0) as scored_attempts, agg.avg_score, agg.pass_rate,
               agg.avg_talk_ratio, agg.avg_words_per_minute, agg.avg_filler_word_ratio,
               agg.avg_questions_asked, agg.avg_longest_monologue_seconds,
               agg.avg_response_latency_seconds, agg.avg_keyword_coverage
        from months m left join agg using (month_start)
        order by m.month_start
        """,
        (org.id,),
    ).fetchall()
    assert got == expected
    assert len(got) == 3
    assert sum(r["attempts"] for r in got) >= 6  # all but the 2019 attempt


def expected_insights(conn: psycopg.Connection, org_id: str, drafts: bool) -> list[dict]:
    scenarios = conn.execute(
        "select id as scenario_id, title, status::text, difficulty::text from public.scenarios"
        " where org_id = %s and (%s or status <> 'draft') order by title, id",
        (org_id, drafts),
    ).fetchall()
    attempts = conn.execute(
        "select scenario_id, status::text, score,"
        " coalesce((score_breakdown ->> 'passed')::boolean, false) as passed, kpis::text"
        " from public.scenario_attempts where org_id = %s and status in ('scored', 'failed')",
        (org_id,),
    ).fetchall()
    result = []
    for scenario in scenarios:
        mine = [a for a in attempts if a["scenario_id"] == scenario["scenario_id"]]
        scores = [a["score"] for a in mine if a["score"] is not None]
        scored = [a for a in mine if a["status"] == "scored"]
        kpi_values: dict[str, list[Decimal]] = {}
        for attempt in mine:
            for kpi, value in loads(attempt["kpis"] or "{}").items():
                if kpi in KPI_NAMES and value is not None:
                    kpi_values.setdefault(kpi, []).append(D(value))
        result.append(
            {
                **scenario,
                "attempts": len(mine),
                "scored_attempts": len(scored),
                "avg_score": round_half_up(Fraction(sum(scores)) / len(scores), 2)
                if scores
                else None,
                "median_score": percentile_disc(scores, Fraction(1, 2)) if scores else None,
                "pass_rate": round_half_up(
                    Fraction(sum(a["passed"] for a in scored), len(scored)), 4
                )
                if scored
                else None,
                "kpis": {
                    kpi: {
                        "n": len(values),
                        "avg": round_half_up(Fraction(sum(values)) / len(values), 4),
                        **{
                            f"p{int(p * 100)}": percentile_disc(values, p)
                            for p in (
                                Fraction(1, 4),
                                Fraction(1, 2),
                                Fraction(3, 4),
                                Fraction(9, 10),
                            )
                        },
                    }
                    for kpi, values in kpi_values.items()
                },
            }
        )
    return result


INSIGHTS_SQL = (
    "select scenario_id, title, status::text, difficulty::text, attempts, scored_attempts,"
    " avg_score, median_score, pass_rate, kpis::text as kpis from public.scenario_insights(%s)"
)


def insights(api: ApiSession, claims: Claims, scenario: str | None = None) -> list[dict]:
    rows = call(api, claims, INSIGHTS_SQL, scenario)
    return [{**r, "kpis": loads(r["kpis"])} for r in rows]


def test_scenario_insights_equal_a_direct_aggregate(org, superuser, api):
    got = insights(api, org.claims("manager"))
    assert got == expected_insights(superuser, org.id, drafts=True)
    assert [r["title"] for r in got] == ["Cold call copy", "Draft copy"]
    assert set(got[0]["kpis"]) >= {"talk_ratio", "words_per_minute", "questions_asked"}


def test_scenario_insights_of_one_scenario(org, superuser, api):
    got = insights(api, org.claims("manager"), org.scenario)
    assert got == expected_insights(superuser, org.id, drafts=True)[:1]


def test_hr_gets_no_insights_on_drafts(org, superuser, api):
    got = insights(api, org.claims("hr"))
    assert got == expected_insights(superuser, org.id, drafts=False)
    assert [r["title"] for r in got] == ["Cold call copy"]


# -- incremental loading -------------------------------------------------------------------------


def fact_ids(conn: psycopg.Connection, org_id: str) -> set[str]:
    rows = conn.execute(
        "select attempt_id::text as id from public.fact_scenario_attempts where org_id = %s",
        (org_id,),
    )
    return {r["id"] for r in rows}


def test_a_new_attempt_appears_after_the_next_refresh(factory, org, superuser, api):
    refresh(superuser)
    before = call(api, org.claims("ben"), "select * from public.leaderboard_month()")
    with superuser.transaction():
        attempt = factory.add_attempt(superuser, org, "ben", quality="strong")
    assert attempt not in fact_ids(superuser, org.id)

    result = refresh(superuser)
    assert (result["facts_upserted"], result["facts_deleted"]) == (1, 0)
    assert result["kpi_events_written"] > 0
    assert result["views_refreshed"] is True
    assert attempt in fact_ids(superuser, org.id)
    after = call(api, org.claims("ben"), "select * from public.leaderboard_month()")
    ben = uuid.UUID(org.users["ben"])
    assert next(r for r in after if r["user_id"] == ben)["attempts"] == (
        next(r for r in before if r["user_id"] == ben)["attempts"] + 1
    )


def test_a_transaction_that_commits_late_is_not_missed(factory, org, superuser, database_dsn):
    refresh(superuser)
    with connect(database_dsn) as late:
        # A writes first and stays open; B writes after it and commits at once.
        late_attempt = factory.add_attempt(late, org, "ana", quality="average")
        late_xid = late.execute("select pg_current_xact_id()::text::bigint as x").fetchone()["x"]
        with superuser.transaction():
            early_attempt = factory.add_attempt(superuser, org, "ben", quality="weak")

        held = refresh(superuser)
        # The watermark stops below A; B, committed above it, waits for the next run too.
        assert held["watermark"] <= late_xid
        assert {late_attempt, early_attempt} & fact_ids(superuser, org.id) == set()
        late.commit()

    result = refresh(superuser)
    assert result["previous_watermark"] == held["watermark"]
    assert result["facts_upserted"] == 2
    assert {late_attempt, early_attempt} <= fact_ids(superuser, org.id)


def test_rescoring_and_status_changes_reach_the_facts(factory, org, superuser):
    with superuser.transaction():
        attempt = factory.add_attempt(superuser, org, "ben", quality="weak")
    refresh(superuser)
    superuser.execute(
        "update public.scenario_attempts set status = 'failed', failure_reason = 'bad audio'"
        " where id = %s",
        (attempt,),
    )
    assert refresh(superuser)["facts_upserted"] == 1
    fact = superuser.execute(
        "select status::text, passed from public.fact_scenario_attempts where attempt_id = %s",
        (attempt,),
    ).fetchone()
    assert fact == {"status": "failed", "passed": False}

    # Reset for rescoring: no longer scored or failed, so out of the facts (and its KPI events).
    superuser.execute(
        "update public.scenario_attempts set status = 'uploaded', failure_reason = null"
        " where id = %s",
        (attempt,),
    )
    result = refresh(superuser)
    assert result["facts_deleted"] == 1
    assert attempt not in fact_ids(superuser, org.id)
    events = superuser.execute(
        "select count(*) as n from public.fact_kpi_events where attempt_id = %s", (attempt,)
    ).fetchone()["n"]
    assert events == 0


def test_a_renamed_member_is_renamed_in_the_leaderboard(org, superuser, api):
    refresh(superuser)
    superuser.execute(
        "update public.org_members set display_name = display_name || ' (renamed)'"
        " where org_id = %s and user_id = %s",
        (org.id, org.users["ana"]),
    )
    result = refresh(superuser)
    assert (result["dims_upserted"], result["facts_upserted"]) == (1, 0)
    names = [
        r["display_name"]
        for r in call(api, org.claims("ana"), "select * from public.leaderboard_month()")
    ]
    assert any(name.endswith(" (renamed)") for name in names)


def test_deleted_attempts_and_orgs_leave_the_reporting_tables(factory, superuser):
    doomed = factory.create()
    with superuser.transaction():
        kept = factory.add_attempt(superuser, doomed, "ana", quality="strong")
        deleted = factory.add_attempt(superuser, doomed, "ben", quality="average")
    refresh(superuser)
    assert fact_ids(superuser, doomed.id) == {kept, deleted}

    superuser.execute("delete from public.scenario_attempts where id = %s", (deleted,))
    result = refresh(superuser)
    assert result["facts_deleted"] == 1
    assert fact_ids(superuser, doomed.id) == {kept}

    superuser.execute("delete from public.orgs where id = %s", (doomed.id,))
    result = refresh(superuser)
    assert result["dims_deleted"] >= 1
    for relation in REPORTING_RELATIONS:
        if relation == "dim_time":
            continue
        column = "org_id"
        n = superuser.execute(
            f"select count(*) as n from public.{relation} where {column} = %s", (doomed.id,)
        ).fetchone()["n"]
        assert n == 0, relation


def test_a_watermark_ahead_of_the_clusters_xids_reloads_everything(factory, org, superuser):
    """After a dump and restore into another cluster, xids start again below the watermark."""
    first = refresh(superuser)
    assert first["reloaded"] is False
    superuser.execute("update private.reporting_state set watermark = 9000000000000000")
    with superuser.transaction():
        attempt = factory.add_attempt(superuser, org, "ben", quality="average")
    result = refresh(superuser)
    assert result["reloaded"] is True
    assert result["previous_watermark"] == 0
    assert result["watermark"] >= first["watermark"]
    assert attempt in fact_ids(superuser, org.id)
    # Everything else reloaded onto itself: nothing but the new attempt was written.
    assert result["facts_upserted"] == 1


def test_a_view_that_was_never_populated_is_filled(admin_conn):
    admin_conn.execute("refresh materialized view public.mv_org_overview with no data")
    result = refresh(admin_conn)
    assert result["views_refreshed"] is True
    populated = admin_conn.execute(
        "select ispopulated from pg_matviews where matviewname = 'mv_org_overview'"
    ).fetchone()["ispopulated"]
    assert populated is True


# -- who may read what -------------------------------------------------------------------------


def test_a_trainee_is_refused_overview_and_insights(org, api):
    for report in ("org_overview()", "scenario_insights()"):
        with pytest.raises(
            psycopg.errors.InsufficientPrivilege,
            match=r"is only for manager, admin, hr \(your role in this org is trainee\)",
        ):
            call(api, org.claims("ana"), f"select * from public.{report}")


def test_org_overview_refuses_a_silly_number_of_months(org, api):
    with pytest.raises(psycopg.errors.InvalidParameterValue, match="between 1 and 120"):
        call(api, org.claims("manager"), "select * from public.org_overview(0)")


def test_another_orgs_manager_sees_nothing_of_this_org(org, superuser, api):
    globex = Seed.claims("globex_manager")
    users = {uuid.UUID(u) for u in org.users.values()}
    for month in attempt_months(superuser, org.id):
        rows = call(api, globex, "select user_id from public.leaderboard_month(%s)", month)
        assert not users & {r["user_id"] for r in rows}
    scenarios = {r["scenario_id"] for r in insights(api, globex)}
    assert scenarios and not scenarios & {uuid.UUID(org.scenario), uuid.UUID(org.draft_scenario)}
    assert insights(api, globex, org.scenario) == []
    globex_overview = call(
        api, globex, "select sum(attempts)::int as n from public.org_overview(120)"
    )
    globex_attempts = superuser.execute(
        "select count(*)::int as n from public.fact_scenario_attempts where org_id = %s",
        (Seed.GLOBEX_ORG,),
    ).fetchone()["n"]
    assert globex_overview[0]["n"] == globex_attempts


def test_a_forged_org_claim_is_refused(org, api):
    forged = Claims(sub=Seed.USERS["globex_manager"][0], org_id=org.id, org_role="manager")
    for report in ("leaderboard_month()", "org_overview()", "scenario_insights()"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="needs a current org"):
            call(api, forged, f"select * from public.{report}")


@pytest.mark.parametrize("relation", REPORTING_RELATIONS)
@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_api_roles_cannot_read_reporting_relations(api, relation, role):
    claims = Seed.claims("manager")
    claims.role = role
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(api, claims, f"select * from public.{relation} limit 1")


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_api_roles_cannot_refresh(api, role):
    claims = Seed.claims("admin")
    claims.role = role
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(api, claims, "select public.refresh_reporting()")


def test_anon_cannot_call_the_accessors(api):
    for report in ("leaderboard_month()", "org_overview()", "scenario_insights()"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            call(api, Claims(sub=None, role="anon"), f"select * from public.{report}")


def test_the_service_role_refreshes_and_reads(api):
    service = Claims(sub=None, role="service_role")
    result = call(api, service, "select public.refresh_reporting()::text as r")
    assert "watermark" in loads(result[0]["r"])
    for relation in REPORTING_RELATIONS:
        call(api, service, f"select count(*) from public.{relation}")


# -- the schedule ------------------------------------------------------------------------------


def migrate_noting(dsn: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Apply bootstrap and migrations to `dsn`; return the NOTICEs and any pg_cron jobs."""
    notices: list[str] = []
    with connect(dsn, autocommit=True) as conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        apply_bootstrap(conn)
        apply_migrations(conn)
        jobs = []
        if conn.execute("select to_regclass('cron.job') as t").fetchone()["t"]:
            jobs = conn.execute(
                "select jobname, schedule, command, database from cron.job order by jobname"
            ).fetchall()
    return notices, jobs


@pytest.fixture(scope="module")
def cron_cluster() -> Iterator[Callable[[str], str]]:
    """A throwaway cluster whose pg_cron (when installed) serves the database `reporting_cron`."""
    root = Path(tempfile.mkdtemp(prefix="coachdesk-cron-"))
    root.chmod(0o755)
    cluster = PostgresCluster(
        root=root,
        port=free_port(),
        settings={**EPHEMERAL_SETTINGS, "cron.database_name": "'reporting_cron'"},
    )
    cluster.start()

    def database(name: str) -> str:
        with connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        return with_dbname(cluster.dsn(), name)

    try:
        yield database
    finally:
        cluster.destroy()


def pg_cron_installed(dsn: str) -> bool:
    with connect(dsn) as conn:
        return conn.execute(
            "select exists (select 1 from pg_available_extensions where name = 'pg_cron') as x"
        ).fetchone()["x"]


def test_the_refresh_and_scoring_are_scheduled_where_pg_cron_serves_the_database(cron_cluster):
    dsn = cron_cluster("reporting_cron")
    notices, jobs = migrate_noting(dsn)
    if pg_cron_installed(dsn):
        purge_job, notifications_job, refresh_job, scoring_job, weekly_job = jobs
        assert purge_job == {
            "jobname": "coachdesk-purge-cron-history",
            "schedule": "17 3 * * *",
            "command": (
                "delete from cron.job_run_details where end_time < now() - interval '7 days'"
            ),
            "database": "reporting_cron",
        }
        # Daily: reminders dismissed 90 days ago or sent a year ago (20261205001000).
        assert notifications_job == {
            "jobname": "coachdesk-purge-notifications",
            "schedule": "23 3 * * *",
            "command": "select private.purge_notifications()",
            "database": "reporting_cron",
        }
        assert refresh_job == {
            "jobname": "coachdesk-refresh-reporting",
            "schedule": "* * * * *",
            "command": "select public.refresh_reporting()",
            "database": "reporting_cron",
        }
        # Every 10 seconds where pg_cron knows intervals (1.5+), else every minute.
        assert scoring_job["schedule"] in {"10 seconds", "* * * * *"}
        assert scoring_job == {
            "jobname": "coachdesk-score-queued",
            "schedule": scoring_job["schedule"],
            "command": "select private.score_queued(500)",
            "database": "reporting_cron",
        }
        # Mondays: last week's zip per org, queued for the export job (server/exports/job.py).
        assert weekly_job == {
            "jobname": "coachdesk-weekly-reports",
            "schedule": "10 2 * * 1",
            "command": "select private.request_weekly_reports()",
            "database": "reporting_cron",
        }
        assert not [n for n in notices if "not scheduled" in n]
    else:
        assert jobs == []
        assert "pg_cron is not installed: refresh_reporting() is not scheduled" in notices
        assert "pg_cron is not installed: score_queued() is not scheduled" in notices
    # What the jobs run works on a fresh database.
    with connect(dsn, autocommit=True) as conn:
        assert refresh(conn)["facts_upserted"] == 0
        assert conn.execute("select private.request_weekly_reports() as n").fetchone()["n"] == 0
        assert conn.execute("select private.purge_notifications() as n").fetchone()["n"] == 0


def test_other_databases_migrate_without_a_schedule(cron_cluster):
    dsn = cron_cluster("reporting_plain")
    notices, jobs = migrate_noting(dsn)
    assert jobs == []
    if pg_cron_installed(dsn):
        assert (
            'pg_cron serves database "reporting_cron", not "reporting_plain": '
            "refresh_reporting() is not scheduled"
        ) in notices
    else:
        assert "pg_cron is not installed: refresh_reporting() is not scheduled" in notices


# -- freshness ---------------------------------------------------------------------------------


def freshness(api: ApiSession, claims: Claims) -> dict[str, Any]:
    (row,) = call(api, claims, "select * from public.reporting_freshness()")
    return row


def test_any_member_learns_when_reporting_was_last_refreshed(org, superuser, api):
    refresh(superuser)
    refreshed = superuser.execute("select refreshed_at from private.reporting_state").fetchone()[
        "refreshed_at"
    ]
    for key in ("trainee", "manager", "hr"):
        row = freshness(api, Seed.claims(key))
        assert row["refreshed_at"] == refreshed
        # No pg_cron serves the session's test database: nothing refreshes it on a schedule.
        assert (row["scheduled"], row["last_run_at"], row["failed_runs"]) == (False, None, 0)


def test_freshness_needs_a_member_of_an_org(api):
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        call(api, Claims(sub=None, role="anon"), "select * from public.reporting_freshness()")
    no_org = Claims(sub=Seed.USERS["trainee"][0])
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="needs a current org"):
        call(api, no_org, "select * from public.reporting_freshness()")


@pytest.fixture(scope="module")
def freshness_cluster() -> Iterator[str]:
    """A migrated, seeded database that pg_cron serves, on a throwaway cluster of its own."""
    root = Path(tempfile.mkdtemp(prefix="coachdesk-freshness-"))
    root.chmod(0o755)
    cluster = PostgresCluster(
        root=root,
        port=free_port(),
        settings={**EPHEMERAL_SETTINGS, "cron.database_name": "'freshness'"},
    )
    cluster.start()
    try:
        with connect(cluster.dsn(), autocommit=True) as conn:
            conn.execute('create database "freshness"')
        dsn = with_dbname(cluster.dsn(), "freshness")
        migrate(dsn, seed=True)
        yield dsn
    finally:
        cluster.destroy()


def test_freshness_counts_the_scheduled_refreshs_failures_since_it_last_worked(
    freshness_cluster,
):
    if not pg_cron_installed(freshness_cluster):
        pytest.skip("pg_cron is not installed here")
    with connect(freshness_cluster, autocommit=True) as conn:
        # The job under its real name, on a schedule that does not fire during the test, and
        # its run history arranged: it worked, then failed twice.
        conn.execute(
            "select cron.unschedule(jobname) from cron.job"
            " where jobname <> 'coachdesk-purge-cron-history'"
        )
        conn.execute("select cron.schedule('coachdesk-refresh-reporting', '0 0 1 1 *', 'select 1')")
        job = conn.execute(
            "select jobid from cron.job where jobname = 'coachdesk-refresh-reporting'"
        ).fetchone()["jobid"]
        for status, minutes_ago in (("failed", 9), ("succeeded", 5), ("failed", 3), ("failed", 1)):
            conn.execute(
                "insert into cron.job_run_details (jobid, runid, database, username, command,"
                " status, return_message, start_time, end_time) values (%s,"
                " nextval('cron.runid_seq'), current_database(), 'postgres', 'select 1', %s,"
                " 'connection failed', now() - make_interval(mins => %s),"
                " now() - make_interval(mins => %s))",
                (job, status, minutes_ago, minutes_ago),
            )
    authenticator = with_dbname(freshness_cluster, "freshness", user="authenticator")
    with connect(authenticator) as conn:
        row = freshness(ApiSession(conn), Seed.claims("trainee"))
    assert row["scheduled"] is True
    assert row["last_run_succeeded"] is False
    assert row["failed_runs"] == 2
    assert "connection failed" not in json.dumps(row, default=str)  # error text stays server-side


def test_the_run_history_is_purged_after_a_week(freshness_cluster):
    if not pg_cron_installed(freshness_cluster):
        pytest.skip("pg_cron is not installed here")
    with connect(freshness_cluster, autocommit=True) as conn:
        (purge,) = conn.execute(
            "select command from cron.job where jobname = 'coachdesk-purge-cron-history'"
        ).fetchall()
        job = conn.execute("select min(jobid) as j from cron.job").fetchone()["j"]
        for days_ago in (30, 8, 6, 0):
            conn.execute(
                "insert into cron.job_run_details (jobid, runid, database, username, command,"
                " status, start_time, end_time) values (%s, nextval('cron.runid_seq'),"
                " current_database(), 'postgres', 'select 1', 'succeeded',"
                " now() - make_interval(days => %s), now() - make_interval(days => %s))",
                (job, days_ago, days_ago),
            )
        conn.execute(purge["command"])  # what the job runs, as it runs it
        ages = conn.execute(
            "select extract(day from now() - end_time)::int as days"
            " from cron.job_run_details order by end_time"
        ).fetchall()
    assert [row["days"] for row in ages if row["days"] > 1] == [6]
