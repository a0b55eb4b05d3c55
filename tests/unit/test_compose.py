"""docker-compose.yml checked statically (no Docker engine on these machines): images build from a
Dockerfile here, commands name real modules and CLI commands, env vars are real settings, and
host names and ports agree with the NATS configs they run."""

from __future__ import annotations

import importlib.util
import re
import subprocess
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml

from shared.natsserver import server_binary
from shared.settings import Settings
from vhub import cli
from vhub.deploy.compose import NATS_IMAGE, POSTGRES_IMAGE
from vhub.deploy.hublist import REPO
from vhub.deploy.monitoring import GRAFANA_IMAGE, PROMETHEUS_IMAGE
from vhub.deploy.natsconf import LEAF_URLS_VAR

COMPOSE: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
NATS = {n: s for n, s in SERVICES.items() if s.get("image") == NATS_IMAGE}
BUILT = {n: s for n, s in SERVICES.items() if "build" in s}
EXTERNAL_IMAGES = {NATS_IMAGE, POSTGRES_IMAGE, PROMETHEUS_IMAGE, GRAFANA_IMAGE}  # pinned; ours are built
ENV_EXAMPLE = {
    line.split("=", 1)[0]
    for line in (REPO / "deploy" / "env.example").read_text().splitlines()
    if "=" in line and not line.startswith("#")
}


def nats_conf(service: dict[str, Any]) -> str:
    command = service["command"]
    assert command[0] == "-c", command
    assert command[1].startswith("/etc/nats/"), command
    assert "./deploy/nats:/etc/nats:ro" in service["volumes"]
    path = REPO / "deploy" / "nats" / str(command[1]).removeprefix("/etc/nats/")
    assert path.exists(), path
    return path.read_text()


def listen_port(conf: str, block: str | None = None) -> int:
    """The port of ``listen``/``http`` at top level (block None) or inside ``block { ... }``."""
    if block is None:
        text = re.sub(r"^\w+ \{.*?^\}", "", conf, flags=re.M | re.S)
        key = "listen"
    elif block == "http":
        text, key = conf, "http"
    else:
        m = re.search(rf"^{block} \{{(.*?)^\}}", conf, re.M | re.S)
        assert m, block
        text, key = m.group(1), "listen"
    found = re.search(rf'^\s*{key}: "[^"]*:(\d+)"', text, re.M)
    assert found, (block, key)
    return int(found.group(1))


def env_refs(value: str) -> set[str]:
    return set(re.findall(r"\$\{(\w+)\}", value))


def test_every_vhub_image_builds_from_a_dockerfile_here() -> None:
    assert BUILT
    for name, service in BUILT.items():
        context = REPO / service["build"]
        assert (context / "Dockerfile").exists(), name
    dockerfile = (REPO / "Dockerfile").read_text()
    for package in ("shared", "services", "vhub"):
        assert f"COPY {package} ./{package}" in dockerfile
    for name, service in SERVICES.items():
        assert "build" in service or service.get("image") in EXTERNAL_IMAGES, name


def test_the_nats_image_runs_the_servers_minor_version_the_tests_run() -> None:
    out = subprocess.run([str(server_binary()), "--version"], capture_output=True, text=True, timeout=10)
    version = re.search(r"v(\d+\.\d+)\.", out.stdout + out.stderr)
    assert version, out.stdout
    assert f"nats:{version.group(1)}-alpine" == NATS_IMAGE


def test_every_command_names_a_real_module_or_cli_command() -> None:
    commands = typer.main.get_command(cli.app).commands  # type: ignore[attr-defined]
    for name, service in BUILT.items():
        command = service["command"]
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(command[2]) is not None, (name, command)
            assert importlib.util.find_spec(f"{command[2]}.__main__") is not None, (name, command)
        else:
            assert command[0] == "vhub", (name, command)
            assert command[1] in commands, (name, command)


def test_every_env_var_of_a_vhub_service_is_a_real_setting() -> None:
    settings = {f"VHUB_{field.upper()}" for field in Settings.model_fields}
    for name, service in BUILT.items():
        for key, value in service["environment"].items():
            assert key in settings, (name, key)
            assert env_refs(str(value)) <= ENV_EXAMPLE, (name, key, value)
        # the PII master key (deploy/registry.env) reaches the registry only (docs/architecture.md §3a)
        registry = str(service["command"][-1]) == "services.registry"
        assert service["env_file"] == (["deploy/.env", "deploy/registry.env"] if registry else "deploy/.env")


def test_only_the_registry_is_given_the_pii_master_key() -> None:
    """The registry env file exists as an example holding the master key, and no other service reads it."""
    example = (REPO / "deploy" / "registry.env.example").read_text()
    assert "VHUB_PII_MASTER_KEY=" in example
    given = {n for n, s in BUILT.items() if "deploy/registry.env" in s["env_file"]}
    assert given
    assert given == {n for n in BUILT if n.startswith("registry-")}


def test_every_variable_a_nats_config_reads_is_given() -> None:
    for name, service in NATS.items():
        needed = set(re.findall(r"\$(\w+)", nats_conf(service)))
        given = ENV_EXAMPLE | set(service.get("environment", {}))
        assert needed <= given, (name, needed - given)
        for value in service.get("environment", {}).values():
            assert env_refs(value) <= ENV_EXAMPLE


def test_nats_ports_and_health_checks_agree_with_the_configs() -> None:
    for name, service in NATS.items():
        conf = nats_conf(service)
        own = {listen_port(conf), listen_port(conf, "http")}
        if "leafnodes {\n  listen" in conf:
            own.add(listen_port(conf, "leafnodes"))
        for mapping in service.get("ports", []):
            host, container = mapping.split(":")
            assert int(container) in own, (name, mapping)
            assert host == container, (name, mapping)
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{listen_port(conf, 'http')}/healthz" in probe, name


def test_services_reach_nats_servers_by_their_names_and_ports() -> None:
    for name, service in BUILT.items():
        for url in service["environment"]["VHUB_NATS_URL"].split(","):
            parts = urlsplit(url)
            assert parts.hostname in NATS, (name, url)
            assert parts.port == listen_port(nats_conf(NATS[parts.hostname])), (name, url)


def test_hub_links_point_at_every_central_nodes_leaf_listener() -> None:
    central = {n: s for n, s in NATS.items() if "cluster {" in nats_conf(s)}
    assert len(central) == 3
    hubs = {n: s for n, s in NATS.items() if n not in central}
    assert len(hubs) >= 2
    for name, service in hubs.items():
        urls = re.findall(r'"([^"]+)"', service["environment"][LEAF_URLS_VAR])
        targets = {(urlsplit(u).hostname, urlsplit(u).port) for u in urls}
        assert targets == {(n, listen_port(nats_conf(s), "leafnodes")) for n, s in central.items()}, name
        assert "depends_on" not in service, "a hub must come up while central is away"
    for name, service in central.items():
        routes = set(re.findall(r"nats-route://([\w-]+):(\d+)", nats_conf(service)))
        assert routes == {(n, str(listen_port(nats_conf(s), "cluster"))) for n, s in central.items()}, name


def test_at_least_two_hubs_run_their_own_registry_and_dispatch() -> None:
    hubs = [
        s["environment"]["VHUB_HUB"]
        for n, s in BUILT.items()
        if n.startswith("registry-") and "," not in s["environment"]["VHUB_NATS_URL"]
    ]
    assert len(hubs) >= 2
    for hub in hubs:
        assert SERVICES[f"dispatch-{hub}"]["environment"]["VHUB_HUB"] == hub
        assert SERVICES[f"dispatch-{hub}"]["environment"]["VHUB_NATS_URL"].startswith(f"nats://nats-{hub}:")


def test_each_replica_has_a_slot_of_its_own() -> None:
    """Per-replica consumers are named by VHUB_INSTANCE: two replicas of a service at one hub
    must never share a slot (they would share, and fight over, one consumer)."""
    slots = Counter(
        (s["command"][-1], s["environment"]["VHUB_HUB"], s["environment"].get("VHUB_INSTANCE"))
        for s in BUILT.values()
        if s["command"][0] == "python"
    )
    assert all(slot[2] in {"1", "2", "3", "4"} for slot in slots), slots
    assert max(slots.values()) == 1, slots


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_health_checks_and_healthy_dependencies(name: str) -> None:
    service = SERVICES[name]
    one_shot = service.get("restart") == "no"
    assert one_shot or "healthcheck" in service, f"{name} has no health check"
    for dep, rule in service.get("depends_on", {}).items():
        assert dep in SERVICES, (name, dep)
        if rule["condition"] == "service_healthy":
            assert "healthcheck" in SERVICES[dep], (name, dep)
        else:
            assert rule["condition"] == "service_completed_successfully", (name, dep)
            assert SERVICES[dep]["restart"] == "no", (name, dep)
    if "build" in service and not one_shot:
        probe = " ".join(service["healthcheck"]["test"])
        assert f"127.0.0.1:{service['environment']['VHUB_HTTP_PORT']}/readyz" in probe, name


def test_every_named_volume_is_declared() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith("."):
                assert source in COMPOSE["volumes"], (name, volume)
