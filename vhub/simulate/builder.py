"""Builds a plan from entities (volunteers, teams, points, shifts) and keeps the truth in step.

Each method records one entity, the command(s) it needs, and what it does to the figures, so a
scenario reads as a story and the ground truth cannot drift from the commands.

One class past the ~250-line guide on purpose: each method keeps a command and its effect on the
truth side by side, and splitting the class would split exactly those pairs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from datetime import date, time, timedelta
from typing import Any

from shared.refdata import communes_of
from vhub.simulate import people
from vhub.simulate.entities import Order, Point, Shift, Team, Volunteer, areas, at, iso
from vhub.simulate.model import RESENT, Noise, Phase, Ref, Step, Truth, refuse


class Builder:
    def __init__(self, scenario: str, seed: int, run_id: str) -> None:
        self.rng = random.Random(f"{scenario}:{seed}")
        self.run = run_id
        self.truth = Truth()
        self.volunteers: list[Volunteer] = []
        self.shifts: list[Shift] = []
        self.orders: list[Order] = []
        self._n = 0
        self.phases: list[Phase] = []
        self._steps: dict[str, list[Step]] = {}
        self._requests: dict[tuple[str, date, time, time], tuple[str, dict[str, Any]]] = {}
        self._shifts_of: dict[str, list[Shift]] = {}  # by team key

    # -- plumbing ------------------------------------------------------------------------------

    def cid(self, kind: str) -> str:
        self._n += 1
        return f"{self.run}-{kind}-{self._n}"

    def step(self, phase: str, step: Step) -> Step:
        self._steps.setdefault(phase, []).append(step)
        return step

    def freeze(
        self, order: list[str], lazy: Mapping[str, tuple[int, Callable[[], Iterator[Step]]]]
    ) -> tuple[Phase, ...]:
        """Phases in ``order``: the eager ones recorded by ``step``, the lazy ones as given."""
        out = []
        for name in order:
            if name in lazy:
                size, make = lazy[name]
                out.append(Phase(name, size, make))
            elif self._steps.get(name):
                steps = tuple(self._steps[name])
                out.append(Phase(name, len(steps), lambda s=steps: iter(s)))  # type: ignore[misc]
        return tuple(out)

    # -- registry ------------------------------------------------------------------------------

    def point(self, phase: str, province: str, commune: str, kind: str, name: str) -> Point:
        key = self.cid("point")
        self.step(
            phase,
            Step(
                "registry",
                "register_service_point",
                {
                    "name": name,
                    "kind": kind,
                    "province_code": province,
                    "commune_code": commune,
                },
                command_id=key,
                saves=key,
            ),
        )
        return Point(key, province, commune)

    def team(
        self, phase: str, province: str, commune: str | None, focus: str, organisation: str, name: str
    ) -> Team:
        key = self.cid("team")
        body: dict[str, Any] = {
            "name": name,
            "province_code": province,
            "focus": focus,
            "organisation": organisation,
        }
        if commune:
            body["commune_code"] = commune
        self.step(phase, Step("registry", "form_team", body, command_id=key, saves=key))
        self.truth.add(areas(province, commune), "active_teams")
        self.truth.teams_by_focus[focus] += 1
        return Team(key, province, commune, focus)

    def volunteer(self, province: str, commune: str, affiliation: str, team: Team | None) -> Volunteer:
        """A volunteer who registers (and joins ``team``); the command is made on demand."""
        v = Volunteer(
            f"{self.run}-vol-{len(self.volunteers)}",
            len(self.volunteers),
            province,
            commune,
            affiliation,
            team,
        )
        self.volunteers.append(v)
        if team is not None:
            team.members.append(v.key)
        self.truth.add(areas(province, commune), "active_volunteers")
        self.truth.volunteers_by_affiliation[affiliation] += 1
        return v

    def volunteer_body(self, v: Volunteer) -> dict[str, Any]:
        """The registration ``v`` sends: the same every time it is made (seeded by its index)."""
        rng = random.Random(f"{self.run}:vol:{v.index}")
        return {
            "full_name": people.full_name(rng),
            "phone": people.phone(self.run, v.index),
            "birth_date": people.birth_date(rng).isoformat(),
            "province_code": v.province,
            "commune_code": v.commune,
            "affiliation": v.affiliation,
            "skills": people.skills(rng),
            "consent": True,
        }

    def register_step(self, v: Volunteer) -> Step:
        return Step("registry", "register_volunteer", self.volunteer_body(v), v.key, saves=v.key)

    def member_step(self, v: Volunteer) -> Step:
        assert v.team is not None
        return Step(
            "registry",
            "add_team_member",
            {"team_id": Ref(v.team.key), "volunteer_id": Ref(v.key)},
            f"{v.key}-join",
        )

    def commune_in(self, province: str) -> str:
        return self.rng.choice(communes_of(province)).code

    def leader_step(self, team: Team, v: Volunteer) -> Step:
        return Step(
            "registry",
            "appoint_team_leader",
            {"team_id": Ref(team.key), "volunteer_id": Ref(v.key)},
            f"{team.key}-lead",
        )

    # -- dispatch ------------------------------------------------------------------------------

    def request(
        self, point: Point, day: date, start: time, end: time, teams: int = 1, focus: str | None = None
    ) -> str:
        """``request_coverage``: ``point`` asks for ``teams`` teams over the window."""
        key = self.cid("req")
        body: dict[str, Any] = {
            "service_point_id": Ref(point.key),
            "date": day.isoformat(),
            "starts_at": start.isoformat(),
            "ends_at": end.isoformat(),
            "teams_needed": teams,
        }
        if focus:
            body["focus"] = focus
        self.step("coverage requests", Step("dispatch", "request_coverage", body, key, saves=key))
        self._requests[(point.key, day, start, end)] = (key, body)
        return key

    def one_more_team(self, point: Point, day: date, start: time, end: time, focus: str | None = None) -> str:
        """The point's request for this window asks for one team more (made when there is none)."""
        known = self._requests.get((point.key, day, start, end))
        if known is None:
            return self.request(point, day, start, end, 1, focus)
        known[1]["teams_needed"] += 1  # the plan is not sent yet: the request asks for them all
        return known[0]

    def dispatch(
        self, team: Team, point: Point, day: date, start: time, end: time, request: str | None = None
    ) -> Shift:
        """``dispatch_team``: one shift (answering the coverage request saved as ``request``)."""
        shift = Shift(self.cid("disp"), team, point, day, at(day, start), at(day, end))
        self.shifts.append(shift)
        self._shifts_of.setdefault(team.key, []).append(shift)
        self.orders.append(
            Order(shift.key, team, [point], day, day, start, end, single=True, request=request)
        )
        return shift

    def free(self, team: Team, day: date, start: time, end: time) -> bool:
        """No shift of ``team`` overlaps the window (the plan's own bookings)."""
        starts, ends = at(day, start), at(day, end)
        return all(not (s.starts < ends and starts < s.ends) for s in self._shifts_of.get(team.key, ()))

    def rotation(
        self, team: Team, points: list[Point], first: date, days: int, start: time, end: time
    ) -> list[Shift]:
        """``plan_rotation``: a shift a day from ``first``, cycling over ``points``."""
        key = self.cid("rot")
        out = []
        for n in range(days):
            day = first + timedelta(days=n)
            out.append(Shift(f"{key}.{n}", team, points[n % len(points)], day, at(day, start), at(day, end)))
        self.shifts.extend(out)
        self._shifts_of.setdefault(team.key, []).extend(out)
        self.orders.append(Order(key, team, points, first, out[-1].day, start, end))
        return out

    def fate(self, s: Shift, p_no_show: float, p_late: float) -> None:
        """Whether the team turns up (on time or late) and when it leaves."""
        rng = self.rng
        if rng.random() < p_no_show:
            return
        if rng.random() < p_late:
            s.check_in = s.starts + timedelta(minutes=rng.randint(5, 50))
        else:
            s.check_in = s.starts - timedelta(minutes=rng.randint(0, 20))
        s.check_out = s.ends + timedelta(minutes=rng.randint(-30, 20))

    def double_booking(self, phase: str, s: Shift) -> None:
        """The same team sent to a second point over the same hours: refused, counted."""
        body = {
            "team_id": Ref(s.team.key),
            "service_point_id": Ref(s.point.key),
            "starts_at": iso(s.starts + timedelta(hours=1)),
            "ends_at": iso(s.ends + timedelta(hours=1)),
        }
        self.step(
            phase,
            Step(
                "dispatch",
                "dispatch_team",
                body,
                self.cid("dbl"),
                expect=refuse("shift_overlaps"),
                noise=Noise.DOUBLE_BOOKING,
            ),
        )
        self.truth.noise[Noise.DOUBLE_BOOKING] += 1

    # -- noise ---------------------------------------------------------------------------------

    def duplicate_registration(self, phase: str, v: Volunteer) -> None:
        """The same person (same phone, other spelling) registers again: refused, counted."""
        original = self.volunteer_body(v)
        body = {**original, "full_name": original["full_name"].upper()}
        self.step(
            phase,
            Step(
                "registry",
                "register_volunteer",
                body,
                self.cid("dupreg"),
                expect=refuse("duplicate_volunteer"),
                noise=Noise.DUPLICATE_REGISTRATION,
            ),
        )
        self.truth.noise[Noise.DUPLICATE_REGISTRATION] += 1

    def resend(self, phase: str, step: Step) -> None:
        """The same command id again (a client retry): accepted as a duplicate, nothing new."""
        self.step(
            phase,
            Step(
                step.context,
                step.name,
                step.body,
                step.command_id,
                expect=RESENT,
                noise=Noise.RETRIED_COMMAND,
            ),
        )
        self.truth.noise[Noise.RETRIED_COMMAND] += 1
