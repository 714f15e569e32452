"""Plugin entry: registers the operators and the panel (imports no torch)."""

from .duplicates_operator import OPERATORS as DUPLICATE_OPERATORS
from .evaluation_operator import OPERATORS as EVALUATION_OPERATORS
from .operators import OPERATORS
from .panel import PANELS


def register(p):
    """Called by FiftyOne's plugin loader."""
    for operator in (OPERATORS + EVALUATION_OPERATORS + DUPLICATE_OPERATORS
                     + PANELS):
        p.register(operator)
