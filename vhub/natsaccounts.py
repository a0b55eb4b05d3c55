"""The NATS accounts file of one hub, rendered: every service user gets exactly what it needs.

Least privilege is decided by the server, so it has to be written in subjects the server matches:

* a command service subscribes to its context's plain command subjects and to those addressed to
  its own hub (``vhub.cmd.<hub>.<context>.>``), never to another hub's;
* a service publishes only its own hub's subjects (``vhub.evt.<hub>.<context>.>``, its own DLQ
  subject), never another hub's (no ``*`` in the hub token: hence one file per hub);
* the JetStream API carries the stream and the consumer as whole tokens
  (``$JS.API.CONSUMER.<verb>.<stream>.<consumer>``, ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>``,
  ``$JS.ACK.<stream>.<consumer>.>``), and a wildcard matches whole tokens only, so every consumer a
  service reads through is LISTED by name (:func:`vhub.natsrights.consumers`); per-replica
  consumers carry the replica's ``VHUB_INSTANCE``, one of the rendered slots. A service can
  neither see, pull from nor ack on another's consumers, create or delete any consumer, nor touch
  a stream it does not read;
* replies travel on a per-user inbox prefix (``_INBOX_<user>``, shared/runtime.connect_nats), so no
  user reads another client's replies; outside systems connect as ``ingest`` with the prefix
  ``_INBOX_ingest``.

Direct gets: the payload form (``$JS.API.DIRECT.GET.<stream>`` + ``{"seq", "next_by_subj"}``)
names no subject the server could check: whoever has it reads any subject of the stream. No service
has it: registry and dispatch read their aggregates with subject-scoped requests
(shared/subjectread.py, :func:`scoped_reads`): the subject form
(``$JS.API.DIRECT.GET.<stream>.<subject>``, last message only: a payload gets ``408 Bad Request``,
checked on 2.15.1) on their own subjects, then back along each event's predecessor link through a
seek consumer per replica (``<service>_read_<slot>``, filtered on the service's subjects).

No service user may create a consumer at all: a create request's config travels in the body, and
the server delivers a push consumer to any ``deliver_subject`` whatever its creator may publish or
subscribe (checked on 2.15.1; nats-io/nats-server#8274, whose fix #8279 was closed unmerged), so a
service could have the events it reads (its own, whose payload it writes, among them) delivered
onto another service's command subjects. Every consumer a service reads through is provisioned by
the operator (``vhub provision``, shared/provisioned.py), and its service may only bind to it
(:func:`bound_rights`): look at, pull from, ack on and reset its own (``$JS.API.CONSUMER.RESET``,
2.14+), never create, alter or delete.

Known limit, which no permission can close (tests/integration/test_permissions_denied.py pins it):
the server checks no right on a request's reply subject, so every answer a user may ask for (a
direct get, a pull from its own consumer) lands wherever the requester says. Each such answer
needs a live request and is one message or one pull's batch, never a standing delivery.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.streams import CENTRAL_STREAM
from vhub.natsrights import API, INSTANCES, Streams, bound_rights, consumers, scoped_reads

__all__ = ["CENTRAL_STREAM", "render_accounts", "service_permissions"]


def service_permissions(
    service: str, streams: Streams, instances: Sequence[str] = INSTANCES
) -> tuple[list[str], list[str], list[str]]:
    """(publish allow, publish deny, subscribe allow) of one service user."""
    hub, evt = streams.hub, streams.events
    owned = [r for stream, name in consumers(service, streams, instances) for r in bound_rights(stream, name)]
    inbox = f"_INBOX_{service}.>"
    # every service answers the NATS micro-service protocol (shared/discovery.py)
    subscribe = [inbox, "$SRV.>"]
    deny: list[str] = []
    if service == "registry":
        publish = [
            f"vhub.evt.{hub}.registry.>",
            *scoped_reads(evt, f"vhub.evt.{hub}.registry.>"),
            # and the teams' schedules, the same way: a volunteer's shifts for `vhub export`
            # (services/registry/privacy.py); dispatch's other subjects stay out of reach
            f"{API}.DIRECT.GET.{evt}.vhub.evt.{hub}.dispatch.schedule.>",
            f"{API}.STREAM.INFO.{evt}",
            # the data keys (services/registry/keystore.py): only the registry, on no other
            # service's list, so dispatch and reporting can neither read nor delete one
            f"$KV.{streams.keys}.>",
            f"{API}.DIRECT.GET.KV_{streams.keys}.$KV.{streams.keys}.>",
            f"{API}.STREAM.INFO.KV_{streams.keys}",
        ]
        subscribe[:0] = ["vhub.cmd.registry.>", f"vhub.cmd.{hub}.registry.>"]
    elif service == "dispatch":
        publish = [
            f"vhub.evt.{hub}.dispatch.>",
            f"vhub.dlq.{hub}.dispatch_ingest",  # shared/deadletter.py, source dispatch_ingest
            *scoped_reads(evt, f"vhub.evt.{hub}.dispatch.>"),
            f"{API}.STREAM.INFO.{evt}",
            f"{API}.STREAM.INFO.{streams.ingest}",
        ]
        subscribe[:0] = ["vhub.cmd.dispatch.>", f"vhub.cmd.{hub}.dispatch.>"]
    elif service == "reporting":
        # $SRV.STATS: the dashboard's service health asks every instance (services/reporting/health.py)
        publish = [f"vhub.dlq.{hub}.reporting", f"{API}.STREAM.INFO.{streams.read}", "$SRV.STATS"]
        # how far each sourced hub's log goes (services/reporting/links.py): its stream's info,
        # in its own JetStream domain over the leaf link (the central hub's own locally)
        publish += [
            f"{API if h == hub else f'$JS.{h}.API'}.STREAM.INFO.VHUB_EVT_{h.upper()}" for h in streams.sourced
        ]
    else:
        raise ValueError(f"unknown service {service!r}")
    # command services publish on their own inbox too (shared/runtime.barrier)
    return [*publish, *owned, inbox], deny, subscribe


def _list(subjects: Sequence[str], indent: str) -> str:
    return ("\n" + indent).join(f'"{s}",' for s in subjects).rstrip(",")


def _user(
    name: str,
    publish: Sequence[str],
    deny: Sequence[str],
    subscribe: Sequence[str],
    comment: str,
    *,
    responds: bool,
) -> str:
    pad = " " * 20
    # a responder answers on the requester's reply subject, once, through allow_responses
    answers = "          allow_responses: true\n" if responds else ""
    denied = f"\n            deny: [\n{pad}{_list(deny, pad)}\n            ]" if deny else ""
    return (
        f"      # {comment}\n"
        f"      {{ user: {name}, password: $VHUB_{name.upper()}_PASSWORD,\n"
        f"        permissions: {{\n"
        f"          publish: {{ allow: [\n{pad}{_list(publish, pad)}\n          ]{denied} }}\n"
        f"          subscribe: {{ allow: [\n{pad}{_list(subscribe, pad)}\n          ] }}\n"
        f"{answers}"
        f"        }} }}\n"
    )


def render_accounts(
    hub: str,
    *,
    read_stream: str | None = None,
    sourced: Sequence[str] = (),
    instances: Sequence[str] = INSTANCES,
) -> str:
    """The accounts file for ``hub`` (central: the central hub's code, ``read_stream="VHUB_CENTRAL"``
    and the ``sourced`` hubs' codes)."""
    streams = Streams(hub, read_stream or f"VHUB_EVT_{hub.upper()}", tuple(sourced))
    slots = ", ".join(instances)
    users = [
        _user(
            s,
            *service_permissions(s, streams, instances),
            f"{s}: its own subjects at hub {hub}, its own consumers (replica slots {slots}) only",
            responds=True,
        )
        for s in ("registry", "dispatch", "reporting")
    ]
    ingest = _user(
        "ingest",
        [f"vhub.ingest.{hub}.>"],
        [],
        ["_INBOX_ingest.>"],
        f"outside systems: facts for hub {hub} only; replies on the inbox prefix _INBOX_ingest only",
        responds=False,
    )
    return (
        f"# Generated for hub {hub} by vhub/natsaccounts.py (python -m vhub.deploy): do not edit.\n"
        "# Accounts and per-service permissions: the module docstring says what each rule is for.\n"
        "# Passwords come from the environment (deploy/.env; never commit real ones).\n"
        "accounts {\n"
        "  VHUB {\n"
        "    jetstream: enabled\n"
        "    users = [\n"
        f"{''.join(users)}{ingest}"
        "      { user: operator, password: $VHUB_OPERATOR_PASSWORD }\n"
        "    ]\n"
        "  }\n"
        "  SYS { users = [ { user: sys, password: $VHUB_SYS_PASSWORD } ] }\n"
        "}\n"
        "system_account: SYS\n"
    )
