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

And every consumer a service reads through (shared/provisioned.py): no service may create, alter
or delete one (vhub/natsaccounts.py). Created when missing, never touched when present (their
position belongs to their reader, who resets it).
"""

from __future__ import annotations

from collections.abc import Sequence

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

from shared.envelope import DLQ_PREFIX, INGEST_PREFIX, hub_events_filter
from shared.provisioned import hub_consumers, reporting_consumers
from shared.settings import Settings

CENTRAL_STREAM = "VHUB_CENTRAL"  # what reporting reads at the central hub


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


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    """Create the consumer when it is missing; one that exists is left as it is (its position
    belongs to its reader, who resets it)."""
    assert config.durable_name is not None
    try:
        await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        await js.add_consumer(stream, config)


async def provision(js: JetStreamContext, settings: Settings, *, central_sources: Sequence[str] = ()) -> None:
    """Every stream a hub needs, the consumers services only bind to (shared/provisioned.py), and
    the key bucket. ``central_sources`` (the central hub only): the hubs ``VHUB_CENTRAL`` sources;
    it is created too, and reporting's consumers go on it instead of ``settings.read_stream``."""
    for config in (
        event_stream_config(settings),
        ingest_stream_config(settings),
        dlq_stream_config(settings),
    ):
        await ensure_stream(js, config)
    read = settings.read_stream
    if central_sources:
        read = CENTRAL_STREAM
        await ensure_stream(
            js, central_stream_config(settings, list(central_sources), read, local_hub=settings.hub)
        )
    for stream, consumer in hub_consumers(settings):
        await ensure_consumer(js, stream, consumer)
    await provision_reporting(js, settings, read)
    await ensure_keys_bucket(js, settings)


async def provision_reporting(js: JetStreamContext, settings: Settings, stream: str) -> None:
    """Reporting's consumers on ``stream``, when it exists (a read stream made elsewhere, such as
    a test's own central stream, gets them from whoever makes it)."""
    try:
        await js.stream_info(stream)
    except NotFoundError:
        return
    for name, consumer in reporting_consumers(settings, stream):
        await ensure_consumer(js, name, consumer)
