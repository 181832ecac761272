"""Webhook dispatcher: deliveries per second with 1 and 2 workers, and the queue while a receiver
is slow for a minute.

Workers run as separate processes (`run_worker`, stopped with SIGTERM like `coachdesk worker`)
against a private Postgres; the receiver (server/webhooks/testing.py) runs in this process on
127.0.0.1 and verifies every signature. Throughput is the time from the first claim to the last
recorded success for a pre-filled queue, median of 3 alternating runs; the 2-worker figure is
printed as a ratio to 1 worker measured in the same run, with the workers' CPU per delivery.

Queue test: events arrive at a steady rate; after a normal phase the receiver answers slowly
(within the 15 s timeout) for a minute, then normally again; the backlog (not yet delivered) is
sampled every second. Sizes: COACHDESK_BENCH_DELIVERIES (default 2000),
COACHDESK_BENCH_SLOW_S (the slow minute, default 60), COACHDESK_BENCH_RATE (events/s, default
40), COACHDESK_BENCH_SLOW_DELAY_S (answer time while slow, default 1.0).
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from server.db.testing import migrated_database
from server.webhooks.testing import Receiver, start_receiver
from server.webhooks.worker import run_worker

# One statement for a whole batch of events, each through enqueue_webhook as the app sends them.
ENQUEUE_SQL = (
    "select count(*) from generate_series(1, %s) g,"
    " lateral enqueue_webhook('member.removed', jsonb_build_object('org_id', %s::uuid, 'n', g))"
)
ROUNDS = 3
WORKER_OPTIONS: dict[str, Any] = {"poll_interval_s": 0.05, "concurrency": 16, "batch_size": 16}


def _worker_process(dsn: str, name: str) -> None:
    run_worker(dsn, allow_private_targets=True, worker_id=name, **WORKER_OPTIONS)


class Bench:
    def __init__(self, dsn: str, receiver: Receiver) -> None:
        self.dsn = dsn
        self.conn = psycopg.connect(dsn, autocommit=True)
        slug = f"bench-{uuid.uuid4().hex[:8]}"
        row = self.conn.execute(
            "insert into orgs (name, slug) values (%s, %s) returning id::text", (slug, slug)
        ).fetchone()
        assert row is not None
        self.org = row[0]
        hook = self.conn.execute(
            "insert into webhooks (org_id, url, events) values (%s, 'http://127.0.0.1/x', '{*}')"
            " returning id, secret",
            (self.org,),
        ).fetchone()
        assert hook is not None
        url = receiver.endpoint("/bench", hook[1])
        self.conn.execute("update webhooks set url = %s where id = %s", (url, hook[0]))
        self.receiver = receiver

    def enqueue(self, count: int) -> None:
        self.conn.execute(
            ENQUEUE_SQL,
            (count, self.org),
        )

    def backlog(self) -> int:
        row = self.conn.execute(
            "select count(*) from webhook_deliveries where org_id = %s and status <> 'succeeded'",
            (self.org,),
        ).fetchone()
        return int(row[0]) if row else 0

    def clear(self) -> None:
        self.conn.execute("delete from webhook_deliveries where org_id = %s", (self.org,))

    def workers(self, count: int) -> list[multiprocessing.process.BaseProcess]:
        ctx = multiprocessing.get_context("spawn")
        processes = [
            ctx.Process(target=_worker_process, args=(self.dsn, f"bench-{i}"), daemon=True)
            for i in range(count)
        ]
        for process in processes:
            process.start()
        return processes

    @staticmethod
    def stop(processes: list[multiprocessing.process.BaseProcess]) -> None:
        for process in processes:
            process.terminate()  # SIGTERM: the worker drains and exits
        for process in processes:
            process.join(timeout=30)

    def throughput(self, workers: int, count: int) -> tuple[float, float]:
        """Deliveries per second for a queue of `count` already waiting, and the workers' CPU
        milliseconds per delivery (their processes' user + system time)."""
        self.clear()
        self.enqueue(count)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        processes = self.workers(workers)
        try:
            while self.backlog():
                time.sleep(0.05)
        finally:
            self.stop(processes)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        row = self.conn.execute(
            "select extract(epoch from max(last_attempt_at) - min(last_attempt_at)),"
            " max(attempt_count) from webhook_deliveries where org_id = %s",
            (self.org,),
        ).fetchone()
        assert row is not None
        if row[1] != 1:
            errors = self.conn.execute(
                "select last_error, count(*) from webhook_deliveries where org_id = %s"
                " and attempt_count > 1 group by 1",
                (self.org,),
            ).fetchall()
            print(f"  (retried with {workers} worker(s): {errors})")
        return count / float(row[0]), cpu_s * 1000 / count

    def slow_minute(self, rate: float, slow_s: float, slow_delay: float) -> dict[str, Any]:
        """Backlog over time with events arriving at `rate` while the receiver is slow."""
        self.clear()
        normal_s = slow_s / 2
        arrival_s = normal_s + slow_s + slow_s
        stop_arrivals = threading.Event()
        samples: list[tuple[float, int, str]] = []

        def produce() -> None:
            with psycopg.connect(self.dsn, autocommit=True) as conn:
                start, sent = time.monotonic(), 0
                while not stop_arrivals.is_set():
                    due = int((time.monotonic() - start) * rate) - sent
                    if due > 0:
                        conn.execute(ENQUEUE_SQL, (due, self.org))
                        sent += due
                    time.sleep(0.05)

        processes = self.workers(1)
        producer = threading.Thread(target=produce, daemon=True)
        started = time.monotonic()
        producer.start()
        phase = "normal"
        try:
            while True:
                elapsed = time.monotonic() - started
                if phase == "normal" and elapsed >= normal_s:
                    phase, self.receiver.delay_s = "slow", slow_delay
                elif phase == "slow" and elapsed >= normal_s + slow_s:
                    phase, self.receiver.delay_s = "recovering", 0.0
                if elapsed >= arrival_s and not stop_arrivals.is_set():
                    stop_arrivals.set()
                backlog = self.backlog()
                samples.append((elapsed, backlog, phase))
                if stop_arrivals.is_set() and backlog == 0:
                    break
                if elapsed > arrival_s + 5 * slow_s:
                    break
                time.sleep(1.0)
        finally:
            stop_arrivals.set()
            producer.join()
            self.stop(processes)
        return {
            "samples": samples,
            "normal_s": normal_s,
            "slow_s": slow_s,
            "latency": self._latency(),
        }

    def _latency(self) -> dict[str, float]:
        rows = self.conn.execute(
            "select extract(epoch from last_attempt_at - created_at) from webhook_deliveries"
            " where org_id = %s and status = 'succeeded' order by created_at",
            (self.org,),
        ).fetchall()
        values = sorted(float(r[0]) for r in rows)
        if not values:
            return {}
        return {
            "p50": statistics.median(values),
            "p95": values[int(len(values) * 0.95) - 1],
            "max": values[-1],
        }


def _report_queue(result: dict[str, Any], rate: float) -> None:
    samples: list[tuple[float, int, str]] = result["samples"]
    normal = [b for _, b, p in samples if p == "normal"]
    slow = [b for _, b, p in samples if p == "slow"]
    recovering = [(t, b) for t, b, p in samples if p == "recovering"]
    peak = max(b for _, b, _ in samples)
    recovered_at = next((t for t, b in recovering if b <= max(rate, max(normal or [0]))), None)
    slow_end = result["normal_s"] + result["slow_s"]
    print(f"backlog while normal: median {statistics.median(normal or [0]):.0f}")
    print(f"backlog while slow:   grows to {max(slow or [0])} (peak overall {peak})")
    if recovered_at is None:
        print("backlog did not return to its normal level within the observation window")
    else:
        print(
            f"recovery: back to the normal backlog {recovered_at - slow_end:.1f} s after the"
            " receiver recovered"
        )
    print("timeline (s: backlog):", end="")
    step = max(1, len(samples) // 20)
    for t, b, p in samples[::step]:
        print(f" {t:.0f}{'*' if p == 'slow' else ''}:{b}", end="")
    print("  (* = receiver slow)")
    latency = result["latency"]
    if latency:
        print(
            f"enqueue-to-delivery: p50 {latency['p50']:.2f} s, p95 {latency['p95']:.2f} s,"
            f" max {latency['max']:.2f} s"
        )


def _env(name: str, default: float, cast: Callable[[str], Any] = float) -> Any:
    return cast(os.environ.get(name, str(default)))


def main() -> None:
    count = _env("COACHDESK_BENCH_DELIVERIES", 2000, int)
    slow_s = _env("COACHDESK_BENCH_SLOW_S", 60.0)
    rate = _env("COACHDESK_BENCH_RATE", 40.0)
    slow_delay = _env("COACHDESK_BENCH_SLOW_DELAY_S", 1.0)
    receiver = start_receiver()
    try:
        with migrated_database(seed=False) as dsn:
            bench = Bench(dsn, receiver)
            bench.throughput(1, min(200, count))  # warm up: imports, pools, caches
            # Alternate 1 and 2 workers and take medians: the machine is shared and noisy.
            runs: dict[int, list[tuple[float, float]]] = {1: [], 2: []}
            for _ in range(ROUNDS):
                for workers in (1, 2):
                    runs[workers].append(bench.throughput(workers, count))
            one = statistics.median(rate for rate, _ in runs[1])
            two = statistics.median(rate for rate, _ in runs[2])
            one_cpu = statistics.median(cpu for _, cpu in runs[1])
            two_cpu = statistics.median(cpu for _, cpu in runs[2])
            print(
                f"== webhook dispatcher: {count} deliveries, local receiver, median of {ROUNDS} =="
            )
            print(f"1 worker:  {one:.0f} deliveries/s ({one_cpu:.1f} ms worker CPU each)")
            print(
                f"2 workers: {two:.0f} deliveries/s ({two_cpu:.1f} ms worker CPU each),"
                f" ratio {two / one:.2f}x"
            )
            print(
                f"({os.cpu_count()} CPUs for workers, receiver and Postgres together; the ratio"
                " shows scaling only when cores are left over for the second worker)"
            )
            failed = sum(1 for r in receiver.received if r.error)
            verified = len(receiver.received) - failed
            print(f"receiver verified {verified} signatures, {failed} failed")
            print(
                f"== queue: {rate:.0f} events/s, receiver slow ({slow_delay:g} s answers)"
                f" for {slow_s:.0f} s, 1 worker x {WORKER_OPTIONS['concurrency']} in flight =="
            )
            _report_queue(bench.slow_minute(rate, slow_s, slow_delay), rate)
            bench.conn.close()
    finally:
        receiver.stop()


if __name__ == "__main__":
    main()
