"""A what-if table: what happened (``as-recorded``) beside each replayed rule, figure by figure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from rich.table import Table

from services.dispatch.domain.history import History
from services.dispatch.domain.whatif import FIGURES, Outcome, replay

FOCI = ("admin_support", "online_public_services", "digital_skills")
ACTUAL = "as-recorded"


@dataclass(frozen=True)
class Comparison:
    start: date
    end: date
    position: int  # the last stream sequence the replay read
    outcomes: tuple[Outcome, ...]  # what happened first, then each rule asked for

    def rows(self) -> list[tuple[str, list[str]]]:
        """(figure, one value per outcome), formatted; volunteer-hours also per focus."""
        figures = [o.figures() for o in self.outcomes]
        hours = [o.hours_by_focus() for o in self.outcomes]
        out = [(name, [_fmt(f[name]) for f in figures]) for name in FIGURES]
        out += [(f"  volunteer-hours: {focus}", [_fmt(h.get(focus, 0.0)) for h in hours]) for focus in FOCI]
        return out

    def rich(self) -> Table:
        t = Table(
            title=f"what-if dispatch, {self.start} to {self.end} (log up to sequence {self.position:,})"
        )
        t.add_column("figure")
        for o in self.outcomes:
            t.add_column("what happened" if o.rule == ACTUAL else o.rule, justify="right")
        for name, values in self.rows():
            t.add_row(name, *values)
        return t

    def markdown(self) -> str:
        heads = ["what happened" if o.rule == ACTUAL else f"`{o.rule}`" for o in self.outcomes]
        lines = ["| figure | " + " | ".join(heads) + " |", "|---|" + "---:|" * len(heads)]
        lines += [f"| {name.strip()} | " + " | ".join(values) + " |" for name, values in self.rows()]
        return "\n".join(lines)


def compare(history: History, start: date, end: date, rules: Sequence[str]) -> Comparison:
    """Replay the period under ``as-recorded`` and each of ``rules`` (offline, in memory)."""
    names = [ACTUAL, *(r for r in rules if r != ACTUAL)]
    return Comparison(start, end, history.position, tuple(replay(history, n, start, end) for n in names))


def _fmt(value: float) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else f"{value:,}"
