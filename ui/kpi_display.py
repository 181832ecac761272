"""How each KPI is named, shown and judged on the review screen.

The ideal range of a KPI is the scenario rubric's target when the rubric scores that KPI (the
range the call was actually scored against), else the recommended range of docs/kpis.md
("Ideal ranges and where they come from"); KPIs with no published range show no verdict.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sync.rows import number as as_decimal
from ui.formatting import number


@dataclass(frozen=True)
class KpiInfo:
    key: str
    label: str
    unit: str = ""
    # docs/kpis.md's recommended range; None where no source publishes one.
    low: Decimal | None = None
    high: Decimal | None = None
    source: str = ""
    as_percent: bool = False


_D = Decimal
KPIS: tuple[KpiInfo, ...] = (
    KpiInfo(
        "talk_ratio",
        "Talk ratio",
        low=_D("0.40"),
        high=_D("0.60"),
        source="Gong Labs",
        as_percent=True,
    ),
    KpiInfo("words_per_minute", "Pace", "wpm", _D(130), _D(175), "Read.ai, Gong Labs"),
    KpiInfo(
        "filler_word_ratio", "Filler words", high=_D("0.04"), source="Read.ai", as_percent=True
    ),
    KpiInfo(
        "filler_words_per_minute",
        "Fillers per minute",
        "/min",
        high=_D(5),
        source="speech research",
    ),
    KpiInfo("questions_asked", "Questions asked"),
    KpiInfo("longest_monologue_seconds", "Longest monologue", "s"),
    KpiInfo("response_latency_seconds", "Response pause", "s"),
    KpiInfo("interruptions", "Interruptions"),
    KpiInfo("speaker_switches_per_minute", "Speaker switches", "/min"),
    KpiInfo("keyword_coverage", "Key points covered", as_percent=True),
    KpiInfo("call_duration_seconds", "Call length", "s"),
)
BY_KEY = {k.key: k for k in KPIS}


class Verdict(enum.StrEnum):
    WITHIN = "within"
    BELOW = "below"
    ABOVE = "above"
    NOT_MEASURED = "not measured"
    NO_TARGET = "no target"


@dataclass(frozen=True)
class KpiReading:
    info: KpiInfo
    value: Decimal | None
    low: Decimal | None
    high: Decimal | None
    from_rubric: bool

    @property
    def verdict(self) -> Verdict:
        if self.value is None:
            return Verdict.NOT_MEASURED
        if self.low is None and self.high is None:
            return Verdict.NO_TARGET
        if self.low is not None and self.value < self.low:
            return Verdict.BELOW
        if self.high is not None and self.value > self.high:
            return Verdict.ABOVE
        return Verdict.WITHIN

    @property
    def value_text(self) -> str:
        return show(self.info, self.value)

    @property
    def target_text(self) -> str:
        low, high = show(self.info, self.low), show(self.info, self.high)
        if self.low is not None and self.high is not None:
            text = f"ideal {low}–{high}"
        elif self.low is not None:
            text = f"ideal ≥ {low}"
        elif self.high is not None:
            text = f"ideal ≤ {high}"
        else:
            return "no published range"
        return f"{text} ({'this scenario' if self.from_rubric else self.info.source})"


def show(info: KpiInfo, value: Decimal | None) -> str:
    if value is None:
        return "–"
    if info.as_percent:
        return f"{(value * 100).quantize(Decimal('0.1'))} %"
    return f"{number(value)} {info.unit}".strip()


def rubric_targets(rubric: Mapping[str, Any]) -> dict[str, tuple[Decimal | None, Decimal | None]]:
    targets = {}
    for criterion in rubric.get("criteria", []) if isinstance(rubric, Mapping) else []:
        if isinstance(criterion, Mapping) and criterion.get("type") == "kpi":
            target = criterion.get("target") or {}
            targets[str(criterion.get("kpi"))] = (
                as_decimal(target.get("min")),
                as_decimal(target.get("max")),
            )
    return targets


def readings(kpis: Mapping[str, Any], rubric: Mapping[str, Any]) -> list[KpiReading]:
    """A reading for every KPI Coachdesk shows, in display order."""
    targets = rubric_targets(rubric)
    result = []
    for info in KPIS:
        if info.key in targets:
            low, high = targets[info.key]
            from_rubric = True
        else:
            low, high, from_rubric = info.low, info.high, False
        result.append(KpiReading(info, as_decimal(kpis.get(info.key)), low, high, from_rubric))
    return result
