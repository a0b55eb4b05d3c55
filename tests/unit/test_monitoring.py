"""Prometheus scrapes exactly the vhub processes docker-compose.yml runs (both come from the hub list)."""

from __future__ import annotations

import yaml

from vhub.deploy.compose import compose
from vhub.deploy.hublist import REPO, load_hub_list
from vhub.deploy.monitoring import prometheus_text, vhub_targets


def test_every_vhub_service_of_the_compose_file_is_scraped_and_nothing_else() -> None:
    hubs = load_hub_list()
    services = compose(hubs)["services"]
    running = {name for name, s in services.items() if s.get("command", [])[:2] == ["python", "-m"]}
    scraped = {name for names in vhub_targets(hubs).values() for name in names}
    assert running == scraped
    config = yaml.safe_load(prometheus_text(hubs))
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:8080" for name in running}
    assert services["prometheus"]["volumes"][0].startswith("./deploy/prometheus/prometheus.yml:")
    assert (REPO / "deploy" / "grafana" / "dashboards" / "vhub.json").exists()
