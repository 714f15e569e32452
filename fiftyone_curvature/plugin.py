"""Plugin entry: registers the operators (imports no torch, no engine)."""

from .duplicate_operators import OPERATORS as DUPLICATE_OPERATORS
from .evaluation_operators import OPERATORS as EVALUATION_OPERATORS
from .operators import OPERATORS
from .panels import PANELS


def register(p):
    """Called by FiftyOne's plugin loader."""
    for operator in (OPERATORS + EVALUATION_OPERATORS + DUPLICATE_OPERATORS
                     + PANELS):
        p.register(operator)
