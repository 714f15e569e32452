"""The curvature run kind: its request, key check and how it writes."""

from ..engine.constants import IMAGE_SIZE, RANK_BY
from ..engine.dynamics import SCORES
from . import views as cv_views
from .fields import write_run_fields
from .lifecycle import RunKind, RunRequest, run_session
from .progress import Progress
from .runs import (
    Curvature, CurvatureConfig, CurvatureResults, create_indexes,
    output_fields, result_kwargs,
)


class CurvatureKind(RunKind):
    """A curvature run (compute here, on ranks, or written back from an
    export): ``produce(reporter)`` returns ``(PreparedData,
    TrackingResult)``; request options: ``classes``, ``image_size``,
    ``tracking`` (a TrackingConfig), ``thresholds``, ``rank_by``,
    ``checkpoint_dir``."""

    method_cls = Curvature
    config_cls = CurvatureConfig
    noun = "a curvature run"
    what = "Curvature run"
    key_name = "curvature_field"
    key_attr = "curvature_field"

    def output_fields(self, key):
        return output_fields(key)

    def view_names(self, key):
        return cv_views.view_names(key)

    def make_config(self, request, key):
        o = request.options
        return CurvatureConfig(
            request.label_field,
            curvature_field=key,
            classes=o.get("classes"),
            image_size=o.get("image_size"),
            tracking=o["tracking"].to_dict(),
            thresholds=o["thresholds"],
            score_names=list(SCORES),
            rank_by=o.get("rank_by", RANK_BY),
            checkpoint_dir=o.get("checkpoint_dir"),
            features=o.get("features"),
        )

    def reporter(self, request):
        return Progress(request.progress, request.options["tracking"].epochs)

    def write(self, samples, request, key, produced, config, method):
        prepared, result = produced
        rank_by = config.rank_by
        write_run_fields(samples._root_dataset, key, prepared, result,
                         rank_by, shown_key=request.key)
        config.classes = prepared.classes
        config.tracking = result.config
        if config.thresholds.get("mislabeled_cutoff") is None:
            # the run's own cutoff, unless the user gave one
            config.thresholds = dict(
                config.thresholds,
                mislabeled_cutoff=cv_views.mislabeled_cutoff(
                    result, prepared.targets, rank_by))
        return CurvatureResults(
            samples, config, key, backend=method, skipped=prepared.skipped,
            **result_kwargs(prepared, result, rank_by))

    def finish_fields(self, dataset, key):
        create_indexes(dataset, key)


#: the one instance the SDK uses
CURVATURE = CurvatureKind()


def curvature_request(label_field, key, tracking, thresholds,
                      create_views=True, progress=None, classes=None,
                      image_size=IMAGE_SIZE, rank_by=RANK_BY,
                      checkpoint_dir=None, features=None):
    """The :class:`fiftyone_curvature.sdk.lifecycle.RunRequest` of a
    curvature run (arguments checked by the caller)."""
    return RunRequest(
        label_field=label_field, key=key, create_views=create_views,
        progress=progress,
        options=dict(classes=classes, image_size=image_size,
                     tracking=tracking, thresholds=thresholds,
                     rank_by=rank_by, checkpoint_dir=checkpoint_dir,
                     features=features),
    )


def record_curvature_run(samples, request, produce, hook=None):
    """Runs a curvature run of ``request`` whose ``(prepared, result)``
    come from ``produce(reporter)`` through the run lifecycle (lock,
    running mark, rollback, atomic replacement); returns its
    :class:`CurvatureResults`."""
    return run_session(samples, CURVATURE, request, produce, hook=hook)


def validate_key(samples, label_field, key):
    """Raises ValueError unless ``key`` can name a curvature run on
    ``samples`` (see :func:`fiftyone_curvature.sdk.runs.check_run_key`)."""
    CURVATURE.check_key(samples, label_field, key)
