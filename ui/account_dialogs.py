"""Account dialogs that finish with a code Auth mails: creating an account, and setting a new
password when the old one is forgotten.

Each is two pages in one dialog (what to send, then the code), so a person who switches to their
mail and back finds the code field still waiting; "Send a new code" covers a lost or expired
mail. On this computer's own server (the embedded local stack) no mail leaves the machine: the
code page says where the mail is and opens that folder. The checks and Auth's refusals in words
are the client core's (app/client/sign_up.py); this module only renders and dispatches.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

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
from ui.widgets.headings import subheading

NO_MAIL_HINT = (
    "No mail after a few minutes? Check the address; the server does not say which addresses "
    "have accounts, to keep them private."
)


def _password_field(name: str, placeholder: str = "") -> QLineEdit:
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setAccessibleName(name)
    field.setPlaceholderText(placeholder)
    return field


class MailedCodeDialog(QDialog):
    """The shared frame: a first page of the subclass's, then the code page; one primary
    button that sends the first page, then confirms the code."""

    signed_in = Signal(object)  # Account, once the code is confirmed

    FIRST_ACTION = ""  # the primary button's text on the first page
    CONFIRM_ACTION = "Confirm"

    def __init__(
        self, ctx: AppContext, email: str, title: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(title)
        self.email = QLineEdit(email)
        self.email.setPlaceholderText("you@company.com")
        self.email.setAccessibleName("Email address")
        self.pages = QStackedWidget()
        self.pages.addWidget(self.first_page())
        self.pages.addWidget(self._code_page())
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Problem")
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.next_button = self.buttons.addButton(
            self.FIRST_ACTION, QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.next_button.setObjectName("primary")
        self.next_button.setDefault(True)
        self.buttons.rejected.connect(self.reject)
        self.next_button.clicked.connect(self.submit)
        layout = QVBoxLayout(self)
        # The title again inside: without a window manager's frame it is all that says what
        # the dialog is for.
        layout.addWidget(subheading(title))
        layout.addWidget(self.pages)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(460)

    # What subclasses say ------------------------------------------------------------------
    def first_page(self) -> QWidget:
        raise NotImplementedError

    def send(self) -> Callable[[], Any]:
        """The backend call the first page makes (None from it: a code was mailed)."""
        raise NotImplementedError

    def confirm(self) -> Callable[[], Account]:
        raise NotImplementedError

    def code_page_rows(self, form: QFormLayout) -> None:
        """More fields under the code (a new password)."""

    def sent_text(self, email: str) -> str:
        raise NotImplementedError

    # The frame ----------------------------------------------------------------------------
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
        self.code_page_rows(form)
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
        self._busy(True)
        if self.on_code_page:
            self.ctx.call(self, self.confirm(), self._confirmed, on_failure=self._failed)
        else:
            self.ctx.call(self, self.send(), self._sent, on_failure=self._failed)

    def resend(self) -> None:
        self.resend_button.setEnabled(False)
        self.ctx.call(self, self.send(), lambda _none: self._resent(), on_failure=self._failed)

    def open_mail_folder(self) -> None:
        folder = self._mail_folder()
        if folder is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def show_problem(self, text: str) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {self.ctx.theme.colors.bad};")
        self.message.show()

    def _sent(self, account: Account | None) -> None:
        if account is not None:  # a server that confirms at once: nothing to wait for
            self._confirmed(account)
            return
        self.sent_to.setText(self.sent_text(self.email.text().strip()) + " " + NO_MAIL_HINT)
        folder = self._mail_folder()
        self.mail_folder.setVisible(folder is not None)
        self.open_mail_button.setVisible(folder is not None)
        if folder is not None:
            self.mail_folder.setText(
                "This computer's own Coachdesk server sends no mail: it keeps each message as "
                f"a file in {folder} (open the newest one)."
            )
        self.pages.setCurrentIndex(1)
        self._busy(False)
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

    def _busy(self, busy: bool) -> None:
        self.next_button.setEnabled(not busy)
        idle = self.CONFIRM_ACTION if self.on_code_page else self.FIRST_ACTION
        self.next_button.setText("Working…" if busy else idle)

    def _mail_folder(self) -> Path | None:
        return local_mail_folder(self.ctx.backend.server.url)


class SignUpDialog(MailedCodeDialog):
    """Name, work email and password; then the code that confirms the address."""

    FIRST_ACTION = "Create account"

    def __init__(self, ctx: AppContext, email: str = "", parent: QWidget | None = None) -> None:
        super().__init__(ctx, email, "Create a Coachdesk account", parent)
        self.setObjectName("signUpDialog")

    def first_page(self) -> QWidget:
        page = QWidget()
        self.name = QLineEdit()
        self.name.setPlaceholderText("As colleagues should see it")
        self.name.setAccessibleName("Your name")
        self.password = _password_field("Password", f"At least {MIN_PASSWORD_LENGTH} characters")
        self.repeated = _password_field("Password again")
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

    def send(self) -> Callable[[], Account | None]:
        details = (
            self.email.text().strip(),
            self.password.text(),
            self.repeated.text(),
            self.name.text().strip(),
        )
        return lambda: self.ctx.backend.sign_up(*details)

    def confirm(self) -> Callable[[], Account]:
        email, code = self.email.text().strip(), self.code.text()
        return lambda: self.ctx.backend.confirm_sign_up(email, code)

    def resend(self) -> None:
        email = self.email.text().strip()
        self.resend_button.setEnabled(False)
        self.ctx.call(
            self,
            lambda: self.ctx.backend.resend_sign_up_code(email),
            lambda _none: self._resent(),
            on_failure=self._failed,
        )

    def _sent(self, account: Account | None) -> None:
        self.password.clear()  # not kept in the dialog once the server has it
        self.repeated.clear()
        super()._sent(account)

    def sent_text(self, email: str) -> str:
        return f"We sent a 6-digit code to {email}. Enter it here to finish creating the account."


class PasswordResetDialog(MailedCodeDialog):
    """The account's email; then the mailed code and a new password, which signs in."""

    FIRST_ACTION = "Send code"
    CONFIRM_ACTION = "Set password"

    def __init__(self, ctx: AppContext, email: str = "", parent: QWidget | None = None) -> None:
        super().__init__(ctx, email, "Set a new password", parent)
        self.setObjectName("passwordResetDialog")

    def first_page(self) -> QWidget:
        page = QWidget()
        intro = QLabel(
            "We mail a code to your account's address; with it you choose a new password."
        )
        intro.setWordWrap(True)
        form = QFormLayout()
        form.addRow("&Email", self.email)
        layout = QVBoxLayout(page)
        layout.addWidget(intro)
        layout.addLayout(form)
        return page

    def code_page_rows(self, form: QFormLayout) -> None:
        self.password = _password_field(
            "New password", f"At least {MIN_PASSWORD_LENGTH} characters"
        )
        self.repeated = _password_field("New password again")
        form.addRow("&New password", self.password)
        form.addRow("New password &again", self.repeated)

    def send(self) -> Callable[[], None]:
        email = self.email.text().strip()
        return lambda: self.ctx.backend.request_password_reset(email)

    def confirm(self) -> Callable[[], Account]:
        values = (self.email.text().strip(), self.code.text())
        passwords = (self.password.text(), self.repeated.text())
        return lambda: self.ctx.backend.reset_password(*values, *passwords)

    def sent_text(self, email: str) -> str:
        return (
            f"If {email} has an account, we sent it a 6-digit code. Enter it with a new password."
        )
