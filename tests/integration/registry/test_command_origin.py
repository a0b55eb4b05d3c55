"""A stored message the server hands out onto a command subject is never run as a command.

The server checks no right on a request's reply subject (docs/architecture.md §7), so a user may
have a pull from its own consumer, or a direct get of its own subject, answered onto the
registry's command subjects. Here such answers carry a valid command body that the "attacker"
stored on a subject of its own; the registry's bus must drop both and serve nothing.
"""

from __future__ import annotations

import json

from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig
from structlog.testing import capture_logs

from shared.commands import CommandBus
from shared.settings import Settings
from tests.integration.registry.conftest import Send
from tests.support.waiting import eventually


async def test_stored_messages_on_a_command_subject_are_not_commands(
    nc: Client, send: Send, registry: CommandBus, provisioned: Settings
) -> None:
    """A pull delivery and a direct-get answer landing on register_volunteer are dropped."""
    js = nc.jetstream()
    target = "vhub.cmd.registry.register_volunteer"
    own = f"vhub.evt.{provisioned.hub}.dispatch.x.register_volunteer"  # its last token: the command
    body = json.dumps({"full_name": "Nguyễn Văn A", "phone": "0912345678", "birth_date": "1990-01-01"})
    await js.publish(own, body.encode(), stream=provisioned.event_stream)
    await js.add_consumer(
        provisioned.event_stream,
        ConsumerConfig(durable_name="spy", filter_subject=own, ack_policy=AckPolicy.NONE),
    )
    before = registry.served
    with capture_logs() as logs:
        await nc.publish(
            f"$JS.API.CONSUMER.MSG.NEXT.{provisioned.event_stream}.spy", b'{"batch": 1}', reply=target
        )
        await nc.publish(f"$JS.API.DIRECT.GET.{provisioned.event_stream}.{own}", b"", reply=target)
        await nc.flush()

        def dropped() -> int:
            return sum(e["event"] == "command_not_from_a_client" for e in logs)

        await eventually(
            lambda: dropped() == 2, lambda: f"dropped {dropped()}, served {registry.served - before}"
        )
    # and a client's command after them is served as ever
    reply = await send("register_volunteer", {"full_name": "x"})
    assert not reply["accepted"]
    assert registry.served == before + 1
