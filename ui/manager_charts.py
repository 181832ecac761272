"""The manager's charts (QtCharts): score trend and activity from `org_overview`
(mv_org_overview), and a KPI's distribution per scenario from `scenario_insights`
(mv_scenario_insights); for one team, the same charts from the org's attempts on this computer
(app/client/team_reports.py).

Axes end on round numbers with round ticks (0, 25, 50, 75, 100), ratios read in %, and a bar's
scenario shows in full on hover (the axis shortens long titles).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
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
from PySide6.QtGui import QCursor, QPainter
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QToolTip,
    QWidget,
)

from app.client.formatting import number
from app.client.kpi_display import BY_KEY, KPIS
from app.client.team_reports import month_starts, of_team, team_insights, team_overview
from app.client.views import AttemptRow, OverviewMonth, ScenarioInsight, Team
from ui.theme import Colors
from ui.widgets.team_picker import fill_team_picker

PERCENTILES = (
    ("p25", "25th percentile"),
    ("p50", "Median"),
    ("p75", "75th percentile"),
    ("p90", "90th percentile"),
)


# Steps an axis may tick by, per power of ten: 0, 25, 50… reads at a glance; 0, 23, 46… does not.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
MAX_INTERVALS = 4


def _value(value: Decimal | None, scale: float = 1.0) -> float:
    return float(value) * scale if value is not None else 0.0


def nice_axis(top: float, *, integers: bool = False) -> tuple[float, int, int]:
    """(axis maximum, tick count, decimals) for values from 0 to `top`: a round maximum at or
    above it, ticked by a round step. An empty chart (top 0) still gets distinct ticks."""
    if top <= 0:
        top = MAX_INTERVALS if integers else 1.0
    rough = top / MAX_INTERVALS
    magnitude = 10 ** math.floor(math.log10(rough))
    step = next(n * magnitude for n in NICE_STEPS if n * magnitude >= rough * (1 - 1e-9))
    if integers:
        step = max(round(step), 1)
    intervals = math.ceil(top / step - 1e-9)
    decimals = 0  # as many as the step needs: 25 -> 0, 2.5 -> 1, 0.25 -> 2
    while abs(step * 10**decimals - round(step * 10**decimals)) > 1e-9 and decimals < 6:
        decimals += 1
    return step * intervals, intervals + 1, decimals


def _value_axis(top: float, *, integers: bool = False, title: str = "") -> QValueAxis:
    maximum, ticks, decimals = nice_axis(top, integers=integers)
    axis = QValueAxis()
    axis.setRange(0, maximum)
    axis.setTickCount(ticks)
    axis.setMinorTickCount(0)
    axis.setLabelFormat("%d" if decimals == 0 else f"%.{decimals}f")
    axis.setTitleText(title)
    return axis


def _scale(kpi: str) -> tuple[float, str]:
    """What a KPI's values are multiplied by on a chart, and the axis' unit: ratios in %."""
    info = BY_KEY.get(kpi)
    if info is not None and info.as_percent:
        return 100.0, "%"
    return 1.0, info.unit if info else ""


def kpi_shown(insights: Sequence[ScenarioInsight], kpi: str) -> list[ScenarioInsight]:
    """The scenarios the KPI chart has bars for, in its order."""
    return [i for i in insights if kpi in i.kpis]


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
    _month_axes(chart, months, (series, pass_rate), _value_axis(100))
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
    top = max([m.attempts for m in months] + [m.active_users for m in months] + [0])
    _month_axes(chart, months, (series,), _value_axis(top, integers=True))
    return chart


def kpi_distribution_chart(insights: Sequence[ScenarioInsight], kpi: str, colors: Colors) -> QChart:
    info = BY_KEY.get(kpi)
    label = info.label if info else kpi
    scale, unit = _scale(kpi)
    chart = _chart(f"{label} by scenario" + (" (%)" if unit == "%" else ""), colors)
    series = QBarSeries()
    shown = kpi_shown(insights, kpi)
    for key, name in PERCENTILES:
        bar = QBarSet(name)
        for insight in shown:
            bar.append(_value(insight.kpis[kpi].get(key), scale))
        series.append(bar)
    chart.addSeries(series)
    axis_x = QBarCategoryAxis()
    axis_x.append([_short(i.title) for i in shown] or ["no scored attempts yet"])
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    series.attachAxis(axis_x)
    values = [_value(i.kpis[kpi].get("p90"), scale) for i in shown]
    axis_y = _value_axis(max([*values, 0.0]), title=unit)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    series.attachAxis(axis_y)
    return chart


def _month_axes(
    chart: QChart, months: Sequence[OverviewMonth], series: Sequence[object], axis_y: QValueAxis
) -> None:
    axis_x = QBarCategoryAxis()
    # "Jul 2026" under every bar is elided to "J..." at a laptop's width: the month alone under
    # each (unique up to a year of months) and the span once, as the axis title.
    label = "%b" if len(months) <= 12 else "%b %y"
    axis_x.append([f"{m.month_start:{label}}" for m in months])
    if months:
        first, last = months[0].month_start, months[-1].month_start
        axis_x.setTitleText(f"{first:%b %Y} – {last:%b %Y}" if first != last else f"{first:%b %Y}")
    chart.addAxis(axis_x, Qt.AlignmentFlag.AlignBottom)
    chart.addAxis(axis_y, Qt.AlignmentFlag.AlignLeft)
    for s in series:
        s.attachAxis(axis_x)  # type: ignore[attr-defined]
        s.attachAxis(axis_y)  # type: ignore[attr-defined]


def _short(title: str, limit: int = 24) -> str:
    return title if len(title) <= limit else title[: limit - 1] + "…"


class ManagerCharts(QWidget):
    """Three charts in a grid; the team chooser picks whose attempts they show (the whole org's
    from the server's reports, or one team's from this computer's), the KPI chooser redraws the
    distribution chart."""

    def __init__(self, colors: Colors, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.colors = colors
        self.months: list[OverviewMonth] = []
        self.insights: list[ScenarioInsight] = []
        self.org_months: list[OverviewMonth] = []
        self.org_insights: list[ScenarioInsight] = []
        self.attempts: list[AttemptRow] = []
        self.teams: list[Team] = []
        self.hover_text = ""
        self.trend_view = self._view("scoreTrendChart", "Average score by month")
        self.activity_view = self._view("activityChart", "Attempts and active people by month")
        self.kpi_view = self._view("kpiDistributionChart", "KPI distribution per scenario")
        self.team = QComboBox()
        self.team.setAccessibleName("Team to chart")
        self.team.addItem("Whole org", None)
        self.kpi = QComboBox()
        self.kpi.setAccessibleName("KPI to chart")
        for info in KPIS:
            self.kpi.addItem(info.label, info.key)
        self.summary = QLabel()
        self.summary.setObjectName("muted")
        self.summary.setWordWrap(True)
        self.empty = QLabel()
        self.empty.setObjectName("chartsEmpty")
        self.empty.setWordWrap(True)
        self.empty.hide()
        choosers = QHBoxLayout()
        for text, combo in (("T&eam", self.team), ("&KPI", self.kpi)):
            label = QLabel(text)
            label.setBuddy(combo)
            choosers.addWidget(label)
            choosers.addWidget(combo)
        choosers.addStretch()
        grid = QGridLayout(self)
        grid.addLayout(choosers, 0, 0, 1, 2)
        grid.addWidget(self.empty, 1, 0, 1, 2)
        grid.addWidget(self.trend_view, 2, 0)
        grid.addWidget(self.activity_view, 2, 1)
        grid.addWidget(self.kpi_view, 3, 0, 1, 2)
        grid.addWidget(self.summary, 4, 0, 1, 2)
        self.kpi.currentIndexChanged.connect(lambda _i: self._draw_kpis())
        self.team.currentIndexChanged.connect(lambda _i: self._choose_data())

    def show_data(self, months: list[OverviewMonth], insights: list[ScenarioInsight]) -> None:
        """The org's reports from the server."""
        self.org_months, self.org_insights = months, insights
        self._choose_data()

    def set_team_data(self, teams: list[Team], attempts: list[AttemptRow]) -> None:
        """The teams to choose from and the org's attempts a team's charts are computed from."""
        self.teams, self.attempts = teams, attempts
        fill_team_picker(self.team, teams)
        self._choose_data()

    def set_colors(self, colors: Colors) -> None:
        self.colors = colors
        self.redraw()

    def redraw(self) -> None:
        self.trend_view.setChart(score_trend_chart(self.months, self.colors))
        self.activity_view.setChart(activity_chart(self.months, self.colors))
        self._draw_kpis()

    def _choose_data(self) -> None:
        team_id = self.team.currentData()
        if team_id is None:
            self.months, self.insights = self.org_months, self.org_insights
            whose = "the org"
        else:
            rows = of_team(self.attempts, team_id)
            starts = [m.month_start for m in self.org_months] or month_starts(
                datetime.now(UTC).date(), len(self.org_months) or 6
            )
            self.months, self.insights = team_overview(rows, starts), team_insights(rows)
            whose = self.team.currentText()
        self.redraw()
        self._summarise(whose)

    def _summarise(self, whose: str) -> None:
        total = sum(m.attempts for m in self.months)
        scenarios = sum(1 for i in self.insights if i.attempts)
        self.empty.setVisible(total == 0 and scenarios == 0)
        self.empty.setText(
            f"No attempts by {whose} in the last {len(self.months)} months: "
            "there is nothing to chart yet."
            if self.team.currentData() is not None
            else f"No attempts in the last {len(self.months)} months yet: the charts fill in "
            "once people practise and the server has scored their calls."
        )
        source = (
            "Reports refresh every few minutes on the server."
            if self.team.currentData() is None
            else "Computed from the attempts on this computer."
        )
        self.summary.setText(
            f"{total} attempts by {whose} in the last {len(self.months)} months across "
            f"{scenarios} scenarios. {source}"
        )

    def _draw_kpis(self) -> None:
        kpi = self.kpi.currentData()
        chart = kpi_distribution_chart(self.insights, kpi, self.colors)
        shown = kpi_shown(self.insights, kpi)
        for series in chart.series():
            if isinstance(series, QBarSeries):
                series.hovered.connect(
                    lambda hovering, index, bar: self._hovered(hovering, index, bar, shown, kpi)
                )
        self.kpi_view.setChart(chart)

    def _hovered(
        self,
        hovering: bool,
        index: int,
        bar: QBarSet,
        shown: Sequence[ScenarioInsight],
        kpi: str,
    ) -> None:
        """A bar's full scenario title and value (the axis shortens long titles)."""
        if not hovering or not 0 <= index < len(shown):
            self.hover_text = ""
            QToolTip.hideText()
            return
        unit = _scale(kpi)[1]
        value = number(Decimal(repr(round(bar.at(index), 4))))
        reading = f"{value} {unit}" if unit else value
        self.hover_text = f"{shown[index].title}\n{bar.label()}: {reading}"
        QToolTip.showText(QCursor.pos(), self.hover_text, self.kpi_view)

    @staticmethod
    def _view(name: str, accessible: str) -> QChartView:
        view = QChartView()
        view.setObjectName(name)
        view.setAccessibleName(accessible)
        view.setRenderHint(QPainter.RenderHint.Antialiasing)
        view.setMinimumHeight(220)
        view.setMouseTracking(True)  # hover shows a bar's full scenario title
        return view
