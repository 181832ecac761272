"""The leaderboard from `leaderboard_month` (mv_leaderboard_month): own row highlighted, teams."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import Qt

TRAINEE = "a0000000-0000-4000-8000-000000000001"
DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
ENTERPRISE_EAST = "e0000000-0000-4000-8000-000000000001"


def _latest_month(db) -> date:
    (month,) = db.execute(
        "select date_trunc('month', max(started_at) at time zone 'UTC')::date"
        " from public.scenario_attempts where user_id = %s and status = 'scored'",
        (TRAINEE,),
    ).fetchone()
    return month


def _board(db, month: date) -> list[tuple[str, int]]:
    return db.execute(
        "select user_id::text, rank from public.mv_leaderboard_month"
        " where org_id = %s and month = %s order by rank, display_name, user_id",
        (DEMO_ORG, month),
    ).fetchall()


def test_leaderboard_highlights_own_row_and_filters_by_team(
    window, sign_in, qtbot, service_client, db
):
    service_client.rpc("refresh_reporting", {}).execute()
    month = _latest_month(db)
    sign_in(window, "trainee")
    board = window.leaderboard
    window.workspace.setCurrentWidget(board)
    board.select_month(month)
    expected = _board(db, month)
    qtbot.waitUntil(
        lambda: [(r.user_id, r.rank) for r in board.model.rows] == expected, timeout=30_000
    )

    own = board.model.own_row()
    assert own is not None and board.model.rows[own].user_id == TRAINEE
    highlight = window.ctx.theme.colors.q("highlight_row")
    for row in range(board.model.rowCount()):
        background = board.model.index(row, 1).data(Qt.ItemDataRole.BackgroundRole)
        assert (background is not None and background.color() == highlight) == (row == own)
    assert board.model.index(own, 1).data().endswith("(you)")
    assert board.own_rank.text() == f"You are ranked {expected[own][1]} of {len(expected)}."

    qtbot.waitUntil(lambda: board.team.findData(ENTERPRISE_EAST) > 0, timeout=30_000)
    board.team.setCurrentIndex(board.team.findData(ENTERPRISE_EAST))
    members = {
        r[0]
        for r in db.execute(
            "select user_id::text from public.team_members where team_id = %s", (ENTERPRISE_EAST,)
        ).fetchall()
    }
    qtbot.waitUntil(
        lambda: board.model.rows and {r.user_id for r in board.model.rows} <= members,
        timeout=30_000,
    )
    assert [r.rank for r in board.model.rows] == list(range(1, len(board.model.rows) + 1))
