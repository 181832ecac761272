"""A new person's first day, all in the app against the real stack: an admin invites an
address nobody has used, the invitee creates an account from the sign-in screen (the code from
the mail Auth sent), is offered the invitation, joins, and the admin sees them in People.

In an org of its own (`fresh_org`), so the seed orgs other tests count stay as they are.
"""

from __future__ import annotations

from stack_fixtures import mailed
from ui_flows import join_offered_invitation, open_tab, sign_in_as, sign_out

from ui.people_pane import PeoplePane

PASSWORD = "first-day-pass-1"


def _people(window, qtbot) -> PeoplePane:
    return open_tab(qtbot, window, window.people, lambda pane: pane.data is not None)


def test_an_invited_person_creates_an_account_joins_and_appears_in_people(
    window, qtbot, fresh_org, stack
):
    email = fresh_org.new_email()
    sign_in_as(qtbot, window, fresh_org.emails["admin"])
    invite = _people(window, qtbot).open_invite()
    invite.email.setText(email)
    invite.role.setCurrentIndex(invite.role.findText("Trainee"))
    invite.send.click()
    qtbot.waitUntil(lambda: not invite.isVisible(), timeout=30_000)
    sign_out(qtbot, window)

    dialog = window.signin.create_account()
    assert dialog.isVisible() and not dialog.on_code_page
    dialog.name.setText("Nia New")
    dialog.email.setText(email)
    dialog.password.setText(PASSWORD)
    dialog.repeated.setText(PASSWORD + "!")
    dialog.next_button.click()
    qtbot.waitUntil(lambda: dialog.message.isVisible(), timeout=30_000)
    assert "not the same" in dialog.message.text() and not dialog.on_code_page
    dialog.repeated.setText(PASSWORD)
    dialog.next_button.click()
    qtbot.waitUntil(lambda: dialog.on_code_page, timeout=30_000)
    assert email in dialog.sent_to.text()

    dialog.code.setText("000000")
    dialog.next_button.click()
    qtbot.waitUntil(lambda: "not right or has expired" in dialog.message.text(), timeout=30_000)
    code, _ = mailed(stack, email)  # the invitee reads the mail the sign-up sent
    dialog.code.setText(code[:3] + " " + code[3:])
    dialog.next_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=30_000)

    join_offered_invitation(qtbot, window, fresh_org.id)
    assert window.ctx.backend.account.role.value == "trainee"
    assert window.ctx.backend.account.display_name == "Nia New"

    sign_out(qtbot, window)
    sign_in_as(qtbot, window, email, PASSWORD)  # the password from the form signs in from now on
    assert window.ctx.backend.account.org_id == fresh_org.id
    sign_out(qtbot, window)
    sign_in_as(qtbot, window, fresh_org.emails["admin"])
    pane = _people(window, qtbot)
    assert ("Nia New", "trainee") in [(p.name, p.role.value) for p in pane.members.rows]
    assert pane.invitations.rows == []  # accepted: no longer open


def test_a_forgotten_password_is_set_again_from_the_sign_in_screen(window, qtbot, fresh_org, stack):
    email = fresh_org.emails["trainee"]
    window.signin.email.setText(email)
    dialog = window.signin.reset_password()
    assert dialog.email.text() == email  # what was typed on the sign-in screen
    dialog.next_button.click()
    qtbot.waitUntil(lambda: dialog.on_code_page, timeout=30_000)
    assert email in dialog.sent_to.text()
    dialog.code.setText(mailed(stack, email)[0])
    dialog.password.setText(PASSWORD)
    dialog.repeated.setText(PASSWORD)
    dialog.next_button.click()
    qtbot.waitUntil(
        lambda: window.workspace is not None and window.workspace.isVisible(), timeout=30_000
    )
    assert not dialog.isVisible()
    assert window.ctx.backend.account.org_id == fresh_org.id
    sign_out(qtbot, window)
    sign_in_as(qtbot, window, email, PASSWORD)
