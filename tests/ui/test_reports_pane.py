"""HR's Reports tab against the real stack: it opens first and is usable before its data, draws
the org's trends, and lists completion by team, track and assignment, who is overdue and each
scenario's scores from the server's reports; offline, completion comes from this computer's copy
and says so; other roles do not have it."""

from __future__ import annotations

from app.client.reports import FROM_THIS_COMPUTER
from ui.reports_pane import LOADING, ReportsPane

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"


def _count(db, sql: str) -> int:
    (n,) = db.execute(sql, (DEMO_ORG,)).fetchone()
    return int(n)


def test_hr_opens_on_reports_with_trends_completion_and_overdue(window, sign_in, qtbot, db):
    db.execute("select public.refresh_reporting()")  # pg_cron's job, which tests do not run
    sign_in(window, "hr")
    pane = window.reports
    assert pane is not None and window.workspace.currentWidget() is pane
    qtbot.waitUntil(lambda: bool(pane.charts.org_months and pane.report), timeout=30_000)
    report = pane.report
    assert not report.from_this_computer
    # HR sees every assignment and team of the org.
    assert len(pane.completion.rows) == _count(
        db, "select count(*) from public.assignments where org_id = %s"
    )
    assert [t.name for t in pane.teams.rows] == [
        r[0]
        for r in db.execute(
            "select name from public.teams where org_id = %s order by name", (DEMO_ORG,)
        )
    ]
    assert pane.tracks.rows and pane.tracks.rows == list(report.tracks)
    assert len(pane.overdue.rows) == sum(a.completion.overdue for a in report.assignments) > 0
    assert pane.overdue_title.text() == f"Overdue · {len(pane.overdue.rows)}"
    assert pane.completion_title.text() == "Completion"
    qtbot.waitUntil(lambda: bool(pane.scores.rows), timeout=30_000)
    assert any(s.scored_attempts for s in pane.scores.rows)
    assert not pane.loading


def test_the_tab_is_usable_while_its_reports_load(window, sign_in, qtbot):
    sign_in(window, "hr")
    pane = ReportsPane(window.ctx)  # built without any data: nothing waits on the server
    qtbot.addWidget(pane)
    assert pane.loading and pane.overdue_title.text() == f"Overdue · {LOADING}"
    assert pane.completion.rows == [] and pane.refresh_button.isEnabled()
    pane.refresh()
    qtbot.waitUntil(lambda: not pane.loading, timeout=30_000)
    assert pane.report is not None and pane.completion.rows


def test_offline_completion_comes_from_this_computer_and_says_so(window, sign_in, qtbot, network):
    sign_in(window, "hr")
    pane = window.reports
    qtbot.waitUntil(lambda: pane.report is not None, timeout=30_000)
    online = pane.report
    network.offline = True
    pane.refresh()
    qtbot.waitUntil(lambda: pane.report is not online, timeout=30_000)
    assert pane.report.from_this_computer
    assert FROM_THIS_COMPUTER in pane.completion_title.text()
    assert FROM_THIS_COMPUTER in pane.overdue_title.text()
    assert [r.key for r in pane.overdue.rows] == [o.key for o in online.overdue]
    assert [t.completion for t in pane.teams.rows] == [t.completion for t in online.teams]


def test_the_reports_tab_is_hrs(window, sign_in):
    sign_in(window, "manager")
    assert window.reports is None
