"""Stream provisioning, in one place (services never declare streams on their own start-up).

* ``VHUB_EVT_<HUB>``: the hub's event log, ``vhub.evt.<hub>.>``; direct gets for aggregate loads,
  atomic batches for multi-event commands, dedup window for resends, no deletes or purges.
* ``VHUB_INGEST_<HUB>``: facts published by outside systems on ``vhub.ingest.<hub>.>``, kept until a
  consumer has validated them (work queue).
* ``VHUB_DLQ_<HUB>``: dead letters with the reason in headers, ``vhub.dlq.<hub>.>``.
* ``KV_VHUB_KEYS_<HUB>``: the registry's key bucket (one data key per volunteer, history 1; a
  purge removes a key for good). Hub-local: never sourced to central, never in the event log.
* ``VHUB_CENTRAL``: at the central hub only, a stream with no subjects of its own that sources every
  hub's stream across JetStream domains.

And the consumers a service may only bind to (:func:`operator_consumers`): dispatch's per-replica
facts consumers ``dispatch_facts_<slot>``, whose several filters the server cannot check in a
create request, and the registry's and dispatch's per-replica seek consumers
``<service>_read_<slot>`` (shared/subjectread.py) and dispatch's cache feeds ``dispatch_feed_<slot>``
(shared/cachefeed.py), so no service may create or alter them
(vhub/natsaccounts.py). Created when missing, never touched when present (their position belongs
to their reader, who resets it).
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import (
    ConsumerConfig,
    DiscardPolicy,
    ExternalStream,
    KeyValueConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import BucketNotFoundError, NotFoundError

from shared.consumer import consumer_config
from shared.envelope import DLQ_PREFIX, INGEST_PREFIX, event_subject, hub_events_filter
from shared.settings import Settings
from shared.subjectread import read_consumer_config

REPLICA_SLOTS = ("1", "2", "3", "4")  # VHUB_INSTANCE of each service replica under the accounts files


def dispatch_facts_filters(hub: str) -> list[str]:
    """What dispatch's facts projection reads: registry teams, service points and campaign facts
    (never volunteers: no personal data reaches dispatch) and its own events."""
    return [
        event_subject(hub, "registry", "team", "*"),
        event_subject(hub, "registry", "service_point", "*"),
        event_subject(hub, "registry", "campaign", "*"),
        f"vhub.evt.{hub}.dispatch.>",
    ]


READERS = ("registry", "dispatch")  # the services whose aggregate loads are subject-scoped


def read_filters(service: str, hub: str) -> list[str]:
    """What a service's subject-scoped reads reach (shared/subjectread.py): its own subjects, and
    for the registry the teams' schedules too (a volunteer's shifts, for ``vhub export``)."""
    own = [f"vhub.evt.{hub}.{service}.>"]
    return [*own, f"vhub.evt.{hub}.dispatch.schedule.>"] if service == "registry" else own


def read_consumer(service: str, instance: str) -> str:
    """The name of a replica's seek consumer (``instance``: its replica slot)."""
    return f"{service}_read_{instance}"


def feed_consumer(service: str, instance: str) -> str:
    """The name of a replica's cache feed (shared/cachefeed.py): dispatch's only."""
    return f"{service}_feed_{instance}"


def operator_consumers(settings: Settings) -> list[tuple[str, ConsumerConfig]]:
    """(stream, config) of every consumer the operator provisions and services only bind to."""
    filters = dispatch_facts_filters(settings.hub)
    evt = settings.event_stream
    facts = [
        (evt, consumer_config(f"dispatch_facts_{slot}", filters, provisioned=True)) for slot in REPLICA_SLOTS
    ]
    reads = [
        (
            evt,
            read_consumer_config(read_consumer(svc, slot), read_filters(svc, settings.hub), provisioned=True),
        )
        for svc in READERS
        for slot in REPLICA_SLOTS
    ]
    feeds = [
        (
            evt,
            read_consumer_config(
                feed_consumer("dispatch", slot), read_filters("dispatch", settings.hub), provisioned=True
            ),
        )
        for slot in REPLICA_SLOTS
    ]
    return facts + reads + feeds


def event_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.event_stream,
        subjects=[hub_events_filter(settings.hub)],
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.duplicate_window_s,
        allow_direct=True,
        allow_atomic=True,
        deny_delete=True,
        deny_purge=True,
        discard=DiscardPolicy.NEW,
        description=f"vhub events of hub {settings.hub}: the source of truth",
    )


def ingest_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.ingest_stream,
        subjects=[f"{INGEST_PREFIX}.{settings.hub}.>"],
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        retention=RetentionPolicy.WORK_QUEUE,
        duplicate_window=settings.duplicate_window_s,
        description="facts from outside systems, awaiting validation",
    )


def dlq_stream_config(settings: Settings) -> StreamConfig:
    return StreamConfig(
        name=settings.dlq_stream,
        subjects=[f"{DLQ_PREFIX}.{settings.hub}.>"],
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        description="dead letters: messages a consumer refused, with the reason in headers",
    )


def central_stream_config(
    settings: Settings, hubs: list[str], name: str, local_hub: str | None = None
) -> StreamConfig:
    """A subject-less stream sourcing each hub's stream from its own JetStream domain (the
    central hub's own stream is sourced locally)."""
    return StreamConfig(
        name=name,
        subjects=[],
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        allow_direct=True,
        sources=[
            StreamSource(
                name=f"VHUB_EVT_{hub.upper()}",
                external=None if hub == local_hub else ExternalStream(api=f"$JS.{hub}.API"),
            )
            for hub in hubs
        ],
        description="every hub's events, sourced; read side of the central hub",
    )


def keys_bucket_config(settings: Settings) -> KeyValueConfig:
    return KeyValueConfig(
        bucket=settings.keys_bucket,
        description=f"vhub data keys of hub {settings.hub}'s volunteers (wrapped); erasure purges",
        history=1,
        storage=StorageType.FILE,
        replicas=settings.stream_replicas,
        direct=True,
    )


async def ensure_keys_bucket(js: JetStreamContext, settings: Settings) -> None:
    """Create the key bucket when it is missing (an existing one is left as it is)."""
    try:
        await js.key_value(settings.keys_bucket)
    except (NotFoundError, BucketNotFoundError):
        await js.create_key_value(keys_bucket_config(settings))


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    """Create the stream, or update it to ``config`` when it exists."""
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        return
    await js.update_stream(config)


async def provision(js: JetStreamContext, settings: Settings) -> None:
    """Every stream a hub needs, the consumers services only bind to, and the key bucket."""
    for config in (
        event_stream_config(settings),
        ingest_stream_config(settings),
        dlq_stream_config(settings),
    ):
        await ensure_stream(js, config)
    for stream, consumer in operator_consumers(settings):
        assert consumer.durable_name is not None
        try:
            await js.consumer_info(stream, consumer.durable_name)
        except NotFoundError:
            await js.add_consumer(stream, consumer)
    await ensure_keys_bucket(js, settings)
