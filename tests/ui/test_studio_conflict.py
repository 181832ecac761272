"""A draft edited offline in the scenario editor against the real stack: kept on this computer a
moment after the edit, and when someone else saved the draft first, the conflict banner in the
editor and the library with its two ways out (take theirs; keep mine as a copy)."""

from __future__ import annotations

from dataclasses import replace

from ui_flows import editing_an_imported_draft

from app.scenario_package import example_packages

EXAMPLE = next(p for p in example_packages() if p.name.startswith("objection"))


def _someone_else_saves(db, scenario_id: str, description: str) -> None:
    """Another admin's save, straight in the database (it moves the revision on, as any does)."""
    db.execute(
        "update public.scenarios set description = %s where id = %s", (description, scenario_id)
    )


def test_an_offline_edit_that_lost_to_another_save_is_shown_and_settled_both_ways(
    window, sign_in, qtbot, db, network, backend
):
    sign_in(window, "admin")
    with editing_an_imported_draft(qtbot, window, db, EXAMPLE) as (pane, draft_id, editor):
        assert not editor.conflict.isVisible()

        network.offline = True
        editor.title.setText("Objection, edited on the train")
        assert editor.autosave_timer.isActive()  # kept a moment after the last edit
        qtbot.waitUntil(
            lambda: editor.kept_note.text().startswith("Kept on this computer"), timeout=30_000
        )
        _someone_else_saves(db, draft_id, "Theirs, saved at the office")
        network.offline = False
        backend.sync_now()  # the kept edit goes up, is refused (CD412) and parked

        qtbot.waitUntil(editor.conflict.isVisible, timeout=30_000)
        assert "title, description" in editor.conflict.text.text()
        assert editor.conflict.heading.text().startswith("Conflict: someone else saved")
        editor.conflict.theirs_button.click()
        qtbot.waitUntil(lambda: not editor.isVisible(), timeout=30_000)
        qtbot.waitUntil(lambda: "is theirs again" in pane.message.text(), timeout=30_000)

        def listed(scenario_id: str):
            return next((i.scenario for i in pane.items if i.scenario.id == scenario_id), None)

        qtbot.waitUntil(
            lambda: listed(draft_id).description == "Theirs, saved at the office", timeout=30_000
        )
        qtbot.waitUntil(lambda: not pane.conflict.isVisible(), timeout=30_000)

        # Once more, settled from the library this time: the admin's version kept as a copy.
        theirs = listed(draft_id)
        network.offline = True
        pane.service.keep_draft(replace(theirs, title="Mine, once more"))
        _someone_else_saves(db, draft_id, "Theirs again")
        network.offline = False
        backend.sync_now()
        pane.refresh()
        qtbot.waitUntil(pane.conflict.isVisible, timeout=30_000)
        pane.conflict.keep_button.click()
        qtbot.waitUntil(lambda: "kept as a new draft" in pane.message.text(), timeout=30_000)
        qtbot.waitUntil(
            lambda: any(i.scenario.title == "Mine, once more (my copy)" for i in pane.items),
            timeout=30_000,
        )
        qtbot.waitUntil(lambda: not pane.conflict.isVisible(), timeout=30_000)
        assert listed(draft_id).description == "Theirs again"
