"""Long transactions (issue 15, item 6): the API roles run under hosted Supabase's statement
timeouts, and the sync watermark is held back only by transactions that can write this
database's rows.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from db_support import Seed
from psycopg.conninfo import conninfo_to_dict

from server.db.testing import with_dbname

HOSTED_TIMEOUTS = {"anon": "3s", "authenticated": "8s", "authenticator": "8s"}


def test_the_api_roles_have_hosted_supabases_statement_timeouts(admin_conn):
    rows = admin_conn.execute(
        "select r.rolname, c.cfg from pg_db_role_setting s join pg_roles r on r.oid = s.setrole"
        " cross join unnest(s.setconfig) as c (cfg)"
        " where s.setdatabase = 0 and c.cfg like 'statement_timeout=%%'"
    ).fetchall()
    assert {r["rolname"]: r["cfg"].split("=", 1)[1] for r in rows} == HOSTED_TIMEOUTS


def test_an_api_login_runs_under_the_timeout(api):
    """The pools log in as authenticator: its setting applies from the first statement."""
    conn = api.become(Seed.claims("trainee"))
    assert conn.execute("show statement_timeout").fetchone() == {"statement_timeout": "8s"}


@pytest.fixture
def elsewhere(database_dsn: str) -> Iterator[psycopg.Connection]:
    """A connection to another database of the same cluster."""
    with psycopg.connect(with_dbname(database_dsn, "postgres")) as conn:
        yield conn
        conn.rollback()


def _xid(conn: psycopg.Connection) -> int:
    """Give the connection's open transaction an id (as its first write would)."""
    return int(conn.execute("select pg_current_xact_id()::text::bigint").fetchone()[0])


def _advance(database_dsn: str, count: int = 3) -> int:
    """Commit a few transactions here, so later ids exist and have committed."""
    with psycopg.connect(database_dsn, autocommit=True) as conn:
        return max(_xid(conn) for _ in range(count))


def _watermark(api) -> int:
    conn = api.become(Seed.claims("trainee"))
    return int(conn.execute("select sync_watermark() as w").fetchone()["w"])


def test_a_long_transaction_in_another_database_does_not_hold_the_watermark(
    api, database_dsn, elsewhere
):
    assert conninfo_to_dict(database_dsn)["dbname"] != "postgres"
    stuck = _xid(elsewhere)  # open, with an id, for as long as the test runs
    committed = _advance(database_dsn)
    assert _watermark(api) > committed > stuck


def test_a_long_transaction_here_still_holds_the_watermark(api, database_dsn):
    """Its rows may commit behind the cursor: pulls must wait for it (sync/pull.py)."""
    with psycopg.connect(database_dsn) as open_here:
        stuck = _xid(open_here)
        _advance(database_dsn)
        assert _watermark(api) <= stuck
        open_here.rollback()
    assert _watermark(api) > stuck
