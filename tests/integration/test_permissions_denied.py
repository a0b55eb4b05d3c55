"""Least privilege, proven by the server: every forbidden action of every shipped user is refused.

One nats-server from the wheel on the shipped hub.conf with the hub's rendered accounts file
(deploy/nats/accounts-hcm.conf). The operator provisions the streams and every consumer a service
reads through (``vhub provision``, shared/provisioned.py: the victims), puts a volunteer event in
the log and one fact in the ingest work queue. Then each user, connected as its service connects
(its own inbox prefix), tries what an outside test of the stack did (and its neighbours): delete,
create, pull from or ack on another's consumer; create, re-create as a push consumer delivering
onto another service's commands, or delete its OWN consumers (the server checks no right on a
deliver subject, so no service may create any consumer); create a consumer on a stream it has no
business with; read volunteer events; read another client's replies; publish into another hub's or
another service's subjects. For each the server must answer with a
permissions violation (the client's error callback gets it; the server logs it), and afterwards the
victims are untouched: same consumers, the fact still waiting for dispatch.

The allowed traffic under the same file is tests/integration/test_permissions.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nats
import nats.errors
import pytest
from nats.aio.client import Client
from nats.aio.msg import Msg

from shared.envelope import Envelope, ingest_subject
from shared.eventstore import EventStore
from shared.natsserver import NatsServer
from shared.provisioned import (
    INGEST_CONSUMER,
    NATIONAL_FILTERS,
    READERS,
    REPLICA_SLOTS,
    REPORTING,
    REPORTING_FILTER,
    REPORTING_NATIONAL,
    REPORTING_REBUILD,
    dispatch_facts_filters,
    feed_consumer,
    identities_consumer,
    identity_filters,
    ingest_filters,
    read_consumer,
    read_filters,
)
from shared.settings import load_settings
from shared.streams import provision
from shared.subjectread import SubjectReader
from tests.support.leafnodes import hub_config, secrets, start_configured_server
from tests.support.waiting import eventually, free_port

HUB, OTHER = "hcm", "ct"
SECRETS = secrets()
S = load_settings(env="test", hub=HUB)
EVT, ING = S.event_stream, S.ingest_stream
VOLUNTEER = f"vhub.evt.{HUB}.registry.volunteer.v1"
OWN = f"vhub.evt.{HUB}.dispatch.dispatch.d1"  # a dispatch subject
TEAM = f"vhub.evt.{HUB}.registry.team.t1"  # a registry subject that is not personal data
SCHEDULE = f"vhub.evt.{HUB}.dispatch.schedule.t1"  # a team's shifts: the registry's export reads them
REG_CMD = "vhub.cmd.registry.register_volunteer"  # another service's command subject
DIS_CMD = "vhub.cmd.dispatch.dispatch_team"
# the victims: every consumer a service reads through, as the operator provisions them
# (shared/provisioned.py), with their filters
VICTIMS = {
    **{(EVT, identities_consumer(slot)): identity_filters(HUB) for slot in REPLICA_SLOTS},
    **{(EVT, f"dispatch_facts_{slot}"): dispatch_facts_filters(HUB) for slot in REPLICA_SLOTS},
    **{(EVT, read_consumer(svc, slot)): read_filters(svc, HUB) for svc in READERS for slot in REPLICA_SLOTS},
    **{(EVT, feed_consumer("dispatch", slot)): read_filters("dispatch", HUB) for slot in REPLICA_SLOTS},
    (ING, INGEST_CONSUMER): ingest_filters(HUB),
    (EVT, REPORTING): [REPORTING_FILTER],
    (EVT, REPORTING_REBUILD): [REPORTING_FILTER],
    (EVT, REPORTING_NATIONAL): NATIONAL_FILTERS,
}


def create(stream: str, name: str, filter_subject: str) -> bytes:
    """A consumer create request as nats-py sends it: granted, it would create (or overwrite)."""
    config = {"name": name, "durable_name": name, "filter_subject": filter_subject, "ack_policy": "explicit"}
    return json.dumps({"stream_name": stream, "config": config}).encode()


def push(stream: str, name: str, filter_subject: str, deliver: str) -> bytes:
    """A push consumer's create request: granted, the server would deliver to ``deliver``."""
    config = {
        "name": name,
        "durable_name": name,
        "filter_subject": filter_subject,
        "deliver_subject": deliver,
        "ack_policy": "none",
    }
    return json.dumps({"stream_name": stream, "config": config}).encode()


API = "$JS.API"
C = f"{API}.CONSUMER"
SPY = create(EVT, "spy", f"vhub.evt.{HUB}.registry.volunteer.>")
ACK_FACT = f"$JS.ACK.{ING}.dispatch_ingest_activity.1.1.1.0.0"
ACK_IDENTITY = f"$JS.ACK.{EVT}.registry_identities_1.1.1.1.0.0"

# (op, subject, payload) per user: "pub" publishes (an API call is a publish), "sub" subscribes
Action = tuple[str, str, bytes]


def its_own(stream: str, name: str, filter_subject: str, deliver: str) -> list[Action]:
    """A service's own consumer is the operator's: it may not create it (in all three API forms),
    nor re-create it as a push consumer delivering onto ``deliver`` (another service's commands:
    the server checks no right on a deliver subject), nor delete it."""
    made = push(stream, name, filter_subject, deliver)
    return [
        ("pub", f"{C}.CREATE.{stream}.{name}", made),
        ("pub", f"{C}.CREATE.{stream}.{name}.{filter_subject}", made),
        ("pub", f"{C}.DURABLE.CREATE.{stream}.{name}", made),
        ("pub", f"{C}.DELETE.{stream}.{name}", b""),
    ]


FACT = ingest_subject(HUB, "activity_reported")
# the registry's key bucket (issue 12): no one but the registry reads, writes, watches or purges it
KEYS = S.keys_bucket
KEY = f"$KV.{KEYS}.v1"  # volunteer v1's data key
KEY_BUCKET: list[Action] = [
    ("pub", f"{API}.DIRECT.GET.KV_{KEYS}.{KEY}", b""),
    ("pub", f"{API}.DIRECT.GET.KV_{KEYS}", json.dumps({"last_by_subj": KEY}).encode()),
    ("pub", f"{API}.STREAM.MSG.GET.KV_{KEYS}", json.dumps({"last_by_subj": KEY}).encode()),
    ("pub", f"{API}.STREAM.INFO.KV_{KEYS}", b""),
    ("pub", f"{API}.STREAM.PURGE.KV_{KEYS}", b""),
    ("pub", f"{C}.CREATE.KV_{KEYS}", create(f"KV_{KEYS}", "", f"$KV.{KEYS}.>")),  # a watcher
    ("pub", KEY, b"not your key"),  # overwrite (or, with a purge header, erase) a key
    ("sub", f"$KV.{KEYS}.>", b""),
]
FORBIDDEN: dict[str, list[Action]] = {
    "dispatch": [
        *KEY_BUCKET,
        # the ingest work queue's consumer, which its replicas share: not even reset (a reset would
        # hand every replica's unacknowledged facts out again)
        *its_own(ING, INGEST_CONSUMER, FACT, REG_CMD),
        ("pub", f"{C}.RESET.{ING}.{INGEST_CONSUMER}", b'{"seq": 1}'),
        # its own facts consumer is the operator's: bind, pull, ack, reset; never create, alter,
        # delete (several filters: the server could not check a create's config)
        ("pub", f"{C}.CREATE.{EVT}.dispatch_facts_1", create(EVT, "dispatch_facts_1", ">")),
        ("pub", f"{C}.CREATE.{EVT}.dispatch_facts_1.{OWN}", create(EVT, "dispatch_facts_1", OWN)),
        ("pub", f"{C}.DURABLE.CREATE.{EVT}.dispatch_facts_1", create(EVT, "dispatch_facts_1", ">")),
        ("pub", f"{C}.DELETE.{EVT}.dispatch_facts_1", b""),
        ("pub", f"{C}.DELETE.{EVT}.registry_identities_1", b""),  # seen: dispatch deleted it
        ("pub", f"{C}.DELETE.{EVT}.reporting", b""),
        ("pub", f"{C}.CREATE.{EVT}.registry_identities_1", create(EVT, "registry_identities_1", ">")),
        ("pub", f"{C}.DURABLE.CREATE.{EVT}.reporting", create(EVT, "reporting", ">")),
        ("pub", f"{C}.MSG.NEXT.{EVT}.registry_identities_1", b'{"batch":10}'),
        ("pub", f"{C}.INFO.{EVT}.registry_identities_1", b""),
        ("pub", ACK_IDENTITY, b""),
        ("pub", f"{C}.CREATE.{EVT}", SPY),  # a server-named consumer, any filter
        ("pub", f"{C}.CREATE.{EVT}.spy.vhub.evt.{HUB}.registry.volunteer.>", SPY),
        ("pub", f"{C}.LIST.{EVT}", b""),
        ("pub", f"{C}.NAMES.{EVT}", b""),
        ("pub", f"{API}.DIRECT.GET.{EVT}.{VOLUNTEER}", b""),  # seen: dispatch read volunteer events
        ("pub", f"{API}.DIRECT.GET.{EVT}", json.dumps({"seq": 1, "next_by_subj": VOLUNTEER}).encode()),
        # a push consumer on its own subject, delivering onto the registry's commands (the old
        # scoped reads' right: the server never checks a deliver subject), and its seek consumer
        # altered or deleted
        ("pub", f"{C}.CREATE.{EVT}.dispatch_read_x.{OWN}", push(EVT, "dispatch_read_x", OWN, REG_CMD)),
        ("pub", f"{C}.CREATE.{EVT}.dispatch_read_1.{OWN}", push(EVT, "dispatch_read_1", OWN, REG_CMD)),
        ("pub", f"{C}.DURABLE.CREATE.{EVT}.dispatch_read_1", push(EVT, "dispatch_read_1", OWN, REG_CMD)),
        ("pub", f"{C}.DELETE.{EVT}.dispatch_read_1", b""),
        ("pub", f"{C}.CREATE.{EVT}.dispatch_feed_1.{OWN}", push(EVT, "dispatch_feed_1", OWN, REG_CMD)),
        ("pub", f"{C}.DELETE.{EVT}.dispatch_feed_1", b""),
        ("pub", f"{C}.CREATE.{EVT}.registry_identities_1.{OWN}", create(EVT, "registry_identities_1", OWN)),
        ("pub", f"{C}.CREATE.{EVT}.reporting.{OWN}", create(EVT, "reporting", OWN)),
        ("pub", f"{API}.STREAM.MSG.GET.{EVT}", json.dumps({"last_by_subj": VOLUNTEER}).encode()),
        ("pub", f"{API}.STREAM.DELETE.{EVT}", b""),
        ("pub", f"{API}.STREAM.PURGE.{ING}", b""),
        ("pub", f"vhub.evt.{OTHER}.dispatch.dispatch.d1", b"{}"),  # seen: another hub's subjects
        ("pub", f"vhub.evt.{HUB}.registry.volunteer.v2", b"{}"),  # another service's
        ("pub", f"vhub.dlq.{OTHER}.dispatch_ingest", b"{}"),
        ("pub", f"vhub.dlq.{HUB}.reporting", b"{}"),
        ("pub", "_INBOX_registry.x", b"{}"),  # a forged reply to another service
        ("sub", "vhub.evt.>", b""),  # live events, volunteers' among them
        ("sub", "vhub.cmd.registry.>", b""),  # another service's commands
        ("sub", f"vhub.cmd.{HUB}.registry.>", b""),
        ("sub", f"vhub.cmd.{OTHER}.dispatch.>", b""),  # another hub's commands
        ("sub", "_INBOX.>", b""),
        ("sub", "_INBOX_registry.>", b""),
    ],
    "registry": [
        # its identity index's consumer: delivering volunteers' events onto dispatch's commands
        *its_own(EVT, identities_consumer("1"), VOLUNTEER, DIS_CMD),
        *its_own(EVT, identities_consumer("2"), VOLUNTEER, DIS_CMD),
        # its aggregates through subject-scoped reads only: no payload-form (whole-stream) direct
        # get, no direct get or consumer on dispatch's subjects, none under another's name
        ("pub", f"{API}.DIRECT.GET.{EVT}", json.dumps({"seq": 1, "next_by_subj": OWN}).encode()),
        ("pub", f"{API}.DIRECT.GET.{EVT}.{OWN}", b""),
        ("pub", f"{C}.CREATE.{EVT}.registry_read_spy.{OWN}", create(EVT, "registry_read_spy", OWN)),
        # a push consumer on its own subject delivering onto dispatch's commands; its seek
        # consumer altered (to dispatch's subjects) or deleted
        ("pub", f"{C}.CREATE.{EVT}.registry_read_x.{TEAM}", push(EVT, "registry_read_x", TEAM, DIS_CMD)),
        ("pub", f"{C}.CREATE.{EVT}.registry_read_1.{OWN}", create(EVT, "registry_read_1", OWN)),
        ("pub", f"{C}.DELETE.{EVT}.registry_read_1", b""),
        ("pub", f"{C}.CREATE.{EVT}.dispatch_facts_1.{TEAM}", create(EVT, "dispatch_facts_1", TEAM)),
        ("pub", f"{C}.CREATE.{EVT}.reporting.{TEAM}", create(EVT, "reporting", TEAM)),
        ("pub", f"{C}.DELETE.{EVT}.reporting", b""),
        ("pub", f"{C}.DELETE.{EVT}.dispatch_facts_1", b""),
        ("pub", f"{C}.DELETE.{ING}.dispatch_ingest_activity", b""),
        ("pub", f"{C}.MSG.NEXT.{ING}.dispatch_ingest_activity", b'{"batch":10}'),
        ("pub", f"{C}.CREATE.{ING}.registry_identities_1", create(ING, "registry_identities_1", ">")),
        ("pub", f"{C}.MSG.NEXT.{EVT}.reporting", b'{"batch":10}'),
        ("pub", ACK_FACT, b""),
        ("pub", f"{API}.DIRECT.GET.{ING}", b'{"seq":1}'),
        ("pub", f"vhub.evt.{OTHER}.registry.volunteer.v3", b"{}"),
        ("pub", f"vhub.evt.{HUB}.dispatch.dispatch.d1", b"{}"),
        ("pub", f"vhub.dlq.{HUB}.dispatch_ingest", b"{}"),
        ("pub", "_INBOX_dispatch.x", b"{}"),
        ("sub", "vhub.cmd.dispatch.>", b""),
        ("sub", f"vhub.cmd.{OTHER}.registry.>", b""),  # another hub's commands
        ("sub", "vhub.cmd.*.registry.>", b""),
        ("sub", "vhub.ingest.>", b""),
        ("sub", "_INBOX.>", b""),
    ],
    "reporting": [
        *KEY_BUCKET,
        # the read model's, the rebuild's and the national index's consumers: every event, or
        # the volunteers', onto the registry's commands
        *its_own(EVT, REPORTING, TEAM, REG_CMD),
        *its_own(EVT, REPORTING_REBUILD, TEAM, REG_CMD),
        *its_own(EVT, REPORTING_NATIONAL, VOLUNTEER, REG_CMD),
        ("pub", f"{C}.DELETE.{ING}.dispatch_ingest_activity", b""),  # seen: reporting deleted it
        ("pub", f"{C}.CREATE.{ING}.reporting", create(ING, "reporting", ">")),  # seen: its own there
        ("pub", f"{C}.DURABLE.CREATE.{ING}.reporting", create(ING, "reporting", ">")),
        ("pub", f"{C}.CREATE.{ING}", create(ING, "", ">")),
        ("pub", f"{C}.MSG.NEXT.{ING}.dispatch_ingest_activity", b'{"batch":10}'),
        ("pub", ACK_FACT, b""),  # seen: it acked five facts, which vanished
        ("pub", f"{C}.DELETE.{EVT}.dispatch_facts_1", b""),
        ("pub", f"{C}.DELETE.{EVT}.registry_identities_1", b""),
        ("pub", f"{C}.MSG.NEXT.{EVT}.dispatch_facts_1", b'{"batch":10}'),
        ("pub", f"{C}.CREATE.{EVT}", create(EVT, "", ">")),
        ("pub", f"{API}.DIRECT.GET.{EVT}", b'{"seq":1}'),
        ("pub", f"vhub.evt.{HUB}.registry.volunteer.v4", b"{}"),
        ("pub", f"vhub.dlq.{OTHER}.reporting", b"{}"),
        ("pub", f"vhub.dlq.{HUB}.dispatch_ingest", b"{}"),
        ("pub", f"vhub.ingest.{HUB}.activity_reported", b"{}"),
        ("sub", "vhub.cmd.>", b""),
        ("sub", "vhub.evt.>", b""),
        ("sub", "_INBOX.>", b""),
    ],
    "ingest": [
        *KEY_BUCKET,
        ("sub", "_INBOX.>", b""),  # seen: it read every client's replies, personal data among them
        ("sub", "_INBOX_registry.>", b""),
        ("sub", "_INBOX_dispatch.>", b""),
        ("sub", "vhub.evt.>", b""),
        ("pub", ingest_subject(OTHER, "activity_reported"), b"{}"),  # another hub's intake
        ("pub", "vhub.cmd.registry.register_volunteer", b"{}"),
        ("pub", f"vhub.evt.{HUB}.registry.volunteer.v5", b"{}"),
        ("pub", "_INBOX_registry.x", b"{}"),
        ("pub", f"{API}.DIRECT.GET.{EVT}", b'{"seq":1}'),
        ("pub", f"{API}.DIRECT.GET.{EVT}.{VOLUNTEER}", b""),
        ("pub", f"{C}.CREATE.{ING}", create(ING, "", ">")),
        ("pub", f"{C}.MSG.NEXT.{ING}.dispatch_ingest_activity", b'{"batch":10}'),
        ("pub", f"{API}.STREAM.INFO.{EVT}", b""),
    ],
}


@dataclass
class User:
    """One user's connection and the permission errors the server sent it (lower-cased)."""

    name: str
    errors: list[str] = field(default_factory=list)
    nc: Client | None = None

    async def connect(self, url: str) -> Client:
        async def on_error(err: Exception) -> None:
            self.errors.append(str(err).lower())

        self.nc = await nats.connect(
            url,
            user=self.name,
            password=SECRETS[f"VHUB_{self.name.upper()}_PASSWORD"],
            inbox_prefix=f"_INBOX_{self.name}",  # as shared.runtime.connect_nats (and outside systems)
            error_cb=on_error,
            allow_reconnect=False,
        )
        return self.nc

    def refused(self, op: str, subject: str) -> bool:
        kind = "publish" if op == "pub" else "subscription"
        wanted = f'permissions violation for {kind} to "{subject}"'.lower()
        return any(wanted in e for e in self.errors)


@dataclass
class Hub:
    server: NatsServer
    operator: Client


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    leaf_url = f"nats-leaf://leaf:{SECRETS['VHUB_LEAF_PASSWORD']}@127.0.0.1:{free_port()}"
    env = {**SECRETS, "VHUB_HUB": HUB, "VHUB_CENTRAL_LEAF_URL": leaf_url}
    server = start_configured_server(tmp_path, hub_config(tmp_path / "jetstream"), env)
    try:
        operator = await nats.connect(server.url, user="operator", password=SECRETS["VHUB_OPERATOR_PASSWORD"])
        js = operator.jetstream()
        await provision(js, S)
        await js.publish(VOLUNTEER, b'{"name": "personal data"}', stream=EVT)
        await (await js.key_value(KEYS)).put("v1", b"wrapped data key")
        await js.publish(FACT, b'{"fact": 1}', stream=ING)
        yield Hub(server, operator)
        await operator.close()
    finally:
        server.kill()  # the only process this test starts


async def victims_untouched(hub: Hub) -> None:
    js = hub.operator.jetstream()
    for (stream, name), filt in VICTIMS.items():
        info = await js.consumer_info(stream, name)  # raises NotFoundError if it was deleted
        filters = info.config.filter_subjects or [info.config.filter_subject]
        assert set(filters) == set(filt), (name, info.config)
        assert info.num_ack_pending == 0, (name, "someone pulled from it")
    fact = await js.consumer_info(ING, INGEST_CONSUMER)
    assert fact.num_pending == 1, "the fact left the work queue"
    assert (await js.stream_info(ING)).state.messages == 1
    names = {c.name for c in await js.consumers_info(EVT)} | {c.name for c in await js.consumers_info(ING)}
    assert names == {name for _, name in VICTIMS}, names
    key = await (await js.key_value(KEYS)).get("v1")
    assert key.value == b"wrapped data key", "the data key was touched"
    assert key.revision == 1, "the data key was rewritten"
    assert not await js.consumers_info(f"KV_{KEYS}"), "someone watches the key bucket"


@pytest.mark.parametrize("user", sorted(FORBIDDEN))
async def test_the_server_refuses_every_forbidden_action(hub: Hub, user: str) -> None:
    who = User(user)
    nc = await who.connect(hub.server.url)
    try:
        for op, subject, payload in FORBIDDEN[user]:
            if op == "pub":
                await nc.publish(subject, payload, reply=nc.new_inbox())
            else:
                await nc.subscribe(subject)
        await nc.flush()

        def missing() -> list[str]:
            return [f"{op} {subject}" for op, subject, _ in FORBIDDEN[user] if not who.refused(op, subject)]

        await eventually(lambda: not missing(), lambda: f"{user} was not refused: {missing()}", within=10)
        assert nc.is_connected  # a refusal is reported, the connection stays
    finally:
        await nc.close()
    await victims_untouched(hub)
    log = hub.server.log_path.read_text()
    for op, subject, _ in FORBIDDEN[user]:
        assert f'"{subject}"' in log, f"the server logged no violation for {op} {subject}"


def event(n: int, subject: str = OWN, *, n_in_command: int = 0) -> Envelope:
    now = datetime.now(UTC)
    return Envelope(
        event_id=f"e{n}" + (f".{n_in_command}" if n_in_command else ""),
        event_type="dispatch.test",
        schema_version=1,
        aggregate_id=subject.rsplit(".", 1)[-1],
        hub=HUB,
        occurred_at=now,
        recorded_at=now,
        command_id=f"c{n}",
        correlation_id="perm",
        data={"n": n},
    )


@pytest.mark.parametrize(
    ("user", "own", "other"),
    [("dispatch", OWN, VOLUNTEER), ("registry", TEAM, OWN), ("registry", SCHEDULE, OWN)],
    ids=["dispatch", "registry", "registry-reads-schedules"],
)
async def test_a_service_reads_its_own_subjects_only(hub: Hub, user: str, own: str, other: str) -> None:
    """Registry's and dispatch's aggregate loads (shared/subjectread.py) walk back from the
    subject's last event through the replica's provisioned seek consumer, creating no consumer:
    they work on the service's own subjects, from any cached sequence, and neither right reaches
    another service's subjects (for dispatch: a volunteer's)."""
    store = EventStore(hub.operator, stream=EVT, hub=HUB)
    first = await store.append(own, [event(0, own)], 0)
    await hub.operator.jetstream().publish(other, event(9, other).to_bytes(), stream=EVT)  # skipped
    second = await store.append(
        own, [event(1, own), event(1, own, n_in_command=1)], first.last_seq
    )  # a batch
    await store.append(own, [event(3, own)], second.last_seq)
    who = User(user)
    nc = await who.connect(hub.server.url)
    consumer = read_consumer(user, "1")
    reader = SubjectReader(nc, stream=EVT, consumer=consumer, filters=read_filters(user, HUB), wait_s=5)
    try:
        mine = await reader.read(own, 0)
        assert [r.envelope.event_id for r in mine] == ["e0", "e1", "e1.1", "e3"]
        for i, rec in enumerate(mine):  # a cache stale by 3, 2, 1 and 0 events
            assert [r.seq for r in await reader.read(own, rec.seq)] == [r.seq for r in mine[i + 1 :]]
        # the seek consumer, set on the other subject's event, gives the next of its own
        other_seq = (await hub.operator.jetstream().get_last_msg(EVT, other, direct=True)).seq
        reply = await nc.request(
            f"{C}.RESET.{EVT}.{consumer}", json.dumps({"seq": other_seq}).encode(), timeout=5
        )
        assert "error" not in json.loads(reply.data), reply.data
        got = await reader._next(1)
        assert [m.subject for m in got] == [own], "the seek consumer reached another service's subject"
        assert who.errors == []
        with pytest.raises(nats.errors.TimeoutError):  # the direct get of `other` is refused
            await SubjectReader(nc, stream=EVT, consumer=consumer, filters=[], wait_s=1).read(other, 0)
        await eventually(
            lambda: who.refused("pub", f"{API}.DIRECT.GET.{EVT}.{other}"), lambda: str(who.errors)
        )
    finally:
        await nc.close()
    assert {c.name for c in await hub.operator.jetstream().consumers_info(EVT)} == {
        n for s, n in VICTIMS if s == EVT
    }, "a read created a consumer"


async def test_dispatch_binds_to_its_provisioned_facts_consumer(hub: Hub) -> None:
    """Dispatch may look at, pull from, ack on and reset the facts consumer the operator
    provisioned (how a replica replays its in-memory projection from the start)."""
    js = hub.operator.jetstream()
    for n in range(2):
        await js.publish(OWN, event(n).to_bytes(), stream=EVT)
    who = User("dispatch")
    nc = await who.connect(hub.server.url)
    try:
        js_d = nc.jetstream()
        info = await js_d.consumer_info(EVT, "dispatch_facts_1")
        assert set(info.config.filter_subjects or []) == set(dispatch_facts_filters(HUB))
        sub = await js_d.pull_subscribe_bind("dispatch_facts_1", EVT)
        first = await sub.fetch(2, timeout=5)
        await first[-1].ack()
        reply = await nc.request(f"{C}.RESET.{EVT}.dispatch_facts_1", b'{"seq": 1}', timeout=5)
        assert "error" not in json.loads(reply.data), reply.data
        again = await sub.fetch(2, timeout=5)
        assert [m.data for m in again] == [m.data for m in first]  # replayed from the start
        await again[-1].ack()
        assert who.errors == []
    finally:
        await nc.close()


async def test_known_residue_the_server_answers_onto_any_reply_subject(hub: Hub) -> None:
    """What the server cannot police (nats-server 2.15.1): it checks neither publish nor subscribe
    rights on a request's reply subject, so an answer the requester may ask for (a direct get of
    its own subject, a pull from its own consumer) lands wherever the requester says, here on the
    registry's command subject, which dispatch may not publish. Each answer needs a live request
    and is one message (or one pull's batch); no standing delivery like a push consumer's. Pinned
    so that a server which starts checking shows up here (docs/architecture.md §7)."""
    store = EventStore(hub.operator, stream=EVT, hub=HUB)
    await store.append(OWN, [event(0)], 0)
    landed: list[str] = []

    async def victim(msg: Msg) -> None:
        landed.append(msg.subject)

    await hub.operator.subscribe(REG_CMD, cb=victim)
    await hub.operator.flush()
    who = User("dispatch")
    nc = await who.connect(hub.server.url)
    try:
        await nc.publish(f"{API}.DIRECT.GET.{EVT}.{OWN}", b"", reply=REG_CMD)
        await nc.request(f"{C}.RESET.{EVT}.dispatch_read_1", b'{"seq": 1}', timeout=5)
        await nc.publish(
            f"{C}.MSG.NEXT.{EVT}.dispatch_read_1", b'{"batch": 1, "no_wait": true}', reply=REG_CMD
        )
        await nc.flush()
        # a direct get answers on the reply subject; a pull delivers with the event's own subject
        await eventually(lambda: sorted(landed) == sorted([REG_CMD, OWN]), lambda: str(landed))
        assert who.errors == [], "the server refused a reply subject after all: update §7"
    finally:
        await nc.close()
