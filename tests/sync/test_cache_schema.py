"""The synced columns come from the generated row models and fit the cache's own schema."""

import sqlite3

import pytest

from sync.cache_migrations import migrate
from sync.cache_schema import (
    ATTEMPT_PUSH_COLUMNS,
    LARGE_COLUMNS,
    LARGE_VERSION,
    SYNCED_COLUMNS,
    large_select,
    row_select,
)

# The columns each synced table kept when they were a hand-written list: deriving them from
# sync/db_types.py must keep exactly these (a new server column is a decision, not a side effect).
KEPT = {
    "org_members": "id org_id user_id role display_name sync_xid",
    "teams": "id org_id name sync_xid",
    "team_members": "id org_id team_id user_id sync_xid",
    "scenarios": "id org_id title description persona difficulty ai_prompt branching rubric "
    "status pass_score max_attempts updated_at sync_xid lineage_id version revision "
    "time_limit_seconds updated_by key_terms",
    "tracks": "id org_id title description status updated_at sync_xid updated_by",
    "track_scenarios": "id org_id track_id scenario_id position sync_xid",
    "assignments": "id org_id scenario_id track_id user_id team_id due_at required_score "
    "max_attempts note assigned_by created_at updated_at sync_xid",
    "scenario_attempts": "id org_id user_id assignment_id scenario_id started_at ended_at "
    "duration_seconds recording_path transcript_path transcript kpis score score_breakdown "
    "status failure_reason scored_at device_id created_at updated_at sync_xid transcript_xid",
    "notifications": "id org_id user_id kind assignment_id message created_by created_at read_at "
    "sync_xid",
}


def test_the_synced_tables_are_the_ones_kept():
    assert set(SYNCED_COLUMNS) == set(KEPT)


@pytest.mark.parametrize("table", sorted(KEPT))
def test_derived_columns_are_exactly_the_ones_kept(table):
    columns = SYNCED_COLUMNS[table]
    assert len(columns) == len(set(columns))
    assert set(columns) == set(KEPT[table].split())


@pytest.mark.parametrize("table", sorted(KEPT))
def test_every_synced_column_is_a_column_of_the_cache(table):
    conn = sqlite3.connect(":memory:")
    try:
        migrate(conn)
        cached = {row[1] for row in conn.execute(f"pragma table_info({table})")}
    finally:
        conn.close()
    assert cached, f"the cache has no table {table}"
    assert set(SYNCED_COLUMNS[table]) <= cached, set(SYNCED_COLUMNS[table]) - cached


def test_the_pushed_and_large_columns_are_synced_ones():
    attempts = set(SYNCED_COLUMNS["scenario_attempts"])
    assert set(ATTEMPT_PUSH_COLUMNS) <= attempts
    for table, columns in LARGE_COLUMNS.items():
        assert set(columns) | {LARGE_VERSION[table]} <= set(SYNCED_COLUMNS[table])


def test_the_row_select_leaves_out_only_the_large_columns():
    selected = row_select("scenario_attempts").split(",")
    assert set(selected) == set(SYNCED_COLUMNS["scenario_attempts"]) - {"transcript"}
    assert row_select("teams").split(",") == list(SYNCED_COLUMNS["teams"])
    assert large_select("scenario_attempts") == "id,sync_xid,transcript::text"
