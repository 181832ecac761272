"""Sync throughput: the engine's bulk push and paged pull vs one request per row, same client.

Against a private local stack (fresh database, demo seed) serving from a process of its own:

- push: a trainee's cache holds COACHDESK_BENCH_PUSH (1,000) recorded attempts, each with a
  transcript. `sync.push` sends them as bulk idempotent upserts; the baseline upserts the same
  kind of rows one request each, storing each answer and removing its outbox entry like the
  engine does. The server scores each attempt just after its upload (the scoring queue, drained
  by the stack's worker while the push goes on): how long until the last one is scored is
  printed too, with what scoring one attempt costs Postgres. The same for a manager's 1,000 new
  assignments (no scoring). Transcript files are one Storage request each on both sides
  (Storage has no batch upload), so they are timed apart as files/s.
- pull: COACHDESK_BENCH_PULL (10,000) attempts change on the server (in 20 transactions); a
  manager's empty cache pulls them with `sync.pull` (pages of 500 by (sync_xid, id)); the
  baseline lists the changed ids, then fetches and stores each row with its own request.
- stall: the longest a Qt event loop on the main thread waits for a 5 ms timer while the engine
  pulls everything again on a worker thread at the app's background priority (target 50 ms),
  next to the same measure while the worker only sleeps (scheduling noise of the machine).
"""

from __future__ import annotations

import multiprocessing
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from app.client.threads import lower_this_thread_priority
from app.transcript import load_sample_transcript
from server.db.cluster import free_port
from server.db.testing import migrated_database
from server.stack.config import StackConfig
from server.stack.runner import StackServer, apply_local_stack_sql
from sync import outbox, uploads
from sync.cache import Cache
from sync.cache_merge import store_server_rows
from sync.cache_records import NewAttempt
from sync.cache_schema import SYNCED_COLUMNS
from sync.client import ServerConfig
from sync.pull import pull
from sync.push import push
from sync.session import Session

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
COLD_CALL = "f0000000-0000-4000-8000-000000000001"
PASSWORD = "coachdesk-demo"
FILES_SAMPLE = 100
TRANSCRIPT = load_sample_transcript()


def _session(server: ServerConfig, email: str) -> Session:
    session = Session(server, remember=False)
    session.sign_in(email, PASSWORD)
    return session


def _record(cache: Cache, count: int) -> None:
    started = datetime.now(UTC) - timedelta(days=1)
    for n in range(count):
        cache.record_attempt(
            NewAttempt(
                org_id=DEMO_ORG,
                user_id=TRAINEE,
                scenario_id=COLD_CALL,
                started_at=started + timedelta(seconds=n),
                ended_at=started + timedelta(seconds=n + 24),
                transcript=TRANSCRIPT,
            )
        )


def _files_already_sent(cache: Cache) -> None:
    """Files are timed on their own (_bench_files); here only rows go."""
    with cache.atomic() as db:
        db.execute("update uploads set state = 'done', content = null")


def _assign(cache: Cache, count: int) -> None:
    for n in range(count):
        cache.create_assignment(
            org_id=DEMO_ORG, scenario_id=COLD_CALL, user_id=TRAINEE, note=f"bench {n}"
        )


def _naive_push(session: Session, cache: Cache) -> int:
    """What the engine does, one request per outbox entry."""
    sent = 0
    for entry in outbox.pending(cache.db, DEMO_ORG, limit=10**9):
        rows = (
            session.client.table(entry.table_name)
            .upsert(entry.payload, on_conflict="id")
            .select(",".join(SYNCED_COLUMNS[entry.table_name]))
            .execute()
            .data
        )
        with cache.atomic() as db:
            store_server_rows(db, entry.table_name, rows)
            outbox.remove(db, [entry.seq])
        sent += 1
    return sent


def _wait_for_scoring(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        while conn.execute("select exists (select from private.scoring_queue)").fetchone()[0]:
            time.sleep(0.01)


def _bench_push(
    server: ServerConfig, dsn: str, email: str, fill: Any, count: int, root: Path
) -> tuple[float, float, float]:
    """(bulk seconds, one-by-one seconds, seconds until the bulk push's rows were all scored)
    to push `count` rows that `fill` queues."""
    session = _session(server, email)
    user_id = session.require_identity().user_id
    name = fill.__name__.strip("_")
    bulk = Cache.open(root / f"push-bulk-{name}", user_id)
    naive = Cache.open(root / f"push-naive-{name}", user_id)
    for cache in (bulk, naive):
        fill(cache, count)
        _files_already_sent(cache)
    start = time.perf_counter()
    result = push(session.client, bulk, DEMO_ORG)
    bulk_s = time.perf_counter() - start
    _wait_for_scoring(dsn)
    scored_s = time.perf_counter() - start
    start = time.perf_counter()
    naive_rows = _naive_push(session, naive)
    naive_s = time.perf_counter() - start
    _wait_for_scoring(dsn)  # the next measure starts with the server idle
    assert result.rows == naive_rows == count
    assert bulk.sync_counts() == naive.sync_counts() == (0, 0)
    bulk.close()
    naive.close()
    return bulk_s, naive_s, scored_s


def _bench_pushes(server: ServerConfig, dsn: str, count: int, root: Path) -> dict[str, float]:
    trainee, manager = "trainee@demo.coachdesk.test", "manager@demo.coachdesk.test"
    bulk_s, naive_s, scored_s = _bench_push(server, dsn, trainee, _record, count, root)
    figures = {
        "push_bulk_s": bulk_s,
        "push_naive_s": naive_s,
        "push_ratio": naive_s / bulk_s,
        "push_scored_s": scored_s,
    }
    bulk_s, naive_s, _ = _bench_push(server, dsn, manager, _assign, count, root)
    figures.update(assign_bulk_s=bulk_s, assign_naive_s=naive_s, assign_ratio=naive_s / bulk_s)
    return figures


def _scoring_ms(dsn: str) -> float:
    """What Postgres alone spends scoring one attempt on arrival (compute_kpis + breakdown)."""
    with psycopg.connect(dsn) as conn:
        start = time.perf_counter()
        conn.execute(
            "select private.score_breakdown(s.rubric, public.compute_kpis(%s, s.rubric), %s, 70) "
            "from scenarios s, generate_series(1, 200) where s.id = %s",
            (Jsonb(TRANSCRIPT), Jsonb(TRANSCRIPT), COLD_CALL),
        )
        return (time.perf_counter() - start) / 200 * 1000


def _bench_files(server: ServerConfig, root: Path) -> dict[str, float]:
    session = _session(server, "trainee@demo.coachdesk.test")
    cache = Cache.open(root / "files", TRAINEE)
    _record(cache, FILES_SAMPLE // 2)  # two transcript files (JSON, TXT) per attempt
    start = time.perf_counter()
    sent, refused = uploads.upload_pending(session.client, cache.db, DEMO_ORG)
    elapsed = time.perf_counter() - start
    assert (sent, refused) == (FILES_SAMPLE, 0)
    cache.close()
    return {"files_per_s": sent / elapsed}


def _change_attempts(dsn: str, count: int) -> None:
    """`count` attempts of the demo org's members change on the server, in 20 transactions."""
    members = [
        "a0000000-0000-4000-8000-000000000001",
        "a0000000-0000-4000-8000-000000000002",
        "a0000000-0000-4000-8000-000000000021",
    ]
    with psycopg.connect(dsn) as conn:
        for batch in range(20):
            conn.execute(
                "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at, "
                "ended_at, duration_seconds, transcript, status, device_id) "
                "select gen_random_uuid(), %s, (%s::uuid[])[1 + g %% 3], %s, "
                "now() - make_interval(mins => g), now() - make_interval(mins => g) + "
                "interval '24 seconds', 24, %s, 'uploaded', 'bench' "
                "from generate_series(1, %s) g",
                (
                    DEMO_ORG,
                    members,
                    COLD_CALL,
                    Jsonb(TRANSCRIPT),
                    count // 20 + (batch < count % 20),
                ),
            )
            conn.commit()


def _naive_pull(session: Session, cache: Cache, since_xid: int) -> int:
    client = session.client
    columns = ",".join(SYNCED_COLUMNS["scenario_attempts"])
    ids: list[str] = []
    while True:  # the list of what changed, paged by id (cheap); then one request per row
        query = client.table("scenario_attempts").select("id").gt("sync_xid", since_xid)
        if ids:
            query = query.gt("id", ids[-1])
        page = query.order("id").limit(1000).execute().data
        ids += [row["id"] for row in page]
        if len(page) < 1000:
            break
    for attempt_id in ids:
        rows = client.table("scenario_attempts").select(columns).eq("id", attempt_id).execute().data
        with cache.atomic() as db:
            store_server_rows(db, "scenario_attempts", rows)
    return len(ids)


def _bench_pull(server: ServerConfig, dsn: str, count: int, root: Path) -> dict[str, float]:
    session = _session(server, "manager@demo.coachdesk.test")
    manager_id = session.require_identity().user_id
    bulk, naive = (
        Cache.open(root / "pull-bulk", manager_id),
        Cache.open(root / "pull-naive", manager_id),
    )
    pull(session.client, bulk, DEMO_ORG)  # catch up with the seed first
    with psycopg.connect(dsn) as conn:
        since = conn.execute("select max(sync_xid) from scenario_attempts").fetchone()[0]
    _change_attempts(dsn, count)
    _wait_for_scoring(dsn)  # scored once, before either side pulls
    start = time.perf_counter()
    result = pull(session.client, bulk, DEMO_ORG)
    bulk_s = time.perf_counter() - start
    start = time.perf_counter()
    naive_rows = _naive_pull(session, naive, since)
    naive_s = time.perf_counter() - start
    assert result.rows["scenario_attempts"] == naive_rows == count, (result.rows, naive_rows)
    figures = {"pull_bulk_s": bulk_s, "pull_naive_s": naive_s, "pull_ratio": naive_s / bulk_s}
    figures.update(_bench_stall(session, root / "pull-stall", manager_id))
    bulk.close()
    naive.close()
    return figures


def _bench_stall(session: Session, data_dir: Path, user_id: str) -> dict[str, float]:
    """Longest lateness of a 5 ms Qt timer on the main thread's event loop while a worker thread
    pulls (at the app's background priority), and while a worker only sleeps for as long (the
    machine's own noise, for comparison)."""

    def pulling() -> Any:
        # As the app's owner thread does (sync/owner.py): it opens the cache it uses, at the
        # app's background priority.
        lower_this_thread_priority()
        cache = Cache.open(data_dir, user_id)
        try:
            return pull(session.client, cache, DEMO_ORG)
        finally:
            cache.close()

    worst, took, result = _qt_lateness(pulling)
    idle, _, _ = _qt_lateness(lambda: time.sleep(took))
    return {"stall_ms": worst * 1000, "idle_ms": idle * 1000, "stall_rows": float(result.total)}


_QT_APP: Any = None  # one per process, kept alive between measures


def _qt_lateness(work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(longest lateness of a 5 ms beat in seconds, seconds `work` took, its result), `work`
    running on a thread of its own while a Qt event loop beats on this one."""
    from PySide6.QtCore import QCoreApplication, QEventLoop, Qt, QTimer

    global _QT_APP
    _QT_APP = QCoreApplication.instance() or QCoreApplication([])
    done: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: done.setdefault("result", work()))
    loop = QEventLoop()
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(5)
    worst = 0.0
    last = time.perf_counter()

    def beat() -> None:
        nonlocal worst, last
        now = time.perf_counter()
        worst = max(worst, now - last - 0.005)
        last = now
        if not worker.is_alive():
            loop.quit()

    timer.timeout.connect(beat)
    start = time.perf_counter()
    worker.start()
    timer.start()
    loop.exec()
    timer.stop()
    worker.join()
    return worst, time.perf_counter() - start, done["result"]


def _serve(config: StackConfig, stop: Any) -> None:
    """The stack in a process of its own, as in real use: it must not share the client's GIL."""
    with StackServer(config):
        stop.wait()


@contextmanager
def _stack_process(config: StackConfig) -> Iterator[None]:
    context = multiprocessing.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=_serve, args=(config, stop), daemon=True)
    process.start()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{config.url}/auth/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not process.is_alive():
                raise RuntimeError("the local stack did not start")
            time.sleep(0.1)
        yield
    finally:
        stop.set()
        process.join(30)


def run(push_count: int, pull_count: int) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="coachdesk-bench-sync-"))
    with migrated_database(seed=True) as dsn:
        apply_local_stack_sql(dsn)
        config = StackConfig.for_data_dir(dsn, root / "stack", port=free_port())
        with _stack_process(config):
            server = ServerConfig(config.url, config.anon_key)
            figures = _bench_pushes(server, dsn, push_count, root)
            figures["scoring_ms"] = _scoring_ms(dsn)
            figures.update(_bench_files(server, root))
            figures.update(_bench_pull(server, dsn, pull_count, root))
    return figures


def main() -> None:
    push_count = int(os.environ.get("COACHDESK_BENCH_PUSH", "1000"))
    pull_count = int(os.environ.get("COACHDESK_BENCH_PULL", "10000"))
    figures = run(push_count, pull_count)
    print("== sync: engine (bulk, paged) vs one request per row, same client ==")
    print(
        f"push {push_count} attempts: {figures['push_bulk_s']:.2f} s bulk, "
        f"{figures['push_naive_s']:.2f} s one by one, ratio {figures['push_ratio']:.1f}x "
        "(target >= 10x)"
    )
    print(
        f"  all {push_count} scored by the server {figures['push_scored_s']:.2f} s after the bulk "
        f"push began (scoring: {figures['scoring_ms']:.1f} ms of Postgres per attempt, queued "
        "at upload and drained by the stack's worker)"
    )
    print(
        f"push {push_count} assignments: {figures['assign_bulk_s']:.2f} s bulk, "
        f"{figures['assign_naive_s']:.2f} s one by one, ratio {figures['assign_ratio']:.1f}x"
    )
    print(f"transcript files: {figures['files_per_s']:.0f} files/s (one request each)")
    print(
        f"pull {pull_count} changed attempts: {figures['pull_bulk_s']:.2f} s paged, "
        f"{figures['pull_naive_s']:.2f} s one by one, ratio {figures['pull_ratio']:.1f}x "
        "(target >= 10x)"
    )
    print(
        f"longest Qt event-loop stall while a worker pulled {figures['stall_rows']:.0f} rows: "
        f"{figures['stall_ms']:.1f} ms (target < 50 ms; {figures['idle_ms']:.1f} ms with the "
        "worker idle, the machine's own noise)"
    )


if __name__ == "__main__":
    main()
