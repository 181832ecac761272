"""CSV and zip reports of one org over a date range, from the export functions in SQL.

Columns are stable (a spreadsheet or BI import depends on them): attempts have one column per
KPI in `private.kpi_names()` order; assignments have one row per assigned person (status: not
started, in progress, passed, failed or overdue, as `private.export_assignments` judges it).
Text that a spreadsheet would run as a formula (a display name such as "=HYPERLINK(...)") is
prefixed with an apostrophe, as OWASP advises for CSV injection; numbers, dates and ids are
written as they are.
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
ASSIGNMENT_COLUMNS = (
    "assignment_id",
    "created_at",
    "kind",
    "scenario_id",
    "track_id",
    "title",
    "team_id",
    "team_name",
    "user_id",
    "display_name",
    "due_at",
    "required_score",
    "status",
    "scenarios_passed",
    "scenarios",
    "best_score",
    "attempts",
)
# The files of the monthly and the weekly zip, in the zip's order.
MONTHLY_TABLES = ("attempts", "leaderboard")
WEEKLY_TABLES = ("attempts", "assignments", "leaderboard")
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


def _plain_table(
    conn: psycopg.Connection[Any], function: str, columns: Sequence[str], params: Sequence[Any]
) -> Table:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"select * from private.{function}(%s, %s, %s)", params)
        rows = [[cell(r[c]) for c in columns] for r in cur]
    return Table(columns, rows)


def leaderboard_table(conn: psycopg.Connection[Any], org: UUID, first: date, last: date) -> Table:
    return _plain_table(conn, "export_leaderboard", LEADERBOARD_COLUMNS, (org, first, last))


def assignments_table(conn: psycopg.Connection[Any], org: UUID, first: date, last: date) -> Table:
    """Assignments open on UTC days first..last, each person as they stood at its end."""
    return _plain_table(conn, "export_assignments", ASSIGNMENT_COLUMNS, (org, first, last))


TABLES = {
    "attempts": attempts_table,
    "assignments": assignments_table,
    "leaderboard": leaderboard_table,
}


def build_table(dsn: str, kind: str, org: UUID, first: date, last: date) -> Table:
    """One export, read in one transaction as the service role (a consistent snapshot)."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        _service(conn)
        return TABLES[kind](conn, org, first, last)


def zip_report(
    dsn: str, org: UUID, first: date, last: date, tables: Sequence[str] = MONTHLY_TABLES
) -> tuple[bytes, dict[str, Any]]:
    """`{table}.csv` for each of `tables` and summary.json for one org and range, zipped; the
    tables read in one snapshot."""
    with psycopg.connect(dsn) as conn, conn.transaction():
        conn.execute("set transaction isolation level repeatable read")
        _service(conn)
        built = {name: TABLES[name](conn, org, first, last) for name in tables}
        row = conn.execute("select name from public.orgs where id = %s", (org,)).fetchone()
    summary: dict[str, Any] = {
        "org_id": str(org),
        "org_name": row[0] if row else None,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "rows": {name: len(table.rows) for name, table in built.items()},
        "generated_at": datetime.now(UTC).isoformat(),
    }
    if "attempts" in built:
        summary["attempts"] = len(built["attempts"].rows)
    if "leaderboard" in built:
        summary["members_ranked"] = len(built["leaderboard"].rows)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, table in built.items():
            archive.writestr(f"{name}.csv", table.to_csv())
        archive.writestr("summary.json", json.dumps(summary, indent=2))
    return buffer.getvalue(), summary
