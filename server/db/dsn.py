"""libpq connection strings: the same server, another database or other parameters."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo


def with_dbname(dsn: str, dbname: str, **overrides: str) -> str:
    """`dsn` naming database `dbname` instead, with any other libpq parameters replaced."""
    params = conninfo_to_dict(dsn)
    params["dbname"] = dbname
    params.update(overrides)
    return make_conninfo(**params)
