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


def test_pg_cron_reaches_the_server_on_its_socket_also_in_a_cluster_made_by_an_older_version():
    parent = Path(tempfile.mkdtemp(prefix="coachdesk-cluster-test-"))
    os.chmod(parent, 0o755)
    cluster = PostgresCluster(root=parent / "pg", port=free_port(), settings=EPHEMERAL_SETTINGS)
    try:
        cluster.init()
        # What versions before cron.host wrote: pg_cron then dialled localhost, where nothing
        # listens, and every job failed with "connection failed".
        (cluster.data_dir / "postgresql.auto.conf").write_text(
            "shared_preload_libraries = 'pg_cron'\ncron.database_name = 'coachdesk'\n"
        )
        cluster.start()
        with psycopg.connect(cluster.dsn()) as conn:
            host = conn.execute("show cron.host").fetchone()[0]
        assert host == str(cluster.socket_dir)
    finally:
        cluster.destroy()
        parent.rmdir()
