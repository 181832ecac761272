"""The scenario editor against the real stack: an imported draft's form and rubric edited,
checked while typing as the database checks, previewed on an attempt, saved to the server."""

from __future__ import annotations

import json
from decimal import Decimal

from PySide6.QtWidgets import QDialogButtonBox
from ui_flows import editing_an_imported_draft

from app.scenario_package import example_packages

EXAMPLE = next(p for p in example_packages() if p.name.startswith("objection"))


def test_an_admin_edits_a_draft_balances_its_rubric_previews_and_saves(window, sign_in, qtbot, db):
    sign_in(window, "admin")
    with editing_an_imported_draft(qtbot, window, db, EXAMPLE) as (_, draft_id, editor):
        save = editor.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save.isEnabled(), editor.problems.text()

        editor.title.setText("Objection: happy with the incumbent (v2)")
        editor.title.setText("")
        assert not save.isEnabled() and "needs a title" in editor.problems.text()
        editor.title.setText("Objection: happy with the incumbent (v2)")

        before = len(editor.criteria)
        editor.kpi.setCurrentIndex(editor.kpi.findData("words_per_minute"))
        editor.add_kpi.click()
        assert len(editor.criteria) == before + 1
        added = editor.criteria[-1]
        assert (added.low, added.high) == (Decimal(130), Decimal(175))  # the ideal range
        editor.percent.setValue(20)
        assert "must be 100 %" in editor.total.text() and not save.isEnabled()
        editor.balance_button.click()
        assert editor.total.text() == "Total 100 %" and save.isEnabled()

        # The dialog tab: a new node nobody can reach is an error that stops saving; undone, fine.
        branching = editor.branching
        nodes = len(branching.document()["nodes"])
        branching.add_node()
        branching.check_now()
        assert len(branching.document()["nodes"]) == nodes + 1
        assert not save.isEnabled() and editor.problems.text().startswith("Dialog:")
        branching.undo_stack.undo()
        branching.check_now()
        assert len(branching.document()["nodes"]) == nodes and save.isEnabled()

        # Try it: the edited scenario on the practice engine; nothing is saved.
        trial = editor.try_it()
        assert trial is not None
        trial.answer.setText("We hear you, and we can match the price if you sign today.")
        trial.send()
        qtbot.waitUntil(lambda: trial.why.count() == 1, timeout=30_000)
        trial.end_call()
        qtbot.waitUntil(lambda: trial.score_label.text() != "", timeout=30_000)
        trial.close()

        qtbot.waitUntil(lambda: editor.attempt.count() > 0, timeout=30_000)
        editor.score_selected()
        qtbot.waitUntil(lambda: "With this rubric" in editor.result.text(), timeout=30_000)

        editor.save()
        qtbot.waitUntil(lambda: not editor.isVisible(), timeout=30_000)
        title, rubric = db.execute(
            "select title, rubric::text from public.scenarios where id = %s", (draft_id,)
        ).fetchone()
        assert title == "Objection: happy with the incumbent (v2)"
        criteria = json.loads(rubric, parse_float=Decimal)["criteria"]
        assert [c["id"] for c in criteria][-1] == "words_per_minute"
        assert sum(Decimal(str(c["weight"])) for c in criteria) == 1
        (branching_saved,) = db.execute(
            "select branching from public.scenarios where id = %s", (draft_id,)
        ).fetchone()
        assert all("position" in n for n in branching_saved["nodes"])  # the editor's layout
