"""The review's KPI verdicts: the rubric's target where it scores the KPI, else app/kpis' range."""

from __future__ import annotations

from decimal import Decimal

from app.client.kpi_display import BY_KEY, Verdict, readings
from app.kpis import IDEAL_RANGES

RUBRIC = {"criteria": [{"type": "kpi", "kpi": "talk_ratio", "target": {"min": 0.35, "max": 0.6}}]}


def _reading(kpis, rubric, key):
    return next(r for r in readings(kpis, rubric) if r.info.key == key)


def test_without_a_rubric_target_the_published_range_judges_and_is_cited():
    pace = _reading({"words_per_minute": Decimal("190.5")}, {}, "words_per_minute")
    assert (pace.low, pace.high) == (IDEAL_RANGES["words_per_minute"].low, Decimal(175))
    assert pace.verdict is Verdict.ABOVE and not pace.from_rubric
    assert pace.value_text == "190.5 wpm"
    assert pace.target_text == "ideal 130 wpm–175 wpm (Read.ai, Gong Labs)"
    fillers = _reading({"filler_word_ratio": Decimal("0.02")}, {}, "filler_word_ratio")
    assert fillers.verdict is Verdict.WITHIN and fillers.target_text == "ideal ≤ 4.0 % (Read.ai)"


def test_the_rubric_target_wins_over_the_published_range():
    talk = _reading({"talk_ratio": Decimal("0.38")}, RUBRIC, "talk_ratio")
    assert talk.from_rubric and talk.verdict is Verdict.WITHIN  # below Gong's 0.40, within 0.35
    assert talk.target_text == "ideal 35.0 %–60.0 % (this scenario)"


def test_kpis_without_a_published_range_give_no_verdict():
    questions = _reading({"questions_asked": 3}, {}, "questions_asked")
    assert questions.verdict is Verdict.NO_TARGET and questions.target_text == "no published range"
    assert BY_KEY["questions_asked"].ideal is None
    assert _reading({}, {}, "talk_ratio").verdict is Verdict.NOT_MEASURED
