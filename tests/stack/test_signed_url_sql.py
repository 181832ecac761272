"""`grant_signed_url` over `rpc`: the URL the database signs opens the object on the stack.

The product buckets and their policies come from the storage migration, so these tests use the
real `recordings` and `exports` buckets with the demo org's users.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from postgrest.exceptions import APIError
from storage3.exceptions import StorageApiError

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
GLOBEX_ORG = "d0000000-0000-4000-8000-000000000002"


def _user_id(client) -> str:
    return client.auth.get_user().user.id


def _upload_recording(client, org: str = DEMO_ORG) -> str:
    name = f"{org}/{_user_id(client)}/{uuid.uuid4()}.flac"
    client.storage.from_("recordings").upload(name, b"fLaC-bytes", {"content-type": "audio/flac"})
    return name


def test_a_trainee_plays_back_their_own_recording(signed_in):
    trainee = signed_in("trainee")
    name = _upload_recording(trainee)
    url = trainee.rpc("grant_signed_url", {"path": f"recordings/{name}", "ttl": 60}).execute().data
    assert url.startswith("http://127.0.0.1")
    response = httpx.get(url)  # the token alone opens it: no API key, no session
    assert response.status_code == 200 and response.content == b"fLaC-bytes"


def test_a_manager_plays_back_a_trainees_recording(signed_in):
    name = _upload_recording(signed_in("trainee"))
    manager = signed_in("manager")
    url = manager.rpc("grant_signed_url", {"path": f"recordings/{name}", "ttl": 60}).execute()
    assert httpx.get(url.data).content == b"fLaC-bytes"


def test_another_org_gets_no_url(signed_in):
    name = _upload_recording(signed_in("trainee"))
    with pytest.raises(APIError) as error:
        signed_in("globex_manager").rpc(
            "grant_signed_url", {"path": f"recordings/{name}", "ttl": 60}
        ).execute()
    assert error.value.code == "42501"


def test_a_bad_path_is_a_400_with_the_reason(signed_in):
    with pytest.raises(APIError) as error:
        signed_in("trainee").rpc("grant_signed_url", {"path": "../etc/passwd", "ttl": 60}).execute()
    assert error.value.code == "22023" and "invalid storage path" in error.value.message


def test_a_trainee_cannot_upload_into_someone_elses_folder(signed_in):
    trainee = signed_in("trainee")
    name = f"{GLOBEX_ORG}/{_user_id(trainee)}/{uuid.uuid4()}.flac"
    with pytest.raises(StorageApiError):
        trainee.storage.from_("recordings").upload(name, b"x", {"content-type": "audio/flac"})


def test_the_recordings_bucket_refuses_non_audio(signed_in):
    trainee = signed_in("trainee")
    name = f"{DEMO_ORG}/{_user_id(trainee)}/{uuid.uuid4()}.exe"
    with pytest.raises(StorageApiError):
        trainee.storage.from_("recordings").upload(
            name, b"MZ", {"content-type": "application/x-msdownload"}
        )
