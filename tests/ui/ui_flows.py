"""Steps several UI tests take the same way, on a signed-in MainWindow."""

from __future__ import annotations

from ui.main_window import MainWindow

# The demo trainee's assignment of the "Cold call" scenario (supabase/seed.sql).
COLD_CALL_ASSIGNMENT = "c0000000-0000-4000-8000-000000000001"


def start_assignment(window: MainWindow, assignment_id: str = COLD_CALL_ASSIGNMENT) -> None:
    """Select the assignment on the trainee's home and press Start practice."""
    home = window.home
    assert home is not None and home.data is not None
    home.assignment_table.selectRow([a.id for a in home.data.assignments].index(assignment_id))
    home.start_button.click()
