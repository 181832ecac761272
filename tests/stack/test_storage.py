"""/storage/v1 through the official supabase client: round trip, RLS, limits, signed URLs."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import jwt as pyjwt
import pytest
from storage3.exceptions import StorageApiError

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
GLOBEX_ORG = "d0000000-0000-4000-8000-000000000002"
BUCKET = "stack-test"
SIZE_LIMIT = 1024

# Test-only policies in the shape the storage migration uses: an org's files live under a
# folder named by its id, and only that org's members may touch them.
POLICIES = f"""
insert into storage.buckets (id, name, file_size_limit, allowed_mime_types)
values ('{BUCKET}', '{BUCKET}', {SIZE_LIMIT}, array['text/*', 'audio/*', 'application/json'])
on conflict (id) do nothing;
create policy stack_test_select on storage.objects for select to authenticated
  using (bucket_id = '{BUCKET}'
         and (storage.foldername(name))[1] = (select private.current_org_id())::text);
create policy stack_test_insert on storage.objects for insert to authenticated
  with check (bucket_id = '{BUCKET}'
              and (storage.foldername(name))[1] = (select private.current_org_id())::text);
create policy stack_test_update on storage.objects for update to authenticated
  using (bucket_id = '{BUCKET}'
         and (storage.foldername(name))[1] = (select private.current_org_id())::text);
create policy stack_test_delete on storage.objects for delete to authenticated
  using (bucket_id = '{BUCKET}'
         and (storage.foldername(name))[1] = (select private.current_org_id())::text);
"""


@pytest.fixture(scope="module")
def bucket(stack):
    import psycopg

    with psycopg.connect(stack.dsn, autocommit=True) as conn:
        exists = conn.execute(
            "select 1 from pg_policies where policyname = 'stack_test_select'"
        ).fetchone()
        if not exists:
            conn.execute(POLICIES)
    return BUCKET


@pytest.fixture
def manager(signed_in, bucket):
    return signed_in("manager")


def _name(org: str = DEMO_ORG, ext: str = "txt") -> str:
    return f"{org}/{uuid.uuid4().hex}.{ext}"


def _blobs(stack) -> set[Path]:
    root = stack.config.storage_dir / "objects"
    return set(root.iterdir()) if root.exists() else set()


def test_round_trip_list_info_and_remove(stack, manager, bucket):
    name = _name()
    files = manager.storage.from_(bucket)
    before = _blobs(stack)
    uploaded = files.upload(name, b"hello coachdesk", {"content-type": "text/plain"})
    assert uploaded.full_path == f"{bucket}/{name}"
    assert files.download(name) == b"hello coachdesk"
    listed = files.list(DEMO_ORG)
    entry = next(e for e in listed if e["name"] == name.split("/")[1])
    assert entry["metadata"]["size"] == len(b"hello coachdesk")
    assert entry["metadata"]["mimetype"] == "text/plain"
    assert files.exists(name)
    assert len(_blobs(stack) - before) == 1
    removed = files.remove([name])
    assert [r["name"] for r in removed] == [name]
    assert not files.exists(name)
    assert _blobs(stack) == before  # the bytes went with the row
    with pytest.raises(StorageApiError) as missing:
        files.download(name)
    assert missing.value.status == "404"


def test_duplicate_needs_upsert(manager, bucket):
    name = _name()
    files = manager.storage.from_(bucket)
    files.upload(name, b"one", {"content-type": "text/plain"})
    with pytest.raises(StorageApiError) as duplicate:
        files.upload(name, b"two", {"content-type": "text/plain"})
    assert duplicate.value.status == "409"
    files.upload(name, b"two", {"content-type": "text/plain", "upsert": "true"})
    assert files.download(name) == b"two"
    files.update(name, b"three", {"content-type": "text/plain"})
    assert files.download(name) == b"three"


def test_list_shows_folders_and_files(manager, bucket):
    files = manager.storage.from_(bucket)
    folder = f"{DEMO_ORG}/folder-{uuid.uuid4().hex[:6]}"
    files.upload(f"{folder}/a.txt", b"a", {"content-type": "text/plain"})
    files.upload(f"{folder}/sub/b.txt", b"b", {"content-type": "text/plain"})
    entries = {e["name"]: e for e in files.list(folder)}
    assert set(entries) == {"a.txt", "sub"}
    assert entries["sub"]["id"] is None and entries["a.txt"]["id"]


def test_other_org_cannot_read_write_or_list(signed_in, manager, bucket):
    name = _name()
    manager.storage.from_(bucket).upload(name, b"private", {"content-type": "text/plain"})
    globex = signed_in("globex_manager").storage.from_(bucket)
    with pytest.raises(StorageApiError) as read:
        globex.download(name)
    assert read.value.status == "404"
    with pytest.raises(StorageApiError) as write:
        globex.upload(_name(DEMO_ORG), b"intruder", {"content-type": "text/plain"})
    assert write.value.status == "403"
    with pytest.raises(StorageApiError) as overwrite:
        globex.upload(name, b"intruder", {"content-type": "text/plain", "upsert": "true"})
    assert overwrite.value.status == "403"
    assert globex.list(DEMO_ORG) == []
    assert globex.remove([name]) == []
    assert manager.storage.from_(bucket).download(name) == b"private"
    with pytest.raises(StorageApiError):
        globex.create_signed_url(name, 60)


def test_copy_makes_an_independent_object_under_the_callers_policies(stack, signed_in, bucket):
    """POST /object/copy as hosted Storage: the bytes and type copied, the copy its own file
    (removing the source leaves it), a taken destination 409, another org's source 404 and
    another org's destination 403."""
    files = signed_in("manager").storage.from_(bucket)
    source, target = _name(), _name()
    files.upload(source, b"briefing notes", {"content-type": "text/plain"})
    before = _blobs(stack)
    assert files.copy(source, target)["Key"] == f"{bucket}/{target}"
    assert len(_blobs(stack) - before) == 1
    files.remove([source])
    assert files.download(target) == b"briefing notes"
    entry = next(e for e in files.list(DEMO_ORG) if e["name"] == target.split("/")[1])
    assert entry["metadata"]["mimetype"] == "text/plain"
    with pytest.raises(StorageApiError) as taken:
        files.copy(target, target)
    assert taken.value.status == "409"
    globex = signed_in("globex_manager").storage.from_(bucket)
    with pytest.raises(StorageApiError) as unseen:
        globex.copy(target, _name(GLOBEX_ORG))
    assert unseen.value.status == "404"
    with pytest.raises(StorageApiError) as foreign:
        files.copy(target, _name(GLOBEX_ORG))
    assert foreign.value.status == "403"
    with pytest.raises(StorageApiError) as missing:
        files.copy(_name(), _name())
    assert missing.value.status == "404"


def test_anon_cannot_upload(client, bucket):
    with pytest.raises(StorageApiError) as refused:
        client.storage.from_(bucket).upload(_name(), b"x", {"content-type": "text/plain"})
    assert refused.value.status == "403"


def test_oversize_upload_is_413(stack, manager, bucket):
    before = _blobs(stack)
    with pytest.raises(StorageApiError) as too_big:
        manager.storage.from_(bucket).upload(
            _name(), b"x" * (SIZE_LIMIT + 1), {"content-type": "text/plain"}
        )
    assert too_big.value.status == "413"
    assert "maximum allowed size" in too_big.value.message
    assert _blobs(stack) == before
    manager.storage.from_(bucket).upload(_name(), b"x" * SIZE_LIMIT, {"content-type": "text/plain"})


def test_disallowed_mime_type(manager, bucket):
    with pytest.raises(StorageApiError) as refused:
        manager.storage.from_(bucket).upload(
            _name(ext="exe"), b"MZ", {"content-type": "application/x-msdownload"}
        )
    assert refused.value.status == "415"


@pytest.mark.parametrize(
    "path",
    [
        f"{DEMO_ORG}/%2E%2E/%2E%2E/escape.txt",
        f"{DEMO_ORG}/a/..%2F..%2Fescape.txt",
        f"{DEMO_ORG}//x.txt",
        f"{DEMO_ORG}/a%5C..%5Cx.txt",
        f"{DEMO_ORG}/a%00.txt",
    ],
)
def test_path_traversal_is_rejected(stack, manager, bucket, path, tmp_path):
    token = manager.auth.get_session().access_token
    response = httpx.post(
        f"{stack.url}/storage/v1/object/{bucket}/{path}",
        content=b"escape",
        headers={
            "apikey": stack.anon_key,
            "Authorization": f"Bearer {token}",
            "Content-Type": "text/plain",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "InvalidKey"
    assert not any(stack.config.data_dir.rglob("escape*"))


def test_signed_url_round_trip_and_expiry(stack, manager, bucket):
    name = _name()
    files = manager.storage.from_(bucket)
    files.upload(name, b"signed bytes", {"content-type": "text/plain"})
    signed = files.create_signed_url(name, 60)["signedURL"]
    response = httpx.get(signed)  # no apikey, no Authorization: the token is enough
    assert response.status_code == 200 and response.content == b"signed bytes"
    short = files.create_signed_url(name, 1)["signedURL"]
    time.sleep(2.1)
    expired = httpx.get(short)
    assert expired.status_code == 400
    assert expired.json() == {"statusCode": "400", "error": "InvalidJWT", "message": "jwt expired"}


def test_signed_token_is_bound_to_one_object(stack, manager, bucket):
    files = manager.storage.from_(bucket)
    first, second = _name(), _name()
    files.upload(first, b"first", {"content-type": "text/plain"})
    files.upload(second, b"second", {"content-type": "text/plain"})
    token = httpx.URL(files.create_signed_url(first, 60)["signedURL"]).params["token"]
    other = httpx.get(
        f"{stack.url}/storage/v1/object/sign/{bucket}/{second}", params={"token": token}
    )
    assert other.status_code == 400
    forged = pyjwt.encode({"url": f"{bucket}/{second}", "exp": int(time.time()) + 60}, "wrong")
    assert (
        httpx.get(
            f"{stack.url}/storage/v1/object/sign/{bucket}/{second}", params={"token": forged}
        ).status_code
        == 400
    )


def test_create_signed_urls_reports_missing_objects(manager, bucket):
    files = manager.storage.from_(bucket)
    present, absent = _name(), _name()
    files.upload(present, b"here", {"content-type": "text/plain"})
    results = {r["path"]: r for r in files.create_signed_urls([present, absent], 60)}
    assert (
        results[present]["error"] is None
        and httpx.get(results[present]["signedURL"]).content == b"here"
    )
    assert results[absent]["signedURL"] is None and results[absent]["error"]


def test_service_role_creates_and_lists_buckets(service_client, signed_in):
    bucket_id = f"svc-{uuid.uuid4().hex[:6]}"
    service_client.storage.create_bucket(bucket_id, options={"public": False})
    assert bucket_id in {b.id for b in service_client.storage.list_buckets()}
    with pytest.raises(StorageApiError):
        signed_in("admin").storage.create_bucket(f"user-{uuid.uuid4().hex[:6]}")
