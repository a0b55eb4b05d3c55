"""The building blocks of the accounts files (vhub/natsaccounts.py): the hub's stream names, each
service's consumer names, and the rights on one consumer or one subject-scoped read. Why each right
is written the way it is: vhub/natsaccounts.py's docstring."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.provisioned import (
    INGEST_CONSUMER,
    REPLICA_SLOTS,
    REPORTING,
    REPORTING_NATIONAL,
    REPORTING_REBUILD,
    feed_consumer,
    identities_consumer,
    read_consumer,
)

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
    """(stream, consumer name) of every consumer ``service`` reads through: all provisioned by the
    operator under the names shared/provisioned.py gives them, the per-replica ones per slot."""
    reads = [(streams.events, read_consumer(service, i)) for i in instances]
    if service == "registry":
        return [*((streams.events, identities_consumer(i)) for i in instances), *reads]
    if service == "dispatch":
        own = [(streams.events, f"dispatch_facts_{i}") for i in instances]
        feeds = [(streams.events, feed_consumer(service, i)) for i in instances]
        return [*own, *reads, *feeds, (streams.ingest, INGEST_CONSUMER)]
    if service == "reporting":
        # the read model's, its rebuild's, and the national duplicates index's (reporting/national.py)
        return [(streams.read, n) for n in (REPORTING, REPORTING_REBUILD, REPORTING_NATIONAL)]
    raise ValueError(f"unknown service {service!r}")


def scoped_reads(stream: str, own: str) -> list[str]:
    """A service's aggregate history through subject-scoped requests only (shared/subjectread.py):
    the last message of one of its ``own`` subjects; earlier ones through its seek consumers
    (:func:`bound_rights`). No payload-form direct get (it would read any subject), no
    consumer create (its body may name any deliver subject)."""
    return [f"{API}.DIRECT.GET.{stream}.{own}"]


def bound_rights(stream: str, name: str) -> list[str]:
    """Look at, pull from, ack on and reset ONE consumer the operator provisioned; the ingest work
    queue's, which its replicas share and never reset (a reset would hand every replica's
    unacknowledged facts out again), is not reset."""
    c = f"{API}.CONSUMER"
    reset = [] if name == INGEST_CONSUMER else [f"{c}.RESET.{stream}.{name}"]
    return [
        f"{c}.INFO.{stream}.{name}",
        f"{c}.MSG.NEXT.{stream}.{name}",
        *reset,
        f"$JS.ACK.{stream}.{name}.>",
        f"$JS.ACK.*.*.{stream}.{name}.>",
    ]
