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

import nats
from nats.aio.msg import Msg

from bench.payloads import event_dict, new_aggregate_headers


async def serve(url: str, hub: str, subject: str, concurrency: int = 256) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=10)
    slots = asyncio.Semaphore(concurrency)
    tasks: set[asyncio.Task[None]] = set()

    async def handle(msg: Msg) -> None:
        body = json.loads(msg.data)
        aggregate_id = str(uuid.uuid4())
        command_id = body.get("command_id") or aggregate_id
        event = event_dict(hub, aggregate_id, command_id, body)
        ack = await js.publish(
            f"vhub.evt.{hub}.registry.volunteer.{aggregate_id}",
            json.dumps(event).encode(),
            headers=new_aggregate_headers(hub, command_id, aggregate_id),
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
