"""Saved views of a curvature run: memorized, mislabeled, long tail, ...

Each view is a live filter on the fields a run wrote, built on the
collection the run was computed on, and saved on the dataset under
``<key>_<suffix>``. Another module can add a view (the duplicate-conflict
view, for one) by adding a builder to :data:`VIEW_BUILDERS`.
"""

#: default thresholds, documented in :func:`build_views`
DEFAULT_THRESHOLDS = {
    "top_k": 100,
    "high_percentile": 0.8,
}


def _top_memorized(samples, key, label_field, thresholds):
    from fiftyone import ViewField as F

    return (
        samples.match(F(key).exists())
        .sort_by(key, reverse=True)
        .limit(int(thresholds["top_k"]))
    ), (
        f"the {thresholds['top_k']} samples of highest curvature "
        "(most memorized first)"
    )


def _high(samples, key, thresholds):
    from fiftyone import ViewField as F

    return F(f"{key}_percentile") >= float(thresholds["high_percentile"])


def _likely_mislabeled(samples, key, label_field, thresholds):
    from fiftyone import ViewField as F

    disagrees = F(f"{key}_prediction.label") != F(f"{label_field}.label")
    view = samples.match(_high(samples, key, thresholds) & disagrees)
    return view.sort_by(key, reverse=True), (
        f"curvature percentile >= {thresholds['high_percentile']} and the "
        "trained network predicts another class than the label"
    )


def _long_tail(samples, key, label_field, thresholds):
    from fiftyone import ViewField as F

    agrees = F(f"{key}_prediction.label") == F(f"{label_field}.label")
    view = samples.match(_high(samples, key, thresholds) & agrees)
    return view.sort_by(key, reverse=True), (
        f"curvature percentile >= {thresholds['high_percentile']} and the "
        "network predicts the label: rare or atypical samples it had to "
        "memorize (a mislabeled sample memorized to its wrong label lands "
        "here too)"
    )


#: suffix -> builder(samples, key, label_field, thresholds) returning
#: ``(view, description)``, or None to skip the view
VIEW_BUILDERS = {
    "top_memorized": _top_memorized,
    "likely_mislabeled": _likely_mislabeled,
    "long_tail": _long_tail,
}


def view_name(key, suffix):
    """The saved view name of a run's view."""
    return f"{key}_{suffix}"


def view_names(key, suffixes=None):
    """Names of the saved views a run creates, in :data:`VIEW_BUILDERS`
    order (or of ``suffixes``)."""
    return [view_name(key, s) for s in (suffixes or VIEW_BUILDERS)]


def resolve_thresholds(thresholds=None):
    """Merges ``thresholds`` into :data:`DEFAULT_THRESHOLDS`.

    Raises:
        ValueError: an unknown threshold or a value out of range
    """
    merged = dict(DEFAULT_THRESHOLDS)
    for name, value in (thresholds or {}).items():
        if name not in merged:
            raise ValueError(
                f"Unknown threshold {name!r}; valid ones are "
                f"{sorted(DEFAULT_THRESHOLDS)}"
            )
        merged[name] = value
    if not (isinstance(merged["top_k"], int) and merged["top_k"] >= 1):
        raise ValueError(f"top_k must be an int >= 1, got {merged['top_k']}")
    if not 0.0 <= float(merged["high_percentile"]) <= 1.0:
        raise ValueError(
            f"high_percentile must be in [0, 1], got "
            f"{merged['high_percentile']}"
        )
    return merged


def build_views(samples, key, label_field, thresholds=None):
    """Builds the views of a run without saving them.

    Args:
        samples: the collection the run was computed on
        key: the run key (its curvature field)
        label_field: the run's label field
        thresholds (None): dict overriding :data:`DEFAULT_THRESHOLDS`:

            - ``top_k`` (100): size of the top-memorized view
            - ``high_percentile`` (0.8): a sample has "high curvature" when
              its ``<key>_percentile`` is at least this (the top 20%); used
              by the likely-mislabeled and long-tail views

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
    """Builds and saves a run's views on the dataset (overwriting views of
    the same names).

    Returns:
        the list of saved view names
    """
    dataset = samples._root_dataset
    names = []
    for name, (view, description) in build_views(
        samples, key, label_field, thresholds
    ).items():
        dataset.save_view(name, view, description=description,
                          overwrite=True)
        names.append(name)
    return names


def delete_views(dataset, names):
    """Deletes those of ``names`` that are saved views of ``dataset``."""
    existing = set(dataset.list_saved_views())
    for name in names:
        if name in existing:
            dataset.delete_saved_view(name)
