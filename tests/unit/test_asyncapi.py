"""The committed AsyncAPI document is the one the code generates, and it names every subject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from shared.envelope import H_DLQ_REASON, H_DLQ_SOURCE, H_DLQ_STREAM_SEQ, H_DLQ_SUBJECT
from shared.events import CATALOGUE, load_all
from vhub.asyncapi import command_tables, render

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.json"


def test_the_committed_document_is_the_generated_one() -> None:
    """docs/asyncapi.json equals what the code generates now (``make docs`` rewrites it)."""
    assert COMMITTED.read_text(encoding="utf-8") == render(), "docs/asyncapi.json is stale: run make docs"


def test_every_subject_is_documented_with_its_schemas() -> None:
    """Every command subject (request and reply), the ingest subject, the dead-letter subject with
    its headers, and every event type with its schema version are in the committed document."""
    doc = json.loads(COMMITTED.read_text(encoding="utf-8"))
    assert doc["asyncapi"] == "3.0.0"
    channels, operations = doc["channels"], doc["operations"]
    addresses = {c["address"] for c in channels.values()}
    for context, table in command_tables().items():
        for name, model in table.items():
            key = f"{context}.{name}"
            assert channels[key]["address"] == f"vhub.cmd.{context}.{name}"
            assert operations[key]["reply"]["messages"], key
            assert model.__name__ in doc["components"]["schemas"]
    assert "vhub.ingest.{hub}.activity_reported" in addresses
    dead = doc["components"]["messages"]["DeadLetter"]["headers"]["properties"]
    assert {H_DLQ_REASON, H_DLQ_SOURCE, H_DLQ_SUBJECT, H_DLQ_STREAM_SEQ} <= set(dead)
    assert "vhub.dlq.{hub}.{source}" in addresses
    load_all()
    messages = doc["components"]["messages"]
    for event_type, event_model in CATALOGUE.items():
        version = event_model.schema_version
        assert messages[event_type]["x-schema-version"] == version
        assert messages[event_type]["title"] == f"{event_type} v{version}"
    assert "registry.registration_voided" in messages
    assert "consent" in doc["components"]["schemas"]["RegisterVolunteer"]["properties"]
    _every_ref_resolves(doc, doc)


def _every_ref_resolves(doc: dict[str, Any], node: Any) -> None:
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = doc
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
        for value in node.values():
            _every_ref_resolves(doc, value)
    elif isinstance(node, list):
        for value in node:
            _every_ref_resolves(doc, value)
