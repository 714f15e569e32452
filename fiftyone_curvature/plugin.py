"""Plugin entry: registers the operators (imports no torch, no engine)."""

from .operators import OPERATORS


def register(p):
    """Called by FiftyOne's plugin loader."""
    for operator in OPERATORS:
        p.register(operator)
