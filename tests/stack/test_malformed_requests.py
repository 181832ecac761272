"""Malformed requests get a 4xx in the error shape of the API they were sent to, never a 500,
and the server keeps answering on the same keep-alive connection.

The named attacks first (each one answered with a 500 and a traceback before), then a
property-based fuzz with hypothesis over REST filters and bodies, RPC bodies, storage and auth.
Nothing here writes: REST writes go as anon (refused by grants and RLS) or filter on an id
that matches no row; the auth fuzz uses an account of its own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.db.auth_users import NewUser, create_user

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
DEEP = 5000  # far past Python's recursion limit and the stack's nesting cap
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _deep_json(depth: int = DEEP) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.fixture
def http(stack) -> Iterator[httpx.Client]:
    """One keep-alive connection for a whole test, as the supabase client uses it."""
    with httpx.Client(base_url=stack.url, timeout=30) as client:
        yield client


@pytest.fixture
def trainee_headers(stack, signed_in) -> dict[str, str]:
    token = signed_in("trainee").auth.get_session().access_token
    return {"apikey": stack.anon_key, "Authorization": f"Bearer {token}"}


def _shape(path: str, body: Any) -> bool:
    """The API's own error shape: PostgREST, GoTrue or Storage."""
    if not isinstance(body, dict):
        return False
    if path.startswith("/rest/"):
        return {"code", "details", "hint", "message"} <= set(body)
    if path.startswith("/auth/"):
        return {"code", "error_code", "msg"} <= set(body)
    return {"statusCode", "error", "message"} <= set(body)


def assert_refused(response: httpx.Response, http: httpx.Client) -> None:
    path = response.request.url.path
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert _shape(path, response.json()), response.text[:300]
    assert response.headers.get("connection") != "close"
    assert http.get("/health").status_code == 200


def assert_answered(response: httpx.Response, http: httpx.Client) -> None:
    """Fuzz: any answer but a 5xx, and the server still answers afterwards."""
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert http.get("/health").status_code == 200


# -- the attacks, one by one ---------------------------------------------------------------------


def test_deeply_nested_rest_body(http, trainee_headers):
    response = http.post(
        "/rest/v1/scenarios",
        content=f"[{_deep_json()}]",
        headers={**trainee_headers, "content-type": "application/json"},
    )
    assert_refused(response, http)
    assert response.json()["code"] == "PGRST102"


def test_deeply_nested_rpc_body(http, trainee_headers):
    response = http.post(
        "/rest/v1/rpc/compute_kpis",
        content='{"transcript": ' + _deep_json() + "}",
        headers={**trainee_headers, "content-type": "application/json"},
    )
    assert_refused(response, http)
    assert response.json()["code"] == "PGRST102"


def test_nesting_just_under_the_cap_is_still_accepted(http, stack):
    """The cap refuses only absurd documents: a 60-deep value reaches the database."""
    response = http.post(
        "/rest/v1/scenarios",
        content=f'[{{"title": {"[" * 60}1{"]" * 60}}}]',
        headers={"apikey": stack.anon_key, "content-type": "application/json"},
    )
    assert response.status_code == 401  # anon may not insert: the grants answered, not the parser


def test_deeply_nested_auth_user_update(http, stack, fuzz_account):
    response = http.put(
        "/auth/v1/user",
        content='{"data": ' + _deep_json() + "}",
        headers={"apikey": stack.anon_key, "Authorization": f"Bearer {fuzz_account}"},
    )
    assert_refused(response, http)
    assert response.json()["error_code"] == "bad_json"


def test_deeply_nested_or_filter(http, trainee_headers):
    nested = "or(" * 2000 + "title.eq.x" + ")" * 2000
    response = http.get(f"/rest/v1/scenarios?or=({nested})", headers=trainee_headers)
    assert_refused(response, http)
    assert response.json()["code"] == "PGRST100"


@pytest.mark.parametrize("value", ["²", "1" * 5000, "-1", "1e3"])
def test_limit_that_is_not_a_count(http, trainee_headers, value):
    response = http.get("/rest/v1/scenarios", params={"limit": value}, headers=trainee_headers)
    assert_refused(response, http)


def test_range_header_with_unicode_digits(http, trainee_headers):
    response = http.get(
        "/rest/v1/scenarios", headers={**trainee_headers, "Range": "²-³".encode("latin-1")}
    )
    # An unusable Range header is ignored, as PostgREST does.
    assert response.status_code == 200


def test_nul_in_a_filter_value(http, trainee_headers):
    response = http.get(
        "/rest/v1/scenarios", params={"title": "eq.a\x00b"}, headers=trainee_headers
    )
    assert_refused(response, http)


@pytest.mark.parametrize(
    "body",
    [
        {"prefix": DEMO_ORG, "limit": "abc"},
        {"prefix": DEMO_ORG, "offset": "x"},
        {"prefix": DEMO_ORG, "limit": True},
        {"prefix": DEMO_ORG, "sortBy": "name"},
        {"prefix": ["a"]},
        [1, 2, 3],
        "just a string",
    ],
)
def test_object_list_with_a_malformed_body(http, trainee_headers, body):
    response = http.post("/storage/v1/object/list/recordings", json=body, headers=trainee_headers)
    assert_refused(response, http)


def test_object_list_with_deep_json(http, trainee_headers):
    response = http.post(
        "/storage/v1/object/list/recordings", content=_deep_json(), headers=trainee_headers
    )
    assert_refused(response, http)


def test_signed_url_with_an_infinite_expiry(http, trainee_headers):
    response = http.post(
        f"/storage/v1/object/sign/recordings/{DEMO_ORG}/x.flac",
        content='{"expiresIn": 1e999}',
        headers=trainee_headers,
    )
    assert_refused(response, http)


def test_bucket_id_with_nul(http, trainee_headers):
    response = http.post(
        "/storage/v1/object/list/rec%00ordings", json={"prefix": ""}, headers=trainee_headers
    )
    assert_refused(response, http)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"email": "nul@example.test", "password": "pass\u0000word"}, "validation_failed"),
        ({"email": "a\ud800b@example.test", "password": "s3cret-pass"}, "validation_failed"),
        ({"email": "ctl\u0007@example.test", "password": "s3cret-pass"}, "validation_failed"),
        ({"email": "data@example.test", "password": "s3cret-pass", "data": [1]}, None),
    ],
)
def test_signup_with_unstorable_values(http, stack, body, code):
    response = http.post(
        "/auth/v1/signup",
        content=json.dumps(body),  # json.dumps escapes the lone surrogate as \ud800
        headers={"apikey": stack.anon_key, "content-type": "application/json"},
    )
    assert_refused(response, http)
    if code:
        assert response.json()["error_code"] == code


def test_password_grant_with_an_array_body(http, stack):
    response = http.post(
        "/auth/v1/token?grant_type=password",
        json=[{"email": "a@example.test"}],
        headers={"apikey": stack.anon_key},
    )
    assert_refused(response, http)


# -- property-based fuzz -------------------------------------------------------------------------

# Any text, with the characters that PostgREST syntax and the old failures turned on weighted up.
_SPECIAL = st.sampled_from('(),."*\\\x00²{}[]')
_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | _SPECIAL, max_size=40
)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_TEXT, inner, max_size=4),
    max_leaves=20,
)
_COLUMNS = st.sampled_from(["id", "title", "status", "org_id", "persona", "persona->>name", "x"])
_OPERATORS = st.sampled_from(
    ["eq", "neq", "gt", "lt", "like", "ilike", "in", "is", "cs", "ov", "fts", "not.eq", "zz"]
)
_FILTER = st.tuples(_COLUMNS, _OPERATORS, _TEXT).map(lambda t: (t[0], f"{t[1]}.{t[2]}"))
_QUERY = st.lists(
    _FILTER
    | st.tuples(st.sampled_from(["or", "and", "not.or"]), _TEXT.map(lambda t: f"({t})"))
    | st.tuples(st.sampled_from(["select", "order", "limit", "offset", "on_conflict"]), _TEXT)
    | st.tuples(_TEXT, _TEXT),
    max_size=4,
)
_RAW_BODY = _JSON.map(json.dumps) | st.binary(max_size=64).map(lambda b: b.decode("latin-1"))


@pytest.fixture
def fuzz_account(stack, db) -> str:
    """An access token of a confirmed account that belongs to no org, for the auth fuzz."""
    email = f"fuzz-{uuid.uuid4().hex[:10]}@example.test"
    password_hash = db.execute(
        "select extensions.crypt('fuzz-password', extensions.gen_salt('bf', 4))"
    ).fetchone()[0]
    with db.transaction():
        create_user(db, NewUser(email=email, password_hash=password_hash))
    response = httpx.post(
        f"{stack.url}/auth/v1/token?grant_type=password",
        json={"email": email, "password": "fuzz-password"},
        headers={"apikey": stack.anon_key},
    )
    return response.json()["access_token"]


@FUZZ
@given(query=_QUERY)
def test_fuzz_rest_filters(http, trainee_headers, query):
    assert_answered(http.get("/rest/v1/scenarios", params=query, headers=trainee_headers), http)


@FUZZ
@given(body=_RAW_BODY, query=_QUERY, method=st.sampled_from(["POST", "PATCH"]))
def test_fuzz_rest_bodies(http, stack, trainee_headers, body, query, method):
    if method == "POST":
        headers = {"apikey": stack.anon_key}  # anon: refused by the grants, nothing written
        params = query
    else:
        headers = trainee_headers
        params = [("id", f"eq.{uuid.uuid4()}"), *query]  # matches no row
    response = http.request(
        method,
        "/rest/v1/scenarios",
        params=params,
        content=body.encode(),
        headers={**headers, "content-type": "application/json"},
    )
    assert_answered(response, http)


@FUZZ
@given(body=_RAW_BODY, function=st.sampled_from(["compute_kpis", "sync_watermark", "nope"]))
def test_fuzz_rpc_bodies(http, trainee_headers, body, function):
    response = http.post(
        f"/rest/v1/rpc/{function}",
        content=body.encode(),
        headers={**trainee_headers, "content-type": "application/json"},
    )
    assert_answered(response, http)


@FUZZ
@given(
    endpoint=st.sampled_from(
        ["object/list/recordings", "object/sign/recordings", f"object/sign/tmp/{DEMO_ORG}/x.txt"]
    ),
    body=_RAW_BODY,
)
def test_fuzz_storage_bodies(http, trainee_headers, endpoint, body):
    response = http.post(f"/storage/v1/{endpoint}", content=body.encode(), headers=trainee_headers)
    assert_answered(response, http)


@FUZZ
@given(content_type=_TEXT, cache_control=_TEXT, metadata=_RAW_BODY)
def test_fuzz_storage_upload_metadata(http, stack, content_type, cache_control, metadata):
    # anon: every upload is refused by the policies, after the metadata checks
    response = http.post(
        f"/storage/v1/object/tmp/{DEMO_ORG}/fuzz.txt",
        files={"file": ("fuzz.txt", b"x", content_type or "text/plain")},
        data={"cacheControl": cache_control, "metadata": metadata},
        headers={"apikey": stack.anon_key},
    )
    assert_answered(response, http)


@FUZZ
@given(
    endpoint=st.sampled_from(
        [
            ("PUT", "/auth/v1/user"),
            ("POST", "/auth/v1/token?grant_type=password"),
            ("POST", "/auth/v1/token?grant_type=refresh_token"),
            ("POST", "/auth/v1/token?grant_type=x"),
            ("POST", "/auth/v1/logout?scope=nope"),
            ("POST", "/auth/v1/signup"),
            ("POST", "/auth/v1/verify"),
            ("POST", "/auth/v1/otp"),
            ("POST", "/auth/v1/recover"),
            ("POST", "/auth/v1/resend"),
        ]
    ),
    body=_RAW_BODY,
)
def test_fuzz_auth_bodies(http, stack, fuzz_account, endpoint, body):
    method, path = endpoint
    if method == "PUT" and "password" in body:
        body = "{}"  # the fuzz account keeps its password and session for the next example
    response = http.request(
        method,
        path,
        content=body.encode(),
        headers={"apikey": stack.anon_key, "Authorization": f"Bearer {fuzz_account}"},
    )
    assert_answered(response, http)


@FUZZ
@given(token=_TEXT, kind=_TEXT | st.sampled_from(["signup", "magiclink"]), redirect=_TEXT)
def test_fuzz_verify_links(http, token, kind, redirect):
    response = http.get(
        "/auth/v1/verify", params={"token": token, "type": kind, "redirect_to": redirect}
    )
    assert_answered(response, http)
