"""The studio end to end on the local stack: an admin builds a five-node scenario with a
three-criterion rubric in the editor, tries it, publishes it; a manager assigns it; a trainee
practises it with espeak-ng answers, and the server's score follows the edited rubric."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtWidgets import QDialogButtonBox
from ui_flows import SLOW, speak_answers, start_assignment

from app.client.studio import Status
from app.kpis import compute_kpis
from app.scoring import score

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
TITLE = "Journey: the price objection"
# Both ways through the dialog take two answers, so the call ends whatever the model hears.
ANSWERS = ("We bring real value and save you time.", "Our support is faster than theirs.")


def _build_dialog(branching) -> None:
    """open -> probe (keywords value/save) or push (default); probe -> yes (support/faster) or
    no (default); push -> no; yes and no end the call."""
    branching.edit_node(0, "end", False)
    branching.edit_node(0, "persona_line", "Your price is too high.")
    lines = {
        "probe": ("What value, exactly?", False),
        "push": ("I need twenty percent off.", False),
        "yes": ("Fine, send me the contract.", True),
        "no": ("Then we are done here.", True),
    }
    for name, (line, end) in lines.items():
        branching.add_node()
        index = len(branching.document()["nodes"]) - 1
        branching.edit_node(index, "id", name)
        branching.edit_node(index, "persona_line", line)
        if end:
            branching.edit_node(index, "end", True)
    branching.connect_nodes("open", "push")  # the first edge is the default
    branching.connect_nodes("open", "probe")  # then a keywords edge, before the default
    branching.edit_edge(0, 0, {"to": "probe", "when": {"keywords": ["value", "save"]}})
    branching.connect_nodes("probe", "no")
    branching.connect_nodes("probe", "yes")
    probe = [n["id"] for n in branching.document()["nodes"]].index("probe")
    branching.edit_edge(probe, 0, {"to": "yes", "when": {"keywords": ["support", "faster"]}})
    branching.connect_nodes("push", "no")
    branching.check_now()


def test_build_try_publish_assign_practise_and_the_server_scores_by_the_rubric(
    key_ends_turns, window, sign_in, qtbot, devices, speech, db
):
    (started,) = db.execute("select now()").fetchone()
    sign_in(window, "admin")
    studio = window.studio
    window.workspace.setCurrentWidget(studio)
    qtbot.waitUntil(lambda: bool(studio.items), timeout=SLOW)
    try:
        studio.new_button.click()
        qtbot.waitUntil(lambda: studio.editor is not None, timeout=SLOW)
        editor = studio.editor
        editor.title.setText(TITLE)
        editor.persona_name.setText("Pat Rivers")
        editor.persona_role.setText("Head of Purchasing")
        _build_dialog(editor.branching)
        nodes = editor.branching.document()["nodes"]
        assert len(nodes) == 5
        assert [p for p in editor.branching.problems if p.severity == "error"] == []

        editor.kpi.setCurrentIndex(editor.kpi.findData("talk_ratio"))
        editor.add_kpi.click()
        editor.add_keywords.click()
        editor.keywords.setPlainText("value | save\nsupport | faster")
        for row, percent in enumerate((40, 30, 30)):
            editor.table.selectRow(row)
            editor.percent.setValue(percent)
        assert [c.percent for c in editor.criteria] == [40, 30, 30]
        assert editor.total.text() == "Total 100 %"
        save = editor.buttons.button(QDialogButtonBox.StandardButton.Save)
        assert save.isEnabled(), editor.problems.text()
        rubric = editor.edited().rubric

        trial = editor.try_it()
        assert trial is not None
        for answer in ANSWERS:
            steps = trial.why.count()
            trial.answer.setText(answer)
            trial.send()
            qtbot.waitUntil(lambda s=steps: trial.why.count() == s + 1, timeout=SLOW)
        qtbot.waitUntil(lambda: trial.score_label.text() != "", timeout=SLOW)
        assert "probe" in trial.why.item(0).text() or "value" in trial.why.item(0).text()
        trial.close()

        editor.save()
        qtbot.waitUntil(lambda: not editor.isVisible(), timeout=SLOW)
        (scenario_id,) = db.execute(
            "select id::text from public.scenarios where title = %s and created_at >= %s",
            (TITLE, started),
        ).fetchone()
        qtbot.waitUntil(
            lambda: any(
                i.scenario.id == scenario_id and i.scenario.title == TITLE for i in studio.items
            ),
            timeout=SLOW,
        )
        studio.table.selectRow([i.scenario.id for i in studio.items].index(scenario_id))
        studio.publish_button.click()
        qtbot.waitUntil(
            lambda: any(
                i.scenario.id == scenario_id and i.status is Status.PUBLISHED for i in studio.items
            ),
            timeout=SLOW,
        )

        # A manager assigns it to the trainee through the dialog.
        window.sign_out_action.trigger()
        qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=SLOW)
        sign_in(window, "manager")
        manager = window.manager
        window.workspace.setCurrentWidget(manager)
        qtbot.waitUntil(lambda: manager.data is not None, timeout=SLOW)
        qtbot.waitUntil(
            lambda: any(s.id == scenario_id for s in manager.data.scenarios), timeout=SLOW
        )
        manager.new_assignment()
        dialog = manager.assign_dialog
        dialog.content.setCurrentIndex(dialog.content.findData(scenario_id))
        dialog.assignee.setCurrentIndex(dialog.assignee.findData(TRAINEE))
        with qtbot.waitSignal(dialog.created, timeout=SLOW) as created:
            dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
        assignment_id = created.args[0]
        qtbot.waitUntil(
            lambda: (
                db.execute(
                    "select 1 from public.assignments where id = %s", (assignment_id,)
                ).fetchone()
                is not None
            ),
            timeout=SLOW,
        )

        # The trainee practises it, speaking.
        window.sign_out_action.trigger()
        qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=SLOW)
        devices.recorder_factory.add(speech(text) for text in ANSWERS)
        sign_in(window, "trainee")
        start_assignment(window, assignment_id)
        # The editor's and the manager's dialogs took the focus window by window; Space ends a
        # turn through the main window's shortcut, so it must be the active one again.
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=SLOW)
        speak_answers(qtbot, window, devices, ANSWERS)
        review = window.review
        qtbot.waitUntil(
            lambda: window.pages.currentWidget() is review and review.detail is not None,
            timeout=SLOW,
        )
        attempt_id = review.detail.row.id

        def stored():
            return db.execute(
                "select status, score, score_breakdown, transcript from public.scenario_attempts"
                " where id = %s",
                (attempt_id,),
            ).fetchone()

        qtbot.waitUntil(lambda: (stored() or ("",))[0] == "scored", timeout=SLOW)
        _status, server_score, breakdown, transcript = stored()
        assert [c["id"] for c in breakdown["criteria"]] == [c["id"] for c in rubric["criteria"]]
        mine = score(rubric, compute_kpis(transcript, rubric), Decimal(70), transcript)
        assert Decimal(str(server_score)) == Decimal(str(mine["score"]))
    finally:
        db.execute(
            "delete from public.assignments where scenario_id in (select id from public.scenarios"
            " where org_id = %s and created_at >= %s)",
            (DEMO_ORG, started),
        )
        db.execute(
            "delete from public.scenarios where org_id = %s and created_at >= %s",
            (DEMO_ORG, started),
        )
