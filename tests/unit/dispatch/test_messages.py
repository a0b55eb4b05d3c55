"""The wire models are the domain's commands plus the shared command envelope."""

from __future__ import annotations

from services.dispatch import messages
from services.dispatch.domain.commands import COMMANDS
from shared.commands import Command


def test_every_domain_command_has_its_wire_model() -> None:
    """Each command in the table travels as a shared Command with the same fields."""
    for name, fields in COMMANDS.items():
        wire = getattr(messages, fields.__name__)
        assert issubclass(wire, Command), name
        assert issubclass(wire, fields), name
        assert set(wire.model_fields) == set(fields.model_fields), name


def test_the_schema_shows_the_command_id() -> None:
    """Documentation generated from the domain table shows command_id (idempotency)."""
    assert "command_id" in COMMANDS["dispatch_team"].model_json_schema()["properties"]
