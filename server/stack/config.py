"""Settings of one local stack: where it listens, which database, which JWT secret, where files go.

The JWT secret is generated once per data directory and kept there (mode 0600), so the anon key
an app has saved keeps working across restarts, like a hosted project's keys.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from server.db.dsn import with_dbname
from server.stack import jwt as stack_jwt
from server.stack.ratelimit import RateLimits

# Only loopback: the stack trusts its own database socket and has no TLS.
HOST = "127.0.0.1"
# GoTrue's default access token lifetime (JWT_EXP).
ACCESS_TOKEN_TTL_S = 3600
# Storage's default global upload limit (50 MB), used when a bucket sets none.
DEFAULT_FILE_SIZE_LIMIT = 50 * 1024 * 1024
# How long a resumable upload may take from creation, as hosted Storage's upload URLs (24 h).
RESUMABLE_UPLOAD_TTL_S = 24 * 3600
# How long a mailed confirmation, recovery or magic-link code works (hosted GoTrue's 1 h).
MAILER_OTP_TTL_S = 3600
# The roles a token may name; anything else is refused before touching the database.
API_ROLES = frozenset({"anon", "authenticated", "service_role"})


def load_or_create_secret(data_dir: Path) -> str:
    """The stack's JWT secret, created on first use and readable only by this user."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "jwt_secret"
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    return secret


@dataclass
class StackConfig:
    """Everything the app factory needs. `database_dsn` is a superuser DSN for the database."""

    database_dsn: str
    data_dir: Path
    jwt_secret: str
    port: int = 54321
    host: str = HOST
    access_token_ttl_s: int = ACCESS_TOKEN_TTL_S
    pool_max_size: int = 10
    # PostgREST's db-pool-acquisition-timeout default.
    pool_acquire_timeout_s: float = 10.0
    idle_in_transaction_timeout_ms: int = 60_000
    resumable_ttl_s: int = RESUMABLE_UPLOAD_TTL_S
    # Score uploaded attempts in the background (server/scoring.py), as pg_cron does on Supabase.
    scoring_worker: bool = True
    # GoTrue's MAILER_AUTOCONFIRM: off, so a sign-up proves it owns its address (server/stack/
    # auth_mail.py) before it can sign in or be linked to a Clerk account.
    mailer_autoconfirm: bool = False
    mailer_otp_ttl_s: int = MAILER_OTP_TTL_S
    # GoTrue's SITE_URL: where a mail's link lands after /verify; redirect_to must start with it.
    site_url: str | None = None
    rate_limits: RateLimits = field(default_factory=RateLimits)
    anon_key: str = field(init=False)
    service_key: str = field(init=False)

    def __post_init__(self) -> None:
        if self.host not in {"127.0.0.1", "localhost", "::1"}:
            raise ValueError("the local stack listens on loopback only")
        self.anon_key = stack_jwt.api_key("anon", self.jwt_secret)
        self.service_key = stack_jwt.api_key("service_role", self.jwt_secret)

    @classmethod
    def for_data_dir(cls, database_dsn: str, data_dir: Path, **kwargs: object) -> StackConfig:
        return cls(database_dsn, data_dir, load_or_create_secret(data_dir), **kwargs)  # type: ignore[arg-type]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def outbox_dir(self) -> Path:
        """Where the mails GoTrue would send are written (server/stack/outbox.py)."""
        return self.data_dir / "outbox"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "storage"

    @property
    def authenticator_dsn(self) -> str:
        """The login role PostgREST uses: it can only become anon/authenticated/service_role."""
        dbname = conninfo_to_dict(self.database_dsn)["dbname"]
        return with_dbname(self.database_dsn, str(dbname), user="authenticator")
