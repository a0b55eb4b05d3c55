"""docs/integrating.md's client really works: docs/examples/integration_client.py runs against a
hub as production runs it (the shipped configs and accounts; registry, dispatch and reporting
under their own users; tests/integration/test_permissions.py's fixtures), sending commands as a
client allowed to, and its facts as the ``ingest`` user on the ``_INBOX_ingest`` prefix."""

from __future__ import annotations

import asyncio
import importlib.util
import re
from pathlib import Path
from types import ModuleType

from services.registry import app as registry_app
from shared.envelope import H_DLQ_REASON, H_DLQ_STREAM_SEQ, dlq_subject
from shared.hubs import hub_of_province
from tests.integration.test_permissions import (  # noqa: F401  # hub: a fixture
    HUB,
    Hub,
    connect,
    dispatch_running,
    hub,
    reporting_running,
    violations,
)
from tests.support.waiting import eventually

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = DOCS / "examples" / "integration_client.py"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("integration_client", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_guide_shows_the_example_as_it_is_tested() -> None:
    """The guide quotes the whole example file, so the code a reader copies is the code tested."""
    guide = (DOCS / "integrating.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", guide, flags=re.DOTALL)
    assert EXAMPLE.read_text(encoding="utf-8") in blocks


async def test_the_guides_client_sends_commands_publishes_facts_and_reads_its_writes(
    hub: Hub,  # noqa: F811  # the fixture imported above
) -> None:
    client = example()
    commune = next(c for c, p in client.PROVINCE_OF.items() if hub_of_province(p) == HUB)
    settings = hub.settings("operator")
    registry = hub.settings("registry", instance="1")
    hub.tasks.append(asyncio.create_task(registry_app.run(registry, stop=hub.stop)))
    async with dispatch_running(hub), reporting_running(hub) as reporting:
        facts = await connect(hub.server.url, "ingest", "_INBOX_ingest")
        try:
            base = f"http://127.0.0.1:{reporting.server.port}"
            seen = await client.main(hub.operator, facts, base, HUB, commune)
        finally:
            await facts.close()

        first, again, other = seen["first"], seen["again"], seen["other"]
        assert first["accepted"]
        assert again["duplicate"]  # the resend: recorded once, the first answer again
        assert (again["aggregate_id"], again["version"]) == (first["aggregate_id"], first["version"])
        assert (other["accepted"], other["code"]) == (False, "duplicate_volunteer")
        figures = seen["summary"]["figures"]
        wanted = {"active_volunteers": 1, "dispatches": 1, "check_ins": 1, "activity_reports": 1}
        assert {k: figures[k] for k in wanted} == wanted
        assert figures["people_supported"] == 9
        (fresh,) = seen["summary"]["freshness"]["hubs"]
        assert fresh["hub"] == HUB
        assert fresh["position"] >= seen["checked_in"]["version"]

        dlq = dlq_subject(HUB, "dispatch_ingest")

        async def bad_fact_dead_lettered() -> bool:
            return await hub.last_on(settings.dlq_stream, dlq) is not None

        await eventually(bad_fact_dead_lettered, "the malformed fact in the dead-letter stream", 10)
        letter = await hub.last_on(settings.dlq_stream, dlq)
        assert letter is not None
        assert letter[H_DLQ_STREAM_SEQ] == str(seen["bad_fact_seq"])
        assert letter[H_DLQ_REASON].startswith("invalid_command"), letter
    hub.died()
    assert violations(hub.server) == []
