"""Versioned schema of the local cache (SQLite), applied in order and recorded in user_version.

Append a new version for every change; never edit a released one, since caches made by older app
versions are upgraded in place (they hold the outbox: unsynced work that must survive upgrades).
Synced tables keep the server's names and columns (a subset), so pull and push map rows 1:1;
local-only columns and tables are marked. Before an existing cache is upgraded, it is copied
beside itself (`backup`), so no upgrade can cost the work it holds.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

import structlog

from app.durable import fsync_dir

log = structlog.get_logger(__name__)

MIGRATIONS: Sequence[str] = (
    # 1: the server's rows, the outbox, uploads, cursors, leaderboard snapshots.
    """
    create table meta (
      key text primary key,
      value text not null
    );

    create table org_members (
      id text primary key,
      org_id text not null,
      user_id text not null,
      role text not null,
      display_name text not null default '',
      sync_xid integer not null
    );
    create index org_members_org_id_user_id on org_members (org_id, user_id);

    create table teams (
      id text primary key,
      org_id text not null,
      name text not null,
      sync_xid integer not null
    );
    create index teams_org_id on teams (org_id);

    create table team_members (
      id text primary key,
      org_id text not null,
      team_id text not null,
      user_id text not null,
      sync_xid integer not null
    );
    create index team_members_org_id_user_id on team_members (org_id, user_id);

    create table scenarios (
      id text primary key,
      org_id text not null,
      title text not null,
      description text not null default '',
      persona text not null,            -- JSON
      difficulty text not null,
      ai_prompt text not null default '',
      branching text not null,          -- JSON
      rubric text not null,             -- JSON
      status text not null,
      pass_score numeric not null,
      max_attempts integer,
      updated_at text not null,
      sync_xid integer not null
    );
    create index scenarios_org_id on scenarios (org_id);

    create table tracks (
      id text primary key,
      org_id text not null,
      title text not null,
      description text not null default '',
      status text not null,
      updated_at text not null,
      sync_xid integer not null
    );
    create index tracks_org_id on tracks (org_id);

    create table track_scenarios (
      id text primary key,
      org_id text not null,
      track_id text not null,
      scenario_id text not null,
      position integer not null,
      sync_xid integer not null
    );
    create index track_scenarios_track_id on track_scenarios (track_id, position);

    create table assignments (
      id text primary key,
      org_id text not null,
      scenario_id text,
      track_id text,
      user_id text,
      team_id text,
      due_at text,
      required_score numeric,
      max_attempts integer,
      note text not null default '',
      assigned_by text,
      created_at text,
      updated_at text,
      sync_xid integer                  -- NULL: created here, not yet on the server
    );
    create index assignments_org_id_due_at on assignments (org_id, due_at);

    create table scenario_attempts (
      id text primary key,
      org_id text not null,
      user_id text not null,
      assignment_id text,
      scenario_id text not null,
      started_at text not null,
      ended_at text,
      duration_seconds numeric,
      recording_path text,
      transcript_path text,
      transcript text,                  -- JSON
      kpis text,                        -- JSON, the server's
      score numeric,                    -- the server's
      score_breakdown text,             -- JSON, the server's
      status text not null,
      failure_reason text,
      scored_at text,
      device_id text,
      created_at text,
      updated_at text,
      sync_xid integer,                 -- NULL: recorded here, the server has not confirmed it
      -- local only: the score computed on this computer until the server's arrives
      provisional_kpis text,
      provisional_score numeric,
      provisional_breakdown text,
      local_recording text              -- path of the recording on this computer
    );
    create index scenario_attempts_org_id_started_at on scenario_attempts (org_id, started_at);
    create index scenario_attempts_org_id_user_id on scenario_attempts (org_id, user_id);

    -- Local only ----------------------------------------------------------------------------
    -- Every local change to send, written in the same transaction as the change itself.
    create table outbox (
      seq integer primary key autoincrement,
      org_id text not null,
      table_name text not null,
      row_id text not null,
      op text not null check (op in ('upsert', 'patch', 'delete')),
      payload text not null,            -- JSON: the row (upsert) or the changed fields (patch)
      state text not null default 'pending' check (state in ('pending', 'rejected')),
      tries integer not null default 0,
      error_code text,
      last_error text,
      created_at text not null,
      updated_at text not null
    );
    create index outbox_state_org_id on outbox (state, org_id, seq);
    create index outbox_row on outbox (table_name, row_id);

    -- Files an attempt needs on the server before its row is sent.
    create table uploads (
      id integer primary key autoincrement,
      org_id text not null,
      attempt_id text not null,
      bucket text not null,
      object_name text not null,
      source_path text,                 -- a file on this computer (recordings) ...
      content blob,                     -- ... or the bytes themselves (transcripts)
      content_type text not null,
      state text not null default 'pending' check (state in ('pending', 'done', 'rejected')),
      tries integer not null default 0,
      last_error text,
      created_at text not null,
      unique (bucket, object_name)
    );
    create index uploads_state_org_id on uploads (state, org_id);
    create index uploads_attempt_id on uploads (attempt_id);

    -- Per org and table: the last (sync_xid, id) applied; rows and tombstones above it are new.
    create table sync_cursors (
      org_id text not null,
      table_name text not null,
      xid integer not null,
      row_id text,                      -- NULL: every row with this xid has been applied
      primary key (org_id, table_name)
    );

    create table leaderboard (
      org_id text not null,
      month text not null,              -- first day, ISO
      user_id text not null,
      display_name text not null,
      attempts integer not null,
      avg_score numeric,
      best_score numeric,
      passed_attempts integer not null,
      rank integer not null,
      org_rank integer not null,
      primary key (org_id, month, user_id)
    );
    create table leaderboard_snapshots (
      org_id text not null,
      month text not null,
      fetched_at text not null,
      primary key (org_id, month)
    );
    """,
    # 2: a large recording's resumable (tus) upload on the server, resumed after a crash.
    """
    alter table uploads add column resumable_url text;  -- local only: where the bytes go
    """,
    # 3: the version of an attempt's transcript (the server's transcript_xid), so a pull fetches
    # a transcript only when it changed, not whenever its row did (a score arriving).
    """
    alter table scenario_attempts add column transcript_xid integer;
    """,
    # 4: files kept on this computer until the user uploads them (settings: upload = "manual").
    """
    alter table uploads add column held integer not null default 0;  -- 1: until the user says
    """,
    # 5: scenario versions (server migration 20261204000200): the lineage a version belongs to,
    # its number, the revision an admin's save is checked against, and the call's time limit.
    # Rows cached before have none of them: forgetting the table's cursors makes the next pull
    # read every scenario again (the server keeps them; nothing local is lost).
    """
    alter table scenarios add column lineage_id text;  -- NULL only until pulled again: its id
    alter table scenarios add column version integer not null default 1;
    alter table scenarios add column revision integer not null default 1;
    alter table scenarios add column time_limit_seconds integer;
    create index scenarios_lineage_id on scenarios (lineage_id, version);
    delete from sync_cursors where table_name = 'scenarios';
    """,
    # 6: notifications (server migration 20261205000100): a manager's reminders to this user;
    # dismissing one sets read_at here and patches it through the outbox.
    """
    create table notifications (
      id text primary key,
      org_id text not null,
      user_id text not null,
      kind text not null,
      assignment_id text,
      message text not null default '',
      created_by text,
      created_at text not null,
      read_at text,                     -- NULL: not dismissed yet
      sync_xid integer not null
    );
    create index notifications_org_id_user_id on notifications (org_id, user_id, read_at);
    """,
    # 7: who last edited a scenario or a track (server migration 20261205000400), for the
    # Studio's library. As in 5, the next pull reads both tables again to fill it in.
    """
    alter table scenarios add column updated_by text;
    alter table tracks add column updated_by text;
    delete from sync_cursors where table_name in ('scenarios', 'tracks');
    """,
    # 8: a scenario's key terms (server migration 20261205000800), the words the speech model is
    # told to expect. As in 5, the next pull reads the scenarios again to fill them in.
    """
    alter table scenarios add column key_terms text not null default '[]';  -- JSON array
    delete from sync_cursors where table_name = 'scenarios';
    """,
)

LATEST_VERSION = len(MIGRATIONS)


class CacheVersionError(RuntimeError):
    """The cache was written by a newer Coachdesk; opening it here could lose unsynced work."""


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the cache to LATEST_VERSION, each step in its own transaction; returns the version."""
    version = conn.execute("pragma user_version").fetchone()[0]
    if version > LATEST_VERSION:
        raise CacheVersionError(
            f"the local cache {_file_of(conn)} was written by a newer Coachdesk (schema "
            f"{version}, this version knows {LATEST_VERSION}). Update Coachdesk; the cache is "
            "kept as it is, because it may hold practice calls that are not synced yet."
        )
    if 0 < version < LATEST_VERSION:
        backup(conn, version)
    for number in range(version + 1, LATEST_VERSION + 1):
        # user_version lives in the file header, so it commits (or not) with the schema change.
        script = (
            f"begin immediate;\n{MIGRATIONS[number - 1]};\npragma user_version = {number};\ncommit;"
        )
        try:
            conn.executescript(script)
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("rollback")
            raise
    return LATEST_VERSION


def backup_path(cache_file: Path, version: int) -> Path:
    """Where the copy of a cache taken before it left schema `version` is kept."""
    return cache_file.with_name(f"{cache_file.name}.schema-{version}.bak")


def backup(conn: sqlite3.Connection, version: int) -> Path | None:
    """Copy the cache, as it is, beside itself before its schema changes (None: in memory).

    A migration that goes wrong, or a new version that misbehaves, must not cost the unsynced
    work the cache holds: the copy is a complete SQLite file at the old schema, which the older
    Coachdesk opens as it was (restore: quit Coachdesk, copy it over the cache file). It is
    written whole, fsynced and renamed into place, so a crash leaves no half a backup.
    """
    file = _file_of(conn)
    if file == "(in memory)":
        return None
    target = backup_path(Path(file), version)
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.unlink(missing_ok=True)
    # VACUUM INTO: a consistent snapshot (WAL content included) without holding a write lock.
    conn.execute("vacuum into ?", [str(temporary)])
    with open(temporary, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    fsync_dir(target.parent)
    log.info("cache backed up before its schema changes", version=version, path=str(target))
    return target


def _file_of(conn: sqlite3.Connection) -> str:
    row = conn.execute("pragma database_list").fetchone()
    return str(row[2]) if row and row[2] else "(in memory)"
