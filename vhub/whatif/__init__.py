"""``vhub replay-dispatch``: a period's coverage requests replayed offline through other dispatch
rules, side by side with what happened. Reads the log by subject filter; writes nothing to it."""

from vhub.whatif.log import read_history
from vhub.whatif.table import Comparison, compare

__all__ = ["Comparison", "compare", "read_history"]
