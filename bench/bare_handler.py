"""The baseline command path: a bare nats-py request handler, run as its own process.

It decodes the JSON command, builds one event, appends it with ``Nats-Expected-Last-Subject-Sequence``
(0: a new aggregate) and ``Nats-Msg-Id``, and replies with the stream sequence. A task per message,
bounded like vhub's command bus. Nothing else: the ceiling for any Python command path here.

Usage: ``python -m bench.bare_handler NATS_URL HUB SUBJECT``
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from datetime import UTC, datetime

import nats
from nats.aio.msg import Msg

from shared.envelope import H_EXPECTED_LAST_SUBJECT_SEQ, H_MSG_ID


async def serve(url: str, hub: str, subject: str, concurrency: int = 256) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=10)
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def handle(msg: Msg) -> None:
        body = json.loads(msg.data)
        aggregate_id = str(uuid.uuid4())
        command_id = body.get("command_id") or aggregate_id
        now = datetime.now(UTC).isoformat()
        event = {
            "event_id": str(uuid.uuid4()),
            "event_type": "registry.volunteer_registered",
            "schema_version": 2,
            "aggregate_id": aggregate_id,
            "hub": hub,
            "occurred_at": now,
            "recorded_at": now,
            "command_id": command_id,
            "correlation_id": command_id,
            "causation_id": None,
            "actor": "bench",
            "data": body,
        }
        ack = await js.publish(
            f"vhub.evt.{hub}.registry.volunteer.{aggregate_id}",
            json.dumps(event).encode(),
            headers={H_MSG_ID: f"{hub}:{command_id}:{aggregate_id}:0", H_EXPECTED_LAST_SUBJECT_SEQ: "0"},
        )
        reply = {"accepted": True, "aggregate_id": aggregate_id, "version": ack.seq}
        await msg.respond(json.dumps(reply).encode())

    async def receive(msg: Msg) -> None:
        await slots.acquire()
        task = asyncio.create_task(handle(msg))
        tasks.add(task)
        task.add_done_callback(done)

    def done(task: asyncio.Task[None]) -> None:
        tasks.discard(task)
        slots.release()

    await nc.subscribe(subject, queue="bench", cb=receive, pending_msgs_limit=100_000)
    await nc.flush()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    import signal

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await nc.drain()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], sys.argv[2], sys.argv[3]))
