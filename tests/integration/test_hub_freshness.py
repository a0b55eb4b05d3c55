"""Central reporting's freshness per hub, on the launch's own configs in miniature: a 3-node central
cluster and the hub ``hcm`` as a leaf node (tests/support/cluster.py), registry and dispatch at
each hub (tests/support/hubload.py), and reporting at central reading ``VHUB_CENTRAL`` as the
``reporting`` user of the generated accounts file.

Cut the hub off: its commands are still accepted, and central's answers say that hub's source is
cut off (since when, lag unknown) while the central hub stays active; ``min_position=hcm:<version>``
is not reached (503 naming the hub). Heal: the source is active again, the lag is 0 and the
figures count the hub's commands of the cut.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.reporting.app import ReportingApp
from shared.hosting import hosted
from shared.settings import load_settings
from tests.support.cluster import Launch
from tests.support.hubchecks import provisioned, report
from tests.support.hubload import Tally, hub_services, register_many
from tests.support.leafnodes import secrets
from tests.support.waiting import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


@asynccontextmanager
async def central_reporting(url: str, tmp: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = load_settings(
        env="test",
        hub="hn",
        nats_url=url,
        nats_user="reporting",
        nats_password=secrets()["VHUB_REPORTING_PASSWORD"],
        read_stream="VHUB_CENTRAL",
        stream_replicas=3,
        database_url=f"sqlite+aiosqlite:///{tmp / 'central-reporting.db'}",
        http_port=0,
        log_format="json",
        log_level="warning",
    )
    build = lambda nc, s: ReportingApp(nc, s, max_wait_s=1.0)  # noqa: E731  # a 503 comes quickly
    async with hosted(settings, "reporting", build) as app:
        base = f"http://127.0.0.1:{app.server.port}"
        async with httpx.AsyncClient(base_url=base, timeout=15) as http:
            yield http


def version(tally: Tally) -> int:
    """The highest ``version`` (the hub's log position) the hub's replies returned."""
    return max(int(r["version"]) for r in tally.accepted)


async def test_central_freshness_says_which_hub_is_cut_off_and_when_it_is_back(tmp_path: Path) -> None:
    async with Launch(tmp_path, ["hcm"]) as launch:
        central, hubs = await provisioned(launch)
        async with (
            hub_services("hn", launch.central_url, tmp_path / "hn"),
            hub_services("hcm", launch.hubs["hcm"].url, tmp_path / "hcm", replicas=1),
            central_reporting(launch.central_url, tmp_path) as http,
        ):
            hn, hcm = Tally(), Tally()
            await register_many(central, "hn", 0, 3, hn)
            await register_many(hubs["hcm"], "hcm", 0, 3, hcm)
            at = {"min_position": f"hn:{version(hn)},hcm:{version(hcm)}"}
            summary = (await http.get("/v1/summary", params=at)).json()
            assert summary["figures"]["active_volunteers"] == 6

            async def fresh() -> dict[str, Any]:
                body = (await http.get("/v1/freshness")).json()
                return {h["hub"]: h for h in body["hubs"]}

            async def both_active_and_current() -> bool:
                f = await fresh()
                return all(
                    f[h]["source"] == "active" and f[h]["lag"] == 0 and f[h]["position"] == version(t)
                    for h, t in (("hn", hn), ("hcm", hcm))
                )

            await eventually(both_active_and_current, "both hubs active, no lag", 30)
            assert list(await fresh()) == ["hn", "hcm"]

            async def every_hub_surveyed() -> bool:  # the dashboard's health, through the leaf link
                items = (await http.get("/services")).json()["items"]
                found = {(r["service"], r["hub"]) for r in items if r["healthy"]}
                return found >= {(s, h) for s in ("registry", "dispatch") for h in ("hn", "hcm")}

            await eventually(every_hub_surveyed, "$SRV answers from both hubs", 30)

            await launch.cut("hcm")
            cut_at = time.monotonic()
            during = Tally()
            await register_many(hubs["hcm"], "hcm", 100, 2, during)  # the cut-off hub keeps working
            assert len(during.accepted) == 2, during.refused

            async def hcm_cut_off() -> bool:
                return bool((await fresh())["hcm"]["source"] == "cut_off")

            await eventually(hcm_cut_off, "freshness says hcm is cut off", 60)
            shown_cut_s = time.monotonic() - cut_at
            f = await fresh()
            assert f["hcm"]["lag"] is None  # the hub cannot be asked
            assert f["hcm"]["cut_off_since"] is not None
            assert f["hcm"]["position"] == version(hcm)
            assert f["hn"]["source"] == "active"
            waiting = await http.get("/v1/summary", params={"min_position": f"hcm:{version(during)}"})
            assert waiting.status_code == 503
            assert waiting.json()["detail"]["hub"] == "hcm"
            page = (await http.get("/")).text  # the dashboard's freshness table, one row per hub
            assert '<tr data-hub="hcm" data-source="cut_off">' in page
            assert '<tr data-hub="hn" data-source="active">' in page
            answer = (await http.get("/v1/provinces")).json()  # every answer carries it
            assert {h["hub"]: h["source"] for h in answer["freshness"]["hubs"]} == {
                "hn": "active",
                "hcm": "cut_off",
            }

            await launch.heal("hcm")
            healed_at = time.monotonic()

            async def hcm_back() -> bool:
                h = (await fresh())["hcm"]
                return bool(h["source"] == "active" and h["lag"] == 0 and h["position"] == version(during))

            await eventually(hcm_back, "freshness says hcm is active and caught up", 180)
            shown_active_s = time.monotonic() - healed_at
            after = await http.get("/v1/summary", params={"min_position": f"hcm:{version(during)}"})
            assert after.status_code == 200
            assert after.json()["figures"]["active_volunteers"] == 8
            assert after.headers["Vhub-Hub-Positions"] == f"hn:{version(hn)},hcm:{version(during)}"
        for nc in (central, *hubs.values()):
            await nc.close()
    report(
        "central_freshness",
        {"cut_shown_after_s": round(shown_cut_s, 2), "active_shown_after_heal_s": round(shown_active_s, 2)},
    )
