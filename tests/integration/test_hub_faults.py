"""Linked hubs under faults, on the launch's own configs: a 3-node central cluster (R3 streams) and
two provincial hubs as leaf nodes (tests/support/cluster.py), registry and dispatch at each hub
and at central under their own NATS users (tests/support/hubload.py).

* A hub cut off from central keeps accepting commands for N events (N = 10,000 here,
  ``VHUB_TEST_CUTOFF_EVENTS`` to change it; ``make bench-hubs`` runs 100,000); after the link
  heals ``VHUB_CENTRAL`` holds each hub's log exactly: every message once, in the origin's order.
* One central node SIGKILLed (the leader of central's own R3 event stream) while commands stream
  in at central: every acknowledged registration is in the stream once; the node restarts and
  catches up.
* The whole central cluster restarted while the hubs write: ``VHUB_CENTRAL`` converges. The
  server sets up a source again only after a fixed wait (nats-server issue #6454): measured.

Each test prints its figures as one JSON line (``-s`` shows them; ``VHUB_TEST_FIGURES`` names a
file to append them to).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client

from shared.settings import load_settings
from shared.streams import provision
from tests.support.cluster import Launch, hub_reachable, operator
from tests.support.hubload import (
    Tally,
    as_origin,
    copies_of,
    dispatch_flow,
    hub_services,
    read_stream,
    register_many,
)
from tests.support.waiting import eventually

pytestmark = pytest.mark.slow
CENTRAL = "VHUB_CENTRAL"
CUTOFF_EVENTS = int(os.environ.get("VHUB_TEST_CUTOFF_EVENTS", "10000"))


def stream_of(hub: str) -> str:
    return f"VHUB_EVT_{hub.upper()}"


def report(test: str, figures: dict[str, Any]) -> None:
    line = json.dumps({"test": test, **figures})
    print(line)
    if path := os.environ.get("VHUB_TEST_FIGURES"):
        with Path(path).open("a") as f:
            f.write(line + "\n")


async def vhub_provision_central(url: str, hubs: list[str]) -> None:
    """What an operator runs at central: ``vhub provision --central-hubs hn,...`` (R3)."""
    env = {
        **os.environ,
        "VHUB_NATS_URL": url,
        "VHUB_NATS_USER": "operator",
        "VHUB_NATS_PASSWORD": "test-operator",
        "VHUB_HUB": "hn",
        "VHUB_STREAM_REPLICAS": "3",
    }
    args = ["-m", "vhub.cli", "provision", "--central-hubs", ",".join(["hn", *hubs])]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, out.decode()[-3000:]


async def provisioned(launch: Launch) -> tuple[Client, dict[str, Client]]:
    """Each hub's streams at the hub; central's (R3) once central reaches every hub."""
    central = await operator(launch.central_url)
    hubs = {code: await operator(h.url) for code, h in launch.hubs.items()}
    for code, nc in hubs.items():
        await provision(nc.jetstream(), load_settings(env="test", hub=code))
    for code in hubs:
        await eventually(lambda c=code: hub_reachable(central, c, stream_of(c)), f"central reaches {code}")
    await vhub_provision_central(launch.central_url, list(hubs))
    return central, hubs


async def last_seq(nc: Client, stream: str, within: float = 20.0) -> int:
    """The stream's last sequence; a read, so asked again while the cluster answers "unavailable"
    (a leader election on a loaded 2-core machine) or not in time, up to ``within`` seconds."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return (await nc.jetstream(timeout=5).stream_info(stream)).state.last_seq
        except (nats.js.errors.ServiceUnavailableError, nats.errors.TimeoutError):
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await asyncio.sleep(0.1)  # before asking again; bounded by the deadline


async def central_holds(central: Client, expected: int) -> bool:
    return await last_seq(central, CENTRAL) == expected


async def assert_central_is_every_log(central: Client, logs: dict[str, Client]) -> dict[str, int]:
    """VHUB_CENTRAL equals each origin's log: same messages, once each, in the origin's order."""
    copy = await read_stream(central, CENTRAL)
    figures = {"central_messages": len(copy)}
    for hub, nc in logs.items():
        origin = await read_stream(nc, stream_of(hub))
        assert copies_of(copy, stream_of(hub)) == as_origin(origin), f"central's copy of {hub} differs"
        figures[f"{hub}_messages"] = len(origin)
    duplicates = sum(n - 1 for n in Counter(c.msg_id for c in copy).values() if n > 1)
    assert duplicates == 0
    assert len(copy) == sum(v for k, v in figures.items() if k != "central_messages")
    return {**figures, "duplicates": duplicates}


async def test_a_cut_off_hub_keeps_working_and_central_converges_exactly(tmp_path: Path) -> None:
    async with Launch(tmp_path, ["hcm", "ct"]) as launch:
        central, hubs = await provisioned(launch)
        logs = {"hn": central, **hubs}
        async with (
            hub_services("hn", launch.central_url, tmp_path / "hn") as hn_dispatch,
            hub_services("hcm", launch.hubs["hcm"].url, tmp_path / "hcm", replicas=1) as hcm_dispatch,
            hub_services("ct", launch.hubs["ct"].url, tmp_path / "ct", replicas=1),
        ):
            before = Tally()
            for hub, nc in logs.items():
                await register_many(nc, hub, 0, 50, before)
            await dispatch_flow(central, "hn", 0, hn_dispatch, lambda: last_seq(central, stream_of("hn")))
            total = sum([await last_seq(nc, stream_of(h)) for h, nc in logs.items()])
            await eventually(lambda: central_holds(central, total), "central holds the first events")

            await launch.cut("hcm")
            assert not await hub_reachable(central, "hcm", stream_of("hcm"))
            at_cut = await last_seq(hubs["hcm"], stream_of("hcm"))
            cut, others = Tally(), Tally()
            started = time.monotonic()

            async def hcm_seq() -> int:
                return await last_seq(hubs["hcm"], stream_of("hcm"))

            for n in range(1, 4):  # registry and dispatch at the cut hub, 8 commands a flow
                await dispatch_flow(hubs["hcm"], "hcm", n, hcm_dispatch, hcm_seq)
            remaining = CUTOFF_EVENTS - (await hcm_seq() - at_cut)
            await asyncio.gather(
                register_many(hubs["hcm"], "hcm", 1000, (remaining + 1) // 2, cut),  # 2 events each
                register_many(hubs["ct"], "ct", 1000, 200, others),
                register_many(central, "hn", 1000, 200, others),
            )
            cut_s = time.monotonic() - started
            written = await hcm_seq() - at_cut
            assert written >= CUTOFF_EVENTS
            assert (cut.gave_up, cut.refused, others.gave_up, others.refused) == (0, [], 0, []), cut.refused[
                :3
            ]
            assert copies_of(await read_stream(central, CENTRAL), stream_of("hcm"))[-1][0] == at_cut

            await launch.heal("hcm")
            healed = time.monotonic()
            total = sum([await last_seq(nc, stream_of(h)) for h, nc in logs.items()])
            within = max(300.0, CUTOFF_EVENTS / 100)  # 100,000 events: the bench's cut
            await eventually(
                lambda: central_holds(central, total), "central converges after the heal", within
            )
            catch_up_s = time.monotonic() - healed
        figures = await assert_central_is_every_log(central, logs)
        for nc in logs.values():
            await nc.close()
    report(
        "cutoff",
        {
            "events_during_cut": written,
            "commands_at_cut_hub": cut.sent + 24,
            "accepted_at_cut_hub": len(cut.accepted) + 24,
            "cut_hub_events_per_s": round(written / cut_s),
            "catch_up_s": round(catch_up_s, 2),
            **figures,
        },
    )


async def replicas_current(central: Client, stream: str, node: str) -> bool:
    """Every replica of ``stream`` current with no lag, ``node`` among them (back and caught up)."""
    info = await central.jetstream(timeout=5).stream_info(stream)
    cluster = info.cluster
    if cluster is None or not cluster.replicas:
        return False
    peers = {cluster.leader, *(r.name for r in cluster.replicas)}
    return node in peers and all(r.current and not r.offline and not r.lag for r in cluster.replicas)


async def test_a_central_node_killed_mid_stream_loses_no_acknowledged_event(tmp_path: Path) -> None:
    async with Launch(tmp_path, ["hcm"]) as launch:
        central, hubs = await provisioned(launch)
        hn = stream_of("hn")
        async with (
            hub_services("hn", launch.central_url, tmp_path / "hn"),
            hub_services("hcm", launch.hubs["hcm"].url, tmp_path / "hcm", replicas=1),
        ):
            tally, at_hub = Tally(), Tally()
            load = asyncio.gather(
                register_many(central, "hn", 0, 3000, tally, in_flight=32),
                register_many(hubs["hcm"], "hcm", 0, 300, at_hub, in_flight=8),
            )
            task = asyncio.ensure_future(load)
            await eventually(
                lambda: len(tally.accepted) >= 500 or task.done(), "500 registrations acked", 120
            )
            cluster = (await central.jetstream().stream_info(hn)).cluster
            assert cluster is not None
            assert cluster.leader
            victim = launch.node(cluster.leader)
            launch.kill_node(victim)
            killed_at = len(tally.accepted)
            await task
            launch.start_node(victim)
            restarted = time.monotonic()
            await eventually(lambda: replicas_current(central, hn, victim.name), "the node caught up", 120)
            catch_up_s = time.monotonic() - restarted

        log = await read_stream(central, hn)
        registered = Counter(c.subject.rsplit(".", 1)[1] for c in log if ".registry.volunteer." in c.subject)
        acked = {r["aggregate_id"] for r in tally.accepted}
        found = {v for v in acked if registered[v] == 1}
        duplicates = sum(n - 1 for n in Counter(c.msg_id for c in log).values() if n > 1)
        doubled = sum(1 for v in acked if registered[v] > 1)
        assert (tally.gave_up, tally.refused, at_hub.gave_up) == (0, [], 0), tally.refused[:3]
        assert found == acked
        assert duplicates == doubled == 0
        total = await last_seq(central, hn) + await last_seq(hubs["hcm"], stream_of("hcm"))
        await eventually(lambda: central_holds(central, total), "VHUB_CENTRAL holds both logs", 120)
        figures = await assert_central_is_every_log(central, {"hn": central, **hubs})
        for nc in (central, *hubs.values()):
            await nc.close()
    report(
        "central_node_sigkill",
        {
            "killed": f"{victim.name} (leader of {hn})",
            "acked_before_kill": killed_at,
            "commands_sent": tally.sent,
            "acked": len(tally.accepted),
            "resends": tally.resends[0],
            "duplicate_replies": sum(1 for r in tally.accepted if r.get("duplicate")),
            "found_once": len(found),
            "doubled": doubled,
            "duplicate_msg_ids": duplicates,
            "node_catch_up_s": round(catch_up_s, 2),
            **figures,
        },
    )


async def test_central_restarted_while_hubs_write_converges(tmp_path: Path) -> None:
    async with Launch(tmp_path, ["hcm", "ct"]) as launch:
        central, hubs = await provisioned(launch)
        async with (
            hub_services("hcm", launch.hubs["hcm"].url, tmp_path / "hcm", replicas=1),
            hub_services("ct", launch.hubs["ct"].url, tmp_path / "ct", replicas=1),
        ):
            stop = asyncio.Event()
            tallies = {hub: Tally() for hub in hubs}

            async def write(hub: str) -> None:
                n = 0
                while not stop.is_set():  # hubs keep writing through the whole restart
                    await register_many(hubs[hub], hub, n, 20, tallies[hub], in_flight=4)
                    n += 20

            writers = asyncio.gather(*(write(h) for h in hubs))
            await eventually(lambda: central_holds_some(central, 100), "central receives the hubs' events")
            for node in launch.nodes:
                launch.stop_node(node)
            down = time.monotonic()
            await eventually(
                lambda: sum(len(t.accepted) for t in tallies.values()) >= 100 + 40, "hubs write on"
            )
            for node in launch.nodes:
                launch.start_node(node)
            up = time.monotonic()
            await launch.wait_central_ready(60)
            ready_s = time.monotonic() - up
            at_restart = await last_seq(central, CENTRAL)
            await eventually(lambda: all_reachable(central, list(hubs)), "the hubs' leaf links are back", 60)
            links_s = time.monotonic() - up
            await eventually(lambda: central_grew(central, at_restart), "central's sources resume", 180)
            resumed_s = time.monotonic() - up
            stop.set()
            await writers
            total = sum([await last_seq(nc, stream_of(h)) for h, nc in hubs.items()])
            await eventually(lambda: central_holds(central, total), "central converges", 180)
            converged_s = time.monotonic() - up
        assert all((t.gave_up, t.refused) == (0, []) for t in tallies.values())
        figures = await assert_central_is_every_log(central, hubs)
        for nc in (central, *hubs.values()):
            await nc.close()
    report(
        "central_restart",
        {
            "central_down_s": round(up - down, 2),
            "cluster_ready_s": round(ready_s, 2),
            "leaf_links_back_s": round(links_s, 2),
            "sources_resumed_s": round(resumed_s, 2),
            "converged_s": round(converged_s, 2),
            "hub_commands_acked": sum(len(t.accepted) for t in tallies.values()),
            **figures,
        },
    )


async def central_holds_some(central: Client, n: int) -> bool:
    return await last_seq(central, CENTRAL) >= n


async def central_grew(central: Client, since: int) -> bool:
    try:
        return await last_seq(central, CENTRAL) > since
    except Exception:
        return False


async def all_reachable(central: Client, hubs: list[str]) -> bool:
    return all([await hub_reachable(central, h, stream_of(h)) for h in hubs])
