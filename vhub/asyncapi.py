"""The AsyncAPI 3.0 document of every vhub subject, built from the code that serves them.

Commands come from the services' route tables (each context's ``COMMANDS``, the table its command
bus serves), with their request schema and the Accepted/Refused reply; the ingest subject from
dispatch's ingest consumer; dead letters with the headers :mod:`shared.deadletter` sets; every event
type of the catalogue with its schema version, inside the envelope it travels in. The committed
``docs/asyncapi.json`` is this document (``make docs`` writes it; a test fails when it differs).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from services.dispatch.domain import commands as dispatch_commands
from services.dispatch.ingest import FACT_TYPE
from services.registry.domain import commands as registry_commands
from services.reporting.consumer import DURABLE as REPORTING_DLQ_SOURCE
from shared import envelope as e
from shared.commands import Accepted, Refused
from shared.contract import Command
from shared.events import CATALOGUE, Event, load_all

TITLE = "vhub: youth-volunteer campaign hub"
VERSION = "0.1.0"
DESCRIPTION = (
    "Commands are NATS request/reply on vhub.cmd.<context>.<command> (queue group <context>), "
    "served by the hub the client is connected to, or on vhub.cmd.<hub>.<context>.<command> for one "
    "hub wherever the client is; the reply is Accepted or Refused (owned_by_other_hub, with the "
    "owner in details, when another hub owns the aggregate or serves the province). Aggregate ids "
    "start with their hub: <hub>-<uuid>. Events are appended to JetStream on "
    "vhub.evt.<hub>.<context>.<aggregate>.<id>, wrapped in an Envelope whose `data` is the "
    "event payload; the event type and schema version are also in headers. Outside systems publish "
    "facts on vhub.ingest.<hub>.<type>; refused messages land on vhub.dlq.<hub>.<source>."
)
# Each context's route table: what its command bus serves, subject name → request model.
ROUTE_TABLES: dict[str, Mapping[str, type[Command]]] = {
    "registry": registry_commands.COMMANDS,
    "dispatch": dispatch_commands.COMMANDS,
}
# Who dead-letters, by the source token of vhub.dlq.<hub>.<source>.
DLQ_SOURCES = {
    "dispatch_ingest": f"ingest facts dispatch refused (vhub.ingest.<hub>.{FACT_TYPE})",
    REPORTING_DLQ_SOURCE: "events reporting could not decode or does not know",
}
HUB = {"hub": {"description": "the provincial hub (its JetStream domain), e.g. hn"}}
REF = "#/components/schemas/{model}"


def command_tables() -> dict[str, dict[str, type[Command]]]:
    """Every context's command table, as its service routes it."""
    return {context: dict(table) for context, table in ROUTE_TABLES.items()}


def _ref(kind: str, name: str) -> dict[str, str]:
    """A reference to a component (``messages``, ``schemas``) or to a channel."""
    where = "channels" if kind == "channels" else f"components/{kind}"
    return {"$ref": f"#/{where}/{name}"}


def _text(doc: str | None, default: str) -> str:
    return " ".join((doc or default).split())


def _headers(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    props = {**required, **(optional or {})}
    return {"type": "object", "properties": props, "required": list(required)}


def _event_message(event_type: str, model: type[Event]) -> dict[str, Any]:
    version = model.schema_version
    payload = {
        "allOf": [
            {"$ref": REF.format(model="Envelope")},
            {
                "type": "object",
                "properties": {
                    "event_type": {"const": event_type},
                    "schema_version": {"const": version},
                    "data": {"$ref": REF.format(model=model.__name__)},
                },
            },
        ]
    }
    headers = _headers(
        {
            e.H_EVENT_TYPE: {"const": event_type},
            e.H_SCHEMA_VERSION: {"const": str(version)},
            e.H_MSG_ID: {"type": "string", "description": "<hub>:<command id>:<n>"},
        },
        {e.H_CORRELATION_ID: {"type": "string"}},
    )
    return {
        "name": event_type,
        "title": f"{event_type} v{version}",
        "description": _text(model.__doc__, event_type),
        "x-schema-version": version,
        "headers": headers,
        "payload": payload,
    }


def _schemas(models: list[type[BaseModel]]) -> dict[str, Any]:
    unique = list(dict.fromkeys(models))
    _, top = models_json_schema([(m, "validation") for m in unique], ref_template=REF)
    defs: dict[str, Any] = top.get("$defs", {})
    return dict(sorted(defs.items()))


def document() -> dict[str, Any]:
    """The whole AsyncAPI document (deterministic: equal code gives equal bytes)."""
    load_all()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {
        "Accepted": {"name": "Accepted", "payload": _ref("schemas", "Accepted")},
        "Refused": {"name": "Refused", "payload": _ref("schemas", "Refused")},
    }
    models: list[type[BaseModel]] = [Accepted, Refused, e.Envelope]
    replies = [_ref("messages", "Accepted"), _ref("messages", "Refused")]
    for context, table in command_tables().items():
        for name, model in table.items():
            key = f"{context}.{name}"
            models.append(model)
            messages[model.__name__] = {
                "name": model.__name__,
                "description": _text(model.__doc__, name),
                "payload": _ref("schemas", model.__name__),
            }
            channels[key] = {
                "address": e.command_subject(context, name),
                "description": f"queue group {context}",
                "messages": {model.__name__: _ref("messages", model.__name__)},
            }
            channels[f"{key}.at_hub"] = {
                "address": e.hub_command_subject("{hub}", context, name),
                "parameters": HUB,
                "description": f"queue group {context} at that hub only",
                "messages": {model.__name__: _ref("messages", model.__name__)},
            }
            channels[f"{key}.reply"] = {
                "address": None,
                "description": "the requester's inbox",
                "messages": {"Accepted": replies[0], "Refused": replies[1]},
            }
            operations[key] = {
                "action": "receive",
                "channel": _ref("channels", key),
                "messages": [_ref("channels", f"{key}/messages/{model.__name__}")],
                "reply": {
                    "address": {"location": "$message.header#/replyTo"},
                    "channel": _ref("channels", f"{key}.reply"),
                    "messages": [
                        _ref("channels", f"{key}.reply/messages/Accepted"),
                        _ref("channels", f"{key}.reply/messages/Refused"),
                    ],
                },
            }
            operations[f"{key}.at_hub"] = {
                **operations[key],
                "channel": _ref("channels", f"{key}.at_hub"),
                "messages": [_ref("channels", f"{key}.at_hub/messages/{model.__name__}")],
            }
    fact = dispatch_commands.COMMANDS["report_activity"]
    messages["IngestActivityReported"] = {
        "name": FACT_TYPE,
        "summary": "a field report from another system: the report_activity command's JSON "
        "(fact_id may stand for command_id); refused facts are dead-lettered with the reason",
        "payload": _ref("schemas", fact.__name__),
    }
    channels[f"ingest.{FACT_TYPE}"] = {
        "address": f"{e.INGEST_PREFIX}.{{hub}}.{FACT_TYPE}",
        "parameters": HUB,
        "description": "JetStream work queue VHUB_INGEST_<HUB>; publish with acks",
        "messages": {"fact": _ref("messages", "IngestActivityReported")},
    }
    operations[f"ingest.{FACT_TYPE}"] = {
        "action": "receive",
        "channel": _ref("channels", f"ingest.{FACT_TYPE}"),
    }
    messages["DeadLetter"] = {
        "name": "dead_letter",
        "summary": "the refused message's body as received, with why and where it came from",
        "contentType": "application/octet-stream",
        "headers": _headers(
            {
                e.H_DLQ_REASON: {"type": "string", "maxLength": 1000},
                e.H_DLQ_SOURCE: {"type": "string", "enum": sorted(DLQ_SOURCES)},
                e.H_DLQ_SUBJECT: {"type": "string", "description": "the subject it was refused on"},
            },
            {
                e.H_DLQ_STREAM_SEQ: {"type": "string", "description": "its sequence in its stream"},
                e.H_MSG_ID: {"type": "string", "description": "dlq:<source>:<stream seq>"},
            },
        ),
        "payload": {"type": "string", "format": "binary"},
    }
    channels["dlq"] = {
        "address": f"{e.DLQ_PREFIX}.{{hub}}.{{source}}",
        "parameters": {
            **HUB,
            "source": {
                "enum": sorted(DLQ_SOURCES),
                "description": "; ".join(f"{k}: {v}" for k, v in sorted(DLQ_SOURCES.items())),
            },
        },
        "description": "stream VHUB_DLQ_<HUB>",
        "messages": {"deadLetter": _ref("messages", "DeadLetter")},
    }
    operations["dlq"] = {"action": "send", "channel": _ref("channels", "dlq")}
    by_context: dict[str, list[str]] = {}
    for event_type, event_model in sorted(CATALOGUE.items()):
        models.append(event_model)
        messages[event_type] = _event_message(event_type, event_model)
        by_context.setdefault(event_type.split(".", 1)[0], []).append(event_type)
    for context, types in by_context.items():
        key = f"events.{context}"
        channels[key] = {
            "address": f"{e.EVT_PREFIX}.{{hub}}.{context}.{{aggregate}}.{{id}}",
            "parameters": {
                **HUB,
                "aggregate": {"description": "the aggregate kind, e.g. volunteer, team"},
                "id": {"description": "the aggregate id"},
            },
            "description": "stream VHUB_EVT_<HUB> (central: VHUB_CENTRAL, sourcing every hub); "
            "one subject per aggregate",
            "messages": {t: _ref("messages", t) for t in types},
        }
        operations[key] = {"action": "send", "channel": _ref("channels", key)}
    return {
        "asyncapi": "3.0.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _schemas(models)},
    }


def render() -> str:
    """The document as committed in docs/asyncapi.json."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
