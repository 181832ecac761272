"""Attacks on tenancy that must fail, and the org claim machinery they target.

All as API roles through the `authenticator` login with real claims; never as the superuser.
"""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from db_support import Claims, Seed

DEMO, GLOBEX = Seed.DEMO_ORG, Seed.GLOBEX_ORG
TRAINEE = Seed.USERS["trainee"][0]
TRAINEE2 = Seed.USERS["trainee2"][0]
CONSULTANT = Seed.USERS["consultant_demo"][0]
TENANT_TABLES = (
    "orgs",
    "org_members",
    "teams",
    "team_members",
    "scenarios",
    "tracks",
    "track_scenarios",
    "assignments",
    "scenario_attempts",
)


def test_set_org_claim_to_a_foreign_org_is_refused(as_user):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="not a member of org"):
        conn.execute("select set_org_claim(%s)", (GLOBEX,))


def test_set_org_claim_switches_between_own_orgs(as_user):
    conn = as_user("consultant_demo")
    assert (
        conn.execute("select count(*) as n from scenarios where org_id = %s", (GLOBEX,)).fetchone()[
            "n"
        ]
        == 0
    )
    conn.execute("select set_org_claim(%s)", (GLOBEX,))
    globex = conn.execute("select distinct org_id from scenarios").fetchall()
    assert [r["org_id"] for r in globex] == [uuid.UUID(GLOBEX)]


def test_raw_set_config_to_a_foreign_org_sees_nothing(as_user):
    """Anyone can set a custom GUC; membership is what makes a claim count."""
    conn = as_user("trainee")
    conn.execute("select set_config('jwt.claims.org_id', %s, true)", (GLOBEX,))
    for table in TENANT_TABLES:
        assert conn.execute(f"select count(*) as n from {table}").fetchone()["n"] == 0, table


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_forged_org_claim_without_membership_sees_nothing(as_user, table):
    conn = as_user("trainee", org_id=GLOBEX)
    assert conn.execute(f"select count(*) as n from {table}").fetchone()["n"] == 0


def test_forged_org_claim_cannot_write(as_user):
    conn = as_user("trainee", org_id=GLOBEX)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at)"
            " values (gen_random_uuid(), %s, %s, %s, now())",
            (GLOBEX, TRAINEE, Seed.SCENARIO_GLOBEX),
        )


def test_garbage_org_claim_is_treated_as_absent(api):
    conn = api.become(Claims(sub=TRAINEE, org_id="'; drop table orgs; --"))
    assert conn.execute("select count(*) as n from scenarios").fetchone()["n"] == 0


def test_insert_with_a_foreign_org_id_is_refused(as_user):
    conn = as_user("admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn.execute("insert into teams (org_id, name) values (%s, 'Spies')", (GLOBEX,))


def test_moving_a_row_to_another_org_is_refused(as_user):
    conn = as_user("admin")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        conn.execute("update teams set org_id = %s where name = 'SMB West'", (GLOBEX,))


def test_moving_an_attempt_to_another_user_is_refused(as_user):
    conn = as_user("trainee")
    attempt = conn.execute("select id from scenario_attempts limit 1").fetchone()["id"]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="cannot move"):
        conn.execute("update scenario_attempts set user_id = %s where id = %s", (TRAINEE2, attempt))


@pytest.mark.parametrize("column", ["score", "score_breakdown", "kpis", "scored_at"])
def test_a_trainee_cannot_write_server_fields(as_user, column):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        conn.execute(f"update scenario_attempts set {column} = null where user_id = %s", (TRAINEE,))


def test_a_trainee_cannot_mark_an_attempt_scored(as_user):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="only the server scores"):
        conn.execute(
            "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at, status)"
            " values (gen_random_uuid(), %s, %s, %s, now(), 'scored')",
            (DEMO, TRAINEE, Seed.SCENARIO_COLD_CALL),
        )


def test_an_assignment_cannot_point_into_another_org(as_user):
    conn = as_user("manager")
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        conn.execute(
            "insert into assignments (org_id, scenario_id, user_id) values (%s, %s, %s)",
            (DEMO, Seed.SCENARIO_GLOBEX, TRAINEE),
        )


def test_an_attempt_cannot_claim_someone_elses_assignment(as_user):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "insert into scenario_attempts (id, org_id, user_id, scenario_id, assignment_id,"
            " started_at) values (gen_random_uuid(), %s, %s, %s,"
            " 'c0000000-0000-4000-8000-000000000004', now())",
            (DEMO, TRAINEE, Seed.SCENARIO_INCUMBENT),
        )


def test_a_trainee_cannot_practise_a_draft(as_user):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "insert into scenario_attempts (id, org_id, user_id, scenario_id, started_at)"
            " values (gen_random_uuid(), %s, %s, %s, now())",
            (DEMO, TRAINEE, Seed.SCENARIO_DRAFT),
        )


@pytest.mark.parametrize("table", TENANT_TABLES)
def test_anon_reads_nothing(api, table):
    conn = api.become(Claims(sub=None, role="anon"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"select * from {table} limit 1")


def test_anon_cannot_set_an_org_claim(api):
    conn = api.become(Claims(sub=None, role="anon"))
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select set_org_claim(%s)", (DEMO,))


# -- the custom access token hook -------------------------------------------------------------


def _event(user_id: str, **claims: object) -> str:
    base = {
        "sub": user_id,
        "role": "authenticated",
        "aud": "authenticated",
        "aal": "aal1",
        "session_id": str(uuid.uuid4()),
        "email": "x@example.test",
        "is_anonymous": False,
    }
    base.update(claims)
    return json.dumps({"user_id": user_id, "claims": base, "authentication_method": "password"})


def _hook(admin_conn, event: str) -> dict:
    """Run the hook as Supabase Auth does: as supabase_auth_admin (no login role can become it
    here, so the test's superuser connection switches to it and keeps only its rights)."""
    admin_conn.execute("set local role supabase_auth_admin")
    out = admin_conn.execute("select public.custom_access_token_hook(%s::jsonb) as e", (event,))
    result = out.fetchone()["e"]
    admin_conn.execute("reset role")
    return result


def test_hook_is_not_executable_by_authenticated(as_user):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select public.custom_access_token_hook(%s::jsonb)", (_event(TRAINEE),))


def test_hook_adds_org_claims_and_keeps_every_other_claim(admin_conn):
    event = json.loads(_event(TRAINEE))
    out = _hook(admin_conn, json.dumps(event))
    claims = out["claims"]
    assert claims["org_id"] == DEMO and claims["org_role"] == "trainee"
    assert {k: v for k, v in claims.items() if k not in ("org_id", "org_role")} == event["claims"]
    assert out["user_id"] == TRAINEE and out["authentication_method"] == "password"


def test_hook_prefers_the_active_org_when_a_member(admin_conn):
    picked = _hook(admin_conn, _event(CONSULTANT, app_metadata={"active_org_id": GLOBEX}))
    assert (picked["claims"]["org_id"], picked["claims"]["org_role"]) == (GLOBEX, "manager")
    stranger = _hook(admin_conn, _event(TRAINEE, app_metadata={"active_org_id": GLOBEX}))
    assert stranger["claims"]["org_id"] == DEMO


def test_hook_drops_org_claims_without_membership(admin_conn):
    nobody = str(uuid.uuid4())
    out = _hook(admin_conn, _event(nobody, org_id=DEMO, org_role="admin"))
    assert "org_id" not in out["claims"] and "org_role" not in out["claims"]
    assert out["claims"]["role"] == "authenticated"


def test_set_active_org_refuses_a_foreign_org(as_user):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select set_active_org(%s)", (GLOBEX,))


def test_role_comes_from_membership_not_from_the_token(api):
    """A trainee whose token claims org_role=admin is still a trainee."""
    conn = api.become(Claims(sub=TRAINEE, org_id=DEMO, org_role="admin"))
    assert conn.execute("select private.current_org_role() as r").fetchone()["r"] == "trainee"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("insert into teams (org_id, name) values (%s, 'Mine')", (DEMO,))


def test_a_scenario_rubric_cannot_be_read_through_the_scoring_lookup(as_user):
    conn = as_user("trainee")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(
            "select * from private.scenario_rubric(%s, %s)",
            (Seed.SCENARIO_GLOBEX, Seed.GLOBEX_ORG),
        )


def test_my_orgs_lists_only_the_callers_memberships(as_user):
    rows = as_user("consultant_demo").execute("select org_id::text, role from my_orgs()").fetchall()
    assert {(r["org_id"], r["role"]) for r in rows} == {
        (Seed.DEMO_ORG, "trainee"),
        (Seed.GLOBEX_ORG, "manager"),
    }
    assert len(as_user("trainee").execute("select * from my_orgs()").fetchall()) == 1
