"""The one-page team summary: counted from the cache as the Reports tab counts, drawn by Qt's PDF
writer, read back with QtPdf (one page, the team's name, figures and people on it); a long
member list still fits one page; the org's logo is drawn in the header (an image in the PDF, red
where the logo is red) when the org has one, fetched once, and the page is the same without it;
a trainee gets no summary."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize
from PySide6.QtGui import QColor, QImage
from PySide6.QtPdf import QPdfDocument

from app.client.assignments import ManagedAssignment, PersonProgress, Progress
from app.client.team_summary import TeamSummary, TeamSummaryService, summarize
from app.client.views import Member, PermissionDenied, Team
from app.errors import CoachdeskError
from sync.db_types import OrgRole
from ui.team_summary_pdf import write_team_summaries, write_team_summary

PASSWORD = "coachdesk-demo"
AT = datetime(2026, 3, 15, 12, tzinfo=UTC)


def _read(path) -> tuple[int, str]:
    document = QPdfDocument()
    assert document.load(str(path)) == QPdfDocument.Error.None_
    text = document.getAllText(0).text() if document.pageCount() else ""
    pages = document.pageCount()
    document.close()
    return pages, " ".join(text.split())


def _person(user: str, progress: Progress, attempts: int, best: str | None) -> PersonProgress:
    return PersonProgress(
        user, user.title(), progress, attempts, Decimal(best) if best else None, 0
    )


def _assignment(*people: PersonProgress) -> ManagedAssignment:
    return ManagedAssignment(
        id="a1", title="Discovery", kind="scenario", assignee="Team East", team_id="t1",
        user_id=None, scenario_count=1, due_at=None, note="", created_at=None, people=people,
    )  # fmt: skip


def test_the_figures_count_person_by_assignment():
    members = [Member(u, u.title(), OrgRole.TRAINEE) for u in ("ana", "bo", "cy", "di")]
    team = Team("t1", "East", frozenset({"ana", "bo", "cy"}))
    assignments = [
        _assignment(
            _person("ana", Progress.PASSED, 2, "90"),
            _person("bo", Progress.OVERDUE, 1, "40"),
            _person("cy", Progress.NOT_STARTED, 0, None),
            _person("di", Progress.PASSED, 1, "100"),  # not in the team
        ),
        _assignment(_person("bo", Progress.OVERDUE, 0, None)),
    ]
    summary = summarize(team, members, assignments, AT, "Northwind")
    assert summary.members == ("Ana", "Bo", "Cy")
    assert (summary.assigned, summary.attempted, summary.passed) == (4, 2, 1)
    assert summary.completion == Decimal("25.0") and summary.pass_rate == Decimal("50.0")
    assert summary.average_score == Decimal("65.0")
    assert summary.overdue == ("Bo",)
    empty = summarize(Team("t2", "West", frozenset()), members, assignments, AT)
    assert (empty.completion, empty.pass_rate, empty.average_score) == (None, None, None)


def test_hr_gets_one_page_per_team_from_the_cache(qapp, backend, accounts, tmp_path):
    backend.sign_in(accounts["hr"], PASSWORD)
    summaries = TeamSummaryService(backend).summaries()
    assert [s.team_name for s in summaries] == ["Enterprise East", "SMB West"]
    assert any(s.assigned for s in summaries)
    paths = write_team_summaries(summaries, tmp_path)
    assert [p.name for p in paths] == [
        "coachdesk-team-enterprise-east.pdf",
        "coachdesk-team-smb-west.pdf",
    ]
    for summary, path in zip(summaries, paths, strict=True):
        pages, text = _read(path)
        assert pages == 1
        assert f"Team {summary.team_name}" in text and "Northwind" in text
        assert f"{summary.passed} of {summary.assigned} passed" in text
        for name in (*summary.members, *summary.overdue):
            assert name in text
    assert list(tmp_path.glob(".*")) == []


def test_a_long_member_list_stays_on_one_page(qapp, tmp_path):
    names = tuple(f"Person {i:03d}" for i in range(300))
    summary = TeamSummary(
        team_id="t", team_name="Everyone", org_name="", members=names, assigned=0,
        attempted=0, passed=0, average_score=None, overdue=(), at=AT,
    )  # fmt: skip
    pages, text = _read(write_team_summary(summary, tmp_path / "big.pdf"))
    assert pages == 1
    assert "Members (300)" in text and "Person 000" in text and "more" in text
    assert "Completion: – (0 of 0 passed)" in text and "Nobody is overdue." in text
    with pytest.raises(CoachdeskError, match="Could not save the team summary"):
        write_team_summary(summary, tmp_path / "missing" / "big.pdf")


def test_a_trainee_gets_no_summary(backend, accounts):
    backend.sign_in(accounts["trainee"], PASSWORD)
    with pytest.raises(PermissionDenied):
        TeamSummaryService(backend).summaries()


def _png(width: int, height: int, color: str = "red") -> bytes:
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor(color))
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    assert image.save(buffer, "PNG")
    return bytes(data.data())


def _images(path) -> int:
    """Image XObjects in the file (Qt's writer keeps object dictionaries uncompressed)."""
    return path.read_bytes().count(b"/Subtype /Image")


def _red_at_top_right(path) -> bool:
    document = QPdfDocument()
    assert document.load(str(path)) == QPdfDocument.Error.None_
    page = document.render(0, QSize(595, 842))  # A4 at 72 dpi
    document.close()
    corner = [
        page.pixelColor(x, y)
        for x in range(page.width() * 3 // 4, page.width())
        for y in range(0, page.height() // 8)
    ]
    return any(c.red() > 200 and c.green() < 60 and c.blue() < 60 for c in corner)


def _summary(logo: bytes | None) -> TeamSummary:
    return TeamSummary(
        team_id="t", team_name="East", org_name="Northwind", members=("Ana",), assigned=1,
        attempted=1, passed=1, average_score=Decimal("90"), overdue=(), at=AT, logo=logo,
    )  # fmt: skip


def test_the_logo_is_drawn_in_the_header_and_left_out_cleanly(qapp, tmp_path):
    with_logo = write_team_summary(_summary(_png(400, 100)), tmp_path / "logo.pdf")
    without = write_team_summary(_summary(None), tmp_path / "plain.pdf")
    not_an_image = write_team_summary(_summary(b"not a picture"), tmp_path / "broken.pdf")
    assert (_images(with_logo), _images(without), _images(not_an_image)) == (1, 0, 0)
    assert _red_at_top_right(with_logo) and not _red_at_top_right(without)
    for path in (with_logo, without, not_an_image):
        pages, text = _read(path)
        assert pages == 1 and "Team East" in text and "Northwind" in text


def test_hr_gets_the_orgs_logo_on_each_page_fetched_once(
    qapp, backend, accounts, service_client, tmp_path
):
    backend.sign_in(accounts["hr"], PASSWORD)
    service = TeamSummaryService(backend)
    assert service.logo() is None and all(s.logo is None for s in service.summaries())

    logo = _png(120, 120)
    name = f"{backend.account.org_id}/logo.png"
    bucket = service_client.storage.from_("org-assets")
    bucket.upload(name, logo, {"content-type": "image/png"})
    try:
        fresh = TeamSummaryService(backend)
        summaries = fresh.summaries()
        assert summaries and all(s.logo == logo for s in summaries)
        assert fresh.logo() is summaries[0].logo  # the cached copy, not a second download
        [path, *_] = write_team_summaries(summaries, tmp_path)
        assert _images(path) == 1
        # The service that found none keeps its answer for its life (one fetch per org).
        assert service.logo() is None
    finally:
        bucket.remove([name])
