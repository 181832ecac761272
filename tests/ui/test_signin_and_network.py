"""Sign-in's rough edges (a problem shown whole, Sync now only when signed in, a server that does
not answer, no system keyring), the network coming back, and About's reporting line."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import keyring.backends.fail
import pytest
from PySide6.QtCore import QRect
from PySide6.QtNetwork import QNetworkInformation
from PySide6.QtWidgets import QInputDialog

from app.client.backend import SyncedBackend
from app.client.views import ServerConfig
from server.db.cluster import free_port
from ui.context import AppContext
from ui.main_window import MainWindow
from ui.theme import Theme, ThemeChoice
from ui.workers import Workers

DEMO_PASSWORD = "coachdesk-demo"
LONG_PROBLEM = (
    "Cannot sign in: the Coachdesk server at http://127.0.0.1:54321 does not answer. Check your "
    "network connection, or ask your IT team whether the server is up. It is the local server on "
    "this computer: start it with `coachdesk stack start` (or `coachdesk run`)."
)


def test_a_long_sign_in_problem_is_shown_whole(window, qtbot):
    signin = window.signin
    signin.show_problem(LONG_PROBLEM)
    message = signin.message
    card = message.parentWidget()

    def whole() -> bool:
        inside = QRect(message.mapTo(card, message.rect().topLeft()), message.size())
        return message.height() >= message.heightForWidth(message.width()) and card.rect().contains(
            inside
        )

    qtbot.waitUntil(whole, timeout=5_000)


def test_sync_now_is_offered_only_while_signed_in(window, sign_in, qtbot):
    assert not window.status.sync_button.isVisibleTo(window)
    assert not window.sync_action.isEnabled()
    sign_in(window, "trainee")
    assert window.status.sync_button.isVisibleTo(window)
    assert window.sync_action.isEnabled()
    window.sign_out()
    qtbot.waitUntil(lambda: window.pages.currentWidget() is window.signin, timeout=30_000)
    assert not window.status.sync_button.isVisibleTo(window)
    assert not window.sync_action.isEnabled()


@pytest.fixture
def hung_server() -> Iterator[str]:
    """A port that accepts connections and never answers (a server that hangs)."""
    port = free_port()
    with socket.create_server(("127.0.0.1", port)) as listening:
        listening.listen(16)
        yield f"http://127.0.0.1:{port}"


def make_window(qtbot, qapp, backend, preferences, devices) -> MainWindow:
    ctx = AppContext(
        backend=backend,
        workers=Workers.create(),
        theme=Theme(qapp, ThemeChoice.LIGHT),
        preferences=preferences,
    )
    window = MainWindow(ctx, devices)
    qtbot.addWidget(window)
    window.show()
    return window


def test_signing_in_to_a_server_that_does_not_answer_fails_fast_and_names_it(
    qtbot, qapp, hung_server, stack, preferences, devices, tmp_path, keyring_backend
):
    backend = SyncedBackend(
        ServerConfig(hung_server, stack.anon_key),
        data_dir=tmp_path / "data",
        keyring_backend=keyring_backend,
    )
    window = make_window(qtbot, qapp, backend, preferences, devices)
    try:
        window.signin.email.setText("trainee@demo.coachdesk.test")
        window.signin.password.setText(DEMO_PASSWORD)
        window.signin.submit()
        # The request timeout is a minute; the answer comes from the short probe well before.
        qtbot.waitUntil(window.signin.message.isVisible, timeout=20_000)
        text = window.signin.message.text()
        assert text.startswith(f"Cannot sign in: the Coachdesk server at {hung_server} ")
        assert "does not answer" in text and "coachdesk stack start" in text
        assert window.signin.sign_in_button.isEnabled()
    finally:
        window.ctx.workers.shutdown()
        window.ctx.close()
        backend.close()


def accept_passphrase(qtbot, window: MainWindow, passphrase: str) -> None:
    window.signin.encrypt_button.click()
    dialog = window.signin.passphrase_dialog
    assert isinstance(dialog, QInputDialog) and dialog.isVisible()
    dialog.setTextValue(passphrase)
    dialog.accept()


def test_without_a_system_keyring_the_sign_in_can_be_kept_in_an_encrypted_file(
    qtbot, qapp, server, accounts, preferences, devices, tmp_path
):
    def no_keyring_backend() -> SyncedBackend:
        return SyncedBackend(
            server,
            data_dir=tmp_path / "data",
            keyring_backend=keyring.backends.fail.Keyring(),
            interval_s=3600,
        )

    backend = no_keyring_backend()
    window = make_window(qtbot, qapp, backend, preferences, devices)
    signin = window.signin
    assert signin.keyring_notice.isVisibleTo(window)
    assert "sudo apt install gnome-keyring" in signin.keyring_notice.text()
    assert signin.encrypt_button.text() == "Keep sign-in in an encrypted file…"
    accept_passphrase(qtbot, window, "correct horse battery")
    qtbot.waitUntil(lambda: not signin.keyring_notice.isVisibleTo(window), timeout=30_000)
    assert backend.encrypted_sign_in_file.exists()
    signin.email.setText(accounts["trainee"])
    signin.password.setText(DEMO_PASSWORD)
    signin.submit()
    qtbot.waitUntil(
        lambda: window.home is not None and window.home.data is not None, timeout=30_000
    )
    kept = backend.encrypted_sign_in_file.read_bytes()
    # The session kept in plain text would be JSON naming its tokens and the user's email.
    assert b"access_token" not in kept and b"refresh_token" not in kept
    assert accounts["trainee"].encode() not in kept
    window.close()
    window.ctx.workers.shutdown()
    window.ctx.close()
    backend.close()

    # The next start: still no system keyring; the file unlocks with the passphrase only.
    restarted_backend = no_keyring_backend()
    restarted = make_window(qtbot, qapp, restarted_backend, preferences, devices)
    again = restarted.signin
    assert again.encrypt_button.text() == "Unlock the saved sign-in…"
    accept_passphrase(qtbot, restarted, "wrong passphrase")
    qtbot.waitUntil(lambda: "does not unlock" in again.message.text(), timeout=30_000)
    accept_passphrase(qtbot, restarted, "correct horse battery")
    qtbot.waitUntil(again.offline_button.isVisible, timeout=30_000)
    assert again.offline_button.text() == "Continue as Tara Trainee (works offline)"
    restarted.ctx.workers.shutdown()
    restarted.ctx.close()
    restarted_backend.close()


def test_the_network_coming_back_retries_sync_at_once(window, sign_in, monkeypatch):
    sign_in(window, "trainee")
    woken: list[bool] = []
    monkeypatch.setattr(window.ctx.backend, "wake_sync", lambda: woken.append(True))
    info = QNetworkInformation.instance()
    assert info is not None, "no QNetworkInformation backend with reachability here"
    info.reachabilityChanged.emit(QNetworkInformation.Reachability.Disconnected)
    assert woken == []
    info.reachabilityChanged.emit(QNetworkInformation.Reachability.Online)
    assert woken == [True]


def test_about_says_how_current_the_reports_are(window, sign_in, qtbot):
    sign_in(window, "trainee")
    dialog = window.open_about()
    qtbot.waitUntil(lambda: "Reports" in dialog.values, timeout=30_000)
    # The test stack's database is not the one pg_cron serves: nothing refreshes it on a schedule.
    assert "no scheduled refresh on this server" in dialog.values["Reports"].text()
    assert "Reports: " in dialog.text()
