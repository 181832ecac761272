"""The admin's Organisation tab: the org's name and logo, and its plan and billing (read-only).

Rendering and dispatch only: the client core (app/client/organisation.py) reads and writes on
the network thread (ctx.call); a logo is checked there (type and size) before it is sent. The
plan, its limits and the subscription come from the billing receiver: shown, never edited.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.formatting import local_time
from app.client.organisation import MAX_LOGO_BYTES, OrganisationService, OrgOverview
from app.client.views import Changes
from ui.context import AppContext
from ui.errors import show_error
from ui.widgets.confirm import confirm_destructive
from ui.widgets.headings import heading, muted

# Mnemonics: the workspace's tabs (&Home, &Leaderboard, &Team, &Assignments, Stu&dio, &People,
# Webhoo&ks, Or&ganisation, A&udit log) and the toolbar (&Settings, Sign &out) keep theirs.

ORG_DATA = ("orgs", "org_members", "scenarios")
PREVIEW = (240, 96)  # the logo preview's box; the header shows it smaller


class OrganisationPane(QWidget):
    """Name, logo, plan and billing of the current org (admins only)."""

    # The logo's bytes after a change here (None: removed), for the header to show.
    logo_changed = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = OrganisationService(ctx.backend)
        self.setObjectName("organisationPane")
        self.data: OrgOverview | None = None
        self.logo_data: bytes | None = None

        self.title = heading("Organisation")
        self.notice = muted()
        self.notice.setObjectName("organisationNotice")
        self.notice.hide()

        self.name = QLineEdit()
        self.name.setObjectName("orgName")
        self.name.setAccessibleName("Organisation name")
        self.name.setMaxLength(200)
        self.save_button = QPushButton("Sa&ve name")
        name_label = QLabel("&Name")
        name_label.setBuddy(self.name)
        name_row = QHBoxLayout()
        name_row.addWidget(name_label)
        name_row.addWidget(self.name, 1)
        name_row.addWidget(self.save_button)

        self.preview = QLabel("No logo")
        self.preview.setObjectName("logoPreview")
        self.preview.setAccessibleName("Logo preview")
        self.preview.setFixedSize(*PREVIEW)
        self.choose_button = QPushButton("&Choose logo…")
        self.remove_button = QPushButton("Re&move logo…")
        self.remove_button.setEnabled(False)
        logo_box = QGroupBox("Logo")
        logo_layout = QHBoxLayout(logo_box)
        logo_layout.addWidget(self.preview)
        logo_buttons = QVBoxLayout()
        logo_buttons.addWidget(self.choose_button)
        logo_buttons.addWidget(self.remove_button)
        logo_buttons.addWidget(
            muted(
                f"PNG, JPEG or WebP, up to {MAX_LOGO_BYTES // (1024 * 1024)} MB. Shown to "
                "everyone in the org beside their name at the top of the window."
            )
        )
        logo_buttons.addStretch(1)
        logo_layout.addLayout(logo_buttons, 1)

        self.plan = QLabel("–")
        self.plan.setObjectName("plan")
        self.seats = QLabel("–")
        self.seats.setObjectName("planSeats")
        self.scenarios = QLabel("–")
        self.scenarios.setObjectName("planScenarios")
        self.subscription = QLabel("–")
        self.subscription.setObjectName("subscription")
        self.subscription.setWordWrap(True)
        self.portal_url = ctx.preferences.loaded.settings.billing.portal_url
        self.billing_button = QPushButton("Manage &billing…")
        self.billing_button.setToolTip("Opens the billing portal in your browser")
        self.billing_button.setVisible(self.portal_url is not None)
        self.refresh_button = QPushButton("Re&fresh")
        plan_box = QGroupBox("Plan and billing")
        plan_box.setObjectName("planBox")
        plan_form = QFormLayout(plan_box)
        plan_form.addRow("Plan", self.plan)
        plan_form.addRow("Seats", self.seats)
        plan_form.addRow("Scenarios", self.scenarios)
        plan_form.addRow("Subscription", self.subscription)
        plan_buttons = QHBoxLayout()
        plan_buttons.addWidget(self.billing_button)
        plan_buttons.addWidget(self.refresh_button)
        plan_buttons.addStretch(1)
        plan_form.addRow(plan_buttons)
        plan_form.addRow(muted("The plan and its limits change with the subscription, not here."))

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.notice)
        layout.addLayout(name_row)
        layout.addWidget(logo_box)
        layout.addWidget(plan_box)
        layout.addStretch(1)

        self.save_button.clicked.connect(self.save_name)
        self.name.returnPressed.connect(self.save_name)
        self.choose_button.clicked.connect(self.choose_logo)
        self.remove_button.clicked.connect(self.remove_logo)
        self.billing_button.clicked.connect(self.open_billing)
        self.refresh_button.clicked.connect(self.refresh)
        ctx.changes.changed.connect(self._data_changed)

    # Reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        self.ctx.call(self, self.service.overview, self.show_data, on_failure=self._failed)
        self.ctx.call(self, self.service.logo, self.show_logo, on_failure=self._failed)

    def show_data(self, data: OrgOverview) -> None:
        self.data = data
        self.refresh_button.setEnabled(True)
        if not self.name.isModified():  # an edit under way is not overwritten
            self.name.setText(data.name)
        self.plan.setText(data.plan_text)
        self.seats.setText(data.seats.text)
        self.scenarios.setText(data.scenarios.text)
        sub = data.subscription
        if sub is None:
            self.subscription.setText("No subscription on record")
        else:
            since = f" (as of {local_time(sub.as_of)})" if sub.as_of else ""
            self.subscription.setText(sub.text + since)

    def show_logo(self, data: bytes | None) -> None:
        self.logo_data = data
        pixmap = QPixmap()
        if data and pixmap.loadFromData(data):
            self.preview.setPixmap(
                pixmap.scaled(
                    self.preview.size(),
                    Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )
        else:
            self.preview.clear()
            self.preview.setText("No logo")
        self.remove_button.setEnabled(data is not None)

    def _data_changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.touch(*ORG_DATA):
            self.refresh()

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)

    def _say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    # Actions -------------------------------------------------------------------------------
    def save_name(self) -> None:
        name = self.name.text()
        self.save_button.setEnabled(False)

        def saved(new_name: str) -> None:
            self.save_button.setEnabled(True)
            self.name.setText(new_name)
            self.name.setModified(False)
            self._say(f"The org is now called {new_name}.")

        def refused(error: BaseException) -> None:
            self.save_button.setEnabled(True)
            show_error(self, error)

        self.ctx.call(
            self,
            lambda: self.service.rename(name),
            saved,
            label="Renaming the org…",
            on_failure=refused,
        )

    def choose_logo(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(
            self, "Choose the org's logo", "", "Images (*.png *.jpg *.jpeg *.webp)"
        )
        if path:
            self.upload_logo(Path(path))

    def upload_logo(self, path: Path) -> None:
        self.choose_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.service.set_logo(path),
            self._logo_set,
            label="Uploading the logo…",
            on_failure=self._logo_refused,
        )

    def _logo_set(self, data: bytes) -> None:
        self.choose_button.setEnabled(True)
        self.show_logo(data)
        self._say("The logo is saved; everyone in the org sees it at their next sign-in.")
        self.logo_changed.emit(data)

    def _logo_refused(self, error: BaseException) -> None:
        self.choose_button.setEnabled(True)
        show_error(self, error)

    def remove_logo(self) -> QMessageBox:
        return confirm_destructive(
            self,
            name="removeLogo",
            title="Remove logo",
            text="Remove the org's logo? Nobody in the org sees it any more.",
            action="Remove",
            on_confirm=lambda: self.ctx.call(
                self,
                self.service.remove_logo,
                self._logo_removed,
                label="Removing the logo…",
                on_failure=lambda error: show_error(self, error),
            ),
        )

    def _logo_removed(self, _none: None) -> None:
        self.show_logo(None)
        self._say("The logo was removed.")
        self.logo_changed.emit(None)

    def open_billing(self) -> None:
        if self.portal_url:
            QDesktopServices.openUrl(QUrl(self.portal_url))
