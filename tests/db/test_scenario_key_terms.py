"""A scenario's key terms (issue 19, item 2): migration 20261205000800_scenario_key_terms.sql.

The list is checked for every writer with the words app/key_terms.py uses; a new version
carries the terms; a published version keeps them (CD423). Done as the seed's admin through
the `authenticator` login with real claims, in one transaction (nothing is committed).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from db_support import Seed

from app.formats import FormatError
from app.key_terms import validate_key_terms

COLD_CALL = Seed.SCENARIO_COLD_CALL
DRAFT = Seed.SCENARIO_DRAFT


@pytest.fixture
def conn(api) -> psycopg.Connection:
    return api.become(Seed.claims("admin"))


def refused(conn: psycopg.Connection, sql: str, params: Any = None) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as caught, conn.transaction():
        conn.execute(sql, params)
    return caught.value


def set_terms(conn: psycopg.Connection, scenario_id: str, terms: list[Any]) -> list[str]:
    row = conn.execute(
        "update scenarios set key_terms = %s where id = %s returning key_terms",
        (terms, scenario_id),
    ).fetchone()
    return row["key_terms"]


def test_a_scenario_has_none_until_an_admin_adds_them(conn):
    row = conn.execute("select key_terms from scenarios where id = %s", (COLD_CALL,)).fetchone()
    assert row == {"key_terms": []}
    assert set_terms(conn, DRAFT, ["Acme Cloud", "SOC 2", "Globex"]) == [
        "Acme Cloud",
        "SOC 2",
        "Globex",
    ]
    # 50 terms of 60 characters (after trimming) is the most allowed.
    most = [f" {i:02d}{'x' * 58} " for i in range(50)]
    assert set_terms(conn, DRAFT, most) == most


@pytest.mark.parametrize(
    ("terms", "reason"),
    [
        ([f"term {i}" for i in range(51)], "at most 50 terms (this list has 51)"),
        (["Acme", "  "], "term 2 is empty"),
        (["Acme", None], "term 2 is empty"),
        (["x" * 61], f'term 1 ("{"x" * 20}…") is longer than 60 characters'),
        (["Acme Cloud", "Globex", " acme cloud"], '"acme cloud" is listed twice'),
    ],
)
def test_a_bad_list_is_refused_in_the_apps_words(conn, terms, reason):
    error = refused(conn, "update scenarios set key_terms = %s where id = %s", (terms, DRAFT))
    assert error.sqlstate == "23514"
    assert error.diag.message_primary == f"key_terms is invalid: {reason}"
    assert "Up to 50 terms" in error.diag.message_hint
    # The editor's check says the same before anything is sent.
    with pytest.raises(FormatError) as caught:
        validate_key_terms(terms)
    assert str(caught.value) == error.diag.message_primary


def test_an_insert_is_checked_too(conn):
    error = refused(
        conn,
        "insert into scenarios (org_id, title, persona, branching, rubric, key_terms)"
        " select org_id, 'Copy', persona, branching, rubric, %s from scenarios where id = %s",
        (["Acme", "ACME"], COLD_CALL),
    )
    assert error.diag.message_primary == 'key_terms is invalid: "ACME" is listed twice'


def test_a_new_version_carries_the_terms(conn):
    second = conn.execute("select new_scenario_version(%s)::text as id", (COLD_CALL,)).fetchone()
    set_terms(conn, second["id"], ["Acme Cloud", "Globex"])
    conn.execute("select publish_scenario(%s)", (second["id"],))
    third = conn.execute("select new_scenario_version(%s)::text as id", (second["id"],)).fetchone()
    row = conn.execute(
        "select key_terms, version, status::text from scenarios where id = %s", (third["id"],)
    ).fetchone()
    assert row == {"key_terms": ["Acme Cloud", "Globex"], "version": 3, "status": "draft"}


def test_a_published_versions_terms_cannot_change(conn):
    error = refused(conn, "update scenarios set key_terms = '{Acme}' where id = %s", (COLD_CALL,))
    assert error.sqlstate == "CD423"
    assert error.diag.message_primary.endswith("cannot be changed (changed: key_terms)")
    # Archived too.
    conn.execute("update scenarios set status = 'archived' where id = %s", (COLD_CALL,))
    error = refused(conn, "update scenarios set key_terms = '{Acme}' where id = %s", (COLD_CALL,))
    assert error.sqlstate == "CD423"
