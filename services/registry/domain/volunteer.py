"""The volunteer aggregate: registration, changes, withdrawal, and the one-active-team rule."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import date

from services.registry.domain import values
from services.registry.domain.commands import RegisterVolunteer, UpdateVolunteer
from shared.decider import Rejected
from shared.events import Event
from shared.events.registry import (
    Affiliation,
    ErasureReason,
    PossibleDuplicateFlagged,
    RegistrationVoided,
    VolunteerErased,
    VolunteerJoinedTeam,
    VolunteerLeftTeam,
    VolunteerRegistered,
    VolunteerUpdated,
    VolunteerWithdrawn,
)


@dataclass(frozen=True, slots=True)
class Volunteer:
    """A volunteer as a snapshot holds it: slotted, since the registry caches thousands (a
    pydantic model was ~1.2 KB each without its strings; this is ~0.2 KB)."""

    registered: bool = False
    voided: bool = False
    withdrawn: bool = False
    erased: bool = False
    moved: bool = False  # changed phone since registering: the number's slot is given up
    phone: str | None = None
    full_name: str | None = None
    birth_date: date | None = None
    province_code: str | None = None
    commune_code: str | None = None
    affiliation: Affiliation | None = None
    team_id: str | None = None
    # the data key sealing their personal fields, as their registration names it (None: plaintext,
    # v2 or older); not personal: a random id since issue 14, the volunteer id before
    key_id: str | None = None


# what an update may change (its event also carries the sealed form and the phone's pseudonym)
_UPDATABLE = {f.name for f in fields(Volunteer)}


def initial() -> Volunteer:
    return Volunteer()


def evolve(state: Volunteer, event: Event) -> Volunteer:
    match event:
        case VolunteerRegistered():
            return Volunteer(
                registered=True,
                phone=event.phone,
                full_name=event.full_name,
                birth_date=event.birth_date,
                province_code=event.province_code,
                commune_code=event.commune_code,
                affiliation=event.affiliation,
                key_id=event.sealed.key_id if event.sealed else None,
            )
        case VolunteerUpdated():
            changes = event.model_dump(exclude_none=True, include=_UPDATABLE)
            if event.phone is not None or event.phone_pseudonym is not None:  # (unopened: no key)
                changes["moved"] = True
            return replace(state, **changes)
        case VolunteerWithdrawn():
            return replace(state, withdrawn=True)
        case VolunteerErased():
            return replace(  # what erasure removes from a state
                state, full_name=None, phone=None, birth_date=None, erased=True, withdrawn=True, team_id=None
            )
        case VolunteerJoinedTeam():
            return replace(state, team_id=event.team_id)
        case RegistrationVoided():
            return replace(state, voided=True)
        case VolunteerLeftTeam() if state.team_id == event.team_id:
            return replace(state, team_id=None)
    return state


def register(
    state: Volunteer,
    cmd: RegisterVolunteer,
    *,
    volunteer_id: str,
    today: date,
    possible_duplicates: list[str],
    fields: dict[str, object] | None = None,
) -> list[Event]:
    """Register once; flag (not refuse) a same-name, same-birth-date volunteer in the province.
    ``fields``: what :func:`validate_registration` already returned for this command and day."""
    if state.registered:
        raise Rejected(
            "duplicate_volunteer", "this volunteer is already registered", existing_id=volunteer_id
        )
    if state.voided:
        raise Rejected(
            "registration_voided",
            "this registration was left unfinished and its phone passed on; send a new command id",
        )
    if fields is None:
        fields = validate_registration(cmd, today)
    events: list[Event] = [VolunteerRegistered(volunteer_id=volunteer_id, **fields)]
    if possible_duplicates:
        events.append(
            PossibleDuplicateFlagged(volunteer_id=volunteer_id, duplicate_of=sorted(possible_duplicates))
        )
    return events


def validate_registration(cmd: RegisterVolunteer, today: date) -> dict[str, object]:
    """Every rule a registration must pass; the normalised fields of the event."""
    if not cmd.consent:
        raise Rejected("consent_required", "the volunteer must consent to the use of their data")
    born = values.check_birth_date(cmd.birth_date, today)
    if values.age_on(born, today) < values.GUARDIAN_BELOW and not cmd.guardian_consent:
        raise Rejected(
            "guardian_consent_required",
            f"a volunteer under {values.GUARDIAN_BELOW} needs a legal representative's consent",
        )
    province, commune = values.check_place(cmd.province_code, cmd.commune_code)
    return {
        "full_name": values.normalise_name(cmd.full_name, field="full_name"),
        "phone": values.normalise_phone(cmd.phone),
        "birth_date": born,
        "province_code": province,
        "commune_code": commune,
        "affiliation": cmd.affiliation,
        "skills": values.normalise_skills(cmd.skills),
        "guardian_consent": cmd.guardian_consent,
    }


def update(state: Volunteer, cmd: UpdateVolunteer, *, phone: str | None) -> list[Event]:
    """Record what changed; ``phone`` is the already normalised (and claimed) new number."""
    require_active(state, cmd.volunteer_id)
    changes: dict[str, object] = {}
    if cmd.full_name is not None:
        name = values.normalise_name(cmd.full_name, field="full_name")
        if name != state.full_name:
            changes["full_name"] = name
    if phone is not None and phone != state.phone:
        changes["phone"] = phone
    if cmd.province_code is not None or cmd.commune_code is not None:
        province, commune = values.check_place(
            cmd.province_code or state.province_code or "",
            cmd.commune_code or state.commune_code,
        )
        if province != state.province_code:
            changes["province_code"] = province
        if commune != state.commune_code:
            changes["commune_code"] = commune
    if cmd.affiliation is not None and cmd.affiliation != state.affiliation:
        changes["affiliation"] = cmd.affiliation
    if cmd.skills is not None:
        changes["skills"] = values.normalise_skills(cmd.skills)
    if not changes:
        return []
    return [VolunteerUpdated(volunteer_id=cmd.volunteer_id, **changes)]


def withdraw(state: Volunteer, volunteer_id: str, reason: str) -> list[Event]:
    require_active(state, volunteer_id)
    events: list[Event] = []
    if state.team_id:
        events.append(VolunteerLeftTeam(volunteer_id=volunteer_id, team_id=state.team_id))
    events.append(VolunteerWithdrawn(volunteer_id=volunteer_id, reason=reason))
    return events


def erase(state: Volunteer, volunteer_id: str, reason: ErasureReason, key_id: str | None) -> list[Event]:
    """Leave the team and withdraw (as a withdrawal would: figures count it so), then the erasure
    itself. Erasing twice records nothing more; an unknown or voided volunteer has nothing."""
    if state.erased:
        return []
    if not state.registered:
        raise Rejected("unknown_volunteer", f"no volunteer {volunteer_id}")
    events: list[Event] = []
    if not state.withdrawn:
        events = withdraw(state, volunteer_id, f"erased: {reason}")
    return [*events, VolunteerErased(volunteer_id=volunteer_id, reason=reason, key_id=key_id)]


def join(state: Volunteer, volunteer_id: str, team_id: str) -> list[Event]:
    """At most one active team: joining another while in one is refused, naming it."""
    require_active(state, volunteer_id)
    if state.team_id == team_id:
        raise Rejected("already_member", f"volunteer {volunteer_id} is already in this team")
    if state.team_id is not None:
        raise Rejected(
            "already_in_team", f"volunteer {volunteer_id} is in team {state.team_id}", team_id=state.team_id
        )
    return [VolunteerJoinedTeam(volunteer_id=volunteer_id, team_id=team_id)]


def leave(state: Volunteer, volunteer_id: str, team_id: str) -> list[Event]:
    """Leave ``team_id`` if still in it (nothing otherwise: cascades may repeat)."""
    if state.team_id != team_id:
        return []
    return [VolunteerLeftTeam(volunteer_id=volunteer_id, team_id=team_id)]


def require_active(state: Volunteer, volunteer_id: str) -> None:
    if not state.registered:
        raise Rejected("unknown_volunteer", f"no volunteer {volunteer_id}")
    if state.withdrawn:
        raise Rejected("volunteer_withdrawn", f"volunteer {volunteer_id} has withdrawn")


def void(state: Volunteer, volunteer_id: str) -> list[Event]:
    """Void an unfinished registration, so its phone claim can pass on. A volunteer that did get
    recorded meanwhile keeps the phone."""
    if state.registered:
        raise Rejected(
            "duplicate_volunteer", "this phone number is already registered", existing_id=volunteer_id
        )
    if state.voided:
        return []
    return [RegistrationVoided(volunteer_id=volunteer_id, reason="phone claimed, volunteer never recorded")]
