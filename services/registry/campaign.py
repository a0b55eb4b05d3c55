"""The campaign's places at the registry: service points and the border-commune list."""

from __future__ import annotations

from typing import Any

from services.registry.domain import places
from services.registry.domain.commands import DesignateBorderCommunes, RegisterServicePoint
from shared.aggregates import CommandContext
from shared.commands import Accepted
from shared.ownership import owned_id
from shared.transaction import Target

BORDER_ID = "border_communes"


class Campaign:
    """``register_service_point`` and ``designate_border_communes`` over a registry's repositories."""

    def __init__(self, registry: Any) -> None:  # services.registry.service.Registry
        self._store = registry.store
        self._writer = registry.writer
        self.points = registry.points
        self.campaign = registry.campaign

    async def register_service_point(self, cmd: RegisterServicePoint, ctx: CommandContext) -> Accepted:
        point_id = owned_id(self._store.hub, "service_point", ctx.command_id)
        outcome = await self._writer.write(
            ctx, Target(self.points, point_id), lambda s: places.register_point(s, cmd, point_id=point_id)
        )
        return Accepted.of(outcome)

    async def designate_border_communes(self, cmd: DesignateBorderCommunes, ctx: CommandContext) -> Accepted:
        outcome = await self._writer.write(
            ctx, Target(self.campaign, BORDER_ID), lambda s: places.designate(s, cmd)
        )
        total = len((await self.campaign.load(BORDER_ID)).state.codes)
        return Accepted.of(outcome, result={"border_communes": total})
