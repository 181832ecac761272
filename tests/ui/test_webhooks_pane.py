"""The admin's Webhooks tab against the real stack: an endpoint made through the dialog, its
secret shown once and copied, rotated after confirming, a test event sent and followed in the
delivery log (the real dispatcher sends it to a receiver on 127.0.0.1 that verifies it with
`standardwebhooks`), the log filtered, the endpoint deleted; no tab for a manager.

In an org of its own (`fresh_org`, deleted with its endpoints and deliveries).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox
from ui_flows import open_tab, sign_in_as

from server.webhooks.testing import Receiver, start_receiver
from server.webhooks.worker import Dispatcher, DispatcherConfig
from ui.webhooks_pane import SecretDialog, WebhooksPane

SMALL_SCREEN = (1366, 768 - 80)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = start_receiver()
    yield server
    server.stop()


def dispatch_once(dsn: str) -> int:
    config = DispatcherConfig(dsn, allow_private_targets=True, timeout_s=5.0, reap_stale_s=60.0)

    async def once() -> int:
        async with Dispatcher(config) as dispatcher:
            return await dispatcher.run_once()

    return asyncio.run(once())


def _open_webhooks(window, qtbot) -> WebhooksPane:
    return open_tab(qtbot, window, window.webhooks, lambda pane: pane.loaded)


def _secret_dialog(pane: WebhooksPane, qtbot) -> SecretDialog:
    qtbot.waitUntil(
        lambda: isinstance(pane.dialog, SecretDialog) and pane.dialog.isVisible(), timeout=30_000
    )
    assert isinstance(pane.dialog, SecretDialog)
    return pane.dialog


def _confirm(box: QMessageBox | None, action: str) -> None:
    assert box is not None and box.defaultButton() is box.button(QMessageBox.StandardButton.Cancel)
    next(b for b in box.buttons() if b.text() == action).click()


def test_only_admins_get_the_webhooks_tab(window, sign_in):
    sign_in(window, "manager")
    tabs = [window.workspace.tabText(i) for i in range(window.workspace.count())]
    assert "Webhoo&ks" not in tabs and window.webhooks is None


def test_an_admin_creates_an_endpoint_copies_its_secret_and_follows_a_test_event(
    window, qtbot, fresh_org, receiver, stack
):
    sign_in_as(qtbot, window, fresh_org.emails["admin"])
    pane = _open_webhooks(window, qtbot)
    assert window.workspace.tabText(window.workspace.currentIndex()) == "Webhoo&ks"
    hint = window.minimumSizeHint()
    assert hint.width() <= SMALL_SCREEN[0] and hint.height() <= SMALL_SCREEN[1]
    assert pane.endpoints.rows == [] and not pane.test_button.isEnabled()

    dialog = pane.open_new()
    dialog.create.click()
    assert dialog.isVisible() and "Enter the URL" in dialog.message.text()
    path = f"/hooks/{uuid.uuid4().hex}"
    dialog.url.setText(f"{receiver.base_url}{path}")  # local stack: local mode, as its dispatcher
    dialog.all_events.setChecked(False)
    dialog.create.click()
    assert "at least one event" in dialog.message.text()
    [member_added] = dialog.events.findItems("member.added", Qt.MatchFlag.MatchExactly)
    member_added.setCheckState(Qt.CheckState.Checked)
    dialog.description.setText("CRM")
    dialog.create.click()

    shown = _secret_dialog(pane, qtbot)
    assert not dialog.isVisible()
    secret = shown.secret.text()
    assert secret.startswith("whsec_") and shown.secret.isReadOnly()
    shown.copy.click()
    assert QGuiApplication.clipboard().text() == secret
    assert shown.copied.text() == "Copied to the clipboard."
    stored = fresh_org.one("select secret, events from webhooks where org_id = %s", (fresh_org.id,))
    assert stored == {"secret": secret, "events": ["member.added"]}
    shown.reject()
    assert shown.secret.text() == ""  # shown once: nothing keeps it after the dialog
    receiver.endpoint(path, secret)

    qtbot.waitUntil(lambda: len(pane.endpoints.rows) == 1, timeout=30_000)
    [endpoint] = pane.endpoints.rows
    assert (endpoint.url, endpoint.events_text) == (f"{receiver.base_url}{path}", "member.added")
    assert pane.endpoint() == endpoint and pane.test_button.isEnabled()

    pane.test_button.click()
    qtbot.waitUntil(
        lambda: (
            [(d.event, d.status.value) for d in pane.deliveries.rows]
            == [("webhook.test", "pending")]
        ),
        timeout=30_000,
    )
    assert "webhook.test event is queued" in pane.notice.text()
    assert dispatch_once(stack.dsn) >= 1
    [got] = receiver.for_path(path)
    assert got.error is None, got.error
    pane.refresh_button.click()
    qtbot.waitUntil(
        lambda: [d.status.value for d in pane.deliveries.rows] == ["succeeded"], timeout=30_000
    )
    [sent] = pane.deliveries.rows
    assert (sent.response_code, sent.body_excerpt) == (200, "answered 200")
    pane.filter.setCurrentIndex(pane.filter.findText("Dead"))
    qtbot.waitUntil(lambda: pane.deliveries.rows == [], timeout=30_000)
    pane.filter.setCurrentIndex(0)
    qtbot.waitUntil(lambda: len(pane.deliveries.rows) == 1, timeout=30_000)

    _confirm(pane.rotate_selected(), "Rotate")
    rotated = _secret_dialog(pane, qtbot)
    assert rotated is not shown and rotated.secret.text() not in ("", secret)
    assert "24 hours" in rotated.explanation.text()
    rotated.reject()

    _confirm(pane.delete_selected(), "Delete")
    qtbot.waitUntil(lambda: pane.endpoints.rows == [], timeout=30_000)
    assert pane.deliveries.rows == []
    gone = fresh_org.one("select count(*) as n from webhooks where org_id = %s", (fresh_org.id,))
    assert gone["n"] == 0
