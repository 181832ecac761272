"""Create an account: name, work email and password, then the 6-digit code Auth mails.

Two pages in one dialog, so a person who closes their mail client and comes back finds the
code field still waiting; "Send a new code" covers a lost or expired mail. On this computer's own
server (the embedded local stack) no mail leaves the machine: the dialog says where the mail
is and opens that folder. The checks and Auth's refusals in words are the client core's
(app/client/sign_up.py); this module only renders and dispatches.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.client.sign_up import MIN_PASSWORD_LENGTH, local_mail_folder
from app.client.views import Account
from ui.context import AppContext
from ui.errors import plain_message


class SignUpDialog(QDialog):
    signed_in = Signal(object)  # Account, once the code is confirmed

    def __init__(self, ctx: AppContext, email: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setObjectName("signUpDialog")
        self.setWindowTitle("Create a Coachdesk account")
        self.pages = QStackedWidget()
        self.pages.addWidget(self._details_page(email))
        self.pages.addWidget(self._code_page())
        self.message = QLabel()
        self.message.setObjectName("signUpMessage")
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Sign-up problem")
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.next_button = self.buttons.addButton(
            "Create account", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.next_button.setObjectName("primary")
        self.next_button.setDefault(True)
        self.buttons.rejected.connect(self.reject)
        self.next_button.clicked.connect(self.submit)
        layout = QVBoxLayout(self)
        layout.addWidget(self.pages)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    def _details_page(self, email: str) -> QWidget:
        page = QWidget()
        self.name = QLineEdit()
        self.name.setPlaceholderText("As colleagues should see it")
        self.name.setAccessibleName("Your name")
        self.email = QLineEdit(email)
        self.email.setPlaceholderText("you@company.com")
        self.email.setAccessibleName("Email address")
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText(f"At least {MIN_PASSWORD_LENGTH} characters")
        self.password.setAccessibleName("Password")
        self.repeated = QLineEdit()
        self.repeated.setEchoMode(QLineEdit.EchoMode.Password)
        self.repeated.setAccessibleName("Password again")
        intro = QLabel(
            "Use the address your admin invited, so the invitation finds you once you are in."
        )
        intro.setWordWrap(True)
        intro.setObjectName("muted")
        form = QFormLayout()
        form.addRow("&Name", self.name)
        form.addRow("&Email", self.email)
        form.addRow("&Password", self.password)
        form.addRow("Password &again", self.repeated)
        layout = QVBoxLayout(page)
        layout.addWidget(intro)
        layout.addLayout(form)
        return page

    def _code_page(self) -> QWidget:
        page = QWidget()
        self.sent_to = QLabel()
        self.sent_to.setWordWrap(True)
        self.code = QLineEdit()
        self.code.setPlaceholderText("123456")
        self.code.setAccessibleName("Code from the mail")
        self.code.setMaxLength(12)  # six digits, maybe split by spaces
        self.resend_button = QPushButton("Send a new &code")
        self.resend_button.clicked.connect(self.resend)
        self.mail_folder = QLabel()
        self.mail_folder.setWordWrap(True)
        self.mail_folder.setObjectName("muted")
        self.open_mail_button = QPushButton("Open the &mail folder")
        self.open_mail_button.clicked.connect(self.open_mail_folder)
        form = QFormLayout()
        form.addRow("C&ode", self.code)
        row = QHBoxLayout()
        row.addWidget(self.resend_button)
        row.addWidget(self.open_mail_button)
        row.addStretch()
        layout = QVBoxLayout(page)
        layout.addWidget(self.sent_to)
        layout.addLayout(form)
        layout.addLayout(row)
        layout.addWidget(self.mail_folder)
        return page

    @property
    def on_code_page(self) -> bool:
        return self.pages.currentIndex() == 1

    def submit(self) -> None:
        self.message.hide()
        if self.on_code_page:
            email, code = self.email.text().strip(), self.code.text()
            self._busy(True, "Checking…")
            self.ctx.call(
                self,
                lambda: self.ctx.backend.confirm_sign_up(email, code),
                self._confirmed,
                label="Confirming the account…",
                on_failure=self._failed,
            )
            return
        details = (
            self.email.text().strip(),
            self.password.text(),
            self.repeated.text(),
            self.name.text().strip(),
        )
        self._busy(True, "Creating…")
        self.ctx.call(
            self,
            lambda: self.ctx.backend.sign_up(*details),
            self._created,
            label="Creating the account…",
            on_failure=self._failed,
        )

    def resend(self) -> None:
        email = self.email.text().strip()
        self.resend_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.ctx.backend.resend_sign_up_code(email),
            lambda _none: self._resent(),
            on_failure=self._failed,
        )

    def open_mail_folder(self) -> None:
        folder = self._mail_folder()
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def show_problem(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {self.ctx.theme.colors.bad};")
        self.message.show()

    def _created(self, account: Account | None) -> None:
        self._busy(False)
        self.password.clear()
        self.repeated.clear()
        if account is not None:  # the server confirms at once: nothing to wait for
            self._confirmed(account)
            return
        email = self.email.text().strip()
        self.sent_to.setText(
            f"We sent a 6-digit code to {email}. Enter it here to finish creating the account. "
            "No mail after a few minutes? The address may have an account already (the server "
            "does not say so, to keep addresses private): sign in with it instead."
        )
        folder = self._mail_folder()
        self.mail_folder.setVisible(folder is not None)
        self.open_mail_button.setVisible(folder is not None)
        if folder is not None:
            self.mail_folder.setText(
                "This computer's own Coachdesk server sends no mail: it keeps each message as "
                f"a file in {folder} (open the newest one)."
            )
        self.pages.setCurrentIndex(1)
        self.next_button.setText("Confirm")
        self.code.setFocus()

    def _confirmed(self, account: Account) -> None:
        self._busy(False)
        self.ctx.preferences.remember_email(account.email)
        self.signed_in.emit(account)
        self.accept()

    def _resent(self) -> None:
        self.resend_button.setEnabled(True)
        self.message.setText("A new code is on its way; the one before no longer works.")
        self.message.setStyleSheet("")
        self.message.show()

    def _failed(self, error: BaseException) -> None:
        self._busy(False)
        self.resend_button.setEnabled(True)
        self.show_problem(plain_message(error))

    def _busy(self, busy: bool, text: str = "") -> None:
        self.next_button.setEnabled(not busy)
        if busy:
            self.next_button.setText(text)
        else:
            self.next_button.setText("Confirm" if self.on_code_page else "Create account")

    def _mail_folder(self) -> Path | None:
        return local_mail_folder(self.ctx.backend.server.url)
