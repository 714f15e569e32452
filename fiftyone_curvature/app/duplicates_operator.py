"""App operator: find duplicate images with conflicting labels.

Parses params only; the work is
:func:`fiftyone_curvature.sdk.duplicates.find_duplicate_conflicts`.
"""

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..engine.constants import RUN_KEY
from ..sdk.duplicate_runs import (
    DEFAULT_THRESHOLDS, METHODS, output_fields, run_key, view_name,
)
from ..sdk.duplicates import validate_key
from ..sdk.duplicates import find_duplicate_conflicts
from ..sdk.info import curvature_runs
from .base import execute_on_view, threaded
from .forms import key_input, label_field_input

#: what the form says of each comparison method
METHOD_DESCRIPTIONS = {
    "aligned": "Aligned (recommended): the same photo after colour "
    "changes, small shifts or crops, rescaling, JPEG or blur; threshold "
    "taken from the data",
    "pixels": "Pixels: exact copies and resized / re-encoded images "
    "(fixed threshold)",
    "exact": "Exact: byte-identical files only (file hash)",
    "embeddings": "Embeddings: vectors stored in a field (e.g. a zoo "
    "model's)",
}


class FindDuplicateConflicts(foo.Operator):
    """Groups near-identical images whose labels differ and saves a view
    showing each group together, highest curvature first."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="find_duplicate_conflicts",
            label="Curvature: find duplicates with conflicting labels",
            description=(
                "Find exact and near-duplicate images whose labels differ "
                "and show each group together"
            ),
            dynamic=True,
            execute_as_generator=True,
            allow_immediate_execution=True,
            allow_delegated_execution=True,
            default_choice_to_delegated=False,
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        _inputs(ctx, inputs)
        return types.Property(
            inputs, view=types.View(label="Find duplicate conflicts")
        )

    def resolve_delegation(self, ctx):
        return None

    def execute(self, ctx):
        """Finds the groups (progress shown meanwhile), reloads the
        dataset and, in the App, opens the saved view."""
        kwargs = _kwargs(ctx.params)
        label_field = kwargs.pop("label_field")
        target = ctx.target_view()
        start = (f"Comparing {len(target)} images ({kwargs['method']}) "
                 "for duplicates with conflicting labels")

        def run(samples, options, progress):
            progress({"label": start, "fraction": 0.0})
            return find_duplicate_conflicts(samples, label_field,
                                            progress=False, **options)

        outcome = []
        if ctx.delegated:
            ctx.set_progress(progress=0.0, label=start)
            outcome.append(run(target, kwargs, lambda info: None))
        else:
            for info in threaded(run, target, kwargs, outcome):
                yield ctx.ops.set_progress(label=info["label"],
                                           progress=info["fraction"])
        results = outcome[0]
        name = view_name(kwargs["key"])
        message = (f"Found {len(results.groups)} group(s) of duplicates "
                   f"with conflicting labels ({results.num_conflicts} "
                   "samples)" + (f"; showing the view {name}"
                                 if results.groups else ""))
        if ctx.delegated:
            ctx.set_progress(progress=1.0, label=message)
        else:
            yield ctx.ops.set_progress(label=message, progress=1.0)
            yield ctx.ops.notify(message, variant="success")
        yield ctx.ops.reload_dataset()
        if results.groups and not ctx.delegated:
            # the view itself: by name, the App looks it up in the list of
            # saved views it loaded before this run saved it, and fails
            yield ctx.ops.set_view(
                view=ctx.dataset.load_saved_view(name))
        yield {
            "groups": len(results.groups),
            "samples": results.num_conflicts,
            "duplicate_groups": results.num_duplicate_groups,
            "view": name,
        }

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.int("groups", label="Conflicting groups")
        outputs.int("samples", label="Samples in them")
        outputs.int("duplicate_groups",
                    label="Duplicate groups (same label included)")
        outputs.str("view", label="Saved view")
        return types.Property(outputs)

    def __call__(self, sample_collection, label_field, key=RUN_KEY,
                 method="aligned", threshold=None, embeddings_field=None,
                 exact=True, delegate=False):
        """Runs the operator from Python (see
        :func:`fiftyone_curvature.find_duplicate_conflicts`);
        ``delegate=True`` queues it for a delegated-operations worker."""
        params = dict(label_field=label_field, key=key, method=method,
                      threshold=threshold,
                      embeddings_field=embeddings_field, exact=exact)
        return execute_on_view(self, sample_collection, params, delegate)


def _kwargs(params):
    method = params.get("method") or "aligned"
    kwargs = {
        "label_field": params["label_field"],
        "key": params.get("key") or RUN_KEY,
        "method": method,
        "exact": bool(params.get("exact", True)),
    }
    if method != "exact" and params.get("threshold") is not None:
        kwargs["threshold"] = float(params["threshold"])
    if method == "embeddings":
        kwargs["embeddings"] = params.get("embeddings_field")
    return kwargs


def _inputs(ctx, inputs):

    target = ctx.target_view()
    if not label_field_input(
        ctx, inputs, "Label field", "The labels compared (never modified)",
        "Duplicates are compared by their fo.Classification labels",
    ):
        return False
    runs = curvature_runs(ctx.dataset, complete=True)
    default_key = runs[0] if len(runs) == 1 else RUN_KEY
    key, error = key_input(
        ctx, inputs, "key", default_key, "Key",
        "Prefix of the fields and view; the key of a curvature run orders "
        f"groups by its curvature (runs: {', '.join(runs) or 'none'})",
        validate_key,
    )
    method_view = types.RadioGroup()
    for name in METHODS:
        method_view.add_choice(name, label=METHOD_DESCRIPTIONS[name])
    inputs.enum("method", method_view.values(), default="aligned",
                label="Compare", view=method_view)
    method = ctx.params.get("method") or "aligned"
    if method == "aligned":
        inputs.float("threshold", default=None, min=0.0, max=2.0,
                     label="Threshold (optional)",
                     description="Distance under which two images are "
                     "duplicates; empty = taken from the data (recommended)")
    elif method != "exact":
        inputs.float("threshold", default=DEFAULT_THRESHOLDS.get(method),
                     min=0.0, max=2.0, label="Threshold",
                     description="Cosine distance under which two images "
                     "are duplicates (pixels 0.01: re-encodes and resizes)")
    if method == "embeddings":
        vectors = sorted(
            name for name, field in target.get_field_schema().items()
            if isinstance(field, (fo.VectorField, fo.ArrayField))
        )
        if not vectors:
            prop = inputs.view("no_vectors", types.Warning(
                label="No embeddings field",
                description="Compute embeddings first (e.g. "
                "compute_embeddings with a zoo model)",
            ))
            prop.invalid = True
            return False
        emb_view = types.DropdownView()
        for name in vectors:
            emb_view.add_choice(name, label=name)
        inputs.enum("embeddings_field", emb_view.values(), required=True,
                    label="Embeddings field", view=emb_view,
                    default=vectors[0] if len(vectors) == 1 else None)
        inputs.bool("exact", default=True, label="Also byte-identical files")
    if error:
        return False
    inputs.view("notice", types.Notice(label=(
        f"Writes {', '.join(output_fields(key))} (brain run "
        f"{run_key(key)}) and saves the view {view_name(key)}"
    )))
    return True


OPERATORS = (FindDuplicateConflicts,)
