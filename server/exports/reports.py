"""CSV and zip reports of one org over a date range, from the export functions in SQL.

Columns are stable (a spreadsheet or BI import depends on them): attempts have one column per
KPI in `private.kpi_names()` order. Text that a spreadsheet would run as a formula (a display
name such as "=HYPERLINK(...)") is prefixed with an apostrophe, as OWASP advises for CSV
injection; numbers, dates and ids are written as they are.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

ATTEMPT_COLUMNS = (
    "attempt_id",
    "started_at",
    "ended_at",
    "user_id",
    "display_name",
    "scenario_id",
    "scenario_title",
    "assignment_id",
    "status",
    "score",
    "passed",
    "duration_seconds",
)
LEADERBOARD_COLUMNS = (
    "rank",
    "user_id",
    "display_name",
    "attempts",
    "scored_attempts",
    "avg_score",
    "best_score",
    "passed_attempts",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Table:
    """A CSV-ready table: its header and rows of cell text."""

    header: Sequence[str]
    rows: list[list[str]]

    def to_csv(self) -> bytes:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return buffer.getvalue().encode("utf-8")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | Decimal | int | float | UUID):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _service(conn: psycopg.Connection[Any]) -> None:
    conn.execute("set local role service_role")


def kpi_names(conn: psycopg.Connection[Any]) -> list[str]:
    row = conn.execute("select private.kpi_names()").fetchone()
    return list(row[0]) if row else []


def attempts_table(conn: psycopg.Connection[Any], org: UUID, first: date, last: date) -> Table:
    """Attempts started on UTC days first..last (both included), with every KPI."""
    kpis = kpi_names(conn)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select * from private.export_attempts(%s, %s, %s)", (org, first, last))
        rows = [
            [cell(r[c]) for c in ATTEMPT_COLUMNS] + [cell(r["kpis"].get(k)) for k in kpis]
            for r in cur
        ]
    return Table([*ATTEMPT_COLUMNS, *kpis], rows)


def leaderboard_table(conn: psycopg.Connection[Any], org: UUID, first: date, last: date) -> Table:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute("select * from private.export_leaderboard(%s, %s, %s)", (org, first, last))
        rows = [[cell(r[c]) for c in LEADERBOARD_COLUMNS] for r in cur]
    return Table(LEADERBOARD_COLUMNS, rows)


TABLES = {"attempts": attempts_table, "leaderboard": leaderboard_table}


def build_table(dsn: str, kind: str, org: UUID, first: date, last: date) -> Table:
    """One export, read in one transaction as the service role (a consistent snapshot)."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        _service(conn)
        return TABLES[kind](conn, org, first, last)


def zip_report(dsn: str, org: UUID, first: date, last: date) -> tuple[bytes, dict[str, Any]]:
    """attempts.csv, leaderboard.csv and summary.json for one org and range, zipped."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        _service(conn)
        attempts = attempts_table(conn, org, first, last)
        leaderboard = leaderboard_table(conn, org, first, last)
        row = conn.execute("select name from public.orgs where id = %s", (org,)).fetchone()
    summary = {
        "org_id": str(org),
        "org_name": row[0] if row else None,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "attempts": len(attempts.rows),
        "members_ranked": len(leaderboard.rows),
        "generated_at": datetime.now(UTC).isoformat(),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("attempts.csv", attempts.to_csv())
        archive.writestr("leaderboard.csv", leaderboard.to_csv())
        archive.writestr("summary.json", json.dumps(summary, indent=2))
    return buffer.getvalue(), summary
