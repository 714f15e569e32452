"""Which of a run's label fields the App's grid shows by default."""


def suggested_label_field(key):
    """The run's suggested-label field (the one label a plain run
    shows)."""
    return f"{key}_suggested_label"


def shown_label_fields(dataset, key):
    """The label fields of run ``key`` the grid shows by default: a plain
    run's suggested label; none of an evaluation's (its labels are
    injected noise, its suggestions a measurement)."""
    from .info import is_evaluation

    if is_evaluation(dataset, key):
        return []
    return [f for f in run_label_fields(dataset, key)
            if f == suggested_label_field(key)]


def run_label_fields(dataset, key):
    """The fo.Classification fields of run ``key`` that exist on
    ``dataset``."""
    import fiftyone as fo

    owned = set(dataset.get_brain_info(key).config.output_fields())
    schema = dataset.get_field_schema(ftype=fo.EmbeddedDocumentField,
                                      embedded_doc_type=fo.Classification)
    return sorted(name for name in schema if name in owned)


def hide_run_labels(dataset, key):
    """Hides run ``key``'s label fields (predictions, injected labels and
    an evaluation's suggested labels) from the App's grid by default and
    keeps a plain run's suggested label shown (see
    :func:`shown_label_fields`).

    Changes only what the run adds to ``dataset.app_config.active_fields``:
    without active fields set, they become FiftyOne's default (every
    label field, no primitives) less the label fields of the dataset's
    curvature runs but the shown ones; an inclusion list gets the run's
    shown labels added; an exclusion list the run's hidden labels.

    Returns:
        the list of hidden fields
    """
    import fiftyone as fo

    from .info import curvature_runs

    labels = run_label_fields(dataset, key)
    shown = shown_label_fields(dataset, key)
    hidden = [f for f in labels if f not in shown]
    config = dataset.app_config
    active = config.active_fields
    if active is None:
        runs_hidden = {f for k in curvature_runs(dataset)
                       for f in run_label_fields(dataset, k)
                       if f not in shown_label_fields(dataset, k)}
        default = fo.DatasetAppConfig.default_active_fields(dataset)
        config.active_fields = fo.ActiveFields(paths=[
            p for p in default.paths if p not in runs_hidden])
        dataset.save()
        return hidden
    add = hidden if active.exclude else shown
    missing = [f for f in add if f not in active.paths]
    if missing:
        active.paths = list(active.paths) + missing
        config.active_fields = active
        dataset.save()
    return hidden
