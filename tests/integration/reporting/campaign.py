"""A generated campaign log: registrations, teams, memberships, dispatches, reports, as registry
and dispatch would record them (envelopes on their aggregates' subjects), deterministic per seed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from shared.envelope import Envelope, derive_id, event_subject
from shared.events import Event
from shared.events import dispatch as d
from shared.events import registry as r
from shared.refdata import communes_of

START = date(2025, 7, 1)
FOCI = ("admin_support", "online_public_services", "digital_skills")
AFFILIATIONS = ("youth_union", "student_association", "public_security_youth", "other")


@dataclass
class Log:
    hub: str
    rnd: random.Random
    out: list[tuple[str, Envelope]] = field(default_factory=list)
    clock: datetime = datetime(2025, 7, 1, 0, 0, tzinfo=UTC)

    def add(self, context: str, aggregate: str, agg_id: str, event: Event) -> None:
        self.clock += timedelta(seconds=7)
        n = len(self.out)
        env = Envelope(
            event_id=derive_id(self.hub, "evt", str(n)),
            event_type=event.event_type,
            schema_version=event.schema_version,
            aggregate_id=agg_id,
            hub=self.hub,
            occurred_at=self.clock,
            recorded_at=self.clock,
            command_id=f"cmd-{n}",
            correlation_id=f"cor-{n}",
            data=event.model_dump(mode="json"),
        )
        self.out.append((event_subject(self.hub, context, aggregate, agg_id), env))


def generate(
    hub: str,
    *,
    volunteers: int = 400,
    teams: int = 40,
    days: int = 5,
    seed: int = 7,
    late_reports: int = 0,
) -> list[tuple[str, Envelope]]:
    """About 9 events per volunteer; a few thousand for the defaults. ``late_reports``: that many
    field reports of the first day appended at the end, after the day was closed (restatements)."""
    rnd = random.Random(seed)
    log = Log(hub, rnd)
    provs = ["01", "79", "68"]  # Hà Nội, Hồ Chí Minh, Lâm Đồng
    where = {p: [c.code for c in communes_of(p)[:6]] for p in provs}
    border = [where[p][i] for p in provs for i in (0, 1, 5)]
    log.add(
        "registry",
        "border",
        "campaign",
        r.BorderCommunesDesignated(commune_codes=border, effective_from=START),
    )
    vols: dict[str, str] = {}
    for i in range(volunteers):
        vid, prov = f"v{i:05d}", rnd.choice(provs)
        vols[vid] = prov
        log.add(
            "registry",
            "volunteer",
            vid,
            r.VolunteerRegistered(
                volunteer_id=vid,
                full_name=f"Nguyễn Văn {i}",
                phone=f"+8490{i:07d}",
                birth_date=date(2000, 1, 1),
                province_code=prov,
                commune_code=rnd.choice(where[prov]),
                affiliation=rnd.choice(AFFILIATIONS),
                skills=[],
            ),
        )
        if rnd.random() < 0.1:
            log.add("registry", "phone", f"p{i}", r.PhoneClaimed(volunteer_id=vid))
        if i > 10 and rnd.random() < 0.03:
            others = sorted({f"v{rnd.randrange(i):05d}" for _ in range(rnd.randint(1, 2))})
            log.add(
                "registry",
                "volunteer",
                vid,
                r.PossibleDuplicateFlagged(volunteer_id=vid, duplicate_of=others),
            )
    members: dict[str, set[str]] = {}
    team_where: dict[str, str] = {}
    for j in range(teams):
        tid, prov = f"t{j:04d}", rnd.choice(provs)
        commune = rnd.choice(where[prov]) if rnd.random() < 0.8 else None
        team_where[tid] = prov
        log.add(
            "registry",
            "team",
            tid,
            r.TeamFormed(
                team_id=tid,
                name=f"Đội {j}",
                province_code=prov,
                commune_code=commune,
                focus=rnd.choice(FOCI),
                organisation="Đoàn Thanh niên",
            ),
        )
        members[tid] = set()
        for vid in rnd.sample([v for v, p in vols.items() if p == prov], 6):
            _join(log, tid, vid, both=rnd.random() < 0.7)
            members[tid].add(vid)
        log.add("registry", "team", tid, r.TeamLeaderAppointed(team_id=tid, volunteer_id=min(members[tid])))
    for vid in rnd.sample(sorted(vols), volunteers // 20):
        prov = rnd.choice(provs)
        log.add(
            "registry",
            "volunteer",
            vid,
            r.VolunteerUpdated(
                volunteer_id=vid,
                full_name="Trần Thị B",
                province_code=prov,
                commune_code=rnd.choice(where[prov]),
                affiliation=rnd.choice(AFFILIATIONS),
            ),
        )
    points = {p: [(f"sp-{c}", c) for c in where[p]] for p in provs}
    for p, pts in points.items():
        for sp, c in pts:
            log.add(
                "registry",
                "service_point",
                sp,
                r.ServicePointRegistered(
                    service_point_id=sp,
                    name=f"Điểm {c}",
                    kind="commune_one_stop",
                    province_code=p,
                    commune_code=c,
                ),
            )
    active = sorted(members)
    for day_n in range(days):
        _day(log, START + timedelta(days=day_n), active, team_where, points, members)
        for vid in rnd.sample(sorted(vols), 3):
            log.add("registry", "volunteer", vid, r.VolunteerWithdrawn(volunteer_id=vid, reason="moved away"))
        gone = active.pop(rnd.randrange(len(active)))
        log.add("registry", "team", gone, r.TeamDisbanded(team_id=gone, reason="done"))
    first = [env for _, env in log.out if env.event_type == d.ActivityReported.event_type]
    for n, env in enumerate(first[:late_reports]):
        late = {**env.data, "dispatch_id": f"late-{n}", "people_supported": 5}
        log.add("dispatch", "dispatch", f"late-{n}", d.ActivityReported.model_validate(late))
    return log.out


def _join(log: Log, tid: str, vid: str, *, both: bool) -> None:
    log.add("registry", "volunteer", vid, r.VolunteerJoinedTeam(volunteer_id=vid, team_id=tid))
    if both:  # the team's own record of the same membership: counted once
        log.add("registry", "team", tid, r.TeamMemberAdded(team_id=tid, volunteer_id=vid))


def _day(
    log: Log,
    day: date,
    teams: list[str],
    team_where: dict[str, str],
    points: dict[str, list[tuple[str, str]]],
    members: dict[str, set[str]],
) -> None:
    rnd = log.rnd
    for p, pts in points.items():
        for sp, c in pts:
            if rnd.random() < 0.6:
                rid = f"rq-{sp}-{day}"
                log.add(
                    "dispatch",
                    "coverage",
                    rid,
                    d.CoverageRequested(
                        service_point_id=sp,
                        province_code=p,
                        commune_code=c,
                        date=day,
                        request_id=rid,
                        starts_at=time(8),
                        ends_at=time(17),
                        teams_needed=rnd.randint(1, 2),
                    ),
                )
    for n, tid in enumerate(teams):
        prov = team_where[tid]
        for shift in range(rnd.choice((1, 1, 2))):
            sp, c = rnd.choice(points[prov])
            did = f"d-{tid}-{day}-{shift}"
            where = {
                "service_point_id": sp,
                "province_code": prov,
                "commune_code": c,
                "date": day,
                "dispatch_id": did,
                "team_id": tid,
            }
            at = datetime.combine(day, time(8 + shift * 4), tzinfo=UTC)
            log.add(
                "dispatch",
                "dispatch",
                did,
                d.TeamDispatched(
                    **where, starts_at=at, ends_at=at + timedelta(hours=4), focus="admin_support"
                ),
            )
            roll = rnd.random()
            if roll < 0.08:
                log.add("dispatch", "dispatch", did, d.DispatchCancelled(**where, reason="rain"))
            elif roll < 0.16:
                log.add("dispatch", "dispatch", did, d.DispatchMarkedNoShow(**where))
            else:
                log.add("dispatch", "dispatch", did, d.TeamCheckedIn(**where, at=at))
                log.add(
                    "dispatch",
                    "dispatch",
                    did,
                    d.ActivityReported(
                        **where,
                        people_supported=rnd.randint(0, 90),
                        businesses_supported=rnd.randint(0, 5),
                        officials_supported=rnd.randint(0, 3),
                        online_applications_guided=rnd.randint(0, 30),
                        digital_sessions_held=rnd.randint(0, 2),
                        session_attendees=rnd.randint(0, 40),
                        elderly_attendees=rnd.randint(0, 10),
                    ),
                )
                log.add("dispatch", "dispatch", did, d.TeamCheckedOut(**where, at=at))
            if rnd.random() < 0.05:
                log.add(
                    "dispatch",
                    "dispatch",
                    did,
                    d.OverCapacityRecorded(
                        **{k: v for k, v in where.items() if k != "team_id"}, requested=1, dispatched=2
                    ),
                )
        if n % 7 == 0 and members[tid]:
            vid = min(members[tid])
            members[tid].discard(vid)
            log.add("registry", "volunteer", vid, r.VolunteerLeftTeam(volunteer_id=vid, team_id=tid))
            log.add("registry", "team", tid, r.TeamMemberRemoved(team_id=tid, volunteer_id=vid))
    log.add("dispatch", "day", str(day), d.DayClosed(hub=log.hub, date=day, no_shows=0))
