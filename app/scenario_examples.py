"""The three example `.coachdesk-scenario` files in resources/examples/, made from the demo
scenarios (resources/sample/scenarios.json), so an admin has something to import on day one.

    python -m app.scenario_examples            # rewrite resources/examples/

The cold call carries a one-page PDF briefing (written here by hand: one page of text needs no
PDF library), so importing it exercises attachments too. A test checks the committed files
still hold what this makes.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from app.scenario_package import Attachment, ScenarioPackage, write_package
from app.scenarios import load_scenarios

EXAMPLES = Path(__file__).resolve().parents[1] / "resources" / "examples"
# The demo scenarios that become examples, by id, with their file names.
CHOSEN = {
    "f0000000-0000-4000-8000-000000000001": "cold-call-skeptical-it-director",
    "f0000000-0000-4000-8000-000000000002": "discovery-budget-conscious-cfo",
    "f0000000-0000-4000-8000-000000000003": "objection-happy-with-the-incumbent",
}
BRIEFING_LINES = (
    "Briefing: Dana Whitfield, IT director",
    "She already has a vendor and little time. Say who you are,",
    "ask how onboarding works today, and close on a short demo meeting.",
)


def one_page_pdf(lines: tuple[str, ...]) -> bytes:
    """A valid one-page PDF showing `lines` in Helvetica (ASCII text without parentheses)."""
    shown = " ".join(f"({line}) '" for line in lines)
    text = f"BT /F1 14 Tf 72 760 Td 18 TL {shown} ET".encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(text), text),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def example_packages() -> dict[str, ScenarioPackage]:
    """File name (without its suffix) -> the package it holds."""
    scenarios = {s.id: s for s in load_scenarios()}
    packages = {}
    for scenario_id, name in CHOSEN.items():
        scenario = scenarios[scenario_id]
        attachments: tuple[Attachment, ...] = ()
        if name.startswith("cold-call"):
            pdf = one_page_pdf(BRIEFING_LINES)
            attachments = (Attachment("briefing.pdf", "application/pdf", pdf),)
        prompt = (
            f"You are {scenario.profile.name}, {scenario.profile.role}. Stay in character, "
            "answer briefly, and warm up only when the rep asks about your situation."
        )
        packages[name] = ScenarioPackage(replace(scenario, ai_prompt=prompt), attachments)
    return packages


def write_examples(folder: Path = EXAMPLES) -> list[Path]:
    return [write_package(folder / name, package) for name, package in example_packages().items()]


if __name__ == "__main__":
    for written in write_examples():
        print(written)
    sys.exit(0)
