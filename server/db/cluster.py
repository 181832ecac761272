"""A private PostgreSQL 15 cluster that the project starts and stops itself.

Tests put it in a temporary directory; `make run` keeps it under the user data dir. Postgres
refuses to run as root, so when we are root the cluster runs as the `postgres` OS user. The
server listens on a Unix socket only, in a directory nobody else can enter, so `trust` auth on
that socket admits only this user (and root).

pg_cron runs each job over an ordinary libpq connection to `cron.host` (default `localhost`,
which has no listener here), so it is pointed at the socket directory. That, rather than
`cron.use_background_workers`, keeps jobs in ordinary sessions like any other client's (the same
`trust` socket, nothing else to configure) and leaves `max_worker_processes` to parallel query.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)

PG_MAJOR = 15
_BINDIR_CANDIDATES = (Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin"),)

# Settings for a cluster nobody depends on surviving a power cut (tests, benchmarks).
EPHEMERAL_SETTINGS = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


class ClusterError(RuntimeError):
    """The private cluster could not be created, started or stopped."""


def find_bindir() -> Path:
    """Locate PostgreSQL 15's server binaries (Debian's postgresql-15 package)."""
    override = os.environ.get("COACHDESK_PG_BINDIR")
    for candidate in ([Path(override)] if override else []) + list(_BINDIR_CANDIDATES):
        if (candidate / "pg_ctl").exists() and (candidate / "initdb").exists():
            return candidate
    raise ClusterError(
        f"PostgreSQL {PG_MAJOR} server binaries not found. Install Debian's postgresql-{PG_MAJOR} "
        "(`make sysdeps` does it) or set COACHDESK_PG_BINDIR, or set DATABASE_URL to use an "
        "existing server."
    )


def free_port() -> int:
    """A TCP port number nobody is listening on; also names the Unix socket file."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresCluster:
    """One private cluster: a data directory, a socket directory and a port."""

    root: Path
    port: int
    settings: dict[str, str] | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    @property
    def log_file(self) -> Path:
        return self.root / "postgres.log"

    def dsn(self, dbname: str = "postgres", user: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} dbname={dbname} user={user}"

    # -- lifecycle -------------------------------------------------------------------------

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the data directory with initdb (idempotent)."""
        if self.initialized():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._hand_to_os_user()
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth-local=trust",
            "--auth-host=reject",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        self._write_settings()
        log.info("postgres.initialized", data_dir=str(self.data_dir))

    def running(self) -> bool:
        if not self.initialized():
            return False
        result = self._run("pg_ctl", "status", "-D", str(self.data_dir), check=False)
        return result.returncode == 0

    def start(self) -> None:
        """initdb if needed, then start the server and wait until it accepts connections."""
        self.init()
        # Also for a running cluster: settings added by a newer version (cron.host) then take
        # effect at its next restart instead of never.
        self._write_settings()
        if self.running():
            return
        self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.log_file),
            "-o",
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=''",
        )
        log.info("postgres.started", port=self.port, socket_dir=str(self.socket_dir))

    def stop(self) -> None:
        if self.running():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.data_dir))
            log.info("postgres.stopped", data_dir=str(self.data_dir))

    def destroy(self) -> None:
        with contextlib.suppress(ClusterError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- internals -------------------------------------------------------------------------

    def _write_settings(self) -> None:
        settings = {
            "shared_preload_libraries": "'pg_cron'" if _has_pg_cron() else "''",
            "cron.database_name": "'coachdesk'",
            "cron.host": _quote(str(self.socket_dir)),
            "max_connections": "100",
            "timezone": "'UTC'",
        }
        settings.update({k: v for k, v in (self.settings or {}).items()})
        conf = "".join(f"{key} = {value}\n" for key, value in settings.items())
        target = self.data_dir / "postgresql.auto.conf"
        target.write_text("# Written by Coachdesk's private cluster manager.\n" + conf)
        self._hand_to_os_user(target)

    def _hand_to_os_user(self, path: Path | None = None) -> None:
        """When root, the postgres OS user must own the cluster's files."""
        user = _server_os_user()
        if user is None:
            return
        entry = pwd.getpwnam(user)
        targets = [path] if path else [self.root, self.data_dir, self.socket_dir]
        for target in targets:
            os.chown(target, entry.pw_uid, entry.pw_gid)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(find_bindir() / tool), *args]
        user = _server_os_user()
        if user is not None:
            command = ["runuser", "-u", user, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/", check=False)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip()
            if self.log_file.exists():
                detail += "\n" + self.log_file.read_text(errors="replace")[-2000:]
            raise ClusterError(f"{tool} failed ({result.returncode}): {detail}")
        return result


def _quote(value: str) -> str:
    """A string setting as postgresql.conf spells it."""
    return "'" + value.replace("'", "''") + "'"


def _server_os_user() -> str | None:
    """The OS user the server must run as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise ClusterError(
            "Running as root, but there is no 'postgres' OS user to run the server as. "
            "Install Debian's postgresql-15 package, which creates it."
        ) from exc
    return "postgres"


def _has_pg_cron() -> bool:
    try:
        libdir = find_bindir().parent / "lib"
    except ClusterError:
        return False
    return (libdir / "pg_cron.so").exists()
