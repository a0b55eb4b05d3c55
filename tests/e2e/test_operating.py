"""What an operator sees of a running `vhub dev` (real processes): the Grafana dashboard's metrics
on the services' /metrics, and one command's correlation id through the JSON logs of two services."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.envelope import ingest_subject
from tests.support.waiting import eventually, free_port, wait_until

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "vhub.json"
TEAM = {
    "name": "Đội hình số Hoàn Kiếm",
    "province_code": "01",
    "focus": "digital_skills",
    "organisation": "Đoàn phường Hoàn Kiếm",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """`vhub dev` with JSON logs at debug level (so a command's own line is written), stopped by
    SIGTERM at the end."""
    tmp = tmp_path_factory.mktemp("operating")
    ready = tmp / "ready.json"
    cmd = [
        sys.executable,
        "-m",
        "vhub.cli",
        "dev",
        "--data-dir",
        str(tmp / "data"),
        "--ready-file",
        str(ready),
    ]
    proc = subprocess.Popen(
        [*cmd, "--http-port", str(free_port()), "--nats-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        # dispatch's clock runs from the campaign's 10 July, 06:00, so a shift that day is still ahead
        env={**os.environ, "VHUB_LOG_LEVEL": "debug", "VHUB_CLOCK": "running:2025-07-10T06:00:00+07:00"},
    )
    try:
        wait_until(lambda: ready.exists() or proc.poll() is not None, "ready file", 90)
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        yield json.loads(ready.read_text())
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def dashboard_metrics() -> set[str]:
    """Every vhub metric (sample name) a panel of the shipped dashboard queries."""
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    return {name for e in exprs for name in re.findall(r"\bvhub_[a-z_]+", e)}


async def samples(info: dict[str, Any]) -> dict[str, list[tuple[str, dict[str, str], float]]]:
    """Per service, the samples its /metrics serves now (name, labels, value)."""
    out = {}
    async with httpx.AsyncClient(timeout=5) as client:
        for name, url in info["services"].items():
            text = (await client.get(f"{url}/metrics")).text
            out[name] = [
                (s.name, s.labels, s.value)
                for fam in text_string_to_metric_families(text)
                for s in fam.samples
            ]
    return out


async def test_every_metric_the_dashboard_queries_is_served_by_a_running_service(
    stack: dict[str, Any],
) -> None:
    """After a command, a refused ingest fact and reporting's catch-up, every series a panel of
    deploy/grafana/dashboards/vhub.json queries has samples on some service's /metrics, and
    vhub_events_appended_total counts the command's event."""
    nc = await nats.connect(stack["nats_url"])
    try:
        body = {**TEAM, "command_id": "operating-team"}
        reply = json.loads(
            (await nc.request("vhub.cmd.registry.form_team", json.dumps(body).encode(), 10)).data
        )
        assert reply["accepted"], reply
        await nc.jetstream().publish(ingest_subject(stack["hub"], "activity_reported"), b"{not json")
    finally:
        await nc.drain()
    wanted = dashboard_metrics()
    assert {"vhub_commands_total", "vhub_events_appended_total", "vhub_dead_letters_total"} <= wanted
    seen: dict[str, list[tuple[str, dict[str, str], float]]] = {}

    async def all_served() -> bool:
        seen.update(await samples(stack))
        names = {s[0] for rows in seen.values() for s in rows}
        return wanted <= names and any(s[0] == "vhub_dead_letters_total" for s in seen["dispatch"])

    await eventually(
        all_served, lambda: f"missing: {wanted - {s[0] for r in seen.values() for s in r}}", within=30
    )
    appended = [v for n, labels, v in seen["registry"] if n == "vhub_events_appended_total"]
    assert sum(appended) >= 1
    letters = [(labels, v) for n, labels, v in seen["dispatch"] if n == "vhub_dead_letters_total"]
    assert letters == [({"source": "dispatch_ingest", "code": "invalid_fact"}, 1.0)]


def log_lines(stack: dict[str, Any], service: str, correlation_id: str) -> list[dict[str, Any]]:
    """The JSON log lines of ``service`` (vhub dev's logs/<service>.log) carrying ``correlation_id``."""
    path = Path(stack["data_dir"]) / "logs" / f"{service}.log"
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("correlation_id") == correlation_id:
                out.append(entry)
    return out


async def test_one_commands_correlation_id_runs_through_the_logs_of_two_services(
    stack: dict[str, Any],
) -> None:
    """Disbanding a team with a shift ahead (correlation id C): the registry's log has C on the
    append, dispatch's log has C on the reaction that cancels the shift, and the cancellation
    event carries C as its correlation id and the TeamDisbanded event as its cause."""
    corr = "corr-disband-e2e"
    nc = await nats.connect(stack["nats_url"])

    async def ask(context: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        reply = await nc.request(f"vhub.cmd.{context}.{name}", json.dumps(body).encode(), timeout=10)
        out: dict[str, Any] = json.loads(reply.data)
        return out

    try:
        team = await ask(
            "registry", "form_team", {**TEAM, "name": "Đội hình giải thể", "command_id": "op-t2"}
        )
        point = await ask(
            "registry",
            "register_service_point",
            {
                "name": "Điểm một cửa Hoàn Kiếm",
                "kind": "commune_one_stop",
                "province_code": "01",
                "commune_code": "00004",
                "command_id": "op-p2",
            },
        )
        assert team["accepted"], team
        assert point["accepted"], point
        shift = {
            "team_id": team["aggregate_id"],
            "service_point_id": point["aggregate_id"],
            "starts_at": "2025-07-10T08:00:00+07:00",
            "ends_at": "2025-07-10T12:00:00+07:00",
            "command_id": "op-shift",
        }
        dispatched: dict[str, Any] = {}

        async def booked() -> bool:  # dispatch learns of the team and the point from the log
            dispatched.update(await ask("dispatch", "dispatch_team", shift))
            return bool(dispatched["accepted"])

        await eventually(booked, lambda: f"dispatch_team: {dispatched}", within=30)
        body = {"team_id": team["aggregate_id"], "command_id": "op-disband", "correlation_id": corr}
        disbanded = await ask("registry", "disband_team", body)
        assert disbanded["accepted"], disbanded
        [cause] = [e["event_id"] for e in disbanded["events"] if e["event_type"] == "registry.team_disbanded"]

        await eventually(
            lambda: bool(log_lines(stack, "dispatch", corr)), "dispatch logs the reaction", within=30
        )
        await eventually(
            lambda: bool(log_lines(stack, "registry", corr)), "registry logs the append", within=10
        )
        reaction = log_lines(stack, "dispatch", corr)
        assert {e["service"] for e in reaction} == {"dispatch"}
        assert any(e.get("causation_id") == cause for e in reaction), reaction
        subject = f"vhub.evt.{stack['hub']}.dispatch.schedule.{team['aggregate_id']}"
        last = await nc.jetstream().get_last_msg(f"VHUB_EVT_{stack['hub'].upper()}", subject)
        envelope = json.loads(last.data or b"{}")
        assert envelope["event_type"] == "dispatch.dispatch_cancelled"
        assert envelope["correlation_id"] == corr
        assert envelope["causation_id"] == cause
    finally:
        await nc.drain()
