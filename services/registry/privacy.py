"""The data subject's rights at the registry: erasure (crypto-shredding) and access (export).

Erasure deletes the volunteer's data key first (the one their registration names: a random id since
issue 14, their own id before), then records, in one atomic batch, the team's
release of them, their withdrawal and ``VolunteerErased``, and the phone claim's release (so the
number can register again). Key first: should the batch fail, the person is unreadable already and
the command, sent again, finishes the record; a resend after success is answered from the log and
deletes the (gone) key once more. Decided at the owning hub only: its key bucket and its log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog

from services.registry.domain import places, team, volunteer
from services.registry.domain.commands import EraseVolunteer, ExportVolunteer
from services.registry.keystore import KeyStore
from services.registry.sealing import phone_pseudonym
from shared.aggregates import CommandContext
from shared.commands import Accepted
from shared.decider import Rejected
from shared.envelope import event_subject
from shared.events import Event
from shared.events.dispatch import CONTEXT as DISPATCH
from shared.events.dispatch import TeamDispatched, shift_facts
from shared.events.registry import (
    PERSONAL_FIELDS,
    VolunteerJoinedTeam,
    VolunteerLeftTeam,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.transaction import Target
from shared.upcast import decode

log = structlog.get_logger(__name__)


def keep_erased(keys: KeyStore) -> Callable[[str, str], Awaitable[None]]:
    """What every replica does when an erasure reaches its feed: drop the erased key (the one the
    ``VolunteerErased`` names) from its cache, and delete it again if it is back (a key bucket
    restored from a backup older than the erasure)."""

    async def erased(volunteer_id: str, key_id: str) -> None:
        keys.forget(key_id)
        if await keys.get(key_id) is not None:
            log.warning("erased_key_deleted_again", volunteer_id=volunteer_id)
            await keys.delete(key_id)

    return erased


class Privacy:
    """``erase_volunteer`` and ``export_volunteer`` over a registry's repositories and key store."""

    def __init__(self, registry: Any) -> None:  # services.registry.service.Registry (no cycle)
        self._r = registry

    async def erase_volunteer(self, cmd: EraseVolunteer, ctx: CommandContext) -> Accepted:
        r, vid = self._r, cmd.volunteer_id
        snap = await r.volunteers.load(vid)
        recorded = ctx.command_id in snap.commands
        state = snap.state
        key_id = state.key_id or vid  # plaintext (v2) volunteers: the old form's id, as before
        if not recorded:
            volunteer.erase(state, vid, cmd.reason, key_id)  # refuse an unknown volunteer first
        await r.keys.delete(key_id)
        team_id = state.team_id
        phone_key = phone_pseudonym(r.pseudonym, state.phone) if state.phone else None
        claim = await r.claims.release_target(phone_key, vid) if phone_key and not recorded else None
        targets = [Target(r.volunteers, vid)]
        if team_id:
            targets.append(Target(r.teams, team_id))
        if claim is not None:
            targets.append(claim)

        def decide(states: list[Any]) -> list[list[Event]]:
            if states[0].team_id != team_id or states[0].phone != state.phone:
                raise Rejected("concurrency_conflict", "the volunteer changed meanwhile; send again")
            events: list[list[Event]] = [volunteer.erase(states[0], vid, cmd.reason, key_id)]
            if team_id:
                events.append(team.drop_member(states[1], team_id, vid))
            if claim is not None:
                events.append(places.release_phone(states[-1], vid))
            return events

        outcome, *_ = await r.writer.transact(ctx, targets, decide)
        r.identities.remove(vid)
        log.info("volunteer_erased", volunteer_id=vid, reason=cmd.reason, duplicate=outcome.duplicate)
        return Accepted.of(outcome, result={"volunteer_id": vid, "reason": cmd.reason, "key_deleted": True})

    async def export_volunteer(self, cmd: ExportVolunteer, ctx: CommandContext) -> Accepted:
        """Personal data (as far as the key still opens it) and the volunteer's history: their
        events in log order, their team memberships, and the shifts of those teams that started
        while they were members (read from the teams' schedules in the log: dispatch's facts)."""
        r, vid = self._r, cmd.volunteer_id
        records = await r.store.read(r.volunteers.subject(vid))
        if not records:
            raise Rejected("unknown_volunteer", f"no volunteer {vid}")
        state = (await r.volunteers.load(vid)).state
        # an erased volunteer's events are never opened, even by a replica whose cache still
        # holds the key for the moment it takes the erasure to reach its feed
        opener = (lambda env: _unopened(decode(env))) if state.erased else None
        history: list[dict[str, Any]] = []
        teams: list[dict[str, Any]] = []
        for rec in records:
            ev = opener(rec.envelope) if opener else await r.codec.open(rec.envelope)
            at = rec.envelope.recorded_at.isoformat()
            history.append({"seq": rec.seq, "event_type": ev.event_type, "recorded_at": at, **_facts(ev)})
            if isinstance(ev, VolunteerJoinedTeam):
                teams.append({"team_id": ev.team_id, "joined_at": at, "left_at": None})
            elif isinstance(ev, VolunteerLeftTeam):
                for t in teams:
                    if t["team_id"] == ev.team_id and t["left_at"] is None:
                        t["left_at"] = at
        personal = {f: _json(getattr(state, f)) for f in PERSONAL_FIELDS}
        result = {
            "volunteer_id": vid,
            "erased": state.erased,
            "personal_data": personal,
            "province_code": state.province_code,
            "commune_code": state.commune_code,
            "affiliation": state.affiliation,
            "teams": teams,
            "shifts": [s for t in teams for s in await self._shifts(t)],
            "history": history,
        }
        return Accepted(aggregate_id=vid, version=records[-1].seq, result=result)

    async def _shifts(self, membership: dict[str, Any]) -> list[dict[str, Any]]:
        """The team's shifts starting within the membership, each with what became of it."""
        r = self._r
        start = datetime.fromisoformat(membership["joined_at"])
        end = datetime.fromisoformat(membership["left_at"]) if membership["left_at"] else None
        subject = event_subject(r.store.hub, DISPATCH, "schedule", membership["team_id"])
        shifts: dict[str, dict[str, Any]] = {}
        for rec in await r.store.read(subject):
            logged = decode(rec.envelope)
            for ev in shift_facts(logged):  # a rotation: each of its shifts
                if (
                    isinstance(ev, TeamDispatched)
                    and ev.starts_at >= start
                    and (end is None or ev.starts_at < end)
                ):
                    shifts[ev.dispatch_id] = {
                        "dispatch_id": ev.dispatch_id,
                        "team_id": ev.team_id,
                        **ev.model_dump(
                            mode="json", include={"service_point_id", "date", "starts_at", "ends_at"}
                        ),
                        "events": [],
                    }
                dispatch_id = getattr(ev, "dispatch_id", None)
                if dispatch_id in shifts:
                    at = rec.envelope.recorded_at.isoformat()
                    shifts[dispatch_id]["events"].append({"event_type": logged.event_type, "recorded_at": at})
        return list(shifts.values())


def _unopened(ev: Event) -> Event:
    return ev.model_copy(update={"sealed": None}) if hasattr(ev, "sealed") else ev


def _facts(ev: Event) -> dict[str, Any]:
    """What the event says, opened (never the sealed blob: the subject reads their data here)."""
    if isinstance(ev, VolunteerRegistered | VolunteerUpdated):
        return ev.model_dump(mode="json", exclude={"sealed", "volunteer_id"}, exclude_none=True)
    return ev.model_dump(mode="json", exclude={"volunteer_id"})


def _json(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value
