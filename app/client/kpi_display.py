"""How each KPI is named, shown and judged on the review screen.

The ideal range of a KPI is the scenario rubric's target when the rubric scores that KPI (the
range the call was actually scored against), else the recommended range app.kpis.IDEAL_RANGES
holds (docs/kpis.md, "Ideal ranges and where they come from"); KPIs with no published range show
no verdict. A KPI judged against a recommended range only is not part of the score: its card
says so, so "above range" on a call that scored 100 is not a contradiction. Durations of a
whole call read as m:ss, like the call's length everywhere else on screen. This module only
names and formats them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.client.formatting import clock, number
from app.kpis import IDEAL_RANGES, IdealRange
from sync.rows import number as as_decimal


@dataclass(frozen=True)
class KpiInfo:
    """How a KPI reads on screen; its recommended range is app.kpis.IDEAL_RANGES' (domain data)."""

    key: str
    label: str
    unit: str = ""
    as_percent: bool = False
    as_clock: bool = False  # seconds shown as m:ss

    @property
    def ideal(self) -> IdealRange | None:
        return IDEAL_RANGES.get(self.key)

    @property
    def low(self) -> Decimal | None:
        return self.ideal.low if self.ideal else None

    @property
    def high(self) -> Decimal | None:
        return self.ideal.high if self.ideal else None

    @property
    def source(self) -> str:
        return self.ideal.source if self.ideal else ""


KPIS: tuple[KpiInfo, ...] = (
    KpiInfo("talk_ratio", "Talk ratio", as_percent=True),
    KpiInfo("words_per_minute", "Pace", "wpm"),
    KpiInfo("filler_word_ratio", "Filler words", as_percent=True),
    KpiInfo("filler_words_per_minute", "Fillers per minute", "/min"),
    KpiInfo("questions_asked", "Questions asked"),
    KpiInfo("longest_monologue_seconds", "Longest monologue", "s"),
    KpiInfo("response_latency_seconds", "Response pause", "s"),
    KpiInfo("interruptions", "Interruptions"),
    KpiInfo("speaker_switches_per_minute", "Speaker switches", "/min"),
    KpiInfo("keyword_coverage", "Key points covered", as_percent=True),
    KpiInfo("call_duration_seconds", "Call length", as_clock=True),
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
    def off_target(self) -> bool:
        return self.verdict in (Verdict.BELOW, Verdict.ABOVE)

    @property
    def score_note(self) -> str:
        """Why a KPI outside its range may not have cost the call anything."""
        if self.off_target and not self.from_rubric:
            return "not scored in this scenario: a recommendation only"
        return ""

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
    if info.as_clock:
        return clock(value)
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
