"""Pretrained features as a run's input: an embeddings field or a model.

``compute_curvature(..., features=...)`` trains a head on (N, D) feature
vectors instead of a network on 32 px images (docs/features.md):

- a field name: an existing embeddings field (a list / array per sample,
  e.g. from ``dataset.compute_embeddings(model, embeddings_field=...)``);
- a model: a FiftyOne zoo model name, a ``fiftyone.core.models.Model``, a
  torch ``nn.Module`` or a constructor returning one (called without
  arguments; ``functools.partial`` chooses weights). The run embeds every
  image at the model's own input resolution, read at full resolution from
  its filepath, into the field ``<key>_features`` that the run owns
  (deleting the run deletes it; a rerun of the key with the same model
  reuses it).

Torch is imported inside the functions that need it.
"""

import hashlib
import logging

import numpy as np

logger = logging.getLogger(__name__)

#: the side images are resized to for a torch module without an
#: ``image_size`` attribute (the ImageNet models' input)
DEFAULT_MODEL_SIZE = 224


def features_field(key):
    """The field a run ``key`` embeds into when given a model."""
    return f"{key}_features"


class FeatureSpec:
    """What ``features=`` resolved to.

    Attributes:
        kind: ``"field"`` or ``"model"``
        field: the embeddings field read (the user's, or the run's own
            ``<key>_features`` for a model)
        owned: whether the run owns ``field`` (it computed it)
        description: how the run config records it (JSON-able dict)
        model: the model object (None for a field)
    """

    def __init__(self, kind, field, owned, description, model=None):
        self.kind = kind
        self.field = field
        self.owned = owned
        self.description = description
        self.model = model


def resolve_features(samples, key, features):
    """Validates ``features`` and returns a :class:`FeatureSpec` (None for
    ``features=None``: the from-scratch path).

    Raises:
        ValueError: a field name that does not exist or holds no vectors,
            or an object that is not a model
    """
    if features is None:
        return None
    if isinstance(features, str):
        schema = samples.get_field_schema()
        if features in schema:
            return FeatureSpec("field", features, False,
                               {"field": features})
        return _zoo_spec(key, features, schema)
    try:
        import fiftyone.core.models as fom

        if isinstance(features, fom.Model):
            return _model_spec(key, features, _describe_fo_model(features))
    except ImportError:  # pragma: no cover
        pass
    import torch

    if isinstance(features, torch.nn.Module):
        return _model_spec(key, features, _describe_module(features))
    if callable(features):
        name = _callable_name(features)
        model = features()
        if not isinstance(model, torch.nn.Module):
            raise ValueError(
                f"features={name} returned {type(model).__name__}, not a "
                "torch nn.Module")
        return _model_spec(key, model, dict(_describe_module(model),
                                            constructor=name))
    raise ValueError(
        f"features must be None, an embeddings field name, a FiftyOne zoo "
        f"model name, a fiftyone Model, a torch nn.Module or a constructor "
        f"returning one; got {type(features).__name__}")


def _zoo_spec(key, name, schema):
    import fiftyone.zoo as foz

    try:
        known = name in foz.list_zoo_models()
    except Exception:  # the zoo manifest may not load offline
        known = False
    if not known:
        fields = sorted(n for n in schema if not n.startswith("_"))
        raise ValueError(
            f"features={name!r} is neither a field of the collection "
            f"({fields}) nor a FiftyOne zoo model name")
    return _model_spec(key, foz.load_zoo_model(name),
                       {"model": f"zoo:{name}"})


def _model_spec(key, model, description):
    field = features_field(key)
    return FeatureSpec("model", field, True,
                       dict(description, field=field), model)


def _callable_name(fn):
    import functools

    if isinstance(fn, functools.partial):
        return (f"partial({_callable_name(fn.func)}, args={fn.args!r}, "
                f"kwargs={fn.keywords!r})")
    module = getattr(fn, "__module__", "?")
    return f"{module}.{getattr(fn, '__qualname__', repr(fn))}"


def _describe_fo_model(model):
    return {"model": f"fiftyone:{type(model).__module__}."
                     f"{type(model).__qualname__}",
            "config": repr(getattr(model, "config", None))[:500]}


def _describe_module(module):
    """The class, input size and a hash of the weights of a torch module
    (so that a rerun reuses embeddings only from the same weights)."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        h.update(name.encode())
        flat = t.detach().reshape(-1).float().cpu()
        h.update(flat[:: max(1, len(flat) // 1000)].numpy().tobytes())
    return {"model": f"torch:{type(module).__module__}."
                     f"{type(module).__qualname__}",
            "image_size": model_input_size(module),
            "weights_sha256": h.hexdigest()[:16]}


def model_input_size(module):
    """The side a torch module embeds images at: its ``image_size``
    attribute (an int or (H, W)), else :data:`DEFAULT_MODEL_SIZE`."""
    size = getattr(module, "image_size", None)
    if isinstance(size, (tuple, list)):
        size = size[0]
    return int(size) if size else DEFAULT_MODEL_SIZE


def verdict_sentence(label_review):
    """One sentence on whether the network can judge the labels, from a
    run's stored ``label_review`` dict ("" when the run has no verdict)."""
    v = (label_review or {}).get("verdict")
    if not v:
        return ""
    acc = f"held-out accuracy {v['heldout_accuracy']:.0%}"
    if v["can_judge"]:
        return (f"The network can judge these labels ({acc}, separation "
                f"{v['separation']:.2f}).")
    return (f"The network cannot judge these labels ({acc}, separation "
            f"{v['separation']:.2f}; needs {v['rule']}): the "
            "likely-mislabeled view is left empty; use pretrained features "
            "(features=...).")


# ------------------------------------------------------------------ embed


def module_embeddings(module, x):
    """(B, D) embeddings of a batch of normalised images by a torch module:
    pooled ``extract_features`` when it has one (EfficientNet), the input
    of ``fc`` / ``classifier`` / ``heads`` for torchvision classifiers
    (the penultimate features), else its flattened output."""
    import torch

    if hasattr(module, "extract_features"):
        f = module.extract_features(x)
        return f.mean((2, 3)) if f.ndim == 4 else f.flatten(1)
    for name in ("fc", "classifier", "heads", "head"):
        last = getattr(module, name, None)
        if isinstance(last, torch.nn.Module) and not isinstance(
                last, torch.nn.Identity):
            grabbed = {}
            hook = last.register_forward_pre_hook(
                lambda m, args: grabbed.setdefault("x", args[0]))
            try:
                module(x)
            finally:
                hook.remove()
            return grabbed["x"].flatten(1)
    return module(x).flatten(1)


def embed_images(module, paths, progress=None, batch_size=32):
    """Embeds images read at full resolution from ``paths`` with a torch
    module, resized to its input size (:func:`model_input_size`) and
    normalised with its ``input_mean`` / ``input_std`` attributes (0-255
    scale) when present, else the ImageNet mean / std.

    Args:
        module: a torch nn.Module (eval mode is set)
        paths: N image paths
        progress (None): callable receiving ``(done, total)``

    Returns:
        an (N, D) float32 array
    """
    import torch
    from PIL import Image

    size = model_input_size(module)
    mean = torch.tensor(getattr(module, "input_mean",
                                (0.485 * 255, 0.456 * 255, 0.406 * 255)),
                        dtype=torch.float32)[None, :, None, None]
    std = torch.tensor(getattr(module, "input_std",
                               (0.229 * 255, 0.224 * 255, 0.225 * 255)),
                       dtype=torch.float32)[None, :, None, None]
    module = module.eval()
    try:
        device = next(module.parameters()).device
    except StopIteration:
        device = torch.device("cpu")
    out = []
    with torch.no_grad():
        for s in range(0, len(paths), batch_size):
            batch = []
            for p in paths[s:s + batch_size]:
                with Image.open(p) as im:
                    im = im.convert("RGB").resize((size, size),
                                                  Image.BILINEAR)
                    batch.append(np.asarray(im))
            x = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)
            x = (x.float() - mean) / std
            out.append(module_embeddings(module, x.to(device)).float()
                       .cpu().numpy())
            if progress is not None:
                progress(min(s + batch_size, len(paths)), len(paths))
    return np.concatenate(out).astype(np.float32)


def ensure_embeddings(samples, spec, previous_description=None,
                      progress=None):
    """Computes the run-owned embeddings of a model spec into
    ``spec.field`` for the samples that lack them; all of them again when
    the field was made by another model (``previous_description``, the
    description the key's previous run recorded)."""
    from fiftyone import ViewField as F

    dataset = samples._root_dataset
    same = (previous_description is not None
            and previous_description == spec.description)
    if spec.field in dataset.get_field_schema() and same:
        todo = samples.match(~F(spec.field).exists())
    else:
        todo = samples
    if not len(todo):
        logger.info("Reusing the embeddings in %r", spec.field)
        return 0
    logger.info("Embedding %d images into %r", len(todo), spec.field)
    import fiftyone.core.models as fom

    if isinstance(spec.model, fom.Model):
        todo.compute_embeddings(spec.model, embeddings_field=spec.field,
                                progress=progress is not None or None)
        return len(todo)
    ids, paths = todo.values(["id", "filepath"])
    emb = embed_images(spec.model, paths, progress=progress)
    dataset.set_values(spec.field, dict(zip(ids, [list(map(float, e))
                                                  for e in emb])),
                       key_field="id")
    return len(ids)


def read_features(samples, field):
    """(N, D) float32 features of ``samples`` from ``field`` in the order
    of ``samples.values("id")``.

    Raises:
        ValueError: samples without a vector, or vectors of different
            lengths
    """
    ids, values = samples.values(["id", field])
    missing = [i for i, v in zip(ids, values) if v is None]
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(ids)} samples have no {field!r} "
            f"embedding (e.g. {missing[:3]}); compute it for every sample "
            f"(samples.compute_embeddings(model, embeddings_field="
            f"{field!r})) or run on samples.exists({field!r})")
    lengths = {len(np.ravel(v)) for v in values}
    if len(lengths) != 1:
        raise ValueError(f"The {field!r} embeddings have different "
                         f"lengths {sorted(lengths)[:5]}; they must agree")
    x = np.stack([np.ravel(np.asarray(v, dtype=np.float32))
                  for v in values])
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).all(axis=1))
        raise ValueError(f"{len(bad)} {field!r} embedding(s) hold NaN or "
                         f"inf (e.g. samples {[ids[i] for i in bad[:3]]})")
    return ids, x


def prepare_features(samples, label_field, classes, spec, previous=None,
                     progress=None):
    """The :class:`fiftyone_curvature.sdk.images.PreparedData` of a
    features run: (N, D) float32 inputs (``image_size`` None, channels
    0)."""
    from .images import PreparedData, read_targets

    if spec.owned:
        ensure_embeddings(samples, spec, previous, progress)
    ids, targets, classes = read_targets(samples, label_field, classes)
    _, x = read_features(samples, spec.field)
    return PreparedData(
        sample_ids=list(ids), inputs=x, targets=targets,
        classes=classes, image_size=None, channels=0, resized=False)


def train_on_features(samples, label_field, classes, spec, tracking,
                      checkpoint_dir, reporter, previous=None):
    """The ``produce`` of a features run: embeddings (computed or read),
    then the head trained and tracked here; returns ``(PreparedData,
    TrackingResult)``."""
    from ..engine.training import train_and_track

    prepared = prepare_features(samples, label_field, classes, spec,
                                previous, progress=reporter.on_load)
    logger.info("Training a head on %d feature vectors of %d numbers, "
                "%d classes", *prepared.inputs.shape, len(prepared.classes))
    result = train_and_track(
        prepared.inputs, prepared.targets, tracking,
        num_classes=len(prepared.classes), checkpoint_dir=checkpoint_dir,
        progress=reporter.on_epoch)
    # the duplicate finder's "embeddings" method compares the pretrained
    # features themselves, not the head's hidden layer
    result.embeddings = prepared.inputs
    return prepared, result


def previous_description(dataset, key):
    """The features description the previous run of ``key`` recorded (None
    when there is none)."""
    if key not in dataset.list_brain_runs():
        return None
    return getattr(dataset.get_brain_info(key).config, "features", None)


def check_owned_field(samples, key, spec):
    """Raises ValueError when the field a model spec would write exists
    and does not belong to the run ``key``."""
    if spec is None or not spec.owned:
        return
    dataset = samples._root_dataset
    if spec.field not in dataset.get_field_schema():
        return
    prev = previous_description(dataset, key)
    if not (prev and prev.get("field") == spec.field):
        raise ValueError(
            f"Field {spec.field!r} exists and was not written by curvature "
            f"run {key!r}; choose another curvature_field or delete that "
            "field")
