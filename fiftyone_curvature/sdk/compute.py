"""compute_curvature: validate, then one lifecycle run (here or on ranks)."""

import dataclasses
import logging

from ..engine.checkpoint import check_checkpoint_dir
from ..engine.config import TrackingConfig
from ..engine.constants import IMAGE_SIZE, RANK_BY, RUN_KEY
from . import views as cv_views
from .curvature_run import (
    curvature_request, record_curvature_run, validate_key,
)
from .distributed import train_on_ranks
from .duplicates import resolve_duplicates_option, run_from_curvature
from .features import (
    check_owned_field, previous_description, resolve_features,
    train_on_features,
)
from .images import prepare_data, validate_label_field
from .options import (
    check_arguments, check_image_size, check_rank_by, check_samples,
    check_scoring,
)

logger = logging.getLogger(__name__)


def compute_curvature(
    samples,
    label_field,
    curvature_field=RUN_KEY,
    classes=None,
    image_size=IMAGE_SIZE,
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
    rank_by=RANK_BY,
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
      :data:`fiftyone_curvature.engine.dynamics.SCORES` (csl, final_loss,
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
            :func:`fiftyone_curvature.sdk.images.prepare_data`
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
            :func:`fiftyone_curvature.sdk.views.build_views`
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
            labels once the curvature run is complete: True (aligned),
            ``"pixels"``, ``"exact"``, ``"embeddings"`` (the penultimate
            features of the run's final network) or a dict of
            :func:`fiftyone_curvature.find_duplicate_conflicts` options
            (``method``, ``threshold``, ``exact``, ``image_size``). Writes
            ``key_duplicate_group`` / ``key_duplicate_conflict`` /
            ``key_duplicate_distance`` and the view
            ``key_duplicate_conflicts`` (groups together, highest
            curvature first), recorded as the brain run ``key_duplicates``
        rank_by ("aum"): what "memorized" means for the views:
            ``"curvature"`` or a training-dynamics score of
            :data:`fiftyone_curvature.engine.dynamics.SCORES` (e.g.
            ``"csl"``, ``"aum"``; each taken in its suspicious direction).
            AUM by default: its views found flipped labels best in every
            benchmark (digits, CIFAR-10 symmetric / asymmetric, from
            scratch and on features); curvature is written either way
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
        a :class:`fiftyone_curvature.sdk.runs.CurvatureResults` holding the
        (N, E) per-epoch curvature matrix (higher = more likely memorized),
        sample ids and training history

    The run goes through :func:`fiftyone_curvature.sdk.lifecycle.
    run_session`: it is recorded as ``status="running"`` as soon as it
    starts and ``"complete"`` once its results are saved; one process at
    a time computes a key (a lock in the database; a second one gets
    RunInProgressError naming the holder). A new key that fails leaves
    nothing. Rerunning a complete key replaces it atomically: the new run
    computes under a private key (``<key>_pending_<6 hex>``) and replaces
    the old run only once its results are saved, so a failure, Ctrl-C,
    kill or lost database before that leaves the old run exactly as it
    was (fields, views, results); samples outside the new collection end
    with no values under the key. The duplicate search (``duplicates``)
    is a run of its own once this one is complete: its failure leaves
    this run in place.

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
    check_arguments(progress=progress, classes=classes, nproc=nproc,
                    rank_by=rank_by, create_views=create_views,
                    skip_unreadable=skip_unreadable)
    tracking = TrackingConfig.resolve(
        config, model=model, epochs=epochs, probes=probes, h=h,
        score_every=score_every, device=device, seed=seed, **kwargs,
    )
    check_scoring(tracking, "A curvature run")
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
    nproc = int(nproc)
    if nproc > 1 and skip_unreadable:
        raise ValueError("skip_unreadable works in one process only "
                         "(nproc=1): fix or remove the unreadable images "
                         "before a distributed run")
    spec = resolve_features(samples, curvature_field, features)
    check_owned_field(samples, curvature_field, spec)
    if spec is not None and (nproc > 1 or skip_unreadable):
        raise ValueError("features= trains a head in one process: use "
                         "nproc=1 and skip_unreadable=False")
    train = train_on_ranks if nproc > 1 else _train_here
    produced = {}

    def produce(reporter):
        if spec is not None:
            produced["result"] = train_on_features(
                samples, label_field, classes, spec, tracking,
                checkpoint_dir, reporter,
                previous_description(samples._root_dataset,
                                     curvature_field))
        else:
            produced["result"] = train(
                samples, label_field, classes, image_size, tracking,
                checkpoint_dir, reporter, nproc=nproc,
                export_dir=export_dir, skip_unreadable=skip_unreadable)
        return produced["result"]

    request = curvature_request(
        label_field, curvature_field, tracking, thresholds,
        create_views=create_views, progress=progress, classes=classes,
        image_size=image_size, rank_by=rank_by,
        checkpoint_dir=checkpoint_dir,
        features=spec.description if spec is not None else None)
    results = record_curvature_run(samples, request, produce)
    if dup_options is not None:
        # a run of its own (its own lock, rollback and replacement): a
        # failure there leaves this complete curvature run in place
        prepared, result = produced["result"]
        run_from_curvature(samples, label_field, curvature_field,
                           dup_options, prepared.sample_ids,
                           result.embeddings)
    return results


def _train_here(samples, label_field, classes, image_size, tracking,
                checkpoint_dir, reporter, skip_unreadable=False, **unused):
    """Reads the images (the memory estimate checked before decoding) and
    trains in this process; returns ``(PreparedData, TrackingResult)``."""
    # the engine's training imports torch: kept out of the App's path
    from ..engine.memory import check_memory
    from ..engine.training import train_and_track

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


