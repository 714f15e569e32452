"""App operator: corruption-injection evaluation (parses params only)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from ..engine.constants import EVAL_KEY, NOISE, NOISE_KINDS as KINDS
from ..sdk.evaluation import validate_key
from ..sdk.evaluation import evaluate_corruption
from ..sdk.options import parse_mapping, parse_seeds
from .base import TrainingOperator, execute_on_view
from .forms import (
    features_input, key_input, label_field_input, training_inputs,
    training_kwargs,
)

#: what the form says of each noise kind
KIND_DESCRIPTIONS = {
    "symmetric": ("Symmetric", "a uniformly random other class"),
    "asymmetric": ("Asymmetric (class pairs)",
                   "class A -> class B per a mapping"),
}


class EvaluateCorruption(TrainingOperator):
    """Injects label noise, trains, and measures how every score finds it."""

    @property
    def config(self):
        return foo.OperatorConfig(
            name="evaluate_corruption",
            label="Curvature: evaluate on injected label noise",
            description=(
                "Flip a known fraction of labels (in a copy), train with "
                "curvature tracking and measure AUROC/AP of every score"
            ),
            dynamic=True,
            execute_as_generator=True,
            allow_immediate_execution=True,
            allow_delegated_execution=True,
            default_choice_to_delegated=True,
        )

    def resolve_delegation(self, ctx):
        return None

    def resolve_input(self, ctx):
        inputs = types.Object()
        _evaluate_inputs(ctx, inputs)
        return types.Property(
            inputs, view=types.View(label="Evaluate on injected label noise")
        )

    def sdk_kwargs(self, params):
        kwargs = {
            "label_field": params["label_field"],
            "key": params.get("key") or EVAL_KEY,
            "noise": float(params.get("noise") or NOISE),
            "kind": params.get("kind") or KINDS[0],
            "seeds": parse_seeds(params.get("seeds") or "0"),
            "features": params.get("features") or None,
            **training_kwargs(params, with_seed=False),
        }
        if kwargs["kind"] == "asymmetric":
            kwargs["mapping"] = parse_mapping(params.get("mapping"))
        return kwargs

    def sdk_function(self):

        return evaluate_corruption

    def done_message(self, results):
        summary = results.summary()
        aurocs = {name: row["auroc"]["mean"] for name, row in summary.items()
                  if row["auroc"]["mean"] is not None}
        best = max(aurocs, key=aurocs.get)
        curvature = aurocs.get("curvature")
        return (f"Done: evaluation {results.key!r} on "
                f"{results.num_samples} samples; curvature AUROC "
                f"{curvature:.3f}, best {best} {aurocs[best]:.3f}"
                if curvature is not None else
                f"Done: evaluation {results.key!r}; best {best} "
                f"{aurocs[best]:.3f}")

    def __call__(
        self,
        sample_collection,
        label_field,
        key=EVAL_KEY,
        noise=NOISE,
        kind=KINDS[0],
        seeds=(0,),
        mapping=None,
        model=None,
        epochs=None,
        probes=None,
        h=None,
        score_every=None,
        score_from=None,
        image_size=None,
        device=None,
        features=None,
        delegate=False,
    ):
        """Runs the operator from Python (see
        :func:`fiftyone_curvature.evaluate_corruption`; ``features`` is an
        embeddings field or a zoo model name); ``delegate=True``
        queues it for a delegated-operations worker."""
        params = dict(
            label_field=label_field, key=key, noise=noise, kind=kind,
            seeds=",".join(str(int(s)) for s in seeds),
            mapping=(", ".join(f"{s}:{d}" for s, d in mapping.items())
                     if mapping else None),
            model=model, epochs=epochs, probes=probes, h=h,
            score_every=score_every, score_from=score_from,
            image_size=image_size, device=device, features=features,
        )
        return execute_on_view(self, sample_collection, params, delegate)


def _evaluate_inputs(ctx, inputs):
    if not label_field_input(
        ctx, inputs, "Label field (assumed clean)",
        "Read only: the noise goes into the run's own fields",
        "The evaluation corrupts a copy of an fo.Classification field",
    ):
        return False
    key, error = key_input(
        ctx, inputs, "key", EVAL_KEY, "Run key",
        "Brain key and curvature field; other fields are <key>_<suffix>",
        validate_key,
    )
    inputs.float("noise", default=NOISE, min=0.001, max=0.999,
                 label="Noise fraction",
                 description="Fraction of labels flipped")
    kinds = types.RadioGroup()
    for kind in KINDS:
        label, description = KIND_DESCRIPTIONS[kind]
        kinds.add_choice(kind, label=label, description=description)
    inputs.enum("kind", kinds.values(), default="symmetric",
                label="Noise kind", view=kinds)
    if ctx.params.get("kind") == "asymmetric":
        inputs.str(
            "mapping", label="Class mapping",
            description="source:target pairs, e.g. 'cat:dog, truck:"
            "automobile'; empty = a random cycle through all classes",
        )
    inputs.str("seeds", default="0", label="Seeds",
               description="Comma-separated; one training per seed, "
               "metrics as mean and std")
    features_input(ctx, inputs)
    training_inputs(inputs, with_seed=False)
    if error:
        return False
    inputs.view("views_notice", types.Notice(
        label=(
            f"Writes {key}_corrupted, {key}_label (the injected labels), "
            f"{key}, {key}_<score> fields for the first seed and saves the "
            f"view {key}_corrupted_samples; the label field is not modified"
        )
    ))
    return True


OPERATORS = (EvaluateCorruption,)
