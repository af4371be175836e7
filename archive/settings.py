"""Typed settings, split by area, read from `ARCHIVE_*` environment variables and `secrets_dir`.

Defaults serve the demo (SQLite and generated keys under `./var/`). `ARCHIVE_ENV=production`
refuses demo or weak secrets at start-up (`Settings.problems_for_production`).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from archive.policy.engine import default_policy_dir

DEMO_JWT_SECRET_FILE = "jwt-secret.demo"  # noqa: S105 (a file name, not a secret)
MIN_JWT_SECRET_BYTES = 32


def _secrets_dir() -> Path | None:
    """`ARCHIVE_SECRETS_DIR` names a directory of mounted secrets (one file per setting)."""
    raw = os.environ.get("ARCHIVE_SECRETS_DIR")
    return Path(raw) if raw else None


class _Area(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARCHIVE_", extra="ignore", secrets_dir=_secrets_dir())


class CoreSettings(_Area):
    env: Literal["development", "production", "test"] = Field(
        "development", description="Deployment kind; `production` refuses demo and weak secrets."
    )
    data_dir: Path = Field(
        Path("var"), description="Directory for the SQLite file, local keys and the blob store."
    )
    timezone: str = Field(
        "Asia/Shanghai", description="Company time zone for business dates and deadlines (storage is UTC)."
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        ZoneInfo(value)  # raises for an unknown zone, so a typo fails at start-up
        return value


class DatabaseSettings(_Area):
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL; default is SQLite at `<data_dir>/archive.db`. "
        "PostgreSQL: `postgresql+psycopg://user@host/db`.",
    )
    database_pool_size: int = Field(10, description="Connections per process (PostgreSQL).")
    database_echo: bool = Field(False, description="Log SQL statements (never in production).")


class AuthSettings(_Area):
    jwt_secret: SecretStr | None = Field(
        None, description="HS256 signing secret (≥ 32 bytes). Generated under data_dir for the demo."
    )
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = Field(
        "HS256", description="The one algorithm tokens are signed and accepted with."
    )
    jwt_private_key: SecretStr | None = Field(None, description="PEM private key for RS256/ES256.")
    jwt_public_key: str | None = Field(None, description="PEM public key for RS256/ES256.")
    jwt_issuer: str = Field("customer-archive", description="`iss` claim issued and required.")
    jwt_audience: str = Field("customer-archive-api", description="`aud` claim issued and required.")
    token_ttl_seconds: int = Field(3600, description="Lifetime of an access token.", gt=0, le=86400)
    oidc_issuer: str | None = Field(None, description="External OpenID Connect issuer accepted too.")
    oidc_jwks_url: str | None = Field(None, description="JWKS URL of the external issuer.")
    oidc_audience: str | None = Field(None, description="Audience required on external tokens.")
    oidc_algorithm: Literal["RS256", "ES256"] = Field("RS256", description="Algorithm of external tokens.")
    login_attempts_per_user: str = Field(
        "5/minute;20/hour;100/day",
        description="Failed logins allowed per (username, address) before 429; longer windows give growing back-off.",
    )
    login_attempts_per_address: str = Field(
        "30/minute;200/hour;1000/day", description="Failed logins allowed per client address before 429."
    )
    rate_limit_storage: str = Field(
        "memory://", description="`limits` storage URI; use redis:// when several processes serve."
    )
    argon2_time_cost: int = Field(3, description="Argon2id iterations.", ge=1)
    argon2_memory_cost: int = Field(65536, description="Argon2id memory in KiB.", ge=8)
    argon2_parallelism: int = Field(4, description="Argon2id lanes.", ge=1)


class ServerSettings(_Area):
    log_format: Literal["json", "console"] | None = Field(
        None, description="Log rendering; default JSON in production, console otherwise."
    )
    log_level: str = Field("INFO", description="Minimum log level.")
    max_upload_bytes: int = Field(200 * 1024 * 1024, description="Largest accepted upload (413 above).")
    demo_password: SecretStr | None = Field(
        None, description="Password of every demo user; generated and printed when unset."
    )
    trust_proxy_headers: bool = Field(
        False, description="Take the client address from X-Forwarded-For (behind a trusted proxy only)."
    )


class WorkerSettings(_Area):
    worker_tick_seconds: float = Field(60.0, description="Interval of the scheduler's job tick.", gt=0)


class PolicySettings(_Area):
    policy_dir: Path | None = Field(
        None, description="Directory of the access-policy files; default `policies/` of the installation."
    )
    policy_poll_seconds: float = Field(
        2.0, description="How often each serving process looks for a newer policy release and reloads.", gt=0
    )


class BlobSettings(_Area):
    blob_store: Literal["fs", "s3"] = Field(
        "fs", description="Where encrypted document blobs live: `fs` under `<data_dir>/blobs`, or `s3`."
    )
    document_max_bytes: int = Field(
        100 * 1024 * 1024, description="Largest document accepted (413 above); the request body limit "
        "ARCHIVE_MAX_UPLOAD_BYTES must leave room for it.", gt=0
    )
    s3_endpoint: str | None = Field(None, description="S3 endpoint URL, e.g. `https://s3.example.cn:9000`.")
    s3_bucket: str | None = Field(None, description="Bucket of the blobs (must exist).")
    s3_prefix: str = Field("documents/", description="Key prefix of the blobs inside the bucket.")
    s3_region: str = Field("us-east-1", description="Region used to sign requests.")
    s3_access_key: SecretStr | None = Field(None, description="S3 access key id.")
    s3_secret_key: SecretStr | None = Field(None, description="S3 secret access key.")


# Well-known default credentials of S3-compatible servers; never in production.
DEMO_S3_SECRETS = frozenset({"minioadmin", "minio123", "admin", "password", "secret", "changeme", "test"})


class Settings:
    """All areas together; each area reads its own `ARCHIVE_*` variables."""

    def __init__(self) -> None:
        self.core = CoreSettings()
        self.database = DatabaseSettings()
        self.auth = AuthSettings()
        self.server = ServerSettings()
        self.worker = WorkerSettings()
        self.policy = PolicySettings()
        self.blobs = BlobSettings()

    @property
    def production(self) -> bool:
        return self.core.env == "production"

    @cached_property
    def data_dir(self) -> Path:
        return self.core.data_dir.resolve()

    @property
    def database_url(self) -> str:
        if self.database.database_url:
            return self.database.database_url
        return f"sqlite:///{self.data_dir / 'archive.db'}"

    @property
    def policy_dir(self) -> Path:
        return (self.policy.policy_dir or default_policy_dir()).resolve()

    @property
    def blobs_dir(self) -> Path:
        return self.data_dir / "blobs"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.core.timezone)

    def jwt_signing_secret(self) -> str:
        """The configured HS256 secret, or the demo secret generated under data_dir."""
        if self.auth.jwt_secret is not None:
            return self.auth.jwt_secret.get_secret_value()
        path = self.keys_dir / DEMO_JWT_SECRET_FILE
        if not path.exists():
            from secrets import token_urlsafe

            self.keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(token_urlsafe(48))
        return path.read_text().strip()

    def problems_for_production(self) -> list[str]:
        """Why this configuration must not serve production; empty when it may."""
        problems: list[str] = []
        auth = self.auth
        if auth.jwt_algorithm == "HS256":
            secret = auth.jwt_secret.get_secret_value() if auth.jwt_secret else ""
            if not secret:
                problems.append("ARCHIVE_JWT_SECRET is unset (the demo generates one; production must not)")
            elif len(secret.encode()) < MIN_JWT_SECRET_BYTES or len(set(secret)) < 8:
                problems.append(f"ARCHIVE_JWT_SECRET is weak: use ≥ {MIN_JWT_SECRET_BYTES} random bytes")
        elif not (auth.jwt_private_key and auth.jwt_public_key):
            problems.append("ARCHIVE_JWT_PRIVATE_KEY and ARCHIVE_JWT_PUBLIC_KEY are required for RS256/ES256")
        if self.server.demo_password is not None:
            problems.append("ARCHIVE_DEMO_PASSWORD is set: demo credentials have no place in production")
        if not self.database.database_url:
            problems.append("ARCHIVE_DATABASE_URL is unset: production runs on PostgreSQL, not the demo SQLite")
        if (self.keys_dir / DEMO_JWT_SECRET_FILE).exists() and auth.jwt_secret is None:
            problems.append("a generated demo JWT secret is present under ARCHIVE_DATA_DIR/keys")
        problems += self._blob_store_problems()
        return problems

    def _blob_store_problems(self) -> list[str]:
        blobs = self.blobs
        if blobs.blob_store != "s3":
            return []
        problems = [f"ARCHIVE_S3_{name.upper()} is unset (ARCHIVE_BLOB_STORE=s3)"
                    for name in ("endpoint", "bucket") if not getattr(blobs, f"s3_{name}")]
        for name in ("access_key", "secret_key"):
            value = getattr(blobs, f"s3_{name}")
            secret = value.get_secret_value() if value is not None else ""
            if not secret:
                problems.append(f"ARCHIVE_S3_{name.upper()} is unset (ARCHIVE_BLOB_STORE=s3)")
            elif secret.lower() in DEMO_S3_SECRETS or (name == "secret_key" and len(secret) < 16):
                problems.append(f"ARCHIVE_S3_{name.upper()} is a demo or weak value")
        return problems
