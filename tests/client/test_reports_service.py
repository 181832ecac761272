"""The reports service against the real stack: HR's completion reports come from the server's
accessors and agree with what this computer's copy works out; offline the same reports come
from the copy and say so; the score bands are the server's; a trainee is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from stack_fixtures import DEMO_PASSWORD

from app.client.assignments import ManagedAssignment, PersonProgress, Progress
from app.client.backend import SyncedBackend
from app.client.demo import NetworkSwitch
from app.client.reports import Completion, CompletionReport, ReportsService, overdue_from
from app.client.views import PermissionDenied, ServerConfig, ServerUnreachable


@pytest.fixture
def network() -> NetworkSwitch:
    return NetworkSwitch()


@pytest.fixture
def hr(stack, tmp_path, network, accounts) -> Iterator[SyncedBackend]:
    """HR of the demo org, signed in and synced, on a network that can go down."""
    backend = SyncedBackend(
        ServerConfig(stack.url, stack.anon_key),
        data_dir=tmp_path / "data",
        remember=False,
        interval_s=3600,
        transport=network,
    )
    backend.sign_in(accounts["hr"], DEMO_PASSWORD)
    backend.sync_now()
    yield backend
    network.offline = False
    backend.sign_out(discard_unsynced=True)
    backend.close()


def _numbers(report: CompletionReport) -> dict[str, object]:
    """What both sources must agree on (titles, counts, who is late), order included."""
    return {
        "assignments": sorted(
            (a.id, a.title, a.assignee, a.completion) for a in report.assignments
        ),
        "teams": [(t.id, t.name, t.members, t.completion) for t in report.teams],
        "tracks": [
            (t.id, t.title, t.scenarios, t.assignments, t.completion) for t in report.tracks
        ],
        "overdue": [(o.key, o.person, o.title, o.days_late) for o in report.overdue],
    }


def test_hr_reads_the_servers_completion_and_the_copy_agrees(hr, db):
    service = ReportsService(hr)
    live = service.completion()
    assert not live.from_this_computer
    (assignments,) = db.execute(
        "select count(*) from public.assignments where org_id = %s",
        (str(hr.account.org_id),),
    ).fetchone()
    assert len(live.assignments) == assignments > 0
    assert live.teams and live.tracks and live.overdue  # the demo has each
    for row in (*live.assignments, *live.teams, *live.tracks):
        assert row.completion.assigned == sum(row.completion.count(p) for p in Progress)
    assert _numbers(service.completion_from_this_computer()) == _numbers(live)


def test_offline_the_reports_come_from_this_computer_and_say_so(hr, network):
    service = ReportsService(hr)
    online = service.completion()
    network.offline = True
    offline = service.completion()
    assert offline.from_this_computer
    assert _numbers(offline) == _numbers(online)
    with pytest.raises(ServerUnreachable):
        service.score_distribution()  # the bands exist on the server only


def test_score_bands_add_up_to_the_scored_attempts(hr, db):
    db.execute("select public.refresh_reporting()")  # pg_cron's job, which tests do not run
    rows = ReportsService(hr).score_distribution()
    assert rows and any(r.scored_attempts for r in rows)
    for row in rows:
        assert len(row.bands) == 10 and sum(row.bands) == row.scored_attempts
        if row.scored_attempts:
            assert row.pass_rate is not None and 0 <= row.pass_rate <= 1


def test_a_trainee_is_refused(backend_for, accounts):
    service = ReportsService(backend_for(accounts["trainee"], DEMO_PASSWORD))
    with pytest.raises(PermissionDenied, match="only for manager, admin, hr"):
        service.completion()
    with pytest.raises(PermissionDenied):
        service.score_distribution()


def test_the_copys_overdue_list_says_who_and_how_late_latest_first():
    at = datetime(2026, 12, 3, 12, tzinfo=UTC)

    def person(name: str, progress: Progress) -> PersonProgress:
        return PersonProgress(name, name, progress, 1, None, 0)

    def assignment(title: str, days_ago: float, *people: PersonProgress) -> ManagedAssignment:
        return ManagedAssignment(
            title, title, "scenario", "Team", None, None, 1, at - timedelta(days=days_ago),
            "", None, people,
        )  # fmt: skip

    rows = overdue_from(
        [
            assignment(
                "Cold call", 2.5, person("Ana", Progress.OVERDUE), person("Ben", Progress.PASSED)
            ),
            assignment("CFO", 9, person("Cal", Progress.OVERDUE)),
        ],
        at,
    )
    assert [(r.person, r.title, r.days_late) for r in rows] == [
        ("Cal", "CFO", 9),
        ("Ana", "Cold call", 2),
    ]


def test_completion_counts_add_up_and_give_the_rate_passed():
    states = [Progress.PASSED, Progress.PASSED, Progress.OVERDUE, Progress.NOT_STARTED]
    completion = Completion.of(states)
    assert (completion.assigned, completion.passed, completion.overdue) == (4, 2, 1)
    assert completion.rate == Decimal("0.5000")
    assert completion.summary == "1 not started · 2 passed · 1 overdue"
    assert Completion().rate is None and Completion().summary == "nobody assigned"
