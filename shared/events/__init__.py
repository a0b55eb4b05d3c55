"""Versioned event models, one module per bounded context, and the catalogue that names them.

An event's ``event_type`` is a stable string chosen once (``registry.volunteer_registered``), never a
Python path, so moving a module never breaks the log. ``schema_version`` is the version this code
writes; older versions in the log are upcast on read (:mod:`shared.upcast`).
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    """Base of every event payload: frozen, strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


E = TypeVar("E", bound=type[Event])

CATALOGUE: dict[str, type[Event]] = {}


def event(cls: E) -> E:
    """Class decorator: add an event model to the catalogue under its ``event_type``."""
    existing = CATALOGUE.get(cls.event_type)
    if existing is not None and existing is not cls:
        raise ValueError(f"event_type {cls.event_type!r} is taken by {existing.__qualname__}")
    CATALOGUE[cls.event_type] = cls
    return cls


def load_all() -> None:
    """Import every context's event module so the catalogue is complete."""
    from shared.events import dispatch, registry  # noqa: F401 - imported for registration
