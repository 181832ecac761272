"""Stored object metadata never breaks a download, and recordings and transcripts are evidence.

Through the official supabase client where it can say the thing (uploads, downloads, removes as
each role) and raw HTTP where the attack needs bytes the client would not send.
"""

from __future__ import annotations

import base64
import uuid

import httpx
import psycopg
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
ADMIN = "a0000000-0000-4000-8000-000000000004"
SCENARIO = "f0000000-0000-4000-8000-000000000001"


def _recording() -> str:
    return f"{DEMO_ORG}/{TRAINEE}/{uuid.uuid4()}.flac"


def _headers(stack, client) -> dict[str, str]:
    token = client.auth.get_session().access_token
    return {"apikey": stack.anon_key, "Authorization": f"Bearer {token}"}


def _multipart(stack, client, name: str, **form: str) -> httpx.Response:
    content_type = form.pop("content_type", "audio/flac")
    return httpx.post(
        f"{stack.url}/storage/v1/object/recordings/{name}",
        files={"file": ("a.flac", b"fLaC audio", content_type)},
        data=form,
        headers=_headers(stack, client),
    )


@pytest.fixture
def trainee(signed_in):
    return signed_in("trainee")


@pytest.fixture
def manager(signed_in):
    return signed_in("manager")


# -- metadata ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cache_control", ["3600\r\nX-Evil: 1", "3600\n", "max-age=1", "-5", "1" * 11, "ten"]
)
def test_cache_control_must_be_seconds(stack, trainee, db, cache_control):
    name = _recording()
    response = _multipart(stack, trainee, name, cacheControl=cache_control)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "InvalidRequest"
    assert "cacheControl" in response.json()["message"]
    stored = db.execute("select 1 from storage.objects where name = %s", (name,)).fetchone()
    assert stored is None


@pytest.mark.parametrize("content_type", ["audio", "audio/", "audio/fl ac", "audio/flac; x"])
def test_content_type_must_be_a_media_type(stack, trainee, content_type):
    response = httpx.post(
        f"{stack.url}/storage/v1/object/recordings/{_recording()}",
        content=b"fLaC audio",
        headers={**_headers(stack, trainee), "content-type": content_type},
    )
    assert response.status_code == 400, response.text
    assert "media type" in response.json()["message"] or "parameter" in response.json()["message"]


def test_resumable_content_type_with_crlf_is_refused(stack, trainee):
    def b64(value: str) -> str:
        return base64.b64encode(value.encode()).decode()

    metadata = ",".join(
        f"{key} {b64(value)}"
        for key, value in {
            "bucketName": "recordings",
            "objectName": _recording(),
            "contentType": "audio/flac\r\nX-Evil: 1",
        }.items()
    )
    response = httpx.post(
        f"{stack.url}/storage/v1/upload/resumable",
        headers={
            **_headers(stack, trainee),
            "Tus-Resumable": "1.0.0",
            "Upload-Length": "10",
            "Upload-Metadata": metadata,
        },
    )
    assert response.status_code == 400, response.text


def test_content_type_case_is_normalised(stack, trainee, manager, db):
    name = _recording()
    trainee.storage.from_("recordings").upload(name, b"fLaC audio", {"content-type": "Audio/FLAC"})
    stored = db.execute(
        "select metadata ->> 'mimetype' from storage.objects where name = %s", (name,)
    ).fetchone()
    assert stored == ("audio/flac",)
    url = manager.storage.from_("recordings").create_signed_url(name, 60)["signedURL"]
    assert httpx.get(url).headers["content-type"] == "audio/flac"


def test_uploader_metadata_cannot_replace_the_served_headers(stack, trainee, db):
    name = _recording()
    response = _multipart(
        stack,
        trainee,
        name,
        metadata='{"mimetype": "text/html", "cacheControl": "max-age=1\\r\\nX: y", "take": 2}',
    )
    assert response.status_code == 200, response.text
    stored = db.execute("select metadata from storage.objects where name = %s", (name,)).fetchone()[
        0
    ]
    assert stored["mimetype"] == "audio/flac" and stored["cacheControl"] == "max-age=3600"
    assert stored["take"] == 2  # the uploader's own keys are kept


def test_a_stored_value_that_fails_the_checks_is_never_emitted(stack, trainee, manager, db):
    """A row written before these checks (or by hand) with CR/LF in its metadata: every
    download still answers, with safe headers, and the bytes are intact."""
    name = _recording()
    trainee.storage.from_("recordings").upload(name, b"fLaC audio", {"content-type": "audio/flac"})
    db.execute(
        "update storage.objects set metadata = metadata || jsonb_build_object("
        " 'cacheControl', E'max-age=1\\r\\nX-Evil: 1', 'mimetype', E'audio/flac\\r\\nX-Evil: 2')"
        " where name = %s",
        (name,),
    )
    assert manager.storage.from_("recordings").download(name) == b"fLaC audio"
    url = manager.storage.from_("recordings").create_signed_url(name, 60)["signedURL"]
    signed = httpx.get(url)
    assert signed.status_code == 200 and signed.content == b"fLaC audio"
    assert signed.headers["cache-control"] == "no-cache"
    assert signed.headers["content-type"] == "application/octet-stream"
    assert "x-evil" not in signed.headers


# -- evidence ------------------------------------------------------------------------------------


def test_trainee_cannot_overwrite_a_stored_recording(trainee, manager):
    name = _recording()
    files = trainee.storage.from_("recordings")
    files.upload(name, b"the real call", {"content-type": "audio/flac", "upsert": "true"})
    # The same bytes again (a retry after a lost answer) is fine ...
    files.upload(name, b"the real call", {"content-type": "audio/flac", "upsert": "true"})
    # ... other bytes, or the same bytes as another type, are not.
    for data, kind in ((b"silence", "audio/flac"), (b"the real call", "audio/wav")):
        with pytest.raises(StorageApiError) as refused:
            files.upload(name, data, {"content-type": kind, "upsert": "true"})
        assert refused.value.status in (403, "403")
        assert "evidence" in refused.value.message
    assert manager.storage.from_("recordings").download(name) == b"the real call"


def test_trainee_cannot_remove_a_recording(trainee, db):
    name = _recording()
    trainee.storage.from_("recordings").upload(name, b"call", {"content-type": "audio/flac"})
    assert trainee.storage.from_("recordings").remove([name]) == []
    assert db.execute("select 1 from storage.objects where name = %s", (name,)).fetchone()


def test_admin_removal_is_audited_and_the_audit_is_append_only(trainee, signed_in, db):
    name = _recording()
    trainee.storage.from_("recordings").upload(name, b"call", {"content-type": "audio/flac"})
    removed = signed_in("admin").storage.from_("recordings").remove([name])
    assert [r["name"] for r in removed] == [name]
    audit = db.execute(
        "select action, org_id::text, actor_id::text, actor_role, object_metadata ->> 'size'"
        " from private.evidence_audit where object_name = %s",
        (name,),
    ).fetchall()
    assert audit == [("removed", DEMO_ORG, ADMIN, "authenticated", "4")]
    # Not even the database owner rewrites history.
    for statement in (
        "update private.evidence_audit set actor_id = null where object_name = %s",
        "delete from private.evidence_audit where object_name = %s",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            db.execute(statement, (name,))


def test_an_uploaded_attempt_keeps_its_files(trainee, db):
    recording = _recording()
    attempt = {
        "id": str(uuid.uuid4()),
        "org_id": DEMO_ORG,
        "user_id": TRAINEE,
        "scenario_id": SCENARIO,
        "started_at": "2026-11-20T10:00:00+00:00",
        "status": "uploaded",
        "recording_path": recording,
    }
    trainee.table("scenario_attempts").upsert(attempt).execute()
    trainee.table("scenario_attempts").upsert(attempt).execute()  # a re-push changes nothing
    with pytest.raises(APIError) as refused:
        trainee.table("scenario_attempts").update({"recording_path": _recording()}).eq(
            "id", attempt["id"]
        ).execute()
    assert refused.value.code == "42501"
    stored = db.execute(
        "select recording_path from scenario_attempts where id = %s", (attempt["id"],)
    ).fetchone()
    assert stored == (recording,)
