"""Facts the registry records: volunteers, teams, memberships, service points, border communes.

Personal data (full_name, phone, birth_date) lives only in these payload fields: never in subjects,
headers or logs. Other services read the non-personal fields and ignore the rest.

Since issue 12 the log holds personal fields sealed (:class:`Sealed`: AES-GCM under the volunteer's
own data key, which the registry keeps in its key bucket and deletes on erasure): in the log the
plaintext fields are ``None`` and only the registry, holding the key, fills them on read. Events
written before are plaintext and upcast as they are (shared/upcast.py). The keyed pseudonyms
(``phone_pseudonym``, ``identity_pseudonym``: HMAC under ``VHUB_PII_KEY``) let duplicate checks
compare without decrypting; without that key they reveal nothing.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict

from shared.events import Event, event

CONTEXT = "registry"
Affiliation = Literal["youth_union", "student_association", "public_security_youth", "other"]
Focus = Literal["admin_support", "online_public_services", "digital_skills"]
PointKind = Literal["provincial_service_centre", "commune_one_stop", "community_site"]
ErasureReason = Literal["consent_withdrawn", "subject_request", "legal_order"]
# every personal field of any event: the registry seals exactly these (services/registry/sealing.py)
PERSONAL_FIELDS = ("full_name", "phone", "birth_date")


class Sealed(BaseModel):
    """Personal fields encrypted: AES-256-GCM under the data key ``key_id`` (base64 nonce and
    ciphertext of their JSON; the event type and volunteer id are the associated data)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key_id: str
    nonce: str
    ciphertext: str


@event
class VolunteerRegistered(Event):
    """Personal fields are ``None`` when sealed and unopened, or erased (the key deleted)."""

    event_type = "registry.volunteer_registered"
    schema_version = 3  # v1 had no skills, v2 held personal fields in plaintext (see shared.upcast)

    volunteer_id: str
    full_name: str | None = None  # personal
    phone: str | None = None  # personal, normalised +84…
    birth_date: date | None = None  # personal
    province_code: str
    commune_code: str
    affiliation: Affiliation
    skills: list[str]
    guardian_consent: bool = False  # a legal representative consented (required under 16)
    sealed: Sealed | None = None
    phone_pseudonym: str | None = None
    identity_pseudonym: str | None = None  # of normalised name + birth date (no province)


@event
class VolunteerUpdated(Event):
    """Only the fields that changed are set."""

    event_type = "registry.volunteer_updated"
    schema_version = 2  # v1 held personal fields in plaintext

    volunteer_id: str
    full_name: str | None = None  # personal
    phone: str | None = None  # personal
    province_code: str | None = None
    commune_code: str | None = None
    affiliation: Affiliation | None = None
    skills: list[str] | None = None
    sealed: Sealed | None = None
    phone_pseudonym: str | None = None  # of the new phone


@event
class VolunteerErased(Event):
    """The volunteer's data key is deleted: their personal fields can no longer be read anywhere
    (every replica, every backup of the log). Carries no personal data."""

    event_type = "registry.volunteer_erased"

    volunteer_id: str
    reason: ErasureReason
    key_id: str | None  # the deleted key (None: the volunteer's events were plaintext, v2 or older)


@event
class VolunteerWithdrawn(Event):
    event_type = "registry.volunteer_withdrawn"

    volunteer_id: str
    reason: str


@event
class PossibleDuplicateFlagged(Event):
    """Same normalised name and birth date in one province: accepted, but worth a look."""

    event_type = "registry.possible_duplicate_flagged"

    volunteer_id: str
    duplicate_of: list[str]


@event
class VolunteerJoinedTeam(Event):
    event_type = "registry.volunteer_joined_team"

    volunteer_id: str
    team_id: str


@event
class VolunteerLeftTeam(Event):
    event_type = "registry.volunteer_left_team"

    volunteer_id: str
    team_id: str


@event
class PhoneClaimed(Event):
    """A normalised phone (the subject holds a keyed pseudonym of it) now belongs to a volunteer."""

    event_type = "registry.phone_claimed"

    volunteer_id: str


@event
class RegistrationVoided(Event):
    """A registration that claimed a phone but never recorded its volunteer (its writer crashed in
    between and the command was never sent again) is void: the id can no longer register, so the
    phone can pass to someone else. Recorded on the volunteer's own subject, guarded by its version."""

    event_type = "registry.registration_voided"

    volunteer_id: str
    reason: str


@event
class IdentitySeen(Event):
    """A volunteer with this normalised name + birth date + province (keyed pseudonym) exists.

    No longer written: possible duplicates come from the registry's in-process index since
    2026-11-26; logs recorded before keep these, and they are still read."""

    event_type = "registry.identity_seen"

    volunteer_id: str


@event
class TeamFormed(Event):
    event_type = "registry.team_formed"

    team_id: str
    name: str
    province_code: str
    commune_code: str | None
    focus: Focus
    organisation: str


@event
class TeamMemberAdded(Event):
    event_type = "registry.team_member_added"

    team_id: str
    volunteer_id: str


@event
class TeamMemberRemoved(Event):
    event_type = "registry.team_member_removed"

    team_id: str
    volunteer_id: str


@event
class TeamLeaderAppointed(Event):
    event_type = "registry.team_leader_appointed"

    team_id: str
    volunteer_id: str


@event
class TeamDisbanded(Event):
    event_type = "registry.team_disbanded"

    team_id: str
    reason: str


@event
class ServicePointRegistered(Event):
    event_type = "registry.service_point_registered"

    service_point_id: str
    name: str
    kind: PointKind
    province_code: str
    commune_code: str


@event
class BorderCommunesDesignated(Event):
    """The campaign's border communes, as loaded by an operator (added to those already known)."""

    event_type = "registry.border_communes_designated"

    commune_codes: list[str]
    effective_from: date | None = None


@event
class PhoneReleased(Event):
    """The volunteer moved to another number; this one is free again."""

    event_type = "registry.phone_released"

    volunteer_id: str
