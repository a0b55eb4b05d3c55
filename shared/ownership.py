"""Which hub owns an aggregate, read from its id alone, and the refusal a hub gives for what is not its.

An id a hub mints is ``<hub>-<uuid5>`` (:func:`owned_id`: the hub code, a dash, the uuid5 of the
command id as before), e.g. ``hcm-440cde9e-5537-52f0-89a5-b04b4285a56c``. Ids built on an owned
id keep it in front (a dispatch ``<team id>:<token>``, a coverage key ``<point id>_<date>``), so
:func:`id_hub` reads their owner too.

A hub of the hub list running *linked* (the default) is one of the network: an id without a hub
prefix (every id recorded before ids carried their hub, when vhub ran as the one central hub)
belongs to the central hub, and a province belongs to the hub that serves it. A *standalone* hub
(``VHUB_STANDALONE``: the single-hub ``vhub dev``; or a hub outside the list, as tests make) owns
unprefixed ids itself and serves every province. Either way an id that names another hub is that
hub's.

The check runs in the command bus (shared/commands.py) before any handler, from what each command
model declares (:class:`shared.contract.Command`: ``owned_fields``, ``province_fields``): a hub
refuses an aggregate another hub owns, and a registration, team or service point in a province
another hub serves, with ``owned_by_other_hub`` and the owner in ``details`` (never ``unknown_*``:
the caller learns where to send it, ``vhub.cmd.<owner>.<context>.<command>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from shared.contract import Command
from shared.decider import Rejected
from shared.envelope import derive_id, hub_command_subject
from shared.hubs import central_hub, hub_codes, hub_of_province
from shared.refdata import communes

OWNED_BY_OTHER_HUB = "owned_by_other_hub"
# a hub code (shared.settings.HUB_RE), a dash, then the start of a uuid: a bare uuid's first group
# is followed by four hex digits, never by eight, so a legacy uuid never reads as a prefix
_PREFIX = re.compile(r"^([a-z][a-z0-9]{1,15})-(?=[0-9a-f]{8}-[0-9a-f]{4}-)")


def owned_id(hub: str, kind: str, command_id: str) -> str:
    """The id of the ``kind`` aggregate that ``command_id`` creates at ``hub``: ``<hub>-<uuid5>``."""
    return f"{hub}-{derive_id(hub, kind, command_id)}"


def id_hub(aggregate_id: str) -> str | None:
    """The hub an id names, or None for an id without a hub prefix."""
    m = _PREFIX.match(aggregate_id)
    return m.group(1) if m else None


@dataclass(frozen=True)
class Ownership:
    """What hub ``hub`` owns. Build it with :meth:`of`."""

    hub: str
    linked: bool  # one of the hub list's network: unprefixed ids and other provinces are not its

    @classmethod
    def of(cls, hub: str, *, standalone: bool = False) -> Ownership:
        return cls(hub, linked=hub in hub_codes() and not standalone)

    def owner(self, aggregate_id: str) -> str:
        """The hub owning ``aggregate_id``: the id's prefix; else the central hub (ids from before
        the prefix) when linked, this hub when standalone."""
        named = id_hub(aggregate_id)
        if named is not None:
            return named
        return central_hub() if self.linked else self.hub

    def province_owner(self, province: str) -> str | None:
        """The hub serving ``province`` (None: not a province; the command's own rules refuse it
        as before). A standalone hub serves every province."""
        return hub_of_province(province) if self.linked else self.hub

    def refuse_foreign(self, command: Command, *, context: str, name: str) -> None:
        """Raise ``owned_by_other_hub`` when ``command`` names an aggregate, or a province, that
        another hub owns. The reason names the field and the owner, never the value
        (shared.refusals: a refusal quotes nothing from the input)."""
        for field in command.owned_fields:
            value = getattr(command, field)
            for one in value if isinstance(value, list) else [value]:
                if isinstance(one, str) and (owner := self.owner(one)) != self.hub:
                    _refuse(owner, field, f"the {field} names an aggregate of hub {owner}", context, name)
        for field in command.province_fields:
            value = getattr(command, field)
            if isinstance(value, str):
                server = self.province_owner(value)
                if server is not None and server != self.hub:
                    _refuse(server, field, f"the {field} is a province hub {server} serves", context, name)
        known = communes()
        for field in command.commune_fields:
            value = getattr(command, field)
            for code in value if isinstance(value, list) else [value]:
                place = known.get(code) if isinstance(code, str) else None
                server = self.province_owner(place.province_code) if place else None
                if server is not None and server != self.hub:
                    _refuse(server, field, f"the {field} holds a commune hub {server} serves", context, name)


def _refuse(owner: str, field: str, what: str, context: str, name: str) -> None:
    subject = hub_command_subject(owner, context, name)
    raise Rejected(
        OWNED_BY_OTHER_HUB,
        f"{what}, not this one; send it there ({subject})",
        owner=owner,
        field=field,
        subject=subject,
    )
