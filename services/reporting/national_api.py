"""``GET /v1/duplicates?scope=national``: people recorded at two hubs, as central sees them.

Ids, hubs and when each registration was recorded; never a personal value, nor the key they were
paired by (services/reporting/national.py). Registered by the composition root beside the other
read routes (it reads the in-process index and, for the figure counted once, the read model).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from services.reporting.http import answer
from services.reporting.national import Holder, NationalIndex
from services.reporting.queries import ReadModel
from services.reporting.routers.common import ONE, ReadsDep
from services.reporting.schemas import Answer


class Registration(BaseModel):
    hub: str
    volunteer_id: str
    recorded_at: datetime


class NationalPair(BaseModel):
    pair_id: str
    kind: Literal["phone", "name_birth_date"]
    counted: Registration = Field(description="recorded first: the one national figures count")
    duplicate: Registration
    resolved: bool = Field(description="one of the two is withdrawn")


class NationalDuplicates(Answer):
    scope: Literal["national"] = "national"
    position: int = Field(description="the read stream's sequence the index has applied")
    pairs: list[NationalPair]
    unresolved: int
    active_volunteers: int = Field(description="registrations active at every hub, as /v1/summary")
    active_volunteers_counted_once: int = Field(description="each unresolved pair counted once")


def _reg(h: Holder) -> Registration:
    return Registration(hub=h.hub, volunteer_id=h.volunteer_id, recorded_at=h.recorded_at)


def national_router(index: NationalIndex, read: ReadModel) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reporting"])

    @router.get("/duplicates", response_model=NationalDuplicates, responses=ONE)
    async def duplicates(
        reads: ReadsDep,
        scope: Annotated[Literal["national"], Query(description="national: across hubs")],
    ) -> Response:
        """Pairs of registrations of one person at two hubs (the same phone, or the same name and
        birth date where registrations carry that pseudonym), which one counts, and whether an
        operator has resolved it."""
        pairs = index.pairs()
        async with read.snapshot() as snap:
            hubs = await reads.hubs(snap)
            figures = (await snap.figures("campaign", [""])).get("", {})
        active = int(figures.get("active_volunteers", 0))
        unresolved = sum(not p.resolved for p in pairs)
        body = dict(
            scope="national",
            position=index.position,
            pairs=[
                NationalPair(
                    pair_id=p.pair_id,
                    kind=p.kind,
                    counted=_reg(p.counted),
                    duplicate=_reg(p.duplicate),
                    resolved=p.resolved,
                )
                for p in pairs
            ],
            unresolved=unresolved,
            active_volunteers=active,
            active_volunteers_counted_once=active - unresolved,
        )
        return answer(snap, hubs, body)  # the read model's freshness, as every answer

    return router
