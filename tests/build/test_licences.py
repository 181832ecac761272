"""Third-party licences: collected from the installed packages' metadata, written into the
bundle at build time and shipped by the .deb (Qt and PySide6 are LGPL-3.0: their texts go too)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from build_support import ROOT, run
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from app import licences

LGPL_TITLE = "GNU LESSER GENERAL PUBLIC LICENSE"
GPL_TITLE = "GNU GENERAL PUBLIC LICENSE"


@pytest.fixture(scope="module")
def parties() -> dict[str, licences.ThirdParty]:
    return {canonicalize_name(p.name): p for p in licences.third_party_licences()}


def test_every_runtime_dependency_is_listed_with_its_licence(parties):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    assert direct <= set(parties)
    # ... and what they pull in: Qt's binding needs shiboken6.
    assert "shiboken6" in parties
    assert all(p.licence and p.licence != "unknown" for p in parties.values()), [
        p.name for p in parties.values() if p.licence == "unknown"
    ]
    assert not {"pytest", "ruff", "pyinstaller"} & set(parties)  # development tools stay out


@pytest.mark.parametrize("name", ["pyside6-essentials", "pyside6-addons", "shiboken6"])
def test_qt_and_pyside_come_with_the_lgpl_and_the_gpl_it_builds_on(parties, name):
    party = parties[name]
    assert "LGPL-3.0" in party.licence
    titles = [text.strip().splitlines()[0].strip() for _, text in party.texts]
    assert titles == [LGPL_TITLE, GPL_TITLE]


def test_packages_shipping_their_licence_files_keep_their_own_texts(parties):
    numpy = parties["numpy"]
    assert any(name == "LICENSE.txt" and "Copyright" in text for name, text in numpy.texts)
    assert "BSD-3-Clause" in numpy.licence


def test_the_rendered_file_lists_every_package_then_each_text(parties):
    text = licences.render(parties.values())
    for party in parties.values():
        assert f"  {party.name} {party.version}: {party.licence}" in text
        for name, body in party.texts:
            assert f"--- {name} ---" in text and body.strip()[:200] in text
    assert "you may replace the Qt and PySide6 libraries" in text


def test_the_app_reads_the_file_written_at_build_time(tmp_path, monkeypatch):
    written = tmp_path / "resources" / licences.FILE_NAME
    licences.write(written)
    monkeypatch.setattr(licences, "BUNDLED_FILE", written)
    assert licences.licences_text() == written.read_text(encoding="utf-8")
    assert LGPL_TITLE in licences.licences_text()


def test_the_bundle_build_writes_the_licences_for_the_spec(dist, tmp_path):
    inputs = dist.bundle_inputs("1.2.3", work=tmp_path)
    licences_file = Path(inputs[dist.LICENCES_ENV])
    assert licences_file.parent == tmp_path
    assert LGPL_TITLE in licences_file.read_text(encoding="utf-8")
    assert Path(inputs["COACHDESK_VERSION_FILE"]).read_text() == "1.2.3\n"
    # The spec takes the file from that variable into resources/ (where About reads it).
    spec = dist.SPEC.read_text()
    assert f'os.environ.get("{dist.LICENCES_ENV}")' in spec
    assert 'datas.append((licences_file, "resources"))' in spec
    assert dist.BUNDLED_LICENCES.parts[-2:] == ("resources", licences.FILE_NAME)


def test_the_deb_ships_the_licences_and_refuses_a_bundle_without_them(dist, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    (bundle / "coachdesk").write_bytes(Path("/bin/true").read_bytes())
    (bundle / "coachdesk").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(dist.DistError, match="third-party licences"):
        dist.make_deb(bundle, "1.2.3", out, work=tmp_path / "work")

    (bundle / dist.BUNDLED_LICENCES).write_text("Qt: LGPL-3.0\n" + LGPL_TITLE)
    deb = dist.make_deb(bundle, "1.2.3", out, work=tmp_path / "work")
    contents = run(["dpkg-deb", "--contents", deb]).stdout
    assert "./usr/share/doc/coachdesk/THIRD-PARTY-LICENSES.txt" in contents
    assert "./opt/coachdesk/_internal/resources/THIRD-PARTY-LICENSES.txt" in contents
    unpacked = tmp_path / "unpacked"
    run(["dpkg-deb", "--extract", deb, unpacked])
    docs = unpacked / "usr/share/doc/coachdesk"
    assert LGPL_TITLE in (docs / "THIRD-PARTY-LICENSES.txt").read_text()
    assert "GNU LGPL" in (docs / "copyright").read_text()
