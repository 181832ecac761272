"""Database fixtures' engine: a fresh, migrated database for one test session.

The tests' and benchmarks' single import for databases. The functions themselves are
production code (the demo and the typegen use them too), so they live in server/db/scratch.py
and server/db/dsn.py; no production module imports this one (tests/server/test_import_rules.py).
"""

from __future__ import annotations

from server.db.dsn import with_dbname
from server.db.scratch import database_beside, migrated_database, server_dsn

__all__ = ["database_beside", "migrated_database", "server_dsn", "with_dbname"]
