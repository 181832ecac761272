"""The manager's charts and attempt table read right: round axis ticks (an empty chart too),
ratios in %, a bar's full scenario title on hover, the sort arrow pointing the way the rows go.

Rendering only: the charts get report rows as the backend returns them (the stack-driven
checks, team filter included, are in tests/ui/test_manager.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCharts import QBarSeries, QValueAxis
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QHeaderView

from app.client.views import AttemptRow, OverviewMonth, ScenarioInsight, SyncState
from ui.manager_charts import (
    ManagerCharts,
    activity_chart,
    kpi_distribution_chart,
    score_trend_chart,
)
from ui.models import AttemptFilterProxy, AttemptsModel
from ui.theme import LIGHT, Theme, ThemeChoice
from ui.widgets.table import make_table

D = Decimal
LONG_TITLE = "Objection: happy with the incumbent, and not in the mood to switch"


def month(start: date, attempts: int = 0, score: str | None = None) -> OverviewMonth:
    return OverviewMonth(
        month_start=start,
        active_users=min(attempts, 2),
        attempts=attempts,
        scored_attempts=attempts,
        avg_score=D(score) if score else None,
        pass_rate=D("0.5") if score else None,
        kpi_averages={},
    )


def insight(title: str, kpi: str, p50: str, p90: str) -> ScenarioInsight:
    stats = {"n": D(3), "avg": D(p50), "p25": D(p50), "p50": D(p50), "p75": D(p90), "p90": D(p90)}
    return ScenarioInsight(
        scenario_id=title,
        title=title,
        attempts=3,
        scored_attempts=3,
        avg_score=D(70),
        median_score=D(70),
        pass_rate=D("0.5"),
        kpis={kpi: stats},
    )


SIX_MONTHS = [date(2026, m, 1) for m in range(7, 13)]


def y_axis(chart) -> QValueAxis:
    (axis,) = chart.axes(Qt.Orientation.Vertical)
    return axis


def tick_labels(axis: QValueAxis) -> list[str]:
    """The labels the axis draws at its ticks (evenly spaced from min to max)."""
    fmt = axis.labelFormat() or "%.2f"  # QtCharts' default
    step = (axis.max() - axis.min()) / (axis.tickCount() - 1)
    return [fmt % (axis.min() + i * step) for i in range(axis.tickCount())]


def test_an_empty_activity_chart_counts_in_distinct_whole_numbers(qapp):
    chart = activity_chart([month(m) for m in SIX_MONTHS], LIGHT)
    labels = tick_labels(y_axis(chart))
    assert labels == ["0", "1", "2", "3", "4"]  # once read 1, 0, 0, 0, 0 top to bottom


def test_score_axes_tick_by_quarters(qapp):
    months = [month(m, 4, "72.5") for m in SIX_MONTHS]
    assert tick_labels(y_axis(score_trend_chart(months, LIGHT))) == ["0", "25", "50", "75", "100"]
    busy = [month(m, 23) for m in SIX_MONTHS]
    assert tick_labels(y_axis(activity_chart(busy, LIGHT))) == ["0", "10", "20", "30"]


def test_months_read_short_with_the_span_once(qapp):
    chart = score_trend_chart([month(m) for m in SIX_MONTHS], LIGHT)
    (axis,) = chart.axes(Qt.Orientation.Horizontal)
    assert axis.categories() == ["Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    assert axis.titleText() == "Jul 2026 – Dec 2026"
    two_years = [date(2025 + (m - 1) // 12, (m - 1) % 12 + 1, 1) for m in range(1, 15)]
    chart = activity_chart([month(m) for m in two_years], LIGHT)
    (axis,) = chart.axes(Qt.Orientation.Horizontal)
    assert axis.categories()[0] == "Jan 25" and axis.categories()[-1] == "Feb 26"


def test_a_kpi_axis_ends_on_a_round_number(qapp):
    chart = kpi_distribution_chart(
        [insight("Discovery", "words_per_minute", "150.25", "190.5")], "words_per_minute", LIGHT
    )
    assert tick_labels(y_axis(chart)) == ["0", "50", "100", "150", "200"]


@pytest.mark.parametrize("kpi", ["talk_ratio", "filler_word_ratio"])
def test_ratios_are_charted_in_percent(qapp, kpi):
    chart = kpi_distribution_chart([insight("Cold call", kpi, "0.62", "0.7")], kpi, LIGHT)
    (series,) = chart.series()
    median = next(bar for bar in series.barSets() if bar.label() == "Median")
    assert median.at(0) == pytest.approx(62.0)
    assert y_axis(chart).titleText() == "%"
    assert tick_labels(y_axis(chart)) == ["0", "20", "40", "60", "80"]
    assert "(%)" in chart.title()


def test_hovering_a_bar_shows_its_scenario_in_full(qtbot):
    charts = ManagerCharts(LIGHT)
    qtbot.addWidget(charts)
    charts.resize(1200, 800)
    charts.show_data(
        [month(m) for m in SIX_MONTHS],
        [insight(LONG_TITLE, "talk_ratio", "0.5", "0.6")],
    )
    charts.show()
    qtbot.waitExposed(charts)
    view = charts.kpi_view
    chart = view.chart()
    (series,) = [s for s in chart.series() if isinstance(s, QBarSeries)]
    # The axis shows the title shortened; the bar says it in full.
    (axis_x,) = chart.axes(Qt.Orientation.Horizontal)
    assert axis_x.categories() != [LONG_TITLE]
    # Left of the category's middle (the second of four bars), low down: the median's bar.
    target = chart.mapToPosition(QPointF(-0.1, 10), series)
    QTest.mouseMove(view.viewport(), view.mapFromScene(target))
    qtbot.waitUntil(lambda: LONG_TITLE in charts.hover_text, timeout=5_000)
    assert "Median: 50 %" in charts.hover_text


def attempt(n: int, started: datetime) -> AttemptRow:
    return AttemptRow(
        id=f"attempt-{n}",
        user_id="u",
        person="Tara Trainee",
        scenario_id="s",
        scenario_title="Cold call",
        started_at=started,
        duration_seconds=D(40),
        score=D(50 + n),
        sync_state=SyncState.SCORED,
    )


def arrow_points_down(header: QHeaderView, section: int) -> bool:
    """Whether the sort arrow drawn in `section` is a ▼ (widest at its top) rather than a ▲."""
    image = header.grab().toImage()
    right = header.sectionViewportPosition(section) + header.sectionSize(section)
    widths = []
    for y in range(image.height()):
        dark = sum(1 for x in range(right - 24, right) if image.pixelColor(x, y).lightness() < 140)
        if dark:
            widths.append(dark)
    assert len(widths) >= 2, "no sort arrow drawn"
    assert widths[0] != widths[-1]
    return widths[0] > widths[-1]


@pytest.mark.parametrize(
    ("order", "down"), [(Qt.SortOrder.DescendingOrder, True), (Qt.SortOrder.AscendingOrder, False)]
)
def test_the_sort_arrow_points_the_way_the_rows_go(qapp, qtbot, order, down):
    theme = Theme(qapp, ThemeChoice.LIGHT)  # the app's style and style sheet, as the app runs
    model = AttemptsModel(with_person=True)
    now = datetime.now(UTC)
    model.set_rows([attempt(n, now - timedelta(days=n)) for n in range(3)])
    proxy = AttemptFilterProxy()
    proxy.setSourceModel(model)
    table = make_table(proxy, "t", "attempts")
    qtbot.addWidget(table)
    table.setSortingEnabled(True)
    table.sortByColumn(0, order)
    table.resize(900, 300)
    table.show()
    qtbot.waitExposed(table)
    starts = [proxy.index(r, 0).data() for r in range(proxy.rowCount())]
    assert starts == sorted(starts, reverse=order is Qt.SortOrder.DescendingOrder)
    assert arrow_points_down(table.horizontalHeader(), 0) is down
    theme.deleteLater()
