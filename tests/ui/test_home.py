"""The trainee's home as a new user meets it: the work still to do comes first and is the one
selected, each piece of work is listed once, and the progress gauge is not mistaken for a button."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ui.models import ROW_ROLE

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
ONBOARDING_TRACK = "b0000000-0000-4000-8000-000000000001"
TRAINEES_TEAM = "e0000000-0000-4000-8000-000000000001"  # Enterprise East: the trainee is in it
# The seed's overdue cold-call assignment, which the trainee's strong cold call has completed.
COMPLETED_COLD_CALL = "c0000000-0000-4000-8000-000000000001"


def shown_assignments(window) -> list:
    model = window.home.assignments
    return [model.index(row, 0).data(ROW_ROLE) for row in range(model.rowCount())]


@pytest.fixture
def track_for_the_team_too(db) -> Iterator[str]:
    """The trainee's onboarding track, given again to the trainee's whole team."""
    (assignment_id,) = db.execute(
        "insert into public.assignments (org_id, track_id, team_id, due_at, note)"
        " values (%s, %s, %s, now() + interval '20 days', 'UI test: team copy')"
        " returning id::text",
        (DEMO_ORG, ONBOARDING_TRACK, TRAINEES_TEAM),
    ).fetchone()
    yield assignment_id
    db.execute("delete from public.assignments where id = %s", (assignment_id,))


def test_completed_assignments_come_last_and_the_first_open_one_is_selected(window, sign_in):
    sign_in(window, "trainee")
    shown = shown_assignments(window)
    completed = [a.id for a in shown if a.done]
    assert COMPLETED_COLD_CALL in completed
    assert [a.done for a in shown] == sorted(a.done for a in shown)  # open ones first
    selected = window.home.selected_assignment()
    assert selected is not None and not selected.done
    assert selected == next(a for a in shown if not a.done)
    assert window.home.start_button.isEnabled()


def test_a_track_given_to_a_person_and_their_team_is_listed_once(
    window, sign_in, track_for_the_team_too
):
    sign_in(window, "trainee")
    tracks = [a for a in shown_assignments(window) if a.kind == "track"]
    assert [t.title for t in tracks] == ["New hire onboarding"]
    assert window.home.summary.text().startswith("1 assignment to do")


def test_the_progress_gauge_is_a_thin_bar_with_its_count_beside_it(window, sign_in):
    sign_in(window, "trainee")
    home = window.home
    track = next(a for a in shown_assignments(window) if a.kind == "track")
    home.assignment_table.selectRow(shown_assignments(window).index(track))
    bar = home.track_progress
    assert bar.isVisible() and not bar.isTextVisible()
    assert bar.height() * 3 <= home.start_button.height()
    assert home.progress_text.text() == f"{track.completed} of {track.total} passed"
    assert (bar.value(), bar.maximum()) == (track.completed, track.total)


def test_a_person_with_no_assignments_is_told_so_on_one_line_beside_a_plain_button(window, sign_in):
    sign_in(window, "hr")  # the demo's HR lead has nothing assigned, as a new member has
    home = window.home
    window.workspace.setCurrentWidget(home)  # HR opens on Reports
    assert home.assignments.rowCount() == 0
    assert (
        home.detail.text()
        == "Nothing is assigned to you yet: your manager's assignments show here."
    )
    line = home.detail.fontMetrics().horizontalAdvance(home.detail.text())
    assert home.detail.width() >= line  # not wrapped into a narrow column
    assert not home.start_button.isEnabled()
    assert home.start_button.width() <= home.start_button.sizeHint().width()  # not stretched
