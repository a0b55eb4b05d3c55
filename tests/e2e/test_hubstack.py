"""`vhub dev --hubs hn,hcm` as a user runs it: central and a leaf hub, a command to each hub,
`vhub hub cut hcm` while hcm keeps working, `vhub hub heal hcm` and central catching up."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import psutil
import pytest
from nats.aio.client import Client

from tests.support.waiting import eventually, free_port, wait_until

pytestmark = pytest.mark.slow
VOLUNTEER = {
    "birth_date": "2002-03-04",
    "affiliation": "youth_union",
    "consent": True,
}
HN_PLACE = {"province_code": "01", "commune_code": "00070"}
HCM_PLACE = {"province_code": "79", "commune_code": "26506"}


@pytest.fixture
def hubs(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any], Path]]:
    ready, data = tmp_path / "ready.json", tmp_path / "data"
    args = ["dev", "--hubs", "hn,hcm", "--data-dir", str(data), "--ready-file", str(ready)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "vhub.cli", *args, "--http-port", str(free_port())],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: ready.exists() or proc.poll() is not None, "ready file", 120)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        yield proc, json.loads(ready.read_text()), data
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def vhub_hub(verb: str, hub: str, data: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vhub.cli", "hub", verb, hub, "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def register(nc: Client, subject: str, phone: str, place: dict[str, str]) -> dict[str, Any]:
    # a name of its own: the same name and birth date in a province is flagged (one more event)
    body = {**VOLUNTEER, **place, "phone": phone, "full_name": f"Tình nguyện viên {phone[-2:]}"}
    reply = await nc.request(subject, json.dumps(body).encode(), timeout=15)
    answer: dict[str, Any] = json.loads(reply.data)
    return answer


async def central_count(central: Client) -> int:
    return (await central.jetstream().stream_info("VHUB_CENTRAL")).state.messages


async def test_two_linked_hubs_answer_their_own_and_survive_a_cut(
    hubs: tuple[subprocess.Popen[bytes], dict[str, Any], Path],
) -> None:
    proc, info, data = hubs
    assert set(info["hubs"]) == {"hn", "hcm"}
    assert set(info["services"]) == {
        "registry@hn",
        "dispatch@hn",
        "registry@hcm",
        "dispatch@hcm",
        "reporting",
    }
    central = await nats.connect(info["hubs"]["hn"]["operator_nats_url"])
    at_hcm = await nats.connect(info["hubs"]["hcm"]["operator_nats_url"])
    try:
        # a command to each hub: plain at the hub one is connected to, hub-addressed from central
        here = await register(at_hcm, "vhub.cmd.registry.register_volunteer", "0911000001", HCM_PLACE)
        there = await register(central, "vhub.cmd.hcm.registry.register_volunteer", "0911000002", HCM_PLACE)
        home = await register(central, "vhub.cmd.registry.register_volunteer", "0911000003", HN_PLACE)
        owners = [r["aggregate_id"].split("-", 1)[0] for r in (here, there, home)]
        assert owners == ["hcm", "hcm", "hn"], (here, there, home)
        wrong = await register(central, "vhub.cmd.registry.register_volunteer", "0911000004", HCM_PLACE)
        assert (wrong["code"], wrong["details"]["owner"]) == ("owned_by_other_hub", "hcm")
        await eventually(lambda: _equal(central, 3), "central holds both hubs' events (3, one each)")

        assert "cut" in vhub_hub("cut", "hcm", data)
        cut_off = await register(at_hcm, "vhub.cmd.registry.register_volunteer", "0911000005", HCM_PLACE)
        assert cut_off["accepted"], cut_off  # the hub keeps working
        with pytest.raises(nats.errors.NoRespondersError):  # central no longer reaches it
            await register(central, "vhub.cmd.hcm.registry.register_volunteer", "0911000006", HCM_PLACE)
        assert await central_count(central) == 3

        assert "restored" in vhub_hub("heal", "hcm", data)
        await eventually(lambda: _equal(central, 4), "central catches up after the heal", 120)

        async def reported() -> bool:
            async with httpx.AsyncClient(base_url=info["services"]["reporting"], timeout=5) as client:
                summary = (await client.get("/v1/summary")).json()
            return bool(summary["figures"]["active_volunteers"] == 4)

        await eventually(reported, "central reporting counts both hubs' volunteers", 60)
    finally:
        await central.close()
        await at_hcm.close()
    children = psutil.Process(proc.pid).children(recursive=True)
    assert len(children) >= 2 + 5  # two nats-servers, five services
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]


async def _equal(central: Client, n: int) -> bool:
    return await central_count(central) == n


def vhub(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "vhub.cli", *args], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def national(info: dict[str, Any]) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=info["services"]["reporting"], timeout=5) as client:
        body: dict[str, Any] = (await client.get("/v1/duplicates", params={"scope": "national"})).json()
    return body


async def test_the_same_phone_at_two_hubs_while_cut_is_one_pair_at_central_counted_once(
    hubs: tuple[subprocess.Popen[bytes], dict[str, Any], Path], tmp_path: Path
) -> None:
    """Given hcm cut off, the same phone registers at hn and at hcm (each hub's own uniqueness
    holds); after the heal central lists the pair once, counts the person once, and an operator's
    `vhub duplicates resolve` withdraws the duplicate at its hub."""
    _, info, data = hubs
    central = await nats.connect(info["hubs"]["hn"]["operator_nats_url"])
    at_hcm = await nats.connect(info["hubs"]["hcm"]["operator_nats_url"])
    try:
        first = await register(central, "vhub.cmd.registry.register_volunteer", "0912345678", HN_PLACE)
        assert first["accepted"], first
        vhub_hub("cut", "hcm", data)
        second = await register(at_hcm, "vhub.cmd.registry.register_volunteer", "+84912345678", HCM_PLACE)
        assert second["accepted"], second  # hcm cannot see hn's claim while cut off
        again = await register(at_hcm, "vhub.cmd.registry.register_volunteer", "0912345678", HCM_PLACE)
        assert again["code"] == "duplicate_volunteer"  # within a hub the phone stays unique
        assert (await national(info))["pairs"] == []
        vhub_hub("heal", "hcm", data)

        async def one_pair() -> bool:
            body = await national(info)
            return len(body["pairs"]) == 1 and body["active_volunteers"] == 2

        await eventually(one_pair, "central lists the pair once both logs converged", 120)
        body = await national(info)
        [pair] = body["pairs"]
        assert (pair["counted"]["hub"], pair["counted"]["volunteer_id"]) == ("hn", first["aggregate_id"])
        assert (pair["duplicate"]["hub"], pair["duplicate"]["volunteer_id"]) == (
            "hcm",
            second["aggregate_id"],
        )
        assert (pair["kind"], pair["resolved"], body["active_volunteers_counted_once"]) == ("phone", False, 1)
        assert "912345678" not in json.dumps(body)  # no phone, in any form
        async with httpx.AsyncClient(base_url=info["services"]["reporting"], timeout=5) as client:
            summary = (await client.get("/v1/summary")).json()
        assert summary["figures"]["active_volunteers"] == 2  # each hub's log, as it holds them
        assert summary["national"] == {"duplicate_pairs_unresolved": 1, "active_volunteers_counted_once": 1}

        ready = tmp_path / "ready.json"
        assert "withdrawn at hub hcm" in vhub(
            "duplicates", "resolve", second["aggregate_id"], "--ready-file", str(ready)
        )

        async def resolved() -> bool:
            b = await national(info)
            return bool(b["pairs"] and b["pairs"][0]["resolved"] and b["unresolved"] == 0)

        await eventually(resolved, "the withdrawal reaches central: the pair is resolved", 60)
        assert "0 unresolved" in vhub("duplicates", "list", "--ready-file", str(ready))
    finally:
        await central.close()
        await at_hcm.close()
