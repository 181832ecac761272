"""Files an attempt needs on the server before its row is sent: the recording and the transcript.

    recordings   {org_id}/{user_id}/{attempt_id}.<ext>    the call's audio, streamed from disk
    transcripts  {org_id}/{user_id}/{attempt_id}.json     the transcript document
    transcripts  {org_id}/{user_id}/{attempt_id}.txt      the same, readable by people

Uploads use `upsert`, so re-sending a file after a crash or a lost response overwrites it with the
same bytes instead of failing as a duplicate. Transcript bytes are kept in the cache (small);
recordings are read from the file the practice screen wrote, so memory stays bounded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from supabase import Client
from sync.client import RejectedError, SyncError, classify
from sync.rows import dumps, now_iso

RECORDINGS_BUCKET = "recordings"
TRANSCRIPTS_BUCKET = "transcripts"
# Audio types the recordings bucket accepts (`audio/*`), by file extension.
RECORDING_TYPES: Mapping[str, str] = {
    ".flac": "audio/flac",
    ".wav": "audio/wav",
    ".ogg": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".webm": "audio/webm",
}


class UnsupportedRecordingError(ValueError):
    """A recording whose type the server's recordings bucket would refuse."""


@dataclass(frozen=True)
class PlannedUpload:
    bucket: str
    object_name: str
    content_type: str
    source_path: Path | None = None
    content: bytes | None = None


@dataclass(frozen=True)
class AttemptFiles:
    org_id: str
    attempt_id: str
    recording_path: str | None  # object names the attempt row points at
    transcript_path: str
    uploads: tuple[PlannedUpload, ...]


@dataclass(frozen=True)
class Upload:
    id: int
    attempt_id: str
    bucket: str
    object_name: str
    content_type: str
    source_path: Path | None
    content: bytes | None


def object_name(org_id: str, user_id: str, attempt_id: str, extension: str) -> str:
    """Where a file of an attempt lives in its bucket; the first folder is the org (policies)."""
    return f"{org_id}/{user_id}/{attempt_id}{extension}"


def files_for_attempt(
    *,
    org_id: str,
    user_id: str,
    attempt_id: str,
    transcript: Mapping[str, Any],
    recording: Path | None,
) -> AttemptFiles:
    planned: list[PlannedUpload] = []
    recording_path = None
    if recording is not None:
        extension = recording.suffix.lower()
        if extension not in RECORDING_TYPES:
            raise UnsupportedRecordingError(
                f"recording {recording.name}: {extension or 'no extension'} is not an audio type "
                f"the server accepts ({', '.join(sorted(RECORDING_TYPES))})"
            )
        recording_path = object_name(org_id, user_id, attempt_id, extension)
        planned.append(
            PlannedUpload(
                RECORDINGS_BUCKET, recording_path, RECORDING_TYPES[extension], source_path=recording
            )
        )
    transcript_path = object_name(org_id, user_id, attempt_id, ".json")
    planned.append(
        PlannedUpload(
            TRANSCRIPTS_BUCKET,
            transcript_path,
            "application/json",
            content=dumps(transcript).encode(),
        )
    )
    planned.append(
        PlannedUpload(
            TRANSCRIPTS_BUCKET,
            object_name(org_id, user_id, attempt_id, ".txt"),
            "text/plain",
            content=transcript_text(transcript).encode(),
        )
    )
    return AttemptFiles(org_id, attempt_id, recording_path, transcript_path, tuple(planned))


def transcript_text(transcript: Mapping[str, Any]) -> str:
    """One line per turn: `[m:ss] Rep: text` (persona turns say Persona)."""
    lines = []
    for turn in transcript.get("turns") or []:
        start = float(turn.get("start") or 0)
        speaker = "Rep" if turn.get("speaker") == "rep" else "Persona"
        stamp = f"{int(start // 60)}:{int(start % 60):02d}"
        lines.append(f"[{stamp}] {speaker}: {turn.get('text', '')}")
    return "\n".join(lines) + ("\n" if lines else "")


def add(db: Database, files: AttemptFiles) -> None:
    """Queue an attempt's files; call inside the transaction that records the attempt."""
    now = now_iso()
    for planned in files.uploads:
        db.execute(
            "insert into uploads (org_id, attempt_id, bucket, object_name, source_path, content, "
            "content_type, created_at) values (?, ?, ?, ?, ?, ?, ?, ?) "
            "on conflict (bucket, object_name) do nothing",
            [
                files.org_id,
                files.attempt_id,
                planned.bucket,
                planned.object_name,
                str(planned.source_path) if planned.source_path else None,
                planned.content,
                planned.content_type,
                now,
            ],
        )


def pending(db: Database, org_id: str) -> list[Upload]:
    return [
        Upload(
            id=int(row["id"]),
            attempt_id=row["attempt_id"],
            bucket=row["bucket"],
            object_name=row["object_name"],
            content_type=row["content_type"],
            source_path=Path(row["source_path"]) if row["source_path"] else None,
            content=row["content"],
        )
        for row in db.query(
            "select id, attempt_id, bucket, object_name, content_type, source_path, content "
            "from uploads where state = 'pending' and org_id = ? order by id",
            [org_id],
        )
    ]


def attempts_waiting(db: Database, attempt_ids: list[str]) -> set[str]:
    """Those of these attempts with a file still to upload (their rows must wait)."""
    if not attempt_ids:
        return set()
    marks = ", ".join("?" for _ in attempt_ids)
    return {
        row[0]
        for row in db.execute(
            f"select distinct attempt_id from uploads where state = 'pending' "
            f"and attempt_id in ({marks})",
            attempt_ids,
        ).fetchall()
    }


def refused_paths(db: Database, attempt_ids: list[str]) -> set[tuple[str, str]]:
    """(attempt id, bucket) of files the server refused: their row goes without that path."""
    if not attempt_ids:
        return set()
    marks = ", ".join("?" for _ in attempt_ids)
    return {
        (row[0], row[1])
        for row in db.execute(
            f"select attempt_id, bucket from uploads where state = 'rejected' "
            f"and attempt_id in ({marks})",
            attempt_ids,
        ).fetchall()
    }


def upload_pending(client: Client, db: Database, org_id: str) -> tuple[int, int]:
    """Send every waiting file of the org; returns (uploaded, refused).

    Stops at the first failure that is not a refusal (offline, expired token): the caller
    retries later, and files already sent are not sent again.
    """
    sent = refused = 0
    for upload in pending(db, org_id):
        try:
            _send(client, upload)
        except RejectedError as error:
            _finish(db, upload.id, "rejected", f"{error} ({error.code})")
            refused += 1
            continue
        _finish(db, upload.id, "done", None)
        sent += 1
    return sent, refused


def _send(client: Client, upload: Upload) -> None:
    if upload.content is not None:
        body: bytes | Path = upload.content
    elif upload.source_path is not None and upload.source_path.is_file():
        body = upload.source_path
    else:
        raise RejectedError(
            f"the file {upload.source_path} is no longer on this computer", "missing-file"
        )
    try:
        client.storage.from_(upload.bucket).upload(
            upload.object_name,
            body,
            {"content-type": upload.content_type, "upsert": "true"},
        )
    except SyncError:
        raise
    except Exception as error:  # classify re-raises what it does not know
        raise classify(error) from error


def _finish(db: Database, upload_id: int, state: str, message: str | None) -> None:
    with db.atomic():
        db.execute(
            "update uploads set state = ?, tries = tries + 1, last_error = ?, "
            # Sent bytes need not stay in the cache.
            "content = case when ? = 'done' then null else content end where id = ?",
            [state, message, state, upload_id],
        )
