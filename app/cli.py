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


def _stack_command(args: argparse.Namespace) -> int:
    from server.stack import runner

    data_dir = runner.default_data_dir()
    if args.action == "start":
        stack = runner.start_background(data_dir)
        print(f"local stack running: {stack.url}")
        print(f"SUPABASE_URL={stack.url}")
        print(f"SUPABASE_ANON_KEY={stack.anon_key}")
        print(f"SUPABASE_SERVICE_ROLE_KEY={stack.service_key}")
    elif args.action == "stop":
        stopped = runner.stop_background(data_dir)
        print("local stack stopped" if stopped else "local stack was not running")
    elif args.action == "status":
        stack = runner.RunningStack.read(data_dir)
        if stack and stack.alive() and stack.healthy():
            print(f"running: {stack.url} (pid {stack.pid})")
            print(f"SUPABASE_ANON_KEY={stack.anon_key}")
        else:
            print("stopped")
            return 3
    elif args.action == "reset":
        runner.reset(data_dir)
        print("local stack stopped and its database and files removed; the next start re-seeds")
    return 0


def _run_command(_args: argparse.Namespace) -> int:
    """The embedded default: private Postgres + local stack + demo org, until Ctrl+C."""
    from server.stack import runner

    data_dir = runner.default_data_dir()
    stack = runner.start_background(data_dir)
    print(f"Coachdesk local stack: {stack.url}  (anon key: {stack.anon_key[:16]}…)")
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
        runner.stop_background(data_dir)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coachdesk", description=__doc__)
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser("run", help="start Coachdesk on the embedded local backend")
    run.set_defaults(handler=_run_command)

    db = commands.add_parser("db", help="manage the embedded Postgres cluster")
    db.add_argument("action", choices=["start", "stop", "status", "reset"])
    db.set_defaults(handler=_db_command)

    stack = commands.add_parser(
        "stack", help="manage the local Supabase-compatible stack (REST, Auth, Storage)"
    )
    stack.add_argument("action", choices=["start", "stop", "status", "reset"])
    stack.set_defaults(handler=_stack_command)
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
