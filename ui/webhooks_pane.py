"""The admin's Webhooks tab: endpoints, their signing secrets, test events and delivery logs.

Rendering and dispatch only: everything comes from and goes to the server through the client
core (app/client/webhooks.py) on the network thread (ctx.call); the database generates secrets,
keeps the rotation's overlap and refuses non-admins, and its refusals arrive as sentences shown
where the action was asked for. A secret is shown once, in a dialog of its own, and kept nowhere
after it closes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.client.formatting import local_time
from app.client.webhooks import (
    EVENTS,
    OVERLAP,
    Created,
    Delivery,
    DeliveryPage,
    DeliveryStatus,
    Endpoint,
    NewSecret,
    WebhooksService,
)
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.models import Column, RowTableModel
from ui.widgets.confirm import confirm_destructive
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.table import make_table

# Mnemonics: the workspace's tabs (&Home, &Leaderboard, &Team, &Assignments, Stu&dio, &People,
# &Webhooks, A&udit log) and the toolbar (&Settings, Sign &out) keep theirs; the buttons here
# use none of those letters.

# The log's filter: None shows every delivery.
FILTERS: tuple[tuple[str, DeliveryStatus | None], ...] = (
    ("All deliveries", None),
    ("Dead", DeliveryStatus.DEAD),
    ("Failed (will retry)", DeliveryStatus.FAILED),
    ("Pending", DeliveryStatus.PENDING),
    ("Sending", DeliveryStatus.RUNNING),
    ("Succeeded", DeliveryStatus.SUCCEEDED),
)


def _when(moment: Any) -> str:
    return local_time(moment) if moment is not None else "–"


class EndpointsModel(RowTableModel[Endpoint]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("URL", lambda e: e.url),
                Column("Events", lambda e: e.events_text),
                Column("State", _state, tooltip=lambda e: e.disabled_reason),
                Column("Description", lambda e: e.description),
            ]
        )

    def row_key(self, row: Endpoint) -> str:
        return row.id


def _state(endpoint: Endpoint) -> str:
    if not endpoint.enabled:
        return "Disabled"
    if endpoint.failing_since is not None:
        return f"Failing since {local_time(endpoint.failing_since)}"
    return "Enabled"


class DeliveriesModel(RowTableModel[Delivery]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Created", lambda d: _when(d.created_at)),
                Column("Event", lambda d: d.event),
                Column("Status", lambda d: d.status.value),
                Column("Attempts", lambda d: f"{d.attempts} of {d.max_attempts}"),
                Column("Next retry", lambda d: _when(d.next_retry)),
                Column(
                    "Response",
                    lambda d: str(d.response_code) if d.response_code is not None else "–",
                    align_right=True,
                ),
                Column(
                    "Latency",
                    lambda d: f"{d.latency_ms} ms" if d.latency_ms is not None else "–",
                    align_right=True,
                ),
                Column(
                    "Answer",
                    lambda d: d.body_excerpt or d.error or "",
                    tooltip=lambda d: d.error,
                ),
            ]
        )

    def row_key(self, row: Delivery) -> str:
        return row.id


class EndpointDialog(QDialog):
    """A URL, the events to send there, and a description for the list."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New webhook endpoint")
        self.setObjectName("endpointDialog")
        self.url = QLineEdit()
        self.url.setPlaceholderText("https://example.com/webhooks/coachdesk")
        self.url.setAccessibleName("URL")
        self.all_events = QCheckBox("All events, including ones added later")
        self.all_events.setChecked(True)
        self.events = QListWidget()
        self.events.setAccessibleName("Events")
        for event in EVENTS:
            item = QListWidgetItem(event)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.events.addItem(item)
        self.events.setEnabled(False)
        self.description = QLineEdit()
        self.description.setAccessibleName("Description")
        self.description.setMaxLength(500)
        self.message = QLabel()
        self.message.setObjectName("endpointProblem")
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.create = self.buttons.addButton("Create", QDialogButtonBox.ButtonRole.AcceptRole)
        form = QFormLayout()
        for text, field in (
            ("&URL", self.url),
            ("&Events", self.all_events),
            ("", self.events),
            ("&Description", self.description),
        ):
            label = QLabel(text)
            label.setBuddy(field)
            form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            muted(
                "Deliveries are signed (Standard Webhooks): the secret is shown once, after "
                "the endpoint is created. Private and local addresses are refused."
            )
        )
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.all_events.toggled.connect(lambda on: self.events.setEnabled(not on))
        self.buttons.rejected.connect(self.reject)

    def chosen_events(self) -> list[str]:
        if self.all_events.isChecked():
            return ["*"]
        return [
            self.events.item(i).text()
            for i in range(self.events.count())
            if self.events.item(i).checkState() == Qt.CheckState.Checked
        ]

    def problem(self) -> str | None:
        """What is wrong with the form before anything is sent (None: nothing)."""
        if not self.url.text().strip():
            return "Enter the URL that receives the deliveries (https://…)."
        if not self.chosen_events():
            return "Choose at least one event, or all events."
        return None

    def show_problem(self, text: str) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(text)
        self.message.show()


class SecretDialog(QDialog):
    """A signing secret, shown this once: read-only, with Copy; closing forgets it."""

    def __init__(self, title: str, explanation: str, secret: str, parent: QWidget) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName("secretDialog")
        self.secret = QLineEdit(secret)
        self.secret.setReadOnly(True)
        self.secret.setAccessibleName("Signing secret")
        self.secret.setObjectName("secret")
        self.copy = QPushButton("&Copy")
        self.copy.setObjectName("copySecret")
        self.copied = muted()
        self.copied.setObjectName("secretCopied")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        row = QHBoxLayout()
        row.addWidget(self.secret, 1)
        row.addWidget(self.copy)
        self.explanation = QLabel(explanation)
        self.explanation.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.explanation)
        layout.addLayout(row)
        layout.addWidget(self.copied)
        layout.addWidget(buttons)
        self.copy.clicked.connect(self._copy)
        buttons.rejected.connect(self.reject)
        self.finished.connect(lambda _result: self.secret.clear())

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.secret.text())
        self.copied.setText("Copied to the clipboard.")


class WebhooksPane(QWidget):
    """The org's webhook endpoints and the selected one's delivery log (admins only)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = WebhooksService(ctx.backend)
        self.setObjectName("webhooksPane")
        self.loaded = False
        self.dialog: QDialog | None = None
        self.page: DeliveryPage | None = None

        self.title = heading("Webhooks")
        self.about = muted(
            "Coachdesk sends the events you choose to your endpoints, signed with each "
            "endpoint's secret, and retries failures for about a day."
        )
        self.notice = muted()
        self.notice.setObjectName("webhooksNotice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.endpoints = EndpointsModel()
        self.endpoints_table = make_table(self.endpoints, "endpointsTable", "Endpoints", stretch=0)
        self.new_button = QPushButton("&New endpoint…")
        self.enable_button = QPushButton("Disa&ble")
        self.rotate_button = QPushButton("Rotate se&cret…")
        self.rotate_button.setToolTip(f"A new secret; the old one keeps signing for {OVERLAP}")
        self.test_button = QPushButton("Send test e&vent")
        self.delete_button = QPushButton("Delete endpo&int…")
        self.refresh_button = QPushButton("Re&fresh")

        self.log_title = subheading("Deliveries")
        self.deliveries = DeliveriesModel()
        self.deliveries_table = make_table(
            self.deliveries, "deliveriesTable", "Deliveries", stretch=7
        )
        self.filter = QComboBox()
        self.filter.setObjectName("deliveryFilter")
        self.filter.setAccessibleName("Show deliveries")
        for text, status in FILTERS:
            self.filter.addItem(text, status)
        filter_label = QLabel("Sho&wing")  # &G is the Organisation tab's
        filter_label.setBuddy(self.filter)
        self.redeliver_button = QPushButton("&Redeliver")
        self.redeliver_button.setToolTip("A copy with the same webhook-id; the original stays")
        self.redeliver_dead_button = QPushButton("Redeliver all d&ead")
        self.more_button = QPushButton("&More")
        self.more_button.setToolTip("Older deliveries")

        for button in self._selection_buttons():
            button.setEnabled(False)
        self.more_button.setEnabled(False)

        top = QHBoxLayout()
        for button in (
            self.new_button,
            self.enable_button,
            self.rotate_button,
            self.test_button,
            self.delete_button,
        ):
            top.addWidget(button)
        top.addStretch(1)
        top.addWidget(self.refresh_button)
        endpoints = QWidget()
        upper = QVBoxLayout(endpoints)
        upper.setContentsMargins(0, 0, 0, 0)
        upper.addLayout(top)
        upper.addWidget(self.endpoints_table, 1)
        log = QWidget()
        lower = QVBoxLayout(log)
        lower.setContentsMargins(0, 0, 0, 0)
        bar = QHBoxLayout()
        bar.addWidget(self.log_title)
        bar.addStretch(1)
        for widget in (
            filter_label,
            self.filter,
            self.redeliver_button,
            self.redeliver_dead_button,
            self.more_button,
        ):
            bar.addWidget(widget)
        lower.addLayout(bar)
        lower.addWidget(self.deliveries_table, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(endpoints)
        splitter.addWidget(log)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.about)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)

        self.refresh_button.clicked.connect(self.refresh)
        self.new_button.clicked.connect(self.open_new)
        self.enable_button.clicked.connect(self.toggle_selected)
        self.rotate_button.clicked.connect(self.rotate_selected)
        self.test_button.clicked.connect(self.test_selected)
        self.delete_button.clicked.connect(self.delete_selected)
        self.filter.currentIndexChanged.connect(lambda _i: self.load_deliveries())
        self.redeliver_button.clicked.connect(self.redeliver_selected)
        self.redeliver_dead_button.clicked.connect(self.redeliver_dead)
        self.more_button.clicked.connect(self.load_more)
        self.endpoints_table.selectionModel().currentRowChanged.connect(self._endpoint_chosen)
        self.deliveries_table.selectionModel().currentRowChanged.connect(self._delivery_chosen)

    # Reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        self.ctx.call(self, self.service.endpoints, self.show_endpoints, on_failure=self._failed)

    def show_endpoints(self, endpoints: list[Endpoint]) -> None:
        chosen = self.endpoint()
        self.loaded = True
        self.refresh_button.setEnabled(True)
        self.endpoints.set_rows(endpoints)
        keep = next((i for i, e in enumerate(endpoints) if chosen and e.id == chosen.id), None)
        if keep is None and endpoints:
            keep = 0
        if keep is not None:
            self.endpoints_table.selectRow(keep)
        self._endpoint_chosen(QModelIndex())

    def load_deliveries(self, offset: int = 0) -> None:
        endpoint = self.endpoint()
        if endpoint is None:
            self.page = None
            self.deliveries.set_rows([])
            self.more_button.setEnabled(False)
            return
        status = self.filter.currentData()
        self.ctx.call(
            self,
            lambda: self.service.deliveries(endpoint.id, status, offset=offset),
            self.show_deliveries,
            on_failure=lambda error: show_error(self, error),
        )

    def show_deliveries(self, page: DeliveryPage) -> None:
        rows = page.deliveries
        if page.offset and self.page is not None:
            rows = self.deliveries.rows + rows
        self.page = DeliveryPage(rows, 0, page.more)
        self.deliveries.set_rows(rows)
        self.more_button.setEnabled(page.more)
        self._delivery_chosen(QModelIndex())

    def load_more(self) -> None:
        self.load_deliveries(offset=len(self.deliveries.rows))

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)

    def _selection_buttons(self) -> tuple[QPushButton, ...]:
        return (
            self.enable_button,
            self.rotate_button,
            self.test_button,
            self.delete_button,
            self.redeliver_button,
            self.redeliver_dead_button,
        )

    def _endpoint_chosen(self, _index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        endpoint = self.endpoint()
        for button in (self.enable_button, self.rotate_button, self.delete_button):
            button.setEnabled(endpoint is not None)
        self.test_button.setEnabled(endpoint is not None and endpoint.enabled)
        self.redeliver_dead_button.setEnabled(endpoint is not None and endpoint.enabled)
        self.enable_button.setText(
            "Ena&ble" if endpoint is not None and not endpoint.enabled else "Disa&ble"
        )
        self.log_title.setText(f"Deliveries to {endpoint.url}" if endpoint else "Deliveries")
        self.load_deliveries()

    def _delivery_chosen(self, _index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        endpoint = self.endpoint()
        self.redeliver_button.setEnabled(
            self.delivery() is not None and endpoint is not None and endpoint.enabled
        )

    def endpoint(self) -> Endpoint | None:
        return _current(self.endpoints_table, self.endpoints.rows)

    def delivery(self) -> Delivery | None:
        return _current(self.deliveries_table, self.deliveries.rows)

    def _say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _do(self, work: Callable[[], Any], label: str, said: Callable[[Any], str]) -> None:
        def done(result: Any) -> None:
            self._say(said(result))
            self.refresh()

        self.ctx.call(
            self, work, done, label=label, on_failure=lambda error: show_error(self, error)
        )

    # Endpoints -----------------------------------------------------------------------------
    def open_new(self) -> EndpointDialog:
        dialog = EndpointDialog(self)
        dialog.buttons.accepted.connect(lambda: self._create(dialog))
        dialog.open()
        self.dialog = dialog
        return dialog

    def _create(self, dialog: EndpointDialog) -> None:
        problem = dialog.problem()
        if problem:
            dialog.show_problem(problem)
            return
        url, events = dialog.url.text(), dialog.chosen_events()
        description = dialog.description.text()
        dialog.buttons.setEnabled(False)

        def created(made: Created) -> None:
            dialog.accept()
            self._say(f"Endpoint {made.endpoint.url} created.")
            self.show_secret(
                "Endpoint created",
                "Its signing secret, shown only now: put it in the receiver's configuration "
                "to verify each delivery's webhook-signature. Coachdesk will not show it again "
                "(rotate it if it is lost).",
                made.secret,
            )
            self.refresh()

        self.ctx.call(
            dialog,
            lambda: self.service.create(url, events, description),
            created,
            label="Creating the endpoint…",
            on_failure=lambda error: dialog.show_problem(plain_message(error)),
        )

    def show_secret(self, title: str, explanation: str, secret: str) -> SecretDialog:
        dialog = SecretDialog(title, explanation, secret, self)
        dialog.open()
        self.dialog = dialog
        return dialog

    def toggle_selected(self) -> None:
        chosen = self.endpoint()
        if chosen is None:
            return
        on = not chosen.enabled
        self._do(
            lambda: self.service.update(chosen.id, enabled=on),
            "Enabling the endpoint…" if on else "Disabling the endpoint…",
            lambda _e: (
                f"{chosen.url} is enabled again; redeliver what it missed."
                if on
                else f"{chosen.url} is disabled: nothing is sent there, and waiting deliveries "
                "are marked dead (redeliver them after enabling it again)."
            ),
        )

    def rotate_selected(self) -> QMessageBox | None:
        chosen = self.endpoint()
        if chosen is None:
            return None

        def rotated(new: NewSecret) -> None:
            until = f" until {local_time(new.previous_until)}" if new.previous_until else ""
            self._say(f"The secret of {chosen.url} was rotated.")
            self.show_secret(
                "New signing secret",
                f"The new secret, shown only now. Deliveries carry two signatures for "
                f"{OVERLAP}: the new secret's and the old one's{until}, so the receiver keeps "
                "accepting them while you put the new secret in its configuration.",
                new.secret,
            )
            self.refresh()

        return confirm_destructive(
            self,
            name="rotateSecret",
            title="Rotate secret",
            text=f"Make a new signing secret for {chosen.url}? The old one keeps signing "
            f"deliveries for {OVERLAP}, then stops.",
            action="Rotate",
            on_confirm=lambda: self.ctx.call(
                self,
                lambda: self.service.rotate_secret(chosen.id),
                rotated,
                label="Rotating the secret…",
                on_failure=lambda error: show_error(self, error),
            ),
        )

    def test_selected(self) -> None:
        chosen = self.endpoint()
        if chosen is not None:
            self._do(
                lambda: self.service.send_test(chosen.id),
                "Sending a test event…",
                lambda _id: (
                    f"A webhook.test event is queued for {chosen.url}: its delivery shows below."
                ),
            )

    def delete_selected(self) -> QMessageBox | None:
        chosen = self.endpoint()
        if chosen is None:
            return None
        return confirm_destructive(
            self,
            name="deleteEndpoint",
            title="Delete endpoint",
            text=f"Delete the endpoint {chosen.url}? Nothing more is sent there, and its "
            "delivery log is deleted with it.",
            action="Delete",
            on_confirm=lambda: self._do(
                lambda: self.service.delete(chosen.id),
                "Deleting the endpoint…",
                lambda _none: f"The endpoint {chosen.url} was deleted.",
            ),
        )

    # Deliveries ----------------------------------------------------------------------------
    def redeliver_selected(self) -> None:
        chosen = self.delivery()
        if chosen is not None:
            self._do(
                lambda: self.service.redeliver(chosen.id),
                "Redelivering…",
                lambda _id: f"The {chosen.event} delivery is queued again.",
            )

    def redeliver_dead(self) -> None:
        chosen = self.endpoint()
        if chosen is not None:
            self._do(
                lambda: self.service.redeliver_all_dead(chosen.id),
                "Redelivering…",
                lambda n: (
                    f"{n} dead deliver{'y is' if n == 1 else 'ies are'} queued again."
                    if n
                    else "No dead delivery is waiting to be redelivered."
                ),
            )


def _current(table: QTableView, rows: Sequence[Any]) -> Any:
    index = table.currentIndex()
    return rows[index.row()] if index.isValid() and index.row() < len(rows) else None
