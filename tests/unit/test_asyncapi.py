"""The AsyncAPI document names every command and every event, so integrators need no code."""

from __future__ import annotations

from shared.events import CATALOGUE, load_all
from vhub.asyncapi import command_tables, document


def test_every_command_and_event_type_is_documented() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    titles = set(doc["channels"])
    for context, table in command_tables().items():
        for name in table:
            assert f"vhub.cmd.{context}.{name}" in addresses
    load_all()
    assert set(CATALOGUE) <= titles
    schemas = doc["components"]["schemas"]
    assert "RegisterVolunteer" in schemas
    assert "consent" in schemas["RegisterVolunteer"]["properties"]
