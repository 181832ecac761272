"""The trainee's "Read before the call" against the real stack: it lists the briefing files of
the scenario being started, Open downloads one through a signed URL and hands it to the
system's viewer (recorded here: the only stand-in), Start the call starts it, Cancel does not;
a scenario without attachments starts at once. And the admin's Briefing tab attaches and
removes files."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget
from shiboken6 import isValid

from app.client.backend import SyncedBackend
from app.client.briefings import BriefingsService
from app.client.studio import StudioService
from app.client.views import Scenario
from app.scenario_examples import one_page_pdf
from app.scenario_package import example_packages
from ui.briefing_dialog import read_then_start
from ui.studio.briefings_editor import BriefingsEditor

DEMO_PASSWORD = "coachdesk-demo"
COLD_CALL_FILE = next(p for p in example_packages() if p.name.startswith("cold-call"))


@pytest.fixture
def published(server, tmp_path, accounts, db) -> Iterator[str]:
    """A scenario the admin imported (with its briefing.pdf) and published, on another
    computer; removed afterwards with its files."""
    admin = SyncedBackend(server, data_dir=tmp_path / "admin", remember=False, interval_s=3600)
    admin.sign_in(accounts["admin"], DEMO_PASSWORD)
    studio = StudioService(admin)
    scenario_id = studio.import_file(COLD_CALL_FILE)
    studio.publish(scenario_id)
    yield scenario_id
    files = [
        row[0]
        for row in db.execute(
            "select name from storage.objects where bucket_id = 'scenario-assets' "
            "and (storage.foldername(name))[2] = %s",
            (scenario_id,),
        )
    ]
    if files:
        admin.live(lambda s: s.client.storage.from_("scenario-assets").remove(files))
    db.execute("delete from public.scenarios where id = %s", (scenario_id,))
    admin.sign_out(discard_unsynced=True)
    admin.close()


def _scenario(backend, scenario_id: str) -> Scenario:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = next((s for s in backend.scenarios() if s.id == scenario_id), None)
        if found is not None and found.status == "published":
            return found
        backend.sync_now()
    pytest.fail("the published scenario never reached the trainee's cache")


@pytest.fixture
def viewer(monkeypatch) -> list[str]:
    """The files handed to the system's viewer (nothing is really opened)."""
    opened: list[str] = []

    def open_url(url) -> bool:
        opened.append(url.toLocalFile())
        return True

    monkeypatch.setattr(QDesktopServices, "openUrl", open_url)
    return opened


@pytest.fixture
def parent(qtbot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def test_read_before_the_call_lists_opens_and_starts(
    qtbot, ctx, accounts, published, viewer, parent
):
    ctx.backend.sign_in(accounts["trainee"], DEMO_PASSWORD)
    scenario = _scenario(ctx.backend, published)
    started: list[bool] = []
    dialog = read_then_start(ctx, scenario, parent, lambda: started.append(True))
    qtbot.waitUntil(dialog.isVisible, timeout=30_000)
    assert dialog.windowTitle() == "Read before the call"
    assert [b.name for b in dialog.files.model.rows] == ["briefing.pdf"]
    assert dialog.files.open_button.isEnabled()  # the first file is selected

    dialog.files.open_button.click()
    qtbot.waitUntil(lambda: len(viewer) == 1, timeout=30_000)
    opened = Path(viewer[0])
    assert opened.name == "briefing.pdf"
    expected = BriefingsService(ctx.backend).fetch(scenario, "briefing.pdf", opened.parent / "x")
    assert opened.read_bytes() == expected.read_bytes()
    assert opened.read_bytes().startswith(b"%PDF-")
    assert dialog.files.message.text() == "Opened briefing.pdf."
    assert not started  # reading is not starting

    dialog.start_button.click()
    assert started == [True]


def test_cancel_starts_nothing(qtbot, ctx, accounts, published, parent):
    ctx.backend.sign_in(accounts["trainee"], DEMO_PASSWORD)
    scenario = _scenario(ctx.backend, published)
    started: list[bool] = []
    dialog = read_then_start(ctx, scenario, parent, lambda: started.append(True))
    qtbot.waitUntil(dialog.isVisible, timeout=30_000)
    dialog.buttons.rejected.emit()
    assert not dialog.isVisible() and not started


def test_a_scenario_without_attachments_starts_at_once(qtbot, ctx, accounts, db, parent):
    ctx.backend.sign_in(accounts["trainee"], DEMO_PASSWORD)
    with_files = {
        row[0]
        for row in db.execute(
            "select (storage.foldername(name))[2] from storage.objects "
            "where bucket_id = 'scenario-assets'"
        )
    }
    scenario = next(s for s in ctx.backend.scenarios() if s.id not in with_files)
    started: list[bool] = []
    dialog = read_then_start(ctx, scenario, parent, lambda: started.append(True))
    qtbot.waitUntil(lambda: started == [True], timeout=30_000)
    qtbot.waitUntil(lambda: not isValid(dialog))  # never shown, and gone


def test_the_admin_attaches_and_removes_files_in_the_briefing_tab(
    qtbot, ctx, accounts, published, tmp_path, monkeypatch
):
    ctx.backend.sign_in(accounts["admin"], DEMO_PASSWORD)
    scenario = _scenario(ctx.backend, published)
    editor = BriefingsEditor(ctx, scenario)
    qtbot.addWidget(editor)
    editor.show()
    qtbot.waitUntil(lambda: len(editor.files.model.rows) == 1, timeout=30_000)

    notes = tmp_path / "call-notes.pdf"
    notes.write_bytes(one_page_pdf(("Ask about the budget",)))
    # The file dialog stands in for the admin choosing the file.
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(notes), ""))
    editor.attach_button.click()
    qtbot.waitUntil(
        lambda: editor.files.message.text().startswith("Attached call-notes.pdf"), timeout=30_000
    )
    assert [b.name for b in editor.files.model.rows] == ["briefing.pdf", "call-notes.pdf"]

    setup = tmp_path / "setup.exe"
    setup.write_bytes(b"MZ")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(setup), ""))
    editor.attach_button.click()
    qtbot.waitUntil(
        lambda: "cannot be a briefing attachment" in editor.files.message.text(), timeout=30_000
    )

    editor.files.table.selectRow(1)
    editor.remove_button.click()
    box = editor.confirm_box
    assert isinstance(box, QMessageBox) and "call-notes.pdf" in box.text()
    next(b for b in box.buttons() if b.text() == "Remove").click()
    qtbot.waitUntil(
        lambda: editor.files.message.text() == "Removed call-notes.pdf.", timeout=30_000
    )
    assert [b.name for b in editor.files.model.rows] == ["briefing.pdf"]
