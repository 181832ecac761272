"""This month's org leaderboard (`leaderboard_month`, the org-scoped accessor of
mv_leaderboard_month), filterable by team, with the user's own row highlighted and in view.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.client.views import LeaderRow, Team, month_start, utc_now
from ui.context import AppContext
from ui.errors import show_error
from ui.models import LeaderboardModel
from ui.widgets.headings import heading, muted
from ui.widgets.table import make_table
from ui.widgets.team_picker import fill_team_picker

MONTHS_OFFERED = 6


def previous_months(today: date, count: int) -> list[date]:
    """The first day of this month and the `count - 1` months before it, newest first."""
    months = []
    year, month = today.year, today.month
    for _ in range(count):
        months.append(date(year, month, 1))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return months


class LeaderboardScreen(QWidget):
    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("leaderboardScreen")
        self.month = QComboBox()
        self.month.setAccessibleName("Month")
        for first_day in previous_months(month_start(utc_now().date()), MONTHS_OFFERED):
            # Item data as ISO text: Qt has no variant type for Python's date.
            self.month.addItem(f"{first_day:%B %Y}", first_day.isoformat())
        self.team = QComboBox()
        self.team.setAccessibleName("Team")
        self.team.addItem("Whole org", None)
        self.refresh_button = QPushButton("&Refresh")
        self.own_rank = muted()
        self.own_rank.setObjectName("ownRank")
        self.model = LeaderboardModel(ctx.theme.colors)
        self.table = make_table(self.model, "leaderboardTable", "Leaderboard", stretch=1)

        filters = QHBoxLayout()
        filters.addWidget(heading("Leaderboard"))
        filters.addStretch()
        month_label = QLabel("&Month")
        month_label.setBuddy(self.month)
        filters.addWidget(month_label)
        filters.addWidget(self.month)
        team_label = QLabel("&Team")
        team_label.setBuddy(self.team)
        filters.addWidget(team_label)
        filters.addWidget(self.team)
        filters.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.own_rank)
        layout.addWidget(self.table, 1)

        self.month.currentIndexChanged.connect(lambda _i: self.refresh())
        self.team.currentIndexChanged.connect(lambda _i: self.refresh())
        self.refresh_button.clicked.connect(self.refresh)
        # A bound slot, not a lambda: Qt drops it with this widget (a lambda outlived it).
        ctx.theme.changed.connect(self._recolor)
        self._teams_loaded = False

    def _recolor(self) -> None:
        self.model.set_colors(self.ctx.theme.colors)

    def refresh(self) -> None:
        if not self._teams_loaded:
            self._teams_loaded = True
            self.ctx.call(self, self.ctx.backend.teams, self._show_teams)
        month = date.fromisoformat(self.month.currentData())
        team: str | None = self.team.currentData()
        self.ctx.call(
            self,
            lambda: self.ctx.backend.leaderboard(month, team),
            self.show_rows,
            label="Loading the leaderboard…",
            on_failure=lambda error: show_error(self, error),
        )

    def select_month(self, month: date) -> None:
        self.month.setCurrentIndex(max(self.month.findData(month_start(month).isoformat()), 0))

    def show_rows(self, rows: list[LeaderRow]) -> None:
        self.model.set_rows(rows)
        own = self.model.own_row()
        if own is None:
            self.own_rank.setText(
                "You are not on this leaderboard yet: practise a scored call this month."
                if rows
                else "Nobody has a scored call in this period yet."
            )
            return
        me = rows[own]
        self.own_rank.setText(f"You are ranked {me.rank} of {len(rows)}.")
        self.table.selectRow(own)
        self.table.scrollTo(self.model.index(own, 0))

    def _show_teams(self, teams: list[Team]) -> None:
        fill_team_picker(self.team, teams)
