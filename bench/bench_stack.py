"""Local stack overhead: the official `supabase` client over HTTP vs the same SQL over psycopg.

Both sides do the same work per request: one transaction that switches to `authenticated`,
sets the JWT claims and runs the statement, so the ratio is the cost of HTTP, JSON and query
parsing. Runs alternately in one process and prints medians and ratios (machines are noisy).
Sizes: COACHDESK_BENCH_SELECTS (default 300 requests), COACHDESK_BENCH_UPSERTS (default 20).
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from server.db.cluster import free_port
from server.db.testing import migrated_database, with_dbname
from server.stack.config import StackConfig
from server.stack.runner import StackServer, apply_local_stack_sql
from supabase import ClientOptions, create_client

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
MANAGER = "a0000000-0000-4000-8000-000000000003"
COLD_CALL = "f0000000-0000-4000-8000-000000000001"
ROWS = 500
SELECT_SQL = (
    "select id, user_id, score, started_at from public.scenario_attempts"
    " where scenario_id = %s and score >= %s order by started_at desc limit 50"
)
# One statement for the whole batch, as PostgREST itself does it.
UPSERT_SQL = (
    "insert into public.scenario_attempts (id, org_id, user_id, scenario_id, started_at, status)"
    " select id, org_id, user_id, scenario_id, started_at, status from jsonb_to_recordset(%s)"
    " as r(id uuid, org_id uuid, user_id uuid, scenario_id uuid, started_at timestamptz,"
    " status attempt_status)"
    " on conflict (id) do update set started_at = excluded.started_at, status = excluded.status"
)


def _claims(user_id: str) -> str:
    return json.dumps({"sub": user_id, "role": "authenticated", "org_id": DEMO_ORG})


def _timed(action: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        samples.append(time.perf_counter() - start)
    return samples


def _attempt_rows() -> list[dict]:
    return [
        {
            "id": str(uuid.uuid4()),
            "org_id": DEMO_ORG,
            "user_id": TRAINEE,
            "scenario_id": COLD_CALL,
            "started_at": "2026-11-01T10:00:00+00:00",
            "status": "recorded",
        }
        for _ in range(ROWS)
    ]


def _seed_attempts(dsn: str, count: int) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "insert into public.scenario_attempts (id, org_id, user_id, scenario_id, started_at,"
            " status, score) select gen_random_uuid(), %s, %s, %s,"
            " now() - make_interval(mins => g), 'recorded', null from generate_series(1, %s) g",
            (DEMO_ORG, TRAINEE, COLD_CALL, count),
        )
        # Scores are server-written; give half the rows one so the filter selects something.
        conn.execute("update public.scenario_attempts set score = (random() * 100)::numeric(5,2)")
        conn.execute("analyze public.scenario_attempts")


def run(selects: int, upserts: int) -> dict[str, float]:
    with migrated_database(seed=True) as dsn:
        apply_local_stack_sql(dsn)
        _seed_attempts(dsn, 5_000)
        data_dir = Path(tempfile.mkdtemp(prefix="coachdesk-bench-stack-"))
        config = StackConfig.for_data_dir(dsn, data_dir, port=free_port())
        with (
            StackServer(config),
            psycopg.connect(with_dbname(dsn, _dbname(dsn), user="authenticator")) as direct,
        ):
            client = create_client(
                config.url, config.anon_key, ClientOptions(auto_refresh_token=False)
            )
            client.auth.sign_in_with_password(
                {"email": "manager@demo.coachdesk.test", "password": "coachdesk-demo"}
            )
            trainee = create_client(
                config.url, config.anon_key, ClientOptions(auto_refresh_token=False)
            )
            trainee.auth.sign_in_with_password(
                {"email": "trainee@demo.coachdesk.test", "password": "coachdesk-demo"}
            )

            def http_select() -> object:
                return (
                    client.table("scenario_attempts")
                    .select("id,user_id,score,started_at")
                    .eq("scenario_id", COLD_CALL)
                    .gte("score", 50)
                    .order("started_at", desc=True)
                    .limit(50)
                    .execute()
                )

            def sql_select() -> object:
                with direct.transaction():
                    direct.execute("set local role authenticated")
                    direct.execute(
                        "select set_config('request.jwt.claims', %s, true)", (_claims(MANAGER),)
                    )
                    return direct.execute(SELECT_SQL, (COLD_CALL, 50)).fetchall()

            rows = _attempt_rows()

            def http_upsert() -> object:
                return trainee.table("scenario_attempts").upsert(rows).execute()

            def sql_upsert() -> object:
                with direct.transaction():
                    direct.execute("set local role authenticated")
                    direct.execute(
                        "select set_config('request.jwt.claims', %s, true)", (_claims(TRAINEE),)
                    )
                    direct.execute(UPSERT_SQL, (Jsonb(rows),))

            http_select(), sql_select(), http_upsert(), sql_upsert()  # warm caches and pools
            select_http, select_sql, upsert_http, upsert_sql = [], [], [], []
            for _ in range(5):
                select_http += _timed(http_select, selects // 5)
                select_sql += _timed(sql_select, selects // 5)
                upsert_http += _timed(http_upsert, max(1, upserts // 5))
                upsert_sql += _timed(sql_upsert, max(1, upserts // 5))
    return {
        "select_http_rps": 1 / statistics.median(select_http),
        "select_sql_rps": 1 / statistics.median(select_sql),
        "select_ratio": statistics.median(select_http) / statistics.median(select_sql),
        "upsert500_http_s": statistics.median(upsert_http),
        "upsert500_sql_s": statistics.median(upsert_sql),
        "upsert_ratio": statistics.median(upsert_http) / statistics.median(upsert_sql),
    }


def _dbname(dsn: str) -> str:
    return psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]


def main() -> None:
    selects = int(os.environ.get("COACHDESK_BENCH_SELECTS", "300"))
    upserts = int(os.environ.get("COACHDESK_BENCH_UPSERTS", "20"))
    figures = run(selects, upserts)
    print("== local stack vs direct psycopg (same transaction shape) ==")
    print(
        f"filtered select: {figures['select_http_rps']:.0f} req/s over HTTP, "
        f"{figures['select_sql_rps']:.0f} req/s direct, ratio {figures['select_ratio']:.2f}x"
    )
    print(
        f"500-row upsert:  {figures['upsert500_http_s'] * 1000:.0f} ms over HTTP, "
        f"{figures['upsert500_sql_s'] * 1000:.0f} ms direct, ratio {figures['upsert_ratio']:.2f}x"
    )


if __name__ == "__main__":
    main()
