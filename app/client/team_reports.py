"""The manager's charts for one team, from the org's attempts on this computer.

The server's reports (mv_org_overview, mv_scenario_insights) are per org; a team's are computed
here the same way from the manager's cached copy of the org's attempts: counted once on the
server, scores and pass rate over scored attempts, KPI percentiles as percentile_disc (observed
values), so a team's chart reads like the org's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date
from decimal import Decimal

from app.client.kpi_display import BY_KEY
from app.client.views import AttemptRow, OverviewMonth, ScenarioInsight, SyncState
from sync.rows import number as as_decimal

# Attempts the server has (the reports count only those); local and refused ones are not.
ON_SERVER = frozenset({SyncState.UPLOADED, SyncState.SCORED, SyncState.FAILED})
PERCENTILES = {"p25": 0.25, "p50": 0.5, "p75": 0.75, "p90": 0.9}


def of_team(rows: Iterable[AttemptRow], team_id: str) -> list[AttemptRow]:
    return [r for r in rows if team_id in r.team_ids and r.sync_state in ON_SERVER]


def month_starts(today: date, months: int) -> list[date]:
    """The first days of the last `months` months, oldest first (org_overview's months)."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - months + 1, index + 1)]


def team_overview(rows: Sequence[AttemptRow], months: Sequence[date]) -> list[OverviewMonth]:
    by_month: dict[date, list[AttemptRow]] = {m: [] for m in months}
    for row in rows:
        moment = row.started_at.astimezone(UTC)  # the server's months are UTC months
        start = date(moment.year, moment.month, 1)
        if start in by_month:
            by_month[start].append(row)
    return [_month(start, attempts) for start, attempts in by_month.items()]


def team_insights(rows: Sequence[AttemptRow]) -> list[ScenarioInsight]:
    by_scenario: dict[str, list[AttemptRow]] = {}
    for row in rows:
        by_scenario.setdefault(row.scenario_id, []).append(row)
    insights = [_insight(attempts) for attempts in by_scenario.values()]
    return sorted(insights, key=lambda i: (i.title, i.scenario_id))


def _scored(rows: Sequence[AttemptRow]) -> list[AttemptRow]:
    return [r for r in rows if r.sync_state is SyncState.SCORED and r.score is not None]


def _mean(values: Sequence[Decimal], places: int) -> Decimal | None:
    if not values:
        return None
    return (sum(values, Decimal(0)) / len(values)).quantize(Decimal(1).scaleb(-places))


def _pass_rate(scored: Sequence[AttemptRow]) -> Decimal | None:
    if not scored:
        return None
    return (Decimal(sum(1 for r in scored if r.passed)) / len(scored)).quantize(Decimal("0.0001"))


def _month(start: date, attempts: Sequence[AttemptRow]) -> OverviewMonth:
    scored = _scored(attempts)
    return OverviewMonth(
        month_start=start,
        active_users=len({r.user_id for r in attempts}),
        attempts=len(attempts),
        scored_attempts=len(scored),
        avg_score=_mean([r.score for r in scored if r.score is not None], 2),
        pass_rate=_pass_rate(scored),
        kpi_averages={},
    )


def percentile_disc(values: Sequence[Decimal], fraction: float) -> Decimal:
    """The first value whose position in sorted order reaches `fraction` (as Postgres)."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


def _kpi_stats(scored: Sequence[AttemptRow]) -> dict[str, Mapping[str, Decimal | None]]:
    values: dict[str, list[Decimal]] = {}
    for row in scored:
        for kpi, value in row.kpis.items():
            number = as_decimal(value) if kpi in BY_KEY else None
            if number is not None:
                values.setdefault(kpi, []).append(number)
    return {
        kpi: {
            "n": Decimal(len(observed)),
            "avg": _mean(observed, 4),
            **{key: percentile_disc(observed, f) for key, f in PERCENTILES.items()},
        }
        for kpi, observed in values.items()
    }


def _insight(attempts: Sequence[AttemptRow]) -> ScenarioInsight:
    scored = _scored(attempts)
    scores = [r.score for r in scored if r.score is not None]
    return ScenarioInsight(
        scenario_id=attempts[0].scenario_id,
        title=attempts[0].scenario_title,
        attempts=len(attempts),
        scored_attempts=len(scored),
        avg_score=_mean(scores, 2),
        median_score=percentile_disc(scores, 0.5) if scores else None,
        pass_rate=_pass_rate(scored),
        kpis=_kpi_stats(scored),
    )
