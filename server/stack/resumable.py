"""`/storage/v1/upload/resumable`: tus 1.0 resumable uploads, as hosted Supabase Storage has them.

    OPTIONS /upload/resumable        what this server speaks (version, extensions, max size)
    POST    /upload/resumable        create: Upload-Length, Upload-Metadata (bucketName, objectName,
                                     contentType, cacheControl, metadata), `x-upsert`
    HEAD    /upload/resumable/{id}   how much has arrived: Upload-Offset, Upload-Length
    PATCH   /upload/resumable/{id}   append at Upload-Offset (409 when that is not the offset)
    DELETE  /upload/resumable/{id}   termination

Authorisation is the normal upload's: creating an upload and every append dry-run the object
row's insert (upsert with `x-upsert: true`) as the caller and roll it back, so the storage RLS
policies decide before any byte is taken. The row itself is written only by the append that
completes the file, through storage_objects.save_object, exactly as a normal upload writes it
(bucket size and MIME limits re-checked, the same errors). Only the token that created an
upload (same role and user) may see, continue or end it.

Partial data lives on disk, `<storage dir>/resumable/<id>/` (`data` and `info.json`), never in
memory, so an upload survives a restart of the stack. `info.json` holds the offset, and it moves
only after a whole PATCH body is on disk (fsync first): a body cut short is dropped, and the
offset stays at the end of the last complete chunk. An append that completes the file is all or
nothing: if the object cannot be stored, the chunk is taken back (and on a refusal, 4xx, the
whole upload is dropped: the same bytes would be refused again). Uploads expire
`resumable_ttl_s` (24 h) after creation; expired ones answer 410 and are removed when found or
when the next upload is created. Every response carries `Tus-Resumable: 1.0.0`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from server.stack import storage_metadata
from server.stack import storage_objects as objects
from server.stack.config import DEFAULT_FILE_SIZE_LIMIT
from server.stack.context import StackState, authenticate, stack_state
from server.stack.storage_objects import StorageError

log = structlog.get_logger(__name__)

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
BASE_PATH = "/storage/v1/upload/resumable"
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"


@dataclass
class PartialUpload:
    """What `info.json` records about one upload."""

    id: str
    bucket_id: str
    name: str
    length: int
    offset: int
    content_type: str
    cache_control: str
    user_metadata: dict[str, Any] | None
    upsert: bool
    role: str  # the creating token's role and user: only they may continue the upload
    subject: str | None
    expires_at: float  # epoch seconds
    complete: bool = False

    def expired(self) -> bool:
        return time.time() >= self.expires_at

    def headers(self) -> dict[str, str]:
        return {
            "Upload-Offset": str(self.offset),
            "Upload-Length": str(self.length),
            "Upload-Expires": formatdate(self.expires_at, usegmt=True),
        }


# -- on disk ---------------------------------------------------------------------------------------


def _root(state: StackState) -> Path:
    return state.config.storage_dir / "resumable"


def _folder(state: StackState, upload_id: str) -> Path:
    # The id comes from the URL: only a uuid the stack made can name a folder.
    try:
        return _root(state) / uuid.UUID(upload_id).hex
    except ValueError as exc:
        raise _not_found() from exc


def _not_found() -> StorageError:
    return StorageError(404, "not_found", "Upload not found")


def _save(state: StackState, upload: PartialUpload) -> None:
    folder = _folder(state, upload.id)
    temporary = folder / "info.json.tmp"
    temporary.write_text(json.dumps(asdict(upload)))
    os.replace(temporary, folder / "info.json")


def _read(folder: Path) -> PartialUpload | None:
    try:
        return PartialUpload(**json.loads((folder / "info.json").read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None


def _drop(state: StackState, upload_id: str) -> None:
    shutil.rmtree(_folder(state, upload_id), ignore_errors=True)


def _load(state: StackState, upload_id: str, busy: set[str]) -> PartialUpload:
    folder = _folder(state, upload_id)
    upload = _read(folder)
    if upload is None:
        raise _not_found()
    if upload.id in busy:
        return upload  # an append is changing its files; it decides what becomes of it
    if upload.expired():
        _drop(state, upload_id)
        raise StorageError(410, "expired", "The upload has expired; create a new one")
    data = folder / "data"
    if not upload.complete and (not data.exists() or data.stat().st_size < upload.offset):
        # The disk lost bytes the offset promises: resuming would store a corrupt file.
        _drop(state, upload_id)
        raise _not_found()
    return upload


def _sweep(state: StackState, busy: set[str]) -> None:
    """Remove expired uploads, and folders a crash left without info older than the TTL."""
    root = _root(state)
    if not root.exists():
        return
    oldest = time.time() - state.config.resumable_ttl_s
    for folder in root.iterdir():
        if folder.name in busy:
            continue
        upload = _read(folder)
        stale = upload.expired() if upload else folder.stat().st_mtime < oldest
        if stale:
            shutil.rmtree(folder, ignore_errors=True)


# -- requests --------------------------------------------------------------------------------------


def _busy(request: Request) -> set[str]:
    """Ids of uploads a request is appending to, per running app (one append at a time)."""
    app_state = request.app.state
    if not hasattr(app_state, "resumable_busy"):
        app_state.resumable_busy = set()
    return app_state.resumable_busy  # type: ignore[no-any-return]


def _owned(request: Request, state: StackState, claims: dict[str, Any]) -> PartialUpload:
    upload = _load(state, request.path_params["upload_id"], _busy(request))
    if (upload.role, upload.subject) != (claims.get("role"), claims.get("sub")):
        # Someone else's upload: say nothing about it.
        raise _not_found()
    return upload


def _int_header(request: Request, name: str) -> int:
    value = request.headers.get(name, "")
    if not value.isdigit():
        raise StorageError(400, "InvalidRequest", f"{name} must be a non-negative integer")
    return int(value)


def _parse_metadata(header: str) -> dict[str, str]:
    """Upload-Metadata: comma-separated `key base64(value)` pairs (the value may be absent)."""
    pairs: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in header.split(","))):
        key, _, encoded = item.partition(" ")
        try:
            pairs[key] = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise StorageError(
                400, "InvalidRequest", f"Upload-Metadata {key!r} is not base64 of UTF-8 text"
            ) from exc
    return pairs


async def options(request: Request) -> Response:
    del request
    return Response(
        status_code=204,
        headers={
            "Tus-Version": TUS_VERSION,
            "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(DEFAULT_FILE_SIZE_LIMIT),
        },
    )


async def create(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    if "upload-defer-length" in request.headers:
        raise StorageError(400, "InvalidRequest", "Upload-Defer-Length is not supported")
    length = _int_header(request, "upload-length")
    meta = _parse_metadata(request.headers.get("upload-metadata", ""))
    bucket_id = meta.get("bucketName") or ""
    if not bucket_id:
        raise StorageError(400, "InvalidRequest", "Upload-Metadata must name bucketName")
    name = objects.validate_key(meta.get("objectName") or "")
    content_type = storage_metadata.media_type(
        meta.get("contentType") or storage_metadata.DEFAULT_MEDIA_TYPE
    )
    cache_control = storage_metadata.cache_seconds(meta.get("cacheControl"))
    raw_metadata = meta.get("metadata")
    user_metadata = None if raw_metadata is None else objects.user_metadata(raw_metadata)
    bucket = await objects.bucket_settings(state, bucket_id)
    if length > objects.file_size_limit(bucket):
        raise objects.too_large()
    objects.check_mime(content_type, bucket)
    upsert = objects.truthy(request.headers.get("x-upsert"))
    await objects.check_can_write(state, claims, "POST", bucket_id, name, upsert)

    busy = _busy(request)
    _sweep(state, busy)
    upload = PartialUpload(
        id=uuid.uuid4().hex,
        bucket_id=bucket_id,
        name=name,
        length=length,
        offset=0,
        content_type=content_type,
        cache_control=cache_control,
        user_metadata=user_metadata,
        upsert=upsert,
        role=str(claims.get("role")),
        subject=claims.get("sub"),
        expires_at=time.time() + state.config.resumable_ttl_s,
    )
    folder = _folder(state, upload.id)
    folder.mkdir(parents=True)
    (folder / "data").touch()
    _save(state, upload)
    if length == 0:  # nothing will be appended: the file is complete now
        await _complete(state, claims, upload, previous_offset=0)
    log.info("storage.resumable.created", bucket=bucket_id, name=name, length=length)
    location = request.url.replace(path=f"{BASE_PATH}/{upload.id}", query="")
    return Response(status_code=201, headers={"Location": str(location), **upload.headers()})


async def head(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    upload = _owned(request, state, claims)
    return Response(status_code=200, headers={**upload.headers(), "Cache-Control": "no-store"})


async def append(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    upload = _owned(request, state, claims)
    if request.headers.get("content-type", "").split(";")[0].strip() != OFFSET_CONTENT_TYPE:
        raise StorageError(415, "InvalidRequest", f"Content-Type must be {OFFSET_CONTENT_TYPE}")
    offset = _int_header(request, "upload-offset")
    if offset != upload.offset:
        raise StorageError(
            409,
            "OffsetMismatch",
            f"Upload-Offset {offset} does not match the upload's offset {upload.offset}",
        )
    if upload.complete:
        return Response(status_code=204, headers=upload.headers())
    busy = _busy(request)
    if upload.id in busy:
        raise StorageError(423, "ResourceLocked", "Another request is appending to this upload")
    busy.add(upload.id)
    try:
        await objects.check_can_write(
            state, claims, "PATCH", upload.bucket_id, upload.name, upload.upsert
        )
        received = await _receive(request, _folder(state, upload.id) / "data", upload)
        upload.offset += received
        if upload.offset == upload.length:
            await _complete(state, claims, upload, previous_offset=offset)
        else:
            _save(state, upload)
    finally:
        busy.discard(upload.id)
    return Response(status_code=204, headers=upload.headers())


async def terminate(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    upload = _owned(request, state, claims)
    if upload.complete:
        # As hosted Storage: a finished upload is an object now; remove that instead.
        raise StorageError(400, "InvalidRequest", "The upload is complete and cannot be ended")
    if upload.id in _busy(request):
        raise StorageError(423, "ResourceLocked", "Another request is appending to this upload")
    _drop(state, upload.id)
    return Response(status_code=204)


async def _receive(request: Request, data: Path, upload: PartialUpload) -> int:
    """Write the body after `upload.offset`; all of it or none of it (the file is cut back)."""
    room = upload.length - upload.offset
    received = 0
    with data.open("r+b") as handle:
        handle.truncate(upload.offset)  # bytes a crash left past the offset are not ours
        handle.seek(upload.offset)
        try:
            async for chunk in request.stream():
                received += len(chunk)
                if received > room:
                    raise StorageError(
                        400, "InvalidRequest", "The chunk goes past the declared Upload-Length"
                    )
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        except BaseException as exc:
            handle.truncate(upload.offset)
            if isinstance(exc, ClientDisconnect):
                raise StorageError(400, "InvalidRequest", "The chunk was cut short") from exc
            raise
    return received


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        while block := handle.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


async def _complete(
    state: StackState, claims: dict[str, Any], upload: PartialUpload, *, previous_offset: int
) -> None:
    """Store the finished file as a normal upload would, or take the last chunk back."""
    data = _folder(state, upload.id) / "data"
    version = str(uuid.uuid4())
    blob = objects.blob_path(state, version)
    moved = False
    try:
        bucket = await objects.bucket_settings(state, upload.bucket_id)
        if upload.length > objects.file_size_limit(bucket):
            raise objects.too_large()
        objects.check_mime(upload.content_type, bucket)
        etag = await run_in_threadpool(_md5, data)
        blob.parent.mkdir(parents=True, exist_ok=True)
        os.replace(data, blob)
        moved = True
        await objects.save_object(
            state,
            claims,
            "PATCH",
            bucket_id=upload.bucket_id,
            name=upload.name,
            version=version,
            metadata=objects.object_metadata(
                upload.length, etag, upload.content_type, upload.cache_control
            ),
            user_metadata=upload.user_metadata,
            upsert=upload.upsert,
        )
    except Exception as exc:
        if moved:
            os.replace(blob, data)
        error = objects.as_storage_error(exc)
        if error is not None and 400 <= error.status < 500:
            _drop(state, upload.id)  # refused: the same bytes would be refused again
        else:
            with contextlib.suppress(OSError), data.open("r+b") as handle:
                handle.truncate(previous_offset)
            upload.offset = previous_offset
        raise
    upload.complete = True
    _save(state, upload)
    log.info("storage.resumable.stored", bucket=upload.bucket_id, name=upload.name)


def _tus(handler: Any) -> Any:
    """Storage's error shape, the Tus-Resumable check on requests and header on responses."""
    inner = objects.handled(handler)

    async def wrapper(request: Request) -> Response:
        if request.method != "OPTIONS" and request.headers.get("tus-resumable") != TUS_VERSION:
            response: Response = StorageError(
                412, "InvalidRequest", f"Tus-Resumable: {TUS_VERSION} is required"
            ).response()
            response.headers["Tus-Version"] = TUS_VERSION
        else:
            response = await inner(request)
        response.headers["Tus-Resumable"] = TUS_VERSION
        return response

    return wrapper


def routes() -> list[Route]:
    one = f"{BASE_PATH}/{{upload_id}}"
    return [
        Route(BASE_PATH, _tus(options), methods=["OPTIONS"]),
        Route(BASE_PATH, _tus(create), methods=["POST"]),
        Route(one, _tus(options), methods=["OPTIONS"]),
        Route(one, _tus(head), methods=["HEAD"]),
        Route(one, _tus(append), methods=["PATCH"]),
        Route(one, _tus(terminate), methods=["DELETE"]),
    ]
