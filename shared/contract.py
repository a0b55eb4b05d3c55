"""The command contract every context's domain declares its commands with: pydantic only.

Domain modules import this, never :mod:`shared.commands` (the bus, which needs nats-py): a command
is a frozen, strictly validated model of what a caller may ask; how it travels is the bus's affair.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from shared.fields import Text

# ids that travel in Msg-Ids and event ids: letters, digits and a few separators, bounded
ID_PATTERN = r"^[A-Za-z0-9._:\-]{1,128}$"


class Command(BaseModel):
    """Base of every command: the fields any command may carry besides its own (idempotency and
    tracing). Unknown fields are refused; surrounding whitespace is stripped."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    command_id: str | None = Field(default=None, pattern=ID_PATTERN)
    correlation_id: str | None = Field(default=None, pattern=ID_PATTERN)
    actor: Text | None = Field(default=None, max_length=128)  # no control or invisible characters

    # Which fields name an aggregate by id, which name a province and which name communes: the hub
    # that receives the command checks that it owns / serves them (shared.ownership, in the bus).
    owned_fields: ClassVar[tuple[str, ...]] = ()
    province_fields: ClassVar[tuple[str, ...]] = ()
    commune_fields: ClassVar[tuple[str, ...]] = ()
