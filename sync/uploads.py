"""Files an attempt needs on the server before its row is sent: the recording and the transcript.

    recordings   {org_id}/{user_id}/{attempt_id}.<ext>    the call's audio, streamed from disk
    transcripts  {org_id}/{user_id}/{attempt_id}.json     the transcript document
    transcripts  {org_id}/{user_id}/{attempt_id}.txt      the same, readable by people

Uploads use `upsert`, so re-sending a file after a crash or a lost response overwrites it with the
same bytes instead of failing as a duplicate. Transcript bytes are kept in the cache (small);
recordings are read from the file the practice screen wrote, so memory stays bounded.

With `upload = "manual"` (app.config.UploadPolicy) an attempt's files are queued *held*: they
stay on this computer, and its row goes without them (no paths, no transcript) until the user
uploads the attempt (`release`), which queues them like any other.

Files larger than RESUMABLE_THRESHOLD (6 MB) go through Storage's resumable endpoint (tus 1.0,
`{url}/storage/v1/upload/resumable`) in chunks of exactly 6 MB, as hosted Storage requires. The
upload's URL is kept in the file's cache row the moment the server creates it, so the next sync
after a crash, a lost connection or a 5xx asks the server how much it has (HEAD) and sends only
the rest; an upload the server no longer has (expired after 24 h, ended) starts over. storage3
has no tus client: tuspy's Uploader keeps the protocol's state (offsets, chunk lengths, metadata
encoding), and its three requests go through the supabase client's own httpx client with the
session's access token and the anon key, so they share its timeouts and transport and their
failures classify like any other Storage error (sync.client.classify).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx
import structlog
from sqlite_utils import Database
from storage3.exceptions import StorageApiError
from tusclient.client import TusClient
from tusclient.uploader import Uploader

from supabase import Client
from sync.client import DEFAULT_TIMEOUT, RejectedError, ServerError, SyncError, classify
from sync.rows import dumps, now_iso

log = structlog.get_logger(__name__)

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


# Hosted Storage's tus chunks are exactly 6 MB (the last may be shorter); larger files go resumable.
TUS_CHUNK_SIZE = 6 * 1024 * 1024
RESUMABLE_THRESHOLD = TUS_CHUNK_SIZE
TUS_ENDPOINT = "upload/resumable"  # under the client's storage URL
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


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
    resumable_url: str | None = None  # a resumable upload the server has begun


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


def add(db: Database, files: AttemptFiles, *, held: bool = False) -> None:
    """Queue an attempt's files (`held`: until `release`); call inside the transaction that
    records the attempt."""
    now = now_iso()
    for planned in files.uploads:
        db.execute(
            "insert into uploads (org_id, attempt_id, bucket, object_name, source_path, content, "
            "content_type, created_at, held) values (?, ?, ?, ?, ?, ?, ?, ?, ?) "
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
                int(held),
            ],
        )


def release(db: Database, attempt_id: str) -> dict[str, str]:
    """Let an attempt's held files go with the next push; returns {bucket: object name} of the
    paths its row points at (the recording, the JSON transcript). Call in a transaction."""
    rows = db.execute(
        "select bucket, object_name, content_type from uploads "
        "where attempt_id = ? and held = 1 order by id",
        [attempt_id],
    ).fetchall()
    db.execute("update uploads set held = 0 where attempt_id = ? and held = 1", [attempt_id])
    # The transcript's readable .txt copy is not a path of the row.
    return {
        bucket: name
        for bucket, name, content_type in rows
        if bucket == RECORDINGS_BUCKET or content_type == "application/json"
    }


def held_attempts(db: Database, attempt_ids: list[str] | None = None) -> set[str]:
    """Attempts (of these, or all) whose files wait for the user to upload them."""
    sql = "select distinct attempt_id from uploads where held = 1"
    params: list[str] = []
    if attempt_ids is not None:
        if not attempt_ids:
            return set()
        sql += f" and attempt_id in ({', '.join('?' for _ in attempt_ids)})"
        params = attempt_ids
    return {row[0] for row in db.execute(sql, params).fetchall()}


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
            resumable_url=row["resumable_url"],
        )
        for row in db.query(
            "select id, attempt_id, bucket, object_name, content_type, source_path, content, "
            "resumable_url from uploads where state = 'pending' and held = 0 and org_id = ? "
            "order by id",
            [org_id],
        )
    ]


def attempts_waiting(db: Database, attempt_ids: list[str]) -> set[str]:
    """Those of these attempts with a file still to upload (their rows must wait); held files
    do not hold a row back: it goes without them."""
    if not attempt_ids:
        return set()
    marks = ", ".join("?" for _ in attempt_ids)
    return {
        row[0]
        for row in db.execute(
            f"select distinct attempt_id from uploads where state = 'pending' and held = 0 "
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


def upload_pending(
    client: Client,
    db: Database,
    org_id: str,
    *,
    resumable_threshold: int = RESUMABLE_THRESHOLD,
    between: Callable[[], None] | None = None,
) -> tuple[int, int]:
    """Send every waiting file of the org; returns (uploaded, refused).

    Stops at the first failure that is not a refusal (offline, expired token): the caller
    retries later, and files already sent are not sent again (nor the part of a large file the
    server already has). Files above `resumable_threshold` bytes go resumable. `between` is
    called after each file (the owner thread's yield point: sync/owner.py).
    """
    sent = refused = 0
    for upload in pending(db, org_id):
        try:
            _send(client, db, upload, resumable_threshold)
        except RejectedError as error:
            _finish(db, upload.id, "rejected", f"{error} ({error.code})")
            refused += 1
            continue
        _finish(db, upload.id, "done", None)
        sent += 1
        if between is not None:
            between()
    return sent, refused


def _send(client: Client, db: Database, upload: Upload, resumable_threshold: int) -> None:
    if upload.content is not None:
        body: bytes | Path = upload.content
    elif upload.source_path is not None and upload.source_path.is_file():
        body = upload.source_path
    else:
        raise RejectedError(
            f"the file {upload.source_path} is no longer on this computer", "missing-file"
        )
    try:
        if isinstance(body, Path) and body.stat().st_size > resumable_threshold:
            _send_resumable(client, db, upload, body)
            return
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
            # Sent bytes need not stay in the cache, nor where a finished upload went.
            "content = case when ? = 'done' then null else content end, resumable_url = null "
            "where id = ?",
            [state, message, state, upload_id],
        )


# Resumable (tus) uploads --------------------------------------------------------------------------
class _UploadGone(Exception):
    """The server no longer has this upload (expired, ended, or not this file's): start over."""


def _send_resumable(client: Client, db: Database, upload: Upload, path: Path) -> None:
    endpoint = f"{client.storage_url}{TUS_ENDPOINT}"
    tus = TusClient(endpoint, headers=_tus_headers(client))
    metadata = {
        "bucketName": upload.bucket,
        "objectName": upload.object_name,
        "contentType": upload.content_type,
        "cacheControl": "3600",
    }

    def remember(url: str | None) -> None:
        with db.atomic():
            db.execute("update uploads set resumable_url = ? where id = ?", [url, upload.id])

    with _http_client(client) as http, path.open("rb") as stream:

        def uploader(url: str | None) -> _TusUploader:
            return _TusUploader(
                http,
                endpoint,
                remember,
                file_stream=stream,
                url=url,
                client=tus,
                chunk_size=TUS_CHUNK_SIZE,
                metadata=metadata,
            )

        if _same_origin(upload.resumable_url, endpoint):
            try:
                resumed = uploader(upload.resumable_url)  # asks the server for its offset
                log.info("resuming upload", attempt_id=upload.attempt_id, offset=resumed.offset)
                resumed.upload()
                return
            except _UploadGone:
                log.info("the server no longer has the upload", attempt_id=upload.attempt_id)
                remember(None)
        try:
            uploader(None).upload()
        except _UploadGone as error:
            raise ServerError("file storage lost a new upload while it was being sent") from error


def _tus_headers(client: Client) -> dict[str, str]:
    """The signed-in session's access token and the anon key, as the client's own requests."""
    bearer = f"Bearer {client.supabase_key}"
    return {
        "Authorization": client.options.headers.get("Authorization", bearer),
        "apikey": client.supabase_key,
        "x-upsert": "true",  # a retry after a lost answer overwrites the same bytes
    }


@contextlib.contextmanager
def _http_client(client: Client) -> Iterator[httpx.Client]:
    """The supabase client's httpx client (sync.client.make_client always sets one)."""
    if client.options.httpx_client is not None:
        yield client.options.httpx_client
        return
    with httpx.Client(timeout=DEFAULT_TIMEOUT, follow_redirects=True) as own:
        yield own


def _same_origin(url: str | None, endpoint: str) -> bool:
    """Only the server we talk to gets our token, whatever a stored URL or a Location says."""
    if not url:
        return False
    ours, theirs = urlsplit(endpoint), urlsplit(url)
    return (ours.scheme, ours.netloc) == (theirs.scheme, theirs.netloc)


class _TusUploader(Uploader):
    """tuspy's Uploader (chunk lengths, offsets, metadata encoding, the upload loop) with its
    requests sent by the supabase client's httpx client instead of `requests` (which has no
    timeout, and would bypass the transport and classification every other request has)."""

    def __init__(
        self,
        http: httpx.Client,
        endpoint: str,
        remember: Callable[[str | None], None],
        *,
        file_stream: IO[bytes],
        **kwargs: Any,
    ) -> None:
        # Set before tuspy's constructor: given a URL, it asks the server for the offset.
        self._http = http
        self._endpoint = endpoint
        self._remember = remember
        super().__init__(file_stream=file_stream, **kwargs)

    def set_url(self, url: str) -> None:
        super().set_url(url)
        self._remember(url)  # kept before the first byte goes, so a crash resumes it

    def create_url(self) -> str:
        response = self._http.post(self.client.url, headers=self.get_url_creation_headers())
        _raise_for_status(response)
        url = urljoin(self.client.url, response.headers.get("location", ""))
        if response.status_code != 201 or not _same_origin(url, self._endpoint):
            raise ServerError(
                f"file storage answered {response.status_code} to a new upload without a "
                "usable location"
            )
        return url

    def get_offset(self) -> int:
        response = self._http.head(self.url, headers=self.get_headers())
        if response.status_code in (404, 410):
            raise _UploadGone(self.url)
        _raise_for_status(response)
        if response.headers.get("upload-length") != str(self.get_file_size()):
            raise _UploadGone(self.url)  # not this file's upload: never mix two files' bytes
        return _offset(response)

    def upload_chunk(self) -> None:
        stream = self.get_file_stream()
        stream.seek(self.offset)
        chunk = stream.read(self.get_request_length())
        headers = {
            **self.get_headers(),
            "Upload-Offset": str(self.offset),
            "Content-Type": OFFSET_CONTENT_TYPE,
        }
        response = self._http.patch(self.url, content=chunk, headers=headers)
        if response.status_code in (404, 410):
            raise _UploadGone(self.url)
        if response.status_code == 409:
            # The server holds other bytes than we thought (it stored a chunk whose answer was
            # lost): continue from where it is. The same offset again is another conflict.
            server_offset = self.get_offset()
            if server_offset == self.offset:
                _raise_for_status(response)
            self.offset = server_offset
            return
        _raise_for_status(response)
        self.offset = _offset(response)


def _offset(response: httpx.Response) -> int:
    value = response.headers.get("upload-offset", "")
    if not value.isdigit():
        raise ServerError(f"file storage answered {response.status_code} without Upload-Offset")
    return int(value)


def _raise_for_status(response: httpx.Response) -> None:
    """A failed tus answer as the SyncError a Storage error with that status would be."""
    if response.is_success:
        return
    code, message = "", response.text.strip()
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        code, message = str(body.get("error") or ""), str(body.get("message") or message)
    if response.status_code == 401:
        code = "InvalidJWT"  # Storage refuses a token with 401 only when it is not valid (now)
    error = StorageApiError(message or response.reason_phrase, code, response.status_code)
    raise classify(error) from error
