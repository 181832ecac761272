"""The invitee's side: after sign-in, the invitations to this user's confirmed address, each to
join or leave for later.

Joining is the user's own act (`accept_invitation`, app/client/people.py); the app then opens
the org they joined (`switch_org`), since they asked for it. Each invitation is offered once per
run: an org switch does not ask again, a later sign-in does.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QVBoxLayout, QWidget

from app.client.formatting import local_time
from app.client.people import InvitationToMe, PeopleService
from app.client.views import Account
from ui.context import AppContext
from ui.errors import plain_message
from ui.widgets.headings import muted

log = structlog.get_logger(__name__)


class InvitationDialog(QDialog):
    """One invitation: Join, or Later."""

    def __init__(self, invitation: InvitationToMe, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.invitation = invitation
        self.setWindowTitle("Invitation")
        self.setObjectName("invitationDialog")
        text = QLabel(invitation.text)
        text.setWordWrap(True)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox()
        self.join = self.buttons.addButton(
            f"&Join {invitation.org_name}", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.later = self.buttons.addButton("&Later", QDialogButtonBox.ButtonRole.RejectRole)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addWidget(
            muted(f"The invitation is open until {local_time(invitation.expires_at)}.")
        )
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self.reject)

    def show_problem(self, text: str) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(text)
        self.message.show()


class InvitationOffer:
    """Asks the signed-in user about their open invitations, one dialog at a time."""

    def __init__(self, ctx: AppContext, parent: QWidget, joined: Callable[[Account], None]) -> None:
        self.ctx = ctx
        self.parent = parent
        self.joined = joined
        self.service = PeopleService(ctx.backend)
        self.offered: set[str] = set()
        self.dialog: InvitationDialog | None = None

    def check(self) -> None:
        account = self.ctx.backend.account
        if account is None or account.offline:
            return
        self.ctx.call(
            self.parent,
            self.service.my_invitations,
            self._offer,
            on_failure=lambda error: log.info("invitations not read", reason=str(error)),
        )

    def _offer(self, invitations: list[InvitationToMe]) -> None:
        fresh = [i for i in invitations if i.id not in self.offered]
        if not fresh or (self.dialog is not None and self.dialog.isVisible()):
            return
        invitation = fresh[0]
        self.offered.add(invitation.id)
        dialog = InvitationDialog(invitation, self.parent)
        dialog.buttons.accepted.connect(lambda: self._join(dialog))
        dialog.rejected.connect(self.check)  # the next one, if any
        dialog.open()
        self.dialog = dialog

    def _join(self, dialog: InvitationDialog) -> None:
        invitation = dialog.invitation
        dialog.buttons.setEnabled(False)

        def join() -> Account:
            self.service.accept(invitation.id)
            return self.ctx.backend.switch_org(invitation.org_id)

        def done(account: Account) -> None:
            dialog.accept()
            self.joined(account)

        self.ctx.call(
            dialog,
            join,
            done,
            label=f"Joining {invitation.org_name}…",
            on_failure=lambda error: dialog.show_problem(plain_message(error)),
        )
