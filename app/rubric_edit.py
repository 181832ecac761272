"""Editing a rubric as people think of it: criteria with weights in whole percentages that must
total 100, KPI targets prefilled with the published ideal ranges, and a preview score identical
to the server's (no Qt).

The document stores weights as shares of 1 (docs/scenario-format.md); percentages are what an
admin types. `balance` spreads what is missing (or too much) over the criteria so they total
100 again, largest remainders first, as whole percentages. `preview` scores a transcript with the
edited rubric exactly as `score_attempt` would (app.kpis.compute_kpis + app.scoring.score, the
functions tests/app/test_kpi_parity.py holds equal to the SQL).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from app.formats import FormatError, validate_rubric
from app.kpis import IDEAL_RANGES, KPI_NAMES, compute_kpis
from app.scoring import score

HUNDRED = 100


@dataclass(frozen=True)
class Criterion:
    """One criterion as the editor shows it; `percent` is its weight in whole percent."""

    id: str
    label: str
    type: str  # "kpi" or "keywords"
    percent: int
    kpi: str | None = None
    low: Decimal | None = None
    high: Decimal | None = None
    tolerance: Decimal | None = None
    keywords: tuple[tuple[str, ...], ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys the editor does not edit, kept


def new_kpi_criterion(kpi: str, percent: int = 0, taken: Sequence[str] = ()) -> Criterion:
    """A KPI criterion whose target is the KPI's published ideal range, where there is one."""
    if kpi not in KPI_NAMES:
        raise ValueError(f"{kpi!r} is not a KPI Coachdesk computes")
    ideal = IDEAL_RANGES.get(kpi)
    return Criterion(
        id=_free_id(kpi, taken),
        label=kpi.replace("_", " ").capitalize(),
        type="kpi",
        percent=percent,
        kpi=kpi,
        low=ideal.low if ideal else None,
        high=ideal.high if ideal else None,
    )


def new_keywords_criterion(
    groups: Sequence[Sequence[str]], percent: int = 0, taken: Sequence[str] = ()
) -> Criterion:
    cleaned = tuple(tuple(p.strip() for p in g if p.strip()) for g in groups)
    return Criterion(
        id=_free_id("keywords", taken),
        label="Mention the key points",
        type="keywords",
        percent=percent,
        keywords=tuple(g for g in cleaned if g),
    )


def from_document(rubric: Mapping[str, Any]) -> list[Criterion]:
    """The criteria of a rubric document, weights as whole percentages (rounded, then balanced
    so they still total 100 when the document's did)."""
    raw = list(rubric.get("criteria", ()))
    criteria = [_criterion(c) for c in raw]
    exact = [Decimal(str(c.get("weight", 0))) * HUNDRED for c in raw]
    if criteria and sum(exact) == HUNDRED:
        return _largest_remainders(criteria, exact)
    return criteria


def to_document(criteria: Sequence[Criterion], base: Mapping[str, Any] | None = None) -> dict:
    """The rubric document (other top-level keys of `base` kept); FormatError, with the same
    sentence the database gives, when it would be refused."""
    total = sum(c.percent for c in criteria)
    if criteria and total != HUNDRED:
        raise FormatError("rubric", f"the weights total {total} %; they must total 100 % (Balance)")
    document = {**(base or {}), "criteria": [_document_criterion(c) for c in criteria]}
    validate_rubric(document)
    return document


def balance(criteria: Sequence[Criterion]) -> list[Criterion]:
    """The same criteria with weights that total 100 %, each in proportion to its own (all
    equal when every weight is 0); whole percentages, largest remainders first."""
    if not criteria:
        return []
    total = sum(max(c.percent, 0) for c in criteria)
    if total == 0:
        exact = [Decimal(HUNDRED) / len(criteria)] * len(criteria)
    else:
        exact = [Decimal(max(c.percent, 0)) * HUNDRED / total for c in criteria]
    return _largest_remainders(list(criteria), exact)


def preview(
    criteria: Sequence[Criterion],
    transcript: Mapping[str, Any],
    pass_score: Decimal | int,
    base: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The score breakdown `score_attempt` would store for `transcript` with this rubric."""
    rubric = to_document(criteria, base)
    return score(rubric, compute_kpis(transcript, rubric), pass_score, transcript)


# Helpers -----------------------------------------------------------------------------------------
def _largest_remainders(criteria: list[Criterion], exact: Sequence[Decimal]) -> list[Criterion]:
    floors = [int(value) for value in exact]
    missing = HUNDRED - sum(floors)
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:missing]:
        floors[i] += 1
    return [replace(c, percent=p) for c, p in zip(criteria, floors, strict=True)]


def _free_id(stem: str, taken: Sequence[str]) -> str:
    if stem not in taken:
        return stem
    n = 2
    while f"{stem}_{n}" in taken:
        n += 1
    return f"{stem}_{n}"


_EDITED = {"id", "label", "type", "weight", "kpi", "target", "tolerance", "keywords"}


def _criterion(c: Mapping[str, Any]) -> Criterion:
    target = c.get("target") or {}
    return Criterion(
        id=str(c.get("id", "")),
        label=str(c.get("label") or ""),
        type=str(c.get("type", "kpi")),
        percent=0,
        kpi=c.get("kpi"),
        low=_number(target.get("min")),
        high=_number(target.get("max")),
        tolerance=_number(c.get("tolerance")),
        keywords=tuple(tuple(str(p) for p in g) for g in c.get("keywords") or ()),
        extra={k: v for k, v in c.items() if k not in _EDITED},
    )


def _document_criterion(c: Criterion) -> dict[str, Any]:
    out: dict[str, Any] = {**c.extra, "id": c.id, "type": c.type, "weight": _share(c.percent)}
    if c.label:
        out["label"] = c.label
    if c.type == "kpi":
        out["kpi"] = c.kpi
        out["target"] = {k: v for k, v in (("min", c.low), ("max", c.high)) if v is not None}
        if c.tolerance is not None:
            out["tolerance"] = c.tolerance
    else:
        out["keywords"] = [list(g) for g in c.keywords]
    return out


def _share(percent: int) -> Decimal:
    # Decimal, as documents read from JSON hold them: exact, so the weights total exactly 1.
    return Decimal(percent) / HUNDRED


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    return Decimal(str(value))
