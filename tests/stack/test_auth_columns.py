"""The local auth server reads auth.users as Supabase's auth server (GoTrue) does, so a user it
can sign in is one hosted Supabase can sign in: found by the nil instance_id and its audience,
with '' (never NULL) in the token columns GoTrue reads as strings, and an email identity."""

from __future__ import annotations

import uuid

import pytest
from supabase_auth.errors import AuthApiError

from server.db.auth_users import NIL_INSTANCE_ID, STRING_COLUMNS, NewUser, create_user
from supabase import create_client

DEMO_PASSWORD = "coachdesk-demo"
SEED_TRAINEE = "a0000000-0000-4000-8000-000000000001"


def _new_client(stack):
    return create_client(stack.url, stack.anon_key)


def _password_user(db, email: str) -> uuid.UUID:
    password_hash = db.execute(
        "select extensions.crypt(%s, extensions.gen_salt('bf', 4))", (DEMO_PASSWORD,)
    ).fetchone()[0]
    with db.transaction():
        return create_user(db, NewUser(email=email, password_hash=password_hash))


def test_seed_users_have_what_the_auth_server_reads(db, accounts):
    columns = ", ".join(STRING_COLUMNS)
    rows = db.execute(
        f"select u.email, u.instance_id, {columns},"
        " (select count(*) from auth.identities i where i.user_id = u.id"
        "  and i.provider = 'email' and i.provider_id = u.id::text"
        "  and i.email = u.email) as identities"
        " from auth.users u where u.email = any(%s)",
        (list(accounts.values()),),
    ).fetchall()
    assert len(rows) == len(set(accounts.values()))
    for row in rows:
        email, instance_id, *strings, identities = row
        assert instance_id == NIL_INSTANCE_ID, email
        assert None not in strings, email
        assert strings[:2] == ["authenticated", "authenticated"], email
        assert identities == 1, email


def test_a_seed_user_signs_in(stack, accounts):
    session = _new_client(stack).auth.sign_in_with_password(
        {"email": accounts["trainee"], "password": DEMO_PASSWORD}
    )
    assert session.user.id == SEED_TRAINEE


def test_sign_up_writes_the_auth_servers_columns_and_identity(client, db, new_email):
    email = new_email()
    user = client.auth.sign_up({"email": email, "password": "s3cret-pass"}).user
    columns = ", ".join(STRING_COLUMNS)
    row = db.execute(
        f"select instance_id, {columns} from auth.users where id = %s", (user.id,)
    ).fetchone()
    assert row[0] == NIL_INSTANCE_ID and None not in row[1:]
    identity = db.execute(
        "select provider, provider_id, email, identity_data ->> 'sub' from auth.identities"
        " where user_id = %s",
        (user.id,),
    ).fetchall()
    assert identity == [("email", user.id, email, user.id)]


@pytest.mark.parametrize("column", ["confirmation_token", "recovery_token", "email_change"])
def test_a_null_token_column_fails_the_sign_in_as_on_hosted(stack, db, new_email, column):
    """What the seed used to leave NULL: GoTrue cannot load such a user, and says so."""
    email = new_email()
    user_id = _password_user(db, email)
    db.execute(f"update auth.users set {column} = null where id = %s", (user_id,))
    with pytest.raises(AuthApiError) as failed:
        _new_client(stack).auth.sign_in_with_password({"email": email, "password": DEMO_PASSWORD})
    assert failed.value.status == 500
    assert "Database error querying schema" in failed.value.message


@pytest.mark.parametrize(
    ("column", "value"), [("instance_id", None), ("aud", None), ("aud", "other-audience")]
)
def test_a_user_outside_the_instance_or_audience_is_not_found(stack, db, new_email, column, value):
    email = new_email()
    user_id = _password_user(db, email)
    db.execute(f"update auth.users set {column} = %s where id = %s", (value, user_id))
    with pytest.raises(AuthApiError) as failed:
        _new_client(stack).auth.sign_in_with_password({"email": email, "password": DEMO_PASSWORD})
    assert (failed.value.status, failed.value.code) == (400, "invalid_credentials")


def test_a_user_with_no_password_cannot_sign_in_with_any(stack, db, new_email):
    """GoTrue's "no password" is '' (as a Clerk user has): never a match."""
    email = new_email()
    with db.transaction():
        create_user(db, NewUser(email=email))
    with pytest.raises(AuthApiError) as failed:
        _new_client(stack).auth.sign_in_with_password(
            {"email": email, "password": "not-a-password"}
        )
    assert failed.value.code == "invalid_credentials"
