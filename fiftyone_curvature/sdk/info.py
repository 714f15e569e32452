"""A JSON-able summary of a curvature run (what the info operator shows)."""


def curvature_runs(dataset):
    """The keys of the dataset's curvature runs (evaluations included)."""
    from .runs import Curvature

    return dataset.list_brain_runs(type=Curvature)


def is_evaluation(dataset, key):
    """Whether run ``key`` is a corruption evaluation (not a plain run)."""
    return dataset.get_brain_info(key).config.type == "curvature_evaluation"


def run_owned_fields(dataset):
    """The set of sample fields the dataset's curvature runs wrote."""
    return {field for key in curvature_runs(dataset)
            for field in dataset.get_brain_info(key).config.output_fields()}


def run_info(dataset, key):
    """A JSON-able summary of a curvature run or evaluation.

    Returns:
        a dict with key, timestamp, label_field, classes, num_samples,
        final_train_accuracy, fields, views, tracking, label_review (the
        estimated number of wrong labels and how it was made), and
        duplicates (what
        the run's duplicate search chose and found: method, threshold,
        ratio, groups; None without one)

    Raises:
        ValueError: ``key`` is not a curvature run of ``dataset``
    """
    from .runs import Curvature

    runs = curvature_runs(dataset)
    if key not in runs:
        raise ValueError(f"No curvature run {key!r}; the dataset has {runs}")
    info = dataset.get_brain_info(key)
    config = info.config
    meta = dict(Curvature._get_run_doc(dataset, key).results_meta or {})
    return {
        "key": key,
        "timestamp": str(info.timestamp),
        "label_field": config.label_field,
        "classes": config.classes,
        "num_samples": meta.get("num_samples"),
        "final_train_accuracy": _rounded(meta.get("final_train_accuracy")),
        "fields": config.output_fields(),
        "views": list(config.views),
        "tracking": dict(config.tracking),
        "label_review": dict(dataset.load_brain_results(key).label_review),
        "duplicates": duplicates_info(dataset, key),
    }


def _rounded(value, digits=4):
    return None if value is None else round(float(value), digits)


def duplicates_info(dataset, key):
    """What the duplicate search of run ``key`` chose and found (see
    :meth:`DuplicateConflictsResults.summary`), or None."""
    from .duplicate_runs import run_key

    if run_key(key) not in dataset.list_brain_runs():
        return None
    return dataset.load_brain_results(run_key(key)).summary()
