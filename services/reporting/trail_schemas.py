"""The answer shapes of the drill-down routes, ``/v1/provenance`` and ``/v1/restatements``
(their OpenAPI ``response_model``s; the routes return ready-made answers, as the others do)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from services.reporting.schemas import Answer


class ProvenanceItem(BaseModel):
    """One event's contribution to a figure (``/v1/provenance``)."""

    stream_sequence: int
    hub: str
    event_type: str
    event_id: str
    command_id: str | None
    recorded_at: str | None
    day: date
    province_code: str
    commune_code: str
    contribution: int


class ProvenancePage(Answer):
    figure: str
    level: Literal["campaign", "province", "commune"]
    code: str
    from_: date | None = Field(alias="from")
    to: date | None
    served: int = Field(description="the figure as the API serves it at this position")
    sum: int = Field(description="of every contribution (all pages): equal to served")
    events: int = Field(description="how many contributions (all pages)")
    page: int
    page_size: int
    items: list[ProvenanceItem]


class RestatementItem(BaseModel):
    """What one event arriving after its hub closed the day changed in one figure."""

    figure: str
    day: date
    province_code: str
    commune_code: str
    stream_sequence: int
    hub: str
    event_type: str
    event_id: str
    command_id: str | None
    recorded_at: str | None
    change: int
    level: Literal["province", "commune"] = Field(description="the area of published and restated")
    code: str
    published: int = Field(description="the area's figure as published (before every restatement)")
    restated: int = Field(description="the area's figure once this event was counted")


class RestatementPage(Answer):
    province_code: str | None
    commune_code: str | None
    from_: date | None = Field(alias="from")
    to: date | None
    total: int = Field(description="restatements on every page")
    page: int
    page_size: int
    items: list[RestatementItem]
