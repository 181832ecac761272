"""The admin's People tab: members, seats, invitations and teams.

Rendering and dispatch only: everything comes from and goes to the server through the client
core (app/client/people.py) on the network thread (ctx.call); the database decides who may do
what, and its refusals arrive as sentences shown where the action was asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
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
from app.client.people import (
    EMAIL,
    ROLES,
    Invited,
    Overview,
    PendingInvitation,
    PeopleService,
    Person,
    TeamView,
)
from app.client.views import Changes, utc_now
from sync.db_types import OrgRole
from ui.context import AppContext
from ui.errors import plain_message, show_error
from ui.models import Column, RowTableModel
from ui.widgets.confirm import confirm_destructive
from ui.widgets.headings import heading, muted, subheading
from ui.widgets.table import make_table

# Mnemonics: the workspace's tabs (&Home, &Leaderboard, &Team, &Assignments, Stu&dio, &People,
# A&udit log; HR's &Reports) and the toolbar (&Settings, Sign &out) keep theirs; the buttons
# here use none of those letters.

# Tables whose change (a sync round brought one) may change what the tab shows.
PEOPLE_DATA = ("org_members", "teams", "team_members", "orgs")


class MembersModel(RowTableModel[Person]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Name", lambda p: p.name),
                Column("Email", lambda p: p.email or ""),
                Column("Role", lambda p: p.role.value),
                Column("Teams", lambda p: ", ".join(p.teams)),
                Column(
                    "Last active", lambda p: local_time(p.last_active) if p.last_active else "–"
                ),
            ]
        )

    def row_key(self, row: Person) -> str:
        return row.user_id


class InvitationsModel(RowTableModel[PendingInvitation]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Email", lambda i: i.email),
                Column("Role", lambda i: i.role.value),
                Column("Teams", lambda i: ", ".join(i.teams)),
                Column("Expires", _expires),
                Column("Invited by", lambda i: i.invited_by or "–"),
            ]
        )

    def row_key(self, row: PendingInvitation) -> str:
        return row.id


class TeamsModel(RowTableModel[TeamView]):
    def __init__(self) -> None:
        super().__init__(
            [
                Column("Team", lambda t: t.name),
                Column("Members", lambda t: str(len(t.member_ids)), align_right=True),
            ]
        )

    def row_key(self, row: TeamView) -> str:
        return row.id


def _expires(invitation: PendingInvitation) -> str:
    when = local_time(invitation.expires_at)
    return f"expired {when}" if invitation.expired(utc_now()) else when


class InviteDialog(QDialog):
    """An address, a role and the teams the new member joins on accepting."""

    def __init__(self, teams: Sequence[TeamView], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Invite someone")
        self.setObjectName("inviteDialog")
        self.email = QLineEdit()
        self.email.setPlaceholderText("name@example.com")
        self.email.setAccessibleName("Email address")
        self.role = QComboBox()
        self.role.setAccessibleName("Role")
        for role in ROLES:
            self.role.addItem(role.value.capitalize() if role is not OrgRole.HR else "HR", role)
        self.teams = QListWidget()
        self.teams.setAccessibleName("Teams")
        for team in teams:
            item = QListWidgetItem(team.name)
            item.setData(Qt.ItemDataRole.UserRole, team.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.teams.addItem(item)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.send = self.buttons.addButton(
            "Send invitation", QDialogButtonBox.ButtonRole.AcceptRole
        )
        form = QFormLayout()
        for text, field in (("&Email", self.email), ("&Role", self.role), ("T&eams", self.teams)):
            label = QLabel(text)
            label.setBuddy(field)
            form.addRow(label, field)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(
            muted(
                "They join only by accepting, after signing in with this address. The "
                "invitation expires in 7 days."
            )
        )
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.buttons.rejected.connect(self.reject)

    def values(self) -> tuple[str, OrgRole, list[str]]:
        team_ids = [
            str(self.teams.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.teams.count())
            if self.teams.item(i).checkState() == Qt.CheckState.Checked
        ]
        return self.email.text().strip(), OrgRole(self.role.currentData()), team_ids

    def problem(self) -> str | None:
        """What is wrong with the form before anything is sent (None: nothing)."""
        email = self.email.text().strip()
        if not email:
            return "Enter the email address to invite."
        if not EMAIL.match(email.lower()):
            return f"“{email}” is not an email address (name@example.com)."
        return None

    def show_problem(self, text: str) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(text)
        self.message.show()


class PeoplePane(QWidget):
    """The org's members, their seats, open invitations and teams (admins only)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.service = PeopleService(ctx.backend)
        self.setObjectName("peoplePane")
        self.data: Overview | None = None
        self.dialog: QDialog | None = None

        self.title = heading("People")
        self.seats = muted()
        self.seats.setObjectName("seats")
        self.notice = muted()
        self.notice.setObjectName("peopleNotice")
        self.notice.hide()
        self.members = MembersModel()
        self.members_table = make_table(self.members, "membersTable", "Members", stretch=0)
        self.invite_button = QPushButton("&Invite…")
        self.role_button = QPushButton("&Change role…")
        self.remove_button = QPushButton("Re&move…")
        self.remove_button.setToolTip("End their membership; their attempts stay in reports")
        self.refresh_button = QPushButton("&Refresh")

        self.invitations = InvitationsModel()
        self.invitations_table = make_table(
            self.invitations, "invitationsTable", "Open invitations", stretch=0
        )
        self.resend_button = QPushButton("Send again")
        self.resend_button.setToolTip("A new link and expiry; the old link stops working")
        self.revoke_button = QPushButton("Re&voke…")

        self.teams = TeamsModel()
        self.teams_table = make_table(self.teams, "teamsTable", "Teams", stretch=0)
        self.new_team_button = QPushButton("Ne&w team…")
        self.rename_team_button = QPushButton("Re&name team…")
        self.add_member_button = QPushButton("Add to t&eam…")
        self.remove_member_button = QPushButton("Remove &from team…")

        for button in self._selection_buttons():
            button.setEnabled(False)

        top = QHBoxLayout()
        top.addWidget(self.seats, 1)
        top.addWidget(self.invite_button)
        top.addWidget(self.role_button)
        top.addWidget(self.remove_button)
        top.addWidget(self.refresh_button)
        invitations = _section(
            subheading("Open invitations"),
            self.invitations_table,
            (self.resend_button, self.revoke_button),
        )
        teams = _section(
            subheading("Teams"),
            self.teams_table,
            (
                self.new_team_button,
                self.rename_team_button,
                self.add_member_button,
                self.remove_member_button,
            ),
        )
        lower = QSplitter()
        lower.addWidget(invitations)
        lower.addWidget(teams)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.members_table)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(splitter, 1)

        self.refresh_button.clicked.connect(self.refresh)
        self.invite_button.clicked.connect(self.open_invite)
        self.role_button.clicked.connect(self.change_role_selected)
        self.remove_button.clicked.connect(self.remove_selected)
        self.resend_button.clicked.connect(self.resend_selected)
        self.revoke_button.clicked.connect(self.revoke_selected)
        self.new_team_button.clicked.connect(self.new_team)
        self.rename_team_button.clicked.connect(self.rename_selected_team)
        self.add_member_button.clicked.connect(self.add_to_selected_team)
        self.remove_member_button.clicked.connect(self.remove_from_selected_team)
        for table in (self.members_table, self.invitations_table, self.teams_table):
            table.selectionModel().currentRowChanged.connect(self._selected)
        ctx.changes.changed.connect(self._data_changed)

    # Reading -------------------------------------------------------------------------------
    def refresh(self) -> None:
        self.refresh_button.setEnabled(False)
        self.ctx.call(self, self.service.overview, self.show_data, on_failure=self._failed)

    def show_data(self, data: Overview) -> None:
        self.data = data
        self.refresh_button.setEnabled(True)
        self.members.set_rows(data.people)
        self.invitations.set_rows(data.invitations)
        self.teams.set_rows(data.teams)
        self.seats.setText(
            data.seats.text
            + (" · the plan is full: new people cannot join" if data.seats.full else "")
        )
        self._selected(QModelIndex())

    def _data_changed(self, changes: Changes) -> None:
        if self.isVisible() and changes.touch(*PEOPLE_DATA):
            self.refresh()

    def _failed(self, error: BaseException) -> None:
        self.refresh_button.setEnabled(True)
        show_error(self, error)

    def _selection_buttons(self) -> tuple[QPushButton, ...]:
        return (
            self.role_button,
            self.remove_button,
            self.resend_button,
            self.revoke_button,
            self.rename_team_button,
            self.add_member_button,
            self.remove_member_button,
        )

    def _selected(self, _index: QModelIndex, _previous: QModelIndex | None = None) -> None:
        person, invitation, team = self.person(), self.invitation(), self.team()
        for button in (self.role_button, self.remove_button):
            button.setEnabled(person is not None)
        for button in (self.resend_button, self.revoke_button):
            button.setEnabled(invitation is not None)
        self.rename_team_button.setEnabled(team is not None)
        self.add_member_button.setEnabled(team is not None)
        self.remove_member_button.setEnabled(team is not None and bool(team.member_ids))

    def person(self) -> Person | None:
        return _current(self.members_table, self.members.rows)

    def invitation(self) -> PendingInvitation | None:
        return _current(self.invitations_table, self.invitations.rows)

    def team(self) -> TeamView | None:
        return _current(self.teams_table, self.teams.rows)

    def _say(self, text: str) -> None:
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def _then_refresh(self, said: str = "") -> Callable[[Any], None]:
        def done(_result: Any) -> None:
            self._say(said)
            self.refresh()

        return done

    def _do(self, work: Callable[[], Any], label: str, said: str = "") -> None:
        self.ctx.call(
            self,
            work,
            self._then_refresh(said),
            label=label,
            on_failure=lambda error: show_error(self, error),
        )

    # Invitations ---------------------------------------------------------------------------
    def open_invite(self) -> InviteDialog:
        dialog = InviteDialog(self.data.teams if self.data else [], self)
        dialog.buttons.accepted.connect(lambda: self._invite(dialog))
        dialog.open()
        self.dialog = dialog
        return dialog

    def _invite(self, dialog: InviteDialog) -> None:
        problem = dialog.problem()
        if problem:
            dialog.show_problem(problem)
            return
        email, role, team_ids = dialog.values()
        dialog.buttons.setEnabled(False)

        def sent(invited: Invited) -> None:
            dialog.accept()
            self._say(invited.note or f"Invitation sent to {invited.email}.")
            self.refresh()

        self.ctx.call(
            dialog,
            lambda: self.service.invite(email, role, team_ids),
            sent,
            label="Sending the invitation…",
            on_failure=lambda error: dialog.show_problem(plain_message(error)),
        )

    def resend_selected(self) -> None:
        chosen = self.invitation()
        if chosen is not None:
            self.ctx.call(
                self,
                lambda: self.service.resend(chosen.id),
                lambda invited: (
                    self._say(invited.note or f"Invitation sent again to {invited.email}."),
                    self.refresh(),
                ),
                label="Sending the invitation again…",
                on_failure=lambda error: show_error(self, error),
            )

    def revoke_selected(self) -> QMessageBox | None:
        chosen = self.invitation()
        if chosen is None:
            return None
        return confirm_destructive(
            self,
            name="revokeInvitation",
            title="Revoke invitation",
            text=f"Revoke the invitation to {chosen.email}? Its link stops working at once.",
            action="Revoke",
            on_confirm=lambda: self._do(
                lambda: self.service.revoke(chosen.id),
                "Revoking the invitation…",
                f"The invitation to {chosen.email} was revoked.",
            ),
        )

    # Members -------------------------------------------------------------------------------
    def change_role_selected(self) -> QInputDialog | None:
        chosen = self.person()
        if chosen is None:
            return None
        roles = [role.value for role in ROLES]
        dialog = _choice(self, "changeRole", f"Role of {chosen.name}", "&Role", roles)
        dialog.setTextValue(chosen.role.value)
        dialog.textValueSelected.connect(
            lambda role: self._do(
                lambda: self.service.change_role(chosen.user_id, role),
                "Changing the role…",
                f"{chosen.name} is now {role}.",
            )
        )
        dialog.open()
        self.dialog = dialog
        return dialog

    def remove_selected(self) -> QMessageBox | None:
        chosen = self.person()
        if chosen is None:
            return None
        return confirm_destructive(
            self,
            name="removeMember",
            title="Remove member",
            text=f"Remove {chosen.name} from the org? Their seat is freed and they lose access; "
            "their attempts stay in reviews, reports and exports.",
            action="Remove",
            on_confirm=lambda: self._do(
                lambda: self.service.remove(chosen.user_id),
                "Removing the member…",
                f"{chosen.name} was removed.",
            ),
        )

    # Teams ---------------------------------------------------------------------------------
    def new_team(self) -> QInputDialog:
        dialog = _text(self, "newTeam", "New team", "&Name", "")
        dialog.textValueSelected.connect(
            lambda name: self._do(lambda: self.service.create_team(name), "Creating the team…")
        )
        dialog.open()
        self.dialog = dialog
        return dialog

    def rename_selected_team(self) -> QInputDialog | None:
        team = self.team()
        if team is None:
            return None
        dialog = _text(self, "renameTeam", f"Rename {team.name}", "&Name", team.name)
        dialog.textValueSelected.connect(
            lambda name: self._do(
                lambda: self.service.rename_team(team.id, name), "Renaming the team…"
            )
        )
        dialog.open()
        self.dialog = dialog
        return dialog

    def add_to_selected_team(self) -> QInputDialog | None:
        team = self.team()
        if team is None or self.data is None:
            return None
        others = {p.name: p.user_id for p in self.data.people if p.user_id not in team.member_ids}
        return self._pick_member(team, "addToTeam", f"Add to {team.name}", others, add=True)

    def remove_from_selected_team(self) -> QInputDialog | None:
        team = self.team()
        if team is None or self.data is None:
            return None
        inside = {p.name: p.user_id for p in self.data.people if p.user_id in team.member_ids}
        return self._pick_member(
            team, "removeFromTeam", f"Remove from {team.name}", inside, add=False
        )

    def _pick_member(
        self, team: TeamView, name: str, title: str, people: dict[str, str], *, add: bool
    ) -> QInputDialog | None:
        if not people:
            self._say("Everyone is in this team already." if add else "This team has nobody.")
            return None
        dialog = _choice(self, name, title, "&Person", sorted(people, key=str.casefold))

        def chosen(person: str) -> None:
            user_id = people[person]
            if add:
                self._do(lambda: self.service.add_to_team(team.id, user_id), "Adding…")
            else:
                self._do(lambda: self.service.remove_from_team(team.id, user_id), "Removing…")

        dialog.textValueSelected.connect(chosen)
        dialog.open()
        self.dialog = dialog
        return dialog


def _section(title: QLabel, table: QTableView, buttons: Sequence[QPushButton]) -> QWidget:
    widget = QWidget()
    layout = QVBoxLayout(widget)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(title)
    layout.addWidget(table, 1)
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    row.addStretch(1)
    layout.addLayout(row)
    return widget


def _current(table: QTableView, rows: Sequence[Any]) -> Any:
    index = table.currentIndex()
    return rows[index.row()] if index.isValid() and index.row() < len(rows) else None


def _text(parent: QWidget, name: str, title: str, label: str, value: str) -> QInputDialog:
    dialog = QInputDialog(parent)
    dialog.setObjectName(name)
    dialog.setWindowTitle(title)
    dialog.setLabelText(label)
    dialog.setTextValue(value)
    return dialog


def _choice(
    parent: QWidget, name: str, title: str, label: str, items: Sequence[str]
) -> QInputDialog:
    dialog = _text(parent, name, title, label, "")
    dialog.setComboBoxItems(list(items))
    dialog.setComboBoxEditable(False)
    return dialog
