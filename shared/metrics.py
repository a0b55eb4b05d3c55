"""Prometheus metrics every service exposes at ``/metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

COMMANDS = Counter("vhub_commands_total", "Commands handled, by outcome", ["context", "command", "outcome"])
COMMAND_SECONDS = Histogram(
    "vhub_command_seconds",
    "Time from receiving a command to sending its reply",
    ["context", "command"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
EVENTS_APPENDED = Counter("vhub_events_appended_total", "Events appended", ["context"])
DEAD_LETTERS = Counter("vhub_dead_letters_total", "Messages sent to the dead-letter stream", ["source"])
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
