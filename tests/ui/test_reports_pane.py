"""HR's Reports tab against the real stack: it opens first, draws the org's trends from the
server's reports, and lists completion and who is overdue; other roles do not have it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.client.assignments import ManagedAssignment, PersonProgress, Progress
from ui.reports_pane import overdue_rows


def test_hr_opens_on_reports_with_trends_completion_and_overdue(window, sign_in, qtbot, db):
    sign_in(window, "hr")
    pane = window.reports
    assert pane is not None and window.workspace.currentWidget() is pane
    qtbot.waitUntil(lambda: bool(pane.charts.org_months and pane.assignments), timeout=30_000)
    (assignments,) = db.execute(
        "select count(*) from public.assignments where org_id = %s",
        ("d0000000-0000-4000-8000-000000000001",),
    ).fetchone()
    assert len(pane.completion.rows) == assignments  # HR sees every assignment of the org
    overdue = [p for a in pane.assignments for p in a.people if p.progress is Progress.OVERDUE]
    assert len(pane.overdue.rows) == len(overdue)
    assert pane.overdue_title.text().startswith("Overdue")


def test_the_reports_tab_is_hrs(window, sign_in):
    sign_in(window, "manager")
    assert window.reports is None


def test_overdue_rows_say_who_and_how_late_latest_first():
    at = datetime(2026, 12, 3, tzinfo=UTC)

    def person(name: str, progress: Progress) -> PersonProgress:
        return PersonProgress(name, name, progress, 1, None, 0)

    def assignment(title: str, days_ago: int, *people: PersonProgress) -> ManagedAssignment:
        return ManagedAssignment(
            title, title, "scenario", "Team", None, None, 1, at - timedelta(days=days_ago),
            "", None, people,
        )  # fmt: skip

    rows = overdue_rows(
        [
            assignment(
                "Cold call", 2, person("Ana", Progress.OVERDUE), person("Ben", Progress.PASSED)
            ),
            assignment("CFO", 9, person("Cal", Progress.OVERDUE)),
        ],
        at,
    )
    assert [(r.person, r.assignment, r.days_late) for r in rows] == [
        ("Cal", "CFO", 9),
        ("Ana", "Cold call", 2),
    ]
