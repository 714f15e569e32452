"""Form pieces shared by the App operators (parameters only, no work).

Imports nothing heavy: the App imports the operator modules at start-up.
"""

import math
import numbers

import fiftyone as fo
import fiftyone.operators.types as types

from ..engine.config import DEVICES, MODELS, TrackingConfig
from ..engine.constants import IMAGE_SIZE
from ..sdk.info import curvature_runs, run_owned_fields

#: model names offered in the forms
MODEL_CHOICES = ("auto",) + MODELS

_DEFAULTS = TrackingConfig()

#: training parameters of the forms: name -> (default, description)
#: form labels of the training parameters (the others: the name, capitalized)
LABELS = {
    "h": "Finite-difference step h",
    "score_every": "Score every k-th epoch",
    "score_from": "Score from (fraction of training)",
    "threads": "CPU threads",
}

TRAINING_PARAMS = {
    "epochs": (_DEFAULTS.epochs,
               "Training epochs; curvature is averaged over them"),
    "probes": (_DEFAULTS.probes, "Rademacher probes per scored epoch"),
    "h": (_DEFAULTS.h, "Step of the input perturbation whose change of the "
          "loss gradient is the curvature (the paper: 1e-3)"),
    "score_every": (None,
                    "Score curvature every k-th epoch (last always); empty: "
                    "chosen from the model and training precision (every "
                    "epoch for the small CNN, every 6th with bf16 training, "
                    "else every 2nd)"),
    "score_from": (_DEFAULTS.score_from,
                   "Fraction of training before which curvature is not "
                   "scored (0 = from the start)"),
    "image_size": (IMAGE_SIZE,
                   "Working resolution; smaller images keep their size"),
    "threads": (None,
                "CPU threads; empty: timed before training (1, the free "
                "and all cores; the fastest is kept and stored in the "
                "run's config), which holds up when other programs share "
                "the CPU"),
    "seed": (_DEFAULTS.seed, "Random seed"),
}


def _dropdown(names):
    view = types.DropdownView()
    for name in names:
        view.add_choice(name, label=name)
    return view


def label_field_input(ctx, inputs, label, description, why):
    """Adds a dropdown of the target's own Classification fields (not those
    a run wrote), pre-filled when there is one or when a run used one.

    Returns False (and shows a warning that ends with ``why``) when the
    target has none, True otherwise.
    """


    dataset = ctx.dataset
    runs = curvature_runs(dataset)
    owned = run_owned_fields(dataset)
    names = sorted(
        name for name in ctx.target_view().get_field_schema(
            ftype=fo.EmbeddedDocumentField,
            embedded_doc_type=fo.Classification)
        if name not in owned
    )
    if not names:
        prop = inputs.view("no_labels", types.Warning(
            label="No Classification field",
            description=f"{why}; this collection has none",
        ))
        prop.invalid = True
        return False
    used = [dataset.get_brain_info(key).config.label_field for key in runs]
    default = names[0] if len(names) == 1 else next(
        (f for f in reversed(used) if f in names), None)
    view = _dropdown(names)
    inputs.enum("label_field", view.values(), required=True, label=label,
                description=description, view=view, default=default)
    return True


def key_input(ctx, inputs, name, default, label, description, validate):
    """Adds a text input for a run key, marked invalid when
    ``validate(dataset, label_field, key)`` raises ValueError (the SDK's
    own key check, so that the form and the SDK refuse the same keys).

    Returns ``(key, error)``: the key typed so far (or the default) and the
    error message or None.
    """
    prop = inputs.str(name, default=default, required=default is None,
                      label=label,
                      description=description)
    key = ctx.params.get(name) or default
    try:
        validate(ctx.dataset, ctx.params.get("label_field"), key)
        error = None
    except ValueError as e:
        error = str(e)
    if error:
        prop.invalid = True
        prop.error_message = error
    return key, error


#: what the forms say of the model choice
MODEL_DESCRIPTION = (
    "The network trained: small_cnn (fast, for images under 16 px), "
    "small_resnet (CPU-friendly), resnet18 (best on a GPU), mlp_head / "
    "linear_head (on pretrained features); auto: mlp_head on features, "
    "small_cnn under 16 px, resnet18 on a GPU, small_resnet on a CPU")


def embedding_fields(samples):
    """The sample fields that can hold embeddings (vector or list
    fields), sorted."""
    import fiftyone as fo

    schema = samples.get_field_schema()
    return sorted(name for name, field in schema.items()
                  if isinstance(field, (fo.VectorField, fo.ListField))
                  and not name.startswith("_"))


def features_input(ctx, inputs):
    """Adds the optional pretrained-features input: an embeddings field
    of the collection (offered) or a FiftyOne zoo model name."""
    choices = types.AutocompleteView()
    for name in embedding_fields(ctx.target_view()):
        choices.add_choice(name, label=name)
    inputs.str(
        "features", default=None, required=False,
        label="Pretrained features (optional)",
        description=(
            "An embeddings field (a vector per sample, e.g. from "
            "dataset.compute_embeddings) or a FiftyOne zoo model name, "
            "whose embeddings the run computes into <key>_features: a head "
            "is trained on them (docs/features.md). Empty: a network is "
            "trained from scratch on the images at the working resolution"),
        view=choices)


def training_inputs(inputs, with_seed=True, model_description=None):
    """Adds the model, training parameters and device inputs."""
    model_description = model_description or MODEL_DESCRIPTION
    models = _dropdown(MODEL_CHOICES)
    inputs.enum("model", models.values(), default="auto", label="Model",
                description=model_description, view=models)
    for name, (default, description) in TRAINING_PARAMS.items():
        if name == "seed" and not with_seed:
            continue
        label = LABELS.get(name, name.replace("_", " ").capitalize())
        if isinstance(default, float):
            inputs.float(name, default=default, label=label,
                         description=description)
        else:
            inputs.int(name, default=default, min=0 if name == "seed"
                       else 1, label=label, description=description)
    devices = _dropdown(DEVICES)
    inputs.enum("device", devices.values(), default="auto", label="Device",
                description="Where the network trains: auto = a CUDA GPU "
                "when there is one, else the CPU",
                view=devices)


def training_kwargs(params, with_seed=True):
    """The model, training parameters and device of a form's params, with
    defaults for those left empty, as the SDK's keyword arguments."""
    kwargs = {
        "model": params.get("model") or _DEFAULTS.model,
        "device": params.get("device") or _DEFAULTS.device,
    }
    for name, (default, _) in TRAINING_PARAMS.items():
        if name == "seed" and not with_seed:
            continue
        value = params.get(name)
        value = default if value is None else value
        if value is None:  # left empty, no number default: the SDK's own
            continue
        kwargs[name] = form_number(name, value, isinstance(default, float))
    return kwargs


def form_number(name, value, real):
    """A form's number as the SDK takes it: a float when ``real``, else an
    int (a float with a fraction, e.g. epochs=2.7, is refused rather than
    truncated; 3.0 from a JSON form is 3).

    Raises:
        ValueError: not a number
    """

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") \
                from None

    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    if real:
        return float(value)
    if float(value) != int(value):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    return int(value)
