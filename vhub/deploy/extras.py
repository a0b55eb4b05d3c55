"""Services added to docker-compose.yml beside the hubs' own (monitoring, ...): the place to plug
them in. Each entry takes the hub list and returns compose services by name; a named volume they
mount is declared automatically. Service names to reach: ``nats-<n>`` (central nodes, monitoring
port 8222), ``nats-<hub>`` (the hub's ``monitor_port`` in deploy/hubs.toml), ``registry-<hub>``,
``dispatch-<hub>``, ``reporting-hn`` (HTTP 8080: ``/metrics``, ``/readyz``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vhub.deploy.hublist import HubList
from vhub.deploy.monitoring import monitoring_services

Services = dict[str, dict[str, Any]]
EXTRA_SERVICES: list[Callable[[HubList], Services]] = [monitoring_services]  # Prometheus, Grafana
