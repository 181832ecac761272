"""Functions that write auth.users do it as hosted Supabase's schema demands: no column defaults
to lean on (the auth server fills them) and metadata that may be NULL."""

from __future__ import annotations

import uuid

from db_support import Seed

from server.db.auth_users import NIL_INSTANCE_ID, STRING_COLUMNS

CONSULTANT = Seed.USERS["consultant_demo"][0]


def _as(conn, role: str, claims_json: str | None = None) -> None:
    conn.execute(f"set local role {role}")
    if claims_json:
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims_json,))


def test_clerk_creates_a_user_the_auth_server_could_read(admin_conn):
    clerk_id = f"user_{uuid.uuid4().hex[:12]}"
    email = f"{clerk_id}@Clerk.Example.test"
    _as(admin_conn, "service_role")
    uid = admin_conn.execute(
        "select private.clerk_upsert_user(%s, %s, true, 'Cleo Clerk', 1) as id", (clerk_id, email)
    ).fetchone()["id"]
    admin_conn.execute("reset role")
    row = admin_conn.execute(
        f"select instance_id, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data,"
        f" created_at, updated_at, {', '.join(STRING_COLUMNS)} from auth.users where id = %s",
        (uid,),
    ).fetchone()
    assert row["instance_id"] == NIL_INSTANCE_ID
    assert (row["aud"], row["role"]) == ("authenticated", "authenticated")
    assert row["email"] == email.lower() and row["email_confirmed_at"] is not None
    assert [c for c in STRING_COLUMNS if row[c] is None] == []
    assert row["raw_app_meta_data"]["provider"] == "clerk"
    assert row["raw_user_meta_data"] == {"full_name": "Cleo Clerk", "clerk_user_id": clerk_id}
    assert row["created_at"] is not None and row["updated_at"] is not None


def test_clerk_updates_a_user_whose_metadata_is_null(admin_conn):
    clerk_id = f"user_{uuid.uuid4().hex[:12]}"
    _as(admin_conn, "service_role")
    uid = admin_conn.execute(
        "select private.clerk_upsert_user(%s, %s, true, 'First', 1) as id",
        (clerk_id, f"{clerk_id}@example.test"),
    ).fetchone()["id"]
    admin_conn.execute("reset role")
    admin_conn.execute("update auth.users set raw_user_meta_data = null where id = %s", (uid,))
    _as(admin_conn, "service_role")
    admin_conn.execute("select private.clerk_upsert_user(%s, null, true, 'Second', 2)", (clerk_id,))
    admin_conn.execute("reset role")
    meta = admin_conn.execute(
        "select raw_user_meta_data as m from auth.users where id = %s", (uid,)
    ).fetchone()["m"]
    assert meta == {"full_name": "Second", "clerk_user_id": clerk_id}


def test_set_active_org_works_for_a_user_without_app_metadata(admin_conn):
    """NULL || jsonb is NULL: the choice used to vanish without an error."""
    admin_conn.execute(
        "update auth.users set raw_app_meta_data = null where id = %s", (CONSULTANT,)
    )
    _as(admin_conn, "authenticated", Seed.claims("consultant_demo").as_json())
    admin_conn.execute("select public.set_active_org(%s)", (Seed.GLOBEX_ORG,))
    admin_conn.execute("reset role")
    meta = admin_conn.execute(
        "select raw_app_meta_data as m from auth.users where id = %s", (CONSULTANT,)
    ).fetchone()["m"]
    assert meta == {"active_org_id": Seed.GLOBEX_ORG}
