"""The database's scheduled jobs (pg_cron) and how their last runs went, for `coachdesk db status`.

Read as the superuser (the one who runs the server): unlike `public.reporting_freshness()`, which
org members call, this shows every job and its last error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg

_JOBS_SQL = """
select j.jobname, j.schedule, j.active, last.start_time, last.status, last.return_message,
       (select count(*) from cron.job_run_details d
        where d.jobid = j.jobid and d.status = 'succeeded') as succeeded
from cron.job j
left join lateral (
  select d.start_time, d.status, d.return_message from cron.job_run_details d
  where d.jobid = j.jobid
  order by d.start_time desc nulls last
  limit 1
) last on true
order by j.jobname
"""


@dataclass(frozen=True)
class JobStatus:
    name: str
    schedule: str
    active: bool
    last_run_at: datetime | None
    last_status: str | None  # pg_cron's: starting, running, sending, connecting, succeeded, failed
    last_message: str | None
    succeeded_runs: int

    @property
    def failing(self) -> bool:
        return self.last_status == "failed"

    def describe(self) -> str:
        """One line for people: the job, its schedule, and how its last run went."""
        head = f"{self.name} ({self.schedule}{'' if self.active else ', paused'})"
        if self.last_run_at is None:
            return f"{head}: has not run yet"
        when = self.last_run_at.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
        line = f"{head}: last run {when}, {self.last_status}"
        if self.failing and self.last_message:
            line += f": {self.last_message.strip()}"
        return line


def scheduled_jobs(conn: psycopg.Connection) -> list[JobStatus] | None:
    """Every pg_cron job of this database with its last run; None where pg_cron is not here."""
    if conn.execute("select to_regclass('cron.job_run_details')").fetchone() == (None,):
        return None
    return [JobStatus(*row) for row in conn.execute(_JOBS_SQL).fetchall()]
