"""One command contract: every context declares its commands on the pydantic-only base, and the
bus serves a context's whole table by use-case name."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest
from nats.aio.client import Client

from services.dispatch.domain import commands as dispatch_commands
from services.registry.domain import commands as registry_commands
from shared.commands import CommandBus
from shared.contract import Command

TABLES = {"dispatch": dispatch_commands.COMMANDS, "registry": registry_commands.COMMANDS}


@pytest.mark.parametrize("context", sorted(TABLES))
def test_every_command_is_a_shared_command(context: str) -> None:
    """Each command in a context's table carries the shared envelope fields (id, correlation, actor)."""
    for name, model in TABLES[context].items():
        assert issubclass(model, Command), name
        assert {"command_id", "correlation_id", "actor"} <= set(model.model_fields), name


def test_the_schema_shows_the_command_id() -> None:
    """Documentation generated from the domain table shows command_id (idempotency)."""
    assert "command_id" in dispatch_commands.COMMANDS["dispatch_team"].model_json_schema()["properties"]


def test_domain_commands_load_without_nats() -> None:
    """Importing both contexts' commands pulls in neither nats-py nor the bus."""
    code = (
        "import sys, services.registry.domain.commands, services.dispatch.domain.commands;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nats' or m == 'shared.commands'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


class _Teams:
    async def form_team(self, cmd: Command, ctx: object) -> None: ...


def test_a_command_nothing_serves_fails_at_start_up() -> None:
    """``serve`` finds each command's use case by name; a missing one is an error before any message."""
    bus = CommandBus(Client(), "registry", clock=lambda: datetime.now(UTC))
    with pytest.raises(LookupError, match="register_volunteer"):
        bus.serve(registry_commands.COMMANDS, _Teams())
