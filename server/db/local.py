"""The embedded database `make run` uses: a private cluster kept in the user's data directory.

Postgres will not run as root, and root's home is closed to the `postgres` OS user, so when we
are root the cluster lives under /var/lib/coachdesk instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import psycopg

from server.db.cluster import PostgresCluster, free_port
from server.db.dsn import with_dbname
from server.db.migrate import migrate

DATABASE_NAME = "coachdesk"


def default_root() -> Path:
    override = os.environ.get("COACHDESK_PGDATA_ROOT")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/lib/coachdesk/pg15")
    return Path(platformdirs.user_data_dir("coachdesk")) / "pg15"


@dataclass
class LocalDatabase:
    root: Path

    @classmethod
    def default(cls) -> LocalDatabase:
        return cls(default_root())

    @property
    def _state_file(self) -> Path:
        return self.root / "coachdesk.json"

    def _cluster(self) -> PostgresCluster:
        state = json.loads(self._state_file.read_text()) if self._state_file.exists() else {}
        port = state.get("port") or free_port()
        if not state:
            self.root.mkdir(parents=True, exist_ok=True)
            self._state_file.write_text(json.dumps({"port": port}))
        return PostgresCluster(root=self.root, port=port)

    def dsn(self) -> str:
        return self._cluster().dsn(DATABASE_NAME)

    def start(self) -> list[str]:
        """Start the cluster, create and seed the database on first use, apply new migrations."""
        cluster = self._cluster()
        cluster.start()
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", (DATABASE_NAME,)
            ).fetchone()
            if not exists:
                conn.execute(f'create database "{DATABASE_NAME}"')
        return migrate(with_dbname(cluster.dsn(), DATABASE_NAME), seed=not exists)

    def stop(self) -> None:
        self._cluster().stop()

    def running(self) -> bool:
        return self._cluster().running()

    def reset(self) -> None:
        """Throw the whole cluster away; the next start re-creates and re-seeds it."""
        self._cluster().destroy()
