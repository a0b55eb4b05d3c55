"""What every service process shares: the NATS connection and its link state, its name, signals
(the ops HTTP endpoints are :mod:`shared.ops`)."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import re
import signal
import socket
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import nats.errors
import structlog
from nats.aio.client import Client
from nats.protocol.parser import PERMISSIONS_ERR, STALE_CONNECTION

from shared.settings import Settings

log = structlog.get_logger(__name__)
# what a service says of itself on /readyz and in $SRV stats: (ready, detail)
Readiness = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]


@dataclass
class NatsLink:
    """The state of one process's NATS connection, kept by :func:`connect_nats`'s callbacks.

    ``/healthz`` reads it (:meth:`down_for`): a link lost for more than a few seconds, or
    ``closed`` (nats-py will not reconnect a closed client by itself), means the process should be
    restarted. Times are UTC wall-clock for display; :meth:`down_for` uses the monotonic clock.
    """

    connected_since: datetime | None = None  # when the current connection was made
    lost_since: datetime | None = None  # when the link went down (None while connected)
    last_lost_at: datetime | None = None  # when it last went down (kept after a reconnect)
    reconnects: int = 0
    closed: bool = False  # closed for good: by us (drain/close) or by nats-py giving up
    last_error: str | None = None
    _lost_at: float | None = field(default=None, repr=False)  # monotonic

    def up(self) -> None:
        self.connected_since, self.lost_since, self._lost_at = _now(), None, None

    def down(self) -> None:
        if self.lost_since is None:
            self.lost_since = self.last_lost_at = _now()
            self._lost_at = time.monotonic()

    def down_for(self) -> float:
        """Seconds since the link went down; 0.0 while it is up, infinity once closed."""
        if self.closed:
            return math.inf
        return 0.0 if self._lost_at is None else time.monotonic() - self._lost_at

    def as_dict(self) -> dict[str, Any]:
        def iso(at: datetime | None) -> str | None:
            return None if at is None else at.isoformat()

        return {
            "connected": self.lost_since is None and not self.closed,
            "connected_since": iso(self.connected_since),
            "lost_since": iso(self.lost_since),
            "last_lost_at": iso(self.last_lost_at),
            "reconnects": self.reconnects,
            "closed": self.closed,
        }


class ReconnectingClient(Client):
    """nats-py's client, except that a server ``-ERR`` sends it reconnecting instead of closed.

    nats-py closes the client for good on any ``-ERR`` but a stale connection or a permissions
    violation, e.g. the server's "Maximum Payload Violation" (it checks only the body's size, so a
    publish whose headers push it over gets that far): the process then lives on without NATS.
    Here such an error is handled like a broken socket: reconnect, and nats-py re-sends every
    subscription on the new connection. A permissions violation stays a logged error, and an
    error while the first connection is being made still fails ``connect``.
    """

    async def _process_err(self, err_msg: str) -> None:
        if self.is_connecting or PERMISSIONS_ERR in err_msg or STALE_CONNECTION in err_msg:
            await super()._process_err(err_msg)
            return
        err = nats.errors.Error(f"nats: {err_msg.strip(chr(39))}")
        self._err = err
        await self._error_cb(err)
        await self._process_op_err(err)


_LINKS: weakref.WeakKeyDictionary[Client, NatsLink] = weakref.WeakKeyDictionary()


def link_of(nc: Client) -> NatsLink:
    """The link state of a connection made by :func:`connect_nats` (for any other connection, a
    snapshot of what nats-py says now)."""
    link = _LINKS.get(nc)
    if link is not None:
        return link
    now = NatsLink(closed=nc.is_closed)
    if nc.is_connected:
        now.up()
    else:
        now.down()
    return now


def _now() -> datetime:
    return datetime.now(UTC)


async def connect_nats(settings: Settings, name: str) -> Client:
    """Connect, and keep reconnecting for as long as the process lives; :func:`link_of` tells
    whether the link is up, since when, or since when it is lost."""
    link = NatsLink()

    async def on_error(err: Exception) -> None:
        link.last_error = str(err)[:200]
        log.warning("nats_error", error=str(err))

    async def on_disconnect() -> None:
        link.down()
        log.warning("nats_disconnected")

    async def on_reconnect() -> None:
        link.reconnects += 1
        link.up()
        log.info("nats_reconnected", reconnects=link.reconnects)

    async def on_close() -> None:
        link.down()
        link.closed = True
        log.warning("nats_closed", error=link.last_error)

    password = settings.nats_password.get_secret_value() if settings.nats_password else None
    # each service user gets an inbox prefix of its own, so deploy/nats/accounts.conf can let it
    # publish and subscribe on its own inboxes only (never on other clients' reply subjects)
    inbox = f"_INBOX_{settings.nats_user}" if settings.nats_user else "_INBOX"
    nc = ReconnectingClient()
    await nc.connect(
        [url.strip() for url in settings.nats_url.split(",")],  # a cluster: several seed URLs
        name=name,
        user=settings.nats_user,
        password=password,
        inbox_prefix=inbox,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,  # type: ignore[arg-type]  # nats-py annotates int, sleeps a float
        error_cb=on_error,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        closed_cb=on_close,
    )
    link.up()
    _LINKS[nc] = link
    return nc


async def barrier(nc: Client, within: float = 5.0) -> None:
    """Return once the server has processed everything this connection sent before the call.

    ``nc.flush()`` is not enough in nats-py 2.16: its PING is written to the socket at once while
    earlier SUBs may still wait in the pending buffer, so the PONG can come back before the server
    has seen them (a command bus then answers "no responders" for a moment). A message to our own
    inbox travels behind everything already queued, so its arrival proves the server has it all.
    """
    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, max_msgs=1)
    try:
        await nc.publish(inbox, b"")
        await sub.next_msg(timeout=within)
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


def instance_name(settings: Settings) -> str:
    """This replica's name: ``VHUB_INSTANCE``, else host and process id (safe in consumer names)."""
    name = settings.instance or f"{socket.gethostname()}-{os.getpid()}"
    return re.sub(r"[^A-Za-z0-9_\-]", "_", name)


def stop_on_signals() -> asyncio.Event:
    """An event set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop
