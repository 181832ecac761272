"""The `coachdesk` command: the desktop app by default, plus headless tools for support and CI."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from app.logs import configure_logging


def _db_command(args: argparse.Namespace) -> int:
    from server.db.local import LocalDatabase

    db = LocalDatabase.default()
    if args.action == "start":
        applied = db.start()
        print(f"database running: {db.dsn()}")
        if applied:
            print(f"applied {len(applied)} migration(s)")
    elif args.action == "stop":
        db.stop()
        print("database stopped")
    elif args.action == "status":
        print(f"{'running' if db.running() else 'stopped'}: {db.dsn()}")
    elif args.action == "reset":
        db.reset()
        print("database removed; the next start re-creates and re-seeds it")
    return 0


def _run_command(_args: argparse.Namespace) -> int:
    from server.db.local import LocalDatabase

    db = LocalDatabase.default()
    db.start()
    print(f"Coachdesk local database is running: {db.dsn()}")
    print(
        "Demo accounts (password 'coachdesk-demo'): trainee@demo.coachdesk.test, "
        "manager@demo.coachdesk.test, admin@demo.coachdesk.test, hr@demo.coachdesk.test"
    )
    print("Press Ctrl+C to stop.")
    stop_signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    try:
        signal.sigwait(stop_signals)
    finally:
        db.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coachdesk", description=__doc__)
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="start Coachdesk on the embedded local backend")
    run.set_defaults(handler=_run_command)

    db = commands.add_parser("db", help="manage the embedded Postgres cluster")
    db.add_argument("action", choices=["start", "stop", "status", "reset"])
    db.set_defaults(handler=_db_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        args = parser.parse_args(["run"])
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
