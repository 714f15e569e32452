"""Saved views of a curvature run: memorized, mislabeled, long tail, ...

Each view is a live filter on the fields a run wrote, built on the
collection the run was computed on, and saved on the dataset under
``<key>_<suffix>``. Another module can add a view (the duplicate-conflict
view, for one) by adding a builder to :data:`VIEW_BUILDERS`.
"""

from fiftyone import ViewField as F

from ..engine import validation

#: default thresholds, documented in :func:`build_views`
DEFAULT_THRESHOLDS = {
    "top_k": 100,
    "high_percentile": 0.8,
    "mislabeled_cutoff": None,
}


def _memorization(key):
    """The field the views rank by: the run's ``rank_by`` score as a
    percentile, 1 = most memorized."""
    return f"{key}_memorization"


def _top_memorized(samples, key, label_field, thresholds):

    field = _memorization(key)
    return (
        samples.match(F(field).exists())
        .sort_by(field, reverse=True)
        .limit(int(thresholds["top_k"]))
    ), (
        f"the {thresholds['top_k']} most memorized samples (highest "
        f"{field}, most memorized first)"
    )


def _suggestion_differs(key, label_field):

    return F(f"{key}_suggested_label.label") != F(f"{label_field}.label")


def _likely_mislabeled(samples, key, label_field, thresholds):

    cutoff = thresholds.get("mislabeled_cutoff")
    if cutoff is None:
        cutoff = thresholds["high_percentile"]
    field = _memorization(key)
    view = samples.match((F(field) >= float(cutoff))
                         & _suggestion_differs(key, label_field))
    return view.sort_by(field, reverse=True), (
        "the network suggested another label before it memorized this "
        "one, and the sample is among the most memorized: as many samples "
        "as the run estimated wrong labels (memorization >= "
        f"{float(cutoff):.3f}); most memorized first"
    )


def _long_tail(samples, key, label_field, thresholds):

    field = _memorization(key)
    high = F(field) >= float(thresholds["high_percentile"])
    view = samples.match(high & ~_suggestion_differs(key, label_field))
    return view.sort_by(field, reverse=True), (
        f"memorization percentile >= {thresholds['high_percentile']} and "
        "the suggested label agrees with the label: rare or atypical, "
        "correctly labelled samples the network had to memorize"
    )


#: suffix -> builder(samples, key, label_field, thresholds) returning
#: ``(view, description)``, or None to skip the view
VIEW_BUILDERS = {
    "top_memorized": _top_memorized,
    "likely_mislabeled": _likely_mislabeled,
    "long_tail": _long_tail,
}


def mislabeled_cutoff(result, given, rank_by="curvature"):
    """The ``mislabeled_cutoff`` threshold of a run: the lowest
    ``<key>_memorization`` among the estimated number of most memorized
    samples whose suggested label differs from ``given`` (N,) (1.01, an
    empty view, when none is estimated wrong, or when the network cannot
    judge the labels: see :mod:`fiftyone_curvature.engine.judge`)."""
    from ..engine.labels import percentile_rank
    from .fields import ranking_score

    verdict = getattr(result, "verdict", None)
    if verdict is not None and not verdict.can_judge:
        return 1.01

    memorization = percentile_rank(ranking_score(result, rank_by))
    flagged = result.label_review.likely_mislabeled(memorization, given)
    return float(memorization[flagged].min()) if flagged.any() else 1.01


def view_name(key, suffix):
    """The saved view name of a run's view."""
    return f"{key}_{suffix}"


def view_slug(name):
    """FiftyOne's slug of a saved view name
    (``fiftyone.core.utils.to_slug``, what ``save_view`` compares): case,
    whitespace and ``+_.-`` runs and other punctuation do not count, so
    ``"K Top Memorized"``, ``"k-top-memorized"`` and ``"k_top_memorized"``
    are one view. None for a name that has no valid slug."""
    import fiftyone.core.utils as fou

    try:
        return fou.to_slug(name)
    except ValueError:
        return None


def same_view_name(a, b):
    """Whether saved view names ``a`` and ``b`` name the same saved view
    for FiftyOne (equal, or equal slugs: ``save_view(a, overwrite=True)``
    would replace ``b``)."""
    if a == b:
        return True
    slug = view_slug(a)
    return slug is not None and slug == view_slug(b)


def clashing_views(dataset, names, owned=()):
    """The saved views of ``dataset`` that saving ``names`` would replace
    (same name or same slug, see :func:`same_view_name`), except those in
    ``owned`` (exact names of views the caller itself created)."""
    owned = set(owned)
    return [v for v in dataset.list_saved_views() if v not in owned
            and any(same_view_name(n, v) for n in names)]


def view_names(key, suffixes=None):
    """Names of the saved views a run creates, in :data:`VIEW_BUILDERS`
    order (or of ``suffixes``)."""
    return [view_name(key, s) for s in (suffixes or VIEW_BUILDERS)]


def resolve_thresholds(thresholds=None):
    """Merges ``thresholds`` into :data:`DEFAULT_THRESHOLDS`.

    Raises:
        ValueError: not a dict, an unknown threshold or a value out of
            range
    """
    return validation.thresholds("thresholds", thresholds,
                                 DEFAULT_THRESHOLDS)


def build_views(samples, key, label_field, thresholds=None):
    """Builds the views of a run without saving them.

    Args:
        samples: the collection the run was computed on
        key: the run key (its curvature field)
        label_field: the run's label field
        thresholds (None): dict overriding :data:`DEFAULT_THRESHOLDS`:

            - ``top_k`` (100): size of the top-memorized view
            - ``high_percentile`` (0.8): a sample is "highly memorized"
              when its ``<key>_memorization`` is at least this (the top
              20%); the long-tail view
            - ``mislabeled_cutoff`` (None): the likely-mislabeled view
              holds the samples whose suggested label differs and whose
              ``<key>_memorization`` is at least this; a run sets it so
              that the view holds as many samples as it estimated wrong
              labels (None: ``high_percentile``)

    Returns:
        a dict name -> ``(view, description)``
    """
    thresholds = resolve_thresholds(thresholds)
    views = {}
    for suffix, builder in VIEW_BUILDERS.items():
        built = builder(samples, key, label_field, thresholds)
        if built is not None:
            views[view_name(key, suffix)] = built
    return views


def save_views(samples, key, label_field, thresholds=None):
    """Builds and saves a run's views on the dataset (replacing views of
    exactly the same names, which the run's key check found to be the
    run's own; a view whose name differs but has the same slug is never
    replaced).

    Returns:
        the list of saved view names

    Raises:
        ValueError: a saved view of another name has one of the views'
            slugs (nothing is saved)
    """
    dataset = samples._root_dataset
    built = build_views(samples, key, label_field, thresholds)
    check_no_slug_clash(dataset, list(built))
    names = []
    for name, (view, description) in built.items():
        dataset.save_view(name, view, description=description,
                          overwrite=True)
        names.append(name)
    return names


def check_no_slug_clash(dataset, names):
    """Raises ValueError when a saved view whose name differs from each of
    ``names`` has the slug of one of them (``save_view(...,
    overwrite=True)`` would silently replace it)."""
    clash = [v for v in clashing_views(dataset, names) if v not in names]
    if clash:
        raise ValueError(
            f"Saved views {clash} have the same FiftyOne slug as "
            f"{names} (case and punctuation do not count) and are never "
            "replaced; rename them or choose another key")


def delete_views(dataset, names):
    """Deletes those of ``names`` that are saved views of ``dataset``."""
    existing = set(dataset.list_saved_views())
    for name in names:
        if name in existing:
            dataset.delete_saved_view(name)
