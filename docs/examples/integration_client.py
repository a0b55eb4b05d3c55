"""Another system talking to vhub: commands with replies, a fact on the ingest subject, and
reading its own write back from reporting. Only nats-py and httpx; docs/integrating.md explains
every step, and tests/integration/test_integrating_guide.py runs this file against a real stack.

    python docs/examples/integration_client.py nats://127.0.0.1:4222 http://127.0.0.1:8080 hn

(the URLs ``vhub dev`` prints; a hub's own reporting, or central's).
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from typing import Any

import httpx
import nats
from nats.aio.client import Client


async def command(nc: Client, context: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send one command and return its reply: ``{"accepted": true, "aggregate_id", "version", ...}``
    or ``{"accepted": false, "code", "reason", "details"}``. Resend with the SAME command_id after a
    timeout: vhub records it once and answers the first reply again (``"duplicate": true``)."""
    body = {"command_id": str(uuid.uuid4()), **body}
    for _ in range(5):
        try:
            reply = await nc.request(f"vhub.cmd.{context}.{name}", json.dumps(body).encode(), timeout=5)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            continue  # the same command_id again: safe
        answer: dict[str, Any] = json.loads(reply.data)
        return answer
    raise RuntimeError(f"no reply to {name}")


async def accepted(nc: Client, context: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """A command that must be accepted. ``unknown_team`` / ``unknown_service_point`` from dispatch
    right after the registry accepted them means dispatch has not read them yet: ask again."""
    for _ in range(50):
        reply = await command(nc, context, name, body)
        if reply["accepted"]:
            return reply
        if reply["code"] not in ("unknown_team", "unknown_service_point"):
            raise RuntimeError(f"{name} refused: {reply['code']}: {reply['reason']}")
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{name}: dispatch never knew the team or the point")


async def read_own_write(http: httpx.AsyncClient, hub: str, version: int) -> dict[str, Any]:
    """The campaign summary once it reflects ``version`` of ``hub``'s log (the reply's version).
    A 503 ``projection_behind`` means "not yet": retry after ``Retry-After`` seconds."""
    for _ in range(30):
        response = await http.get("/v1/summary", params={"min_position": f"{hub}:{version}"})
        if response.status_code != 503:
            response.raise_for_status()
            summary: dict[str, Any] = response.json()
            return summary
        await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
    raise RuntimeError(f"reporting never reached {hub}:{version}")


async def main(commands: Client, facts: Client, reporting_url: str, hub: str, commune: str) -> dict[str, Any]:
    """``commands``: a connection allowed to send commands; ``facts``: one as the ``ingest`` user
    (inbox prefix ``_INBOX_ingest``); ``commune``: a commune code in a province ``hub`` serves.
    Returns what it saw, for the test."""
    place = {"province_code": PROVINCE_OF[commune], "commune_code": commune}
    volunteer = {
        "full_name": "Nguyễn Văn An",
        "phone": "0912345678",
        "birth_date": "2001-05-06",
        **place,
        "affiliation": "youth_union",
        "skills": ["digital skills"],
        "consent": True,
        "command_id": "partner-42:volunteer-1",  # the partner's own id: resends are harmless
    }
    first = await command(commands, "registry", "register_volunteer", volunteer)
    again = await command(commands, "registry", "register_volunteer", volunteer)  # a resend
    other = await command(commands, "registry", "register_volunteer", {**volunteer, "command_id": "x-2"})
    team = await accepted(
        commands,
        "registry",
        "form_team",
        {"name": "Đội hình số", "focus": "digital_skills", "organisation": "Đoàn xã", **place},
    )
    member = {"team_id": team["aggregate_id"], "volunteer_id": first["aggregate_id"]}
    await accepted(commands, "registry", "add_team_member", member)
    point = await accepted(
        commands,
        "registry",
        "register_service_point",
        {"name": "Điểm một cửa", "kind": "commune_one_stop", **place},
    )
    shift = {
        "team_id": team["aggregate_id"],
        "service_point_id": point["aggregate_id"],
        "starts_at": "2025-07-10T08:00:00+07:00",
        "ends_at": "2025-07-10T12:00:00+07:00",
    }
    dispatch = await accepted(commands, "dispatch", "dispatch_team", shift)
    dispatch_id = dispatch["result"]["dispatch_id"]
    checked_in = await accepted(
        commands, "dispatch", "check_in", {"dispatch_id": dispatch_id, "at": "2025-07-10T08:05:00+07:00"}
    )

    # a fact from the partner's own field app: no reply, acknowledged by the ingest stream
    js = facts.jetstream()
    fact = {"fact_id": "partner-42:report-1", "dispatch_id": dispatch_id, "people_supported": 9}
    ack = await js.publish(f"vhub.ingest.{hub}.activity_reported", json.dumps(fact).encode())
    bad = await js.publish(f"vhub.ingest.{hub}.activity_reported", b'{"people_supported": -1}')

    async with httpx.AsyncClient(base_url=reporting_url, timeout=10) as http:
        summary = await read_own_write(http, hub, checked_in["version"])
        for _ in range(50):  # a fact has no version to wait for: look until it is counted
            if summary["figures"]["activity_reports"] >= 1:
                break
            await asyncio.sleep(0.2)
            summary = (await http.get("/v1/summary")).json()
    return {
        "first": first,
        "again": again,
        "other": other,
        "checked_in": checked_in,
        "fact_seq": ack.seq,
        "bad_fact_seq": bad.seq,
        "summary": summary,
    }


PROVINCE_OF = {"00070": "01", "26506": "79"}  # communes of Hà Nội (hub hn) and TP.HCM (hub hcm)

if __name__ == "__main__":
    nats_url, reporting_url, hub = sys.argv[1:4]
    commune = {"hn": "00070", "hcm": "26506"}[hub]

    async def run() -> None:
        commands = await nats.connect(nats_url)
        facts = await nats.connect(nats_url)  # in production: user="ingest", inbox_prefix="_INBOX_ingest"
        try:
            print(
                json.dumps(
                    await main(commands, facts, reporting_url, hub, commune), indent=2, ensure_ascii=False
                )
            )
        finally:
            await commands.close()
            await facts.close()

    asyncio.run(run())
