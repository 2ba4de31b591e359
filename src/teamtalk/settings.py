"""One typed settings object. Built at the edge (CLI, tests) and passed in; never at import."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # Storage. Unset means the embedded default: SQLite in the data dir, a private Valkey.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, validation_alias="REDIS_URL")
    redis_prefix: str = Field(default="", validation_alias="TEAMTALK_REDIS_PREFIX")
    data_dir: Path = Field(default=Path(".teamtalk"), validation_alias="TEAMTALK_DATA_DIR")
    secret_key: str | None = Field(default=None, validation_alias="TEAMTALK_SECRET_KEY")

    # HTTP server.
    host: str = Field(default="127.0.0.1", validation_alias="TEAMTALK_HOST")
    port: int = Field(default=8000, validation_alias="TEAMTALK_PORT")
    run_worker: bool = Field(default=True, validation_alias="TEAMTALK_RUN_WORKER")
    # Comma-separated; the server's own origin is always allowed.
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TEAMTALK_ALLOWED_ORIGINS"
    )

    # Transport and hosting (`teamtalk serve`). Host names the server is reached at besides
    # loopback names, IP addresses and the hosts of the allowed origins (comma-separated).
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TEAMTALK_ALLOWED_HOSTS"
    )
    # Reverse proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; empty believes none.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="TEAMTALK_TRUSTED_PROXIES"
    )
    # A connection's request line and headers must be in within this many seconds; a
    # request body within this many seconds of the server's first read of it.
    header_timeout_seconds: float = Field(
        default=10.0, gt=0, validation_alias="TEAMTALK_HEADER_TIMEOUT_SECONDS"
    )
    body_timeout_seconds: float = Field(
        default=15.0, gt=0, validation_alias="TEAMTALK_BODY_TIMEOUT_SECONDS"
    )

    # Accounts.
    default_capacity: int = Field(
        default=4, ge=1, le=50, validation_alias="TEAMTALK_DEFAULT_CAPACITY"
    )
    session_idle_minutes: int = Field(
        default=12 * 60, ge=1, validation_alias="TEAMTALK_SESSION_IDLE_MINUTES"
    )
    session_max_hours: int = Field(
        default=7 * 24, ge=1, validation_alias="TEAMTALK_SESSION_MAX_HOURS"
    )
    login_max_failures_per_account: int = Field(
        default=5, ge=1, validation_alias="TEAMTALK_LOGIN_MAX_FAILURES_PER_ACCOUNT"
    )
    login_max_failures_per_address: int = Field(
        default=20, ge=1, validation_alias="TEAMTALK_LOGIN_MAX_FAILURES_PER_ADDRESS"
    )
    login_throttle_seconds: int = Field(
        default=15 * 60, ge=1, validation_alias="TEAMTALK_LOGIN_THROTTLE_SECONDS"
    )
    # An account's failures are kept this long after the latest, so its backoff holds.
    login_account_memory_seconds: int = Field(
        default=24 * 3600, ge=1, validation_alias="TEAMTALK_LOGIN_ACCOUNT_MEMORY_SECONDS"
    )
    login_backoff_max_seconds: int = Field(
        default=15 * 60, ge=1, validation_alias="TEAMTALK_LOGIN_BACKOFF_MAX_SECONDS"
    )
    login_device_days: int = Field(default=90, ge=1, validation_alias="TEAMTALK_LOGIN_DEVICE_DAYS")

    # Routing.
    worker_batch: int = Field(default=5, ge=1, le=1000, validation_alias="TEAMTALK_WORKER_BATCH")
    worker_min_interval: float = Field(
        default=0.1, gt=0, validation_alias="TEAMTALK_WORKER_MIN_INTERVAL"
    )
    worker_max_interval: float = Field(
        default=30.0, gt=0, validation_alias="TEAMTALK_WORKER_MAX_INTERVAL"
    )
    max_assign_attempts: int = Field(
        default=5, ge=1, validation_alias="TEAMTALK_MAX_ASSIGN_ATTEMPTS"
    )
    # A conversation set aside after repeated failures is retried after this long.
    park_seconds: float = Field(default=60.0, ge=0, validation_alias="TEAMTALK_PARK_SECONDS")
    presence_grace_seconds: float = Field(
        default=60.0, ge=0, validation_alias="TEAMTALK_PRESENCE_GRACE_SECONDS"
    )
    # An assignment not committed within this time is taken back and requeued.
    assignment_lease_seconds: float = Field(
        default=30.0, gt=0, validation_alias="TEAMTALK_ASSIGNMENT_LEASE_SECONDS"
    )
    # A worker's liveness key lives this long and is refreshed every third of it; once it
    # has expired, other workers settle what the worker had in flight.
    worker_liveness_seconds: float = Field(
        default=2.0, gt=0, validation_alias="TEAMTALK_WORKER_LIVENESS_SECONDS"
    )
    status_changes_per_minute: int = Field(
        default=30, ge=1, validation_alias="TEAMTALK_STATUS_CHANGES_PER_MINUTE"
    )
    messages_per_minute: int = Field(
        default=120, ge=1, validation_alias="TEAMTALK_MESSAGES_PER_MINUTE"
    )
    # Budgets per user, across every process: any socket event, and the reads that cost the
    # database most (sync, history, message pages, search), which may come in a short burst.
    socket_events_per_minute: int = Field(
        default=600, ge=1, validation_alias="TEAMTALK_SOCKET_EVENTS_PER_MINUTE"
    )
    reads_per_minute: int = Field(default=120, ge=1, validation_alias="TEAMTALK_READS_PER_MINUTE")
    reads_burst: int = Field(default=20, ge=1, validation_alias="TEAMTALK_READS_BURST")
    max_sockets_per_user: int = Field(
        default=20, ge=1, validation_alias="TEAMTALK_MAX_SOCKETS_PER_USER"
    )
    # Database connections per process (PostgreSQL; SQLite uses one) and how long a request
    # waits for one before it is answered 503 `busy`.
    db_pool_size: int = Field(default=15, ge=1, validation_alias="TEAMTALK_DB_POOL_SIZE")
    db_pool_timeout: float = Field(default=10.0, gt=0, validation_alias="TEAMTALK_DB_POOL_TIMEOUT")
    # A solved conversation the agent writes in within this many minutes is reopened;
    # after it, the conversation is closed.
    reopen_minutes: float = Field(default=30.0, ge=0, validation_alias="TEAMTALK_REOPEN_MINUTES")

    # Monitoring. Service level: the share of requests assigned within each of these waits
    # (seconds, comma-separated, as TaskRouter's split_by_wait_time); a warning once the
    # oldest request has waited longer than `wait_warning_seconds`.
    service_level_seconds: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: [30, 60, 120], validation_alias="TEAMTALK_SERVICE_LEVEL_SECONDS"
    )
    wait_warning_seconds: float = Field(
        default=120.0, gt=0, validation_alias="TEAMTALK_WAIT_WARNING_SECONDS"
    )
    # /metrics answers loopback clients; others only with `Authorization: Bearer <token>`
    # (with no token set, only loopback).
    metrics_token: str | None = Field(default=None, validation_alias="TEAMTALK_METRICS_TOKEN")

    # Logging: "auto" is JSON unless stderr is a terminal.
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias="TEAMTALK_LOG_LEVEL"
    )
    log_format: Literal["auto", "json", "text"] = Field(
        default="auto", validation_alias="TEAMTALK_LOG_FORMAT"
    )

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [o.strip().rstrip("/") for o in value.split(",") if o.strip()]
        return value

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [h.strip().lower() for h in value.split(",") if h.strip()]
        return value

    @field_validator("service_level_seconds", mode="before")
    @classmethod
    def _split_thresholds(cls, value: object) -> object:
        if isinstance(value, str):
            value = [int(t.strip()) for t in value.split(",") if t.strip()]
        if isinstance(value, list):
            if not value or any(int(t) <= 0 for t in value):
                raise ValueError("service level thresholds must be positive seconds")
            return sorted({int(t) for t in value})
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [p.strip() for p in value.split(",") if p.strip()]
        if isinstance(value, list):
            # Checked here: uvicorn quietly treats what it cannot parse as a literal name.
            return [str(ipaddress.ip_network(p, strict=False)) for p in value]
        return value

    @property
    def embedded_database(self) -> bool:
        return self.database_url is None

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url is None

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url is None:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'teamtalk.db').resolve()}"
        return normalize_database_url(self.database_url)

    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and kept in the data dir."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_urlsafe(48)
        path.touch(mode=0o600)
        path.write_text(key)
        return key


def normalize_database_url(url: str) -> str:
    """Accept the plain scheme people paste and pick the async driver we ship."""
    for plain, driver in (
        ("postgres://", "postgresql+asyncpg://"),
        ("postgresql://", "postgresql+asyncpg://"),
        ("sqlite:///", "sqlite+aiosqlite:///"),
    ):
        if url.startswith(plain):
            return driver + url[len(plain) :]
    return url
