"""Every service runs under its own NATS user of the shipped accounts.conf, as production runs it.

One nats-server from the wheel on the shipped deploy/nats/hub.conf (see tests/support/leafnodes.py;
its leaf link points at a port nobody listens on: a hub cut off from central is a normal state),
with the shipped accounts.conf and passwords from the environment. The operator provisions the
hub's streams; then registry (``registry.app.run``), dispatch (``DispatchApp``) and reporting
(``reporting.app.start`` and its consumer, what ``python -m services.reporting`` runs) start through
their composition roots with ``Settings`` carrying their user and password, and the test goes
through the public subjects only:

* registry: register a volunteer, form a team, add the member, register a service point;
* dispatch: dispatch the team, check in, report activity, check out; a malformed fact on
  ``vhub.ingest.<hub>.activity_reported`` published as the ``ingest`` user lands in the DLQ stream
  with its reason (dispatch's DLQ permission);
* reporting: a poison event published on the event stream by the operator is dead-lettered with
  its reason, ``/v1/summary`` shows the registered and dispatched figures, the national index's
  consumer has read every volunteer event, and two rebuilds run under the reporting user (the
  second resets the rebuild's consumer, which the first left at the end of the log, to 1);
* the registry restarted: its identity index replays the log through its consumer (reset to 1),
  so a twin of the first volunteer is flagged as a possible duplicate of them.

No service creates or deletes a consumer: the operator provisions every one (``vhub provision``,
shared/provisioned.py) and the services bind and reset. Each service runs as replica slot 1
(``VHUB_INSTANCE=1``): its per-replica consumers carry the slot, which the rendered accounts file
lists (vhub/natsaccounts.py).

Finally the server's log must hold no permissions violation at all: a denied publish or subscribe
is only an async error at the client, which a retrying service could otherwise hide.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import nats.errors
import nats.js.errors
import pytest
from nats.aio.client import Client

from services.dispatch.app import DispatchApp
from services.dispatch.clock import ManualClock
from services.dispatch.domain.model import LOCAL_TZ
from services.registry import app as registry_app
from services.reporting import app as reporting_app
from services.reporting.consumer import DURABLE as REPORTING_DURABLE
from services.reporting.rebuild import REBUILD_CONSUMER, rebuild
from shared.envelope import H_DLQ_REASON, H_DLQ_SOURCE, dlq_subject, event_subject, ingest_subject
from shared.hosting import hosted
from shared.natsserver import NatsServer
from shared.provisioned import REPORTING_NATIONAL
from shared.settings import Settings, load_settings
from shared.streams import provision
from tests.integration.registry import test_registry as registry_tests
from tests.support.leafnodes import hub_config, secrets, start_configured_server
from tests.support.waiting import eventually, free_port

HUB = "hcm"
SECRETS = secrets()
NOW = datetime(2025, 7, 10, 12, 0, tzinfo=LOCAL_TZ)
HCM_PLACE = {"province_code": "79", "commune_code": "26506"}  # a province hub hcm serves
VOLUNTEER = {**registry_tests.VOLUNTEER, **HCM_PLACE, "command_id": "perm-volunteer"}
TEAM = {
    "name": "Đội hình số Bến Thành",
    **HCM_PLACE,
    "focus": "digital_skills",
    "organisation": "Đoàn phường Bến Thành",
    "command_id": "perm-team",
}
POINT = {
    "name": "Điểm một cửa Bến Thành",
    "kind": "commune_one_stop",
    **HCM_PLACE,
    "command_id": "perm-point",
}


def violations(server: NatsServer) -> list[str]:
    """The server's permissions violations so far (a denied publish or subscribe)."""
    return [line for line in server.log_path.read_text().splitlines() if "Violation" in line]


def explained(what: str | Callable[[], str], server: NatsServer) -> Callable[[], str]:
    """A failure message that says which permissions the server denied meanwhile (usually why)."""
    return lambda: f"{what if isinstance(what, str) else what()}; violations: {violations(server)}"


async def connect(url: str, user: str, inbox: str) -> Client:
    password = SECRETS[f"VHUB_{user.upper()}_PASSWORD"]
    return await nats.connect(url, user=user, password=password, inbox_prefix=inbox)


def service_settings(url: str, user: str, tmp: Path, **over: Any) -> Settings:
    """A service's settings as production gives them (VHUB_NATS_USER / VHUB_NATS_PASSWORD)."""
    return load_settings(
        env="test",
        hub=HUB,
        nats_url=url,
        nats_user=user,
        nats_password=SECRETS[f"VHUB_{user.upper()}_PASSWORD"],
        http_port=0,
        log_format="console",
        database_url=f"sqlite+aiosqlite:///{tmp / 'reporting.db'}",
        **over,
    )


class Hub:
    """The server, the operator's connection and every service started on it (all stopped at the end)."""

    def __init__(self, server: NatsServer, operator: Client, tmp: Path) -> None:
        self.server = server
        self.operator = operator
        self.tmp = tmp
        self.tasks: list[asyncio.Task[None]] = []
        self.stop = asyncio.Event()

    def settings(self, user: str, **over: Any) -> Settings:
        return service_settings(self.server.url, user, self.tmp, **over)

    def died(self) -> None:
        """Fail at once, with the server's violations, if a service task ended on an error."""
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise AssertionError(f"a service failed: {task.exception()!r}; {violations(self.server)}")

    async def ask(self, context: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """A command over request/reply; waits (with a deadline) for the service to subscribe.
        Every command carries a ``command_id``, so a resend after no responders is harmless."""
        subject = f"vhub.cmd.{context}.{name}"
        deadline = asyncio.get_running_loop().time() + 10.0
        while True:
            self.died()
            try:
                reply = await self.operator.request(subject, json.dumps(body).encode(), timeout=10)
            except nats.errors.NoRespondersError:
                assert asyncio.get_running_loop().time() < deadline, f"nobody serves {subject}"
                await asyncio.sleep(0.05)  # waiting for the service's subscription, bounded
                continue
            out: dict[str, Any] = json.loads(reply.data)
            assert out.get("accepted"), (name, out, violations(self.server))
            return out

    async def last_seq(self, stream: str) -> int:
        return (await self.operator.jetstream().stream_info(stream)).state.last_seq

    async def last_on(self, stream: str, subject: str) -> dict[str, str] | None:
        """The headers of the last message on ``subject`` in ``stream``, if any."""
        try:
            msg = await self.operator.jetstream().get_last_msg(stream, subject)
        except nats.js.errors.NotFoundError:
            return None
        return dict(msg.headers or {})


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    leaf_url = f"nats-leaf://leaf:{SECRETS['VHUB_LEAF_PASSWORD']}@127.0.0.1:{free_port()}"
    env = {**SECRETS, "VHUB_HUB": HUB, "VHUB_CENTRAL_LEAF_URL": leaf_url}
    server = start_configured_server(tmp_path / "hub", hub_config(tmp_path / "hub" / "jetstream"), env)
    state: Hub | None = None
    try:
        operator = await connect(server.url, "operator", "_INBOX")
        state = Hub(server, operator, tmp_path)
        await provision(operator.jetstream(), state.settings("operator"))
        yield state
    finally:
        if state is not None:
            state.stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.gather(*state.tasks, return_exceptions=True), 10)
            for task in state.tasks:
                task.cancel()
            with contextlib.suppress(Exception):
                await state.operator.close()
        server.kill()  # the only process this test starts


@contextlib.asynccontextmanager
async def dispatch_running(hub: Hub) -> AsyncIterator[DispatchApp]:
    def build(nc: Client, settings: Settings) -> DispatchApp:
        return DispatchApp(nc, settings, clock=ManualClock(NOW), catch_up_s=10.0)

    async with hosted(hub.settings("dispatch", instance="1"), "dispatch-perm", build) as app:
        yield app


@contextlib.asynccontextmanager
async def reporting_running(hub: Hub) -> AsyncIterator[reporting_app.ReportingApp]:
    """What ``reporting.app.run`` does, with a shorter wait for fresh reads."""

    def build(nc: Client, settings: Settings) -> reporting_app.ReportingApp:
        return reporting_app.ReportingApp(nc, settings, max_wait_s=1.0)

    async with hosted(hub.settings("reporting", reporting_batch_size=50), "reporting", build) as service:
        yield service


async def test_each_service_runs_under_its_own_user(hub: Hub) -> None:
    js = hub.operator.jetstream()
    settings = hub.settings("operator")
    registry = hub.settings("registry", instance="1")  # replica slot 1 (vhub/natsaccounts.py)
    first_registry = asyncio.Event()
    hub.tasks.append(asyncio.create_task(registry_app.run(registry, stop=first_registry)))
    async with dispatch_running(hub) as dispatch, reporting_running(hub) as reporting:
        # registry
        volunteer = (await hub.ask("registry", "register_volunteer", VOLUNTEER))["aggregate_id"]
        team = (await hub.ask("registry", "form_team", TEAM))["aggregate_id"]
        member = {"team_id": team, "volunteer_id": volunteer, "command_id": "perm-member"}
        await hub.ask("registry", "add_team_member", member)
        point = (await hub.ask("registry", "register_service_point", POINT))["aggregate_id"]

        # dispatch, once its projection knows the team and the point
        assert await dispatch.projection.wait_for(await hub.last_seq(settings.event_stream), within=10)
        shift = {
            "team_id": team,
            "service_point_id": point,
            "starts_at": "2025-07-10T08:00:00+07:00",
            "ends_at": "2025-07-10T12:00:00+07:00",
            "command_id": "perm-dispatch",
        }
        did = (await hub.ask("dispatch", "dispatch_team", shift))["result"]["dispatch_id"]
        checkin = {"dispatch_id": did, "at": "2025-07-10T08:05:00+07:00", "command_id": "perm-in"}
        await hub.ask("dispatch", "check_in", checkin)
        report = {"dispatch_id": did, "people_supported": 12, "command_id": "perm-report"}
        await hub.ask("dispatch", "report_activity", report)

        checkout = {"dispatch_id": did, "at": "2025-07-10T11:55:00+07:00", "command_id": "perm-out"}
        await hub.ask("dispatch", "check_out", checkout)

        # an outside system's malformed fact, as the ingest user (on its own inbox prefix)
        ingest = await connect(hub.server.url, "ingest", "_INBOX_ingest")
        try:
            subject = ingest_subject(HUB, "activity_reported")
            await ingest.jetstream().publish(subject, b"{not json", stream=settings.ingest_stream)
        finally:
            await ingest.close()
        dispatch_dlq = dlq_subject(HUB, "dispatch_ingest")

        async def fact_dead_lettered() -> bool:
            hub.died()
            return await hub.last_on(settings.dlq_stream, dispatch_dlq) is not None

        await eventually(fact_dead_lettered, explained("the malformed fact in the DLQ", hub.server), 10)
        headers = await hub.last_on(settings.dlq_stream, dispatch_dlq)
        assert headers is not None
        assert headers[H_DLQ_REASON].startswith("invalid_fact"), headers
        assert headers[H_DLQ_SOURCE] == "dispatch_ingest"

        # a poison event on the event log, as the operator: reporting dead-letters it
        poison = event_subject(HUB, "survey", "form", "f1")
        await js.publish(poison, b"{not an envelope", stream=settings.event_stream)
        reporting_dlq = dlq_subject(HUB, REPORTING_DURABLE)

        async def poison_dead_lettered() -> bool:
            hub.died()
            return await hub.last_on(settings.dlq_stream, reporting_dlq) is not None

        await eventually(poison_dead_lettered, explained("reporting's dead letter", hub.server), 10)
        headers = await hub.last_on(settings.dlq_stream, reporting_dlq)
        assert headers is not None
        assert headers[H_DLQ_REASON].startswith("undecodable envelope"), headers
        assert headers[H_DLQ_SOURCE] == REPORTING_DURABLE

        # reporting's API shows what registry and dispatch recorded
        expected = {
            "active_teams": 1,
            "active_volunteers": 1,
            "dispatches": 1,
            "check_ins": 1,
            "activity_reports": 1,
            "people_supported": 12,
        }
        seen: dict[str, Any] = {}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{reporting.server.port}") as http:

            async def figures_shown() -> bool:
                hub.died()
                response = await http.get("/v1/summary")
                response.raise_for_status()
                seen.update(response.json()["figures"])
                return all(seen.get(k) == v for k, v in expected.items())

            what = lambda: f"reporting's summary {expected} (last seen {seen})"  # noqa: E731
            await eventually(figures_shown, explained(what, hub.server), 10)
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text

        # the national duplicates index reads the volunteers' events through its consumer
        async def national_read() -> bool:
            info = await js.consumer_info(settings.read_stream, REPORTING_NATIONAL)
            return bool(info.delivered.stream_seq) and info.num_pending == 0

        await eventually(national_read, explained("the national index's consumer read on", hub.server), 10)

        # the registry restarted: its identity index replays the log (its consumer reset to 1), so
        # a twin of the volunteer (same name, birth date and province, another phone) is flagged
        first_registry.set()
        await hub.tasks[0]
        hub.tasks.append(asyncio.create_task(registry_app.run(registry, stop=hub.stop)))
        twin = {**VOLUNTEER, "phone": "0911111111", "command_id": "perm-twin"}
        flagged = await hub.ask("registry", "register_volunteer", twin)
        assert flagged["warnings"][0]["code"] == "possible_duplicate", flagged
        assert flagged["warnings"][0]["duplicate_of"] == [volunteer]

        # two rebuilds under the reporting user through the operator's reporting_rebuild consumer:
        # the second resets it to 1 (the first left it at the end of the log)
        for _ in range(2):
            at = await rebuild(reporting.nc.jetstream(), reporting.store, stream=settings.read_stream)
            assert at.position == await hub.last_seq(settings.read_stream)
        assert (await js.consumer_info(settings.read_stream, REBUILD_CONSUMER)).num_pending == 0

    hub.died()
    assert violations(hub.server) == []
