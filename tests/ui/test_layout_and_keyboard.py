"""Readable at 1366x768 and usable from the keyboard alone."""

from __future__ import annotations

from PySide6.QtCore import Qt

# A 1366x768 screen less a taskbar and the window's title bar.
SMALL_SCREEN = (1366, 768 - 80)


def test_every_screen_fits_a_small_laptop_screen(window, sign_in):
    sign_in(window, "manager")
    for page in (window.signin, window.workspace, window.practice, window.review):
        window.pages.setCurrentWidget(page)
        for tab in range(window.workspace.count()) if page is window.workspace else [None]:
            if tab is not None:
                window.workspace.setCurrentIndex(tab)
            hint = window.minimumSizeHint()
            name = page.objectName() + (f" tab {tab}" if tab is not None else "")
            assert hint.width() <= SMALL_SCREEN[0], name
            assert hint.height() <= SMALL_SCREEN[1], name
    window.resize(*SMALL_SCREEN)
    assert window.width() == SMALL_SCREEN[0] and window.height() == SMALL_SCREEN[1]


def test_sign_in_and_move_around_with_the_keyboard_only(window, qtbot, accounts):
    signin = window.signin
    signin.email.setFocus()
    qtbot.keyClicks(signin.email, accounts["trainee"])
    qtbot.keyClick(signin.email, Qt.Key.Key_Return)  # Enter moves on to the password
    assert signin.password.hasFocus()
    qtbot.keyClicks(signin.password, "coachdesk-demo")
    qtbot.keyClick(signin.password, Qt.Key.Key_Return)
    qtbot.waitUntil(
        lambda: window.home is not None and window.home.data is not None, timeout=30_000
    )

    home = window.home
    assert home.assignment_table.currentIndex().row() == 0  # first assignment preselected
    home.assignment_table.setFocus()
    qtbot.keyClick(home.assignment_table, Qt.Key.Key_Down)
    assert home.assignment_table.currentIndex().row() == 1
    # Tab leaves the table for the next control rather than moving between cells.
    qtbot.keyClick(home.assignment_table, Qt.Key.Key_Tab)
    assert not home.assignment_table.hasFocus()

    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.AltModifier)
    assert window.workspace.currentWidget() is window.leaderboard
