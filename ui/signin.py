"""Sign-in: email and password against the configured server, or work offline on a saved session.

Signing in runs on the network thread; the form stays responsive and shows problems inline in
plain words (wrong password, server unreachable) instead of a dialog.
"""

from __future__ import annotations

import structlog
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.context import AppContext
from ui.errors import plain_message
from ui.services import Account

log = structlog.get_logger(__name__)


class SignInScreen(QWidget):
    signed_in = Signal(object)  # Account

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("signInScreen")
        card = QFrame()
        card.setObjectName("card")
        card.setMaximumWidth(440)
        heading = QLabel("Sign in to Coachdesk")
        heading.setObjectName("heading")
        self.server = QLabel()
        self.server.setObjectName("muted")
        self.server.setWordWrap(True)
        self.email = QLineEdit(ctx.preferences.last_email())
        self.email.setPlaceholderText("you@company.com")
        self.email.setAccessibleName("Email address")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setAccessibleName("Password")
        self.message = QLabel()
        self.message.setObjectName("signInMessage")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Sign-in problem")
        self.message.hide()
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("primary")
        self.sign_in_button.setDefault(True)
        self.offline_button = QPushButton("Work offline")
        self.offline_button.setObjectName("workOffline")
        self.offline_button.setToolTip(
            "Use the sign-in saved on this computer; works without the server and syncs when "
            "it is reachable"
        )

        form = QFormLayout()
        form.addRow("&Email", self.email)
        form.addRow("&Password", self.password)
        buttons = QHBoxLayout()
        buttons.addWidget(self.offline_button)
        buttons.addStretch()
        buttons.addWidget(self.sign_in_button)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(24, 20, 24, 20)
        inner.addWidget(heading)
        inner.addWidget(self.server)
        inner.addLayout(form)
        inner.addWidget(self.message)
        inner.addLayout(buttons)
        outer = QVBoxLayout(self)
        outer.addStretch()
        outer.addWidget(card, alignment=Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch()

        self.sign_in_button.clicked.connect(self.submit)
        self.password.returnPressed.connect(self.submit)
        self.email.returnPressed.connect(self.password.setFocus)
        self.offline_button.clicked.connect(self.work_offline)
        self.refresh()

    def refresh(self) -> None:
        """Show the server in use; offer to continue (offline too) when a sign-in is saved."""
        self.server.setText(f"Server: {self.ctx.backend.server.url}")
        self.offline_button.hide()
        self.password.clear()
        self._set_busy(False)
        (self.password if self.email.text() else self.email).setFocus()
        # The keyring may be slow (a D-Bus round trip): ask off the GUI thread.
        self.ctx.call(
            self, self.ctx.backend.cached_account, self._show_cached, on_failure=self._no_cache
        )

    def _no_cache(self, error: BaseException) -> None:
        # Not worth a dialog at the sign-in screen (signing in works); worth a log line.
        log.info("saved sign-in not available", reason=plain_message(error))

    def _show_cached(self, cached: Account | None) -> None:
        self.offline_button.setVisible(cached is not None)
        if cached is not None:
            self.offline_button.setText(f"Continue as {cached.display_name} (works offline)")

    def submit(self) -> None:
        email, password = self.email.text().strip(), self.password.text()
        if not email or not password:
            self.show_problem("Enter your email address and password.")
            return
        self._set_busy(True)
        self.message.hide()
        self.ctx.call(
            self,
            lambda: self.ctx.backend.sign_in(email, password),
            self._done,
            label="Signing in…",
            on_failure=self._failed,
        )

    def work_offline(self) -> None:
        self._set_busy(True)
        self.ctx.call(self, self.ctx.backend.resume_offline, self._done, on_failure=self._failed)

    def show_problem(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {self.ctx.theme.colors.bad};")
        self.message.show()

    def _done(self, account: Account) -> None:
        self._set_busy(False)
        self.password.clear()
        self.ctx.preferences.remember_email(account.email)
        self.signed_in.emit(account)

    def _failed(self, error: BaseException) -> None:
        self._set_busy(False)
        self.show_problem(plain_message(error))
        self.password.setFocus()
        self.password.selectAll()

    def _set_busy(self, busy: bool) -> None:
        for widget in (self.email, self.password, self.sign_in_button, self.offline_button):
            widget.setEnabled(not busy)
        self.sign_in_button.setText("Signing in…" if busy else "Sign in")
