"""One rule per kind of value, called first by every public entry (pure
Python and numpy: no torch, no FiftyOne).

Every rule takes the argument's ``name`` and ``value`` and returns the
value as the code uses it (a NumPy scalar as the Python number it holds)
or raises ValueError naming the field, the value and what is allowed.
NumPy scalars are accepted wherever a number is; booleans are refused
where a number is expected (``epochs=True``), floats where an integer is
(``epochs=2.7`` is refused, not truncated).
"""

import math
import numbers

from .constants import RESERVED_FIELDS

#: the largest integer a value may take: MongoDB stores 8-byte integers
MAX_INT = 2**63 - 1
#: the longest run key (FiftyOne field names of a run are ``<key>_...``;
#: MongoDB index names are limited in length)
MAX_KEY_LENGTH = 64


def _show(value):
    """``repr(value)``, cut to 80 characters."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} chars)"


def plain(value):
    """A NumPy scalar as the Python number it holds (other values as
    given)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _is_number(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def integer(name, value, minimum=None, maximum=MAX_INT, extra=""):
    """``value`` as an int in [minimum, maximum].

    Args:
        name: how the message names the argument
        value: the argument
        minimum (None): the smallest allowed value (None: no bound)
        maximum (2**63 - 1): the largest allowed value
        extra (""): what else is allowed, appended to the message (e.g.
            ``"or None"``)
    """
    value = plain(value)
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, bool)
          and (minimum is None or value >= minimum) and value <= maximum)
    if not ok:
        low = "" if minimum is None else f" >= {minimum}"
        high = "" if maximum == MAX_INT else f" and <= {maximum}"
        huge = (" (at most 2**63 - 1)" if isinstance(value, numbers.Integral)
                and not isinstance(value, bool) and value > MAX_INT else "")
        raise ValueError(
            f"{name} must be an integer{low}{high}"
            f"{' ' + extra if extra else ''}{huge}, got {_show(value)}")
    return int(value)


def real(name, value, low=None, high=None, low_open=False, high_open=False,
         why=""):
    """``value`` as a finite float in the given range (ints accepted).

    Args:
        name / value: the argument
        low / high (None): the bounds (None: none)
        low_open / high_open (False): exclude the bound itself
        why (""): a reason appended to the message
    """
    value = plain(value)
    ok = _is_number(value) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        bounds = " and ".join(b for b in (lo, hi) if b)
        raise ValueError(f"{name} must be a finite number {bounds}".rstrip()
                         + f", got {_show(value)}{why}")
    return value


def probability(name, value, low_open=False, high_open=False):
    """``value`` as a number in [0, 1] (ends excluded when open)."""
    return real(name, value, 0.0, 1.0, low_open, high_open)


def choice(name, value, valid, what=None):
    """``value`` when it is one of ``valid`` (compared with its type, so
    that ``1`` is not ``True``)."""
    value = plain(value)
    if not any(value == v and type(value) is type(v) for v in valid):
        raise ValueError(f"Unknown {what or name} {_show(value)}; valid ones "
                         f"are {tuple(valid)}")
    return value


def boolean(name, value):
    """``value`` as a bool (NumPy booleans accepted)."""
    value = plain(value)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, got {_show(value)}")
    return value


def optional(rule, name, value, *args, **kwargs):
    """None, or ``rule(name, value, *args, **kwargs)``."""
    return None if value is None else rule(name, value, *args, **kwargs)


def key(name, value):
    """A run key: an identifier not starting with ``_``, at most
    :data:`MAX_KEY_LENGTH` characters, not a name FiftyOne reserves."""
    if not isinstance(value, str) or not value.isidentifier():
        raise ValueError(
            f"{name} must be a valid identifier (letters, digits, _), got "
            f"{_show(value)}")
    if value.startswith("_"):
        raise ValueError(
            f"{name} must not start with '_' (FiftyOne reserves such field "
            f"names), got {value!r}")
    if len(value) > MAX_KEY_LENGTH:
        raise ValueError(
            f"{name} must be at most {MAX_KEY_LENGTH} characters, got "
            f"{_show(value)}")
    if value in RESERVED_FIELDS:
        raise ValueError(
            f"{name} {value!r} is a name FiftyOne reserves; choose another "
            f"(reserved: {', '.join(RESERVED_FIELDS)})")
    return value


def seeds(name, value):
    """``value`` (an int or a sequence of ints) as a non-empty list of
    distinct ints in [0, 2**63 - 1]."""
    value = plain(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, (str, bytes, dict)) or not hasattr(
        value, "__iter__"
    ):
        raise ValueError(f"{name} must be a list of integers, got "
                         f"{_show(value)}")
    out = [integer(f"{name}[{i}]", s, 0) for i, s in enumerate(value)]
    if not out or len(set(out)) != len(out):
        raise ValueError(f"{name} must be distinct and non-empty, got "
                         f"{_show(out)}")
    return out


def classes(name, value):
    """None, or a non-empty list of distinct class names (strings)."""
    if value is None:
        return None
    if isinstance(value, (str, bytes, dict)) or not hasattr(
        value, "__iter__"
    ):
        raise ValueError(f"{name} must be a list of class names, got "
                         f"{_show(value)}")
    value = list(value)
    bad = [c for c in value if not isinstance(c, str)]
    if bad or not value or len(set(value)) != len(value):
        raise ValueError(f"{name} must be a non-empty list of distinct "
                         f"strings, got {_show(value)}")
    return value


def progress(name, value):
    """None, True, False or a callable (what FiftyOne's ``progress``
    takes)."""
    value = plain(value)
    if value is None or isinstance(value, bool) or callable(value):
        return value
    raise ValueError(f"{name} must be None, True, False or a callable, got "
                     f"{_show(value)}")


def count_or_fraction(name, value):
    """An int >= 1 or a fraction in (0, 1)."""
    value = plain(value)
    if isinstance(value, float) and 0.0 < value < 1.0:
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) \
            and 1 <= value <= MAX_INT:
        return int(value)
    raise ValueError(f"{name} must be an int >= 1 or a fraction in (0, 1), "
                     f"got {_show(value)}")


def thresholds(name, value, defaults):
    """``value`` (a dict or None) merged into ``defaults``: ``top_k`` an
    int >= 1, ``high_percentile`` in [0, 1], ``mislabeled_cutoff`` None or
    in [0, 1.01] (1.01: an empty view)."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a dict of "
                         f"{sorted(defaults)}, got {_show(value)}")
    unknown = sorted(set(value) - set(defaults), key=str)
    if unknown:
        raise ValueError(f"Unknown threshold(s) {unknown}; valid ones are "
                         f"{sorted(defaults)}")
    merged = dict(defaults, **value)
    merged["top_k"] = integer(f"{name}['top_k']", merged["top_k"], 1)
    merged["high_percentile"] = probability(
        f"{name}['high_percentile']", merged["high_percentile"])
    merged["mislabeled_cutoff"] = optional(
        real, f"{name}['mislabeled_cutoff']", merged["mislabeled_cutoff"],
        0.0, 1.01)
    return merged


def conflict(name, first, second, where=("", "")):
    """Raises ValueError when one option was given twice with different
    values (e.g. ``--epochs 1 --set epochs=2``)."""
    if first is not None and second is not None and first != second:
        raise ValueError(
            f"{name} given twice: {first!r}{where[0]} and {second!r}"
            f"{where[1]}; give it once")
