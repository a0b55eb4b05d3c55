"""The simulated world: service points, teams, volunteers and shifts, with the commands a shift
sends and what it does to the figures. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from vhub.simulate.model import CAMPAIGN, REPORT_FIELDS, Area, Noise, Ref, Step, Truth, refuse

LOCAL = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")


def at(day: date, t: time) -> datetime:
    return datetime.combine(day, t, tzinfo=LOCAL)


def iso(dt: datetime) -> str:
    return dt.isoformat()


def areas(province: str, commune: str | None) -> list[Area]:
    out: list[Area] = [CAMPAIGN, ("province", province)]
    if commune:
        out.append(("commune", commune))
    return out


@dataclass(slots=True)
class Point:
    key: str
    province: str
    commune: str


@dataclass(slots=True)
class Team:
    key: str
    province: str
    commune: str | None
    focus: str
    members: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Volunteer:
    key: str
    index: int
    province: str
    commune: str
    affiliation: str
    team: Team | None


@dataclass(slots=True)
class Shift:
    """One dispatch of a team to a point, and what happens to it in the field."""

    key: str
    team: Team
    point: Point
    day: date
    starts: datetime
    ends: datetime
    check_in: datetime | None = None  # None: a no-show
    check_out: datetime | None = None
    report: dict[str, int] | None = None
    implausible: dict[str, int] | None = None  # a report refused first, then corrected


@dataclass(slots=True)
class Order:
    """A dispatch command: one shift (``dispatch_team``) or a rotation (``plan_rotation``)."""

    key: str
    team: Team
    points: list[Point]
    first: date
    last: date
    start: time
    end: time
    single: bool = False
    request: str | None = None  # the coverage request a single dispatch answers (its saved key)

    def step(self) -> Step:
        if self.single:
            body: dict[str, object] = {
                "team_id": Ref(self.team.key),
                "service_point_id": Ref(self.points[0].key),
                "starts_at": iso(at(self.first, self.start)),
                "ends_at": iso(at(self.first, self.end)),
            }
            if self.request is not None:
                body["coverage_request_id"] = Ref(self.request)
            return Step("dispatch", "dispatch_team", body, self.key, saves=self.key)
        return Step(
            "dispatch",
            "plan_rotation",
            {
                "team_id": Ref(self.team.key),
                "service_point_ids": [Ref(p.key) for p in self.points],
                "from_date": self.first.isoformat(),
                "to_date": self.last.isoformat(),
                "daily_starts_at": self.start.isoformat(),
                "daily_ends_at": self.end.isoformat(),
            },
            self.key,
            saves=self.key,
        )


def shift_steps(s: Shift, phase: str) -> Step | None:
    """The step of ``phase`` (check_in, check_out, report, report_fix) for shift ``s``, if any."""
    ref = Ref(s.key)
    if phase == "check_in" and s.check_in is not None:
        late = s.check_in > s.starts
        return Step(
            "dispatch",
            "check_in",
            {"dispatch_id": ref, "at": iso(s.check_in)},
            f"{s.key}-in",
            noise=Noise.LATE_CHECK_IN if late else None,
        )
    if phase == "check_out" and s.check_out is not None:
        return Step("dispatch", "check_out", {"dispatch_id": ref, "at": iso(s.check_out)}, f"{s.key}-out")
    if phase == "report" and s.report is not None:
        if s.implausible is not None:
            return Step(
                "dispatch",
                "report_activity",
                {"dispatch_id": ref, **s.implausible},
                f"{s.key}-rep-x",
                expect=refuse("implausible_report"),
                noise=Noise.IMPLAUSIBLE_REPORT,
            )
        return Step("dispatch", "report_activity", {"dispatch_id": ref, **s.report}, f"{s.key}-rep")
    if phase == "report_fix" and s.report is not None and s.implausible is not None:
        return Step("dispatch", "report_activity", {"dispatch_id": ref, **s.report}, f"{s.key}-rep")
    return None


def count_shift(truth: Truth, s: Shift) -> None:
    where = areas(s.point.province, s.point.commune)
    truth.add(where, "dispatches")
    if s.check_in is None:
        truth.add(where, "no_shows")
        truth.noise[Noise.NO_SHOW] += 1
        return
    truth.add(where, "check_ins")
    if s.check_in > s.starts:
        truth.noise[Noise.LATE_CHECK_IN] += 1
    if s.implausible is not None:
        truth.noise[Noise.IMPLAUSIBLE_REPORT] += 1
    if s.report is not None:
        truth.add(where, "activity_reports")
        for name in REPORT_FIELDS:
            truth.add(where, name, s.report.get(name, 0))
    if s.point.commune in truth.border_communes:
        truth.border_communes_covered.add(s.point.commune)
