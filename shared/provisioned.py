"""Every consumer a service reads through, named and configured in one place: the operator
provisions them all (``vhub provision``, shared/streams.py) and the services only bind to them.

Why no service makes its own: a consumer create request carries its config in the body, and
nats-server 2.15.1 delivers a push consumer to any ``deliver_subject``, whatever its creator may
publish or subscribe (nats-io/nats-server#8274, docs/architecture.md §7). So a service allowed to
create even its own consumer could have the events it reads delivered onto another service's
command subjects. Under the accounts files (vhub/natsaccounts.py) each service user may only look
at, pull from, ack on and reset (``$JS.API.CONSUMER.RESET``, server 2.14+) the consumers listed
here under its name: never create, alter or delete one.

The configs are exactly what each service would create for itself when it finds its consumer
missing (no accounts file: tests, a standalone ``vhub dev``), minus the idle timeout: a
provisioned consumer must outlive its reader, since the reader cannot make it again.

* registry: ``registry_identities_<slot>`` (its possible-duplicate index), ``registry_read_<slot>``
  (subject-scoped reads, shared/subjectread.py);
* dispatch: ``dispatch_facts_<slot>`` (its registry facts), ``dispatch_read_<slot>``,
  ``dispatch_feed_<slot>`` (its cache feed, shared/cachefeed.py), and ``dispatch_ingest_activity``
  on the ingest work queue (shared by its replicas);
* reporting, on the stream it reads (``VHUB_CENTRAL`` at central): ``reporting`` (the live read
  model), ``reporting_rebuild`` (the rebuild's reader, reset to sequence 1 by each rebuild,
  shared/reader.py) and ``reporting_national`` (the national duplicates index).
"""

from __future__ import annotations

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from shared.consumer import PROVISIONED, consumer_config
from shared.envelope import EVT_PREFIX, event_subject, ingest_subject
from shared.settings import Settings
from shared.subjectread import read_consumer_config

REPLICA_SLOTS = ("1", "2", "3", "4")  # VHUB_INSTANCE of each service replica under the accounts files
READERS = ("registry", "dispatch")  # the services whose aggregate loads are subject-scoped

INGEST_CONSUMER = "dispatch_ingest_activity"
INGEST_BATCH = 100  # facts per fetch (and so the consumer's max_ack_pending)
DISPATCH_FACTS_BATCH = 100  # the same for dispatch's facts projection (why: services/dispatch/facts.py)
REPORTING = "reporting"
REPORTING_REBUILD = "reporting_rebuild"
REPORTING_NATIONAL = "reporting_national"
REPORTING_FILTER = f"{EVT_PREFIX}.>"  # the read model and its rebuild read every event
NATIONAL_FILTERS = [f"{EVT_PREFIX}.*.registry.phone.*", f"{EVT_PREFIX}.*.registry.volunteer.*"]


def dispatch_facts_filters(hub: str) -> list[str]:
    """What dispatch's facts projection reads: registry teams, service points and campaign facts
    (never volunteers: no personal data reaches dispatch) and its own events."""
    return [
        event_subject(hub, "registry", "team", "*"),
        event_subject(hub, "registry", "service_point", "*"),
        event_subject(hub, "registry", "campaign", "*"),
        f"vhub.evt.{hub}.dispatch.>",
    ]


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


def identities_consumer(instance: str) -> str:
    """The name of a registry replica's possible-duplicate index consumer."""
    return f"registry_identities_{instance}"


def identity_filters(hub: str) -> list[str]:
    """What the registry's identity index reads: registrations, erasures and phone claims."""
    return [event_subject(hub, "registry", "volunteer", "*"), event_subject(hub, "registry", "phone", "*")]


def ingest_filters(hub: str) -> list[str]:
    """Every fact type of the hub: one nobody read would wait in the work queue forever."""
    return [ingest_subject(hub, ">")]


def reader_config(
    name: str | None, filter_subject: str, *, depth: int = 2, provisioned: bool = False
) -> ConsumerConfig:
    """A reader's consumer: no acks, from the start; ``depth`` requests outstanding. Provisioned:
    durable with no idle timeout (its reader cannot make it again); else gone a minute after use."""
    return ConsumerConfig(
        name=name,
        durable_name=name if provisioned else None,
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL,
        filter_subject=filter_subject,
        inactive_threshold=None if provisioned else 60.0,
        max_waiting=depth + 2,
        description=f"vhub reader {name or ''} {PROVISIONED}" if provisioned else None,
    )


def hub_consumers(settings: Settings) -> list[tuple[str, ConsumerConfig]]:
    """(stream, config) of the registry's and dispatch's consumers at ``settings.hub``."""
    hub, evt = settings.hub, settings.event_stream
    out = [
        (evt, consumer_config(identities_consumer(s), identity_filters(hub), provisioned=True))
        for s in REPLICA_SLOTS
    ]
    out += [
        (
            evt,
            consumer_config(
                f"dispatch_facts_{s}",
                dispatch_facts_filters(hub),
                batch_size=DISPATCH_FACTS_BATCH,
                provisioned=True,
            ),
        )
        for s in REPLICA_SLOTS
    ]
    out += [
        (evt, read_consumer_config(read_consumer(svc, s), read_filters(svc, hub), provisioned=True))
        for svc in READERS
        for s in REPLICA_SLOTS
    ]
    out += [
        (
            evt,
            read_consumer_config(
                feed_consumer("dispatch", s), read_filters("dispatch", hub), provisioned=True
            ),
        )
        for s in REPLICA_SLOTS
    ]
    ingest = consumer_config(
        INGEST_CONSUMER, ingest_filters(hub), batch_size=INGEST_BATCH, explicit_ack=True, provisioned=True
    )
    return [*out, (settings.ingest_stream, ingest)]


def reporting_consumers(settings: Settings, stream: str) -> list[tuple[str, ConsumerConfig]]:
    """(stream, config) of reporting's consumers on ``stream``, the one it reads."""
    live = consumer_config(
        REPORTING, [REPORTING_FILTER], batch_size=settings.reporting_batch_size, provisioned=True
    )
    national = consumer_config(REPORTING_NATIONAL, NATIONAL_FILTERS, provisioned=True)
    rebuild = reader_config(REPORTING_REBUILD, REPORTING_FILTER, provisioned=True)
    return [(stream, live), (stream, national), (stream, rebuild)]
