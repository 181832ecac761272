"""The `coachdesk` command: the desktop app by default, plus headless tools for support and CI."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.logs import configure_logging
from app.version import __version__

_COMMANDS = {"run", "db", "stack", "worker", "inbound", "transcribe", "practice", "scenario"}
_OWN_FLAGS = {"-h", "--help", "--version", "--self-test"}

if TYPE_CHECKING:
    from app.practice import Event, PracticeResult, PracticeSession
    from app.scenarios import Scenario
    from audio.transcribe import Transcriber, Utterance


class CommandError(Exception):
    """A headless command cannot do what was asked; main() prints the message and exits 1."""


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
        running = db.running()
        print(f"{'running' if running else 'stopped'}: {db.dsn()}")
        if running:
            _print_scheduled_jobs(db.dsn())
    elif args.action == "reset":
        db.reset()
        print("database removed; the next start re-creates and re-seeds it")
    return 0


def _print_scheduled_jobs(dsn: str) -> None:
    """Whether pg_cron's jobs (the reporting refresh, scoring) run, and how their last run went."""
    import psycopg

    from server.db.jobs import scheduled_jobs

    try:
        with psycopg.connect(dsn, connect_timeout=5) as conn:
            jobs = scheduled_jobs(conn)
    except psycopg.Error as error:
        print(f"scheduled jobs: cannot be read ({error})")
        return
    if jobs is None:
        print("scheduled jobs: none (pg_cron is not installed in this database)")
        return
    print("scheduled jobs:" if jobs else "scheduled jobs: none")
    for job in jobs:
        print(f"  {job.describe()}")


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


def _server_dsn(args: argparse.Namespace) -> str:
    """--database-url, else $DATABASE_URL, else the embedded cluster (started if needed)."""
    import os

    from server.db.local import LocalDatabase

    dsn = args.database_url or os.environ.get("DATABASE_URL")
    if dsn:
        return dsn
    db = LocalDatabase.default()
    db.start()
    return db.dsn()


def _worker_command(args: argparse.Namespace) -> int:
    """Webhook dispatcher (and, given the Storage URL and service key, exports and expiry; with
    --score, the scoring queue's consumer)."""
    import os

    from server.exports.job import StorageTarget
    from server.integrations import serve_worker

    url, key = os.environ.get("SUPABASE_URL"), os.environ.get("SUPABASE_SERVICE_ROLE_KEY")
    storage = StorageTarget(url, key) if url and key else None
    return serve_worker(
        _server_dsn(args), allow_private_targets=args.local, storage=storage, score=args.score
    )


def _inbound_command(args: argparse.Namespace) -> int:
    """Stripe and Clerk webhook receiver; secrets from STRIPE_/CLERK_WEBHOOK_SECRET."""
    from server.integrations import serve_inbound

    return serve_inbound(_server_dsn(args), host=args.host, port=args.port)


def _run_command(args: argparse.Namespace) -> int:
    """The embedded default: private Postgres + local stack + demo org, and the desktop app
    signed in to the demo org; everything stops when the window closes (or on Ctrl+C when
    there is no screen, as on a server)."""
    import os

    from server.stack import runner

    data_dir = runner.default_data_dir()
    stack = runner.start_background(data_dir)
    print(f"Coachdesk local stack: {stack.url}  (anon key: {stack.anon_key[:16]}…)")
    print(
        "Demo accounts (password 'coachdesk-demo'): trainee@demo.coachdesk.test, "
        "manager@demo.coachdesk.test, admin@demo.coachdesk.test, hr@demo.coachdesk.test"
    )
    try:
        if (
            os.environ.get("DISPLAY")
            or os.environ.get("WAYLAND_DISPLAY")
            or sys.platform != "linux"
        ):
            from ui.app import main as gui

            return gui(["--server", stack.url, "--anon-key", stack.anon_key, "--demo", args.demo])
        print("No screen found (DISPLAY is not set): serving the stack only. Ctrl+C to stop.")
        stop_signals = {signal.SIGINT, signal.SIGTERM}
        signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
        signal.sigwait(stop_signals)
        return 0
    finally:
        runner.stop_background(data_dir)


def _gui(argv: Sequence[str]) -> int:
    from ui.app import main as gui

    return gui(list(argv))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="coachdesk", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check, headless, that this installation works (Qt, cache, audio, transcription)",
    )
    commands = parser.add_subparsers(dest="command")

    run = commands.add_parser(
        "run", help="start the embedded local backend and open the app signed in to the demo org"
    )
    run.add_argument(
        "--demo",
        default="trainee",
        choices=["trainee", "manager", "admin", "hr"],
        help="demo user to sign in as (default: trainee)",
    )
    run.set_defaults(handler=_run_command)

    db = commands.add_parser("db", help="manage the embedded Postgres cluster")
    db.add_argument("action", choices=["start", "stop", "status", "reset"])
    db.set_defaults(handler=_db_command)

    stack = commands.add_parser(
        "stack", help="manage the local Supabase-compatible stack (REST, Auth, Storage)"
    )
    stack.add_argument("action", choices=["start", "stop", "status", "reset"])
    stack.set_defaults(handler=_stack_command)

    worker = commands.add_parser(
        "worker", help="deliver outbound webhooks; run exports and storage expiry"
    )
    _add_database_option(worker)
    worker.add_argument(
        "--local", action="store_true", help="allow webhook targets on this machine or a LAN"
    )
    worker.add_argument(
        "--score",
        action="store_true",
        help="also score uploaded attempts (where pg_cron does not; the local stack does itself)",
    )
    worker.set_defaults(handler=_worker_command)

    inbound = commands.add_parser("inbound", help="receive Stripe and Clerk webhooks")
    _add_database_option(inbound)
    inbound.add_argument("--host", default="127.0.0.1", help="address to listen on")
    inbound.add_argument("--port", type=int, default=54329, help="port to listen on")
    inbound.set_defaults(handler=_inbound_command)

    transcribe = commands.add_parser(
        "transcribe", help="transcribe an audio file on this computer and print the text"
    )
    transcribe.add_argument("file", type=Path, help="audio file (WAV, FLAC, MP3, ...)")
    _add_model_option(transcribe)
    transcribe.add_argument("--json", action="store_true", help="print JSON with word timings")
    transcribe.set_defaults(handler=_transcribe_command)

    practice = commands.add_parser(
        "practice",
        help="play a scenario with pre-recorded rep answers; print transcript, KPIs and score",
        description=(
            "Plays a scenario headless: the persona's lines are printed, each answer file is "
            "transcribed as the rep's next turn and steers the dialog. Exits 1 if a file or the "
            "scenario is missing, a turn cannot be transcribed, or the answers do not fit the "
            "call (it ends before they are used up, or they run out before it ends)."
        ),
    )
    practice.add_argument(
        "--scenario", required=True, help="scenario id or slug (or a unique start of either)"
    )
    practice.add_argument(
        "--answers",
        required=True,
        nargs="+",
        type=Path,
        metavar="FILE",
        help="the rep's turns, in order, as audio files",
    )
    practice.add_argument(
        "--scenarios",
        type=Path,
        metavar="FILE",
        help="scenarios JSON file (default: the bundled demo scenarios)",
    )
    _add_model_option(practice)
    practice.add_argument("--json", action="store_true", help="print the result as JSON")
    practice.set_defaults(handler=_practice_command)

    scenario = commands.add_parser(
        "scenario",
        help="check .coachdesk-scenario files (what an import would take, or why it would not)",
    )
    scenario.add_argument("action", choices=["check"], help="check: read each file fully")
    scenario.add_argument("files", nargs="+", type=Path, metavar="FILE")
    scenario.set_defaults(handler=_scenario_command)
    return parser


def _add_database_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        metavar="DSN",
        help="Postgres to work on (default: $DATABASE_URL, else the embedded database); it "
        "must be able to SET ROLE service_role",
    )


def _add_model_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        type=Path,
        metavar="PATH",
        help="CTranslate2 Whisper model folder (default: the settings, else bundled tiny.en)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or (argv[0] not in _COMMANDS and argv[0] not in _OWN_FLAGS):
        # No command: the desktop app, which takes its own options (--server, --demo, Qt's).
        return _gui(argv)
    args = parser.parse_args(argv)
    if args.self_test:
        from app.selftest import main as self_test

        return self_test()
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except CommandError as error:
        print(f"coachdesk {args.command}: {error}", file=sys.stderr)
        return 1


# --- transcribe and practice ---------------------------------------------------------------------


def _transcriber(model: Path | None) -> Transcriber:
    """The transcriber the settings describe, with --model taking precedence; loaded."""
    from app.config import ConfigError, load_settings
    from audio.errors import AudioError
    from audio.transcribe import Transcriber

    try:
        settings = load_settings().settings.transcription.transcriber_settings()
    except ConfigError as error:
        raise CommandError(str(error)) from error
    if model is not None:
        settings = replace(settings, model_path=model)
    transcriber = Transcriber(settings)
    try:
        transcriber.load()
    except AudioError as error:
        raise CommandError(str(error)) from error
    return transcriber


def _require_files(paths: Sequence[Path]) -> None:
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}")


def _jsonable(value: Any) -> Any:
    """Decimals (KPIs, scores) as JSON numbers; everything else as json.dumps takes it."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {key: _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    return value


def _print_json(document: Any) -> None:
    print(json.dumps(_jsonable(document), indent=2, ensure_ascii=False))


def _utterance_json(utterance: Utterance) -> dict[str, Any]:
    return {
        "text": utterance.text,
        "duration": round(utterance.duration, 3),
        "cut": utterance.cut,
        "words": [
            {"word": w.text, "start": w.start, "end": w.end, "probability": w.probability}
            for w in utterance.words
        ],
    }


def _transcribe_command(args: argparse.Namespace) -> int:
    from audio.errors import AudioError

    _require_files([args.file])
    transcriber = _transcriber(args.model)
    try:
        utterance = transcriber.transcribe(args.file)
    except AudioError as error:
        raise CommandError(str(error)) from error
    if utterance.cut:
        print(
            f"coachdesk transcribe: warning: {args.file} breaks off after "
            f"{utterance.duration:.1f} s ({utterance.cut}); this is the text of the part before",
            file=sys.stderr,
        )
    if not utterance.words:
        print(f"coachdesk transcribe: no speech found in {args.file}", file=sys.stderr)
    if args.json:
        _print_json({"file": str(args.file), **_utterance_json(utterance)})
    elif utterance.words:
        print(utterance.text)
    return 0


def _scenario_command(args: argparse.Namespace) -> int:
    """Exit 0 when every file would import, 1 when one would not (each problem printed)."""
    from app.scenario_package import PackageError, read_package

    failed = 0
    for path in args.files:
        try:
            package = read_package(path)
        except PackageError as error:
            print(f"{path}: {error}", file=sys.stderr)
            failed += 1
            continue
        scenario = package.scenario
        nodes = len(scenario.branching.get("nodes", ()))
        criteria = len(scenario.rubric.get("criteria", ()))
        files = ", ".join(a.name for a in package.attachments) or "no attachments"
        print(
            f"{path}: {scenario.title} ({scenario.difficulty}; {nodes} dialog nodes, "
            f"{criteria} rubric criteria, pass mark {scenario.pass_score}; {files})"
        )
    return 1 if failed else 0


def _practice_command(args: argparse.Namespace) -> int:
    from app.practice import PracticeSession
    from app.scenarios import SAMPLE_SCENARIOS, ScenarioError, find_scenario, load_scenarios

    try:
        scenario = find_scenario(load_scenarios(args.scenarios or SAMPLE_SCENARIOS), args.scenario)
    except ScenarioError as error:
        raise CommandError(str(error)) from error
    _require_files(args.answers)
    session = PracticeSession(scenario, _transcriber(args.model))
    if not args.json:
        print(f"Scenario: {scenario.title} ({scenario.slug})")
        session.subscribe(_CallPrinter(scenario))
    session.start()
    used = 0
    for audio in args.answers:
        if session.finished:
            break
        session.answer(audio)
        used += 1
    result = session.result()
    problems = _practice_problems(session, result, args.answers[used:])
    if args.json:
        _print_json(_result_json(scenario, result, problems))
    else:
        _print_result(result)
    for problem in problems:
        print(f"coachdesk practice: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _practice_problems(
    session: PracticeSession, result: PracticeResult, unused: Sequence[Path]
) -> list[str]:
    """What keeps a scripted call from being the complete call the answers were meant for."""
    problems = [
        f"answer {turn.index + 1} ({turn.audio}) could not be transcribed: {turn.error}"
        for turn in result.failed_turns
    ]
    answers = len(result.rep_turns)
    if unused:
        node = session.current_node.id
        problems.append(
            f'the call ended at node "{node}" after {answers} answer(s); '
            f"not used: {', '.join(map(str, unused))}"
        )
    elif not session.finished:
        node = session.current_node
        problems.append(
            f'the call did not end: after {answers} answer(s) the persona is at node "{node.id}" '
            f'("{node.persona_line}") and waits for another answer'
        )
    return problems


class _CallPrinter:
    """Prints the call as it happens: persona lines, the rep's transcribed turns, each move."""

    def __init__(self, scenario: Scenario) -> None:
        self.persona = scenario.persona["name"]

    def __call__(self, event: Event) -> None:
        from app.practice import PersonaSpeaks, RepTurnDone, TurnStatus

        if isinstance(event, PersonaSpeaks):
            print(f"{self.persona} [{event.line.node_id}]: {event.line.text}")
        elif isinstance(event, RepTurnDone):
            turn = event.turn
            said = {
                TurnStatus.TRANSCRIBED: turn.text,
                TurnStatus.SILENT: "(nothing said)",
                TurnStatus.FAILED: f"(not transcribed: {turn.error})",
            }[turn.status]
            print(f"You [{turn.audio.name}]: {said}")
            if turn.step is not None:
                how = (
                    "no edge matched; waiting"
                    if turn.step.choice is None
                    else turn.step.choice.describe()
                )
                print(f"    -> {turn.step.to_node} ({how})")


def _text(value: Any) -> str:
    return "-" if value is None else str(value)


def _print_result(result: PracticeResult) -> None:
    state = "not ended" if result.end_reason is None else result.end_reason.value
    print(f"\nPath: {' > '.join(result.path)} ({state})")
    print(f"Transcript: {len(result.transcript['turns'])} turns")
    print("\nKPIs")
    for name, value in result.kpis.items():
        if name != "version":
            print(f"  {name:<28} {_text(value)}")
    breakdown = result.score
    verdict = "passed" if breakdown["passed"] else "not passed"
    print(f"\nScore: {_text(breakdown['score'])} (pass mark {breakdown['pass_score']}): {verdict}")
    for item in breakdown["criteria"]:
        print(f"  {item['label']:<32} {_text(item['score']):>7}  {item['detail']}")


def _result_json(
    scenario: Scenario, result: PracticeResult, problems: Sequence[str]
) -> dict[str, Any]:
    return {
        "scenario": {"id": scenario.id, "slug": scenario.slug, "title": scenario.title},
        "path": list(result.path),
        "end_reason": None if result.end_reason is None else result.end_reason.value,
        "complete": result.complete and not problems,
        "problems": list(problems),
        "rep_turns": [
            {
                "audio": str(turn.audio),
                "node": turn.node_id,
                "status": turn.status.value,
                "text": turn.text,
                "error": turn.error,
                "next_node": None if turn.step is None else turn.step.to_node,
            }
            for turn in result.rep_turns
        ],
        "transcript": result.transcript,
        "kpis": result.kpis,
        "score": result.score,
    }


if __name__ == "__main__":
    sys.exit(main())
