"""Corruption-injection evaluation: flip known labels, train, measure."""

import dataclasses
import logging
import math

import numpy as np

import fiftyone.core.utils as fou

from . import runs as cv_runs
from .dynamics import SCORES, suspicion
from .metrics import (  # noqa: F401  (re-exported)
    pr_points,
    precision_recall_at_k,
    roc_points,
)

logger = logging.getLogger(__name__)

#: noise kinds of :func:`inject_noise`
KINDS = ("symmetric", "asymmetric")

#: detection metrics computed for every score, in table order
METRICS = ("auroc", "ap", "fpr95", "precision_at_k", "recall_at_k")

#: score names of an evaluation, in table order (curvature first)
SCORE_NAMES = ("curvature",) + tuple(SCORES)

#: points of the fixed grids the mean ROC / PR curves are sampled on
CURVE_POINTS = 101


# --------------------------------------------------------------------------
# noise injection (pure numpy)


def random_mapping(num_classes, rng):
    """A random class-pair mapping for asymmetric noise: one random cycle
    through all classes, so no class maps to itself.

    Args:
        num_classes: K >= 2
        rng: a ``numpy.random.Generator``

    Returns:
        a dict source index -> target index
    """
    perm = rng.permutation(num_classes)
    return {
        int(perm[i]): int(perm[(i + 1) % num_classes])
        for i in range(num_classes)
    }


def inject_noise(targets, num_classes, noise, kind="symmetric", mapping=None,
                 seed=0):
    """Flips a known random fraction of labels.

    Args:
        targets: (N,) int class indices, the labels to corrupt (not
            modified)
        num_classes: K
        noise: fraction of labels to flip, in (0, 1)
        kind ("symmetric"): ``"symmetric"``: round(noise * N) samples drawn
            uniformly get a uniformly random OTHER class;
            ``"asymmetric"``: in each source class of ``mapping``,
            round(noise * n_class) samples get the mapped class
        mapping (None): for asymmetric noise, a dict source index -> target
            index (may cover only some classes); None draws a random cycle
            through all classes (:func:`random_mapping`)
        seed (0): seed of the draw

    Returns:
        a tuple ``(noisy, corrupted, mapping)``: (N,) int64 labels with the
        flips, (N,) bool True where the label was flipped, and the mapping
        used (None for symmetric noise)

    Raises:
        ValueError: an invalid fraction, kind or mapping, or no sample to
            flip
    """
    y = np.asarray(targets, dtype=np.int64)
    if not 0.0 < float(noise) < 1.0:
        raise ValueError(f"noise must be in (0, 1), got {noise!r}")
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; valid ones are {KINDS}")
    if num_classes < 2:
        raise ValueError("Noise injection needs at least two classes")
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    corrupted = np.zeros(len(y), dtype=bool)
    if kind == "symmetric":
        if mapping is not None:
            raise ValueError("mapping is only used with kind='asymmetric'")
        k = int(round(noise * len(y)))
        idx = rng.choice(len(y), size=k, replace=False)
        noisy[idx] = (y[idx] + rng.integers(1, num_classes, size=k)) % (
            num_classes
        )
        corrupted[idx] = True
        used = None
    else:
        used = (random_mapping(num_classes, rng) if mapping is None
                else _check_mapping(mapping, num_classes))
        for src in sorted(used):
            members = np.flatnonzero(y == src)
            k = int(round(noise * len(members)))
            idx = rng.choice(members, size=k, replace=False)
            noisy[idx] = used[src]
            corrupted[idx] = True
    if not corrupted.any():
        raise ValueError(
            f"noise={noise} flips no label of these {len(y)} samples; use a "
            "larger fraction"
        )
    return noisy, corrupted, used


def _check_mapping(mapping, num_classes):
    used = {}
    for src, dst in dict(mapping).items():
        src, dst = int(src), int(dst)
        for c in (src, dst):
            if not 0 <= c < num_classes:
                raise ValueError(
                    f"Class index {c} of the mapping is outside "
                    f"[0, {num_classes})"
                )
        if src == dst:
            raise ValueError(f"The mapping sends class {src} to itself")
        used[src] = dst
    if not used:
        raise ValueError("The mapping is empty")
    return used


# --------------------------------------------------------------------------
# curves on fixed grids (averaged over seeds)


def _roc_on_grid(is_positive, scores, grid):
    points = roc_points(is_positive, scores)
    if points is None:
        return None
    fpr, tpr = points
    return np.interp(grid, fpr, tpr)


def _pr_on_grid(is_positive, scores, grid):
    """Interpolated precision (best precision at recall >= r) on a recall
    grid."""
    points = pr_points(is_positive, scores)
    if points is None:
        return None
    recall, precision = points[0][::-1], points[1][::-1]
    best = np.maximum.accumulate(precision[::-1])[::-1]
    idx = np.searchsorted(recall, grid, side="left")
    idx = np.clip(idx, 0, len(best) - 1)
    return best[idx]


def detection_metrics(is_positive, scores):
    """Every metric of :data:`METRICS` for one score.

    Args:
        is_positive: (N,) bool, True for a corrupted sample
        scores: (N,) float, higher = more suspicious

    Returns:
        a dict metric -> float or None; precision and recall are at
        k = number of positives
    """
    from .metrics import auroc, average_precision, fpr_at_tpr

    precision, recall = precision_recall_at_k(is_positive, scores)
    return {
        "auroc": auroc(is_positive, scores),
        "ap": average_precision(is_positive, scores),
        "fpr95": fpr_at_tpr(is_positive, scores),
        "precision_at_k": precision,
        "recall_at_k": recall,
    }


def _mean_std(values):
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), float(np.std(finite))


# --------------------------------------------------------------------------
# the run record


def output_fields(key, score_names=None):
    """The sample fields an evaluation with key ``key`` writes: those of a
    curvature run (:func:`fiftyone_curvature.runs.output_fields`) plus
    ``key_corrupted`` and ``key_label``."""
    return cv_runs.output_fields(key, score_names) + [
        f"{key}_corrupted",
        f"{key}_label",
    ]


def corrupted_view_name(key):
    """Name of the saved view of an evaluation's corrupted samples."""
    return f"{key}_corrupted_samples"


class CorruptionEvaluationConfig(cv_runs.CurvatureConfig):
    """Configuration of a corruption-injection evaluation.

    A curvature run (so the curvature operators list, load, describe and
    delete it) trained on injected labels.

    Args:
        label_field: the user's fo.Classification field the clean labels
            were read from (never modified)
        curvature_field ("curvature_eval"): the run key and curvature field
        noise (0.1): fraction of labels flipped
        kind ("symmetric"): ``"symmetric"`` or ``"asymmetric"``
        seeds ((0,)): one training + injection per seed; the sample fields
            hold the first seed's
        mapping (None): the asymmetric class mapping given by the user
            (class name -> class name), None for a random one per seed
        **kwargs: see :class:`fiftyone_curvature.runs.CurvatureConfig`
    """

    def __init__(
        self,
        label_field,
        curvature_field="curvature_eval",
        noise=0.1,
        kind="symmetric",
        seeds=(0,),
        mapping=None,
        **kwargs,
    ):
        super().__init__(label_field, curvature_field=curvature_field,
                         **kwargs)
        self.noise = float(noise)
        self.kind = kind
        self.seeds = [int(s) for s in seeds]
        self.mapping = dict(mapping) if mapping else None

    @property
    def type(self):
        return "curvature_evaluation"

    def output_fields(self, key=None):
        """The sample fields this evaluation writes (under ``key``, by
        default its own)."""
        return output_fields(key or self.curvature_field, self.score_names)


class CorruptionEvaluation(cv_runs.Curvature):
    """A corruption-injection evaluation run."""

    _RUN_NOUN = "evaluation"

    def _save_views(self, samples, brain_key, key):
        return [_save_corrupted_view(samples, key)]


class CorruptionEvaluationResults(cv_runs.CurvatureResults):
    """What an evaluation keeps: per-seed corruption, scores and metrics.

    The inherited arrays (``curvature``, ``curvature_epochs``, ``history``,
    ...) are the FIRST seed's, matching the sample fields. Beyond them:

    Args:
        seeds: the S seeds
        corrupted: (S, N) bool, True where seed s flipped the label
        clean_targets: (N,) int, the labels read from the label field
        noisy_targets: (S, N) int, the labels trained on
        scores: dict name -> (S, N) float, curvature and every
            training-dynamics score in its own direction (see
            :data:`fiftyone_curvature.dynamics.SCORES`; curvature: higher =
            more likely memorized)
        metrics: dict score -> metric -> list of S floats (None where
            undefined), see :data:`METRICS`
        epoch_auroc: (S, E) AUROC of the curvature of each scored epoch
        mappings: per seed, the asymmetric mapping used (class name ->
            class name) or None
        seed_seconds: per seed, wall time of training + scoring
        **kwargs: see :class:`fiftyone_curvature.runs.CurvatureResults`
    """

    _EVAL_ARRAYS = ("corrupted", "clean_targets", "noisy_targets",
                    "epoch_auroc")

    def __init__(
        self,
        samples,
        config,
        brain_key,
        seeds,
        corrupted,
        clean_targets,
        noisy_targets,
        scores,
        metrics,
        epoch_auroc,
        mappings=None,
        seed_seconds=None,
        **kwargs,
    ):
        super().__init__(samples, config, brain_key, **kwargs)
        self.seeds = [int(s) for s in seeds]
        self.corrupted = np.asarray(corrupted, dtype=bool)
        self.clean_targets = np.asarray(clean_targets, dtype=np.int64)
        self.noisy_targets = np.asarray(noisy_targets, dtype=np.int64)
        self.scores = {
            name: np.asarray(values, dtype=np.float32)
            for name, values in scores.items()
        }
        self.metrics = metrics
        self.epoch_auroc = np.asarray(epoch_auroc, dtype=np.float64)
        self.mappings = list(mappings) if mappings else [None] * len(
            self.seeds)
        self.seed_seconds = list(seed_seconds or [])

    @property
    def score_names(self):
        """Score names in table order (curvature first)."""
        return [n for n in SCORE_NAMES if n in self.scores]

    def summary(self):
        """Mean and std over seeds of every metric of every score.

        Returns:
            a dict score -> metric -> ``{"mean", "std", "values"}``
            (mean/std None where undefined)
        """
        out = {}
        for name in self.score_names:
            out[name] = {}
            for metric in METRICS:
                values = self.metrics[name][metric]
                mean, std = _mean_std(values)
                out[name][metric] = {"mean": mean, "std": std,
                                     "values": list(values)}
        return out

    def suspicion(self, name, seed_index=0):
        """(N,) score ``name`` of one seed oriented higher = more
        suspicious."""
        return suspicion(name, self.scores[name][seed_index])

    def roc_curves(self, names=None):
        """Mean ROC curve over seeds of each score, on a fixed FPR grid.

        Returns:
            a dict name -> ``{"fpr", "tpr", "tpr_std"}`` lists of
            :data:`CURVE_POINTS` floats
        """
        grid = np.linspace(0.0, 1.0, CURVE_POINTS)
        return self._curves(names, grid, _roc_on_grid, "fpr", "tpr")

    def pr_curves(self, names=None):
        """Mean (interpolated) precision-recall curve over seeds of each
        score, on a fixed recall grid.

        Returns:
            a dict name -> ``{"recall", "precision", "precision_std"}``
        """
        grid = np.linspace(0.0, 1.0, CURVE_POINTS)
        return self._curves(names, grid, _pr_on_grid, "recall",
                            "precision")

    def _curves(self, names, grid, fn, xname, yname):
        out = {}
        for name in names or self.score_names:
            ys = [
                fn(self.corrupted[s], self.suspicion(name, s), grid)
                for s in range(len(self.seeds))
            ]
            ys = [y for y in ys if y is not None]
            if not ys:
                continue
            ys = np.stack(ys)
            out[name] = {
                xname: grid.tolist(),
                yname: ys.mean(axis=0).tolist(),
                f"{yname}_std": ys.std(axis=0).tolist(),
            }
        return out

    def epoch_auroc_summary(self):
        """Per scored epoch, mean and std over seeds of the curvature AUROC.

        Returns:
            a dict with ``epochs`` (E ints), ``mean`` and ``std`` (E floats)
        """
        a = self.epoch_auroc
        return {
            "epochs": list(self.scored_epochs),
            "mean": np.nanmean(a, axis=0).tolist() if a.size else [],
            "std": np.nanstd(a, axis=0).tolist() if a.size else [],
        }

    def to_summary_dict(self):
        """A JSON-able summary (what ``evaluate --json`` prints)."""
        return {
            "key": self.key,
            "n": int(self.num_samples),
            "noise": self.config.noise,
            "kind": self.config.kind,
            "seeds": list(self.seeds),
            "num_corrupted": [int(c.sum()) for c in self.corrupted],
            "scores": self.summary(),
            "epoch_auroc": self.epoch_auroc_summary(),
            "seconds": [float(s) for s in self.seed_seconds],
            "views": list(self.config.views),
        }

    def table(self, metrics=("auroc", "ap", "fpr95", "precision_at_k")):
        """The metrics table as text: one row per score, ``mean ± std``
        over seeds per column."""
        from .metrics import format_summary_table

        return format_summary_table(self.summary(), self.score_names,
                                    len(self.seeds), metrics)

    def get_meta(self):
        meta = super().get_meta()
        summary = self.summary()
        meta["curvature_auroc"] = summary["curvature"]["auroc"]["mean"]
        return meta

    def attributes(self):
        return [a for a in super().attributes()
                if a not in self._EVAL_ARRAYS + ("scores",)]

    def serialize(self, reflective=False):
        d = super().serialize(reflective=reflective)
        for name in self._EVAL_ARRAYS:
            d[name] = fou.serialize_numpy_array(getattr(self, name),
                                                ascii=True)
        d["scores"] = {
            name: fou.serialize_numpy_array(values, ascii=True)
            for name, values in self.scores.items()
        }
        return d

    @classmethod
    def _from_dict(cls, d, samples, config, brain_key):
        arrays = {
            name: fou.deserialize_numpy_array(d[name], ascii=True)
            for name in cls._ARRAY_FIELDS + cls._EVAL_ARRAYS
        }
        scores = {
            name: fou.deserialize_numpy_array(values, ascii=True)
            for name, values in d["scores"].items()
        }
        return cls(
            samples,
            config,
            brain_key,
            seeds=d["seeds"],
            scores=scores,
            metrics=d["metrics"],
            mappings=d.get("mappings"),
            seed_seconds=d.get("seed_seconds"),
            scored_epochs=d["scored_epochs"],
            history=d["history"],
            classes=d["classes"],
            image_size=d.get("image_size"),
            normalization=d.get("normalization"),
            train_seconds=d.get("train_seconds"),
            score_seconds=d.get("score_seconds"),
            **arrays,
        )


# --------------------------------------------------------------------------
# the public function


def evaluate_corruption(
    samples,
    label_field,
    noise=0.1,
    kind="symmetric",
    seeds=(0,),
    key="curvature_eval",
    mapping=None,
    classes=None,
    image_size=32,
    config=None,
    create_view=True,
    progress=None,
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
    :data:`fiftyone_curvature.dynamics.SCORES` (each oriented higher = more
    suspicious), per seed and as mean and std: AUROC, average precision,
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
        image_size (32): see :func:`fiftyone_curvature.data.prepare_data`
        config (None): a :class:`fiftyone_curvature.TrackingConfig` or dict
        create_view (True): whether to save the corrupted-samples view
        progress (None): None/True shows a progress bar, False nothing, a
            callable receives dicts with ``phase`` ("load", "epoch",
            "write"), ``fraction`` (0-1 of the whole evaluation), and for
            epochs ``seed``, ``seed_index``, ``epoch``, ``epochs``, ``eta``
        **kwargs: any :class:`fiftyone_curvature.TrackingConfig` field
            (model, epochs, probes, h, score_every, device, ...) except
            ``seed``

    Returns:
        a :class:`CorruptionEvaluationResults`

    Raises:
        ValueError: an invalid option, a field that is not a
            Classification, missing labels, or a key whose fields exist and
            do not belong to an evaluation
    """
    from .config import TrackingConfig
    from .data import validate_label_field

    if config is None:
        tracking = TrackingConfig()
    elif isinstance(config, dict):
        tracking = TrackingConfig.from_dict(config)
    elif isinstance(config, TrackingConfig):
        tracking = config
    else:
        raise ValueError(
            f"config must be a TrackingConfig or dict, got {type(config)}"
        )
    names = {f.name for f in dataclasses.fields(TrackingConfig)}
    if "seed" in kwargs:
        raise ValueError("Pass seeds=[...] instead of seed")
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown}; valid ones are "
            f"{sorted(names - {'seed'})}"
        )
    tracking = dataclasses.replace(tracking, **kwargs).validate()
    if tracking.score_every == 0:
        raise ValueError("An evaluation needs curvature: score_every >= 1")
    if not 0.0 < float(noise) < 1.0:
        raise ValueError(f"noise must be in (0, 1), got {noise!r}")
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; valid ones are {KINDS}")
    if mapping is not None and kind != "asymmetric":
        raise ValueError("mapping is only used with kind='asymmetric'")
    if isinstance(seeds, int):
        seeds = [seeds]
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got "
                         f"{seeds}")
    if samples._is_generated:
        raise ValueError("Evaluations run on samples; patches, frames and "
                         "clips views are not supported")
    validate_label_field(samples, label_field)
    _validate_key(samples, label_field, key)
    return _evaluate_corruption(
        samples, label_field, float(noise), kind, seeds, key, mapping,
        classes, image_size, tracking, create_view, progress,
    )


def _validate_key(samples, label_field, key):
    from .runs import check_run_key

    check_run_key(samples, key, label_field, CorruptionEvaluation,
                  "a corruption evaluation", output_fields)


def _evaluate_corruption(samples, label_field, noise, kind, seeds, key,
                         mapping, classes, image_size, tracking,
                         create_view, progress):
    import time

    from .core import _write_fields
    from .data import prepare_data
    from .training import train_and_track

    dataset = samples._root_dataset
    config = CorruptionEvaluationConfig(
        label_field,
        curvature_field=key,
        noise=noise,
        kind=kind,
        seeds=seeds,
        mapping=mapping,
        classes=classes,
        image_size=image_size,
        tracking=tracking.to_dict(),
        score_names=list(SCORES),
        views=[corrupted_view_name(key)] if create_view else [],
    )
    method = config.build()
    existed = key in dataset.list_brain_runs()
    method.register_run(samples, key, cleanup=False)
    reporter = _SeedReporter(progress, tracking.epochs, len(seeds))
    per_seed = []
    try:
        with reporter:
            prepared = prepare_data(
                samples, label_field, classes=classes,
                image_size=image_size, progress=reporter.on_load,
            )
            num_classes = len(prepared.classes)
            mapping_idx = _mapping_indices(mapping, prepared.classes)
            for i, seed in enumerate(seeds):
                noisy, corrupted, used = inject_noise(
                    prepared.targets, num_classes, noise, kind=kind,
                    mapping=mapping_idx, seed=seed,
                )
                logger.info(
                    "Seed %d: %d of %d labels flipped (%s); training",
                    seed, int(corrupted.sum()), len(noisy), kind,
                )
                reporter.start_seed(i, seed)
                start = time.perf_counter()
                result = train_and_track(
                    prepared.inputs, noisy,
                    dataclasses.replace(tracking, seed=seed),
                    num_classes=num_classes, progress=reporter.on_epoch,
                )
                seconds = time.perf_counter() - start
                per_seed.append(
                    _seed_record(result, noisy, corrupted, used,
                                 prepared.classes, seconds)
                )
            reporter.on_write()
            first = per_seed[0]
            _write_fields(dataset, key, prepared, first["result"])
            _write_eval_fields(dataset, key, prepared, first)
    except BaseException:
        if not existed:
            method.delete_run(samples, key, cleanup=False)
        raise

    result = per_seed[0]["result"]
    config.classes = prepared.classes
    config.tracking = dict(result.config, seed=seeds[0])
    method.update_run_config(samples, key, config)
    results = CorruptionEvaluationResults(
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
        sample_ids=prepared.sample_ids,
        curvature=result.curvature,
        curvature_epochs=result.curvature_epochs,
        scored_epochs=result.scored_epochs,
        history=result.history,
        classes=prepared.classes,
        image_size=prepared.image_size,
        normalization=result.normalization,
        train_seconds=result.train_seconds,
        score_seconds=result.score_seconds,
        backend=method,
    )
    method.save_run_results(samples, key, results)
    if create_view:
        _save_corrupted_view(samples, key)
    logger.info("Evaluation %r complete", key)
    return results


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


def _seed_record(result, noisy, corrupted, used, classes, seconds):
    scores = {"curvature": np.asarray(result.curvature, np.float64)}
    for name in SCORES:
        scores[name] = np.asarray(result.scores[name], np.float64)
    metrics = {
        name: detection_metrics(corrupted, suspicion(name, values))
        for name, values in scores.items()
    }
    from .metrics import auroc

    epoch_auroc = [
        auroc(corrupted, result.curvature_epochs[:, j])
        for j in range(result.curvature_epochs.shape[1])
    ]
    return {
        "result": result,
        "noisy": noisy,
        "corrupted": corrupted,
        "scores": scores,
        "metrics": metrics,
        "epoch_auroc": [np.nan if a is None else a for a in epoch_auroc],
        "mapping": (
            {classes[s]: classes[d] for s, d in used.items()}
            if used is not None else None
        ),
        "seconds": seconds,
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


def _save_corrupted_view(samples, key):
    from fiftyone import ViewField as F

    name = corrupted_view_name(key)
    view = samples.match(F(f"{key}_corrupted") == True).sort_by(  # noqa
        key, reverse=True
    )
    samples._root_dataset.save_view(
        name, view,
        description="samples whose label the evaluation flipped, highest "
        "curvature first",
        overwrite=True,
    )
    return name


class _SeedReporter:
    """Progress over seeds: wraps the per-run reporter of core."""

    _LOAD_SHARE = 0.02

    def __init__(self, progress, epochs, num_seeds):
        self.callback = progress if callable(progress) else None
        self.bar = None
        self.epochs = epochs
        self.num_seeds = num_seeds
        self.index = 0
        self.seed = None
        if self.callback is None and progress is not False:
            self.bar = fou.ProgressBar(total=epochs * num_seeds,
                                       progress=progress, iters_str="epochs")

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def __exit__(self, *args):
        if self.bar is not None:
            self.bar.__exit__(*args)

    def start_seed(self, index, seed):
        self.index, self.seed = index, seed

    def on_load(self, done, total):
        if self.callback is not None:
            self.callback({
                "phase": "load",
                "fraction": self._LOAD_SHARE * done / max(total, 1),
                "done": done,
                "total": total,
            })

    def on_epoch(self, info):
        done = self.index * self.epochs + info["epoch"]
        if self.bar is not None:
            self.bar.set_iteration(done)
        if self.callback is not None:
            info = dict(info)
            info.update(
                phase="epoch",
                seed=self.seed,
                seed_index=self.index,
                seeds=self.num_seeds,
                fraction=self._LOAD_SHARE + (1 - 2 * self._LOAD_SHARE)
                * done / (self.epochs * self.num_seeds),
            )
            self.callback(info)

    def on_write(self):
        if self.callback is not None:
            self.callback({"phase": "write",
                           "fraction": 1 - self._LOAD_SHARE})
