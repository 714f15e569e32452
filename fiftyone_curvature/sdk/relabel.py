"""relabel: a copy of the label field with a run's suggested labels applied
to chosen samples (the original field is never edited)."""

from fiftyone import ViewField as F

from . import field_owners
from .images import validate_label_field
from .info import curvature_runs, run_owned_fields
from .views import build_views, view_name

#: what ``target`` may name besides a collection or a list of sample ids
TARGETS = ("likely_mislabeled", "all")


def relabel(samples, key, new_field, target="likely_mislabeled",
            overwrite=False):
    """Copies a run's label field to ``new_field`` and applies the run's
    suggested labels (``<key>_suggested_label``) to the chosen samples.

    The label field itself is never modified; review ``new_field`` (e.g.
    against the label field in the App) and adopt it when satisfied.

    Args:
        samples: the run's dataset or a view of it (the copy is made for
            every sample of the dataset)
        key: the curvature run key
        new_field: the field to write, a new fo.Classification field
        target ("likely_mislabeled"): which samples get their suggested
            label: ``"likely_mislabeled"`` (the run's view), ``"all"``
            (every sample of the run), a view or collection of the
            dataset, or a list of sample ids
        overwrite (False): replace ``new_field`` when an earlier relabel
            created that very field (recorded by identity, see
            :mod:`fiftyone_curvature.sdk.field_owners`); a field of the user
            or of a run is never replaced

    Returns:
        the number of samples whose label in ``new_field`` differs from the
        label field

    Raises:
        ValueError: no such curvature run, ``new_field`` is the label field
            or exists (and is not an earlier relabel's field replaced with
            ``overwrite``), or an unknown target
    """

    dataset = samples._root_dataset
    if key not in curvature_runs(dataset):
        raise ValueError(f"No curvature run {key!r}; the dataset has "
                         f"{curvature_runs(dataset)}")
    config = dataset.get_brain_info(key).config
    label_field = config.label_field
    validate_label_field(dataset, label_field)
    if not isinstance(new_field, str) or not new_field.isidentifier():
        raise ValueError(f"new_field must be a valid identifier, got "
                         f"{new_field!r}")
    if new_field == label_field or new_field in run_owned_fields(dataset):
        raise ValueError(
            f"{new_field!r} is the label field or a run's field; choose a "
            "new field name")
    field_owners.check_replaceable(dataset, new_field, "relabel", overwrite)
    ids = _target_ids(dataset, key, target, config)
    if new_field in dataset.get_field_schema():
        dataset.delete_sample_field(new_field)
    dataset.clone_sample_field(label_field, new_field)
    field_owners.record(dataset, new_field, "relabel")
    field = dataset.get_field(new_field)
    field.description = (
        f"relabel: a copy of {label_field!r} with the suggested labels of "
        f"run {key!r} applied to {len(ids)} sample(s)")
    field.save()
    suggested = dict(zip(*dataset.select(ids).values(
        ["id", f"{key}_suggested_label.label"])))
    updates = {i: s for i, s in suggested.items() if s is not None}
    if updates:
        dataset.set_values(f"{new_field}.label", updates, key_field="id")
    changed = dataset.match(
        F(f"{new_field}.label") != F(f"{label_field}.label"))
    return len(changed)


def _target_ids(dataset, key, target, config):
    """The sample ids ``target`` names."""
    run_samples = dataset.load_brain_view(key)
    if isinstance(target, str):
        if target == "all":
            return run_samples.values("id")
        if target == "likely_mislabeled":
            name = view_name(key, "likely_mislabeled")
            if name in dataset.list_saved_views():
                return dataset.load_saved_view(name).values("id")
            views = build_views(run_samples, key, config.label_field,
                                config.thresholds)
            return views[name][0].values("id")
        raise ValueError(f"Unknown target {target!r}; valid ones are "
                         f"{TARGETS}, a view or a list of sample ids")
    if hasattr(target, "values"):
        return target.values("id")
    return [str(i) for i in target]
