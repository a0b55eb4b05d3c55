"""Which hub serves what: the launch's hub list (deploy/hubs.toml, generated into shared/hubmap.py).

Ownership work asks here: :func:`hub_of_province` ("which hub serves province P"),
:func:`provinces_of` (what a hub serves), :func:`central_hub` and :func:`hub_codes`.
"""

from __future__ import annotations

from shared import hubmap
from shared.refdata import normalise_province


class UnknownHub(KeyError):
    """A hub code that is not in the hub list."""


def hub_codes() -> tuple[str, ...]:
    """Every hub of the list, the central hub first."""
    return tuple(hubmap.HUBS)


def central_hub() -> str:
    return hubmap.CENTRAL


def hub_name(hub: str) -> str:
    try:
        return hubmap.HUBS[hub]
    except KeyError:
        raise UnknownHub(hub) from None


def hub_of_province(province: str | int) -> str | None:
    """The hub serving ``province`` (a code, padded or not), or None when it is not a province."""
    code = normalise_province(province)
    return None if code is None else hubmap.PROVINCE_HUB[code]


def provinces_of(hub: str) -> tuple[str, ...]:
    """The province codes ``hub`` serves (empty for no province is impossible: the list is checked)."""
    hub_name(hub)
    return tuple(p for p, h in hubmap.PROVINCE_HUB.items() if h == hub)


def central_sources(option: str | None, hub: str) -> list[str]:
    """The hubs whose streams ``VHUB_CENTRAL`` sources, for ``vhub provision --central-hubs``:
    the given comma-separated codes; by default every hub of the list when ``hub`` is the central
    hub (and none elsewhere); ``none`` for none."""
    if option is None:
        return list(hub_codes()) if hub == central_hub() else []
    if option.strip().lower() == "none":
        return []
    return [h.strip() for h in option.split(",") if h.strip()]
