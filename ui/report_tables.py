"""The Reports tab's tables: completion by team, track and assignment (tabs of their own beside
each scenario's scores: pass rate and the spread of scores in 10-point bands), and who is
overdue."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.client.assignments import Progress
from app.client.formatting import due_text, percent, score_text
from app.client.reports import (
    AssignmentCompletion,
    Completion,
    CompletionReport,
    Overdue,
    ScenarioScores,
    TeamCompletion,
    TrackCompletion,
)
from app.client.views import utc_now
from ui.models import Column, RowTableModel
from ui.widgets.headings import muted
from ui.widgets.table import make_table

R = TypeVar("R")
# One character per 10-point band, its height the band's share of the scenario's busiest band.
BARS = " ▁▂▃▄▅▆▇█"


def completion_columns(of: Callable[[R], Completion]) -> list[Column[R]]:
    """Assigned, the rate passed, and each state's count, for any row that has a Completion."""

    def count(progress: Progress) -> Column[R]:
        return Column(
            progress.value.capitalize(),
            lambda r: str(of(r).count(progress)),
            sort=lambda r: of(r).count(progress),
            align_right=True,
        )

    return [
        Column("Assigned", lambda r: str(of(r).assigned), sort=lambda r: of(r).assigned,
               align_right=True),
        Column("Completed", lambda r: percent(of(r).rate), sort=lambda r: of(r).rate or -1,
               align_right=True),
        *(count(p) for p in (Progress.PASSED, Progress.IN_PROGRESS, Progress.NOT_STARTED,
                             Progress.OVERDUE, Progress.FAILED)),
    ]  # fmt: skip


class TeamCompletionModel(RowTableModel[TeamCompletion]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Team", lambda t: t.name),
                Column("Members", lambda t: str(t.members), sort=lambda t: t.members,
                       align_right=True),
                *completion_columns(lambda t: t.completion),
            ]
        )  # fmt: skip

    def row_key(self, row: TeamCompletion) -> str:
        return row.id


class TrackCompletionModel(RowTableModel[TrackCompletion]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Track", lambda t: t.title),
                Column("Scenarios", lambda t: str(t.scenarios), align_right=True),
                Column("Assignments", lambda t: str(t.assignments), align_right=True),
                *completion_columns(lambda t: t.completion),
            ]
        )

    def row_key(self, row: TrackCompletion) -> str:
        return row.id


class AssignmentCompletionModel(RowTableModel[AssignmentCompletion]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Assignment", lambda a: a.title),
                Column("To", lambda a: a.assignee),
                Column("Due", lambda a: due_text(a.due_at, utc_now())),
                *completion_columns(lambda a: a.completion),
            ]
        )

    def row_key(self, row: AssignmentCompletion) -> str:
        return row.id


class OverdueModel(RowTableModel[Overdue]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Person", lambda r: r.person),
                Column("Assignment", lambda r: r.title),
                Column("Was due", lambda r: f"{r.due_at.astimezone():%Y-%m-%d}",
                       sort=lambda r: r.due_at),
                Column("Days late", lambda r: str(r.days_late), sort=lambda r: r.days_late,
                       align_right=True),
            ]
        )  # fmt: skip

    def row_key(self, row: Overdue) -> str:
        return row.key


def bands_text(bands: tuple[int, ...]) -> str:
    """The bands as a small bar chart in text: one bar per 10 points, 0 on the left."""
    top = max(bands, default=0)
    if not top:
        return ""
    steps = len(BARS) - 1
    return "".join(BARS[0 if not n else max(1, round(n * steps / top))] for n in bands)


class ScenarioScoresModel(RowTableModel[ScenarioScores]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Scenario", lambda s: s.title),
                Column("Scored", lambda s: str(s.scored_attempts), sort=lambda s: s.scored_attempts,
                       align_right=True),
                Column("Pass rate", lambda s: percent(s.pass_rate),
                       sort=lambda s: s.pass_rate or -1, align_right=True),
                Column("Average", lambda s: score_text(s.avg_score),
                       sort=lambda s: s.avg_score or -1, align_right=True),
                Column("Scores 0–100", lambda s: bands_text(s.bands),
                       tooltip=lambda s: " · ".join(
                           f"{10 * i}–{10 * i + 9}: {n}" for i, n in enumerate(s.bands) if n)
                       or None),
            ]
        )  # fmt: skip

    def row_key(self, row: ScenarioScores) -> str:
        return row.scenario_id


class ReportTabs(QTabWidget):
    """Completion by team, by track and by assignment, and the scores by scenario, a tab each."""

    def __init__(self, loading: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("completionTabs")
        self.teams = TeamCompletionModel()
        self.tracks = TrackCompletionModel()
        self.completion = AssignmentCompletionModel()
        self.scores = ScenarioScoresModel()
        self.scores_status = muted(loading)
        for model, name, label in (
            (self.teams, "teamCompletionTable", "By team"),
            (self.tracks, "trackCompletionTable", "By track"),
            (self.completion, "completionTable", "By assignment"),
        ):
            self.addTab(make_table(model, name, f"Completion {label.lower()}", stretch=0), label)
        scores_page = QWidget()
        scores_layout = QVBoxLayout(scores_page)
        scores_layout.setContentsMargins(0, 0, 0, 0)
        scores_layout.addWidget(self.scores_status)
        scores_table = make_table(self.scores, "scoresTable", "Scores by scenario", stretch=0)
        scores_layout.addWidget(scores_table, 1)
        self.addTab(scores_page, "Scores by scenario")

    def show_completion(self, report: CompletionReport) -> None:
        self.teams.set_rows(report.teams)
        self.tracks.set_rows(report.tracks)
        self.completion.set_rows(report.assignments)

    def show_scores(self, scores: list[ScenarioScores]) -> None:
        self.scores.set_rows(scores)
        self.scores_status.setText(
            "Scored attempts of each scenario in 10-point bands, as of the latest refresh."
        )
