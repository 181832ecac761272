"""The manager pane: filters and sorting over the org's attempts, charts, new assignments."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QDate, Qt
from PySide6.QtWidgets import QDialogButtonBox

from sync.db_types import OrgRole
from ui.services import PermissionDenied, utc_now

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE2 = "a0000000-0000-4000-8000-000000000002"
SMB_WEST = "e0000000-0000-4000-8000-000000000002"
CFO = "f0000000-0000-4000-8000-000000000002"


@pytest.fixture
def manager_pane(window, sign_in, qtbot):
    sign_in(window, "manager")
    pane = window.manager
    window.workspace.setCurrentWidget(pane)
    qtbot.waitUntil(lambda: pane.data is not None, timeout=30_000)
    return pane


def test_filters_narrow_the_org_attempts_as_the_database_would(manager_pane, db):
    pane = manager_pane
    in_db = db.execute(
        "select id::text, user_id::text, score from public.scenario_attempts where org_id = %s",
        (DEMO_ORG,),
    ).fetchall()
    assert {a.id for a in pane.visible_attempts()} == {r[0] for r in in_db}

    filters = pane.filters
    filters.team.setCurrentIndex(filters.team.findData(SMB_WEST))
    members = {
        r[0]
        for r in db.execute(
            "select user_id::text from public.team_members where team_id = %s", (SMB_WEST,)
        )
    }
    assert {a.id for a in pane.visible_attempts()} == {r[0] for r in in_db if r[1] in members}

    filters.min_score.setValue(50)
    assert {a.id for a in pane.visible_attempts()} == {
        r[0] for r in in_db if r[1] in members and r[2] is not None and r[2] >= 50
    }
    assert pane.count.text().startswith(f"{len(pane.visible_attempts())} of {len(in_db)}")

    filters.clear()
    days = sorted({a.started_at.astimezone().date() for a in pane.model.rows})
    since = days[len(days) // 2]
    filters.since.setDate(QDate(since.year, since.month, since.day))
    expected = {a.id for a in pane.model.rows if a.started_at.astimezone().date() >= since}
    assert {a.id for a in pane.visible_attempts()} == expected
    assert 0 < len(expected) < len(in_db)


def test_sorting_by_score_orders_numbers_not_text(manager_pane):
    pane = manager_pane
    score_column = [
        pane.model.headerData(c, Qt.Orientation.Horizontal) for c in range(pane.model.columnCount())
    ].index("Score")
    pane.table.sortByColumn(score_column, Qt.SortOrder.DescendingOrder)
    scores = [a.score for a in pane.visible_attempts() if a.score is not None]
    assert scores == sorted(scores, reverse=True) and len(scores) > 3


def test_charts_are_drawn_from_the_reporting_accessors(manager_pane, qtbot, service_client):
    service_client.rpc("refresh_reporting", {}).execute()
    pane = manager_pane
    pane.refresh()
    charts = pane.charts
    qtbot.waitUntil(lambda: any(m.attempts for m in charts.months), timeout=30_000)
    assert len(charts.months) == 6
    trend = charts.trend_view.chart()
    assert trend.series()[0].count() == sum(1 for m in charts.months if m.avg_score is not None)
    kpi = charts.kpi_view.chart()
    assert kpi.series() and kpi.series()[0].barSets()[1].label() == "Median"
    insights_with_kpi = [i for i in charts.insights if "talk_ratio" in i.kpis]
    assert kpi.series()[0].barSets()[1].count() == len(insights_with_kpi) > 0


def test_a_new_assignment_reaches_the_trainee(manager_pane, qtbot, db, window, sign_in):
    pane = manager_pane
    pane.new_assignment()
    dialog = pane.assign_dialog
    dialog.content.setCurrentIndex(dialog.content.findData(CFO))
    dialog.assignee.setCurrentIndex(dialog.assignee.findData(TRAINEE2))
    dialog.note.setText("UI test: CFO practice")
    with qtbot.waitSignal(dialog.created, timeout=30_000) as created:
        dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assignment_id = created.args[0]
    try:
        # Kept in the outbox at once; the engine sends it.
        qtbot.waitUntil(
            lambda: (
                db.execute(
                    "select 1 from public.assignments where id = %s", (assignment_id,)
                ).fetchone()
                is not None
            ),
            timeout=30_000,
        )
        row = db.execute(
            "select scenario_id::text, user_id::text, note, assigned_by::text, due_at"
            " from public.assignments where id = %s",
            (assignment_id,),
        ).fetchone()
        assert row[:3] == (CFO, TRAINEE2, "UI test: CFO practice")
        assert row[3] == window.ctx.backend.account.user_id
        assert row[4] > utc_now()

        window.sign_out_action.trigger()
        qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=30_000)
        sign_in(window, "trainee2")
        assert assignment_id in [a.id for a in window.home.data.assignments]
    finally:
        db.execute("delete from public.assignments where id = %s", (assignment_id,))


def test_a_past_due_date_is_refused_in_the_dialog(manager_pane):
    pane = manager_pane
    pane.new_assignment()
    dialog = pane.assign_dialog
    dialog.due.setDateTime(dialog.due.dateTime().addDays(-30))
    dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    assert dialog.message.isVisible() and "past" in dialog.message.text()
    assert dialog.isVisible()


def test_the_server_refuses_team_reports_to_a_trainee(backend, accounts):
    backend.sign_in(accounts["trainee"], "coachdesk-demo")
    with pytest.raises(PermissionDenied):
        backend.org_attempts()
    # Even if the desktop's own check were bypassed, the database decides from the membership.
    backend._account = replace(backend.account, role=OrgRole.MANAGER)
    assert {a.user_id for a in backend.org_attempts()} == {backend.account.user_id}
    with pytest.raises(PermissionDenied) as refused:
        backend.org_overview(3)
    assert "only for manager, admin, hr" in str(refused.value)
