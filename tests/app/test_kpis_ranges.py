"""The recommended KPI ranges in app/kpis.py are those docs/kpis.md publishes, with the source."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from app.kpis import IDEAL_RANGES, KPI_NAMES, IdealRange

DOC = Path(__file__).resolve().parents[2] / "docs" / "kpis.md"
SECTION = "## Ideal ranges and where they come from"
# The whole target cell is a range ("0.40–0.60", "≤ 0.04", "≥ 2"), maybe with a note in brackets
# about the seed rubrics; "11–14 per discovery call" is a range for another kind of call.
RANGE = re.compile(
    r"^(?:(?P<low>[\d.]+)–(?P<high>[\d.]+)|≤ (?P<max>[\d.]+)|≥ (?P<min>[\d.]+))(?: \(|$)"
)


def _bounds(target: str) -> IdealRange | None:
    match = RANGE.match(target)
    if match is None:
        return None
    low, high = match["low"] or match["min"], match["high"] or match["max"]
    return IdealRange(Decimal(low) if low else None, Decimal(high) if high else None, source="")


def documented_ranges() -> dict[str, tuple[IdealRange | None, str]]:
    """KPI -> (its range as the doc's table states it, or None; the source column)."""
    text = DOC.read_text(encoding="utf-8")
    table = text[text.index(SECTION) :].split("\n\n")[2]
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    found = {}
    for key_cell, target, source, *_notes in rows:
        for key in re.findall(r"`(\w+)`", key_cell):
            found[key] = (_bounds(target), source)
    return found


def test_every_range_is_for_a_kpi_that_exists_and_is_ordered():
    assert set(IDEAL_RANGES) <= set(KPI_NAMES)
    for key, ideal in IDEAL_RANGES.items():
        assert ideal.low is not None or ideal.high is not None, key
        if ideal.low is not None and ideal.high is not None:
            assert ideal.low < ideal.high, key


@pytest.mark.parametrize("key", sorted(set(KPI_NAMES) - {"rep_talk_seconds", "rep_word_count"}))
def test_the_ranges_match_the_published_table(key):
    documented = documented_ranges()
    assert key in documented, f"docs/kpis.md has no row for {key}"
    in_doc, source = documented[key]
    ideal = IDEAL_RANGES.get(key)
    if in_doc is None:
        assert ideal is None, f"{key} has a range here but none in docs/kpis.md"
        return
    assert ideal is not None, f"docs/kpis.md publishes a range for {key}; app/kpis.py has none"
    assert (ideal.low, ideal.high) == (in_doc.low, in_doc.high)
    # The source named on screen is one the doc cites for this range.
    assert all(name.strip() in source for name in ideal.source.split(","))
