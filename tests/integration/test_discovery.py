"""Every service instance answers the NATS micro-service protocol, and ``vhub status`` reads it.

A nats-server of the test's own (so no other test's instances answer ``$SRV``), the three services
started through their composition roots in this process, and ``vhub status`` as a real process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from services.dispatch.clock import ManualClock
from services.dispatch.domain.model import LOCAL_TZ
from services.registry import app as registry_app
from services.registry.app import RegistryApp
from services.reporting.app import ReportingApp
from shared.discovery import Discovery
from shared.hosting import App, hosted
from shared.natsserver import NatsServer, start_nats_server
from shared.settings import Settings, load_settings
from shared.streams import provision
from shared.survey import gather
from tests.support.leafnodes import central_config, hub_config, secrets, start_configured_server
from tests.support.waiting import eventually, free_port

HUB = "disc"
CENTRAL_ARGS = ("--json", "--interval", "0.2", "--expect", "registry@hcm")
TEAM = {
    "name": "Đội hình số Ba Đình",
    "province_code": "01",
    "focus": "digital_skills",
    "organisation": "Đoàn phường Ba Đình",
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NatsServer]:
    srv = start_nats_server(tmp_path / "nats", sync_always=False)
    try:
        yield srv
    finally:
        srv.stop()


def settings_for(server: NatsServer, tmp: Path, **over: Any) -> Settings:
    return load_settings(
        env="test",
        hub=HUB,
        nats_url=server.url,
        http_port=0,
        log_format="console",
        database_url=f"sqlite+aiosqlite:///{tmp / 'reporting.db'}",
        **over,
    )


class Stack:
    """The three services on one server, each hosted as its process hosts it (shared.hosting);
    each can be stopped on its own."""

    def __init__(self, server: NatsServer, tmp: Path) -> None:
        self.server, self.tmp = server, tmp
        self.services: dict[str, contextlib.AsyncExitStack] = {}

    async def start(self) -> None:
        s = settings_for(self.server, self.tmp, provision_streams=True)
        clock = ManualClock(datetime(2025, 7, 10, 12, 0, tzinfo=LOCAL_TZ))
        builds: dict[str, Callable[[Client, Settings], App]] = {
            "registry": RegistryApp,
            "dispatch": lambda nc, st: DispatchApp(nc, st, clock=clock, catch_up_s=10.0),
            "reporting": lambda nc, st: ReportingApp(nc, st, max_wait_s=1.0),
        }
        for name, build in builds.items():
            exits = self.services[name] = contextlib.AsyncExitStack()
            over = {"instance": "disc-1"} if name == "dispatch" else {}
            await exits.enter_async_context(hosted(s.model_copy(update=over), name, build))

    async def stop(self, name: str) -> None:
        await self.services.pop(name).aclose()

    async def close(self) -> None:
        for name in list(self.services):
            with contextlib.suppress(Exception):
                await self.stop(name)


@contextlib.asynccontextmanager
async def running(server: NatsServer, tmp: Path) -> AsyncIterator[Stack]:
    stack = Stack(server, tmp)
    try:
        await stack.start()
        yield stack
    finally:
        await stack.close()


@pytest.fixture
async def nc(server: NatsServer) -> AsyncIterator[Client]:
    conn = await nats.connect(server.url)
    yield conn
    await conn.drain()


async def stats_of(nc: Client, name: str) -> dict[str, Any]:
    [answer] = await gather(nc, f"$SRV.STATS.{name}", within=5.0)
    return answer


async def test_each_instance_answers_ping_info_and_stats(
    server: NatsServer, nc: Client, tmp_path: Path
) -> None:
    """Given the three services, $SRV.PING finds each with its hub and instance; INFO lists the
    command bus's subjects; STATS counts the commands served since the previous STATS."""
    async with running(server, tmp_path):
        pings = {a["name"]: a for a in await gather(nc, "$SRV.PING", within=5.0)}
        assert set(pings) == {"registry", "dispatch", "reporting"}
        for ping in pings.values():
            assert ping["type"] == "io.nats.micro.v1.ping_response"
            assert ping["metadata"]["hub"] == HUB
            assert ping["version"].count(".") == 2
        assert pings["dispatch"]["metadata"]["instance"] == "disc-1"

        reg = pings["registry"]
        [info] = await gather(nc, f"$SRV.INFO.registry.{reg['id']}", within=5.0)
        assert info["type"] == "io.nats.micro.v1.info_response"
        subjects = {e["subject"]: e["queue_group"] for e in info["endpoints"]}
        assert subjects["vhub.cmd.registry.form_team"] == "registry"
        assert "vhub.cmd.registry.register_volunteer" in subjects

        before = await stats_of(nc, "registry")
        for i in range(3):
            body = {**TEAM, "command_id": f"disc-team-{i}"}
            reply = json.loads(
                (await nc.request("vhub.cmd.registry.form_team", json.dumps(body).encode())).data
            )
            assert reply["accepted"], reply
        await nc.request("vhub.cmd.registry.form_team", b"not json")
        after = await stats_of(nc, "registry")

        def form_team(stats: dict[str, Any]) -> dict[str, Any]:
            return next(e for e in stats["endpoints"] if e["name"] == "form_team")

        assert after["type"] == "io.nats.micro.v1.stats_response"
        assert form_team(after)["num_requests"] - form_team(before)["num_requests"] == 4
        assert form_team(after)["processing_time"] > form_team(before)["processing_time"]
        assert form_team(after)["data"]["refused"] - form_team(before)["data"]["refused"] == 1
        assert after["vhub"]["healthy"], after["vhub"]
        assert any(name.startswith("registry_identities_") for name in after["vhub"]["consumers"])
        dispatch = await stats_of(nc, "dispatch")
        assert {"dispatch_facts_disc-1", "dispatch_ingest_activity"} <= set(dispatch["vhub"]["consumers"])


def vhub_status(server: NatsServer, *args: str) -> subprocess.CompletedProcess[str]:
    expect = [a for svc in ("registry", "dispatch", "reporting") for a in ("--expect", f"{svc}@{HUB}")]
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "vhub.cli",
            "status",
            "--nats-url",
            server.url,
            "--interval",
            "0.2",
            *expect,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


async def status_rows(server: NatsServer) -> tuple[int, list[dict[str, Any]]]:
    done = await asyncio.to_thread(vhub_status, server, "--json")
    return done.returncode, json.loads(done.stdout)


async def test_vhub_status_finds_every_instance_and_fails_when_one_is_missing(
    server: NatsServer, tmp_path: Path
) -> None:
    """Given the three services, `vhub status` shows one healthy row each and exits 0 (with the
    restarts `vhub dev` counted, given its ready file); once the registry is stopped it exits 1
    with a row saying no registry instance answers."""
    async with running(server, tmp_path) as stack:
        table = await asyncio.to_thread(vhub_status, server)
        assert table.returncode == 0, table.stdout + table.stderr
        for name in ("registry", "dispatch", "reporting"):
            assert name in table.stdout
        assert "UNHEALTHY" not in table.stdout
        assert "restarts" not in table.stdout  # no supervisor: no column

        # `vhub dev`'s ready file names its data dir, where its supervisor counts restarts
        (tmp_path / "data").mkdir()
        supervised = {"services": {"registry": {"state": "running", "restarts": 3}}}
        (tmp_path / "data" / "supervisor.json").write_text(json.dumps(supervised))
        ready = tmp_path / "ready.json"
        ready.write_text(json.dumps({"nats_url": server.url, "data_dir": str(tmp_path / "data")}))
        with_ready = await asyncio.to_thread(vhub_status, server, "--ready-file", str(ready))
        assert with_ready.returncode == 0, with_ready.stdout
        [registry_line] = [line for line in with_ready.stdout.splitlines() if "registry" in line]
        assert "restarts" in with_ready.stdout
        assert registry_line.split("│")[-3].strip() == "3"

        rc, rows = await status_rows(server)
        assert rc == 0, rows
        assert sorted(r["service"] for r in rows) == ["dispatch", "registry", "reporting"]
        assert all(r["healthy"] and r["hub"] == HUB and r["uptime_s"] >= 0 for r in rows), rows

        await stack.stop("registry")
        rc, rows = await status_rows(server)
        assert rc == 1
        [missing] = [r for r in rows if r["service"] == "registry"]
        assert not missing["healthy"]
        assert missing["reason"] == "no instance answers"
        assert all(r["healthy"] for r in rows if r["service"] != "registry"), rows


async def test_an_instance_that_is_not_ready_is_unhealthy_with_its_reason(
    server: NatsServer, nc: Client, tmp_path: Path
) -> None:
    """Given a reporting instance whose readiness says it is far behind, `vhub status` exits 1 and
    gives that as the reason on its row (the other services stay healthy)."""

    async def behind() -> tuple[bool, dict[str, Any]]:
        return False, {"lag": 5000, "position": 12}

    async with running(server, tmp_path) as stack:
        await stack.stop("reporting")
        settings = settings_for(server, tmp_path, instance="lagging")
        await Discovery(nc, name="reporting", hub=HUB, instance="lagging", readiness=behind).start()
        rc, rows = await status_rows(server)
        assert rc == 1
        [reporting] = [r for r in rows if r["service"] == "reporting"]
        assert not reporting["healthy"]
        assert reporting["instance"] == settings.instance
        assert reporting["reason"] == "not ready: lag=5000, position=12", reporting
        assert all(r["healthy"] for r in rows if r["service"] != "reporting"), rows


async def test_status_at_central_finds_the_instances_of_a_hub_behind_its_leaf_link(tmp_path: Path) -> None:
    """Given the shipped central and hub configs linked as a leaf node and a registry serving at the
    hub under its own user, `vhub status` pointed at central (as the operator) lists that registry
    with the hub's code: one NATS URL is enough to see every hub."""
    secret = secrets()
    leaf_port = free_port()
    central = start_configured_server(
        tmp_path / "central", central_config(tmp_path / "c", leaf_port=leaf_port), secret
    )
    leaf_url = f"nats-leaf://leaf:{secret['VHUB_LEAF_PASSWORD']}@127.0.0.1:{leaf_port}"
    env = {**secret, "VHUB_HUB": "hcm", "VHUB_CENTRAL_LEAF_URL": leaf_url}
    hub = start_configured_server(tmp_path / "hub", hub_config(tmp_path / "h"), env)
    stop = asyncio.Event()
    try:
        operator = await nats.connect(hub.url, user="operator", password=secret["VHUB_OPERATOR_PASSWORD"])
        hub_settings = load_settings(
            env="test", hub="hcm", nats_url=hub.url, log_format="console", http_port=0
        )
        await provision(operator.jetstream(), hub_settings)
        await operator.drain()
        registry = asyncio.create_task(
            registry_app.run(
                load_settings(
                    env="test",
                    hub="hcm",
                    nats_url=hub.url,
                    nats_user="registry",
                    nats_password=secret["VHUB_REGISTRY_PASSWORD"],
                    log_format="console",
                    http_port=0,
                    instance="1",  # a replica slot the accounts file lists (vhub/natsaccounts.py)
                ),
                stop=stop,
            )
        )
        env = {
            **os.environ,
            "VHUB_NATS_USER": "operator",
            "VHUB_NATS_PASSWORD": secret["VHUB_OPERATOR_PASSWORD"],
        }

        def status_at_central() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "vhub.cli", "status", "--nats-url", central.url, *CENTRAL_ARGS],
                capture_output=True,
                text=True,
                timeout=60,
                env=env,
            )

        async def registry_seen_from_central() -> bool:
            if registry.done():
                registry.result()  # it failed: say why
            done = await asyncio.to_thread(status_at_central)
            return done.returncode == 0

        await eventually(
            registry_seen_from_central, "central's vhub status sees the hub's registry", within=60
        )
        rows = json.loads((await asyncio.to_thread(status_at_central)).stdout)
        assert [(r["service"], r["hub"], r["healthy"]) for r in rows] == [("registry", "hcm", True)]
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(registry, 10)
        hub.kill()
        central.kill()
