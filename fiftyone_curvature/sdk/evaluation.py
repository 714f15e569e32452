"""evaluate_corruption: flip known labels in memory, train, measure."""

import dataclasses
import logging
import time

import numpy as np

from ..engine import validation
from ..engine.config import TrackingConfig
from ..engine.constants import EVAL_KEY, IMAGE_SIZE, NOISE, RANK_BY
from ..engine.dynamics import SCORES, suspicion
from ..engine.labels import percentile_rank
from ..engine.metrics import (
    METRICS, detection_metrics, epoch_aurocs, view_quality,
)
from ..engine.noise import KINDS, inject_noise
from .evaluation_runs import (
    SCORE_NAMES, CorruptionEvaluation, CorruptionEvaluationConfig,
    CorruptionEvaluationResults, corrupted_view_name, output_fields,
)
from .features import (
    check_owned_field, prepare_features, previous_description,
    resolve_features,
)
from .fields import ranking_score, write_run_fields
from .images import prepare_data, validate_label_field
from .lifecycle import RunKind, RunRequest, run_session
from .options import (
    check_arguments, check_samples, check_scoring, check_seeds,
)
from .progress import Progress
from .runs import create_indexes, result_kwargs
from .views import resolve_thresholds

logger = logging.getLogger(__name__)


def evaluate_corruption(
    samples,
    label_field,
    noise=NOISE,
    kind=KINDS[0],
    seeds=(0,),
    key=EVAL_KEY,
    mapping=None,
    classes=None,
    image_size=IMAGE_SIZE,
    config=None,
    create_view=True,
    progress=None,
    features=None,
    **kwargs,
):
    """Injects known label noise, trains with curvature tracking and
    measures how well curvature and every training-dynamics score find the
    flipped labels.

    The user's samples and label field are never modified: the labels are
    read once, corrupted in memory (per seed), and the injected labels and
    the corrupted flag are written to fields of the run, which
    ``samples.delete_brain_run(key)`` removes with every other field and
    the saved view. The run is listed by ``samples.list_brain_runs()``
    (type ``"curvature_evaluation"``), and ``load_brain_results(key)``
    returns the :class:`CorruptionEvaluationResults`.

    Fields written (``key``; values of the FIRST seed):

    - ``key_corrupted``: (bool) whether the label was flipped
    - ``key_label``: fo.Classification, the label trained on (the injected
      one where ``key_corrupted``)
    - ``key``, ``key_epochs``, ``key_percentile``, ``key_prediction`` and
      ``key_<score>``: as :func:`fiftyone_curvature.compute_curvature`
      writes them, for the run on the injected labels (curvature: higher =
      more likely memorized)

    Saved view ``<key>_corrupted_samples``: the corrupted samples, highest
    curvature first.

    Metrics (:data:`METRICS`), for curvature and every score of
    :data:`fiftyone_curvature.engine.dynamics.SCORES` (each oriented higher =
    more suspicious), per seed and as mean and std: AUROC, average precision,
    FPR at 95% TPR, precision and recall at k = number corrupted (equal by
    construction, both kept for the table); the AUROC of the curvature of
    each scored epoch; ROC and PR curves (``results.roc_curves()``,
    ``results.pr_curves()``).

    Args:
        samples: a dataset or view of images with an fo.Classification
            field; every sample needs a label
        label_field: the field holding the (assumed clean) labels
        noise (0.1): fraction of labels to flip, in (0, 1)
        kind ("symmetric"): ``"symmetric"`` (a uniformly random other
            class) or ``"asymmetric"`` (class pairs, see ``mapping``)
        seeds ((0,)): one injection + training per seed; each seed draws
            its own corrupted set and trains with that seed
        key ("curvature_eval"): the run key and curvature field
        mapping (None): for asymmetric noise, dict class name -> class name
            (e.g. ``{"cat": "dog", "truck": "automobile"}``, only those
            classes are corrupted); None draws a random cycle through all
            classes per seed
        classes (None): class names in index order (None: sorted labels)
        image_size (32): see :func:`fiftyone_curvature.sdk.images.prepare_data`
        config (None): a :class:`fiftyone_curvature.TrackingConfig` or dict
        create_view (True): whether to save the corrupted-samples view
        progress (None): None/True shows a progress bar, False nothing, a
            callable receives dicts with ``phase`` ("load", "epoch",
            "write"), ``fraction`` (0-1 of the whole evaluation), and for
            epochs ``seed``, ``seed_index``, ``epoch``, ``epochs``, ``eta``
        **kwargs: any :class:`fiftyone_curvature.TrackingConfig` field
            (model, epochs, probes, h, score_every, device, ...) except
            ``seed``

    ``features`` (None): as :func:`fiftyone_curvature.compute_curvature`:
    an embeddings field or a model whose embeddings the run computes into
    ``key_features``; a head is trained on them for every seed (the
    embeddings are computed once). None: from scratch on the images.

    Returns:
        a :class:`CorruptionEvaluationResults`

    Raises:
        ValueError: an invalid option, a field that is not a
            Classification, missing labels, or a key whose fields exist and
            do not belong to an evaluation
    """
    tracking = TrackingConfig.resolve(config, exclude=("seed",), **kwargs)
    check_scoring(tracking)
    check_arguments(progress=progress, classes=classes)
    noise = validation.probability("noise", noise, low_open=True,
                                   high_open=True)
    validation.choice("kind", kind, KINDS)
    if mapping is not None and kind != "asymmetric":
        raise ValueError("mapping is only used with kind='asymmetric'")
    seeds = check_seeds(seeds)
    check_samples(samples, "Evaluations")
    validate_label_field(samples, label_field)
    validate_key(samples, label_field, key)
    spec = resolve_features(samples, key, features)
    check_owned_field(samples, key, spec)
    request = RunRequest(
        label_field=label_field, key=key, create_views=create_view,
        progress=progress,
        options=dict(noise=float(noise), kind=kind, seeds=seeds,
                     mapping=mapping, classes=classes,
                     image_size=image_size, tracking=tracking,
                     features=(spec.description if spec is not None
                               else None)),
    )
    previous = previous_description(samples._root_dataset, key)

    def produce(reporter):
        return train_corrupted(samples, label_field, classes, image_size,
                               float(noise), kind, seeds, mapping, tracking,
                               reporter, spec, previous)

    return run_session(samples, EVALUATION, request, produce)


def train_corrupted(samples, label_field, classes, image_size, noise, kind,
                    seeds, mapping, tracking, reporter, spec=None,
                    previous=None):
    """What an evaluation produces (options checked): the
    ``PreparedData`` of the clean labels (images, or the pretrained
    features of ``spec`` computed once) and the per-seed records of
    :func:`_train_seeds`."""
    if spec is None:
        prepared = prepare_data(samples, label_field, classes=classes,
                                image_size=image_size,
                                progress=reporter.on_load)
    else:
        prepared = prepare_features(samples, label_field, classes, spec,
                                    previous, progress=reporter.on_load)
    return prepared, _train_seeds(prepared, noise, kind, seeds, mapping,
                                  tracking, reporter)


class EvaluationKind(RunKind):
    """A corruption evaluation: ``produce(reporter)`` returns
    ``(PreparedData, per-seed records)`` (see :func:`_train_seeds`)."""

    method_cls = CorruptionEvaluation
    config_cls = CorruptionEvaluationConfig
    noun = "a corruption evaluation"
    what = "Evaluation"
    key_attr = "curvature_field"

    def output_fields(self, key):
        return output_fields(key)

    def view_names(self, key):
        return [corrupted_view_name(key)]

    def make_config(self, request, key):
        o = request.options
        return CorruptionEvaluationConfig(
            request.label_field, curvature_field=key, noise=o["noise"],
            kind=o["kind"], seeds=o["seeds"], mapping=o["mapping"],
            classes=o["classes"], image_size=o["image_size"],
            tracking=o["tracking"].to_dict(), score_names=list(SCORES),
            features=o.get("features"),
        )

    def reporter(self, request):
        o = request.options
        return Progress(request.progress, o["tracking"].epochs, o["seeds"])

    def write(self, samples, request, key, produced, config, method):
        prepared, per_seed = produced
        dataset = samples._root_dataset
        first = per_seed[0]
        write_run_fields(dataset, key, prepared, first["result"],
                         shown_key=request.key)
        _write_eval_fields(dataset, key, prepared, first)
        config.classes = prepared.classes
        config.tracking = dict(first["result"].config, seed=config.seeds[0])
        return _make_results(samples, config, key, config.seeds, prepared,
                             per_seed, method)

    def finish_fields(self, dataset, key):
        create_indexes(dataset, key, self.output_fields(key),
                       evaluation=True)


#: the one instance the SDK uses
EVALUATION = EvaluationKind()


def validate_key(samples, label_field, key):
    """Raises ValueError unless ``key`` can name an evaluation."""
    EVALUATION.check_key(samples, label_field, key)


def _train_seeds(prepared, noise, kind, seeds, mapping, tracking, reporter):
    """Per seed: inject the noise, train with tracking, measure; returns
    the list of per-seed records (see :func:`_seed_record`)."""
    # the engine's training imports torch: kept out of the App's path
    from ..engine.training import train_and_track

    num_classes = len(prepared.classes)
    mapping_idx = _mapping_indices(mapping, prepared.classes)
    per_seed = []
    for i, seed in enumerate(seeds):
        noisy, corrupted, used = inject_noise(
            prepared.targets, num_classes, noise, kind=kind,
            mapping=mapping_idx, seed=seed,
        )
        logger.info("Seed %d: %d of %d labels flipped (%s); training",
                    seed, int(corrupted.sum()), len(noisy), kind)
        reporter.start_seed(i)
        start = time.perf_counter()
        result = train_and_track(
            prepared.inputs, noisy, dataclasses.replace(tracking, seed=seed),
            num_classes=num_classes, progress=reporter.on_epoch,
        )
        seconds = time.perf_counter() - start
        per_seed.append(_seed_record(result, noisy, corrupted, used,
                                     prepared.classes, seconds,
                                     prepared.targets))
    return per_seed


def _make_results(samples, config, key, seeds, prepared, per_seed, method):
    """The :class:`CorruptionEvaluationResults` of the per-seed records
    (the inherited arrays are the first seed's)."""
    result = per_seed[0]["result"]
    return CorruptionEvaluationResults(
        samples,
        config,
        key,
        seeds=seeds,
        corrupted=np.stack([r["corrupted"] for r in per_seed]),
        clean_targets=prepared.targets,
        noisy_targets=np.stack([r["noisy"] for r in per_seed]),
        scores={
            name: np.stack([r["scores"][name] for r in per_seed])
            for name in SCORE_NAMES
        },
        metrics={
            name: {
                metric: [r["metrics"][name][metric] for r in per_seed]
                for metric in METRICS
            }
            for name in SCORE_NAMES
        },
        epoch_auroc=np.array([r["epoch_auroc"] for r in per_seed],
                             dtype=np.float64),
        mappings=[r["mapping"] for r in per_seed],
        seed_seconds=[r["seconds"] for r in per_seed],
        reviews=[r["review"] for r in per_seed],
        backend=method,
        **result_kwargs(prepared, result),
    )


def _mapping_indices(mapping, classes):
    if mapping is None:
        return None
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted(
        str(c) for pair in dict(mapping).items() for c in pair
        if c not in index
    )
    if unknown:
        raise ValueError(
            f"Classes {unknown} of the mapping are not classes of the "
            f"label field; valid ones are {classes}"
        )
    return {index[s]: index[d] for s, d in dict(mapping).items()}


def view_review(result, given, clean, corrupted, rank_by=RANK_BY,
                thresholds=None):
    """How far to trust a run's views: each view's precision and recall of
    the corrupted samples, the suggested labels' accuracy on them, and the
    estimated vs true number of wrong labels.

    Args:
        result: the engine's TrackingResult of the run on ``given``
        given: (N,) int labels trained on
        clean: (N,) int true labels
        corrupted: (N,) bool, given != true
        rank_by (RANK_BY, "aum"): the score the views rank by
        thresholds (None): the views' thresholds (None: the defaults)

    Returns:
        a dict with ``views`` (name -> :func:`view_quality` dict),
        ``likely_mislabeled_by`` (the likely-mislabeled view ranked by
        curvature, CSL or AUM instead),
        ``suggested_accuracy`` (on the corrupted samples),
        ``estimated_errors``, ``confident_joint_errors``, ``injected`` and
        ``fitting_window``
    """

    thresholds = resolve_thresholds(thresholds)
    review = result.label_review
    given, clean = np.asarray(given), np.asarray(clean)
    corrupted = np.asarray(corrupted, dtype=bool)
    memorization = percentile_rank(ranking_score(result, rank_by))
    top = np.zeros(len(given), bool)
    top[np.argsort(-memorization, kind="stable")[: thresholds["top_k"]]] = (
        True)
    agrees = review.suggested == given
    # the view is left empty when the network cannot judge the labels
    verdict = getattr(result, "verdict", None)
    judged = verdict is None or verdict.can_judge
    members = {
        "top_memorized": top,
        "likely_mislabeled": review.likely_mislabeled(memorization, given)
        & judged,
        "long_tail": agrees & (memorization
                               >= thresholds["high_percentile"]),
    }
    by_score = {}
    for name in ("curvature", "csl", "aum"):
        rank = percentile_rank(ranking_score(result, name))
        by_score[name] = view_quality(
            review.likely_mislabeled(rank, given) & judged, corrupted)
    return {
        "views": {name: view_quality(m, corrupted)
                  for name, m in members.items()},
        "likely_mislabeled_by": by_score,
        "suggested_accuracy": (
            float(np.mean(review.suggested[corrupted] == clean[corrupted]))
            if corrupted.any() else None),
        "estimated_errors": int(review.estimated_errors),
        "estimator": review.estimator,
        "aum_mixture_errors": int(review.aum_mixture_errors),
        "confident_joint_errors": int(review.confident_joint_errors),
        "injected": int(corrupted.sum()),
        "fitting_window": int(review.window),
        "verdict": verdict.to_dict() if verdict is not None else None,
    }


def _seed_record(result, noisy, corrupted, used, classes, seconds, clean):
    scores = {"curvature": np.asarray(result.curvature, np.float64)}
    for name in SCORES:
        scores[name] = np.asarray(result.scores[name], np.float64)
    metrics = {
        name: detection_metrics(corrupted, suspicion(name, values))
        for name, values in scores.items()
    }
    return {
        "result": result,
        "noisy": noisy,
        "corrupted": corrupted,
        "scores": scores,
        "metrics": metrics,
        "epoch_auroc": epoch_aurocs(corrupted, result.curvature_epochs),
        "mapping": (
            {classes[s]: classes[d] for s, d in used.items()}
            if used is not None else None
        ),
        "seconds": seconds,
        "review": view_review(result, noisy, clean, corrupted),
    }


def _write_eval_fields(dataset, key, prepared, record):
    import fiftyone as fo

    ids = prepared.sample_ids
    schema = dataset.get_field_schema()
    field = f"{key}_corrupted"
    if field not in schema:
        dataset.add_sample_field(
            field, fo.BooleanField,
            description="whether the evaluation flipped this label (first "
            "seed)",
        )
    dataset.set_values(
        field, dict(zip(ids, (bool(c) for c in record["corrupted"]))),
        key_field="id",
    )
    field = f"{key}_label"
    if field not in schema:
        dataset.add_sample_field(
            field, fo.EmbeddedDocumentField,
            embedded_doc_type=fo.Classification,
            description="the label the evaluation trained on (injected "
            "where corrupted, first seed)",
        )
    classes = prepared.classes
    dataset.set_values(
        field,
        dict(zip(ids, (fo.Classification(label=classes[int(t)])
                       for t in record["noisy"]))),
        key_field="id",
    )
