"""Which of a run's label fields the App's grid shows by default."""

#: the config type of a corruption evaluation (its labels are injected
#: noise, its suggestions a measurement: none is shown by default)
EVALUATION_TYPE = "curvature_evaluation"


def suggested_label_field(key):
    """The run's suggested-label field (the one label it shows)."""
    return f"{key}_suggested_label"


def run_label_fields(dataset, fields):
    """Those of a run's output ``fields`` that are fo.Classification
    fields of ``dataset``."""
    import fiftyone as fo

    schema = dataset.get_field_schema(ftype=fo.EmbeddedDocumentField,
                                      embedded_doc_type=fo.Classification)
    return sorted(name for name in schema if name in set(fields))


def shown_label_fields(labels, key, evaluation=False):
    """Of a run's label fields ``labels``, those the grid shows by
    default: a plain run's suggested label; none of an evaluation's."""
    if evaluation:
        return []
    return [f for f in labels if f == suggested_label_field(key)]


def _other_runs_hidden(dataset):
    """The label fields the dataset's runs of this package hide (every run
    whose config knows its output fields)."""
    hidden = set()
    for key in dataset.list_brain_runs():
        config = dataset.get_brain_info(key).config
        outputs = getattr(config, "output_fields", None)
        if outputs is None:
            continue
        labels = run_label_fields(dataset, outputs())
        shown = shown_label_fields(
            labels, key, getattr(config, "type", None) == EVALUATION_TYPE)
        hidden |= {f for f in labels if f not in shown}
    return hidden


def hide_run_labels(dataset, key, fields, evaluation=False):
    """Hides run ``key``'s label fields (predictions, injected labels and
    an evaluation's suggested labels) from the App's grid by default and
    keeps a plain run's suggested label shown (see
    :func:`shown_label_fields`).

    Changes only what the run adds to ``dataset.app_config.active_fields``:
    without active fields set, they become FiftyOne's default (every
    label field, no primitives) less the label fields of the dataset's
    curvature runs but the shown ones; an inclusion list gets the run's
    shown labels added; an exclusion list the run's hidden labels.

    Args:
        dataset: the run's dataset
        key: the run's key (its fields are ``<key>_...``)
        fields: the run's output fields, under ``key``
        evaluation (False): whether the run is a corruption evaluation

    Returns:
        the list of hidden fields
    """
    import fiftyone as fo

    labels = run_label_fields(dataset, fields)
    shown = shown_label_fields(labels, key, evaluation)
    hidden = [f for f in labels if f not in shown]
    config = dataset.app_config
    active = config.active_fields
    if active is None:
        runs_hidden = _other_runs_hidden(dataset) | set(hidden)
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
