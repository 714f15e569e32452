"""Which of a run's label fields the App's grid shows by default."""


def suggested_label_field(key):
    """The run's suggested-label field (the one label it shows)."""
    return f"{key}_suggested_label"


def run_label_fields(dataset, key):
    """The fo.Classification fields of run ``key`` that exist on
    ``dataset``."""
    import fiftyone as fo

    owned = set(dataset.get_brain_info(key).config.output_fields())
    schema = dataset.get_field_schema(ftype=fo.EmbeddedDocumentField,
                                      embedded_doc_type=fo.Classification)
    return sorted(name for name in schema if name in owned)


def hide_run_labels(dataset, key):
    """Hides run ``key``'s label fields (predictions, injected labels) from
    the App's grid by default and keeps its suggested label shown.

    Changes only what the run adds to ``dataset.app_config.active_fields``:
    without active fields set, they become "all but the run's hidden
    labels" (the user's own labels stay shown); an exclusion list gets the
    run's hidden labels added; an inclusion list gets the suggested label
    added.

    Returns:
        the list of hidden fields
    """
    import fiftyone as fo

    labels = run_label_fields(dataset, key)
    shown = [f for f in labels if f == suggested_label_field(key)]
    hidden = [f for f in labels if f not in shown]
    config = dataset.app_config
    active = config.active_fields
    if active is None:
        active = fo.ActiveFields(exclude=True, paths=[])
    add = hidden if active.exclude else shown
    missing = [f for f in add if f not in active.paths]
    if missing:
        active.paths = list(active.paths) + missing
        config.active_fields = active
        dataset.save()
    return hidden
