"""A hub's services and a load of commands for the fault tests: registry and dispatch each under
its own NATS user (as production runs them), registrations sent many at a time with a resend of
the same ``command_id`` on a timeout (so a lost reply never doubles an event), dispatch's whole
flow."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import nats.errors
from nats.aio.client import Client

from shared.hubs import provinces_of
from shared.natsserver import die_with_parent, free_port
from shared.refdata import communes_of
from tests.support.leafnodes import secrets
from tests.support.waiting import eventually

CLOCK = "2025-07-10T12:00:00+07:00"  # dispatch's clock (VHUB_CLOCK): inside the campaign


@dataclass
class Services:
    """Registry and dispatch processes at one hub, and where their ops endpoints answer."""

    hub: str
    http: dict[str, str] = field(default_factory=dict)  # service -> base URL
    procs: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def ready(self, service: str) -> dict[str, Any]:
        async with httpx.AsyncClient(base_url=self.http[service], timeout=5) as client:
            response = await client.get("/readyz")
            body: dict[str, Any] = response.json()
            return {**body, "status": response.status_code}

    async def dispatch_has_seen(self, seq: int) -> bool:
        """Dispatch's facts projection has applied the hub's log up to ``seq``."""
        return int((await self.ready("dispatch")).get("facts_position", 0)) >= seq


def _env(hub: str, url: str, user: str, port: int, tmp: Path, replicas: int) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "VHUB_ENV": "test",
        "VHUB_HUB": hub,
        "VHUB_NATS_URL": url,
        "VHUB_NATS_USER": user,
        "VHUB_NATS_PASSWORD": secrets()[f"VHUB_{user.upper()}_PASSWORD"],
        "VHUB_HTTP_HOST": "127.0.0.1",
        "VHUB_HTTP_PORT": str(port),
        "VHUB_LOG_FORMAT": "json",
        "VHUB_LOG_LEVEL": "warning",
        "VHUB_STREAM_REPLICAS": str(replicas),
        "VHUB_CLOCK": CLOCK,
        "VHUB_INSTANCE": "1",  # replica slot 1: the accounts files list per-slot consumer names
        "VHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp / 'unused.db'}",
    }


@contextlib.asynccontextmanager
async def hub_services(hub: str, url: str, tmp: Path, replicas: int = 3) -> AsyncIterator[Services]:
    """``python -m services.registry`` and ``python -m services.dispatch`` at ``hub`` (``url``: its
    server, or every central node), each as its own NATS user, as production runs them."""
    services = Services(hub)
    try:
        for service in ("registry", "dispatch"):
            port = free_port()
            log = _log_file(tmp / f"{service}.log")
            try:
                services.procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable,
                        "-m",
                        f"services.{service}",
                        env=_env(hub, url, service, port, tmp, replicas),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                        preexec_fn=die_with_parent(),
                    )
                )
            finally:
                os.close(log)  # the child has its own copy
            services.http[service] = f"http://127.0.0.1:{port}"

        async def all_ready() -> bool:
            for proc in services.procs:
                assert proc.returncode is None, f"a service at {hub} exited: see {tmp}"
            with contextlib.suppress(httpx.HTTPError):
                return all([(await services.ready(s))["status"] == 200 for s in services.http])
            return False

        await eventually(all_ready, f"registry and dispatch ready at {hub}", 90)
        yield services
    finally:
        for proc in services.procs:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
        for proc in services.procs:
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def _log_file(path: Path) -> int:
    """A file descriptor for a service's output (the child keeps its own copy)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


def volunteer(hub: str, i: int) -> dict[str, Any]:
    """Registration ``i`` at ``hub``: in a province the hub serves, a phone unique at the hub."""
    province = provinces_of(hub)[0]
    return {
        "full_name": f"Tình nguyện viên {hub} {i:06d}",
        "phone": f"09{i:08d}",
        "birth_date": "2002-03-04",
        "province_code": province,
        "commune_code": communes_of(province)[0].code,
        "affiliation": "student_association",
        "skills": ["digital skills"],
        "consent": True,
        "command_id": f"{hub}-reg-{i}",
    }


@dataclass
class Tally:
    """What a load sent and got back."""

    sent: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    resends: list[int] = field(default_factory=lambda: [0])  # a counter ask() can bump
    gave_up: int = 0


async def ask(
    nc: Client,
    subject: str,
    body: dict[str, Any],
    *,
    give_up_s: float = 120.0,
    resends: list[int] | None = None,
) -> dict[str, Any] | None:
    """A command, resent with the same ``command_id`` on a timeout, no responders (a node failing
    over, a service starting) or ``internal_error`` (the service could not record it: "safe to
    send it again") until ``give_up_s``; None when it never got an answer. ``resends`` counts."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_s
    payload = json.dumps(body).encode()
    while True:
        try:
            reply = await nc.request(subject, payload, timeout=10)
            out: dict[str, Any] = json.loads(reply.data)
            if out.get("code") != "internal_error":
                return out
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            pass
        if loop.time() >= deadline:
            return None
        if resends is not None:
            resends[0] += 1
        await asyncio.sleep(0.05)  # before a resend; bounded by the deadline


async def register_many(
    nc: Client, hub: str, first: int, count: int, tally: Tally, in_flight: int = 64
) -> None:
    """``count`` registrations at ``hub`` starting at number ``first``, ``in_flight`` at a time."""
    sem = asyncio.Semaphore(in_flight)

    async def one(i: int) -> None:
        async with sem:
            tally.sent += 1
            reply = await ask(
                nc, "vhub.cmd.registry.register_volunteer", volunteer(hub, i), resends=tally.resends
            )
            if reply is None:
                tally.gave_up += 1
            elif reply.get("accepted"):
                tally.accepted.append(reply)
            else:
                tally.refused.append(reply)

    await asyncio.gather(*(one(i) for i in range(first, first + count)))


async def dispatch_flow(
    nc: Client, hub: str, n: int, services: Services, last_seq: Callable[[], Awaitable[int]]
) -> list[str]:
    """Form a team with a member, register a service point, then dispatch, check in, report and
    check out: registry and dispatch both write. Returns the dispatch's events' command ids."""
    province = provinces_of(hub)[0]
    commune = communes_of(province)[0].code
    tag = f"{hub}-flow-{n}"

    async def must(context: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await ask(nc, f"vhub.cmd.{context}.{name}", {**body, "command_id": f"{tag}-{name}"})
        assert reply is not None, (name, "no reply")
        assert reply.get("accepted"), (name, reply)
        return reply

    place = {"province_code": province, "commune_code": commune}
    vol = await must("registry", "register_volunteer", {**volunteer(hub, 900_000 + n), "command_id": ""})
    team = await must(
        "registry",
        "form_team",
        {"name": f"Đội hình {tag}", "focus": "digital_skills", "organisation": "Đoàn xã", **place},
    )
    await must(
        "registry", "add_team_member", {"team_id": team["aggregate_id"], "volunteer_id": vol["aggregate_id"]}
    )
    point = await must(
        "registry",
        "register_service_point",
        {"name": f"Điểm một cửa {tag}", "kind": "commune_one_stop", **place},
    )
    seq = await last_seq()
    await eventually(lambda: services.dispatch_has_seen(seq), f"dispatch at {hub} sees the team", 30)
    shift = {
        "team_id": team["aggregate_id"],
        "service_point_id": point["aggregate_id"],
        "starts_at": "2025-07-10T08:00:00+07:00",
        "ends_at": "2025-07-10T12:00:00+07:00",
    }
    did = (await must("dispatch", "dispatch_team", shift))["result"]["dispatch_id"]
    await must("dispatch", "check_in", {"dispatch_id": did, "at": "2025-07-10T08:05:00+07:00"})
    await must("dispatch", "report_activity", {"dispatch_id": did, "people_supported": 7})
    await must("dispatch", "check_out", {"dispatch_id": did, "at": "2025-07-10T11:55:00+07:00"})
    return [did]
