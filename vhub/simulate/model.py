"""What a simulation plan is made of: commands (with references to ids not known yet), phases,
expected outcomes, and the ground truth the reporting API must show at the end. Pure data."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

FIGURES: tuple[str, ...] = (
    "active_teams",
    "active_volunteers",
    "dispatches",
    "check_ins",
    "no_shows",
    "people_supported",
    "businesses_supported",
    "officials_supported",
    "online_applications_guided",
    "digital_sessions_held",
    "session_attendees",
    "elderly_attendees",
    "activity_reports",
)
REPORT_FIELDS: tuple[str, ...] = FIGURES[5:12]
Area = tuple[str, str]  # ("campaign", "") | ("province", "01") | ("commune", "00070")
CAMPAIGN: Area = ("campaign", "")


class Noise(StrEnum):
    """The realistic mistakes a campaign makes, each planned on purpose and counted."""

    DUPLICATE_REGISTRATION = "duplicate registrations"
    RETRIED_COMMAND = "retried command ids"
    LATE_CHECK_IN = "late check-ins"
    NO_SHOW = "no-shows"
    DOUBLE_BOOKING = "double-booking attempts"
    IMPLAUSIBLE_REPORT = "reports above plausibility bounds"


@dataclass(frozen=True, slots=True)
class Ref:
    """An id known only once the command that saved ``key`` has been answered."""

    key: str


@dataclass(frozen=True, slots=True)
class Expect:
    """How the services should answer: accepted (maybe as a duplicate), or refused with a code."""

    accepted: bool = True
    duplicate: bool = False
    code: str | None = None


ACCEPT = Expect()
RESENT = Expect(duplicate=True)


def refuse(code: str) -> Expect:
    return Expect(accepted=False, code=code)


@dataclass(frozen=True, slots=True)
class Step:
    """One command to send. ``saves`` names the reply's ids for later steps (``Ref``)."""

    context: str  # registry | dispatch
    name: str
    body: Mapping[str, Any]
    command_id: str
    saves: str | None = None
    expect: Expect = ACCEPT
    noise: Noise | None = None

    @property
    def subject(self) -> str:
        return f"vhub.cmd.{self.context}.{self.name}"

    def refs(self) -> Iterator[Ref]:
        for value in self.body.values():
            if isinstance(value, Ref):
                yield value
            elif isinstance(value, list):
                yield from (v for v in value if isinstance(v, Ref))


@dataclass(frozen=True)
class Phase:
    """Commands that may run concurrently; a phase starts when the one before it has finished.

    Steps are made on demand (``make``): a scale-1.0 campaign has half a million of them.
    """

    name: str
    size: int
    make: Callable[[], Iterator[Step]]

    def steps(self) -> Iterator[Step]:
        return self.make()


@dataclass
class Truth:
    """The figures the reporting API must show once every phase has been applied."""

    figures: dict[Area, Counter[str]] = field(default_factory=dict)
    teams_by_focus: Counter[str] = field(default_factory=Counter)
    volunteers_by_affiliation: Counter[str] = field(default_factory=Counter)
    border_communes: set[str] = field(default_factory=set)
    border_communes_covered: set[str] = field(default_factory=set)
    noise: Counter[Noise] = field(default_factory=Counter)
    headlines: dict[str, int] = field(default_factory=dict)  # facts the scenario promises

    def add(self, areas: list[Area], figure: str, n: int = 1) -> None:
        for area in areas:
            self.figures.setdefault(area, Counter())[figure] += n

    def of(self, area: Area) -> Counter[str]:
        return self.figures.get(area, Counter())


@dataclass(frozen=True)
class Plan:
    scenario: str
    scale: float
    seed: int
    phases: tuple[Phase, ...]
    truth: Truth

    @property
    def size(self) -> int:
        return sum(p.size for p in self.phases)

    def steps(self) -> Iterator[Step]:
        for phase in self.phases:
            yield from phase.steps()
