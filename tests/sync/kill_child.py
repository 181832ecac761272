"""A sync process for test_kill.py to SIGKILL: sign in, record attempts, sync until done.

Usage: kill_child.py <json: url, anon_key, email, password, data_dir, recording, count, log>
Prints "ready" once signed in; appends each attempt id to `log` (fsync'd) after it is saved.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from sync.cache import Cache, NewAttempt
from sync.client import ServerConfig
from sync.engine import Phase, SyncEngine
from sync.session import Session

TRANSCRIPT = {
    "version": 1,
    "turns": [
        {"speaker": "persona", "start": 0.0, "end": 2.0, "text": "Dana speaking. Who is this?"},
        {"speaker": "rep", "start": 2.5, "end": 9.0, "text": "Hi Dana, how do you onboard today?"},
    ],
}
COLD_CALL = "f0000000-0000-4000-8000-000000000001"


def main() -> None:
    args = json.loads(sys.argv[1])
    # stdout carries "ready"/"synced" to the parent; logs go to stderr.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    session = Session(ServerConfig(args["url"], args["anon_key"]), remember=False)
    identity = session.sign_in(args["email"], args["password"])
    data_dir = Path(args["data_dir"])
    cache = Cache.open(data_dir, identity.user_id)
    print("ready", flush=True)
    with open(args["log"], "a") as log:
        for _ in range(args["count"]):
            attempt_id = str(uuid.uuid4())
            recording = data_dir / "recordings" / f"{attempt_id}.flac"
            recording.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(args["recording"], recording)
            started = datetime.now(UTC) - timedelta(minutes=5)
            cache.record_attempt(
                NewAttempt(
                    id=attempt_id,
                    org_id=str(identity.org_id),
                    user_id=identity.user_id,
                    scenario_id=COLD_CALL,
                    started_at=started,
                    ended_at=started + timedelta(seconds=9),
                    transcript=TRANSCRIPT,
                    recording=recording,
                    provisional_breakdown={"score": 50, "passed": False},
                )
            )
            log.write(attempt_id + "\n")
            log.flush()
            os.fsync(log.fileno())
    # Small pages and batches: many commits, so a kill can land between any two of them.
    engine = SyncEngine(session, cache, page_rows=3, batch_rows=2)
    for _ in range(50):
        status = engine.run_once()
        if status.phase is Phase.IDLE and status.pending == 0:
            print("synced", flush=True)
            return
    sys.exit(f"did not finish syncing: {status}")


if __name__ == "__main__":
    main()
