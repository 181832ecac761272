"""How current the server's reporting (leaderboard, charts) is: `public.reporting_freshness()`.

Reporting is refreshed on the server by a scheduled job; when that job fails, the leaderboard
and charts stop moving with no error anywhere. The About box asks this, so a user (or whoever
helps them) can see it. Works against hosted Supabase too, where no client can read pg_cron's
own tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from supabase import Client
from sync.client import classify


@dataclass(frozen=True)
class ReportingFreshness:
    refreshed_at: datetime | None  # last successful refresh; None: never
    scheduled: bool  # a pg_cron job refreshes it on the server
    last_run_at: datetime | None
    last_run_succeeded: bool | None
    failed_runs: int  # in a row, up to now

    @property
    def failing(self) -> bool:
        return self.failed_runs > 0

    def describe(self, now: datetime | None = None) -> str:
        """One line for people, e.g. "updated 2 min ago; the scheduled refresh is working"."""
        current = now or datetime.now(UTC)
        if self.refreshed_at is None:
            updated = "never updated"
        else:
            updated = f"updated {_ago(current - self.refreshed_at)}"
        if not self.scheduled:
            return f"{updated}; no scheduled refresh on this server"
        if self.failing:
            return (
                f"{updated}; the scheduled refresh is failing ({self.failed_runs} run(s) in a "
                "row): ask your administrator to run `coachdesk db status`"
            )
        if self.last_run_at is None:
            return f"{updated}; the scheduled refresh has not run yet"
        return f"{updated}; the scheduled refresh is working"


def _ago(elapsed: timedelta) -> str:
    seconds = int(elapsed.total_seconds())
    if seconds < 60:
        return "less than a minute ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 172_800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86_400} days ago"


def reporting_freshness(client: Client) -> ReportingFreshness:
    """Ask the server (as the signed-in user; any role of the current org may)."""
    try:
        rows = client.rpc("reporting_freshness", {}).execute().data or []
    except Exception as error:  # classify re-raises what it does not know
        raise classify(error) from error
    row = rows[0] if rows else {}
    return ReportingFreshness(
        refreshed_at=_time(row.get("refreshed_at")),
        scheduled=bool(row.get("scheduled")),
        last_run_at=_time(row.get("last_run_at")),
        last_run_succeeded=row.get("last_run_succeeded"),
        failed_runs=int(row.get("failed_runs") or 0),
    )


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(str(value)) if value else None
