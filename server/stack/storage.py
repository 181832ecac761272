"""`/storage/v1`: the Supabase Storage subset the supabase client uses.

Objects: upload (POST, `x-upsert`; PUT = upsert), download (authenticated and public), copy,
remove, list, info, signed URLs (single and batch) and signed download. Buckets: list, get, create.
Resumable (tus) uploads are in server.stack.resumable, routed beside these by the app; both build
on server.stack.storage_objects and store a finished file through its `save_object`, so limits,
policies and errors are the same.

Every read or write of `storage.objects` runs as the caller's role with their claims (the same
transaction helper as /rest/v1, server.stack.context.as_role), so the storage RLS policies in
the migrations decide who may upload, read, sign or delete. Only two lookups bypass RLS, as
hosted Storage's do: the bucket's settings (size limit, MIME types, public flag), and the object
behind a valid signed token.

File bytes live under `<data dir>/storage/objects/<uuid>`: the file name is a random version id
stored in the object's row, never derived from the request, so no object name can reach outside
that directory. Errors use Storage's shape: {"statusCode": "404", "error": "...", "message": ...}.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.stack import jwt as stack_jwt
from server.stack import storage_metadata as meta
from server.stack.bodies import MalformedJson, parse_json
from server.stack.context import StackState, as_role, authenticate, stack_state
from server.stack.storage_objects import (
    StorageError,
    as_service,
    blob_path,
    bucket_settings,
    check_mime,
    file_size_limit,
    handled,
    object_metadata,
    remove_blob,
    save_object,
    too_large,
    truthy,
    user_metadata,
    validate_key,
)

log = structlog.get_logger(__name__)

# Room for multipart boundaries and form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
_OBJECT_COLUMNS = (
    "id, name, bucket_id, owner, version, metadata, created_at, updated_at, last_accessed_at"
)


async def _read_limited(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _parse_upload(content_type: str, body: bytes) -> tuple[bytes, str, dict[str, Any] | None, str]:
    """The file, its MIME type, user metadata and cache control from a multipart or raw body."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body, meta.media_type(content_type or meta.DEFAULT_MEDIA_TYPE), None, "3600"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise StorageError(400, "InvalidRequest", "malformed multipart body")
    file_bytes: bytes | None = None
    mimetype = meta.DEFAULT_MEDIA_TYPE
    metadata: dict[str, Any] | None = None
    cache_control = meta.DEFAULT_CACHE_SECONDS
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if name == "file" or part.get_filename() is not None:
            file_bytes = payload
            declared = part.get("content-type")
            mimetype = meta.media_type(str(declared)) if declared else mimetype
        elif name == "cacheControl":
            cache_control = meta.cache_seconds(payload.decode("ascii", errors="replace"))
        elif name == "metadata":
            metadata = user_metadata(payload)
    if file_bytes is None:
        raise StorageError(400, "InvalidRequest", "multipart body has no file part")
    return file_bytes, mimetype, metadata, cache_control


async def json_object(request: Request) -> dict[str, Any]:
    """A request body that must be one JSON object (blank means {})."""
    try:
        body = parse_json(await request.body(), empty={})
    except MalformedJson as exc:
        raise StorageError(400, "InvalidRequest", f"body must be JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise StorageError(400, "InvalidRequest", "body must be a JSON object")
    return body


# -- objects -------------------------------------------------------------------------------------


async def upload(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    bucket_id = request.path_params["bucket"]
    name = validate_key(request.path_params["name"])
    bucket = await bucket_settings(state, bucket_id)
    limit = file_size_limit(bucket)
    content_type = request.headers.get("content-type", "")
    multipart = content_type.lower().startswith("multipart/")
    body = await _read_limited(request, limit + (MULTIPART_OVERHEAD if multipart else 0))
    data, mimetype, user_metadata, cache_control = _parse_upload(content_type, body)
    if len(data) > limit:
        raise too_large()
    check_mime(mimetype, bucket)
    upsert = request.method == "PUT" or truthy(request.headers.get("x-upsert"))

    version = str(uuid.uuid4())
    path = blob_path(state, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
    try:
        return await save_object(
            state,
            claims,
            request.method,
            bucket_id=bucket_id,
            name=name,
            version=version,
            metadata=object_metadata(len(data), etag, mimetype, cache_control),
            user_metadata=user_metadata,
            upsert=upsert,
        )
    except BaseException:
        remove_blob(state, version)
        raise


async def copy(request: Request) -> Response:
    """POST /object/copy {bucketId, sourceKey, destinationKey, destinationBucket?}, as hosted
    Storage: the caller must be able to read the source and write the destination (the
    storage policies decide both, as the caller); the destination bucket's limits apply. The
    file is copied, so removing either object later leaves the other whole."""
    state = stack_state(request)
    claims = authenticate(request, state)
    body = await json_object(request)
    bucket_id = _body_text(body, "bucketId")
    source = validate_key(_body_text(body, "sourceKey"))
    destination = validate_key(_body_text(body, "destinationKey"))
    target_bucket = str(body.get("destinationBucket") or bucket_id)
    upsert = truthy(request.headers.get("x-upsert"))
    version, metadata = await _visible_object(state, claims, bucket_id, source)
    bucket = await bucket_settings(state, target_bucket)
    if int(metadata.get("size") or 0) > file_size_limit(bucket):
        raise too_large()
    check_mime(str(metadata.get("mimetype") or "application/octet-stream"), bucket)
    copied = str(uuid.uuid4())
    try:
        shutil.copyfile(blob_path(state, version), _new_blob(state, copied))
    except FileNotFoundError as exc:
        raise StorageError(404, "not_found", "Object not found") from exc
    try:
        return await save_object(
            state,
            claims,
            "POST",
            bucket_id=target_bucket,
            name=destination,
            version=copied,
            metadata={**metadata, "lastModified": datetime.now(UTC).isoformat()},
            user_metadata=None,
            upsert=upsert,
        )
    except BaseException:
        remove_blob(state, copied)
        raise


def _body_text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise StorageError(400, "InvalidRequest", f'"{key}" must be a non-empty string')
    return value


def _new_blob(state: StackState, version: str) -> Path:
    path = blob_path(state, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


async def _visible_object(
    state: StackState, claims: dict[str, Any], bucket_id: str, name: str
) -> tuple[str, dict[str, Any]]:
    async with as_role(state, claims, "GET") as conn:
        row = await (
            await conn.execute(
                "select version, metadata from storage.objects where bucket_id = %s and name = %s",
                (bucket_id, name),
            )
        ).fetchone()
    if row is None or not row[0]:
        raise StorageError(404, "not_found", "Object not found")
    return row[0], row[1] or {}


def _file_response(
    state: StackState, version: str, metadata: dict[str, Any], name: str, download: str | None
) -> Response:
    try:
        data = blob_path(state, version).read_bytes()
    except FileNotFoundError as exc:
        raise StorageError(404, "not_found", "Object not found") from exc
    headers = {"Cache-Control": meta.stored_cache_control(metadata.get("cacheControl"))}
    if download is not None:
        filename = download or name.rsplit("/", 1)[-1]
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    media_type = meta.stored_media_type(metadata.get("mimetype"))
    return Response(data, media_type=media_type, headers=headers)


async def download(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    bucket_id = request.path_params["bucket"]
    name = validate_key(request.path_params["name"])
    version, metadata = await _visible_object(state, claims, bucket_id, name)
    return _file_response(state, version, metadata, name, request.query_params.get("download"))


async def download_public(request: Request) -> Response:
    state = stack_state(request)
    bucket_id = request.path_params["bucket"]
    name = validate_key(request.path_params["name"])
    bucket = await bucket_settings(state, bucket_id)
    if not bucket["public"]:
        raise StorageError(404, "not_found", "Object not found")
    version, metadata = await _object_asas_service(state, bucket_id, name)
    return _file_response(state, version, metadata, name, request.query_params.get("download"))


async def _object_asas_service(
    state: StackState, bucket_id: str, name: str
) -> tuple[str, dict[str, Any]]:
    async with as_service(state) as conn:
        row = await (
            await conn.execute(
                "select version, metadata from storage.objects where bucket_id = %s and name = %s",
                (bucket_id, name),
            )
        ).fetchone()
    if row is None or not row[0]:
        raise StorageError(404, "not_found", "Object not found")
    return row[0], row[1] or {}


async def info(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    bucket_id = request.path_params["bucket"]
    name = validate_key(request.path_params["name"])
    async with as_role(state, claims, "GET") as conn:
        row = await (
            await conn.execute(
                "select to_json(o)::text from (select " + _OBJECT_COLUMNS + " from storage.objects"
                " where bucket_id = %s and name = %s) o",
                (bucket_id, name),
            )
        ).fetchone()
    if row is None:
        raise StorageError(404, "not_found", "Object not found")
    return Response(row[0], media_type="application/json")


async def remove(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    bucket_id = request.path_params["bucket"]
    if "name" in request.path_params:
        names = [request.path_params["name"]]
    else:
        names = (await json_object(request)).get("prefixes")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise StorageError(400, "InvalidRequest", '"prefixes" must be a list of object names')
    async with as_role(state, claims, "DELETE") as conn:
        # What the storage server sets in its transactions: hosted's storage.objects refuses
        # a delete without it, so only Storage removes rows (and their files).
        await conn.execute("select set_config('storage.allow_delete_query', 'true', true)")
        rows = await (
            await conn.execute(
                "with removed as (delete from storage.objects where bucket_id = %s"
                " and name = any(%s::text[]) returning " + _OBJECT_COLUMNS + ")"
                " select version, to_json(removed)::text from removed",
                (bucket_id, names),
            )
        ).fetchall()
    for version, _ in rows:
        remove_blob(state, version)
    return Response("[" + ",".join(r[1] for r in rows) + "]", media_type="application/json")


def _like_prefix(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


def _list_text(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StorageError(400, "InvalidRequest", f"{key} must be a string")
    return value


def _list_count(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    # bool is an int in Python; a JSON true is not a count.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StorageError(400, "InvalidRequest", f"{key} must be a non-negative integer")
    return value


async def list_objects(request: Request) -> Response:
    """Direct children of `prefix`: files with their rows, folders with null ids."""
    state = stack_state(request)
    claims = authenticate(request, state)
    bucket_id = request.path_params["bucket"]
    body = await json_object(request)
    prefix = _list_text(body, "prefix").strip("/")
    base = f"{prefix}/" if prefix else ""
    limit = _list_count(body, "limit", 100)
    offset = _list_count(body, "offset", 0)
    search = _list_text(body, "search")
    sort = body.get("sortBy") or {}
    if not isinstance(sort, dict):
        raise StorageError(400, "InvalidRequest", "sortBy must be an object")
    column = sort.get("column", "name")
    if column not in ("name", "created_at", "updated_at", "last_accessed_at"):
        raise StorageError(400, "InvalidRequest", f"cannot sort by {column!r}")
    descending = str(sort.get("order", "asc")).lower() == "desc"
    async with as_role(state, claims, "POST") as conn:
        rows = await (
            await conn.execute(
                "select name, to_json(o)::text from (select " + _OBJECT_COLUMNS + " from"
                " storage.objects where bucket_id = %s and name like %s) o",
                (bucket_id, _like_prefix(base)),
            )
        ).fetchall()
    entries: dict[str, dict[str, Any]] = {}
    for name, row_json in rows:
        rest_of_name = name[len(base) :]
        child, slash, _ = rest_of_name.partition("/")
        if search and not child.lower().startswith(search.lower()):
            continue
        if slash:
            entries.setdefault(
                child,
                {
                    "name": child,
                    "id": None,
                    "updated_at": None,
                    "created_at": None,
                    "last_accessed_at": None,
                    "metadata": None,
                },
            )
        else:
            row = json.loads(row_json)
            entries[child] = {
                "name": child,
                "id": row["id"],
                "updated_at": row["updated_at"],
                "created_at": row["created_at"],
                "last_accessed_at": row["last_accessed_at"],
                "metadata": row["metadata"],
            }
    items = sorted(
        entries.values(), key=lambda e: (e[column] is None, e[column] or ""), reverse=descending
    )
    return JSONResponse(items[offset : offset + limit])


def _signed_path(bucket_id: str, name: str, token: str) -> str:
    return f"/object/sign/{quote(bucket_id)}/{quote(name, safe='/')}?token={token}"


def _sign(state: StackState, bucket_id: str, name: str, expires_in: int) -> str:
    now = stack_jwt.now()
    payload = {"url": f"{bucket_id}/{name}", "iat": now, "exp": now + expires_in}
    return stack_jwt.encode(payload, state.config.jwt_secret)


def _expires_in(body: Any) -> int:
    try:
        value = int(body.get("expiresIn"))
    except (TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise StorageError(400, "InvalidRequest", "expiresIn must be a number of seconds") from exc
    if value < 1:
        raise StorageError(400, "InvalidRequest", "expiresIn must be at least 1 second")
    return value


async def sign(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    bucket_id = request.path_params["bucket"]
    name = validate_key(request.path_params["name"])
    body = await json_object(request)
    expires_in = _expires_in(body)
    await _visible_object(state, claims, bucket_id, name)
    token = _sign(state, bucket_id, name, expires_in)
    return JSONResponse({"signedURL": _signed_path(bucket_id, name, token)})


async def sign_many(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    bucket_id = request.path_params["bucket"]
    body = await json_object(request)
    expires_in = _expires_in(body)
    paths = body.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise StorageError(400, "InvalidRequest", '"paths" must be a list of object names')
    async with as_role(state, claims, "POST") as conn:
        rows = await (
            await conn.execute(
                "select name from storage.objects where bucket_id = %s and name = any(%s::text[])",
                (bucket_id, paths),
            )
        ).fetchall()
    visible = {r[0] for r in rows}
    result = []
    for path in paths:
        if path in visible:
            token = _sign(state, bucket_id, path, expires_in)
            result.append(
                {"error": None, "path": path, "signedURL": _signed_path(bucket_id, path, token)}
            )
        else:
            result.append(
                {
                    "error": "Either the object does not exist or you do not have access to it",
                    "path": path,
                    "signedURL": None,
                }
            )
    return JSONResponse(result)


async def signed_download(request: Request) -> Response:
    """No API key: the token alone grants this one object until it expires."""
    state = stack_state(request)
    bucket_id = request.path_params["bucket"]
    name = validate_key(request.path_params["name"])
    token = request.query_params.get("token")
    if not token:
        raise StorageError(400, "InvalidJWT", "Missing token")
    try:
        payload = stack_jwt.decode(token, state.config.jwt_secret)
    except stack_jwt.TokenError as exc:
        raise StorageError(
            400, "InvalidJWT", "jwt expired" if exc.expired else exc.message
        ) from exc
    if payload.get("url") != f"{bucket_id}/{name}":
        raise StorageError(400, "InvalidSignature", "The url does not match the signature")
    version, metadata = await _object_asas_service(state, bucket_id, name)
    return _file_response(state, version, metadata, name, request.query_params.get("download"))


# -- buckets -------------------------------------------------------------------------------------

_BUCKET_JSON = (
    "select coalesce(json_agg(b), '[]')::text from (select id, name,"
    " coalesce(owner::text, '') as owner, public,"
    " file_size_limit, allowed_mime_types, created_at, updated_at from storage.buckets {}) b"
)


async def list_buckets(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    async with as_role(state, claims, "GET") as conn:
        row = await (await conn.execute(_BUCKET_JSON.format("order by id"))).fetchone()
    return Response(row[0] if row else "[]", media_type="application/json")


async def get_bucket(request: Request) -> Response:
    state = stack_state(request)
    claims = authenticate(request, state)
    async with as_role(state, claims, "GET") as conn:
        row = await (
            await conn.execute(_BUCKET_JSON.format("where id = %s"), (request.path_params["id"],))
        ).fetchone()
    buckets = json.loads(row[0]) if row else []
    if not buckets:
        raise StorageError(404, "Bucket not found", "Bucket not found")
    return JSONResponse(buckets[0])


async def create_bucket(request: Request) -> Response:
    """Inserted as the caller: only roles the grants allow (service_role) can create buckets."""
    state = stack_state(request)
    claims = authenticate(request, state)
    body = await json_object(request)
    bucket_id = str(body.get("id") or body.get("name") or "")
    if not bucket_id or "/" in bucket_id or bucket_id in (".", ".."):
        raise StorageError(400, "InvalidRequest", "bucket id must be a plain name")
    size_limit = body.get("file_size_limit")
    if size_limit is not None and (isinstance(size_limit, bool) or not isinstance(size_limit, int)):
        raise StorageError(400, "InvalidRequest", "file_size_limit must be a number of bytes")
    mime_types = body.get("allowed_mime_types")
    if mime_types is not None and (
        not isinstance(mime_types, list) or not all(isinstance(m, str) for m in mime_types)
    ):
        raise StorageError(400, "InvalidRequest", "allowed_mime_types must be a list of types")
    async with as_role(state, claims, "POST") as conn:
        await conn.execute(
            "insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)"
            " values (%s, %s, %s, %s, %s)",
            (
                bucket_id,
                str(body.get("name") or bucket_id),
                bool(body.get("public")),
                size_limit,
                mime_types,
            ),
        )
    return JSONResponse({"name": bucket_id})


async def prepare(state: StackState) -> None:
    """Storage's part of starting the stack: the signing secret SQL-signed URLs need, and the
    folder the files go to."""
    async with state.admin_pool.connection() as conn:
        await install_signing_secret(
            conn, state.config.jwt_secret, f"{state.config.url}/storage/v1"
        )
    state.config.storage_dir.mkdir(parents=True, exist_ok=True)


async def install_signing_secret(
    conn: psycopg.AsyncConnection[Any], secret: str, storage_url: str
) -> None:
    """`public.grant_signed_url` signs in SQL with private.settings('storage_signing_secret');
    it must be the stack's JWT secret so the tokens it makes open these endpoints, and
    'storage_url' makes the URLs it returns absolute."""
    row = await (
        await conn.execute(
            "select count(*) filter (where column_name in ('key', 'value'))"
            " from information_schema.columns"
            " where table_schema = 'private' and table_name = 'settings'"
        )
    ).fetchone()
    if not row or row[0] != 2:
        return
    async with conn.transaction():
        for key, value in (("storage_signing_secret", secret), ("storage_url", storage_url)):
            await conn.execute(
                "insert into private.settings (key, value) values (%s, %s)"
                " on conflict (key) do update set value = excluded.value",
                (key, value),
            )


def routes() -> list[Route]:
    base = "/storage/v1"
    obj = "{bucket}/{name:path}"
    return [
        Route(f"{base}/bucket", handled(list_buckets), methods=["GET"]),
        Route(f"{base}/bucket", handled(create_bucket), methods=["POST"]),
        Route(f"{base}/bucket/{{id}}", handled(get_bucket), methods=["GET"]),
        Route(f"{base}/object/copy", handled(copy), methods=["POST"]),
        Route(f"{base}/object/sign/{obj}", handled(signed_download), methods=["GET"]),
        Route(f"{base}/object/sign/{obj}", handled(sign), methods=["POST"]),
        Route(f"{base}/object/sign/{{bucket}}", handled(sign_many), methods=["POST"]),
        Route(f"{base}/object/list/{{bucket}}", handled(list_objects), methods=["POST"]),
        Route(f"{base}/object/info/{obj}", handled(info), methods=["GET"]),
        Route(f"{base}/object/public/{obj}", handled(download_public), methods=["GET"]),
        Route(f"{base}/object/authenticated/{obj}", handled(download), methods=["GET"]),
        Route(f"{base}/object/{{bucket}}", handled(remove), methods=["DELETE"]),
        Route(f"{base}/object/{obj}", handled(download), methods=["GET"]),
        Route(f"{base}/object/{obj}", handled(upload), methods=["POST", "PUT"]),
        Route(f"{base}/object/{obj}", handled(remove), methods=["DELETE"]),
    ]
