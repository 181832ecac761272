"""Sign-in: email and password against the configured server, or work offline on a saved session.

Signing in runs on the network thread; the form stays responsive and shows problems inline in
plain words (wrong password, server unreachable) instead of a dialog.
"""

from __future__ import annotations

from typing import TypeVar

import structlog
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.client.views import Account
from ui.account_dialogs import MailedCodeDialog, PasswordResetDialog, SignUpDialog
from ui.context import AppContext
from ui.errors import plain_message

log = structlog.get_logger(__name__)

CARD_WIDTH = 440
D = TypeVar("D", bound=MailedCodeDialog)


class SignInScreen(QWidget):
    signed_in = Signal(object)  # Account

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("signInScreen")
        card = QFrame()
        card.setObjectName("card")
        card.setFixedWidth(CARD_WIDTH)
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
        # No system keyring: say how to get one, and offer the encrypted file instead.
        self.keyring_notice = QLabel()
        self.keyring_notice.setObjectName("keyringNotice")
        self.keyring_notice.setWordWrap(True)
        self.keyring_notice.setAccessibleName("Sign-in not remembered")
        self.encrypt_button = QPushButton()
        self.encrypt_button.setObjectName("keepSignInEncrypted")
        self.passphrase_dialog: QInputDialog | None = None
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.setObjectName("primary")
        self.sign_in_button.setDefault(True)
        self.offline_button = QPushButton("Work offline")
        self.offline_button.setObjectName("workOffline")
        self.offline_button.setToolTip(
            "Use the sign-in saved on this computer; works without the server and syncs when "
            "it is reachable"
        )

        self.sign_up_button = QPushButton("Create an &account…")
        self.sign_up_button.setObjectName("createAccount")
        self.sign_up_button.setToolTip(
            "New to Coachdesk: make an account with your work email, then accept your "
            "admin's invitation"
        )
        self.forgot_button = QPushButton("&Forgot password?")
        self.forgot_button.setObjectName("forgotPassword")
        self.forgot_button.setFlat(True)
        self.account_dialog: MailedCodeDialog | None = None

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
        account_row = QHBoxLayout()
        account_row.addWidget(self.sign_up_button)
        account_row.addStretch()
        account_row.addWidget(self.forgot_button)
        inner.addLayout(account_row)
        inner.addWidget(self.keyring_notice)
        inner.addWidget(self.encrypt_button, alignment=Qt.AlignmentFlag.AlignLeft)
        # Centred by stretches, not by alignment: an aligned item's height is asked for the
        # whole screen's width, so a problem text wrapped at the card's width was cut off.
        row = QHBoxLayout()
        row.addStretch()
        row.addWidget(card)
        row.addStretch()
        outer = QVBoxLayout(self)
        outer.addStretch()
        outer.addLayout(row)
        outer.addStretch()

        self.sign_in_button.clicked.connect(self.submit)
        self.password.returnPressed.connect(self.submit)
        self.email.returnPressed.connect(self.password.setFocus)
        self.offline_button.clicked.connect(self.work_offline)
        self.encrypt_button.clicked.connect(self.ask_passphrase)
        self.sign_up_button.clicked.connect(self.create_account)
        self.forgot_button.clicked.connect(self.reset_password)
        self.refresh()

    def refresh(self) -> None:
        """Show the server in use; offer to continue (offline too) when a sign-in is saved."""
        self.server.setText(f"Server: {self.ctx.backend.server.url}")
        self.offline_button.hide()
        self._show_keyring_choice()
        self.password.clear()
        self._set_busy(False)
        (self.password if self.email.text() else self.email).setFocus()
        # The keyring may be slow (a D-Bus round trip): ask off the GUI thread.
        self.ctx.call(
            self, self.ctx.backend.cached_account, self._show_cached, on_failure=self._no_cache
        )

    def _show_keyring_choice(self) -> None:
        problem = self.ctx.backend.keyring_problem
        self.keyring_notice.setVisible(problem is not None)
        self.encrypt_button.setVisible(problem is not None)
        if problem is None:
            return
        self.keyring_notice.setText(problem)
        exists = self.ctx.backend.encrypted_sign_in_file.exists()
        self.encrypt_button.setText(
            "Unlock the saved sign-in…" if exists else "Keep sign-in in an encrypted file…"
        )

    def ask_passphrase(self) -> QInputDialog:
        """Ask (without blocking) for the passphrase that encrypts or unlocks the sign-in file."""
        path = self.ctx.backend.encrypted_sign_in_file
        dialog = QInputDialog(self)
        dialog.setObjectName("passphraseDialog")
        dialog.setWindowTitle("Encrypted sign-in")
        dialog.setTextEchoMode(QLineEdit.EchoMode.Password)
        if path.exists():
            dialog.setLabelText(f"Passphrase of the saved sign-in ({path}):")
        else:
            dialog.setLabelText(
                f"Choose a passphrase. Your sign-in will be kept in {path}, encrypted with it; "
                "Coachdesk asks for it when it starts."
            )
        dialog.textValueSelected.connect(self._use_passphrase)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.passphrase_dialog = dialog
        dialog.open()
        return dialog

    def _use_passphrase(self, passphrase: str) -> None:
        self._set_busy(True)
        self.ctx.call(
            self,
            lambda: self.ctx.backend.keep_sign_in_encrypted(passphrase),
            lambda _none: self._encrypted(),
            on_failure=self._failed,
        )

    def _encrypted(self) -> None:
        self._set_busy(False)
        self._show_keyring_choice()
        self.message.setText(
            f"Your sign-in is kept in {self.ctx.backend.encrypted_sign_in_file}, encrypted."
        )
        self.message.setStyleSheet("")
        self.message.show()
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

    def create_account(self) -> SignUpDialog:
        return self._open_account_dialog(SignUpDialog(self.ctx, self.email.text().strip(), self))

    def reset_password(self) -> PasswordResetDialog:
        return self._open_account_dialog(
            PasswordResetDialog(self.ctx, self.email.text().strip(), self)
        )

    def _open_account_dialog(self, dialog: D) -> D:
        """Shown window-modal; kept in `account_dialog` while open (tests and screenshots
        reach it there); its sign-in is this screen's."""
        dialog.signed_in.connect(self._done)
        dialog.finished.connect(lambda _result: setattr(self, "account_dialog", None))
        self.account_dialog = dialog
        dialog.open()
        return dialog

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
        widgets = (
            self.email,
            self.password,
            self.sign_in_button,
            self.offline_button,
            self.encrypt_button,
            self.sign_up_button,
            self.forgot_button,
        )
        for widget in widgets:
            widget.setEnabled(not busy)
        self.sign_in_button.setText("Signing in…" if busy else "Sign in")
