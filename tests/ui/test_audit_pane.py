"""The Audit log tab against the real stack: an admin's action listed, filtered, paged and saved
as CSV; HR has the tab too, a trainee does not."""

from __future__ import annotations

import csv

from PySide6.QtCore import QDate
from PySide6.QtWidgets import QFileDialog, QMessageBox

from sync.db_types import AuditAction

AUDIT_TAB = "A&udit log"
# A 1366x768 screen less a taskbar and the window's title bar (test_layout_and_keyboard.py).
SMALL_SCREEN = (1366, 768 - 80)


def _tabs(window) -> list[str]:
    return [window.workspace.tabText(i) for i in range(window.workspace.count())]


def test_an_admin_reads_filters_pages_and_exports_the_log(
    window, sign_in, qtbot, monkeypatch, tmp_path, new_email
):
    sign_in(window, "admin")
    backend = window.ctx.backend
    email = new_email()
    [invitation] = backend.live(
        lambda s: s.rpc("invite_member", {"email": email, "role": "manager"})
    )
    invitation_id = invitation["invitation_id"]
    backend.live(lambda s: s.rpc("revoke_invitation", {"invitation_id": invitation_id}))

    assert AUDIT_TAB in _tabs(window)
    pane = window.audit
    window.workspace.setCurrentWidget(pane)  # shown: it reads the first page
    qtbot.waitUntil(lambda: invitation_id in {e.target_id for e in pane.rows}, timeout=30_000)
    assert pane.model.rowCount() == len(pane.rows)
    assert pane.rows[0].action is AuditAction.INVITATION_REVOKED  # the newest first
    assert pane.model.index(0, 3).data() == "Invitation revoked"
    assert pane.model.index(0, 1).data() == backend.account.display_name
    assert window.minimumSizeHint().width() <= SMALL_SCREEN[0]
    assert window.minimumSizeHint().height() <= SMALL_SCREEN[1]

    # The action filter narrows the list to that action.
    pane.action.setCurrentIndex(pane.action.findText("Member invited"))
    qtbot.waitUntil(
        lambda: bool(pane.rows) and {e.action for e in pane.rows} == {AuditAction.MEMBER_INVITED},
        timeout=30_000,
    )
    [ours] = [e for e in pane.rows if e.target_id == invitation_id]
    assert ours.detail == f"{email} as Manager"

    # Pages of one (of every action): Load more brings the next older event.
    pane.page_rows = 1
    pane.action.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(pane.rows) == 1 and pane.more_button.isEnabled(), timeout=30_000)
    first = pane.rows[0]
    pane.more_button.click()
    qtbot.waitUntil(lambda: len(pane.rows) == 2, timeout=30_000)
    assert pane.rows[0] == first and pane.rows[1].occurred_at <= first.occurred_at
    pane.page_rows = 200
    pane.action.setCurrentIndex(pane.action.findText("Member invited"))

    # Until yesterday: nothing (every event of this stack is from today).
    pane.until.setDate(QDate.currentDate().addDays(-1))
    pane.until_on.setChecked(True)
    qtbot.waitUntil(lambda: pane.rows == [] and "No events" in pane.count.text(), timeout=30_000)
    pane.until_on.setChecked(False)
    qtbot.waitUntil(lambda: invitation_id in {e.target_id for e in pane.rows}, timeout=30_000)
    assert not pane.page.more

    # Export: the user's choice of file stands in for the dialog. A folder that is gone is
    # said in words and leaves nothing; a name without ".csv" gets it.
    chosen = [tmp_path / "gone" / "audit.csv"]
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", lambda *_a, **_k: (str(chosen[0]), "CSV files (*.csv)")
    )
    pane.export_button.click()
    qtbot.waitUntil(lambda: pane.findChild(QMessageBox, "errorMessage") is not None, timeout=30_000)
    assert "Could not save the audit log" in pane.findChild(QMessageBox, "errorMessage").text()
    assert pane.export_button.isEnabled() and not (tmp_path / "gone").exists()
    pane.findChild(QMessageBox, "errorMessage").close()
    chosen[0] = tmp_path / "audit"
    pane.export_button.click()
    qtbot.waitUntil(lambda: pane.last_export is not None, timeout=30_000)
    assert pane.last_export.path == tmp_path / "audit.csv"
    with (tmp_path / "audit.csv").open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    assert {r["action"] for r in rows} == {"member.invited"}
    assert sorted(r["target_id"] for r in rows) == sorted(e.target_id for e in pane.rows)
    assert f"Saved {len(rows)} event(s)" in pane.count.text()
    assert pane.export_button.isEnabled()


def test_hr_has_the_audit_log_and_a_trainee_does_not(window, sign_in, qtbot):
    sign_in(window, "hr")
    assert AUDIT_TAB in _tabs(window) and "&Team" not in _tabs(window)
    window.workspace.setCurrentWidget(window.audit)
    qtbot.waitUntil(lambda: bool(window.audit.rows), timeout=30_000)

    window.sign_out()
    qtbot.waitUntil(lambda: window.workspace is None, timeout=30_000)
    sign_in(window, "trainee")
    assert AUDIT_TAB not in _tabs(window) and window.audit is None
