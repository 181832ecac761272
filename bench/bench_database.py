"""Database at scale: score_attempt, refresh_reporting, the leaderboard read, and RLS overhead.

Loads COACHDESK_BENCH_ORGS orgs (default 100) × COACHDESK_BENCH_ATTEMPTS_PER_ORG attempts
(default 10,000: one million in all) into a fresh migrated database on the project's private
cluster, then measures:
  * score_attempt p50/p95 as a manager of the attempt's org (the real path: RLS helpers,
    compute_kpis, rubric, write);
  * refresh_reporting: the first full load and an incremental run after 1,000 new attempts;
  * the month leaderboard read through its org-scoped accessor;
  * the same queries as `authenticated` under RLS vs as `service_role` with the org filter
    written out (ratio; target ≤ 1.3×), alternating in one process;
  * HR's reports (completion by assignment, team and track, the overdue list, score bands) as
    each org's HR with real claims, p50/p95, against `leaderboard_month()` taken in turn with
    them on the same connection as the baseline (target: p95 ≤ 100 ms each).
Each org also gets TEAMS_PER_ORG teams (every member in one), two tracks and
ASSIGNMENTS_PER_ORG assignments (to teams, tracks and single people, half of them past due).
Bulk loading switches off triggers (session_replication_role = replica) and writes the values
they would have written, so the load takes a minute instead of an hour.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg.rows import dict_row

from server.db.testing import migrated_database, with_dbname

DEMO_SCENARIO = "f0000000-0000-4000-8000-000000000001"
USERS_PER_ORG = 20
SCENARIOS_PER_ORG = 5
TRANSCRIPT_SHARE = 0.01  # attempts that carry a full transcript (the ones score_attempt reruns)
HR_USER = USERS_PER_ORG  # each org's last member is its hr
TEAMS_PER_ORG = 4
ASSIGNMENTS_PER_ORG = 16  # 4 to teams, 2 tracks to teams, 10 to single people
REPORT_P95_TARGET_MS = 100.0
REPORTS = (
    "assignment_completion",
    "team_completion",
    "track_completion",
    "overdue_assignments",
    "scenario_score_distribution",
)

# The queries a manager's review pane runs, with the RLS version and the explicit-org version.
QUERIES = {
    "latest attempts": (
        "select id, user_id, scenario_id, score, started_at from public.scenario_attempts"
        " where started_at > now() - interval '30 days' and score >= 60"
        " order by started_at desc limit 50",
        "select id, user_id, scenario_id, score, started_at from public.scenario_attempts"
        " where org_id = %(org)s and started_at > now() - interval '30 days' and score >= 60"
        " order by started_at desc limit 50",
    ),
    "score by scenario": (
        "select scenario_id, count(*), round(avg(score), 2) from public.scenario_attempts"
        " where started_at > now() - interval '90 days' group by scenario_id order by 1",
        "select scenario_id, count(*), round(avg(score), 2) from public.scenario_attempts"
        " where org_id = %(org)s and started_at > now() - interval '90 days'"
        " group by scenario_id order by 1",
    ),
    "one trainee's history": (
        "select id, score, started_at from public.scenario_attempts"
        " where user_id = %(user)s order by started_at desc limit 20",
        "select id, score, started_at from public.scenario_attempts"
        " where org_id = %(org)s and user_id = %(user)s order by started_at desc limit 20",
    ),
}

REFRESH = "select public.refresh_reporting()"
LEADERBOARD = "select * from public.leaderboard_month()"
LOAD_SQL = """
set local session_replication_role = replica;
insert into public.orgs (id, name, slug, plan)
select ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid, 'Bench org ' || o,
       'bench-' || o, 'team'
from generate_series(1, %(orgs)s) o;
insert into auth.users (id, email)
select ('c' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(u::text, 12, '0'))::uuid,
       'user' || u || '@org' || o || '.bench.test'
from generate_series(1, %(orgs)s) o, generate_series(1, %(users)s) u;
insert into public.org_members (org_id, user_id, role, display_name)
select ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid,
       ('c' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(u::text, 12, '0'))::uuid,
       (case when u = 1 then 'manager' when u = %(users)s then 'hr' else 'trainee' end)
         ::public.org_role, 'Rep ' || u
from generate_series(1, %(orgs)s) o, generate_series(1, %(users)s) u;
insert into public.scenarios (id, lineage_id, org_id, title, persona, difficulty, branching,
                              rubric, status)
select ('e' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(s::text, 12, '0'))::uuid,
       ('e' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(s::text, 12, '0'))::uuid,
       ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid,
       d.title || ' #' || s, d.persona, d.difficulty, d.branching, d.rubric, 'published'
from generate_series(1, %(orgs)s) o, generate_series(1, %(scenarios)s) s,
     public.scenarios d where d.id = %(demo_scenario)s;
insert into public.teams (id, org_id, name)
select ('d' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid,
       ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid, 'Team ' || t
from generate_series(1, %(orgs)s) o, generate_series(1, %(teams)s) t;
insert into public.team_members (org_id, team_id, user_id)
select ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid,
       ('d' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
        || lpad((1 + u %% %(teams)s)::text, 12, '0'))::uuid,
       ('c' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(u::text, 12, '0'))::uuid
from generate_series(1, %(orgs)s) o, generate_series(1, %(users)s) u;
insert into public.tracks (id, org_id, title, status)
select ('a' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(t::text, 12, '0'))::uuid,
       ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid, 'Track ' || t, 'published'
from generate_series(1, %(orgs)s) o, generate_series(1, 2) t;
insert into public.track_scenarios (org_id, track_id, scenario_id, position)
select ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid,
       ('a' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
        || lpad((case when s <= 3 then 1 else 2 end)::text, 12, '0'))::uuid,
       ('e' || lpad(o::text, 7, '0') || '-0000-4000-8000-' || lpad(s::text, 12, '0'))::uuid,
       case when s <= 3 then s else s - 3 end
from generate_series(1, %(orgs)s) o, generate_series(1, %(scenarios)s) s;
insert into public.assignments (org_id, scenario_id, track_id, user_id, team_id, due_at,
                                required_score, max_attempts)
select org_id,
       case when i > 4 and i <= 6 then null
            else ('e' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
                  || lpad((1 + i %% %(scenarios)s)::text, 12, '0'))::uuid end,
       case when i > 4 and i <= 6
            then ('a' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
                  || lpad((i - 4)::text, 12, '0'))::uuid end,
       case when i > 6
            then ('c' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
                  || lpad((1 + i %% %(users)s)::text, 12, '0'))::uuid end,
       case when i <= 6
            then ('d' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
                  || lpad((1 + i %% %(teams)s)::text, 12, '0'))::uuid end,
       now() + (case when i %% 2 = 0 then -1 else 1 end) * i * interval '1 day',
       case when i %% 3 = 0 then 90 end,
       case when i %% 5 = 0 then 3 end
from (select o, ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid as org_id, i
      from generate_series(1, %(orgs)s) o, generate_series(1, %(assignments)s) i) numbered;
insert into public.scenario_attempts
  (id, org_id, user_id, scenario_id, started_at, ended_at, duration_seconds, transcript, kpis,
   score, score_breakdown, status, scored_at, sync_xid)
select gen_random_uuid(), org_id, user_id, scenario_id, started, started + duration,
       extract(epoch from duration),
       case when random() < %(transcript_share)s then %(transcript)s::jsonb end,
       jsonb_build_object('talk_ratio', round((0.3 + random() * 0.5)::numeric, 3),
                          'words_per_minute', round((110 + random() * 80)::numeric, 1),
                          'filler_words_per_minute', round((random() * 8)::numeric, 2),
                          'questions_asked', floor(random() * 12)::int),
       round((35 + random() * 65)::numeric, 2), '{}'::jsonb, 'scored', started + duration,
       pg_current_xact_id()::text::bigint
from (
  select ('b0000000-0000-4000-8000-' || lpad(o::text, 12, '0'))::uuid as org_id,
         ('c' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
          || lpad((1 + floor(random() * %(users)s))::int::text, 12, '0'))::uuid as user_id,
         ('e' || lpad(o::text, 7, '0') || '-0000-4000-8000-'
          || lpad((1 + floor(random() * %(scenarios)s))::int::text, 12, '0'))::uuid as scenario_id,
         now() - random() * interval '180 days' as started,
         (120 + random() * 600) * interval '1 second' as duration
  from generate_series(1, %(orgs)s) o, generate_series(1, %(per_org)s) a
) generated;
"""


def _org(index: int) -> str:
    return f"b0000000-0000-4000-8000-{index:012d}"


def _user(org_index: int, user_index: int) -> str:
    return f"c{org_index:07d}-0000-4000-8000-{user_index:012d}"


def _claims(org_index: int, user_index: int, role: str) -> str:
    return json.dumps(
        {
            "sub": _user(org_index, user_index),
            "role": "authenticated",
            "org_id": _org(org_index),
            "org_role": role,
        }
    )


def _percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def load(dsn: str, orgs: int, per_org: int) -> float:
    with psycopg.connect(dsn, autocommit=True) as conn:
        transcript = conn.execute(
            "select transcript from public.scenario_attempts where transcript is not null"
            " order by jsonb_array_length(transcript -> 'turns') desc limit 1"
        ).fetchone()
        assert transcript is not None, "the demo seed has attempts with transcripts"
        params = {
            "orgs": orgs,
            "users": USERS_PER_ORG,
            "scenarios": SCENARIOS_PER_ORG,
            "per_org": per_org,
            "teams": TEAMS_PER_ORG,
            "assignments": ASSIGNMENTS_PER_ORG,
            "demo_scenario": DEMO_SCENARIO,
            "transcript_share": TRANSCRIPT_SHARE,
            "transcript": json.dumps(transcript[0]),
        }
        start = time.perf_counter()
        with conn.transaction():
            for statement in filter(str.strip, LOAD_SQL.split(";")):
                conn.execute(statement, params if "%(" in statement else None)
        seconds = time.perf_counter() - start
        conn.execute("vacuum analyze")
    return seconds


def _as_manager(conn: psycopg.Connection, org_index: int) -> None:
    _as_member(conn, org_index, 1, "manager")


def _as_member(conn: psycopg.Connection, org_index: int, user_index: int, role: str) -> None:
    conn.execute("set local role authenticated")
    conn.execute(
        "select set_config('request.jwt.claims', %s, true)",
        (_claims(org_index, user_index, role),),
    )


def bench_scoring(api_dsn: str, admin_dsn: str, calls: int) -> dict[str, float]:
    with psycopg.connect(admin_dsn) as admin:
        rows = admin.execute(
            "select id, org_id from public.scenario_attempts"
            " where transcript is not null and org_id::text like 'b0000000%%'"
            " order by random() limit %s",
            (calls,),
        ).fetchall()
    samples = []
    with psycopg.connect(api_dsn) as conn:
        for attempt_id, org_id in rows:
            org_index = int(str(org_id).rsplit("-", 1)[1])
            _as_manager(conn, org_index)
            samples.append(
                _timed(lambda a=attempt_id: conn.execute("select public.score_attempt(%s)", (a,)))
            )
            conn.commit()
    return {
        "score_p50_ms": statistics.median(samples) * 1000,
        "score_p95_ms": _percentile(samples, 0.95) * 1000,
        "score_calls": len(samples),
    }


def _has_function(conn: psycopg.Connection, signature: str) -> bool:
    row = conn.execute("select to_regprocedure(%s) is not null", (signature,)).fetchone()
    return bool(row and row[0])


def bench_reporting(api_dsn: str, admin_dsn: str, orgs: int) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        if not _has_function(admin, "public.refresh_reporting()"):
            return {"reporting": "refresh_reporting() is not in this schema"}
        admin.execute("set role service_role")
        figures["refresh_full_s"] = _timed(lambda: admin.execute(REFRESH))
        admin.execute("reset role")
        _add_attempts(admin, orgs, 1000)
        admin.execute("set role service_role")
        figures["refresh_incremental_1000_s"] = _timed(lambda: admin.execute(REFRESH))
        figures["refresh_noop_s"] = _timed(lambda: admin.execute(REFRESH))
        admin.execute("reset role")
    if _has_function_dsn(admin_dsn, "public.leaderboard_month(date,uuid)"):
        samples = []
        with psycopg.connect(api_dsn) as conn:
            for round_ in range(50):
                org_index = 1 + round_ % orgs
                _as_manager(conn, org_index)
                samples.append(
                    _timed(
                        lambda: conn.execute("select * from public.leaderboard_month()").fetchall()
                    )
                )
                conn.rollback()
        figures["leaderboard_p50_ms"] = statistics.median(samples) * 1000
        figures["leaderboard_p95_ms"] = _percentile(samples, 0.95) * 1000
    return figures


def _has_function_dsn(dsn: str, signature: str) -> bool:
    with psycopg.connect(dsn) as conn:
        return _has_function(conn, signature)


def _add_attempts(conn: psycopg.Connection, orgs: int, count: int) -> None:
    """New scored attempts written the normal way (triggers on), spread over the orgs."""
    conn.execute(
        """
        insert into public.scenario_attempts
          (id, org_id, user_id, scenario_id, started_at, ended_at, duration_seconds, status)
        select gen_random_uuid(), org_id, user_id, scenario_id, started,
               started + interval '5 minutes', 300, 'recorded'
        from (
          select ('b0000000-0000-4000-8000-'
                  || lpad((1 + i %% %(orgs)s)::text, 12, '0'))::uuid as org_id,
                 ('c' || lpad((1 + i %% %(orgs)s)::text, 7, '0') || '-0000-4000-8000-'
                  || lpad((2 + i %% (%(users)s - 1))::text, 12, '0'))::uuid as user_id,
                 ('e' || lpad((1 + i %% %(orgs)s)::text, 7, '0') || '-0000-4000-8000-'
                  || lpad((1 + i %% %(scenarios)s)::text, 12, '0'))::uuid as scenario_id,
                 now() - interval '1 hour' as started
          from generate_series(1, %(count)s) i
        ) generated
        """,
        {"orgs": orgs, "users": USERS_PER_ORG, "scenarios": SCENARIOS_PER_ORG, "count": count},
    )
    conn.execute(
        "update public.scenario_attempts set score = 75, status = 'scored', kpis = '{}'::jsonb,"
        " score_breakdown = '{}'::jsonb, scored_at = now()"
        " where status = 'recorded' and org_id::text like 'b0000000%%'"
    )


def _timed_query(conn: psycopg.Connection, sql: str, params: dict[str, str]) -> tuple[float, list]:
    start = time.perf_counter()
    rows = conn.execute(sql, params).fetchall()
    return time.perf_counter() - start, rows


def bench_rls_ratio(api_dsn: str, admin_dsn: str, orgs: int, rounds: int) -> dict[str, Any]:
    """Each query as the org's manager under RLS and as service_role with the org spelled out;
    the org changes every round, so each round first reads the org's pages once untimed, and
    the two sides take turns going first, so neither gets the other's warm cache. Results
    must be identical."""
    ratios: dict[str, Any] = {}
    with psycopg.connect(api_dsn) as rls, psycopg.connect(admin_dsn) as service:

        def as_rls(sql: str, params: dict[str, str], org_index: int) -> tuple[float, list]:
            _as_manager(rls, org_index)
            try:
                return _timed_query(rls, sql, params)
            finally:
                rls.rollback()

        def as_service(sql: str, params: dict[str, str]) -> tuple[float, list]:
            service.execute("set local role service_role")
            try:
                return _timed_query(service, sql, params)
            finally:
                service.rollback()

        for label, (rls_sql, service_sql) in QUERIES.items():
            rls_samples, service_samples = [], []
            for round_ in range(rounds):
                org_index = 1 + round_ % orgs
                params = {"org": _org(org_index), "user": _user(org_index, 2)}
                as_service(service_sql, params)  # warm this org's pages
                if round_ % 2:
                    rls_time, seen = as_rls(rls_sql, params, org_index)
                    service_time, expected = as_service(service_sql, params)
                else:
                    service_time, expected = as_service(service_sql, params)
                    rls_time, seen = as_rls(rls_sql, params, org_index)
                if seen != expected:
                    raise AssertionError(f"{label}: RLS and service_role answers differ")
                rls_samples.append(rls_time)
                service_samples.append(service_time)
            rls_ms = statistics.median(rls_samples) * 1000
            service_ms = statistics.median(service_samples) * 1000
            ratios[label] = (rls_ms, service_ms, rls_ms / service_ms)
    return ratios


def bench_reports(api_dsn: str, orgs: int, rounds: int) -> dict[str, Any]:
    """Each report as an org's HR (real claims, the accessor's checks) and, in turn on the same
    connection, the baseline leaderboard_month(); the org changes every round and each round
    first runs both once untimed, so neither side reads pages the other warmed for it."""
    baseline = "select * from public.leaderboard_month()"
    figures: dict[str, Any] = {}
    with psycopg.connect(api_dsn) as conn:

        def timed(sql: str, org_index: int) -> tuple[float, int]:
            _as_member(conn, org_index, HR_USER, "hr")
            try:
                elapsed, rows = _timed_query(conn, sql, {})
                return elapsed, len(rows)
            finally:
                conn.rollback()

        for name in REPORTS:
            sql = f"select * from public.{name}()"
            samples, base, sizes = [], [], []
            for round_ in range(rounds):
                org_index = 1 + round_ % orgs
                timed(sql, org_index)
                timed(baseline, org_index)
                order = (sql, baseline) if round_ % 2 else (baseline, sql)
                for query in order:
                    elapsed, size = timed(query, org_index)
                    if query == sql:
                        samples.append(elapsed)
                        sizes.append(size)
                    else:
                        base.append(elapsed)
            figures[name] = {
                "p50_ms": statistics.median(samples) * 1000,
                "p95_ms": _percentile(samples, 0.95) * 1000,
                "baseline_p50_ms": statistics.median(base) * 1000,
                "baseline_p95_ms": _percentile(base, 0.95) * 1000,
                "rows": statistics.median(sizes),
            }
    return figures


def run(orgs: int, per_org: int, score_calls: int, rounds: int) -> dict[str, Any]:
    with migrated_database(seed=True) as dsn:
        api_dsn = with_dbname(
            dsn, psycopg.conninfo.conninfo_to_dict(dsn)["dbname"], user="authenticator"
        )
        figures: dict[str, Any] = {"attempts": orgs * per_org, "orgs": orgs}
        figures["load_s"] = load(dsn, orgs, per_org)
        figures.update(bench_scoring(api_dsn, dsn, score_calls))
        figures["rls"] = bench_rls_ratio(api_dsn, dsn, orgs, rounds)
        figures.update(bench_reporting(api_dsn, dsn, orgs))
        if _has_function_dsn(dsn, "public.assignment_completion()"):
            figures["reports"] = bench_reports(api_dsn, orgs, rounds)
        with psycopg.connect(dsn, row_factory=dict_row) as conn:
            figures["db_size"] = conn.execute(
                "select pg_size_pretty(pg_database_size(current_database())) as size"
            ).fetchone()["size"]
    return figures


def main() -> None:
    orgs = int(os.environ.get("COACHDESK_BENCH_ORGS", "100"))
    per_org = int(os.environ.get("COACHDESK_BENCH_ATTEMPTS_PER_ORG", "10000"))
    score_calls = int(os.environ.get("COACHDESK_BENCH_SCORE_CALLS", "200"))
    rounds = int(os.environ.get("COACHDESK_BENCH_RLS_ROUNDS", "100"))
    figures = run(orgs, per_org, score_calls, rounds)
    print(f"== database: {figures['orgs']} orgs, {figures['attempts']:,} attempts ==")
    print(f"bulk load: {figures['load_s']:.1f} s, database size {figures['db_size']}")
    print(
        f"score_attempt as manager ({figures['score_calls']} calls): "
        f"p50 {figures['score_p50_ms']:.1f} ms, p95 {figures['score_p95_ms']:.1f} ms"
    )
    for label, (rls_ms, service_ms, ratio) in figures["rls"].items():
        print(
            f"{label}: {rls_ms:.2f} ms under RLS, {service_ms:.2f} ms as service_role, "
            f"ratio {ratio:.2f}x (target <= 1.3x)"
        )
    if "reporting" in figures:
        print(figures["reporting"])
    else:
        print(
            f"refresh_reporting: full {figures['refresh_full_s']:.1f} s, after 1,000 new attempts "
            f"{figures['refresh_incremental_1000_s']:.2f} s, with nothing new "
            f"{figures['refresh_noop_s']:.2f} s"
        )
        if "leaderboard_p50_ms" in figures:
            print(
                f"leaderboard_month(): p50 {figures['leaderboard_p50_ms']:.1f} ms, "
                f"p95 {figures['leaderboard_p95_ms']:.1f} ms"
            )
    for name, report in figures.get("reports", {}).items():
        verdict = "meets" if report["p95_ms"] <= REPORT_P95_TARGET_MS else "MISSES"
        print(
            f"{name}() as hr ({report['rows']:.0f} rows): p50 {report['p50_ms']:.1f} ms, "
            f"p95 {report['p95_ms']:.1f} ms; baseline leaderboard_month() p50 "
            f"{report['baseline_p50_ms']:.1f} ms, p95 {report['baseline_p95_ms']:.1f} ms; "
            f"ratio p50 {report['p50_ms'] / report['baseline_p50_ms']:.1f}x, "
            f"p95 {report['p95_ms'] / report['baseline_p95_ms']:.1f}x - {verdict} the "
            f"{REPORT_P95_TARGET_MS:.0f} ms p95 target"
        )


if __name__ == "__main__":
    main()
