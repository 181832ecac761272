"""The private cluster: created, started, reachable only on its socket, stopped, removed."""

import os
import tempfile
from pathlib import Path

import psycopg

from server.db.cluster import EPHEMERAL_SETTINGS, PostgresCluster, free_port


def test_cluster_lifecycle():
    # Not pytest's tmp_path: when we are root the server runs as `postgres`, which cannot enter
    # pytest's private (0700) temp root.
    parent = Path(tempfile.mkdtemp(prefix="coachdesk-cluster-test-"))
    os.chmod(parent, 0o755)
    root = parent / "pg"
    cluster = PostgresCluster(root=root, port=free_port(), settings=EPHEMERAL_SETTINGS)
    cluster.start()
    try:
        assert cluster.running()
        with psycopg.connect(cluster.dsn()) as conn:
            version = conn.execute("show server_version_num").fetchone()[0]
            listen = conn.execute("show listen_addresses").fetchone()[0]
            extensions = {r[0] for r in conn.execute("select name from pg_available_extensions")}
        assert version.startswith("15")
        assert listen == ""  # no TCP listener: only the private socket
        assert {"pgcrypto", "pgtap", "pg_cron"} <= extensions
        cluster.start()  # starting a running cluster is a no-op
    finally:
        cluster.stop()
    assert not cluster.running()
    cluster.destroy()
    assert not root.exists()
    parent.rmdir()
