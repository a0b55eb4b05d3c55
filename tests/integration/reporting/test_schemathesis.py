"""Schemathesis against the OpenAPI that a running reporting service serves (real nats-server,
real SQLite, a small campaign projected): every generated request, valid and invalid, gets an
answer that its document promises (status code, content type, headers, body schema), never a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.core.result import Ok

from services.reporting.app import ReportingApp
from shared.eventstore import EventStore
from shared.hosting import hosted
from shared.settings import Settings, load_settings
from tests.integration.reporting.campaign import generate
from tests.integration.reporting.conftest import publish
from tests.support.waiting import eventually

EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}  # per operation
CHECK_NAMES = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
]

# 503 projection_behind (with Retry-After) is the documented answer to a min_position the
# projection has not reached in time, not a server fault; every other 5xx is.
CONFIG = SchemathesisConfig.from_str(
    """
[checks.not_a_server_error]
expected-statuses = ["2xx", "3xx", "4xx", "503"]
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "404", "503"]
"""
)


@dataclass
class Run:
    cases: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    no_negative: list[str] = field(default_factory=list)


@pytest.fixture
async def reporting(provisioned: Settings, tmp_path: Path, store: EventStore) -> AsyncIterator[ReportingApp]:
    """A reporting service on SQLite with a small campaign projected; min_position waits are short
    so the 503 answers that fuzzed positions get do not dominate the run time."""
    settings = load_settings(
        **{
            **provisioned.model_dump(),
            "database_url": f"sqlite+aiosqlite:///{tmp_path / 'reporting.db'}",
            "http_port": 0,
            "reporting_batch_size": 200,
        }
    )
    async with hosted(settings, "reporting", lambda nc, s: ReportingApp(nc, s, max_wait_s=0.05)) as svc:
        last = await publish(store, generate(settings.hub, volunteers=60, teams=6, days=3))

        async def caught_up() -> bool:
            return (await svc.store.position()).position >= last

        await eventually(caught_up, "projection caught up", 30)
        yield svc


def fuzz(base_url: str, hubs: frozenset[str]) -> Run:
    """Every operation of the served document, positive and negative cases, every check."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", config=CONFIG)
    checks = [check for check in CHECKS.get_all() if getattr(check, "__name__", "") in CHECK_NAMES]
    assert len(checks) == len(CHECK_NAMES)
    run = Run()
    session = requests.Session()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()  # the served document is valid OpenAPI
        operation = result.ok()
        for mode, examples in EXAMPLES.items():
            label = f"{operation.label} [{mode.value}]"
            run.cases[label] = 0
            try:
                _probe(operation, mode, examples, label, base_url, session, checks, run, hubs)()
            except (Failure, FailureGroup) as err:  # one finding per operation and mode, then on
                run.failures.append(f"{label}: {err}")
            except hypothesis.errors.Unsatisfiable:
                # no invalid request exists for an operation without parameters (/healthz)
                assert mode is GenerationMode.NEGATIVE, label
                assert not operation.query, label
                run.no_negative.append(operation.label)
    return run


def _ruled_out(case: Any, hubs: frozenset[str]) -> str | None:
    """The reason of a rule the schema cannot state, if ``case`` breaks one: from <= to, and a
    hub-qualified min_position naming a hub whose log the service reads (``hubs``)."""
    query = case.query or {}
    named = {p.rpartition(":")[0] for p in str(query.get("min_position") or "").split(",")} - {""}
    if named - hubs:
        return "hub_not_read"  # checked first, with the request
    daily = case.operation.path == "/v1/daily" and query.get("from") and query.get("to")
    return "bad_range" if daily and query["from"] > query["to"] else None


def _probe(
    operation: Any,
    mode: GenerationMode,
    examples: int,
    label: str,
    base_url: str,
    session: requests.Session,
    checks: list[Any],
    run: Run,
    hubs: frozenset[str],
) -> Callable[[], None]:
    accepting = next(c for c in checks if c.__name__ == "positive_data_acceptance")

    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: a failure in CI reproduces here
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def probe(case: Any) -> None:
        response = case.call(base_url=base_url, session=session, timeout=10)
        run.cases[label] += 1
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        rule = _ruled_out(case, hubs) if mode is GenerationMode.POSITIVE else None
        if rule is not None:
            # a rule the schema cannot state: refused as documented, 422 with its reason
            assert response.status_code == 422, response.text
            assert response.json()["detail"]["reason"] == rule
            case.validate_response(response, checks=[c for c in checks if c is not accepting])
            return
        case.validate_response(response, checks=checks)

    return probe


async def test_schemathesis_finds_nothing(reporting: ReportingApp) -> None:
    """Given a running reporting service with figures, when schemathesis sends valid and invalid
    requests to every operation, then every answer conforms to the document and none is a 5xx
    other than the documented 503."""
    await reporting.links.poll()
    hubs = reporting.links.hubs
    assert hubs == {reporting.settings.hub}  # a hub's own reporting reads its own log only
    run = await asyncio.to_thread(fuzz, f"http://127.0.0.1:{reporting.server.port}", hubs)
    total = sum(run.cases.values())
    print(f"schemathesis: {total} cases over {len(run.cases)} operation/modes; statuses {run.statuses}")
    print(f"schemathesis: {len(run.failures)} findings; no invalid request exists for {run.no_negative}")
    assert not run.failures, "\n\n".join(run.failures)
    assert total >= 13 * 2 * 5  # every operation really ran, in both modes
    assert run.statuses.get(200, 0) > 0
    assert run.statuses.get(422, 0) > 0
