"""The keys of personal data in the settings: production refuses every developer default, and only
the registry ever asks for the master key (issue 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.settings import DEV_PII_MASTER_KEY, load_settings

PROD = {
    "env": "production",
    "pii_key": "a-real-pseudonym-secret",
    "database_url": "postgresql+asyncpg://h/db",
}
REAL = "ab" * 32


def test_production_without_a_master_key_starts_but_cannot_give_one() -> None:
    """Dispatch and reporting run without a master key; asking for it (the registry) fails."""
    settings = load_settings(**PROD)
    with pytest.raises(ValueError, match="VHUB_PII_MASTER_KEY"):
        settings.master_key()


def test_production_refuses_the_developer_master_key_and_sealing_off() -> None:
    with pytest.raises(ValidationError, match="VHUB_PII_MASTER_KEY"):
        load_settings(**PROD, pii_master_key=DEV_PII_MASTER_KEY)
    with pytest.raises(ValidationError, match="VHUB_PII_SEALING"):
        load_settings(**PROD, pii_master_key=REAL, pii_sealing=False)


def test_the_master_key_comes_inline_or_from_a_file_as_64_hex_digits(tmp_path: Path) -> None:
    key_file = tmp_path / "master.key"
    key_file.write_text(REAL + "\n")
    assert load_settings(**PROD, pii_master_key_file=key_file).master_key() == bytes.fromhex(REAL)
    assert load_settings(**PROD, pii_master_key=REAL).master_key() == bytes.fromhex(REAL)
    assert load_settings(env="dev").master_key() == bytes.fromhex(DEV_PII_MASTER_KEY)
    with pytest.raises(ValueError, match="64 hex digits"):
        load_settings(**PROD, pii_master_key="short").master_key()
    key_file.write_text(DEV_PII_MASTER_KEY)
    with pytest.raises(ValueError, match="refused in production"):
        load_settings(**PROD, pii_master_key_file=key_file).master_key()
