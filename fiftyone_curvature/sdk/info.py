"""A JSON-able summary of a curvature run (what the info operator shows)."""

from .features import verdict_sentence


def curvature_runs(dataset, complete=False):
    """The keys of the dataset's curvature runs (evaluations included);
    ``complete=True``: only those whose results were saved (not running
    or interrupted)."""
    from .runs import Curvature

    keys = dataset.list_brain_runs(type=Curvature)
    if complete:
        keys = [k for k in keys if run_status(dataset, k) == "complete"]
    return keys


def run_status(dataset, key):
    """``"complete"``, ``"running"`` (a live process holds the run's lock)
    or ``"interrupted"`` (registered, never finished, no live holder: kill
    -9 or out of memory; rerun the key to resume from its checkpoint, or
    delete it)."""
    from .locks import holder_of

    config = dataset.get_brain_info(key).config
    status = getattr(config, "status", "complete")
    if status == "complete":
        return status
    # a rerun computing under a pending key holds the lock of the key it
    # replaces (see fiftyone_curvature.sdk.lifecycle)
    lock_key = getattr(config, "replaces", None) or key
    return "running" if holder_of(dataset, lock_key) is not None else (
        "interrupted")


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
        a dict with key, status (see :func:`run_status`; an unfinished
        run also has ``checkpoint_dir`` and ``message``, and None for what
        it never computed), skipped (samples whose image could not be
        read), timestamp, label_field, classes, num_samples,
        final_train_accuracy, fields, views, tracking, label_review (the
        estimated number of wrong labels and how it was made), and
        duplicates (what
        the run's duplicate search chose and found: method, threshold,
        ratio, groups; None without one)

    Raises:
        ValueError: ``key`` is not a curvature run of ``dataset``
    """
    runs = curvature_runs(dataset)
    if key not in runs:
        raise ValueError(f"No curvature run {key!r}; the dataset has {runs}")
    info = dataset.get_brain_info(key)
    config = info.config
    status = run_status(dataset, key)
    if status != "complete":
        return _unfinished_info(dataset, key, info, status)
    results = dataset.load_brain_results(key)
    meta = results.get_meta()
    return {
        "key": key,
        "status": status,
        "skipped": list(getattr(results, "skipped", [])),
        "timestamp": _when(info.timestamp),
        "label_field": config.label_field,
        "classes": config.classes,
        "num_samples": meta.get("num_samples"),
        "final_train_accuracy": _rounded(meta.get("final_train_accuracy")),
        "fields": config.output_fields(),
        "views": list(config.views),
        "tracking": dict(config.tracking),
        "label_review": dict(results.label_review),
        "verdict": verdict_sentence(results.label_review) or None,
        "features": getattr(config, "features", None),
        "duplicates": duplicates_info(dataset, key),
    }


def _unfinished_info(dataset, key, info, status):
    """The summary of a run that never saved results."""
    from .locks import describe, holder_of

    config = info.config
    checkpoint = getattr(config, "checkpoint_dir", None)
    if status == "running":
        message = (f"Run {key!r} is being computed by "
                   f"{describe(holder_of(dataset, key))}")
    else:
        message = (f"Run {key!r} was interrupted before it finished (the "
                   "process was killed or ran out of memory); it holds no "
                   "results. Rerun the key"
                   + (f" with checkpoint_dir={checkpoint!r} to resume"
                      if checkpoint else "")
                   + " or delete it with dataset.delete_brain_run("
                   f"{key!r})")
    return {
        "key": key,
        "status": status,
        "message": message,
        "checkpoint_dir": checkpoint,
        "timestamp": _when(info.timestamp),
        "label_field": config.label_field,
        "classes": config.classes,
        "num_samples": None,
        "final_train_accuracy": None,
        "fields": config.output_fields(),
        "views": [],
        "tracking": dict(config.tracking),
        "label_review": None,
        "duplicates": None,
        "skipped": [],
    }


def _when(timestamp):
    """A run's timestamp to the second, e.g. "2026-12-01 09:30:12 UTC"
    (FiftyOne stores UTC)."""
    if timestamp is None:
        return None
    return f"{timestamp.replace(microsecond=0)} UTC"


def _rounded(value, digits=4):
    return None if value is None else round(float(value), digits)


def duplicates_info(dataset, key):
    """What the duplicate search of run ``key`` chose and found (see
    :meth:`DuplicateConflictsResults.summary`), or None."""
    from .duplicate_runs import run_key

    if run_key(key) not in dataset.list_brain_runs():
        return None
    return dataset.load_brain_results(run_key(key)).summary()
