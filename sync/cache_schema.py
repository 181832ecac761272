"""Which server columns the cache keeps, and the PostgREST selects that pull and push send.

A synced table keeps the server's columns under the same names (sync/cache_migrations.py), so
pull and push map rows 1:1. The columns come from the generated row models (sync/db_types.py,
`make types`): all of a table's columns but the server-only ones listed in _SERVER_ONLY. So a
column added to a synced table on the server is synced too, unless it is listed there; the
cache's schema must then gain it (tests/sync/test_cache_schema.py checks that it has every
synced column).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from sync.db_types import (
    Assignments,
    Notifications,
    OrgMembers,
    ScenarioAttempts,
    Scenarios,
    TeamMembers,
    Teams,
    Tracks,
    TrackScenarios,
)

# The row model of each synced table.
_MODELS: Mapping[str, type[BaseModel]] = {
    "org_members": OrgMembers,
    "teams": Teams,
    "team_members": TeamMembers,
    "scenarios": Scenarios,
    "tracks": Tracks,
    "track_scenarios": TrackScenarios,
    "assignments": Assignments,
    "scenario_attempts": ScenarioAttempts,
    "notifications": Notifications,
}
# Server columns the cache does not keep: nothing on this computer reads them, and the cache's
# schema has no column for them. A new server column the cache should not keep goes here too.
_SERVER_ONLY: Mapping[str, frozenset[str]] = {
    "org_members": frozenset({"created_at", "updated_at"}),
    "teams": frozenset({"created_at", "updated_at"}),
    "team_members": frozenset({"created_at", "updated_at"}),
    "scenarios": frozenset({"created_by", "created_at"}),
    "tracks": frozenset({"created_by", "created_at"}),
    "track_scenarios": frozenset({"created_at", "updated_at"}),
    "assignments": frozenset(),
    "scenario_attempts": frozenset(),
    "notifications": frozenset({"updated_at"}),
}

# The server columns each synced table keeps here (same names; pull selects exactly these), in
# the server's column order.
SYNCED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    table: tuple(column for column in model.model_fields if column not in _SERVER_ONLY[table])
    for table, model in _MODELS.items()
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
