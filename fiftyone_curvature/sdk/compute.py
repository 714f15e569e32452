"""compute_curvature: validate -> register run -> read data -> train -> write."""

import dataclasses
import logging

from ..engine.checkpoint import check_checkpoint_dir
from ..engine.config import TrackingConfig
from ..engine.dynamics import SCORES
from . import views as cv_views
from .duplicates import resolve_duplicates_option
from .images import validate_label_field
from .options import check_samples
from .progress import Progress
from .locks import run_lock
from .runs import (
    Curvature, check_run_key, create_indexes, delete_outputs, output_fields,
)

logger = logging.getLogger(__name__)


def compute_curvature(
    samples,
    label_field,
    curvature_field="curvature",
    classes=None,
    image_size=32,
    model=None,
    epochs=None,
    probes=None,
    h=None,
    score_every=None,
    device=None,
    seed=None,
    config=None,
    thresholds=None,
    create_views=True,
    checkpoint_dir=None,
    progress=None,
    duplicates=False,
    rank_by="curvature",
    skip_unreadable=False,
    nproc=1,
    export_dir=None,
    features=None,
    **kwargs,
):
    """Trains a classifier on a collection and scores every sample by the
    finite-difference curvature of its loss, tracked over training.

    The computation is recorded as a brain run whose key is
    ``curvature_field``: see ``samples.list_brain_runs()``,
    ``load_brain_results(key)`` and ``load_brain_view(key)``;
    ``delete_brain_run(key)`` removes every field and saved view it made.
    The label field and every field the run did not create stay untouched.

    Fields written (``key = curvature_field``):

    - ``key``: (float) mean curvature over the scored epochs, higher = more
      likely memorized
    - ``key_epochs``: (list of E floats) curvature at each scored epoch
    - ``key_percentile``: (float in [0, 1]) rank of ``key`` among the run's
      samples, 1 = highest curvature
    - ``key_prediction``: fo.Classification of the final network with
      confidence and logits (fiftyone-brain's ``compute_mistakenness`` and
      ``compute_hardness`` run on it unchanged)
    - ``key_suggested_label``: fo.Classification, what the network
      predicted before it memorized: the class of highest mean training
      probability over the epochs before it started fitting noise
      (confidence = that mean probability); relabeling uses it
    - ``key_memorization``: (float in [0, 1]) percentile of the
      ``rank_by`` score, 1 = most memorized; the saved views rank by it
    - ``key_<score>`` for each training-dynamics score of
      :data:`fiftyone_curvature.dynamics.SCORES` (csl, final_loss,
      in_confidence, aum, forgetting, dm_confidence, dm_variability, el2n),
      each in its own direction (aum and dm_confidence: LOW = suspicious)

    Saved views: ``<key>_top_memorized`` (the most memorized samples),
    ``<key>_likely_mislabeled`` (suggested label differs from the label,
    among the most memorized; as many samples as the run estimated wrong
    labels) and ``<key>_long_tail`` (highly memorized, suggested label
    agrees: rare or atypical, correctly labelled); see
    :func:`fiftyone_curvature.sdk.views.build_views`. The estimated number
    of wrong labels is ``results.label_review["estimated_errors"]``.

    Args:
        samples: a dataset or view of images with an fo.Classification
            field; images are read from their filepaths
        label_field: the fo.Classification field to train on (the given,
            possibly wrong, labels); every sample needs a label
        curvature_field ("curvature"): the output field and run key
        classes (None): class names in index order (None: the sorted
            distinct labels)
        image_size (32): working resolution, see
            :func:`fiftyone_curvature.data.prepare_data`
        model (None): ``"auto"``, ``"small_cnn"``, ``"small_resnet"`` or
            ``"resnet18"`` (None: the config's, by default "auto")
        epochs (None): training epochs
        probes (None): Rademacher probes per scored epoch
        h (None): finite-difference step
        score_every (None): score every k-th epoch (see also the
            ``score_from`` option)
        device (None): ``"auto"``, ``"cpu"``, ``"cuda[:i]"``
        seed (None): random seed

            (for each of these None means the config's value, by default
            :class:`fiftyone_curvature.TrackingConfig`'s)
        config (None): a :class:`fiftyone_curvature.TrackingConfig` or dict
            with any other option; the keywords above override it
        thresholds (None): the saved views' thresholds, see
            :func:`fiftyone_curvature.views.build_views`
        create_views (True): whether to save the views
        checkpoint_dir (None): directory to checkpoint every epoch and
            resume an interrupted run from
        progress (None): None/True shows a progress bar (None follows
            ``fo.config.show_progress_bars``), False shows nothing, a
            callable receives a dict per event: ``phase`` ("load" while
            images are read, "epoch" after each epoch, "write" at the end),
            ``fraction`` (0-1 of the whole run), and for epochs ``epoch``,
            ``epochs``, ``elapsed``, ``eta`` (seconds), ``train_loss``,
            ``train_accuracy``
        duplicates (False): also search duplicate images with conflicting
            labels once the curvature fields are written: True (pixels),
            ``"pixels"``, ``"exact"``, ``"embeddings"`` (the penultimate
            features of the run's final network) or a dict of
            :func:`fiftyone_curvature.find_duplicate_conflicts` options
            (``method``, ``threshold``, ``exact``, ``image_size``). Writes
            ``key_duplicate_group`` / ``key_duplicate_conflict`` /
            ``key_duplicate_distance`` and the view
            ``key_duplicate_conflicts`` (groups together, highest
            curvature first), recorded as the brain run ``key_duplicates``
        rank_by ("curvature"): what "memorized" means for the views:
            ``"curvature"`` or a training-dynamics score of
            :data:`fiftyone_curvature.engine.dynamics.SCORES` (e.g.
            ``"csl"``, ``"aum"``; each taken in its suspicious direction)
        skip_unreadable (False): leave out samples whose image cannot be
            decoded (zero-byte, truncated, not an image) instead of
            failing; they get no values and are listed in
            ``results.skipped`` (one process only)
        nproc (1): number of processes; above 1 the collection is
            exported once (see :func:`fiftyone_curvature.sdk.distributed.
            export_samples`) and ``nproc`` ranks train one
            DistributedDataParallel model on it (one per GPU on a GPU
            machine, gloo processes on the CPU), launched through torch's
            elastic launch API; only this process talks to the database
        export_dir (None): where an ``nproc > 1`` run exports the data
            (None: a temporary directory, removed afterwards)
        features (None): train a head on pretrained features instead of a
            network on ``image_size`` images (docs/features.md): the name
            of an embeddings field (a vector per sample, e.g. from
            ``samples.compute_embeddings(model, embeddings_field=...)``),
            or a model (a FiftyOne zoo model name, a fiftyone Model, a
            torch nn.Module or a constructor returning one) that embeds
            every image at its own input resolution into the field
            ``key_features``, owned by the run (a rerun with the same
            model reuses it); None: from scratch on the images. The run
            config records which (``config.features``)
        **kwargs: any other :class:`fiftyone_curvature.TrackingConfig` field

    Returns:
        a :class:`fiftyone_curvature.runs.CurvatureResults` holding the
        (N, E) per-epoch curvature matrix (higher = more likely memorized),
        sample ids and training history

    The run is recorded as ``status="running"`` as soon as it starts and
    ``"complete"`` once its results are saved. Rerunning a key replaces
    the previous run: samples outside the new collection have the key's
    fields cleared (set to None), never mixed with the new values. A run
    that fails leaves the dataset as it was: a new key is removed, a
    replaced run is restored. One process at a time computes a key (a
    lock in the database; a second one gets RunInProgressError naming
    the holder).

    Raises:
        ValueError: an invalid option, a field that is not a
            Classification, missing labels, fewer than two classes, an
            output field or saved view that exists and was not written by
            a curvature run, unreadable images (all named), or a run too
            large for the memory
        FileNotFoundError: images missing on disk
        fiftyone_curvature.TrainingDivergedError: the loss or curvature
            became NaN / inf
        fiftyone_curvature.RunInProgressError: another process is
            computing the same key
    """
    tracking = TrackingConfig.resolve(
        config, model=model, epochs=epochs, probes=probes, h=h,
        score_every=score_every, device=device, seed=seed, **kwargs,
    )
    thresholds = cv_views.resolve_thresholds(thresholds)
    check_rank_by(rank_by)
    check_samples(samples)
    validate_label_field(samples, label_field)
    validate_key(samples, label_field, curvature_field)
    dup_options = resolve_duplicates_option(samples, label_field,
                                            curvature_field, duplicates)
    if dup_options and dup_options["method"] == "embeddings":
        tracking = dataclasses.replace(tracking, record_embeddings=True)
    image_size = check_image_size(image_size)
    if checkpoint_dir is not None:
        check_checkpoint_dir(checkpoint_dir)
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an integer >= 1, got {nproc!r}")
    from .features import check_owned_field, resolve_features

    spec = resolve_features(samples, curvature_field, features)
    check_owned_field(samples, curvature_field, spec)
    if spec is not None and (nproc > 1 or skip_unreadable):
        raise ValueError("features= trains a head in one process: use "
                         "nproc=1 and skip_unreadable=False")
    if nproc > 1:
        if skip_unreadable:
            raise ValueError("skip_unreadable works in one process only "
                             "(nproc=1): fix or remove the unreadable images "
                             "before a distributed run")
        from .distributed import train_on_ranks as produce
    else:
        produce = _train_here
    with run_lock(samples._root_dataset, curvature_field):
        # another process may have changed the dataset's runs before the
        # lock was ours: check the key again on the stored state
        samples._root_dataset.reload()
        validate_key(samples, label_field, curvature_field)
        return record_curvature_run(
            samples, label_field, curvature_field, classes, image_size,
            tracking, thresholds, create_views, checkpoint_dir, progress,
            dup_options, rank_by,
            produce=(lambda reporter: produce(
                samples, label_field, classes, image_size, tracking,
                checkpoint_dir, reporter, nproc=nproc,
                export_dir=export_dir, skip_unreadable=skip_unreadable))
            if spec is None else _features_produce(
                samples, label_field, classes, spec, tracking,
                checkpoint_dir, curvature_field),
            features=spec.description if spec is not None else None,
        )


def _features_produce(samples, label_field, classes, spec, tracking,
                      checkpoint_dir, key):
    """The ``produce`` callable of a run on pretrained features."""
    from .features import previous_description, train_on_features

    previous = previous_description(samples._root_dataset, key)
    return lambda reporter: train_on_features(
        samples, label_field, classes, spec, tracking, checkpoint_dir,
        reporter, previous)


def _train_here(samples, label_field, classes, image_size, tracking,
                checkpoint_dir, reporter, skip_unreadable=False, **unused):
    """Reads the images (the memory estimate checked before decoding) and
    trains in this process; returns ``(PreparedData, TrackingResult)``."""
    from ..engine.memory import check_memory
    from ..engine.training import train_and_track
    from .images import prepare_data

    logger.info("Reading %d images...", len(samples))
    prepared = prepare_data(
        samples, label_field, classes=classes, image_size=image_size,
        progress=reporter.on_load, skip_unreadable=skip_unreadable,
        check_shape=lambda shape: check_memory(tracking, *shape),
    )
    logger.info(
        "Training on %d images of %dx%dx%d, %d classes, %d epochs",
        len(prepared.sample_ids), prepared.channels,
        *prepared.image_size, len(prepared.classes), tracking.epochs,
    )
    result = train_and_track(
        prepared.inputs, prepared.targets, tracking,
        num_classes=len(prepared.classes),
        checkpoint_dir=checkpoint_dir, progress=reporter.on_epoch,
    )
    return prepared, result


def check_rank_by(rank_by):
    """Raises ValueError unless ``rank_by`` names curvature or a
    training-dynamics score."""
    valid = ("curvature",) + tuple(SCORES)
    if rank_by not in valid:
        raise ValueError(f"Unknown rank_by {rank_by!r}; valid ones are "
                         f"{valid}")


def validate_key(samples, label_field, key):
    """Raises ValueError unless ``key`` can name a curvature run on
    ``samples`` (see :func:`fiftyone_curvature.sdk.runs.check_run_key`)."""
    check_run_key(samples, key, label_field, Curvature, "a curvature run",
                  output_fields, key_name="curvature_field",
                  views_of=cv_views.view_names)


def record_curvature_run(samples, label_field, key, classes, image_size,
                       tracking, thresholds, create_views, checkpoint_dir,
                       progress, dup_options=None, rank_by="curvature",
                       produce=None, features=None):
    """Registers the run ``key``, gets ``(prepared, result)`` from
    ``produce(reporter)`` (None: read and train here), writes the fields,
    results and views; a failure removes what a new run wrote."""
    from .fields import write_run_fields
    from .runs import CurvatureConfig, CurvatureResults, result_kwargs

    dataset = samples._root_dataset
    config = CurvatureConfig(
        label_field,
        curvature_field=key,
        classes=classes,
        image_size=image_size,
        tracking=tracking.to_dict(),
        thresholds=thresholds,
        score_names=list(SCORES),
        views=cv_views.view_names(key) if create_views else [],
        rank_by=rank_by,
        status="running",
        checkpoint_dir=checkpoint_dir,
        features=features,
    )
    method = config.build()
    previous = PreviousRun.of(dataset, key)
    method.register_run(samples, key, cleanup=False)
    reporter = Progress(progress, tracking.epochs)
    wrote = False
    try:
        with reporter:
            if produce is None:
                prepared, result = _train_here(
                    samples, label_field, classes, image_size, tracking,
                    checkpoint_dir, reporter)
            else:
                prepared, result = produce(reporter)
            reporter.on_phase("write")
            wrote = True
            clear_outside(dataset, config.output_fields(),
                          prepared.sample_ids)
            write_run_fields(dataset, key, prepared, result, rank_by)
            create_indexes(dataset, key)
            if dup_options is not None:
                from .duplicates import run_from_curvature

                run_from_curvature(samples, label_field, key, dup_options,
                                   prepared.sample_ids, result.embeddings)
        config.classes = prepared.classes
        config.tracking = result.config
        thresholds = dict(thresholds,
                          mislabeled_cutoff=cv_views.mislabeled_cutoff(
                              result, prepared.targets, rank_by))
        config.thresholds = thresholds
        method.update_run_config(samples, key, config)
        results = CurvatureResults(
            samples,
            config,
            key,
            backend=method,
            skipped=prepared.skipped,
            **result_kwargs(prepared, result, rank_by),
        )
        method.save_run_results(samples, key, results)
        # views of a replaced run that this run does not recreate
        cv_views.delete_views(dataset, [v for v in previous.views
                                        if v not in config.views])
        if create_views:
            cv_views.save_views(samples, key, label_field, thresholds)
        config.status = "complete"
        method.update_run_config(samples, key, config)
    except BaseException:
        _roll_back(samples, key, config, previous, wrote)
        raise
    logger.info("Curvature run %r complete", key)
    return results


def check_image_size(image_size):
    """``image_size`` as a Python int (or None); ValueError unless it is
    None or an integer >= 4 (NumPy integers accepted)."""
    import numbers

    if image_size is None:
        return None
    if isinstance(image_size, bool) or not isinstance(
        image_size, numbers.Integral
    ) or image_size < 4:
        raise ValueError(f"image_size must be an integer >= 4 or None, "
                         f"got {image_size!r}")
    return int(image_size)


def clear_outside(dataset, fields, sample_ids):
    """Sets ``fields`` to None on the samples of ``dataset`` that are not
    in ``sample_ids`` (the values of a replaced run on a larger
    collection, which would otherwise mix with the new ones)."""
    schema = dataset.get_field_schema()
    present = [f for f in fields if f in schema]
    if not present:
        return
    from fiftyone import ViewField as F

    outside = dataset.exclude(list(sample_ids))
    stale = outside.match(F.any([F(f).exists() for f in present]))
    if len(stale):
        stale.clear_sample_fields(present)


class PreviousRun:
    """A run about to be replaced: what is needed to restore it when its
    replacement fails before writing."""

    def __init__(self, info=None, view=None, results=None):
        self.info = info
        self.view = view
        self.results = results

    @classmethod
    def of(cls, dataset, key):
        """The complete run ``key`` of ``dataset`` (an empty one when there
        is none, or it never finished)."""
        if key not in dataset.list_brain_runs():
            return cls()
        info = dataset.get_brain_info(key)
        if getattr(info.config, "status", "complete") != "complete":
            return cls(info)
        return cls(info, dataset.load_brain_view(key),
                   dataset.load_brain_results(key, cache=False))

    @property
    def complete(self):
        return self.results is not None

    @property
    def views(self):
        return list(self.info.config.views) if self.info else []

    def restore(self, dataset, key):
        """Puts the run record back as it was."""
        Curvature.save_run_info(self.view, self.info, overwrite=True,
                                cleanup=False)
        Curvature.save_run_results(self.view, key, self.results,
                                   overwrite=True, cache=False)


def _roll_back(samples, key, config, previous, wrote):
    """Undoes what the failed run ``key`` did: restores the run it
    replaced when it failed before writing fields, else removes its
    fields, views and record. Only this run's key is touched (the lock
    keeps other processes off it)."""
    dataset = samples._root_dataset
    try:
        if previous.complete and not wrote:
            previous.restore(dataset, key)
            return
        # the view names were checked free or the replaced run's
        delete_outputs(dataset, config.output_fields(),
                       previous.views + config.views)
        if key in dataset.list_brain_runs():
            Curvature.delete_run(samples, key, cleanup=False)
    except Exception:  # never hide the run's own error
        logger.exception("Could not roll back curvature run %r", key)
