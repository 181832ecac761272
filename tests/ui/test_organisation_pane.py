"""The admin's Organisation tab against the real stack: the plan box with the seed org's figures,
a logo chosen through the file dialog and shown in the window's header, renaming, the billing
link only when configured, and no tab for a manager.

Whatever changes the org runs in one of its own (`fresh_org`); the seed org is only read.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QDesktopServices, QImage
from PySide6.QtWidgets import QFileDialog
from stack_fixtures import FRESH_PASSWORD

from ui.organisation_pane import OrganisationPane


def _open(window, qtbot) -> OrganisationPane:
    pane = window.organisation
    assert pane is not None
    window.workspace.setCurrentWidget(pane)
    qtbot.waitUntil(lambda: pane.data is not None, timeout=30_000)
    return pane


def _png(path) -> bytes:
    """A real 1x1 PNG, as an image editor would save it."""
    image = QImage(1, 1, QImage.Format.Format_ARGB32)
    image.fill(QColor("teal"))
    assert image.save(str(path), "PNG")
    return path.read_bytes()


def test_an_admin_sees_the_plan_box_with_the_orgs_figures(window, qtbot, sign_in, db):
    sign_in(window, "admin")
    pane = _open(window, qtbot)
    assert window.workspace.tabText(window.workspace.currentIndex()) == "Or&ganisation"
    hint = window.minimumSizeHint()  # fits a 1366x768 laptop (tests/ui/test_layout_and_keyboard)
    assert hint.width() <= 1366 and hint.height() <= 768 - 80
    org = window.ctx.backend.account.org_id
    name, plan, seats, scenarios = db.execute(
        "select name, plan::text, entitlements ->> 'seats', entitlements ->> 'active_scenarios'"
        " from orgs where id = %s",
        (org,),
    ).fetchone()
    (members,) = db.execute("select count(*) from org_members where org_id = %s", (org,)).fetchone()
    (published,) = db.execute(
        "select count(distinct lineage_id) from scenarios"
        " where org_id = %s and status = 'published'",
        (org,),
    ).fetchone()
    assert pane.name.text() == name
    assert pane.plan.text() == plan.capitalize()
    assert pane.seats.text() == (
        f"{members} of {seats} seats used" if seats else f"{members} seats used (no limit)"
    )
    assert pane.scenarios.text().startswith(
        f"{published} of {scenarios} " if scenarios else f"{published} "
    )
    assert pane.subscription.text() == "No subscription on record"
    assert not pane.billing_button.isVisible()  # no portal configured


def test_an_admin_picks_a_logo_and_the_header_shows_it(
    window, qtbot, fresh_org, monkeypatch, tmp_path, preferences
):
    preferences.save({"billing.portal_url": "https://billing.example.test/p/login/acme"})
    logo = tmp_path / "acme.png"
    data = _png(logo)
    window.signin.email.setText(fresh_org.emails["admin"])
    window.signin.password.setText(FRESH_PASSWORD)
    window.signin.sign_in_button.click()
    qtbot.waitUntil(lambda: window.organisation is not None, timeout=30_000)
    assert window.org_logo.isHidden()  # the org has no logo yet
    pane = _open(window, qtbot)
    monkeypatch.setattr(
        QFileDialog, "getOpenFileName", staticmethod(lambda *args, **kw: (str(logo), ""))
    )
    qtbot.mouseClick(pane.choose_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.org_logo.pixmap() is not None and window.org_logo.isVisible())
    assert not window.org_logo.pixmap().isNull()
    assert pane.logo_data == data and pane.remove_button.isEnabled()
    stored = fresh_org.one(
        "select count(*) as n from storage.objects where bucket_id = 'org-assets' and name = %s",
        (f"{fresh_org.id}/logo.png",),
    )
    assert stored["n"] == 1

    pane.name.setText("Acme Training")
    qtbot.mouseClick(pane.save_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Acme Training" in pane.notice.text(), timeout=30_000)
    assert fresh_org.one("select name from orgs where id = %s", (fresh_org.id,))["name"] == (
        "Acme Training"
    )

    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toString()))
    assert pane.billing_button.isVisible()
    qtbot.mouseClick(pane.billing_button, Qt.MouseButton.LeftButton)
    assert opened == ["https://billing.example.test/p/login/acme"]

    window.organisation.service.remove_logo()  # the org's deletion leaves Storage's objects


def test_a_manager_has_no_organisation_tab(window, sign_in):
    sign_in(window, "manager")
    tabs = [window.workspace.tabText(i) for i in range(window.workspace.count())]
    assert "Or&ganisation" not in tabs and window.organisation is None


def test_every_member_sees_the_orgs_logo_in_the_header(
    window, qtbot, fresh_org, service_client, tmp_path
):
    name = f"{fresh_org.id}/logo.png"
    bucket = service_client.storage.from_("org-assets")
    bucket.upload(name, _png(tmp_path / "logo.png"), {"content-type": "image/png"})
    try:
        window.signin.email.setText(fresh_org.emails["trainee"])
        window.signin.password.setText(FRESH_PASSWORD)
        window.signin.sign_in_button.click()
        qtbot.waitUntil(lambda: window.org_logo.isVisible(), timeout=30_000)
        assert window.organisation is None  # the tab is the admins'; the logo is everyone's
        height = window.org_logo.pixmap().height()
        assert 0 < height <= window.toolbar.height()
    finally:
        bucket.remove([name])
