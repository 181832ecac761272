"""The admin's Studio tab against the real stack: the library, an example file imported through
the file dialog, published and archived from the buttons; absent for other roles."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog

from app.client.studio import Status
from app.scenario_package import example_packages

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
EXAMPLE = next(p for p in example_packages() if p.name.startswith("discovery"))


def test_an_admin_imports_publishes_and_archives_from_the_library(
    window, sign_in, qtbot, db, monkeypatch
):
    (started,) = db.execute("select now()").fetchone()
    sign_in(window, "admin")
    pane = window.studio
    assert pane is not None
    window.workspace.setCurrentWidget(pane)
    qtbot.waitUntil(lambda: len(pane.items) > 0, timeout=30_000)
    assert not pane.publish_button.isEnabled()  # nothing selected yet
    try:
        # The file dialog stands in for the admin choosing the example file.
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(EXAMPLE), ""))
        pane.import_button.click()
        qtbot.waitUntil(lambda: pane.message.text().startswith("Imported"), timeout=30_000)

        def imported():
            return next(
                (
                    i
                    for i in pane.items
                    if i.scenario.title == "Discovery: the budget-conscious CFO"
                    and i.status is Status.DRAFT
                ),
                None,
            )

        qtbot.waitUntil(lambda: imported() is not None, timeout=30_000)
        pane.table.selectRow(pane.items.index(imported()))
        assert pane.publish_button.isEnabled() and pane.delete_button.isEnabled()
        assert not pane.archive_button.isEnabled()
        draft_id = imported().scenario.id
        pane.publish_button.click()

        def status_of(scenario_id: str):
            return next((i.status for i in pane.items if i.scenario.id == scenario_id), None)

        qtbot.waitUntil(lambda: status_of(draft_id) is Status.PUBLISHED, timeout=30_000)
        pane.table.selectRow([i.scenario.id for i in pane.items].index(draft_id))
        assert pane.archive_button.isEnabled() and not pane.delete_button.isEnabled()
        pane.archive_button.click()
        qtbot.waitUntil(lambda: status_of(draft_id) is Status.ARCHIVED, timeout=30_000)
        pane.table.selectRow([i.scenario.id for i in pane.items].index(draft_id))
        assert pane.publish_button.text() == "Resto&re" and not pane.archive_button.isEnabled()
        pane.publish_button.click()  # an archived version goes live again
        qtbot.waitUntil(lambda: status_of(draft_id) is Status.PUBLISHED, timeout=30_000)
        assert pane.message.text().endswith(": Restored.")
        pane.table.selectRow([i.scenario.id for i in pane.items].index(draft_id))
        assert pane.publish_button.text() == "Pu&blish"
        pane.search.setText("budget-conscious")
        qtbot.waitUntil(
            lambda: pane.items and all("budget" in i.scenario.title.lower() for i in pane.items),
            timeout=30_000,
        )
    finally:
        db.execute(
            "delete from public.scenarios where org_id = %s and created_at >= %s",
            (DEMO_ORG, started),
        )


def test_the_studio_is_for_admins_only(window, sign_in):
    sign_in(window, "manager")
    assert window.studio is None
    tabs = [window.workspace.tabText(i) for i in range(window.workspace.count())]
    assert "Stu&dio" not in tabs
