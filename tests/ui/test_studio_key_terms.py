"""The editor's key terms against the real stack: typed as one comma-separated line, checked as
the database checks them while typing (Save off, the problem shown), kept by autosave and saved
to the server."""

from __future__ import annotations

from PySide6.QtWidgets import QDialogButtonBox, QLabel
from ui_flows import editing_an_imported_draft

from app.scenario_package import example_packages
from ui.studio_editor import KEY_TERMS_HINT

EXAMPLE = next(p for p in example_packages() if p.name.startswith("objection"))


def _server_terms(db, scenario_id: str) -> list[str]:
    (terms,) = db.execute(
        "select key_terms from public.scenarios where id = %s", (scenario_id,)
    ).fetchone()
    return terms


def test_an_admin_types_key_terms_a_bad_list_stops_saving(window, sign_in, qtbot, db, backend):
    sign_in(window, "admin")
    with editing_an_imported_draft(qtbot, window, db, EXAMPLE) as (pane, draft_id, editor):
        save = editor.buttons.button(QDialogButtonBox.StandardButton.Save)
        field = editor.key_terms
        assert field.text() == "" and field.placeholderText() == KEY_TERMS_HINT
        caption = next(label for label in editor.findChildren(QLabel) if label.buddy() is field)
        assert caption.text() == "&Key terms"

        field.setText("Salesforce, HubSpot, salesforce")
        assert not save.isEnabled()
        assert editor.problems.text() == 'Key terms: "salesforce" is listed twice.'
        field.setText("x" * 61)
        assert not save.isEnabled() and "longer than 60 characters" in editor.problems.text()

        field.setText(" Salesforce,  HubSpot ,, SOC 2,")
        assert save.isEnabled(), editor.problems.text()
        assert editor.autosave_timer.isActive()  # kept a moment after the edit
        assert editor.edited().key_terms == ("Salesforce", "HubSpot", "SOC 2")
        qtbot.waitUntil(
            lambda: editor.kept_note.text().startswith("Kept on this computer"), timeout=30_000
        )
        backend.sync_now()
        qtbot.waitUntil(
            lambda: _server_terms(db, draft_id) == ["Salesforce", "HubSpot", "SOC 2"],
            timeout=30_000,
        )

        field.setText("Salesforce, HubSpot")
        editor.save()
        qtbot.waitUntil(lambda: not editor.isVisible(), timeout=30_000)
        assert _server_terms(db, draft_id) == ["Salesforce", "HubSpot"]
        # Opened again, the line shows them as they were typed.
        qtbot.waitUntil(
            lambda: any(
                i.scenario.id == draft_id and i.scenario.key_terms == ("Salesforce", "HubSpot")
                for i in pane.items
            ),
            timeout=30_000,
        )
        pane.table.selectRow([i.scenario.id for i in pane.items].index(draft_id))
        again = pane.edit_selected()
        assert again is not None and again.key_terms.text() == "Salesforce, HubSpot"
        again.reject()
