"""Users written as Supabase's auth server (GoTrue) writes them, for code that creates accounts
without it: the local stack's sign-up, tests and benchmarks arranging users.

auth.users has no defaults for the columns GoTrue always fills (supabase/compat/hosted_schema.toml):
a user GoTrue can sign in has the nil instance_id, aud and role `authenticated`, '' (never NULL)
in the token columns it reads as strings, and an auth.identities row per sign-in method.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg

NIL_INSTANCE_ID = uuid.UUID(int=0)
AUDIENCE = "authenticated"
DEFAULT_ROLE = "authenticated"
# The columns GoTrue scans into Go strings: a NULL in any of them fails every read of the user
# ("Database error querying schema"), so a sign-in for that user fails too.
STRING_COLUMNS = (
    "aud",
    "role",
    "confirmation_token",
    "recovery_token",
    "email_change_token_new",
    "email_change",
    "email_change_token_current",
    "phone_change",
    "phone_change_token",
    "reauthentication_token",
)
# Email uniqueness is a partial index on hosted; an upsert must name its predicate to use it.
EMAIL_CONFLICT = "on conflict (email) where (is_sso_user = false)"


@dataclass(frozen=True)
class NewUser:
    """One user to insert; `id` is chosen here, as GoTrue chooses it (there is no default)."""

    email: str
    password_hash: str | None = None
    confirmed: bool = True
    user_metadata: dict[str, Any] = field(default_factory=dict)
    provider: str = "email"
    id: uuid.UUID = field(default_factory=uuid.uuid4)

    def user_params(self) -> dict[str, Any]:
        return {
            "instance_id": NIL_INSTANCE_ID,
            "id": self.id,
            "aud": AUDIENCE,
            "role": DEFAULT_ROLE,
            "email": self.email.strip().lower(),
            "encrypted_password": self.password_hash or "",
            "confirmed": self.confirmed,
            "app_metadata": json.dumps({"provider": self.provider, "providers": [self.provider]}),
            "user_metadata": json.dumps(self.user_metadata),
        }

    def identity_params(self, user_id: uuid.UUID | None = None) -> dict[str, Any]:
        """The email identity of this user, or of `user_id` (the row an upsert kept)."""
        user_id = user_id or self.id
        data = {
            "sub": str(user_id),
            "email": self.email.strip().lower(),
            "email_verified": self.confirmed,
            "phone_verified": False,
        }
        return {"id": user_id, "provider": self.provider, "identity_data": json.dumps(data)}


def insert_user_sql(*, returning: str = "id", on_conflict: str = "") -> str:
    """The insert GoTrue makes for a new user; `on_conflict` e.g. EMAIL_CONFLICT + ' do nothing'."""
    return (
        "insert into auth.users (instance_id, id, aud, role, email, encrypted_password,"
        " email_confirmed_at, confirmation_token, recovery_token, email_change_token_new,"
        " email_change, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)"
        " values (%(instance_id)s, %(id)s, %(aud)s, %(role)s, %(email)s, %(encrypted_password)s,"
        " case when %(confirmed)s then now() end, '', '', '', '',"
        " %(app_metadata)s::jsonb, %(user_metadata)s::jsonb, now(), now())"
        f" {on_conflict} returning {returning}"
    )


INSERT_IDENTITY = (
    "insert into auth.identities (provider_id, user_id, identity_data, provider,"
    " last_sign_in_at, created_at, updated_at)"
    " values (%(id)s::text, %(id)s, %(identity_data)s::jsonb, %(provider)s, now(), now(), now())"
    " on conflict (provider_id, provider) do nothing"
)


def create_user(conn: psycopg.Connection[Any], user: NewUser) -> uuid.UUID:
    """Insert `user` and its identity in `conn`'s transaction; returns its id."""
    conn.execute(insert_user_sql(), user.user_params())
    conn.execute(INSERT_IDENTITY, user.identity_params())
    return user.id


def null_string_columns(row: dict[str, Any]) -> list[str]:
    """The string columns GoTrue could not read in this user row."""
    return [column for column in STRING_COLUMNS if column in row and row[column] is None]
