"""`.coachdesk-scenario` files: a round trip, the examples, and a clear refusal of each malformed
case (nothing of a refused file is used)."""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from app.scenario_examples import example_packages as built_examples
from app.scenario_examples import one_page_pdf
from app.scenario_package import (
    MAX_ATTACHMENT_BYTES,
    MAX_AVATAR_BYTES,
    Attachment,
    PackageError,
    ScenarioPackage,
    attachment_from_file,
    avatar_from_file,
    example_packages,
    plain_json,
    read_package,
    write_package,
)
from app.scenarios import load_scenarios

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def package() -> ScenarioPackage:
    scenario = load_scenarios()[0]
    pdf = Attachment("briefing.pdf", "application/pdf", one_page_pdf(("Read me first",)))
    chart = Attachment("org chart.png", "image/png", PNG)
    return ScenarioPackage(replace(scenario, ai_prompt="Be Dana."), (pdf, chart))


def test_a_package_round_trips_as_a_new_draft_with_its_attachments(tmp_path, package):
    path = write_package(tmp_path / "cold-call", package)
    assert path.name == "cold-call.coachdesk-scenario"
    back = read_package(path)
    original = package.scenario
    assert back.scenario.id != original.id and back.scenario.org_id is None
    assert back.scenario.status == "draft"
    for field in ("title", "description", "difficulty", "pass_score", "persona", "branching"):
        assert getattr(back.scenario, field) == getattr(original, field), field
    assert back.scenario.rubric == original.rubric
    assert back.scenario.ai_prompt == "Be Dana."
    assert back.attachments == package.attachments


def test_key_terms_round_trip_and_a_file_without_them_has_none(tmp_path, package):
    terms = ("Acme Cloud", "SOC 2", "Globex")
    with_terms = replace(package, scenario=replace(package.scenario, key_terms=terms))
    path = write_package(tmp_path / "with-terms", with_terms)
    assert read_package(path).scenario.key_terms == terms
    # None: the field is left out, as in every file written before key terms existed (so an
    # older Coachdesk still reads it), and reading it back gives none.
    path = write_package(tmp_path / "without", package)
    with zipfile.ZipFile(path) as archive:
        assert "key_terms" not in json.loads(archive.read("scenario.json"))["scenario"]
    assert read_package(path).scenario.key_terms == ()


@pytest.mark.parametrize(
    ("terms", "reason"),
    [(["Acme", "acme"], '"acme" is listed twice'), ("Acme", "must be a list of terms")],
)
def test_bad_key_terms_are_refused_as_the_database_would(tmp_path, package, terms, reason):
    written = write_package(tmp_path / "good", package)
    with zipfile.ZipFile(written) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    document = json.loads(files["scenario.json"])
    document["scenario"]["key_terms"] = terms
    files["scenario.json"] = json.dumps(document).encode()
    with pytest.raises(PackageError) as refused:
        read_package(_zip(tmp_path, files))
    assert str(refused.value) == f"bad.coachdesk-scenario: key_terms is invalid: {reason}"


@pytest.fixture
def pictured(package, tmp_path) -> ScenarioPackage:
    """The package with a persona picture, named as the editor names it."""
    portrait = tmp_path / "Dana.png"
    portrait.write_bytes(PNG)
    picture = avatar_from_file(portrait)
    persona = {**package.scenario.persona, "avatar": picture.name}
    return replace(package, scenario=replace(package.scenario, persona=persona), avatar=picture)


def test_a_persona_picture_travels_in_a_version_2_file(tmp_path, package, pictured):
    path = write_package(tmp_path / "pictured", pictured)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        version = json.loads(archive.read("scenario.json"))["version"]
    picture = pictured.avatar
    assert picture is not None and re.fullmatch(r"avatar-[0-9a-f]{16}\.png", picture.name)
    assert version == 2 and f"assets/persona/{picture.name}" in names
    back = read_package(path)
    assert back.avatar == picture and back.scenario.persona["avatar"] == picture.name
    assert back.attachments == package.attachments  # the picture is not a briefing
    # Without a picture a file is still version 1, byte for byte what older Coachdesks read.
    with zipfile.ZipFile(write_package(tmp_path / "plain", package)) as archive:
        assert json.loads(archive.read("scenario.json"))["version"] == 1


def test_a_picture_missing_unnamed_or_not_an_image_is_refused(tmp_path, package, pictured):
    picture = pictured.avatar
    assert picture is not None
    listing = {"name": picture.name, "type": picture.type, "sha256": picture.sha256}
    inside = {f"assets/persona/{picture.name}": picture.data}

    def document(persona_avatar: str | None, avatar: dict[str, Any] | None) -> bytes:
        def change(d: dict[str, Any]) -> None:
            d["version"] = 2
            d["scenario"] = plain_json(d["scenario"])  # valid, to reach the picture's checks
            if persona_avatar is not None:
                d["scenario"]["persona"] = {**d["scenario"]["persona"], "avatar": persona_avatar}
            if avatar is not None:
                d["avatar"] = avatar

        return _document(package, change)

    assets = _assets(package)
    cases = [
        ({"scenario.json": document(picture.name, None), **assets}, "is not in the file"),
        (
            {"scenario.json": document(None, listing), **assets, **inside},
            "but the persona names",
        ),
        ({"scenario.json": document(picture.name, listing), **assets}, "listed but not in"),
        (
            {"scenario.json": document(picture.name, {**listing, "name": "../x.png"}), **assets},
            "not a plain file name",
        ),
        (
            {
                "scenario.json": document("face.gif", {**listing, "name": "face.gif"}),
                **assets,
                "assets/persona/face.gif": b"GIF89a",
            },
            "choose a PNG or JPEG",
        ),
    ]
    for files, expected in cases:
        with pytest.raises(PackageError, match=re.escape(expected)):
            read_package(_zip(tmp_path, files))
    with pytest.raises(PackageError, match="not the one its avatar field names"):
        write_package(tmp_path / "mismatch", replace(pictured, avatar=None))


def test_picture_files_are_checked_before_anything_uses_them(tmp_path):
    gif = tmp_path / "face.gif"
    gif.write_bytes(b"GIF89a")
    with pytest.raises(PackageError, match="choose a PNG or JPEG image"):
        avatar_from_file(gif)
    fake = tmp_path / "face.jpg"
    fake.write_bytes(PNG)
    with pytest.raises(PackageError, match="is not really a JPEG image"):
        avatar_from_file(fake)
    huge = tmp_path / "huge.png"
    with huge.open("wb") as file:
        file.write(PNG)
        file.truncate(MAX_AVATAR_BYTES + 1)
    with pytest.raises(PackageError, match="may be at most 5 MB"):
        avatar_from_file(huge)
    jpeg = tmp_path / "Face.JPEG"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 16)
    assert avatar_from_file(jpeg).name.endswith(".jpg")


def test_the_shipped_examples_import_and_match_what_makes_them():
    shipped = {
        p.name.removesuffix(".coachdesk-scenario"): read_package(p) for p in example_packages()
    }
    made = built_examples()
    assert sorted(shipped) == sorted(made) and len(shipped) == 3
    for name, package in made.items():
        got = shipped[name]
        assert (got.scenario.title, got.scenario.rubric) == (
            package.scenario.title,
            package.scenario.rubric,
        )
        assert got.attachments == package.attachments
        assert got.scenario.ai_prompt == package.scenario.ai_prompt
    assert any(a.name == "briefing.pdf" for p in shipped.values() for a in p.attachments)


def test_the_example_briefing_is_a_pdf_qt_can_open(tmp_path, qapp):
    from PySide6.QtPdf import QPdfDocument

    path = tmp_path / "briefing.pdf"
    path.write_bytes(one_page_pdf(("Briefing", "Second line")))
    document = QPdfDocument()
    assert document.load(str(path)) == QPdfDocument.Error.None_
    assert document.pageCount() == 1


def _zip(tmp_path: Path, files: dict[str, bytes], name: str = "bad.coachdesk-scenario") -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for entry, data in files.items():
            archive.writestr(entry, data)
    path = tmp_path / name
    path.write_bytes(buffer.getvalue())
    return path


def _document(package: ScenarioPackage, change: Callable[[dict[str, Any]], None]) -> bytes:
    scenario = package.scenario
    document: dict[str, Any] = {
        "format": "coachdesk-scenario",
        "version": 1,
        "scenario": {
            "title": scenario.title,
            "description": scenario.description,
            "difficulty": scenario.difficulty,
            "pass_score": 70,
            "max_attempts": None,
            "ai_prompt": "",
            "persona": scenario.persona,
            "branching": scenario.branching,
            "rubric": scenario.rubric,
        },
        "attachments": [
            {"name": a.name, "type": a.type, "sha256": a.sha256} for a in package.attachments
        ],
    }
    change(document)
    return json.dumps(document, default=str).encode()


def _assets(package: ScenarioPackage) -> dict[str, bytes]:
    return {f"assets/{a.name}": a.data for a in package.attachments}


def _without_default(document: dict[str, Any]) -> None:
    for node in document["scenario"]["branching"]["nodes"]:
        for edge in node.get("edges", []):
            edge["to"] = "nowhere"


MALFORMED: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "another format": (lambda d: d.update(format="anki-deck"), "is not a Coachdesk scenario"),
    "a newer version": (lambda d: d.update(version=9), "newer Coachdesk"),
    "a version that is text": (lambda d: d.update(version="1"), "whole number"),
    "no scenario": (lambda d: d.pop("scenario"), '"scenario" must be a JSON object'),
    "an unknown field": (lambda d: d["scenario"].update(colour="red"), "does not know"),
    "no title": (lambda d: d["scenario"].update(title=" "), '"title" must be a non-empty'),
    "a pass mark that is text": (lambda d: d["scenario"].update(pass_score="high"), "pass_score"),
    "a persona with no name": (lambda d: d["scenario"]["persona"].pop("name"), "name"),
    "a rubric with no criteria": (lambda d: d["scenario"].update(rubric={}), "criteria"),
    "an edge to no node": (_without_default, "nowhere"),
    "a zero attempt cap": (lambda d: d["scenario"].update(max_attempts=0), "max_attempts"),
    "attachments not a list": (lambda d: d.update(attachments={}), "list of objects"),
    "a folder in a name": (
        lambda d: d["attachments"][0].update(name="../escape.pdf"),
        "not a plain file name",
    ),
    "an attachment listed twice": (
        lambda d: d["attachments"].append(dict(d["attachments"][0])),
        "listed twice",
    ),
    "a wrong type": (lambda d: d["attachments"][0].update(type="image/png"), "says it is"),
    "an altered attachment": (lambda d: d["attachments"][0].update(sha256="0" * 64), "sha256"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_each_malformed_document_is_refused_saying_why(tmp_path, package, case):
    change, expected = MALFORMED[case]
    path = _zip(tmp_path, {"scenario.json": _document(package, change), **_assets(package)})
    with pytest.raises(PackageError, match=re.escape("bad.coachdesk-scenario")) as refused:
        read_package(path)
    assert expected in str(refused.value)


def test_files_that_are_not_packages_are_refused_saying_why(tmp_path, package):
    not_zip = tmp_path / "notes.coachdesk-scenario"
    not_zip.write_text("just text")
    with pytest.raises(PackageError, match="not a zip"):
        read_package(not_zip)
    with pytest.raises(PackageError, match="there is no file"):
        read_package(tmp_path / "missing.coachdesk-scenario")
    with pytest.raises(PackageError, match=re.escape("has no scenario.json")):
        read_package(_zip(tmp_path, {"readme.txt": b"hi"}))
    with pytest.raises(PackageError, match="is not valid JSON"):
        read_package(_zip(tmp_path, {"scenario.json": b"{not json"}))
    with pytest.raises(PackageError, match="must be a JSON object"):
        read_package(_zip(tmp_path, {"scenario.json": b"[1, 2]"}))


def test_attachments_missing_unlisted_or_not_what_they_claim_are_refused(tmp_path, package):
    document = _document(package, lambda d: None)
    assets = _assets(package)
    with pytest.raises(
        PackageError, match=re.escape('"briefing.pdf" is listed but not in the file')
    ):
        read_package(_zip(tmp_path, {"scenario.json": document, "assets/org chart.png": PNG}))
    with pytest.raises(PackageError, match=re.escape("does not list: ../evil, assets/extra.pdf")):
        read_package(
            _zip(
                tmp_path,
                {"scenario.json": document, **assets, "assets/extra.pdf": b"%PDF-", "../evil": b""},
            )
        )
    fake = b"MZ this is a program"
    forged = _document(
        package,
        lambda d: d["attachments"][0].update(sha256=hashlib.sha256(fake).hexdigest()),
    )
    with pytest.raises(PackageError, match="is not really application/pdf"):
        read_package(
            _zip(tmp_path, {"scenario.json": forged, **assets, "assets/briefing.pdf": fake})
        )


def test_attachment_files_are_checked_before_a_package_is_written(tmp_path, package):
    program = tmp_path / "setup.exe"
    program.write_bytes(b"MZ")
    with pytest.raises(PackageError, match="only PDFs and images"):
        attachment_from_file(program)
    huge = tmp_path / "huge.pdf"
    with huge.open("wb") as file:
        file.write(b"%PDF-")
        file.truncate(MAX_ATTACHMENT_BYTES + 1)
    with pytest.raises(PackageError, match="larger than 50 MB"):
        attachment_from_file(huge)
    twice = ScenarioPackage(package.scenario, package.attachments[:1] * 2)
    with pytest.raises(PackageError, match="same name"):
        write_package(tmp_path / "twice", twice)
    assert not list(tmp_path.glob("*.coachdesk-scenario"))  # nothing half written


def test_coachdesk_scenario_check_says_what_would_import_and_why_not(tmp_path, capsys):
    from app.cli import main

    broken = tmp_path / "broken.coachdesk-scenario"
    broken.write_text("not a zip")
    examples = [str(p) for p in example_packages()]
    assert main(["scenario", "check", *examples]) == 0
    out = capsys.readouterr().out
    assert "Cold call: the skeptical IT director (beginner; 5 dialog nodes" in out
    assert "briefing.pdf" in out
    assert main(["scenario", "check", examples[0], str(broken)]) == 1
    captured = capsys.readouterr()
    assert "broken.coachdesk-scenario is not a Coachdesk scenario file (not a zip)" in captured.err
