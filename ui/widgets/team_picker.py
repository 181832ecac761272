"""The "Whole org, then each team" picker shared by the leaderboard and the manager's charts."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QComboBox

from app.client.views import Team


def fill_team_picker(combo: QComboBox, teams: Sequence[Team]) -> None:
    """Offer the whole org and each team, keeping the current choice where it still exists.

    Filling emits no change signal: the screens refresh once, after, not for every item added.
    """
    current = combo.currentData()
    combo.blockSignals(True)
    combo.clear()
    combo.addItem("Whole org", None)
    for team in teams:
        combo.addItem(team.name, team.id)
    combo.setCurrentIndex(max(combo.findData(current), 0))
    combo.blockSignals(False)
