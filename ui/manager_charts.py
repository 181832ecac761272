"""The manager's charts (QtCharts): score trend and activity from `org_overview`
(mv_org_overview), and a KPI's distribution per scenario from `scenario_insights`
(mv_scenario_insights).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from PySide6.QtCharts import (
    QBarCategoryAxis,
    QBarSeries,
    QBarSet,
    QChart,
    QChartView,
    QLineSeries,
    QValueAxis,
)
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QComboBox, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui.kpi_display import BY_KEY, KPIS
from ui.services import OverviewMonth, ScenarioInsight
from ui.theme import Colors

PERCENTILES = (
    ("p25", "25th percentile"),
    ("p50", "Median"),
    ("p75", "75th percentile"),
    ("p90", "90th percentile"),
)


def _value(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def _chart(title: str, colors: Colors) -> QChart:
    chart = QChart()
    chart.setTitle(title)
    chart.setTheme(
        QChart.ChartTheme.ChartThemeDark if colors.dark else QChart.ChartTheme.ChartThemeLight
    )
    chart.setBackgroundRoundness(6)
    chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
    chart.setAnimationOptions(QChart.AnimationOption.NoAnimation)
    return chart


def score_trend_chart(months: Sequence[OverviewMonth], colors: Colors) -> QChart:
    chart = _chart("Average score by month", colors)
    series = QLineSeries()
    series.setName("Average score")
    series.setPointsVisible(True)
    pass_rate = QLineSeries()
    pass_rate.setName("Pass rate (%)")
    pass_rate.setPointsVisible(True)
    for i, month in enumerate(months):
        if month.avg_score is not None:
            series.append(i, _value(month.avg_score))
        if month.pass_rate is not None:
            pass_rate.append(i, _value(month.pass_rate) * 100)
    chart.addSeries(series)
    chart.addSeries(pass_rate)
    _month_axes(chart, months, (series, pass_rate), y_max=100)
    return chart


def activity_chart(months: Sequence[OverviewMonth], colors: Colors) -> QChart:
    chart = _chart("Org overview: activity by month", colors)
    attempts, users = QBarSet("Attempts"), QBarSet("Active people")
    for month in months:
        attempts.append(month.attempts)
        users.append(month.active_users)
    series = QBarSeries()
    series.append(attempts)
    series.append(users)
    chart.addSeries(series)
    top = max([m.attempts for m in months] + [1])
    _month_axes(chart, months, (series,), y_max=top * 1.15, integers=True)
    return chart


def kpi_distribution_chart(insights: Sequence[ScenarioInsight], kpi: str, colors: Colors) -> QChart:
    info = BY_KEY.get(kpi)
    label = info.label if info else kpi
    chart = _chart(f"{label} by scenario", colors)
    series = QBarSeries()
    shown = [i for i in insights if kpi in i.kpis]
    for key, name in PERCENTILES:
        bar = QBarSet(name)
        for insight in shown:
            bar.append(_value(insight.kpis[kpi].get(key)))
        series.append(bar)
    chart.addSeries(series)
    axis_x = QBarCategoryAxis()
    axis_x.append([_short(i.title) for i in shown] or ["no scored attempts yet"])
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(axis_x)
    axis_y = QValueAxis()
    values = [_value(i.kpis[kpi].get("p90")) for i in shown]
    axis_y.setRange(0, max([*values, 0.0]) * 1.15 or 1)
    axis_y.setTitleText(info.unit if info and info.unit else "")
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_y)
    return chart


def _month_axes(
    chart: QChart,
    months: Sequence[OverviewMonth],
    series: Sequence[object],
    *,
    y_max: float,
    integers: bool = False,
) -> None:
    axis_x = QBarCategoryAxis()
    axis_x.append([f"{m.month_start:%b %Y}" for m in months])
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    axis_y = QValueAxis()
    axis_y.setRange(0, y_max)
    if integers:
        axis_y.setLabelFormat("%d")
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    for s in series:
        s.attachAxis(axis_x)  # type: ignore[attr-defined]
        s.attachAxis(axis_y)  # type: ignore[attr-defined]


def _short(title: str, limit: int = 24) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


class ManagerCharts(QWidget):
    """Three charts in a grid; the KPI chooser redraws the distribution chart."""

    def __init__(self, colors: Colors, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colors = colors
        self.months: list[OverviewMonth] = []
        self.insights: list[ScenarioInsight] = []
        self.trend_view = self._view("scoreTrendChart", "Average score by month")
        self.activity_view = self._view("activityChart", "Attempts and active people by month")
        self.kpi_view = self._view("kpiDistributionChart", "KPI distribution per scenario")
        self.kpi = QComboBox()
        self.kpi.setAccessibleName("KPI to chart")
        for info in KPIS:
            self.kpi.addItem(info.label, info.key)
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)
        chooser = QHBoxLayout()
        label = QLabel("&KPI")
        label.setBuddy(self.kpi)
        chooser.addWidget(label)
        chooser.addWidget(self.kpi)
        chooser.addStretch()
        kpi_box = QVBoxLayout()
        kpi_box.addLayout(chooser)
        kpi_box.addWidget(self.kpi_view, 1)
        grid = QGridLayout(self)
        grid.addWidget(self.trend_view, 0, 0)
        grid.addWidget(self.activity_view, 0, 1)
        grid.addLayout(kpi_box, 1, 0, 1, 2)
        grid.addWidget(self.summary, 2, 0, 1, 2)
        self.kpi.currentIndexChanged.connect(lambda _i: self._draw_kpis())

    def show_data(self, months: list[OverviewMonth], insights: list[ScenarioInsight]) -> None:
        self.months, self.insights = months, insights
        self.redraw()
        total = sum(m.attempts for m in months)
        self.summary.setText(
            f"{total} attempts in the last {len(months)} months across "
            f"{sum(1 for i in insights if i.attempts)} scenarios. Reports refresh every few "
            "minutes on the server."
        )

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.redraw()

    def redraw(self) -> None:
        self.trend_view.setChart(score_trend_chart(self.months, self.colors))
        self.activity_view.setChart(activity_chart(self.months, self.colors))
        self._draw_kpis()

    def _draw_kpis(self) -> None:
        self.kpi_view.setChart(
            kpi_distribution_chart(self.insights, self.kpi.currentData(), self.colors)
        )

    @staticmethod
    def _view(name: str, accessible: str) -> QChartView:
        view = QChartView()
        view.setObjectName(name)
        view.setAccessibleName(accessible)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumHeight(220)
        return view
