"""Sign-in and the trainee's home against the local stack."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt

from ui.manager import ManagerPane
from ui.models import ROW_ROLE

TRAINEE = "a0000000-0000-4000-8000-000000000001"
DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
CFO = "f0000000-0000-4000-8000-000000000002"
GLOBEX_ORG = "d0000000-0000-4000-8000-000000000002"


def _assignments_in_db(db, user_id: str) -> list[tuple[str, datetime | None]]:
    """The user's assignments (to them, or to one of their teams), soonest due first."""
    return db.execute(
        """
        select a.id::text, a.due_at from public.assignments a
        where a.org_id = %s
          and (a.user_id = %s
               or a.team_id in (select team_id from public.team_members where user_id = %s))
        order by a.due_at nulls last, a.id
        """,
        (DEMO_ORG, user_id, user_id),
    ).fetchall()


@pytest.fixture
def overdue_cfo_assignment(db) -> Iterator[str]:
    """An overdue CFO discovery assignment for the trainee, whose CFO attempt did not pass."""
    (assignment_id,) = db.execute(
        """
        insert into public.assignments (org_id, scenario_id, user_id, due_at, note)
        values (%s, %s, %s, now() - interval '5 days', 'UI test: overdue')
        returning id::text
        """,
        (DEMO_ORG, CFO, TRAINEE),
    ).fetchone()
    yield assignment_id
    db.execute("delete from public.assignments where id = %s", (assignment_id,))


def test_trainee_home_lists_their_assignments_as_the_database_has_them(
    window, sign_in, db, overdue_cfo_assignment
):
    sign_in(window, "trainee")
    model = window.home.assignments
    shown = [model.index(r, 0).data(ROW_ROLE) for r in range(model.rowCount())]
    done = {a.id for a in shown if a.done}
    # Completed ones after the open ones (tests/ui/test_home.py); each part by due date.
    expected = sorted(_assignments_in_db(db, TRAINEE), key=lambda row: row[0] in done)
    assert [a.id for a in shown] == [row[0] for row in expected]
    assert [a.due_at for a in shown] == [row[1] for row in expected]
    now = datetime.now(UTC)
    overdue_rows = [r for r, a in enumerate(shown) if a.overdue(now)]
    assert [shown[r].id for r in overdue_rows] == [overdue_cfo_assignment]
    for row in range(model.rowCount()):
        font = model.index(row, 0).data(Qt.ItemDataRole.FontRole)
        assert (font is not None and font.bold()) == (row in overdue_rows)
        assert model.index(row, 2).data().startswith("Overdue") == (row in overdue_rows)


def test_recent_attempts_show_the_server_scores(window, sign_in, db):
    sign_in(window, "trainee")
    rows = window.home.attempts.rows
    scores = dict(
        db.execute(
            "select id::text, score from public.scenario_attempts where user_id = %s", (TRAINEE,)
        ).fetchall()
    )
    assert rows and {r.id for r in rows} <= set(scores)
    for row in rows:
        assert row.score == scores[row.id]
        assert not row.provisional


def test_track_progress_counts_passed_scenarios(window, sign_in):
    sign_in(window, "trainee")
    track = next(a for a in window.home.data.assignments if a.kind == "track")
    assert track.total == 3
    # Passed = best score at least the scenario's pass mark; the trainee's strong cold call does.
    assert 1 <= track.completed < track.total
    window.home.assignment_table.selectRow(window.home.data.assignments.index(track))
    assert window.home.track_progress.value() == track.completed
    assert window.home.start_button.isEnabled()


def test_wrong_password_is_said_in_plain_words(window, qtbot, accounts):
    window.signin.email.setText(accounts["trainee"])
    window.signin.password.setText("not-the-password")
    window.signin.sign_in_button.click()
    qtbot.waitUntil(lambda: window.signin.message.isVisible(), timeout=30_000)
    assert "email or password is not right" in window.signin.message.text()
    assert "Traceback" not in window.signin.message.text()
    assert window.workspace is None


def test_unreachable_server_is_said_in_plain_words(window, qtbot, accounts, network):
    network.offline = True
    window.signin.email.setText(accounts["trainee"])
    window.signin.password.setText("coachdesk-demo")
    window.signin.submit()
    qtbot.waitUntil(lambda: window.signin.message.isVisible(), timeout=30_000)
    assert window.signin.message.text().startswith("Cannot sign in: the Coachdesk server at http")
    assert "ConnectError" not in window.signin.message.text()
    assert window.signin.sign_in_button.isEnabled()


def test_a_trainee_never_gets_a_manager_pane(window, sign_in, monkeypatch):
    built = []
    original = ManagerPane.__init__

    def spy(self, *args, **kwargs):
        built.append(self)
        original(self, *args, **kwargs)

    monkeypatch.setattr(ManagerPane, "__init__", spy)
    sign_in(window, "trainee")
    assert built == []
    assert window.manager is None
    assert window.findChildren(ManagerPane) == []
    titles = [window.workspace.tabText(i) for i in range(window.workspace.count())]
    assert titles == ["&Home", "&Leaderboard"]


def test_sign_out_returns_to_sign_in_and_drops_the_workspace(window, sign_in, qtbot):
    sign_in(window, "manager")
    assert isinstance(window.manager, ManagerPane)
    window.sign_out_action.trigger()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=30_000)
    assert window.workspace is None and window.manager is None
    assert window.ctx.backend.account is None


def test_a_member_of_two_orgs_switches_org(backend, accounts):
    account = backend.sign_in(accounts["consultant"], "coachdesk-demo")
    other = GLOBEX_ORG if account.org_id == DEMO_ORG else DEMO_ORG
    switched = backend.switch_org(other)
    assert switched.org_id == other and switched.user_id == account.user_id
    assert switched.role.value == ("manager" if other == GLOBEX_ORG else "trainee")
    assert switched.org_name == ("Globex" if other == GLOBEX_ORG else "Northwind Demo")
    backend.switch_org(account.org_id)  # leave the seed user as it was
