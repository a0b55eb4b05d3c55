"""The building blocks of the accounts files (vhub/natsaccounts.py): the hub's stream names, each
service's consumer names, and the rights on one consumer or one subject-scoped read. Why each right
is written the way it is: vhub/natsaccounts.py's docstring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.streams import READERS, REPLICA_SLOTS, feed_consumer, read_consumer

INSTANCES = REPLICA_SLOTS  # replica slots: VHUB_INSTANCE of each service replica
API = "$JS.API"


@dataclass(frozen=True)
class Streams:
    """The hub's stream names (as shared.settings derives them) and what reporting reads."""

    hub: str
    read: str
    sourced: tuple[str, ...] = ()  # the hubs whose streams ``read`` sources (central only)

    @property
    def events(self) -> str:
        return f"VHUB_EVT_{self.hub.upper()}"

    @property
    def ingest(self) -> str:
        return f"VHUB_INGEST_{self.hub.upper()}"

    @property
    def keys(self) -> str:
        """The registry's key bucket (shared.settings: keys_bucket); its stream is KV_<bucket>."""
        return f"VHUB_KEYS_{self.hub.upper()}"


def consumers(service: str, streams: Streams, instances: Sequence[str] = INSTANCES) -> list[tuple[str, str]]:
    """(stream, consumer name) of every consumer ``service`` may own. The names are the services'
    own constants (registry/app.py, dispatch/app.py + ingest.py, reporting/consumer.py + rebuild)."""
    reads = [(streams.events, read_consumer(service, i)) for i in instances]
    if service == "registry":
        return [*((streams.events, f"registry_identities_{i}") for i in instances), *reads]
    if service == "dispatch":
        own = [(streams.events, f"dispatch_facts_{i}") for i in instances]
        feeds = [(streams.events, feed_consumer(service, i)) for i in instances]
        return [*own, *reads, *feeds, (streams.ingest, "dispatch_ingest_activity")]
    if service == "reporting":
        # the read model's, its rebuild's, and the national duplicates index's (reporting/national.py)
        return [(streams.read, n) for n in ("reporting", "reporting_rebuild", "reporting_national")]
    raise ValueError(f"unknown service {service!r}")


def consumer_rights(stream: str, name: str) -> list[str]:
    """Create (both API forms, with or without a filter token), look at, pull from, ack on and
    delete ONE consumer. ``$JS.ACK`` has two forms: plain, and with domain + account hash."""
    c = f"{API}.CONSUMER"
    return [
        f"{c}.CREATE.{stream}.{name}",
        f"{c}.CREATE.{stream}.{name}.>",
        f"{c}.DURABLE.CREATE.{stream}.{name}",
        f"{c}.INFO.{stream}.{name}",
        f"{c}.DELETE.{stream}.{name}",
        f"{c}.MSG.NEXT.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
        f"$JS.ACK.*.*.{stream}.{name}.>",
    ]


def scoped_reads(stream: str, own: str) -> list[str]:
    """A service's aggregate history through subject-scoped requests only (shared/subjectread.py):
    the last message of one of its ``own`` subjects; earlier ones through its seek consumers
    (:func:`provisioned`, bound only). No payload-form direct get (it would read any subject), no
    consumer create (its body may name any deliver subject)."""
    return [f"{API}.DIRECT.GET.{stream}.{own}"]


def provisioned(service: str, streams: Streams, instances: Sequence[str] = INSTANCES) -> set[tuple[str, str]]:
    """The consumers of ``service`` that the operator provisions (shared/streams.py)."""
    reads = {(streams.events, read_consumer(service, i)) for i in instances} if service in READERS else set()
    if service == "dispatch":
        own = {
            (streams.events, n) for i in instances for n in (f"dispatch_facts_{i}", feed_consumer(service, i))
        }
        return reads | own
    return reads


def bound_rights(stream: str, name: str) -> list[str]:
    """Look at, pull from, ack on and reset ONE consumer the operator provisioned."""
    c = f"{API}.CONSUMER"
    return [
        f"{c}.INFO.{stream}.{name}",
        f"{c}.MSG.NEXT.{stream}.{name}",
        f"{c}.RESET.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
        f"$JS.ACK.*.*.{stream}.{name}.>",
    ]
