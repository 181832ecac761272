"""/rest/v1 through the official supabase client: filters, Prefer, errors, RLS, injection."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt as pyjwt
import pytest
from postgrest import APIError
from stack_fixtures import wait_for_scoring

from supabase import ClientOptions, create_client

DEMO_ORG = "d0000000-0000-4000-8000-000000000001"
GLOBEX_ORG = "d0000000-0000-4000-8000-000000000002"
TRAINEE = "a0000000-0000-4000-8000-000000000001"
COLD_CALL = "f0000000-0000-4000-8000-000000000001"
CFO = "f0000000-0000-4000-8000-000000000002"
GLOBEX_SCENARIO = "f0000000-0000-4000-8000-000000000011"


def _raw(stack, method: str, path: str, token: str | None = None, **kwargs) -> httpx.Response:
    headers = {"apikey": stack.anon_key, "Authorization": f"Bearer {token or stack.anon_key}"}
    headers.update(kwargs.pop("headers", {}))
    return httpx.request(method, f"{stack.url}/rest/v1/{path}", headers=headers, **kwargs)


def _token(client) -> str:
    return client.auth.get_session().access_token


# -- select, filters, order, ranges -------------------------------------------------------------


@pytest.fixture
def manager(signed_in):
    return signed_in("manager")


@pytest.fixture
def all_scenarios(manager) -> list[dict]:
    rows = manager.table("scenarios").select("*").execute().data
    assert len(rows) >= 4
    return rows


def test_column_list_eq_order_and_limit(manager):
    result = (
        manager.table("scenarios")
        .select("id,title")
        .eq("status", "published")
        .order("title", desc=True)
        .limit(2)
        .execute()
    )
    assert len(result.data) == 2
    assert all(set(row) == {"id", "title"} for row in result.data)
    titles = [row["title"] for row in result.data]
    assert titles == sorted(titles, reverse=True)


FILTER_CASES = {
    "eq": (lambda q: q.eq("status", "draft"), lambda r: r["status"] == "draft"),
    "neq": (lambda q: q.neq("status", "draft"), lambda r: r["status"] != "draft"),
    "gt": (lambda q: q.gt("pass_score", 70), lambda r: float(r["pass_score"]) > 70),
    "gte": (lambda q: q.gte("pass_score", 75), lambda r: float(r["pass_score"]) >= 75),
    "lt": (lambda q: q.lt("pass_score", 75), lambda r: float(r["pass_score"]) < 75),
    "lte": (lambda q: q.lte("pass_score", 70), lambda r: float(r["pass_score"]) <= 70),
    "in": (lambda q: q.in_("id", [COLD_CALL, CFO]), lambda r: r["id"] in (COLD_CALL, CFO)),
    "like": (lambda q: q.like("title", "*CFO*"), lambda r: "CFO" in r["title"]),
    "ilike": (lambda q: q.ilike("title", "*cfo*"), lambda r: "cfo" in r["title"].lower()),
    "not_in": (
        lambda q: q.not_.in_("id", [COLD_CALL, CFO]),
        lambda r: r["id"] not in (COLD_CALL, CFO),
    ),
    "or": (
        lambda q: q.or_("status.eq.draft,pass_score.gt.75"),
        lambda r: r["status"] == "draft" or float(r["pass_score"]) > 75,
    ),
    "or_nested_and": (
        lambda q: q.or_(f"id.eq.{COLD_CALL},and(status.eq.published,title.ilike.*cfo*)"),
        lambda r: (
            r["id"] == COLD_CALL or (r["status"] == "published" and "cfo" in r["title"].lower())
        ),
    ),
    "jsonb_path": (
        lambda q: q.eq("persona->>name", "Dana Whitfield"),
        lambda r: r["persona"].get("name") == "Dana Whitfield",
    ),
}


IS_CASES = {
    "is_null": (lambda q: q.is_("team_id", None), lambda r: r["team_id"] is None),
    "not_is_null": (lambda q: q.not_.is_("team_id", None), lambda r: r["team_id"] is not None),
}


@pytest.mark.parametrize("case", sorted(IS_CASES))
def test_is_filters_on_assignments(manager, case):
    apply, predicate = IS_CASES[case]
    every = manager.table("assignments").select("id,team_id").execute().data
    expected = {row["id"] for row in every if predicate(row)}
    got = {row["id"] for row in apply(manager.table("assignments").select("id")).execute().data}
    assert got == expected
    assert 0 < len(expected) < len(every), "the case must discriminate"


@pytest.mark.parametrize("case", sorted(FILTER_CASES))
def test_filter_matches_the_same_predicate_in_python(manager, all_scenarios, case):
    apply, predicate = FILTER_CASES[case]
    expected = {row["id"] for row in all_scenarios if predicate(row)}
    got = {row["id"] for row in apply(manager.table("scenarios").select("id")).execute().data}
    assert got == expected
    assert 0 < len(expected) < len(all_scenarios), "the case must discriminate"


def test_order_nulls_and_multiple_keys(manager, all_scenarios):
    rows = (
        manager.table("scenarios")
        .select("id,status,title")
        .order("status")
        .order("title", desc=True)
        .execute()
        .data
    )
    assert [(r["status"], r["title"]) for r in rows] == sorted(
        [(r["status"], r["title"]) for r in rows], key=lambda k: (k[0], [-ord(c) for c in k[1]])
    )


def test_exact_count_and_range(stack, manager, all_scenarios):
    result = (
        manager.table("scenarios").select("id", count="exact").order("id").range(1, 2).execute()
    )
    assert result.count == len(all_scenarios)
    assert [r["id"] for r in result.data] == sorted(r["id"] for r in all_scenarios)[1:3]
    raw = _raw(
        stack,
        "GET",
        "scenarios?select=id&order=id&limit=2&offset=1",
        _token(manager),
        headers={"Prefer": "count=exact"},
    )
    assert raw.headers["content-range"] == f"1-2/{len(all_scenarios)}"


def test_head_request_counts_without_body(manager, all_scenarios):
    result = manager.table("scenarios").select("*", count="exact", head=True).execute()
    assert result.count == len(all_scenarios)


def test_single_and_maybe_single(manager):
    row = manager.table("scenarios").select("id,title").eq("id", CFO).single().execute()
    assert row.data["id"] == CFO
    with pytest.raises(APIError) as many:
        manager.table("scenarios").select("id").single().execute()
    assert many.value.code == "PGRST116"
    missing = manager.table("scenarios").select("id").eq("id", str(uuid.uuid4())).maybe_single()
    assert missing.execute() is None


# -- writes and Prefer ---------------------------------------------------------------------------


@pytest.fixture
def admin(signed_in):
    return signed_in("admin")


def test_insert_update_delete_with_representation(admin):
    name = f"Team {uuid.uuid4().hex[:8]}"
    inserted = admin.table("teams").insert({"org_id": DEMO_ORG, "name": name}).execute().data
    assert len(inserted) == 1 and inserted[0]["name"] == name and inserted[0]["id"]
    team_id = inserted[0]["id"]
    updated = admin.table("teams").update({"name": name + " 2"}).eq("id", team_id).execute()
    assert updated.data[0]["name"] == name + " 2"
    deleted = admin.table("teams").delete().eq("id", team_id).execute()
    assert [r["id"] for r in deleted.data] == [team_id]
    assert admin.table("teams").select("id").eq("id", team_id).execute().data == []


def test_return_minimal_sends_no_rows_but_writes(admin):
    name = f"Minimal {uuid.uuid4().hex[:8]}"
    result = (
        admin.table("teams")
        .insert({"org_id": DEMO_ORG, "name": name}, returning="minimal")
        .execute()
    )
    assert result.data == []
    assert len(admin.table("teams").select("id").eq("name", name).execute().data) == 1
    admin.table("teams").delete(returning="minimal").eq("name", name).execute()
    assert admin.table("teams").select("id").eq("name", name).execute().data == []


def test_mutation_count_header(admin):
    names = [f"Counted {uuid.uuid4().hex[:8]}" for _ in range(3)]
    result = (
        admin.table("teams")
        .insert([{"org_id": DEMO_ORG, "name": n} for n in names], count="exact")
        .execute()
    )
    assert result.count == 3
    admin.table("teams").delete().in_("name", names).execute()


def test_bulk_upsert_is_idempotent(admin):
    tag = uuid.uuid4().hex[:8]
    rows = [
        {"id": str(uuid.uuid4()), "org_id": DEMO_ORG, "name": f"Bulk {tag} {i:02d}"}
        for i in range(50)
    ]
    first = admin.table("teams").upsert(rows).execute()
    second = admin.table("teams").upsert(rows).execute()
    assert len(first.data) == len(second.data) == 50
    stored = admin.table("teams").select("id", count="exact").like("name", f"Bulk {tag}*").execute()
    assert stored.count == 50
    # merge-duplicates updates; ignore-duplicates leaves existing rows alone.
    renamed = [{**r, "name": r["name"] + " merged"} for r in rows[:5]]
    admin.table("teams").upsert(renamed).execute()
    ignored = [{**r, "name": r["name"] + " ignored"} for r in rows[5:10]]
    out = admin.table("teams").upsert(ignored, ignore_duplicates=True).execute()
    assert out.data == []
    names = {
        r["name"]
        for r in admin.table("teams").select("name").like("name", f"Bulk {tag}*").execute().data
    }
    assert sum(n.endswith(" merged") for n in names) == 5
    assert not any(n.endswith(" ignored") for n in names)
    # on_conflict names another unique key: (org_id, name).
    again = [{"org_id": DEMO_ORG, "name": rows[20]["name"]}]
    kept = admin.table("teams").upsert(again, on_conflict="org_id,name").execute().data
    assert kept[0]["id"] == rows[20]["id"]
    admin.table("teams").delete().like("name", f"Bulk {tag}*").execute()


def test_rpc_scalar_and_errors(manager):
    watermark = manager.rpc("sync_watermark").execute()
    assert isinstance(watermark.data, int)
    claimed = manager.rpc("set_org_claim", {"org_id": DEMO_ORG}).execute()
    assert claimed.data == DEMO_ORG
    with pytest.raises(APIError) as refused:
        manager.rpc("set_org_claim", {"org_id": GLOBEX_ORG}).execute()
    assert refused.value.code == "42501"
    with pytest.raises(APIError) as unknown:
        manager.rpc("no_such_function", {}).execute()
    assert unknown.value.code == "PGRST202"


# -- RLS over HTTP -------------------------------------------------------------------------------


def test_trainee_sees_only_own_attempts(signed_in, service_client):
    trainee = signed_in("trainee")
    mine = trainee.table("scenario_attempts").select("id,user_id").execute().data
    everyone = service_client.table("scenario_attempts").select("id,user_id").execute().data
    assert mine and {r["user_id"] for r in mine} == {TRAINEE}
    assert len(everyone) > len(mine)


def test_globex_user_sees_no_demo_rows(signed_in):
    globex = signed_in("globex_manager")
    for table in ("scenarios", "teams", "org_members", "scenario_attempts", "assignments"):
        rows = globex.table(table).select("org_id").execute().data
        assert all(r["org_id"] == GLOBEX_ORG for r in rows), table
    demo = globex.table("scenarios").select("id").eq("org_id", DEMO_ORG).execute().data
    assert demo == []


def test_anon_reads_nothing(client, stack):
    for table in ("scenarios", "orgs", "org_members", "scenario_attempts"):
        with pytest.raises(APIError) as refused:
            client.table(table).select("*").execute()
        assert refused.value.code == "42501"
    assert _raw(stack, "GET", "scenarios").status_code == 401


def test_writing_into_another_org_is_refused(signed_in, stack):
    admin = signed_in("admin")
    with pytest.raises(APIError) as refused:
        admin.table("teams").insert({"org_id": GLOBEX_ORG, "name": "Infiltrators"}).execute()
    assert refused.value.code == "42501"
    response = _raw(stack, "POST", "teams", _token(admin), json={"org_id": GLOBEX_ORG, "name": "x"})
    assert response.status_code == 403
    # Another org's rows are invisible to updates and deletes: zero rows, nothing changed.
    moved = admin.table("scenarios").update({"title": "pwned"}).eq("id", GLOBEX_SCENARIO).execute()
    assert moved.data == []
    gone = admin.table("scenarios").delete().eq("id", GLOBEX_SCENARIO).execute()
    assert gone.data == []


def test_forged_org_claim_gives_nothing(stack):
    now = int(time.time())
    forged = pyjwt.encode(
        {
            "sub": TRAINEE,
            "role": "authenticated",
            "org_id": GLOBEX_ORG,
            "exp": now + 60,
            "iat": now,
        },
        stack.config.jwt_secret,
    )
    rows = _raw(stack, "GET", "scenarios?select=id", forged).json()
    assert rows == []


def test_service_role_sees_every_org(service_client):
    orgs = {r["org_id"] for r in service_client.table("scenarios").select("org_id").execute().data}
    assert {DEMO_ORG, GLOBEX_ORG} <= orgs


# -- errors --------------------------------------------------------------------------------------


def test_expired_token_is_401_in_postgrest_shape(stack):
    now = int(time.time())
    expired = pyjwt.encode(
        {"sub": TRAINEE, "role": "authenticated", "exp": now - 10, "iat": now - 100},
        stack.config.jwt_secret,
    )
    response = _raw(stack, "GET", "scenarios", expired)
    assert response.status_code == 401
    assert response.json() == {
        "code": "PGRST303",
        "details": None,
        "hint": None,
        "message": "JWT expired",
    }
    supabase = create_client(
        stack.url, stack.anon_key, ClientOptions(headers={"Authorization": f"Bearer {expired}"})
    )
    with pytest.raises(APIError) as refused:
        supabase.table("scenarios").select("id").execute()
    assert refused.value.code == "PGRST303"


def test_bad_signature_and_missing_apikey(stack):
    forged = pyjwt.encode({"role": "service_role", "exp": int(time.time()) + 60}, "not-the-secret")
    assert _raw(stack, "GET", "scenarios", forged).status_code == 401
    response = httpx.get(f"{stack.url}/rest/v1/scenarios")
    assert response.status_code == 401


def test_malformed_json_body(stack, admin):
    response = _raw(
        stack,
        "POST",
        "teams",
        _token(admin),
        content=b'{"name": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "PGRST102"


def test_unknown_table_and_columns(manager):
    with pytest.raises(APIError) as table:
        manager.table("no_such_table").select("*").execute()
    assert table.value.code == "PGRST205"
    with pytest.raises(APIError) as column:
        manager.table("scenarios").select("id,nope").execute()
    assert column.value.code == "42703"
    with pytest.raises(APIError) as filtered:
        manager.table("scenarios").select("id").eq("nope", 1).execute()
    assert filtered.value.code == "42703"
    with pytest.raises(APIError) as payload:
        manager.table("teams").insert({"org_id": DEMO_ORG, "nope": 1}).execute()
    assert payload.value.code == "PGRST204"


def test_status_codes_follow_postgrest(stack, admin):
    token = _token(admin)
    name = f"Dup {uuid.uuid4().hex[:8]}"
    assert (
        _raw(stack, "POST", "teams", token, json={"org_id": DEMO_ORG, "name": name}).status_code
        == 201
    )
    dup = _raw(stack, "POST", "teams", token, json={"org_id": DEMO_ORG, "name": name})
    assert (dup.status_code, dup.json()["code"]) == (409, "23505")
    bad_uuid = _raw(stack, "GET", "teams?id=eq.not-a-uuid", token)
    assert (bad_uuid.status_code, bad_uuid.json()["code"]) == (400, "22P02")
    check = _raw(stack, "POST", "teams", token, json={"org_id": DEMO_ORG, "name": "  "})
    assert (check.status_code, check.json()["code"]) == (400, "23514")
    fk = _raw(
        stack,
        "POST",
        "team_members",
        token,
        json={"org_id": DEMO_ORG, "team_id": str(uuid.uuid4()), "user_id": TRAINEE},
    )
    assert (fk.status_code, fk.json()["code"]) == (409, "23503")
    unfiltered = _raw(stack, "DELETE", "teams", token)
    assert (unfiltered.status_code, unfiltered.json()["code"]) == (400, "21000")
    other_schema = _raw(stack, "GET", "users", token, headers={"Accept-Profile": "auth"})
    assert other_schema.status_code == 406
    _raw(stack, "DELETE", f"teams?name=eq.{name}", token)


# -- injection -----------------------------------------------------------------------------------

INJECTIONS = [
    "scenarios?select=id&order=id;drop table public.teams",
    "scenarios?select=id&order=id desc",
    "scenarios?select=id,(select 1)",
    'scenarios?select=id&title" or 1=1--=eq.x',
    "scenarios?select=id&title=eq.x&or=(id.eq.1) or true",
    "scenarios?select=x:id%3B drop table public.teams",
    "scenarios?select=id::text; drop table public.teams",
    "scenarios?select=id&persona->>a%27b=eq.1",
    "scenarios?select=id&limit=1;drop table public.teams",
]


@pytest.mark.parametrize("path", INJECTIONS)
def test_injection_in_identifiers_is_rejected(stack, manager, db, path):
    response = _raw(stack, "GET", path, _token(manager))
    assert response.status_code in (400, 404), response.text
    assert set(response.json()) == {"code", "details", "hint", "message"}
    assert db.execute("select to_regclass('public.teams') is not null").fetchone()[0]


@pytest.mark.parametrize(
    "value",
    ["O'Brien", "x'); drop table public.teams; --", '"quoted"', "%", "a,b", "(nested)", "\\"],
)
def test_injection_in_values_is_data(manager, db, value):
    assert manager.table("scenarios").select("id").eq("title", value).execute().data == []
    assert (
        manager.table("scenarios").select("id").in_("title", [value, "other"]).execute().data == []
    )
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert manager.table("scenarios").select("id").or_(f"title.eq.{quoted}").execute().data == []
    assert db.execute("select to_regclass('public.teams') is not null").fetchone()[0]


def test_value_with_quote_round_trips(admin):
    name = f'O\'Brien "{uuid.uuid4().hex[:6]}"; drop table teams; --'
    admin.table("teams").insert({"org_id": DEMO_ORG, "name": name}).execute()
    found = admin.table("teams").select("name").eq("name", name).execute().data
    assert found == [{"name": name}]
    admin.table("teams").delete().eq("name", name).execute()


def test_trainee_attempt_upsert_is_idempotent_and_scored_just_after(signed_in, db):
    """The sync push: the upload queues the attempt, the stack's scoring worker scores it a
    moment later, and the same attempt upserted again (a retry after a crash) is still one
    scored row."""
    trainee = signed_in("trainee")
    attempt = {
        "id": str(uuid.uuid4()),
        "org_id": DEMO_ORG,
        "user_id": TRAINEE,
        "scenario_id": "f0000000-0000-4000-8000-000000000001",
        "started_at": "2026-11-20T10:00:00+00:00",
        "status": "uploaded",
        "transcript": {
            "version": 1,
            "turns": [
                {"speaker": "persona", "start": 0, "end": 2, "text": "Who is this?"},
                {"speaker": "rep", "start": 2.5, "end": 6, "text": "Sam here. Can we book a demo?"},
            ],
        },
    }
    first = trainee.table("scenario_attempts").upsert(attempt).execute().data
    assert (first[0]["status"], first[0]["score"]) == ("uploaded", None)
    wait_for_scoring(db)
    again = trainee.table("scenario_attempts").upsert(attempt).execute().data
    assert again[0]["status"] == "scored" and again[0]["score"] is not None
    assert not db.execute("select * from private.scoring_queue").fetchall(), "nothing new to score"
    rows = trainee.table("scenario_attempts").select("id").eq("id", attempt["id"]).execute().data
    assert len(rows) == 1
