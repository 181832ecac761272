"""The "Read before the call" dialog: the scenario's briefing attachments, shown to the trainee
when they start a scenario that has some, with Start the call and Cancel.

`read_then_start` is what the start-practice path calls: it lists the attachments off the GUI
thread and opens the dialog only when there are any; with none — or when they cannot be listed
(offline) — the call starts at once, since practice never waits on the server.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QVBoxLayout, QWidget

from app.client.briefings import Briefing
from app.client.views import Scenario
from ui.context import AppContext
from ui.errors import plain_message
from ui.widgets.briefing_list import BriefingList
from ui.widgets.headings import heading, muted

log = structlog.get_logger(__name__)


class BriefingDialog(QDialog):
    def __init__(self, ctx: AppContext, scenario: Scenario, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("briefingDialog")
        self.setWindowTitle("Read before the call")
        self.title = heading(scenario.title)
        self.intro = muted("Read these before you start; Open shows a file in its own viewer.")
        self.files = BriefingList(ctx, scenario, self)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.start_button = self.buttons.addButton(
            "&Start the call", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.start_button.setDefault(True)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.intro)
        layout.addWidget(self.files, 1)
        layout.addWidget(self.buttons)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.resize(520, 320)


def read_then_start(
    ctx: AppContext, scenario: Scenario, parent: QWidget, start: Callable[[], None]
) -> BriefingDialog:
    """Show "Read before the call" if `scenario` has attachments, then `start()` on Start the
    call (Cancel: nothing starts); `start()` at once when it has none or they cannot be listed."""
    dialog = BriefingDialog(ctx, scenario, parent)
    dialog.accepted.connect(start)

    def listed(briefings: list[Briefing]) -> None:
        if briefings:
            dialog.open()
            return
        dialog.deleteLater()
        start()

    def unlisted(error: BaseException) -> None:
        log.info("briefing not listed", scenario_id=scenario.id, reason=plain_message(error))
        dialog.deleteLater()
        start()

    dialog.files.refresh(then=listed, on_failure=unlisted)
    return dialog
