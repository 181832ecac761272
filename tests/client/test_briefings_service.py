"""Briefing attachments against the real stack: an admin attaches a PDF and a PNG to a scenario
it imported, files the rules refuse never reach the server, the bucket's own size and type
limits come back as sentences, a trainee of the org lists and downloads the attachments of the
published scenario through signed URLs, and nobody else writes or reads them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QColor, QImage

from app.client.backend import SyncedBackend
from app.client.briefings import Briefing, BriefingError, BriefingsService
from app.client.studio import StudioService
from app.client.views import PermissionDenied, Scenario, ServerConfig
from app.errors import CoachdeskError
from app.scenario_examples import one_page_pdf
from app.scenario_package import MAX_ATTACHMENT_BYTES, example_packages

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
COLD_CALL_FILE = next(p for p in example_packages() if p.name.startswith("cold-call"))


def png_bytes() -> bytes:
    """A real PNG, as an image editor would save it."""
    image = QImage(40, 30, QImage.Format.Format_RGB32)
    image.fill(QColor("teal"))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")
    return bytes(data.data())


@pytest.fixture
def other(stack, tmp_path) -> Iterator[SyncedBackend]:
    """A second computer: another member signs in here."""
    backend = SyncedBackend(
        ServerConfig(stack.url, stack.anon_key),
        data_dir=tmp_path / "other",
        remember=False,
        interval_s=3600,
    )
    yield backend
    if backend.account is not None:
        backend.sign_out(discard_unsynced=True)
    backend.close()


@pytest.fixture
def imported(backend, accounts, db) -> Iterator[Scenario]:
    """A draft the admin imported (its own briefing.pdf with it); it and every file under its
    folder are removed afterwards (the session's database is shared)."""
    backend.sign_in(accounts["admin"], "coachdesk-demo")
    scenario_id = StudioService(backend).import_file(COLD_CALL_FILE)
    yield _synced(backend, scenario_id)
    files = [
        row[0]
        for row in db.execute(
            "select name from storage.objects where bucket_id = 'scenario-assets' "
            "and (storage.foldername(name))[2] = %s",
            (scenario_id,),
        )
    ]
    if files:  # through Storage, as an admin may (the database refuses direct deletes)
        backend.live(lambda s: s.client.storage.from_("scenario-assets").remove(files))
    db.execute("delete from public.scenarios where id = %s", (scenario_id,))


def _synced(backend: SyncedBackend, scenario_id: str, status: str | None = None) -> Scenario:
    """The scenario from this backend's cache, once a sync has brought it (in `status`)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = next((s for s in backend.scenarios() if s.id == scenario_id), None)
        if found is not None and (status is None or found.status == status):
            return found
        backend.sync_now()
    pytest.fail(f"{scenario_id} never reached the cache")


def test_an_admin_attaches_a_pdf_and_an_image_and_a_trainee_reads_them(
    imported, backend, other, accounts, tmp_path
):
    admin = BriefingsService(backend)
    assert [b.name for b in admin.list(imported)] == ["briefing.pdf"]  # came with the file
    pdf = tmp_path / "Objections (v2).pdf"
    pdf.write_bytes(one_page_pdf(("Objections", "Budget is set in March")))
    png = tmp_path / "org-chart.png"
    png.write_bytes(png_bytes())

    assert admin.attach(imported, pdf) == Briefing(pdf.name, "application/pdf", pdf.stat().st_size)
    admin.attach(imported, png)
    listed = admin.list(imported)
    assert [(b.name, b.type, b.size) for b in listed] == [
        ("briefing.pdf", "application/pdf", listed[0].size),
        ("Objections (v2).pdf", "application/pdf", pdf.stat().st_size),
        ("org-chart.png", "image/png", png.stat().st_size),
    ]
    assert [b.kind for b in listed] == ["PDF", "PDF", "Image"]
    with pytest.raises(BriefingError, match="already attached"):
        admin.attach(imported, png)

    StudioService(backend).publish(imported.id)
    other.sign_in(accounts["trainee"], "coachdesk-demo")
    live = _synced(other, imported.id, "published")
    trainee = BriefingsService(other)
    assert [b.name for b in trainee.list(live)] == [b.name for b in listed]
    fetched = trainee.fetch(live, "org-chart.png", tmp_path / "viewer")
    assert fetched == tmp_path / "viewer" / "org-chart.png"
    assert fetched.read_bytes() == png.read_bytes()
    assert trainee.fetch(live, pdf.name, tmp_path / "viewer").read_bytes() == pdf.read_bytes()
    url = trainee.open_url(live, pdf.name)
    assert url.startswith(f"{other.server.url}/storage/v1/object/sign/scenario-assets/")
    assert "token=" in url

    with pytest.raises(PermissionDenied, match="Only admins"):
        trainee.attach(live, png)
    with pytest.raises(PermissionDenied, match="Only admins"):
        trainee.remove(live, "org-chart.png")
    # The server refuses it too, whatever the client would let through.
    with pytest.raises(CoachdeskError, match="refused"):
        other.live(
            lambda s: s.client.storage.from_("scenario-assets").upload(
                f"{DEMO_ORG}/{live.id}/sneaky.png", png.read_bytes(), {"content-type": "image/png"}
            )
        )

    admin.remove(imported, "org-chart.png")
    assert "org-chart.png" not in [b.name for b in trainee.list(live)]
    with pytest.raises(BriefingError, match="not attached to this scenario any more"):
        trainee.fetch(live, "org-chart.png", tmp_path / "viewer")
    with pytest.raises(BriefingError, match="not attached to this scenario any more"):
        admin.remove(imported, "org-chart.png")


def test_another_orgs_member_neither_lists_nor_opens_them(imported, other, accounts, tmp_path):
    other.sign_in(accounts["globex_trainee"], "coachdesk-demo")
    outsider = BriefingsService(other)
    assert outsider.list(imported) == []
    with pytest.raises(BriefingError, match="not yours to read"):
        outsider.fetch(imported, "briefing.pdf", tmp_path / "viewer")
    assert not (tmp_path / "viewer" / "briefing.pdf").exists()


def test_files_the_rules_refuse_never_reach_the_server(imported, backend, db, tmp_path):
    admin = BriefingsService(backend)
    before = admin.list(imported)
    setup = tmp_path / "setup.exe"
    setup.write_bytes(b"MZ\x90\x00" * 16)
    with pytest.raises(BriefingError, match=r'^"setup.exe" cannot be a briefing attachment'):
        admin.attach(imported, setup)
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"MZ not a pdf")
    with pytest.raises(BriefingError, match="is not really application/pdf"):
        admin.attach(imported, fake)
    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as out:  # sparse past the header: no 50 MB written to the disk
        out.write(b"%PDF-1.4\n")
        out.truncate(MAX_ATTACHMENT_BYTES + 1)
    with pytest.raises(BriefingError, match=r"^The attachment \"huge.pdf\" is larger than 50 MB"):
        admin.attach(imported, huge)
    weird = tmp_path / "brief\u00eding.pdf"
    weird.write_bytes(one_page_pdf(("x",)))
    with pytest.raises(BriefingError, match="cannot be attached under that name"):
        admin.attach(imported, weird)
    with pytest.raises(BriefingError, match="not the name of a briefing attachment"):
        admin.fetch(imported, "../../etc/passwd", tmp_path)  # refused before any call
    assert admin.list(imported) == before


def test_the_buckets_own_size_and_type_limits_are_said_plainly(imported, backend, db, tmp_path):
    """A bucket set stricter than the app's rules (a self-hosted server's choice)."""
    admin = BriefingsService(backend)
    pdf = tmp_path / "long.pdf"
    pdf.write_bytes(one_page_pdf(tuple(f"Line {n}" for n in range(400))))
    png = tmp_path / "chart.png"
    png.write_bytes(png_bytes())
    (limit, types) = db.execute(
        "select file_size_limit, allowed_mime_types from storage.buckets "
        "where id = 'scenario-assets'"
    ).fetchone()
    db.execute(
        "update storage.buckets set file_size_limit = 2048, allowed_mime_types = %s "
        "where id = 'scenario-assets'",
        (["application/pdf"],),
    )
    try:
        with pytest.raises(BriefingError, match=r"larger than the server accepts .*at most 2 KB"):
            admin.attach(imported, pdf)
        with pytest.raises(BriefingError, match="does not accept image/png files"):
            admin.attach(imported, png)
    finally:
        db.execute(
            "update storage.buckets set file_size_limit = %s, allowed_mime_types = %s "
            "where id = 'scenario-assets'",
            (limit, types),
        )
    assert [b.name for b in admin.list(imported)] == ["briefing.pdf"]
