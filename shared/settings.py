"""One validated settings object (prefix ``VHUB_``), built once and passed down.

Nothing else in vhub reads ``os.environ``: the composition roots call :func:`load_settings`.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PII_KEY = "vhub-dev-only-pseudonym-key"
# 32 bytes, hex: the key-encryption key of the developer stack (production refuses it)
DEV_PII_MASTER_KEY = "00" * 16 + "d5" * 16
HUB_RE = re.compile(r"^[a-z][a-z0-9]{1,15}$")


class Settings(BaseSettings):
    """Every knob vhub has. Defaults are the embedded developer stack."""

    model_config = SettingsConfigDict(env_prefix="VHUB_", extra="ignore", frozen=True)

    env: Literal["dev", "test", "production"] = "dev"
    hub: str = Field(default="hn", description="This deployment's hub code (owns its aggregates).")
    # a hub of deploy/hubs.toml runs linked (refuses other hubs' provinces and pre-prefix ids are
    # central's: shared/ownership.py) unless it is the only hub, as the single-hub `vhub dev` is
    standalone: bool = False
    nats_url: str = "nats://127.0.0.1:4222"
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    event_stream: str = ""  # default derived from the hub: VHUB_EVT_<HUB>
    read_stream: str = ""  # what projections consume; default the hub's stream (central: VHUB_CENTRAL)
    dlq_stream: str = ""  # default VHUB_DLQ_<HUB>
    ingest_stream: str = ""  # default VHUB_INGEST_<HUB>
    stream_replicas: int = Field(default=1, ge=1, le=5)
    duplicate_window_s: float = Field(default=120.0, gt=0)
    database_url: str = "sqlite+aiosqlite:///vhub-reporting.db"
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=0, le=65535)
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # the keyed pseudonyms (phone claims, duplicate checks): the SAME secret at every hub, so
    # central can compare pseudonyms across hubs without any key of its own
    pii_key: SecretStr = SecretStr(DEV_PII_KEY)
    # the hub's key-encryption key: wraps each volunteer's data key in the key bucket (32 bytes
    # as 64 hex digits), given inline or in a file (a mounted secret); see docs/architecture.md
    # Only the registry asks for it (:meth:`master_key`): dispatch and reporting never hold one.
    pii_master_key: SecretStr | None = None
    pii_master_key_file: Path | None = None
    keys_bucket: str = ""  # default derived from the hub: VHUB_KEYS_<HUB>
    # off only to measure what sealing costs (bench/commands.py): personal fields then go to the
    # log in plaintext, as before issue 12; production refuses it
    pii_sealing: bool = True
    # data keys each registry replica keeps ready, already written (services/registry/keypool.py);
    # 0: each registration writes its own key first (before issue 14)
    key_pool_size: int = Field(default=512, ge=0, le=100_000)
    command_concurrency: int = Field(default=256, ge=1, le=10_000)
    occ_retries: int = Field(default=5, ge=0, le=50)
    snapshot_cache_size: int = Field(default=20_000, ge=0)  # per aggregate kind
    # diagnosis only: where a service writes what holds its memory (shared/heapprofile.py)
    heap_profile_dir: Path | None = None
    publish_timeout_s: float = Field(default=5.0, gt=0)
    campaign_start: date = date(2025, 7, 1)
    campaign_end: date = date(2025, 8, 31)
    clock_skew_s: float = Field(default=300.0, ge=0)
    checkin_grace_min: int = Field(default=60, ge=0)
    readiness_max_lag: int = Field(default=1_000, ge=0)
    reporting_batch_size: int = Field(default=500, ge=1, le=10_000)  # events per fetch and transaction
    # dispatch: the clock ("system", a fixed ISO time, or "running:<ISO time>"; see
    # services/dispatch/clock.py), this replica's name, and the rules' knobs
    clock: str = "system"
    instance: str = Field(default="", pattern=r"^[A-Za-z0-9_\-]{0,64}$")
    provision_streams: bool = False  # create/update the hub's streams at start (dev only)
    shift_min_minutes: int = Field(default=60, ge=1)
    shift_max_hours: int = Field(default=12, ge=1, le=24)
    rotation_max_days: int = Field(default=62, ge=1, le=366)
    report_limits: dict[str, int] = Field(default_factory=dict)  # over the built-in defaults

    @model_validator(mode="after")
    def _derive_and_refuse_unsafe(self) -> Self:
        if not HUB_RE.match(self.hub):
            raise ValueError(f"hub must match {HUB_RE.pattern}: got {self.hub!r}")
        hub_upper = self.hub.upper()
        if not self.event_stream:
            object.__setattr__(self, "event_stream", f"VHUB_EVT_{hub_upper}")
        if not self.read_stream:
            object.__setattr__(self, "read_stream", self.event_stream)
        if not self.dlq_stream:
            object.__setattr__(self, "dlq_stream", f"VHUB_DLQ_{hub_upper}")
        if not self.ingest_stream:
            object.__setattr__(self, "ingest_stream", f"VHUB_INGEST_{hub_upper}")
        if not self.keys_bucket:
            object.__setattr__(self, "keys_bucket", f"VHUB_KEYS_{hub_upper}")
        if self.campaign_end < self.campaign_start:
            raise ValueError("campaign_end is before campaign_start")
        if self.env == "production":
            if self.pii_key.get_secret_value() == DEV_PII_KEY:
                raise ValueError("VHUB_PII_KEY must be set to a secret in production")
            if self.pii_master_key and self.pii_master_key.get_secret_value() == DEV_PII_MASTER_KEY:
                raise ValueError("VHUB_PII_MASTER_KEY must be set to a secret in production")
            if not self.pii_sealing:
                raise ValueError("production seals personal data: VHUB_PII_SEALING cannot be off")
            if self.database_url.startswith("sqlite"):
                raise ValueError("production needs VHUB_DATABASE_URL pointing at PostgreSQL")
        return self

    def master_key(self) -> bytes:
        """The key-encryption key (32 bytes): inline, from the file, or the developer key outside
        production (where it is refused: the registry cannot start without a real one)."""
        if self.pii_master_key_file is not None:
            text = self.pii_master_key_file.read_text().strip()
        elif self.pii_master_key is not None:
            text = self.pii_master_key.get_secret_value()
        elif self.env != "production":
            text = DEV_PII_MASTER_KEY
        else:
            raise ValueError("production needs VHUB_PII_MASTER_KEY or VHUB_PII_MASTER_KEY_FILE")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
            raise ValueError("the PII master key must be 32 bytes written as 64 hex digits")
        if self.env == "production" and text == DEV_PII_MASTER_KEY:
            raise ValueError("the developer PII master key is refused in production")
        return bytes.fromhex(text)


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, with explicit overrides (tests, CLI flags) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]  # pydantic-settings accepts field kwargs
