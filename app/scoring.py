"""A rubric applied to a call's KPIs: the client's provisional score.

Gives exactly the breakdown `private.score_breakdown` (migration 0700) stores when the server
scores the attempt, so the number a trainee sees after the call does not change when the server's
arrives. Rules: docs/kpis.md ("Scoring").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, localcontext
from typing import Any

from app.kpis import Number, keyword_hits, round_ratio, to_decimal, turns_of

BREAKDOWN_VERSION = 1
# Decimal arithmetic here must be exact like Postgres numeric: differences, products and sums of
# JSON numbers (at most 17 significant digits each) fit easily in this many digits.
_EXACT_DIGITS = 120


class RubricError(ValueError):
    """The rubric cannot be applied (the server's validate_rubric would refuse it too)."""


def format_number(value: Decimal) -> str:
    """A number for a sentence, as the SQL's trim_scale(value)::text: no exponent, no trailing 0."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _target_text(low: Decimal | None, high: Decimal | None) -> str:
    if low is not None and high is not None:
        return f"from {format_number(low)} to {format_number(high)}"
    if low is not None:
        return f"at least {format_number(low)}"
    return f"at most {format_number(high)}" if high is not None else "no target"


def _optional(mapping: Mapping[str, Any], key: str) -> Decimal | None:
    value = mapping.get(key)
    return None if value is None else to_decimal(value)


def score_kpi_criterion(criterion: Mapping[str, Any], kpis: Mapping[str, Any]) -> dict[str, Any]:
    """Score, value and detail of a "kpi" criterion (private.score_criterion)."""
    with localcontext(prec=_EXACT_DIGITS):
        return _score_kpi_criterion(criterion, kpis)


def _score_kpi_criterion(criterion: Mapping[str, Any], kpis: Mapping[str, Any]) -> dict[str, Any]:
    kpi = criterion["kpi"]
    value = kpis.get(kpi)
    # Like the SQL's jsonb_typeof(value) <> 'number': anything but a number is "not measured".
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return {
            "score": None,
            "value": None,
            "detail": f"not measured: {kpi} has no value for this call",
        }
    v = to_decimal(value)
    target = criterion.get("target") or {}
    low, high = _optional(target, "min"), _optional(target, "max")
    tolerance = _optional(criterion, "tolerance") or Decimal(0)
    target_text = _target_text(low, high)
    if low is not None and v < low:
        miss, side = low - v, "below"
    elif high is not None and v > high:
        miss, side = v - high, "above"
    else:
        return {
            "score": round_ratio(100, 1, 2),
            "value": value,
            "detail": f"{format_number(v)} is within the target ({target_text})",
        }
    score = (
        round_ratio(0, 1, 2)
        if tolerance == 0
        else round_ratio(100 * max(tolerance - miss, Decimal(0)), tolerance, 2)
    )
    slack = "no tolerance" if tolerance == 0 else f"tolerance {format_number(tolerance)}"
    return {
        "score": score,
        "value": value,
        "detail": (
            f"{format_number(v)} is {format_number(miss)} {side} the target ({target_text}); "
            f"{slack}"
        ),
    }


def score(
    rubric: Mapping[str, Any],
    kpis: Mapping[str, Any],
    pass_score: Number,
    transcript: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The score breakdown of a call, equal to what the server stores in score_breakdown.

    `kpis` are compute_kpis(transcript, rubric). Keyword criteria are counted in the transcript,
    so a rubric that has them needs it.
    """
    with localcontext(prec=_EXACT_DIGITS):
        return _score(rubric, kpis, pass_score, transcript)


def _score(
    rubric: Mapping[str, Any],
    kpis: Mapping[str, Any],
    pass_score: Number,
    transcript: Mapping[str, Any] | None,
) -> dict[str, Any]:
    criteria = rubric.get("criteria") if isinstance(rubric, Mapping) else None
    if not isinstance(criteria, list) or not criteria:
        raise RubricError('rubric is invalid: "criteria" must be a non-empty array')
    turns = None if transcript is None else turns_of(transcript)
    items = []
    weighted = Decimal(0)
    measured_weight = Decimal(0)
    for criterion in criteria:
        kind = criterion.get("type")
        if kind == "keywords":
            if turns is None:
                raise RubricError(
                    f'criterion "{criterion.get("id")}" counts keywords: pass the transcript'
                )
            groups = criterion["keywords"]
            hits = keyword_hits(turns, groups)
            scored = {
                "score": round_ratio(100 * hits, len(groups), 2),
                "value": hits,
                "detail": f"{hits} of {len(groups)} keyword groups mentioned",
            }
        elif kind == "kpi":
            scored = score_kpi_criterion(criterion, kpis)
        else:
            raise RubricError(
                f'criterion "{criterion.get("id")}": type must be "kpi" or "keywords"'
            )
        weight = to_decimal(criterion["weight"])
        if scored["score"] is not None:
            weighted += weight * scored["score"]
            measured_weight += weight
        items.append(
            {
                "id": criterion["id"],
                "label": criterion.get("label", criterion["id"]),
                "type": kind,
                "weight": weight,
                **scored,
            }
        )
    total = round_ratio(weighted, measured_weight, 2)
    return {
        "version": BREAKDOWN_VERSION,
        "score": total,
        "pass_score": to_decimal(pass_score),
        "passed": total is not None and total >= to_decimal(pass_score),
        "criteria": items,
    }
