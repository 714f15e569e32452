"""Argument checks shared by the SDK's public functions."""


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
        ValueError: an empty list, repeated seeds or non-integers
    """
    import numbers

    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        seeds = [seeds]
    try:
        seeds = [int(s) for s in seeds]
    except (TypeError, ValueError):
        raise ValueError(
            f"seeds must be a list of integers, got {seeds!r}") from None
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got "
                         f"{seeds}")
    return seeds


def check_scoring(tracking):
    """Raises ValueError when an evaluation's config scores no curvature."""
    if tracking.score_every == 0:
        raise ValueError("An evaluation needs curvature: score_every >= 1")


def parse_seeds(text):
    """``"0, 1,2"`` (or a list) -> ``[0, 1, 2]``; ValueError on anything
    else."""
    if isinstance(text, (list, tuple)):
        return [int(s) for s in text]
    try:
        seeds = [int(s) for s in str(text).replace(" ", "").split(",") if s]
    except ValueError:
        raise ValueError(
            f"Seeds must be comma-separated integers, got {text!r}"
        ) from None
    if not seeds:
        raise ValueError("Give at least one seed")
    return seeds


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
