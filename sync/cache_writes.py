"""The cache's local writes, as plain functions of a connection inside the caller's transaction.

`Cache` (sync/cache.py) checks what it is asked, opens the transaction and calls these: each
writes the local row and its outbox entry (and an attempt's files to upload) together, so the
work survives a crash and is sent once the server is reachable.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from sync import outbox, uploads
from sync.cache_records import CacheError, NewAttempt
from sync.cache_schema import ATTEMPT_PUSH_COLUMNS
from sync.outbox import Op
from sync.rows import dumps, iso, loads, now, number, sql_number


def attempt_row(
    new: NewAttempt, *, recording: Path | None, files: uploads.AttemptFiles, device_id: str
) -> dict[str, Any]:
    """The cache's row of a finished call: the server's columns and the local-only ones."""
    duration = round(Decimal((new.ended_at - new.started_at).total_seconds()), 3)
    breakdown = new.provisional_breakdown
    # Held files: the server's row points at nothing until they are uploaded.
    sent_files = not new.hold_files
    return {
        "id": new.id,
        "org_id": new.org_id,
        "user_id": new.user_id,
        "assignment_id": new.assignment_id,
        "scenario_id": new.scenario_id,
        "started_at": iso(new.started_at),
        "ended_at": iso(new.ended_at),
        "duration_seconds": sql_number(duration),
        "recording_path": files.recording_path if sent_files else None,
        "transcript_path": files.transcript_path if sent_files else None,
        "transcript": dumps(new.transcript),
        "status": "recorded",
        "device_id": device_id,
        "created_at": iso(now()),
        "provisional_kpis": dumps(new.provisional_kpis) if new.provisional_kpis else None,
        "provisional_score": sql_number(number((breakdown or {}).get("score"))),
        "provisional_breakdown": dumps(breakdown) if breakdown else None,
        "local_recording": str(recording) if recording else None,
    }


def attempt_payload(
    row: Mapping[str, Any], transcript: Mapping[str, Any] | None, *, sent_files: bool
) -> dict[str, Any]:
    """What is pushed of an attempt's row; with its files it goes as uploaded, transcript in."""
    payload = {column: row[column] for column in ATTEMPT_PUSH_COLUMNS}
    if sent_files:
        payload.update(transcript=transcript, status="uploaded")
    else:
        payload.update(transcript=None)  # status stays "recorded"
    return payload


def add_attempt(
    db: Database,
    row: Mapping[str, Any],
    files: uploads.AttemptFiles,
    payload: Mapping[str, Any],
    *,
    held: bool,
) -> None:
    """Insert the attempt, its files and its outbox entry; nothing if it is here already."""
    if db.execute("select 1 from scenario_attempts where id = ?", [row["id"]]).fetchone():
        return
    _insert(db, "scenario_attempts", row)
    uploads.add(db, files, held=held)
    outbox.enqueue(
        db,
        org_id=row["org_id"],
        table_name="scenario_attempts",
        row_id=row["id"],
        op=Op.UPSERT,
        payload=payload,
    )


def release_attempt(db: Database, attempt_id: str, user_id: str) -> None:
    """Let a held attempt's files go with the next push, then its row with their paths."""
    found = list(
        db.query(
            "select * from scenario_attempts where id = ? and user_id = ?",
            [attempt_id, user_id],
        )
    )
    if not found:
        raise CacheError(f"attempt {attempt_id} is not one of yours on this computer")
    paths = uploads.release(db, attempt_id)
    if not paths:
        raise CacheError(f"attempt {attempt_id} has nothing waiting to be uploaded")
    local = found[0]
    local.update(
        recording_path=paths.get(uploads.RECORDINGS_BUCKET),
        transcript_path=paths.get(uploads.TRANSCRIPTS_BUCKET),
    )
    db.execute(
        "update scenario_attempts set recording_path = ?, transcript_path = ? where id = ?",
        [local["recording_path"], local["transcript_path"], attempt_id],
    )
    outbox.enqueue(
        db,
        org_id=local["org_id"],
        table_name="scenario_attempts",
        row_id=attempt_id,
        op=Op.UPSERT,
        payload=attempt_payload(local, loads(local["transcript"]), sent_files=True),
    )


def add_assignment(db: Database, row: Mapping[str, Any], *, assigned_by: str) -> None:
    """Insert a new assignment and its upsert (`row`: what is sent, without assigned_by)."""
    _insert(db, "assignments", {**row, "assigned_by": assigned_by})
    outbox.enqueue(
        db,
        org_id=row["org_id"],
        table_name="assignments",
        row_id=row["id"],
        op=Op.UPSERT,
        payload=row,
    )


def patch_assignment(db: Database, assignment_id: str, changes: Mapping[str, Any]) -> None:
    """Change some fields; only those fields are sent, so edits elsewhere to others stay."""
    values = {key: local_value(value) for key, value in changes.items()}
    org_id = _org_of(db, "assignments", assignment_id)
    sets = ", ".join(f"{key} = ?" for key in values)
    db.execute(f"update assignments set {sets} where id = ?", [*values.values(), assignment_id])
    outbox.enqueue(
        db,
        org_id=org_id,
        table_name="assignments",
        row_id=assignment_id,
        op=Op.PATCH,
        payload=values,
    )


def remove_assignment(db: Database, assignment_id: str) -> None:
    org_id = _org_of(db, "assignments", assignment_id)
    db.execute("delete from assignments where id = ?", [assignment_id])
    outbox.enqueue(
        db,
        org_id=org_id,
        table_name="assignments",
        row_id=assignment_id,
        op=Op.DELETE,
        payload={},
    )


def dismiss_notification(db: Database, notification_id: str, at: datetime) -> None:
    """Mark it read here and send only read_at (the server keeps the first dismissal)."""
    org_id = _org_of(db, "notifications", notification_id)
    read_at = iso(at)
    db.execute(
        "update notifications set read_at = coalesce(read_at, ?) where id = ?",
        [read_at, notification_id],
    )
    outbox.enqueue(
        db,
        org_id=org_id,
        table_name="notifications",
        row_id=notification_id,
        op=Op.PATCH,
        payload={"read_at": read_at},
    )


def local_value(value: Any) -> Any:
    """A value as the cache's SQLite row holds it (times as ISO text, JSON as text)."""
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return sql_number(value)
    if isinstance(value, dict | list):
        return dumps(value)
    return value


def _insert(db: Database, table: str, row: Mapping[str, Any]) -> None:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"insert into {table} ({columns}) values ({marks})", list(row.values()))


def _org_of(db: Database, table: str, row_id: str) -> str:
    found = db.execute(f"select org_id from {table} where id = ?", [row_id]).fetchone()
    if found is None:
        raise CacheError(f"no {table} row {row_id} in the cache")
    return str(found[0])
