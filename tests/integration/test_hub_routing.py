"""Where a command lands with two linked hubs, and what a hub answers for what it does not own.

A real central server (the generated config, hub ``hn``) and the hub ``hcm`` as its leaf node
(tests/integration/test_hub_cutoff.py's topology), registry and dispatch at each under their own
NATS users. Pins (docs/architecture.md §7):

* the plain subject ``vhub.cmd.<context>.<command>`` goes to the hub the client is connected to
  (a leaf node prefers its local queue subscribers, and central its own), and crosses the link
  only when the local hub has no subscriber, where the ownership check refuses it;
* ``vhub.cmd.<hub>.<context>.<command>`` reaches that hub from anywhere;
* ids name their hub, and a hub refuses another hub's aggregate or province with
  ``owned_by_other_hub`` and the owner, never ``unknown_*``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats.errors
import nats.js.errors
from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from services.registry.app import RegistryApp
from shared.settings import load_settings
from shared.streams import provision
from tests.integration.registry.test_registry import TEAM, person
from tests.integration.test_hub_cutoff import Topology, connect
from tests.support.linkcut import LinkCut
from tests.support.waiting import eventually, free_port

HCM_PLACE = {"province_code": "79", "commune_code": "26506"}  # hcm serves 79 (deploy/hubs.toml)
HN_PLACE = {"province_code": "01", "commune_code": "00070"}  # hn serves 01


@contextlib.asynccontextmanager
async def services_at(hub: str, url: str) -> AsyncIterator[dict[str, Any]]:
    """Registry and dispatch at ``hub``, in this process, each as its own NATS user."""
    settings = load_settings(
        env="test", hub=hub, nats_url=url, log_format="console", http_port=0, instance="1"
    )
    async with contextlib.AsyncExitStack() as stack:
        apps: dict[str, Any] = {}
        for name, build in (("registry", RegistryApp), ("dispatch", DispatchApp)):
            conn = await connect(url, name)
            stack.push_async_callback(conn.drain)
            app = build(conn, settings, catch_up_s=30.0)
            await app.start()
            stack.push_async_callback(app.stop)
            apps[name] = app
        yield apps


async def ask(nc: Client, subject: str, body: dict[str, Any]) -> dict[str, Any]:
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=15)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def test_commands_go_to_the_hub_asked_and_are_refused_where_another_hub_owns(
    tmp_path: Path,
) -> None:
    topo = Topology(tmp_path)
    link = LinkCut(free_port())
    try:
        central = topo.start_central(link.target_port)
        await link.start()
        hub = topo.start_hub(link.port)
        hub_nc, central_nc = await connect(hub.url, "operator"), await connect(central.url, "operator")
        await provision(hub_nc.jetstream(), load_settings(env="test", hub="hcm", nats_url=hub.url))
        await provision(central_nc.jetstream(), load_settings(env="test", hub="hn", nats_url=central.url))

        async def linked() -> bool:
            try:
                await central_nc.jetstream(domain="hcm", timeout=2).stream_info("VHUB_EVT_HCM")
            except (nats.errors.Error, nats.js.errors.Error):
                return False
            return True

        await eventually(linked, "the leaf link is up")
        async with services_at("hn", central.url), services_at("hcm", hub.url) as hcm:
            plain = "vhub.cmd.registry.register_volunteer"
            # given a client at each hub: the plain subject is served where the client is
            at_hcm = [await ask(hub_nc, plain, person(i, **HCM_PLACE)) for i in range(20)]
            at_hn = [await ask(central_nc, plain, person(100 + i, **HN_PLACE)) for i in range(20)]
            assert all(r["accepted"] and r["aggregate_id"].startswith("hcm-") for r in at_hcm), at_hcm
            assert all(r["accepted"] and r["aggregate_id"].startswith("hn-") for r in at_hn), at_hn

            # a registration in hcm's province sent to central: refused with the owner
            wrong = await ask(central_nc, plain, person(200, **HCM_PLACE))
            assert wrong["code"] == "owned_by_other_hub", wrong
            assert wrong["details"] == {
                "owner": "hcm",
                "field": "province_code",
                "subject": "vhub.cmd.hcm.registry.register_volunteer",
            }
            # ... and accepted where the refusal says, from central
            there = await ask(central_nc, wrong["details"]["subject"], person(200, **HCM_PLACE))
            assert there["accepted"], there
            assert there["aggregate_id"].startswith("hcm-"), there

            # an hcm team named at central: owned_by_other_hub, in registry and in dispatch
            team = await ask(central_nc, "vhub.cmd.hcm.registry.form_team", {**TEAM, **HCM_PLACE})
            assert team["accepted"], team
            team_id, volunteer_id = team["aggregate_id"], there["aggregate_id"]
            member = {"team_id": team_id, "volunteer_id": volunteer_id}
            refused = await ask(central_nc, "vhub.cmd.registry.add_team_member", member)
            assert (refused["code"], refused["details"]["owner"]) == ("owned_by_other_hub", "hcm"), refused
            assert (await ask(central_nc, "vhub.cmd.hcm.registry.add_team_member", member))["accepted"]
            shift = {
                "team_id": team_id,
                "service_point_id": team_id,  # never looked at: ownership is refused first
                "starts_at": "2025-07-10T08:00:00+07:00",
                "ends_at": "2025-07-10T12:00:00+07:00",
            }
            refused = await ask(central_nc, "vhub.cmd.dispatch.dispatch_team", shift)
            assert (refused["code"], refused["details"]["owner"]) == ("owned_by_other_hub", "hcm"), refused
            assert refused["details"]["subject"] == "vhub.cmd.hcm.dispatch.dispatch_team"

            # with no registry at hcm, the hub's plain request crosses to central's, which refuses it
            await hcm["registry"].stop()
            crossed = await ask(hub_nc, plain, person(300, **HCM_PLACE))
            assert (crossed["code"], crossed["details"]["owner"]) == ("owned_by_other_hub", "hcm"), crossed
        await hub_nc.drain()
        await central_nc.drain()
    finally:
        await link.cut()
        for server in topo.servers:
            server.kill()
