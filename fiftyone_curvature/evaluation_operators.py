"""App operator: corruption-injection evaluation (parses params only)."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from .forms import (
    key_input, label_field_input, training_inputs, training_kwargs,
)
from .operators import _threaded

#: noise kinds offered in the form (fiftyone_curvature.evaluation.KINDS,
#: literal so that listing operators imports nothing heavy)
KIND_CHOICES = ("symmetric", "asymmetric")


def parse_seeds(text):
    """``"0, 1,2"`` -> ``[0, 1, 2]`` (ValueError on anything else)."""
    if isinstance(text, (list, tuple)):
        return [int(s) for s in text]
    try:
        seeds = [int(s) for s in str(text).replace(" ", "").split(",") if s]
    except ValueError:
        raise ValueError(
            f"Seeds must be comma-separated integers, got {text!r}"
        ) from None
    if not seeds:
        raise ValueError("Give at least one seed")
    return seeds


def parse_mapping(text):
    """``"cat:dog, 3:8"`` -> ``{"cat": "dog", "3": "8"}``; empty -> None."""
    if text is None or isinstance(text, dict):
        return text or None
    pairs = [p.strip() for p in str(text).split(",") if p.strip()]
    if not pairs:
        return None
    mapping = {}
    for pair in pairs:
        if pair.count(":") != 1:
            raise ValueError(
                f"Mapping entries look like source:target, got {pair!r}"
            )
        src, dst = (s.strip() for s in pair.split(":"))
        mapping[src] = dst
    return mapping


def _evaluate_kwargs(params):
    kwargs = {
        "label_field": params["label_field"],
        "key": params.get("key") or "curvature_eval",
        "noise": float(params.get("noise") or 0.1),
        "kind": params.get("kind") or "symmetric",
        "seeds": parse_seeds(params.get("seeds") or "0"),
        **training_kwargs(params, with_seed=False),
    }
    if kwargs["kind"] == "asymmetric":
        kwargs["mapping"] = parse_mapping(params.get("mapping"))
    return kwargs


def _run_evaluate(samples, kwargs, progress):
    from .evaluation import evaluate_corruption

    kwargs = dict(kwargs)
    label_field = kwargs.pop("label_field")
    return evaluate_corruption(samples, label_field, progress=progress,
                               **kwargs)


def _progress_label(info):
    if info.get("phase") == "epoch":
        return (
            f"seed {info['seed']} ({info['seed_index'] + 1}/"
            f"{info['seeds']}), epoch {info['epoch']}/{info['epochs']}, "
            f"ETA {info.get('eta') or 0:.0f} s"
        )
    if info.get("phase") == "load":
        return f"reading images {info['done']}/{info['total']}"
    return "writing fields and views"


class EvaluateCorruption(foo.Operator):
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

    def execute(self, ctx):
        kwargs = _evaluate_kwargs(ctx.params)
        target = ctx.target_view()
        if ctx.delegated:

            def progress(info):
                ctx.set_progress(progress=info["fraction"],
                                 label=_progress_label(info))

            _run_evaluate(target, kwargs, progress)
        else:
            for info in _threaded(_run_evaluate, target, kwargs):
                yield ctx.ops.set_progress(label=_progress_label(info),
                                           progress=info["fraction"])
        yield ctx.ops.reload_dataset()

    def __call__(
        self,
        sample_collection,
        label_field,
        key="curvature_eval",
        noise=0.1,
        kind="symmetric",
        seeds=(0,),
        mapping=None,
        model="auto",
        epochs=None,
        probes=None,
        h=None,
        score_every=None,
        score_from=None,
        image_size=None,
        device="auto",
        delegate=False,
    ):
        """Runs the operator from Python (see
        :func:`fiftyone_curvature.evaluate_corruption`); ``delegate=True``
        queues it for a delegated-operations worker."""
        params = dict(
            label_field=label_field, key=key, noise=noise, kind=kind,
            seeds=",".join(str(int(s)) for s in seeds),
            mapping=(", ".join(f"{s}:{d}" for s, d in mapping.items())
                     if mapping else None),
            model=model, epochs=epochs, probes=probes, h=h,
            score_every=score_every, score_from=score_from,
            image_size=image_size, device=device,
        )
        return foo.execute_operator(
            self.uri,
            dict(view=sample_collection.view()),
            params=params,
            request_delegation=delegate,
        )


def _evaluate_inputs(ctx, inputs):
    from .evaluation import _validate_key

    if not label_field_input(
        ctx, inputs, "Label field (assumed clean)",
        "Read only: the noise goes into the run's own fields",
        "The evaluation corrupts a copy of an fo.Classification field",
    ):
        return False
    key, error = key_input(
        ctx, inputs, "key", "curvature_eval", "Run key",
        "Brain key and curvature field; other fields are <key>_<suffix>",
        _validate_key,
    )
    inputs.float("noise", default=0.1, min=0.001, max=0.999,
                 label="Noise fraction",
                 description="Fraction of labels flipped")
    kinds = types.RadioGroup()
    kinds.add_choice("symmetric", label="Symmetric",
                     description="a uniformly random other class")
    kinds.add_choice("asymmetric", label="Asymmetric (class pairs)",
                     description="class A -> class B per a mapping")
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
