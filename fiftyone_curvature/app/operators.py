"""App operators: compute, load view, info, delete, tag for relabeling.

Only parameters are parsed here; the work is done by the SDK. Heavy modules
(torch, the engine) are imported when an operator executes, never when the
App loads the plugin.
"""

import fiftyone.operators as foo
import fiftyone.operators.types as types
from fiftyone import ViewField as F

from ..engine.constants import RUN_KEY
from ..engine.dynamics import SCORES
from ..sdk.compute import validate_key
from ..sdk.compute import compute_curvature
from ..sdk.info import curvature_runs, is_evaluation, run_info
from ..sdk.locks import refuse_if_computing
from ..sdk.relabel import relabel
from ..sdk.runs import output_fields
from ..sdk.views import VIEW_BUILDERS, resolve_thresholds, view_names
from .base import (
    TrainingOperator, execute_on_dataset, execute_on_view,
)
from .estimate import estimate_notice
from .forms import (
    features_input, key_input, label_field_input, training_inputs,
    training_kwargs,
)


def _run_key_input(ctx, inputs, label="Curvature run", complete=True):
    """Adds a dropdown of the dataset's curvature runs (only the complete
    ones unless ``complete=False``); returns the chosen key or None."""
    keys = curvature_runs(ctx.dataset, complete=complete)
    if not keys:
        prop = inputs.view(
            "no_runs",
            types.Warning(
                label="This dataset has no curvature runs",
                description="Run compute_curvature first",
            ),
        )
        prop.invalid = True
        prop.error_message = (f"Dataset {ctx.dataset.name!r} has no "
                              "curvature runs: run compute_curvature first")
        return None
    choices = types.DropdownView()
    for key in keys:
        choices.add_choice(key, label=key)
    # pre-selected: a curvature run rather than an evaluation when there
    # is one (the form shows the run's options at once)
    plain = [k for k in keys if not is_evaluation(ctx.dataset, k)]
    prop = inputs.enum("key", choices.values(), required=True, label=label,
                       default=(plain or keys)[0], view=choices)
    key = ctx.params.get("key") or (plain or keys)[0]
    if key not in keys:
        prop.invalid = True
        prop.error_message = (f"No curvature run {key!r} on dataset "
                              f"{ctx.dataset.name!r}; its runs: "
                              + ", ".join(keys))
        return None
    return key


#: seconds between the App's dataset reload and the filters put back (the
#: reload clears them when its query returns, after the operator's
#: messages were applied)
REFILTER_DELAY = 2.0


def reload_keeping_filters(ctx):
    """Yields a reload of the dataset in the App (a new field shows in the
    sidebar) and, a moment later, the sidebar filters the reload clears
    (for a generator execution)."""
    import time

    yield ctx.ops.reload_dataset()
    filters = ctx.request_params.get("filters")
    if filters:
        time.sleep(REFILTER_DELAY)
        yield ctx.trigger("set_filters", params=filters)


# --------------------------------------------------------------------------
# compute_curvature


class ComputeCurvature(TrainingOperator):
    """Trains on a label field and writes curvature fields and views."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="compute_curvature",
            label="Curvature: compute",
            description=(
                "Train a classifier and score each sample by its loss "
                "curvature over training (memorized / mislabeled samples)"
            ),
            dynamic=True,
            execute_as_generator=True,
            allow_immediate_execution=True,
            allow_delegated_execution=True,
            default_choice_to_delegated=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        _compute_inputs(ctx, inputs)
        return types.Property(
            inputs, view=types.View(label="Compute curvature")
        )

    def resolve_placement(self, ctx):
        return types.Placement(
            types.Places.SAMPLES_GRID_SECONDARY_ACTIONS,
            types.Button(label="Compute curvature", prompt=True),
        )

    def resolve_delegation(self, ctx):
        # several processes: a delegated worker runs them, never the App
        return True if _num_processes(ctx.params) > 1 else None

    def sdk_kwargs(self, params):
        return {
            "label_field": params["label_field"],
            "curvature_field": params.get("curvature_field") or RUN_KEY,
            "nproc": _num_processes(params),
            "features": params.get("features") or None,
            **training_kwargs(params),
        }

    def sdk_function(self):

        return compute_curvature

    def done_message(self, results):
        config = results.config
        estimate = results.label_review.get("estimated_errors")
        return (f"Done: run {config.curvature_field!r} scored "
                f"{results.num_samples} samples, wrote "
                f"{len(config.output_fields())} fields and "
                f"{len(config.views)} saved views; estimated wrong labels: "
                f"{estimate}" + _verdict_suffix(results))

    def __call__(
        self,
        sample_collection,
        label_field,
        curvature_field=RUN_KEY,
        model=None,
        epochs=None,
        probes=None,
        h=None,
        score_every=None,
        score_from=None,
        image_size=None,
        device=None,
        seed=None,
        num_processes=1,
        threads=None,
        features=None,
        delegate=False,
    ):
        """Runs the operator from Python (see
        :func:`fiftyone_curvature.compute_curvature` for the arguments;
        ``features`` is an embeddings field or a zoo model name;
        ``num_processes`` is its ``nproc``); ``delegate=True`` queues it
        for a delegated-operations worker (forced when
        ``num_processes > 1``)."""
        params = dict(
            label_field=label_field, curvature_field=curvature_field,
            model=model, epochs=epochs, probes=probes, h=h,
            score_every=score_every, score_from=score_from,
            image_size=image_size, device=device,
            seed=seed, num_processes=num_processes, threads=threads,
            features=features,
        )
        return execute_on_view(self, sample_collection, params, delegate)


def _num_processes(params):
    return int(params.get("num_processes") or 1)


def _compute_inputs(ctx, inputs):
    if not label_field_input(
        ctx, inputs, "Label field", "The labels to train on (never modified)",
        "Curvature trains on an fo.Classification label field",
    ):
        return False
    key, error = key_input(
        ctx, inputs, "curvature_field", RUN_KEY,
        "Curvature field / run key",
        "Output field and brain key; the other fields are named "
        "<key>_<suffix>",
        validate_key,
    )
    features_input(ctx, inputs)
    training_inputs(inputs)
    inputs.int(
        "num_processes", default=1, min=1, label="Processes",
        description="Copies of the training that split the samples "
        "between them: one per GPU (on a CPU, one per few cores). 1 = one "
        "process, right for most datasets; above 1 the run goes to the "
        "delegated-operations queue (Schedule), not the App",
    )
    if error:
        return False
    if _num_processes(ctx.params) == 1 and ctx.params.get("label_field"):
        try:
            kwargs = training_kwargs(ctx.params)
        except ValueError:  # the form shows the bad number itself
            kwargs = None
        if kwargs is not None:
            estimate_notice(ctx, inputs, ctx.params["label_field"], kwargs)
    names = ", ".join(view_names(key))
    inputs.view(
        "views_notice",
        types.Notice(
            label=(
                f"Writes the fields "
                f"{', '.join(output_fields(key, score_names=()))} and "
                f"{key}_<score> for each of the {len(SCORES)} "
                f"training-dynamics scores; saves the views {names}"
            )
        ),
    )
    if key in curvature_runs(ctx.dataset):
        inputs.view(
            "overwrite_notice",
            types.Warning(label=f"Run {key!r} exists and will be replaced"),
        )
    return True


# --------------------------------------------------------------------------
# load_curvature_view


class LoadCurvatureView(foo.Operator):
    """Loads the samples of a run (by curvature) or one of its views."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="load_curvature_view",
            label="Curvature: load view",
            dynamic=True,
            view_target=False,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        key = _run_key_input(ctx, inputs)
        if key is not None:
            choices = types.RadioGroup()
            choices.add_choice("all", label="All samples of the run",
                               description="sorted by curvature, highest "
                               "first")
            existing = set(ctx.dataset.list_saved_views())
            info = ctx.dataset.get_brain_info(key)
            for name in info.config.views:
                if name in existing:
                    choices.add_choice(name, label=name)
            inputs.enum("view", choices.values(), default="all",
                        label="View", view=choices)
        return types.Property(inputs,
                              view=types.View(label="Load curvature view"))

    def execute(self, ctx):
        key = ctx.params["key"]
        name = ctx.params.get("view") or "all"
        if name == "all":
            view = ctx.dataset.load_brain_view(key).sort_by(key,
                                                            reverse=True)
            ctx.ops.set_view(view=view)
        else:
            ctx.ops.set_view(name=name)
        return {"key": key, "view": name}

    def __call__(self, sample_collection, key, view="all"):
        """Runs the operator from Python; returns the execution result."""
        return execute_on_dataset(self, sample_collection,
                                  {"key": key, "view": view})


# --------------------------------------------------------------------------
# get_curvature_info


class GetCurvatureInfo(foo.Operator):
    """Shows a run's config, fields, views and training summary."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="get_curvature_info",
            label="Curvature: get info",
            dynamic=True,
            view_target=False,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        _run_key_input(ctx, inputs, complete=False)
        return types.Property(inputs,
                              view=types.View(label="Curvature run info"))

    def execute(self, ctx):
        return run_info(ctx.dataset, ctx.params["key"])

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("key", label="Run key")
        outputs.str("timestamp", label="Computed at")
        outputs.str("label_field", label="Label field")
        outputs.int("num_samples", label="Samples")
        outputs.float("final_train_accuracy", label="Final train accuracy")
        outputs.list("fields", types.String(), label="Fields written")
        outputs.list("views", types.String(), label="Saved views")
        outputs.obj("tracking", label="Training and scoring config",
                    view=types.JSONView())
        outputs.obj("label_review", label="Estimated wrong labels and "
                    "suggested labels", view=types.JSONView())
        outputs.obj("duplicates", label="Duplicate search (method, "
                    "threshold, ratio, groups)", view=types.JSONView())
        return types.Property(outputs,
                              view=types.View(label="Curvature run info"))

    def __call__(self, sample_collection, key):
        """Runs the operator from Python; ``.result`` holds the info."""
        return execute_on_dataset(self, sample_collection, {"key": key})


# --------------------------------------------------------------------------
# delete_curvature_run


class DeleteCurvatureRun(foo.Operator):
    """Deletes a run with every field and saved view it created."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="delete_curvature_run",
            label="Curvature: delete run",
            dynamic=True,
            view_target=False,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        key = _run_key_input(ctx, inputs, complete=False)
        if key is not None:
            config = ctx.dataset.get_brain_info(key).config
            inputs.view(
                "delete_warning",
                types.Warning(
                    label=f"Deletes run {key!r}",
                    description=(
                        "Removes the fields "
                        + ", ".join(config.output_fields())
                        + " and the saved views "
                        + (", ".join(config.views) or "(none)")
                        + f"; the label field {config.label_field!r} stays"
                    ),
                ),
            )
        return types.Property(inputs,
                              view=types.View(label="Delete curvature run"))

    def execute(self, ctx):
        key = ctx.params["key"]
        if key not in curvature_runs(ctx.dataset):
            raise ValueError(f"No curvature run {key!r}")

        refuse_if_computing(ctx.dataset, key)
        ctx.dataset.delete_brain_run(key)
        ctx.ops.reload_dataset()
        return {"deleted": key}

    def __call__(self, sample_collection, key):
        """Runs the operator from Python."""
        return execute_on_dataset(self, sample_collection, {"key": key})


# --------------------------------------------------------------------------
# tag_for_relabel


class TagForRelabel(foo.Operator):
    """Tags the most memorized samples of a run for relabeling."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="tag_for_relabel",
            label="Curvature: tag for relabeling",
            dynamic=True,
            view_target=False,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        key = _run_key_input(ctx, inputs)
        if key is None:
            return types.Property(inputs)
        inputs.str("tag", default="relabel", label="Tag")
        scope = types.RadioGroup()
        scope.add_choice("all", label="All samples of the run")
        scope.add_choice(
            "likely_mislabeled", label="Likely mislabeled only",
            description="the run's likely-mislabeled view: highly "
            "memorized and the suggested label differs",
        )
        inputs.enum("scope", scope.values(), default="all", label="Among",
                    view=scope)
        mode = types.RadioGroup()
        mode.add_choice("top_k", label="Top k by curvature")
        mode.add_choice("percentile", label="Curvature percentile at least")
        inputs.enum("mode", mode.values(), default="top_k", label="Select",
                    view=mode)
        if ctx.params.get("mode", "top_k") == "top_k":
            inputs.int("k", default=100, min=1, label="k")
        else:
            inputs.float("percentile", default=0.9, min=0.0, max=1.0,
                         label="Minimum percentile (1 = highest)")
        count = None
        try:
            count = len(_relabel_view(ctx.dataset, key, ctx.params))
        except Exception:  # incomplete form
            pass
        if count is not None:
            inputs.view("count", types.Notice(
                label=f"{count} sample(s) will be tagged "
                f"{ctx.params.get('tag') or 'relabel'!r}"))
        return types.Property(inputs,
                              view=types.View(label="Tag for relabeling"))

    def execute(self, ctx):
        key = ctx.params["key"]
        tag = ctx.params.get("tag") or "relabel"
        view = _relabel_view(ctx.dataset, key, ctx.params)
        view.tag_samples(tag)
        ctx.ops.reload_dataset()
        count = len(view)
        ctx.ops.notify(f"Tagged {count} sample(s) {tag!r}: filter by the "
                       "tag in the sidebar's sample tags", variant="success")
        return {"tag": tag, "tagged": count}

    def __call__(self, sample_collection, key, tag="relabel", k=None,
                 percentile=None, scope="all"):
        """Runs the operator from Python: pass ``k`` (top k) or
        ``percentile`` (minimum curvature percentile)."""
        if (k is None) == (percentile is None):
            raise ValueError("Pass exactly one of k and percentile")
        params = {"key": key, "tag": tag, "scope": scope,
                  "mode": "top_k" if k is not None else "percentile"}
        if k is not None:
            params["k"] = k
        else:
            params["percentile"] = percentile
        return execute_on_dataset(self, sample_collection, params)


def _relabel_view(dataset, key, params):

    config = dataset.get_brain_info(key).config
    view = dataset.load_brain_view(key).match(F(key).exists())
    scope = params.get("scope") or "all"
    if scope == "likely_mislabeled":
        view, _ = VIEW_BUILDERS["likely_mislabeled"](
            view, key, config.label_field,
            resolve_thresholds(config.thresholds),
        )
    elif scope != "all":
        raise ValueError(f"Unknown scope {scope!r}; valid ones are "
                         "('all', 'likely_mislabeled')")
    mode = params.get("mode") or "top_k"
    if mode == "top_k":
        return view.sort_by(key, reverse=True).limit(int(params.get("k")
                                                         or 100))
    if mode == "percentile":
        p = params.get("percentile")
        p = 0.9 if p is None else float(p)
        return view.match(F(f"{key}_percentile") >= p)
    raise ValueError(f"Unknown mode {mode!r}; valid ones are "
                     "('top_k', 'percentile')")


# --------------------------------------------------------------------------
# relabel


class Relabel(foo.Operator):
    """Copies the label field to a new field with the run's suggested
    labels applied to chosen samples (the label field is never edited)."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="relabel",
            label="Curvature: copy labels with the suggested ones applied",
            dynamic=True,
            execute_as_generator=True,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        key = _run_key_input(ctx, inputs)
        if key is None:
            return types.Property(inputs)
        label_field = ctx.dataset.get_brain_info(key).config.label_field
        inputs.str("new_field", default=f"{label_field}_relabeled",
                   required=True, label="New field",
                   description=f"A copy of {label_field!r} (never edited) "
                   "with the suggested labels applied")
        target = types.RadioGroup()
        target.add_choice("likely_mislabeled", label="Likely mislabeled",
                          description="the run's likely-mislabeled view")
        if ctx.selected:
            target.add_choice("selected", label="Selected samples",
                              description=f"{len(ctx.selected)} selected")
        target.add_choice("view", label="Current view",
                          description="every sample of the current view")
        inputs.enum("target", target.values(), default="likely_mislabeled",
                    label="Apply to", view=target)
        return types.Property(inputs, view=types.View(
            label="Relabel with the suggested labels"))

    def execute(self, ctx):

        target = ctx.params.get("target") or "likely_mislabeled"
        if target == "selected":
            target = list(ctx.selected)
        elif target == "view":
            target = ctx.view
        changed = relabel(ctx.dataset, ctx.params["key"],
                          ctx.params["new_field"], target=target)
        message = (f"{ctx.params['new_field']}: {changed} label(s) differ "
                   "from the original field")
        yield ctx.ops.notify(message, variant="success")
        yield from reload_keeping_filters(ctx)
        yield {"new_field": ctx.params["new_field"], "changed": changed}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("new_field", label="New field")
        outputs.int("changed", label="Labels that differ from the original")
        return types.Property(outputs)

    def __call__(self, sample_collection, key, new_field,
                 target="likely_mislabeled"):
        """Runs the operator from Python (``target``: "likely_mislabeled",
        "view" for ``sample_collection``, or "selected")."""
        return execute_on_view(self, sample_collection,
                               {"key": key, "new_field": new_field,
                                "target": target})


OPERATORS = (
    ComputeCurvature,
    LoadCurvatureView,
    GetCurvatureInfo,
    DeleteCurvatureRun,
    TagForRelabel,
    Relabel,
)


def _verdict_suffix(results):
    """" " + whether the network can judge the labels (or "")."""
    from ..sdk.features import verdict_sentence

    sentence = verdict_sentence(results.label_review)
    return f". {sentence}" if sentence else ""
