"""Pure projections: event → row changes (see :mod:`.fold`)."""

from services.reporting.projections.fold import fold, wanted
from services.reporting.projections.rows import Changes, Loaded, Wanted

__all__ = ["Changes", "Loaded", "Wanted", "fold", "wanted"]
