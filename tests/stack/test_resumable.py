"""/storage/v1/upload/resumable: the tus 1.0 protocol as hosted Storage speaks it, over plain HTTP.

Creation, offsets, appends, termination and expiry; the storage policies deciding who may create
an upload; bucket limits at creation and at completion; a finished upload stored exactly as a
normal one (downloaded through the official client). The sync client's use of it, with faults
and a restart, is in tests/sync/test_resumable_uploads.py.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
from stack_fixtures import DEMO_PASSWORD, EMAILS, RunningStack

from server.stack.config import DEFAULT_FILE_SIZE_LIMIT

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
TRAINEE2 = "a0000000-0000-4000-8000-000000000002"
BUCKET = "resumable-test"
SIZE_LIMIT = 256 * 1024
CHUNK = 64 * 1024

# A bucket of this module's own (its limits are changed mid-upload), with the recordings
# bucket's rule: a member writes only {org}/{own user id}/...
POLICIES = f"""
insert into storage.buckets (id, name, file_size_limit, allowed_mime_types)
values ('{BUCKET}', '{BUCKET}', {SIZE_LIMIT}, array['audio/*'])
on conflict (id) do nothing;
create policy resumable_test_select on storage.objects for select to authenticated
  using (bucket_id = '{BUCKET}'
         and (storage.foldername(name))[1] = (select private.current_org_id())::text
         and (storage.foldername(name))[2] = (select auth.uid())::text);
create policy resumable_test_insert on storage.objects for insert to authenticated
  with check (bucket_id = '{BUCKET}'
              and (storage.foldername(name))[1] = (select private.current_org_id())::text
              and (storage.foldername(name))[2] = (select auth.uid())::text);
create policy resumable_test_update on storage.objects for update to authenticated
  using (bucket_id = '{BUCKET}'
         and (storage.foldername(name))[1] = (select private.current_org_id())::text
         and (storage.foldername(name))[2] = (select auth.uid())::text);
-- Writes of a stored file (its metadata has a size; the policy dry run's has none) fail with a
-- serialization failure while its name is listed: a transient database error at completion.
create table public.resumable_test_failing (name text primary key);
create function public.resumable_test_fail() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.metadata ? 'size'
     and exists (select 1 from public.resumable_test_failing f where f.name = new.name) then
    raise exception 'injected failure' using errcode = '40001';
  end if;
  return new;
end $$;
create trigger resumable_test_fail before insert or update on storage.objects
  for each row when (new.bucket_id = '{BUCKET}') execute function public.resumable_test_fail();
"""


@pytest.fixture(scope="module")
def bucket(stack: RunningStack) -> str:
    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_policies where policyname = 'resumable_test_select'"
        ).fetchone()
        if not exists:
            conn.execute(POLICIES)
    return BUCKET


class Tus:
    """A tus client written out request by request, as one seed user."""

    def __init__(self, stack: RunningStack, token: str) -> None:
        self.stack = stack
        self.http = httpx.Client(
            base_url=stack.url,
            headers={
                "apikey": stack.anon_key,
                "Authorization": f"Bearer {token}",
                "Tus-Resumable": "1.0.0",
            },
        )

    def create(
        self,
        name: str,
        length: int,
        *,
        bucket: str = BUCKET,
        content_type: str = "audio/flac",
        upsert: bool = True,
    ) -> httpx.Response:
        meta = {"bucketName": bucket, "objectName": name, "contentType": content_type}
        encoded = ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in meta.items())
        headers = {"Upload-Length": str(length), "Upload-Metadata": encoded}
        if upsert:
            headers["x-upsert"] = "true"
        return self.http.post("/storage/v1/upload/resumable", headers=headers)

    def created(self, name: str, length: int, **kwargs: object) -> str:
        response = self.create(name, length, **kwargs)  # type: ignore[arg-type]
        assert response.status_code == 201, response.text
        return response.headers["Location"]

    def head(self, url: str) -> httpx.Response:
        return self.http.head(url)

    def patch(self, url: str, offset: int, data: bytes) -> httpx.Response:
        headers = {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"}
        return self.http.patch(url, content=data, headers=headers)

    def send_all(self, url: str, data: bytes, start: int = 0) -> httpx.Response:
        response = None
        for offset in range(start, len(data), CHUNK):
            response = self.patch(url, offset, data[offset : offset + CHUNK])
            assert response.status_code == 204, response.text
            assert response.headers["Upload-Offset"] == str(min(offset + CHUNK, len(data)))
        assert response is not None
        return response


@pytest.fixture(scope="module")
def tokens(stack: RunningStack) -> Callable[[str], str]:
    """Access tokens of seed users, one password sign-in per user for the module."""
    cache: dict[str, str] = {}

    def token(key: str) -> str:
        if key not in cache:
            response = httpx.post(
                f"{stack.url}/auth/v1/token?grant_type=password",
                headers={"apikey": stack.anon_key},
                json={"email": EMAILS[key], "password": DEMO_PASSWORD},
            )
            response.raise_for_status()
            cache[key] = response.json()["access_token"]
        return cache[key]

    return token


@pytest.fixture
def tus(stack: RunningStack, tokens: Callable[[str], str], bucket: str) -> Iterator[Tus]:
    client = Tus(stack, tokens("trainee"))
    yield client
    client.http.close()


def _name(user: str = TRAINEE) -> str:
    return f"{DEMO_ORG}/{user}/{uuid.uuid4().hex}.flac"


def _partials(stack: RunningStack) -> set[str]:
    root = stack.config.storage_dir / "resumable"
    return {p.name for p in root.iterdir()} if root.exists() else set()


def test_options_describe_the_server(tus):
    response = tus.http.options("/storage/v1/upload/resumable", headers={"Tus-Resumable": ""})
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {
        "creation",
        "termination",
        "expiration",
    }
    assert int(response.headers["Tus-Max-Size"]) == DEFAULT_FILE_SIZE_LIMIT


def test_an_upload_in_chunks_is_stored_byte_for_byte(stack, tus, signed_in):
    data = os.urandom(3 * CHUNK + 123)
    name = _name()
    url = tus.created(name, len(data))
    assert url.startswith(f"{stack.url}/storage/v1/upload/resumable/")
    head = tus.head(url)
    assert head.status_code == 200
    assert (head.headers["Upload-Offset"], head.headers["Upload-Length"]) == ("0", str(len(data)))
    assert head.headers["Cache-Control"] == "no-store"
    assert head.headers["Tus-Resumable"] == "1.0.0"

    tus.send_all(url, data[: 2 * CHUNK])
    assert tus.head(url).headers["Upload-Offset"] == str(2 * CHUNK)
    files = signed_in("trainee").storage.from_(BUCKET)
    assert not files.exists(name), "no object before the last byte"
    tus.send_all(url, data, start=2 * CHUNK)

    assert files.download(name) == data
    info = files.info(name)
    assert info["metadata"]["size"] == len(data)
    assert info["owner"] == TRAINEE
    listed = {e["name"]: e for e in files.list(f"{DEMO_ORG}/{TRAINEE}")}
    metadata = listed[name.rsplit("/", 1)[1]]["metadata"]
    assert metadata["mimetype"] == "audio/flac"
    assert metadata["eTag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert metadata["cacheControl"] == "max-age=3600"
    done = tus.head(url)
    assert done.headers["Upload-Offset"] == done.headers["Upload-Length"] == str(len(data))


def test_a_wrong_offset_is_409_and_changes_nothing(tus):
    url = tus.created(_name(), 2 * CHUNK)
    tus.send_all(url, os.urandom(CHUNK))
    for offset in (0, CHUNK + 1):
        conflict = tus.patch(url, offset, b"x" * 10)
        assert conflict.status_code == 409
        assert conflict.json()["error"] == "OffsetMismatch"
        assert conflict.headers["Tus-Resumable"] == "1.0.0"
    assert tus.head(url).headers["Upload-Offset"] == str(CHUNK)


def test_bytes_past_the_declared_length_are_refused(tus):
    url = tus.created(_name(), 100)
    refused = tus.patch(url, 0, b"x" * 101)
    assert refused.status_code == 400
    assert tus.head(url).headers["Upload-Offset"] == "0"


def test_requests_without_tus_resumable_or_with_the_wrong_body_type(tus):
    missing = tus.http.post(
        "/storage/v1/upload/resumable", headers={"Tus-Resumable": "", "Upload-Length": "1"}
    )
    assert missing.status_code == 412
    assert missing.headers["Tus-Version"] == "1.0.0"
    url = tus.created(_name(), 10)
    wrong_type = tus.http.patch(
        url, content=b"x", headers={"Upload-Offset": "0", "Content-Type": "audio/flac"}
    )
    assert wrong_type.status_code == 415


def test_a_body_cut_short_is_dropped_and_the_offset_stays(stack, tus):
    url = tus.created(_name(), 2 * CHUNK)
    tus.send_all(url, os.urandom(CHUNK))
    path = urlsplit(url).path
    host, port = urlsplit(stack.url).hostname, urlsplit(stack.url).port
    with socket.create_connection((host, port)) as raw:
        raw.sendall(
            (
                f"PATCH {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"apikey: {stack.anon_key}\r\n{_auth(tus)}\r\nTus-Resumable: 1.0.0\r\n"
                f"Upload-Offset: {CHUNK}\r\nContent-Type: application/offset+octet-stream\r\n"
                f"Content-Length: {CHUNK}\r\n\r\n"
            ).encode()
            + b"x" * (CHUNK // 2)
        )
    # Until the server notices the closed connection, the upload is busy (423); then the
    # half-chunk is gone and the next append starts where the last whole chunk ended.
    data = os.urandom(2 * CHUNK)
    retried = []

    def append() -> bool:
        retried.append(tus.patch(url, CHUNK, data[CHUNK:]))
        return retried[-1].status_code != 423

    assert _eventually(append)
    assert retried[-1].status_code == 204, retried[-1].text
    assert tus.head(url).headers["Upload-Offset"] == str(2 * CHUNK)


def _auth(tus: Tus) -> str:
    return f"Authorization: {tus.http.headers['Authorization']}"


def _eventually(check: Callable[[], bool], tries: int = 50) -> bool:
    for _ in range(tries):
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_termination_removes_the_partial_data(stack, tus):
    url = tus.created(_name(), 2 * CHUNK)
    tus.send_all(url, os.urandom(CHUNK))
    upload_id = url.rsplit("/", 1)[1]
    assert upload_id in _partials(stack)
    assert tus.http.delete(url).status_code == 204
    assert upload_id not in _partials(stack)
    assert tus.head(url).status_code == 404
    assert tus.patch(url, CHUNK, b"x").status_code == 404


def test_a_finished_upload_cannot_be_terminated(tus):
    url = tus.created(_name(), 10)
    tus.send_all(url, b"0123456789")
    assert tus.http.delete(url).status_code == 400


def test_another_org_cannot_create_an_upload_in_your_folder(stack, tokens, bucket):
    globex = Tus(stack, tokens("globex_trainee"))
    for target in (bucket, "recordings"):
        refused = globex.create(_name(), 10, bucket=target)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "Unauthorized"
    other_user = Tus(stack, tokens("trainee2"))  # same org, someone else's folder
    assert other_user.create(_name(TRAINEE), 10, bucket="recordings").status_code == 403
    assert other_user.create(_name(TRAINEE2), 10, bucket="recordings").status_code == 201


def test_only_the_creator_sees_or_continues_an_upload(stack, tus, tokens):
    url = tus.created(_name(), 10)
    for key in ("trainee2", "globex_trainee"):
        other = Tus(stack, tokens(key))
        assert other.head(url).status_code == 404
        assert other.patch(url, 0, b"0123456789").status_code == 404
        assert other.http.delete(url).status_code == 404
    assert tus.head(url).headers["Upload-Offset"] == "0"


def test_anon_cannot_create_uploads(stack, bucket):
    anon = Tus(stack, stack.anon_key)
    assert anon.create(_name(), 10, bucket="recordings").status_code == 403


def test_without_upsert_an_existing_object_is_a_duplicate(tus):
    name = _name()
    tus.send_all(tus.created(name, 10), b"0123456789")
    duplicate = tus.create(name, 10, upsert=False)
    assert duplicate.status_code == 409
    url = tus.created(name, 4)  # with upsert the object is replaced
    tus.send_all(url, b"abcd")


def test_bucket_limits_apply_at_creation(tus):
    too_large = tus.create(_name(), SIZE_LIMIT + 1)
    assert too_large.status_code == 413
    assert too_large.json()["message"] == "The object exceeded the maximum allowed size"
    wrong_type = tus.create(_name(), 10, content_type="text/plain")
    assert wrong_type.status_code == 415
    assert wrong_type.json() == {
        "statusCode": "415",
        "error": "invalid_mime_type",
        "message": "mime type text/plain is not supported",
    }
    global_limit = tus.create(_name(), DEFAULT_FILE_SIZE_LIMIT + 1, bucket="recordings")
    assert global_limit.status_code == 413
    assert tus.create(_name(), 10, bucket="no-such-bucket").status_code == 404


def test_limits_changed_mid_upload_refuse_the_file_at_completion(stack, tus, db):
    url = tus.created(_name(), 2 * CHUNK)
    tus.send_all(url, os.urandom(CHUNK))
    db.execute(
        "update storage.buckets set allowed_mime_types = array['video/*'] where id = %s", (BUCKET,)
    )
    try:
        refused = tus.patch(url, CHUNK, os.urandom(CHUNK))
    finally:
        db.execute(
            "update storage.buckets set allowed_mime_types = array['audio/*'] where id = %s",
            (BUCKET,),
        )
    assert refused.status_code == 415
    assert refused.json()["error"] == "invalid_mime_type"
    assert tus.head(url).status_code == 404, "a refused upload is dropped"
    assert url.rsplit("/", 1)[1] not in _partials(stack)


def test_a_failed_completion_takes_the_last_chunk_back(tus, db, signed_in):
    name = _name()
    data = os.urandom(2 * CHUNK)
    url = tus.created(name, len(data))
    tus.send_all(url, data[:CHUNK])
    db.execute("insert into public.resumable_test_failing (name) values (%s)", (name,))
    try:
        failed = tus.patch(url, CHUNK, data[CHUNK:])
    finally:
        db.execute("delete from public.resumable_test_failing where name = %s", (name,))
    assert failed.status_code == 500, failed.text
    assert tus.head(url).headers["Upload-Offset"] == str(CHUNK), "the last chunk was taken back"
    tus.send_all(url, data, start=CHUNK)
    assert signed_in("trainee").storage.from_(BUCKET).download(name) == data


def test_uploads_expire(stack, tus, monkeypatch):
    monkeypatch.setattr(stack.config, "resumable_ttl_s", 0)
    url = tus.created(_name(), 10)
    expired = tus.head(url)
    assert expired.status_code == 410
    assert tus.head(url).status_code == 404, "an expired upload is removed"
    old = tus.created(_name(), 10).rsplit("/", 1)[1]
    tus.created(_name(), 10)
    assert old not in _partials(stack), "creating an upload sweeps expired ones"


def test_metadata_and_headers_are_validated(tus):
    bad = [
        {"Upload-Length": "-1", "Upload-Metadata": "bucketName cmVzdW1hYmxlLXRlc3Q="},
        {"Upload-Length": "10", "Upload-Metadata": "bucketName !!!"},
        {"Upload-Length": "10", "Upload-Metadata": ""},
        {"Upload-Defer-Length": "1", "Upload-Metadata": "bucketName cmVzdW1hYmxlLXRlc3Q="},
    ]
    for headers in bad:
        response = tus.http.post("/storage/v1/upload/resumable", headers=headers)
        assert response.status_code == 400, (headers, response.text)
    traversal = tus.create(f"{DEMO_ORG}/{TRAINEE}/../x.flac", 10)
    assert traversal.status_code == 400
    assert traversal.json()["error"] == "InvalidKey"
    assert tus.head("/storage/v1/upload/resumable/not-a-uuid").status_code == 404
