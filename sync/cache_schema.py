"""Which server columns the cache keeps, and the PostgREST selects that pull and push send.

A synced table keeps the server's columns under the same names (sync/cache_migrations.py), so
pull and push map rows 1:1.
"""

from __future__ import annotations

from collections.abc import Mapping

# The server columns each synced table keeps here (same names; pull selects exactly these).
SYNCED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    table: tuple(columns.split())
    for table, columns in {
        "org_members": "id org_id user_id role display_name sync_xid",
        "teams": "id org_id name sync_xid",
        "team_members": "id org_id team_id user_id sync_xid",
        "scenarios": "id org_id title description persona difficulty ai_prompt branching rubric "
        "status pass_score max_attempts updated_at sync_xid",
        "tracks": "id org_id title description status updated_at sync_xid",
        "track_scenarios": "id org_id track_id scenario_id position sync_xid",
        "assignments": "id org_id scenario_id track_id user_id team_id due_at required_score "
        "max_attempts note assigned_by created_at updated_at sync_xid",
        "scenario_attempts": "id org_id user_id assignment_id scenario_id started_at ended_at "
        "duration_seconds recording_path transcript_path transcript kpis score score_breakdown "
        "status failure_reason scored_at device_id created_at updated_at sync_xid "
        "transcript_xid",
    }.items()
}
# Columns too large to travel with every copy of their row: an attempt's transcript (~150 KB of
# JSON for a ten-minute call, and immutable once scored). Pull and push leave them out of their
# row selects; pull fetches them apart, only for rows whose large columns' version
# (LARGE_VERSION) it does not hold yet, as JSON *text* (`::text`): parsing a page of rows then
# builds one string per transcript instead of tens of thousands of small objects, and the text
# is stored as it came.
LARGE_COLUMNS: Mapping[str, tuple[str, ...]] = {"scenario_attempts": ("transcript",)}
# The version of a table's large columns, which changes only when they do (a row's sync_xid also
# changes when a score arrives): a pull fetches them for versions it does not hold.
LARGE_VERSION: Mapping[str, str] = {"scenario_attempts": "transcript_xid"}
# What a client may write of an attempt (the server's insert grant); status is set at push.
_ATTEMPT_PUSH = (
    "id org_id user_id assignment_id scenario_id started_at ended_at duration_seconds "
    "recording_path transcript_path transcript status device_id"
)
ATTEMPT_PUSH_COLUMNS = tuple(_ATTEMPT_PUSH.split())
ASSIGNMENT_FIELDS = frozenset({"due_at", "note", "required_score", "max_attempts"})


def row_select(table: str) -> str:
    """The PostgREST `select` of a synced table's rows: its columns but the large ones."""
    large = LARGE_COLUMNS.get(table, ())
    return ",".join(column for column in SYNCED_COLUMNS[table] if column not in large)


def large_select(table: str) -> str:
    """The PostgREST `select` of a table's large columns, as JSON text (see LARGE_COLUMNS)."""
    return ",".join(["id", "sync_xid", *(f"{c}::text" for c in LARGE_COLUMNS[table])])
