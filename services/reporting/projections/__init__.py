"""Pure projections: event → row changes (see :mod:`.fold`)."""

from services.reporting.projections.fold import fold, fold_into, wanted
from services.reporting.projections.rows import Changes, Loaded, Wanted

__all__ = ["Changes", "Loaded", "Wanted", "fold", "fold_into", "wanted"]
