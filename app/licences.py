"""The third-party software Coachdesk ships, with each package's licence and its texts.

Collected from the installed distributions' metadata (importlib.metadata): every distribution
the `coachdesk` distribution needs at run time, transitively. Each entry carries the licence
files the package ships (PEP 639 License-File, else LICENSE/COPYING/NOTICE files in its
metadata); packages that ship none under a licence whose text must accompany them (Qt and
PySide6 are LGPL-3.0) get the licence's text from resources/licenses/.

build/dist.py writes this once at build time into the bundle (THIRD-PARTY-LICENSES.txt under
resources/): a frozen app has no package metadata. From source it is collected when asked.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
FILE_NAME = "THIRD-PARTY-LICENSES.txt"
BUNDLED_FILE = RESOURCES / FILE_NAME
APP_DISTRIBUTION = "coachdesk"
# Licence texts the app carries for packages that ship none: the LGPL-3.0 is a set of
# permissions on top of the GPL-3.0, so both go with it.
STANDARD_TEXTS = {
    "LGPL-3.0": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "GPL-3.0": ("GPL-3.0.txt",),
}
_LICENCE_FILE = re.compile(r"(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)


class LicenceError(Exception):
    """The licences cannot be collected (the app's distribution or a dependency is missing)."""


@dataclass(frozen=True)
class ThirdParty:
    name: str
    version: str
    licence: str  # an SPDX expression or the package's own words
    texts: tuple[tuple[str, str], ...]  # (file name, text)


def runtime_distributions(root: str = APP_DISTRIBUTION) -> list[metadata.Distribution]:
    """The distributions `root` requires at run time (no extras), transitively, by name."""
    try:
        start = metadata.distribution(root)
    except metadata.PackageNotFoundError as error:
        raise LicenceError(f"the {root} distribution is not installed here") from error
    found: dict[str, metadata.Distribution] = {}
    pending = list(_requirements(start))
    while pending:
        requirement = pending.pop()
        key = canonicalize_name(requirement.name)
        if key in found:
            continue
        try:
            found[key] = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError as error:
            missing = f"{requirement.name}, which {root} needs, is not installed"
            raise LicenceError(missing) from error
        pending.extend(_requirements(found[key], requirement.extras))
    return sorted(found.values(), key=lambda d: canonicalize_name(d.metadata["Name"]))


def _requirements(dist: metadata.Distribution, extras: Iterable[str] = ()) -> Iterator[Requirement]:
    wanted = {"", *extras}
    for text in dist.requires or ():
        requirement = Requirement(text)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": extra}) for extra in wanted):
            yield requirement


def licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return str(expression)
    classifiers = [
        c.split(" :: ")[-1] for c in meta.get_all("Classifier") or () if c.startswith("License ::")
    ]
    declared = (meta.get("License") or "").strip()
    # Some packages put the whole licence text in License: its first line names it.
    short = declared.splitlines()[0] if declared else ""
    return " / ".join(filter(None, [short if len(short) < 80 else "", *classifiers])) or "unknown"


def licence_texts(dist: metadata.Distribution) -> list[tuple[str, str]]:
    """The licence files the distribution ships, read from its metadata folder."""
    declared = dist.metadata.get_all("License-File") or []
    texts = []
    for name in declared:
        text = dist.read_text(f"licenses/{name}") or dist.read_text(name)
        if text:
            texts.append((name, text))
    if texts:
        return texts
    for path in dist.files or ():
        parts = path.parts
        # Files in the .dist-info folder only: a package's own source tree is not its notice.
        if len(parts) >= 2 and parts[0].endswith(".dist-info") and _LICENCE_FILE.search(path.name):
            text = dist.read_text("/".join(parts[1:]))
            if text:
                texts.append(("/".join(parts[1:]), text))
    return texts


def standard_texts(licence: str) -> list[tuple[str, str]]:
    """The texts resources/licenses/ holds for a licence expression naming them."""
    names: list[str] = []
    for spdx, files in STANDARD_TEXTS.items():
        if re.search(rf"\b{re.escape(spdx)}(-only|-or-later)?\b", licence):
            names += [f for f in files if f not in names]
            break  # LGPL-3.0 already brings the GPL-3.0 it builds on
    return [(name, (RESOURCES / "licenses" / name).read_text(encoding="utf-8")) for name in names]


def third_party_licences(root: str = APP_DISTRIBUTION) -> list[ThirdParty]:
    parties = []
    for dist in runtime_distributions(root):
        licence = licence_of(dist)
        texts = licence_texts(dist) or standard_texts(licence)
        parties.append(ThirdParty(dist.metadata["Name"], dist.version, licence, tuple(texts)))
    return parties


def render(parties: Iterable[ThirdParty]) -> str:
    """The THIRD-PARTY-LICENSES text: a list of packages, then each one's licence texts."""
    parties = list(parties)
    rule = "=" * 78
    lines = [
        "Coachdesk includes the following third-party software. Each is used under its own",
        "licence, reproduced below. Qt and PySide6 are used under the GNU LGPL version 3:",
        "you may replace the Qt and PySide6 libraries in this installation with your own builds.",
        "",
    ]
    lines += [f"  {p.name} {p.version}: {p.licence}" for p in parties]
    for party in parties:
        lines += ["", rule, f"{party.name} {party.version}", f"Licence: {party.licence}", rule]
        if not party.texts:
            lines += ["", "(The package ships no licence file; its licence is named above.)"]
        for name, text in party.texts:
            lines += ["", f"--- {name} ---", "", text.rstrip()]
    return "\n".join(lines) + "\n"


def licences_text() -> str:
    """What the app shows: the file written at build time, else collected from this install."""
    if BUNDLED_FILE.is_file():
        return BUNDLED_FILE.read_text(encoding="utf-8")
    return render(third_party_licences())


def write(path: Path) -> Path:
    """Write the THIRD-PARTY-LICENSES file (build/dist.py, before the bundle is made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(third_party_licences()), encoding="utf-8")
    return path


def main(argv: list[str]) -> int:
    """`python -m app.licences OUT`: write the THIRD-PARTY-LICENSES file to OUT."""
    if len(argv) != 1:
        print("usage: python -m app.licences OUT", file=sys.stderr)
        return 2
    try:
        path = write(Path(argv[0]))
    except LicenceError as error:
        print(f"cannot collect the third-party licences: {error}", file=sys.stderr)
        return 1
    print(f"third-party licences: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
