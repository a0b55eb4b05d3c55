"""Prometheus metrics every service exposes at ``/metrics``."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

COMMANDS = Counter("vhub_commands_total", "Commands handled, by outcome", ["context", "command", "outcome"])
COMMAND_SECONDS = Histogram(
    "vhub_command_seconds",
    "Time from receiving a command to sending its reply",
    ["context", "command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_APPENDED = Counter("vhub_events_appended_total", "Events appended", ["context"])
DEAD_LETTERS = Counter(
    "vhub_dead_letters_total",
    "Messages sent to the dead-letter stream, by source and reason code",
    ["source", "code"],
)
POISON_EVENTS = Counter(
    "vhub_poison_events_total", "Logged messages a projection could not read as an event", ["consumer"]
)
CONSUMER_LAG = Gauge("vhub_consumer_lag", "Messages the consumer has not processed yet", ["consumer"])
CONSUMER_POSITION = Gauge("vhub_consumer_position", "Last stream sequence applied", ["consumer"])
BATCH_SECONDS = Histogram(
    "vhub_batch_seconds",
    "Time to apply one batch of events",
    ["consumer"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
BATCH_EVENTS = Counter("vhub_batch_events_total", "Events applied by consumers", ["consumer"])


_CODE = re.compile(r"^([a-z][a-z0-9_]{1,48})(?::|$)")


def reason_code(reason: str) -> str:
    """A dead letter's reason as a short code (a label of bounded cardinality): its leading
    ``code:`` (``invalid_fact: …``, ``not_checked_in: …``), else the first words joined."""
    m = _CODE.match(reason)
    if m:
        return m.group(1)
    words = re.findall(r"[a-z]+", reason.lower())[:2]  # "undecodable envelope: …", "unknown event …"
    return "_".join(words) or "unspecified"


_APPENDED: dict[str, Any] = {}  # context -> its labelled child: labels() takes a lock per call


def count_appended(event_type: str, n: int = 1) -> None:
    """Count ``n`` events appended of ``event_type`` (its context is the part before the dot).
    On every append: a dict lookup and an increment."""
    context = event_type.partition(".")[0]
    child = _APPENDED.get(context)
    if child is None:
        child = _APPENDED[context] = EVENTS_APPENDED.labels(context)
    child.inc(n)


def _series(metric: Counter | Gauge | Histogram, suffix: str = "") -> list[tuple[dict[str, str], float]]:
    """This process's samples of ``metric`` (labels, value), read through the public collect()."""
    out: list[tuple[dict[str, str], float]] = []
    for family in metric.collect():
        for sample in family.samples:
            if sample.name == family.name + suffix:
                out.append((sample.labels, sample.value))
    return out


def command_outcomes(context: str) -> dict[str, dict[str, int]]:
    """``{command: {outcome: count}}`` of this process's command bus for ``context``."""
    out: dict[str, dict[str, int]] = {}
    for labels, value in _series(COMMANDS, "_total"):
        if labels["context"] == context:
            out.setdefault(labels["command"], {})[labels["outcome"]] = int(value)
    return out


def command_seconds(context: str) -> dict[str, float]:
    """``{command: total seconds spent from receipt to reply}`` for ``context``."""
    return {
        labels["command"]: value
        for labels, value in _series(COMMAND_SECONDS, "_sum")
        if labels["context"] == context
    }


def consumer_gauges(prefix: str) -> dict[str, dict[str, int]]:
    """``{consumer: {"lag": n, "position": n}}`` for the consumers named ``<prefix>…``."""
    out: dict[str, dict[str, int]] = {}
    for gauge, key in ((CONSUMER_LAG, "lag"), (CONSUMER_POSITION, "position")):
        for labels, value in _series(gauge):
            if labels["consumer"].startswith(prefix):
                out.setdefault(labels["consumer"], {})[key] = int(value)
    return out


def dead_letter_counts(prefix: str) -> dict[str, int]:
    """``{source: dead letters sent}`` for the sources named ``<prefix>…``."""
    out: dict[str, int] = {}
    for labels, value in _series(DEAD_LETTERS, "_total"):
        if labels["source"].startswith(prefix):
            out[labels["source"]] = out.get(labels["source"], 0) + int(value)
    return out
