"""The compute form's estimate of a run's duration (cheap: a few timed
steps of the run's model, cached; torch is imported only when a form asks,
never when the App loads the plugin)."""

import dataclasses
import logging

import fiftyone.operators.types as types

logger = logging.getLogger(__name__)

#: images the form opens to learn the size and channels
_PEEK = 3


def _image_shape(samples):
    """(smallest side in px, channels) of the first few images, or None."""
    from PIL import Image

    from ..sdk.images import GRAY_MODES

    sides, gray = [], True
    for path in samples.limit(_PEEK).values("filepath"):
        try:
            with Image.open(path) as im:
                sides.append(min(im.size))
                gray = gray and im.mode in GRAY_MODES
        except OSError:
            continue
    return (min(sides), 1 if gray else 3) if sides else None


def run_estimate(samples, label_field, kwargs):
    """The engine's estimate (a dict, see
    :func:`fiftyone_curvature.engine.estimate.estimate_run_seconds`) of a
    run on ``samples`` with the form's SDK ``kwargs``, or None when the
    samples give nothing to go on."""
    # torch: imported here, when a form asks, not when the App starts
    from ..engine.config import TrackingConfig
    from ..engine.estimate import estimate_run_seconds

    shape = _image_shape(samples)
    n = len(samples)
    if shape is None or n == 0:
        return None
    side, channels = shape
    size = min(side, int(kwargs.get("image_size") or side))
    classes = max(2, len(samples.distinct(f"{label_field}.label")))
    names = {f.name for f in dataclasses.fields(TrackingConfig)}
    options = {k: v for k, v in kwargs.items() if k in names}
    return estimate_run_seconds(n, size, channels, classes,
                                seeds=int(kwargs.get("num_seeds") or 1),
                                **options)


def estimate_notice(ctx, inputs, label_field, kwargs):
    """Adds a notice "Estimated duration: about ..." to the form (nothing
    when it cannot be estimated; a form never fails on it)."""
    from ..engine.estimate import describe_seconds

    try:
        est = run_estimate(ctx.target_view(), label_field, kwargs)
    except Exception:  # an incomplete or invalid form: no estimate
        logger.debug("No estimate", exc_info=True)
        return None
    if est is None:
        return None
    inputs.view("estimate", types.Notice(label=(
        f"Estimated duration: {describe_seconds(est['seconds'])} on this "
        f"machine now ({est['model']}, {est['scored_epochs']} scored "
        f"epochs; one epoch trains in {est['train_epoch']:.1f} s, one "
        f"scoring pass {est['score_pass']:.1f} s). Runs longer than a few "
        "minutes: Schedule them rather than wait in this dialog")))
    return est
