"""Service points, the border-commune list, and the claims that make uniqueness hold across
aggregates: a phone claim subject per normalised phone (pseudonymised), claimed before the volunteer
it names is recorded (or with a phone change, in the same atomic batch), guarded by its version."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from services.registry.domain import values
from services.registry.domain.commands import DesignateBorderCommunes, RegisterServicePoint
from shared import refdata
from shared.decider import Rejected
from shared.events import Event
from shared.events.registry import (
    BorderCommunesDesignated,
    IdentitySeen,
    PhoneClaimed,
    PhoneReleased,
    ServicePointRegistered,
)


class ServicePoint(BaseModel):
    model_config = ConfigDict(frozen=True)
    registered: bool = False


class BorderCommunes(BaseModel):
    model_config = ConfigDict(frozen=True)
    codes: frozenset[str] = frozenset()


class Claim(BaseModel):
    """Who holds a phone number (or shares an identity key), and since when."""

    model_config = ConfigDict(frozen=True)
    owner: str | None = None
    holders: tuple[str, ...] = ()


def evolve_point(state: ServicePoint, event: Event) -> ServicePoint:
    return ServicePoint(registered=True) if isinstance(event, ServicePointRegistered) else state


def register_point(state: ServicePoint, cmd: RegisterServicePoint, *, point_id: str) -> list[Event]:
    if state.registered:
        raise Rejected("duplicate_service_point", f"service point {point_id} exists already")
    province, commune = values.check_place(cmd.province_code, cmd.commune_code)
    assert commune is not None
    return [
        ServicePointRegistered(
            service_point_id=point_id,
            name=values.normalise_name(cmd.name),
            kind=cmd.kind,
            province_code=province,
            commune_code=commune,
        )
    ]


def evolve_border(state: BorderCommunes, event: Event) -> BorderCommunes:
    if isinstance(event, BorderCommunesDesignated):
        return BorderCommunes(codes=state.codes | set(event.commune_codes))
    return state


def designate(state: BorderCommunes, cmd: DesignateBorderCommunes) -> list[Event]:
    codes = [refdata.normalise_commune(c) for c in cmd.commune_codes]
    unknown = [n for n, code in enumerate(codes) if code is None]
    if unknown:
        # counted, with the first positions: the raw codes are input, and once made a 1 MB reply
        raise Rejected(
            "unknown_commune", f"{len(unknown)} unknown commune codes", unknown=len(unknown), at=unknown[:20]
        )
    new = sorted({c for c in codes if c is not None} - state.codes)
    if not new:
        return []
    return [BorderCommunesDesignated(commune_codes=new, effective_from=cmd.effective_from)]


def evolve_claim(state: Claim, event: Event) -> Claim:
    match event:
        case PhoneClaimed():
            return state.model_copy(update={"owner": event.volunteer_id})
        case PhoneReleased() if state.owner == event.volunteer_id:
            return state.model_copy(update={"owner": None})
        case IdentitySeen() if event.volunteer_id not in state.holders:
            return state.model_copy(update={"holders": (*state.holders, event.volunteer_id)})
    return state


def claim_phone(state: Claim, volunteer_id: str, *, taking_over: str | None = None) -> list[Event]:
    """Claim a free number; or one whose holder is ``taking_over`` (a registration voided because
    it never recorded its volunteer)."""
    if state.owner == volunteer_id:
        return []
    if state.owner is not None and state.owner != taking_over:
        raise Rejected(
            "duplicate_volunteer", "this phone number is already registered", existing_id=state.owner
        )
    return [PhoneClaimed(volunteer_id=volunteer_id)]


def release_phone(state: Claim, volunteer_id: str) -> list[Event]:
    return [PhoneReleased(volunteer_id=volunteer_id)] if state.owner == volunteer_id else []
