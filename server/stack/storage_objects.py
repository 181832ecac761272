"""What Storage's two ways of uploading share: simple uploads (server.stack.storage) and
resumable ones (server.stack.resumable) check keys, bucket limits and policies the same way,
store a finished file through `save_object`, and answer errors in Storage's shape
{"statusCode": "404", "error": "...", "message": ...}.

Neither upload module imports the other; both build on this one and on server.stack.context.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.stack import storage_metadata as meta
from server.stack.bodies import MalformedJson, parse_json
from server.stack.config import DEFAULT_FILE_SIZE_LIMIT
from server.stack.context import StackState, as_role
from server.stack.query import ApiError

log = structlog.get_logger(__name__)

MAX_KEY_LENGTH = 1024


class StorageError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message

    def response(self) -> JSONResponse:
        body = {"statusCode": str(self.status), "error": self.error, "message": self.message}
        return JSONResponse(body, status_code=self.status)


def _from_api_error(exc: ApiError) -> StorageError:
    if exc.status in (401, 403) and exc.code in ("PGRST301", "PGRST303"):
        return StorageError(exc.status, "InvalidJWT", exc.message)
    return StorageError(exc.status, "InvalidRequest", exc.message)


def _from_database_error(exc: psycopg.Error) -> StorageError:
    if exc.sqlstate is None and isinstance(exc, psycopg.DataError):
        return unstorable()
    if exc.sqlstate == "42501":
        message = exc.diag.message_primary or "new row violates row-level security policy"
        return StorageError(403, "Unauthorized", message)
    if exc.sqlstate == "23505":
        return StorageError(409, "Duplicate", "The resource already exists")
    if exc.sqlstate and exc.sqlstate.startswith(("22", "23")):
        return StorageError(400, "InvalidRequest", exc.diag.message_primary or str(exc))
    log.error("storage.database_error", sqlstate=exc.sqlstate)
    return StorageError(500, "DatabaseError", exc.diag.message_primary or "database error")


def unstorable() -> StorageError:
    """A value the database cannot take as text: a NUL, or a lone surrogate from JSON."""
    return StorageError(400, "InvalidRequest", "a value contains NUL or invalid Unicode")


def as_storage_error(exc: Exception) -> StorageError | None:
    """The Storage error a handler's failure stands for; None for a bug (let it raise)."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, meta.InvalidMetadata):
        return StorageError(400, "InvalidRequest", str(exc))
    if isinstance(exc, UnicodeEncodeError):
        return unstorable()
    if isinstance(exc, ApiError):
        return _from_api_error(exc)
    if isinstance(exc, psycopg.Error):
        return _from_database_error(exc)
    return None


def handled(
    handler: Any,
) -> Any:
    """Turn every failure of a storage handler into Storage's error shape."""

    async def wrapper(request: Request) -> Response:
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except (
            StorageError,
            ApiError,
            psycopg.Error,
            meta.InvalidMetadata,
            UnicodeEncodeError,
        ) as exc:
            error = as_storage_error(exc)
            assert error is not None
            return error.response()

    return wrapper


def validate_key(name: str) -> str:
    """Object names: relative, no empty/dot segments, no control characters or backslashes."""
    parts = name.split("/")
    if (
        not name
        or len(name) > MAX_KEY_LENGTH
        or name.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or "\\" in name
        or any(ord(c) < 32 or ord(c) == 127 for c in name)
    ):
        raise StorageError(400, "InvalidKey", f"Invalid key: {name}")
    return name


def blob_path(state: StackState, version: str) -> Path:
    # The version is a uuid the stack generated; re-parse it so nothing else can ever get here.
    return state.config.storage_dir / "objects" / uuid.UUID(version).hex


def remove_blob(state: StackState, version: str | None) -> None:
    if not version:
        return
    with contextlib.suppress(ValueError):
        blob_path(state, version).unlink(missing_ok=True)


@asynccontextmanager
async def as_service(state: StackState) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """Storage's own lookups (bucket settings, signed-token objects) as service_role."""
    async with state.admin_pool.connection() as conn, conn.transaction():
        await conn.execute("set local role service_role")
        yield conn


async def bucket_settings(state: StackState, bucket_id: str) -> dict[str, Any]:
    async with as_service(state) as conn:
        row = await (
            await conn.execute(
                "select id, public, file_size_limit, allowed_mime_types from storage.buckets"
                " where id = %s",
                (bucket_id,),
            )
        ).fetchone()
    if row is None:
        raise StorageError(404, "Bucket not found", "Bucket not found")
    return {"id": row[0], "public": row[1], "file_size_limit": row[2], "allowed_mime_types": row[3]}


def file_size_limit(bucket: dict[str, Any]) -> int:
    """The bucket's limit, never above Storage's global one."""
    return min(bucket["file_size_limit"] or DEFAULT_FILE_SIZE_LIMIT, DEFAULT_FILE_SIZE_LIMIT)


def check_mime(mimetype: str, bucket: dict[str, Any]) -> None:
    if not _mime_allowed(mimetype, bucket["allowed_mime_types"]):
        raise StorageError(415, "invalid_mime_type", f"mime type {mimetype} is not supported")


def _mime_allowed(mimetype: str, allowed: list[str] | None) -> bool:
    if not allowed:
        return True
    base = mimetype.split(";")[0].strip().lower()
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern == base or (pattern.endswith("/*") and base.startswith(pattern[:-1])):
            return True
    return False


def too_large() -> StorageError:
    return StorageError(413, "Payload too large", "The object exceeded the maximum allowed size")


def user_metadata(raw: bytes | str) -> dict[str, Any]:
    """The `metadata` an upload gives: one JSON object (kept apart from Storage's own keys)."""
    try:
        parsed = parse_json(raw)
    except MalformedJson as exc:
        raise StorageError(400, "InvalidRequest", f"metadata must be JSON: {exc}") from exc
    if not isinstance(parsed, dict):
        raise StorageError(400, "InvalidRequest", "metadata must be a JSON object")
    return parsed


def truthy(value: str | None) -> bool:
    return (value or "").lower() in ("true", "1", "yes")


# -- objects -------------------------------------------------------------------------------------


_INSERT_OBJECT = (
    "insert into storage.objects (bucket_id, name, owner, metadata, version)"
    " values (%s, %s, %s, coalesce(%s::jsonb, '{}') || %s::jsonb, %s)"
)
_UPSERT_OBJECT = _INSERT_OBJECT + (
    " on conflict (bucket_id, name) do update set owner = excluded.owner,"
    " metadata = excluded.metadata, version = excluded.version,"
    " updated_at = now(), last_accessed_at = now()"
)


def object_metadata(size: int, etag: str, mimetype: str, cache_control: str) -> dict[str, Any]:
    """The `metadata` column Storage writes for a stored file; every value checked, since
    mimetype and cacheControl become headers of every download."""
    return {
        "eTag": f'"{etag}"',
        "size": size,
        "mimetype": meta.media_type(mimetype),
        "cacheControl": f"max-age={meta.cache_seconds(cache_control)}",
        "lastModified": datetime.now(UTC).isoformat(),
        "contentLength": size,
        "httpStatusCode": 200,
    }


def _object_params(
    claims: dict[str, Any],
    bucket_id: str,
    name: str,
    metadata: dict[str, Any],
    user_metadata: dict[str, Any] | None,
    version: str,
) -> tuple[Any, ...]:
    owner = claims.get("sub") if claims.get("role") == "authenticated" else None
    extra = json.dumps(user_metadata) if isinstance(user_metadata, dict) else None
    # Storage's own keys (mimetype, cacheControl, eTag, size) come last so an uploader's
    # metadata can never replace the values downloads are served with.
    return (bucket_id, name, owner, extra, json.dumps(metadata), version)


async def check_can_write(
    state: StackState, claims: dict[str, Any], method: str, bucket_id: str, name: str, upsert: bool
) -> None:
    """Ask the storage policies whether the caller may write this object, writing nothing: the
    row an upload would write, inserted as the caller and rolled back (hosted Storage checks a
    resumable upload the same way before it takes any bytes)."""
    params = _object_params(claims, bucket_id, name, {}, None, str(uuid.uuid4()))
    async with (
        as_role(state, claims, method) as conn,
        conn.transaction(force_rollback=True),
    ):
        await conn.execute(_UPSERT_OBJECT if upsert else _INSERT_OBJECT, params)


async def save_object(
    state: StackState,
    claims: dict[str, Any],
    method: str,
    *,
    bucket_id: str,
    name: str,
    version: str,
    metadata: dict[str, Any],
    user_metadata: dict[str, Any] | None,
    upsert: bool,
) -> JSONResponse:
    """Write the row of a file already stored under `version`, as the caller (RLS decides).

    On failure the file stays where it is (the caller owns it); on success the file of the
    version it replaced is removed."""
    params = _object_params(claims, bucket_id, name, metadata, user_metadata, version)
    old_version = None
    async with as_role(state, claims, method) as conn:
        if upsert:
            previous = await (
                await conn.execute(
                    "select version from storage.objects where bucket_id = %s and name = %s",
                    (bucket_id, name),
                )
            ).fetchone()
            old_version = previous[0] if previous else None
        statement = (_UPSERT_OBJECT if upsert else _INSERT_OBJECT) + " returning id"
        row = await (await conn.execute(statement, params)).fetchone()
        assert row is not None
    if old_version and old_version != version:
        remove_blob(state, old_version)
    return JSONResponse({"Id": str(row[0]), "Key": f"{bucket_id}/{name}"})
