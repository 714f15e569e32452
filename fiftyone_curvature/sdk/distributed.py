"""Data-parallel runs from FiftyOne: export a collection once, train on N
ranks, write the scores back (only this process talks to the database)."""

import json
import logging
import os
import shutil
import tempfile

from ..engine.config import TrackingConfig
from ..engine.constants import IMAGE_SIZE, RANK_BY, RUN_KEY
from . import views as cv_views
from .curvature_run import (
    curvature_request, record_curvature_run, validate_key,
)
from .images import PreparedData, prepare_data, validate_label_field
from .options import check_rank_by, check_samples

logger = logging.getLogger(__name__)


def export_samples(samples, label_field, export_dir, classes=None,
                   image_size=IMAGE_SIZE, progress=None):
    """Decodes a collection once into an export directory that every rank
    of a data-parallel run memory-maps (see
    :mod:`fiftyone_curvature.engine.datafile`): ``images.npy`` (N, C, H, W)
    uint8, ``targets.npy``, ``sample_ids.npy`` and ``meta.json``.

    Args:
        samples: a FiftyOne image collection
        label_field: the fo.Classification field to train on
        export_dir: the directory to write (created; an earlier export
            there is replaced); it must be readable by every rank, e.g. a
            shared file system for several machines
        classes (None): class names in index order (None: the sorted
            distinct labels)
        image_size (32): working resolution, see
            :func:`fiftyone_curvature.sdk.images.prepare_data`
        progress (None): callable receiving ``(done, total)`` while images
            are decoded

    Returns:
        the :class:`fiftyone_curvature.sdk.images.PreparedData`, whose
        ``inputs`` is the memory-mapped file

    Raises:
        ValueError / FileNotFoundError: as
            :func:`fiftyone_curvature.sdk.images.prepare_data`
    """
    from ..engine.datafile import create_images, write_index

    prepared = prepare_data(
        samples, label_field, classes=classes, image_size=image_size,
        progress=progress,
        allocate=lambda shape: create_images(export_dir, shape),
    )
    write_index(
        export_dir, prepared.inputs, prepared.targets, prepared.sample_ids,
        prepared.classes, image_size=list(prepared.image_size),
        channels=prepared.channels, resized=prepared.resized,
        dataset=samples._root_dataset.name, label_field=label_field,
        requested_image_size=image_size,
    )
    logger.info("Exported %d images of %dx%dx%d to %s",
                len(prepared.sample_ids), prepared.channels,
                *prepared.image_size, export_dir)
    return prepared


def load_prepared(export_dir):
    """The :class:`fiftyone_curvature.sdk.images.PreparedData` of an
    export directory (images memory-mapped)."""
    from ..engine.datafile import load_export

    data = load_export(export_dir)
    meta = data.meta
    return PreparedData(
        sample_ids=data.sample_ids, inputs=data.inputs,
        targets=data.targets, classes=data.classes,
        image_size=tuple(meta["image_size"]), channels=meta["channels"],
        resized=meta["resized"],
    )


def worker_args(tracking, checkpoint_dir=None):
    """The :mod:`fiftyone_curvature.engine.worker` options of a
    TrackingConfig: every field as ``--set name=<json>``."""
    args = []
    for name, value in tracking.to_dict().items():
        args += ["--set", f"{name}={json.dumps(value)}"]
    if checkpoint_dir:
        args += ["--checkpoint-dir", str(checkpoint_dir)]
    return args


def train_on_ranks(samples, label_field, classes, image_size, tracking,
                   checkpoint_dir, reporter, nproc, export_dir=None, **unused):
    """Exports ``samples``, trains on ``nproc`` local ranks and returns
    ``(PreparedData, TrackingResult)`` (the producer of an ``nproc > 1``
    :func:`fiftyone_curvature.compute_curvature`).

    Args:
        reporter: a :class:`fiftyone_curvature.sdk.progress.Progress`
        export_dir (None): where to export (None: a temporary directory,
            removed when the result is read)
    """
    from ..engine.launcher import launch

    temporary = export_dir is None
    if temporary:
        export_dir = tempfile.mkdtemp(prefix="fiftyone_curvature_export_")
    try:
        logger.info("Exporting %d images to %s...", len(samples), export_dir)
        export_samples(samples, label_field, export_dir, classes=classes,
                       image_size=image_size, progress=reporter.on_load)
        logger.info("Training on %d processes", nproc)
        result = launch(export_dir, nproc,
                        worker_args(tracking, checkpoint_dir),
                        progress=reporter.on_epoch)
        prepared = load_prepared(export_dir)
        if temporary:
            # the write-back needs the labels and ids, not the images
            prepared.inputs = None
        return prepared, result
    finally:
        if temporary:
            shutil.rmtree(export_dir, ignore_errors=True)


def write_back(samples, label_field, export_dir, curvature_field=RUN_KEY,
               thresholds=None, create_views=True, rank_by=RANK_BY,
               progress=None):
    """Writes the result of a run of the engine on an export directory
    (e.g. ``torchrun ... -m fiftyone_curvature.engine.worker DIR``) to the
    collection it was exported from, as
    :func:`fiftyone_curvature.compute_curvature` would have: the same
    brain run, fields and saved views.

    Args:
        samples: the collection that was exported (or a view holding its
            samples)
        label_field: the label field it was exported with
        export_dir: the export directory holding ``result.pt``
        curvature_field ("curvature"): the output field and run key
        thresholds (None): the saved views' thresholds
        create_views (True): whether to save the views
        rank_by ("aum"): see
            :func:`fiftyone_curvature.compute_curvature`
        progress (None): as :func:`fiftyone_curvature.compute_curvature`

    Returns:
        a :class:`fiftyone_curvature.sdk.runs.CurvatureResults`

    Raises:
        FileNotFoundError: no export or no result in ``export_dir``
        ValueError: exported samples missing from ``samples``, labels
            changed since the export, or an invalid option
    """
    from ..engine.datafile import load_result

    prepared = load_prepared(export_dir)
    result = load_result(export_dir)
    if len(result.curvature) != len(prepared.sample_ids):
        raise ValueError(
            f"The result in {export_dir!r} has {len(result.curvature)} "
            f"samples, the export {len(prepared.sample_ids)}")
    thresholds = cv_views.resolve_thresholds(thresholds)
    check_rank_by(rank_by)
    check_samples(samples)
    validate_label_field(samples, label_field)
    validate_key(samples, label_field, curvature_field)
    check_labels_unchanged(samples, label_field, prepared)
    request = curvature_request(
        label_field, curvature_field, TrackingConfig.from_dict(result.config),
        thresholds, create_views=create_views, progress=progress,
        classes=prepared.classes, image_size=_meta_image_size(export_dir),
        rank_by=rank_by)
    # the lifecycle of compute_curvature (its lock: a run of the same key
    # computing in another process is refused, not overwritten)
    return record_curvature_run(samples, request,
                                lambda reporter: (prepared, result))


def check_labels_unchanged(samples, label_field, prepared):
    """Raises ValueError unless every exported sample is in ``samples``
    with the label it was exported with."""
    ids, labels = samples.values(["id", f"{label_field}.label"])
    current = dict(zip(ids, labels))
    missing = [i for i in prepared.sample_ids if i not in current]
    if missing:
        raise ValueError(
            f"{len(missing)} exported sample(s) are not in the collection "
            f"(e.g. {missing[:3]}): write back to the collection that was "
            "exported")
    changed = [i for i, t in zip(prepared.sample_ids, prepared.targets)
               if current[i] != prepared.classes[t]]
    if changed:
        raise ValueError(
            f"The {label_field!r} labels of {len(changed)} sample(s) "
            f"changed since the export (e.g. {changed[:3]}): the scores "
            "are for the old labels; export and train again")


def _meta_image_size(export_dir):
    from ..engine.datafile import META

    with open(os.path.join(export_dir, META)) as f:
        return json.load(f).get("requested_image_size", IMAGE_SIZE)
