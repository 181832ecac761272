"""The admin's People tab against the real stack: members and seats, an invitation sent through
the dialog (its address checked first), then revoked after confirming; the last admin refused
in words; and the invitee's side: offered the invitation after signing in, joining the org.

In an org of its own (`fresh_org`), so the seed orgs other tests count stay as they are.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox
from stack_fixtures import FRESH_PASSWORD, sign_up_confirmed
from ui_flows import join_offered_invitation, open_tab, sign_in_as

from supabase import ClientOptions, create_client
from ui.people_pane import PeoplePane


def _sign_in(window, qtbot, email: str) -> None:
    sign_in_as(qtbot, window, email)
    qtbot.waitUntil(
        lambda: window.home is not None and window.home.data is not None, timeout=30_000
    )


def _open_people(window, qtbot) -> PeoplePane:
    return open_tab(qtbot, window, window.people, lambda pane: pane.data is not None)


def _invitation(fresh_org, email: str):
    return fresh_org.one(
        "select role::text, team_ids::text[] as teams, revoked_at from org_invitations"
        " where email = %s",
        (email,),
    )


def test_only_admins_get_the_people_tab(window, sign_in):
    sign_in(window, "manager")
    tabs = [window.workspace.tabText(i) for i in range(window.workspace.count())]
    assert "&People" not in tabs and window.people is None


def test_an_admin_sees_members_and_seats_invites_and_revokes(window, qtbot, fresh_org):
    team = fresh_org.team("East", fresh_org.trainee)
    _sign_in(window, qtbot, fresh_org.emails["admin"])
    pane = _open_people(window, qtbot)
    assert window.workspace.tabText(window.workspace.currentIndex()) == "&People"
    hint = window.minimumSizeHint()  # fits a 1366x768 laptop (tests/ui/test_layout_and_keyboard)
    assert hint.width() <= 1366 and hint.height() <= 768 - 80
    assert [(p.name, p.role.value, p.teams) for p in pane.members.rows] == [
        ("Ada Admin", "admin", ()),
        ("Tom Trainee", "trainee", ("East",)),
    ]
    assert pane.seats.text() == "2 of 3 seats used"
    assert [t.name for t in pane.teams.rows] == ["East"]

    dialog = pane.open_invite()
    dialog.email.setText("ana@example")
    dialog.send.click()
    assert dialog.isVisible() and "not an email address" in dialog.message.text()

    email = fresh_org.new_email()
    dialog.email.setText(email)
    dialog.role.setCurrentIndex(dialog.role.findText("Manager"))
    dialog.teams.item(0).setCheckState(Qt.CheckState.Checked)
    dialog.send.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)
    qtbot.waitUntil(lambda: [i.email for i in pane.invitations.rows] == [email], timeout=30_000)
    assert pane.invitations.rows[0].teams == ("East",)
    assert pane.notice.text() == f"Invitation sent to {email}."
    assert _invitation(fresh_org, email) == {"role": "manager", "teams": [team], "revoked_at": None}

    pane.invitations_table.selectRow(0)
    box = pane.revoke_selected()
    assert box is not None and box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    revoke = next(b for b in box.buttons() if b.text() == "Revoke")
    revoke.click()
    qtbot.waitUntil(lambda: pane.invitations.rows == [], timeout=30_000)
    assert _invitation(fresh_org, email)["revoked_at"] is not None  # revoked on the server
    assert pane.notice.text() == f"The invitation to {email} was revoked."


def test_the_last_admin_is_refused_in_words(window, qtbot, fresh_org, monkeypatch):
    shown: list[str] = []
    monkeypatch.setattr(
        "ui.people_pane.show_error", lambda _parent, error: shown.append(str(error))
    )
    _sign_in(window, qtbot, fresh_org.emails["admin"])
    pane = _open_people(window, qtbot)
    pane.members_table.selectRow(0)  # Ada Admin, the only admin
    dialog = pane.change_role_selected()
    assert dialog is not None and dialog.textValue() == "admin"
    dialog.setTextValue("trainee")
    dialog.accept()
    qtbot.waitUntil(lambda: bool(shown), timeout=30_000)
    assert "at least one admin" in shown[0]
    role = fresh_org.one(
        "select role::text from org_members where user_id = %s", (fresh_org.admin,)
    )["role"]
    assert role == "admin"


def test_an_invitee_is_offered_the_invitation_after_signing_in_and_joins(
    window, qtbot, fresh_org, stack
):
    email = fresh_org.new_email()
    fresh_org.conn.execute(
        "insert into org_invitations (org_id, email, role, token_hash, invited_by)"
        " values (%s, %s, 'manager', encode(extensions.digest(gen_random_uuid()::text,"
        " 'sha256'), 'hex'), %s)",
        (fresh_org.id, email, fresh_org.admin),
    )
    signer = create_client(
        stack.url, stack.anon_key, ClientOptions(auto_refresh_token=False, persist_session=False)
    )
    sign_up_confirmed(signer, stack, email, FRESH_PASSWORD)  # new to the server: no org yet

    _sign_in(window, qtbot, email)
    offered = join_offered_invitation(qtbot, window, fresh_org.id)
    assert f"to join {fresh_org.name} as a manager." in offered
    assert window.ctx.backend.account.role.value == "manager"
    assert window.manager is not None  # the workspace was built again for the new org


def test_an_admin_makes_a_team_staffs_it_and_resends_an_invitation(window, qtbot, fresh_org):
    _sign_in(window, qtbot, fresh_org.emails["admin"])
    pane = _open_people(window, qtbot)
    dialog = pane.new_team()
    dialog.setTextValue("North")
    dialog.accept()
    qtbot.waitUntil(lambda: [t.name for t in pane.teams.rows] == ["North"], timeout=30_000)

    pane.teams_table.selectRow(0)
    dialog = pane.add_to_selected_team()
    assert dialog is not None and dialog.comboBoxItems() == ["Ada Admin", "Tom Trainee"]
    dialog.setTextValue("Tom Trainee")
    dialog.accept()
    qtbot.waitUntil(
        lambda: pane.teams.rows and pane.teams.rows[0].member_ids == (fresh_org.trainee,),
        timeout=30_000,
    )
    assert {p.name: p.teams for p in pane.members.rows}["Tom Trainee"] == ("North",)

    email = fresh_org.new_email()
    first = pane.service.invite(email, "trainee")
    pane.refresh()
    qtbot.waitUntil(lambda: [i.id for i in pane.invitations.rows] == [first.invitation_id])
    pane.invitations_table.selectRow(0)
    pane.resend_selected()
    qtbot.waitUntil(
        lambda: (
            len(pane.invitations.rows) == 1 and pane.invitations.rows[0].id != first.invitation_id
        ),
        timeout=30_000,
    )
    assert pane.notice.text() == f"Invitation sent again to {email}."


def test_an_admin_promotes_a_member_then_removes_them_after_confirming(window, qtbot, fresh_org):
    _sign_in(window, qtbot, fresh_org.emails["admin"])
    pane = _open_people(window, qtbot)
    assert pane.seats.text() == "2 of 3 seats used"
    row = [p.name for p in pane.members.rows].index("Tom Trainee")
    pane.members_table.selectRow(row)
    dialog = pane.change_role_selected()
    assert dialog is not None and dialog.textValue() == "trainee"
    dialog.setTextValue("manager")
    dialog.accept()
    qtbot.waitUntil(
        lambda: {p.name: p.role.value for p in pane.members.rows}["Tom Trainee"] == "manager",
        timeout=30_000,
    )
    assert fresh_org.one(
        "select role::text from org_members where user_id = %s", (fresh_org.trainee,)
    ) == {"role": "manager"}

    row = [p.name for p in pane.members.rows].index("Tom Trainee")
    pane.members_table.selectRow(row)
    box = pane.remove_selected()
    assert box is not None and "their attempts stay" in box.text()
    assert box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    next(b for b in box.buttons() if b.text() == "Remove").click()
    qtbot.waitUntil(lambda: [p.name for p in pane.members.rows] == ["Ada Admin"], timeout=30_000)
    assert pane.seats.text() == "1 of 3 seats used"
    assert pane.notice.text() == "Tom Trainee was removed."
    gone = fresh_org.conn.execute(
        "select 1 from org_members where user_id = %s", (fresh_org.trainee,)
    ).fetchone()
    assert gone is None
