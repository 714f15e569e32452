"""One small run of every run kind, as (kind, request, produce) for
:func:`fiftyone_curvature.sdk.lifecycle.run_session` (imported by the
lifecycle fault tests and by their killed child processes; imports no
test configuration)."""

import functools

from fiftyone_curvature.engine.config import TrackingConfig
from fiftyone_curvature.sdk import duplicates as cv_duplicates
from fiftyone_curvature.sdk import evaluation as cv_evaluation
from fiftyone_curvature.sdk.compute import _train_here
from fiftyone_curvature.sdk.curvature_run import CURVATURE, curvature_request
from fiftyone_curvature.sdk.lifecycle import RunRequest
from fiftyone_curvature.sdk.views import resolve_thresholds

#: the run kinds, with how their result is produced
KINDS = ("compute", "writeback", "evaluation", "duplicates")

#: the key each case uses
KEYS = {"compute": "curvature", "writeback": "curvature",
        "evaluation": "ev", "duplicates": "dup"}


def tracking():
    return TrackingConfig.resolve(None, epochs=1, score_every=1)


def case(name, dataset, key=None):
    """``(kind, request, produce)`` of a small run of kind ``name`` on
    ``dataset`` (digits with ``label`` and ``ground_truth``)."""
    key = key or KEYS[name]
    if name in ("compute", "writeback"):
        t = tracking()
        request = curvature_request("label", key, t, resolve_thresholds(),
                                    progress=False)
        produce = functools.partial(_train_here, dataset, "label", None, 32,
                                    t, None)
        if name == "writeback":
            # read back like an export's result: produced once, returned
            produced = []

            def produce(reporter, _train=produce):
                if not produced:
                    produced.append(_train(reporter))
                return produced[0]

        return CURVATURE, request, produce
    if name == "evaluation":
        t = TrackingConfig.resolve(None, exclude=("seed",), epochs=1,
                                   score_every=1)
        request = RunRequest(
            "ground_truth", key, progress=False,
            options=dict(noise=0.2, kind="symmetric", seeds=[0],
                         mapping=None, classes=None, image_size=32,
                         tracking=t))
        produce = functools.partial(
            cv_evaluation.train_corrupted, dataset, "ground_truth", None,
            32, 0.2, "symmetric", [0], None, t)
        return cv_evaluation.EVALUATION, request, produce
    if name == "duplicates":
        request = RunRequest(
            "label", key, progress=False,
            options=dict(method="exact", threshold=None, ratio=None,
                         exact=True, embeddings_field=None))

        def produce(reporter):
            return cv_duplicates.search(dataset, "label", key, "exact",
                                        None, 0.0, None, True, None, False)

        return cv_duplicates.DUPLICATES, request, produce
    raise ValueError(f"Unknown kind {name!r}; valid ones are {KINDS}")
