"""Argument checks shared by the SDK's public functions (the rules
themselves are :mod:`fiftyone_curvature.engine.validation`'s)."""

from ..engine import validation
from ..engine.constants import MIN_SIDE
from ..engine.dynamics import SCORES

#: what ``rank_by`` may name: curvature or a training-dynamics score
RANK_BY = ("curvature",) + tuple(SCORES)


def check_samples(samples, what="Curvature"):
    """Raises ValueError for patches, frames and clips views (a run trains
    on whole samples)."""
    if samples._is_generated:
        raise ValueError(
            f"{what} runs on samples; patches, frames and clips views are "
            "not supported"
        )


def check_seeds(seeds):
    """``seeds`` (an int or a sequence) as a list of distinct ints.

    Raises:
        ValueError: an empty list, repeated seeds, non-integers (``0.5``
            refused, not truncated) or seeds outside [0, 2**63 - 1]
    """
    return validation.seeds("seeds", seeds)


def check_scoring(tracking, what="An evaluation"):
    """Raises ValueError when a run's config scores no curvature
    (``score_every=0`` is the engine's dynamics-only baseline)."""
    if tracking.score_every == 0:
        raise ValueError(f"{what} needs curvature: score_every must be an "
                         "integer >= 1, 'model' or 'auto', got 0")


def check_image_size(image_size):
    """``image_size`` as a Python int (or None); ValueError unless it is
    None or an integer >= MIN_SIDE (NumPy integers accepted)."""
    return validation.optional(validation.integer, "image_size", image_size,
                               MIN_SIDE, extra="or None")


def check_rank_by(rank_by):
    """Raises ValueError unless ``rank_by`` names curvature or a
    training-dynamics score."""
    return validation.choice("rank_by", rank_by, RANK_BY)


#: rule of each argument that several public functions take
RULES = {
    "nproc": lambda name, v: validation.integer(name, v, 1),
    "progress": validation.progress,
    "classes": validation.classes,
    "rank_by": lambda name, v: validation.choice(name, v, RANK_BY),
    "image_size": lambda name, v: check_image_size(v),
    "create_view": validation.boolean,
    "create_views": validation.boolean,
    "exact": validation.boolean,
    "skip_unreadable": validation.boolean,
}


def check_arguments(**values):
    """Checks each keyword by its rule in :data:`RULES` (what the public
    functions call first).

    Returns:
        a dict name -> the value as the code uses it

    Raises:
        ValueError: naming the argument, the value and what is allowed
    """
    return {name: RULES[name](name, value) for name, value in values.items()}


def check_duplicate_options(method, threshold, ratio, default_threshold):
    """The near-duplicate threshold and ratio of a duplicate search, checked
    by one rule for every caller.

    Args:
        method: the comparison method (``"exact"`` takes no threshold)
        threshold: None (the method's default) or a cosine distance in
            [0, 2]
        ratio: the ratio-test threshold, in [0, 1)
        default_threshold: the method's default threshold

    Returns:
        ``(threshold, ratio)`` as floats (threshold None for ``"exact"``)
    """
    if method == "exact":
        threshold = None
    else:
        if threshold is None:
            threshold = default_threshold
        threshold = validation.optional(
            validation.real, "threshold", threshold, 0.0, 2.0,
            why=" (a cosine distance)")
    ratio = validation.real("ratio", ratio, 0.0, 1.0, high_open=True)
    return (None if threshold is None else float(threshold)), float(ratio)


def parse_seeds(text):
    """``"0, 1,2"`` (or a list) -> ``[0, 1, 2]``; ValueError on anything
    else."""
    if isinstance(text, (list, tuple)):
        return validation.seeds("seeds", text)
    try:
        seeds = [int(s) for s in str(text).replace(" ", "").split(",") if s]
    except ValueError:
        raise ValueError(
            f"Seeds must be comma-separated integers, got {text!r}"
        ) from None
    if not seeds:
        raise ValueError("Give at least one seed")
    return validation.seeds("seeds", seeds)


def parse_mapping(text):
    """``"cat:dog, 3:8"`` -> ``{"cat": "dog", "3": "8"}``; empty -> None."""
    if text is None or isinstance(text, dict):
        return text or None
    pairs = [p.strip() for p in str(text).split(",") if p.strip()]
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        if pair.count(":") != 1:
            raise ValueError(
                f"Mapping entries look like source:target, got {pair!r}"
            )
        src, dst = (s.strip() for s in pair.split(":"))
        mapping[src] = dst
    return mapping
