"""The org's logo in the window's header, beside the account line, for every member.

Loaded once per workspace (the logo is one object in `org-assets`, which every member may read)
and replaced when an admin changes it on the Organisation tab; hidden while there is none.
"""

from __future__ import annotations

import structlog
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from app.client.organisation import OrganisationService
from ui.context import AppContext
from ui.errors import plain_message

log = structlog.get_logger(__name__)

# Wide logos stay readable without pushing the toolbar's actions off a small screen.
MAX_WIDTH = 160


class OrgLogo(QLabel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("orgLogo")
        self.setAccessibleName("Organisation logo")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._loads = 0  # a load for an org left since (switched, signed out) shows nothing
        self.hide()

    def load(self, ctx: AppContext) -> None:
        """Fetch the current org's logo on the network thread, then show it."""
        self.clear_logo()
        self._loads += 1
        load = self._loads
        ctx.call(
            self,
            OrganisationService(ctx.backend).logo,
            lambda data: self.show_logo(data) if load == self._loads else None,
            on_failure=self._failed,
        )

    def show_logo(self, data: bytes | None) -> None:
        pixmap = QPixmap()
        if not data or not pixmap.loadFromData(data):
            self.clear_logo()
            return
        height = max(self.fontMetrics().height() + 8, 24)  # the header's line, as tall as text
        scaled = pixmap.scaledToHeight(height, Qt.TransformationMode.SmoothTransformation)
        if scaled.width() > MAX_WIDTH:
            scaled = pixmap.scaled(
                MAX_WIDTH,
                height,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        self.setPixmap(scaled)
        self.show()

    def clear_logo(self) -> None:
        self._loads += 1
        self.clear()
        self.hide()

    def _failed(self, error: BaseException) -> None:
        # The header works without it (offline, say); the next workspace entry tries again.
        log.info("org logo not loaded", reason=plain_message(error))
        self.clear_logo()
