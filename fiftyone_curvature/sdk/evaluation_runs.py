"""The run record of a corruption-injection evaluation (config, results).

FiftyOne finds the run class of :class:`CorruptionEvaluationConfig` by
stripping "Config", so the three classes live together here.
"""

import numpy as np

import fiftyone.core.utils as fou

from ..engine.constants import EVAL_KEY, NOISE
from ..engine.dynamics import SCORES, suspicion
from ..engine.metrics import (
    CURVE_POINTS, format_rows, format_summary_table, mean_std, pr_on_grid,
    roc_on_grid, summarize,
)
from . import runs as cv_runs

#: score names of an evaluation, in table order (curvature first)
SCORE_NAMES = ("curvature",) + tuple(SCORES)




def output_fields(key, score_names=None):
    """The sample fields an evaluation with key ``key`` writes: those of a
    curvature run (:func:`fiftyone_curvature.sdk.runs.output_fields`) plus
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
        **kwargs: see :class:`fiftyone_curvature.sdk.runs.CurvatureConfig`
    """

    def __init__(
        self,
        label_field,
        curvature_field=EVAL_KEY,
        noise=NOISE,
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
        key = key or self.curvature_field
        owned = ([f"{key}_features"]
                 if (getattr(self, "features", None) or {}).get("model")
                 else [])
        return output_fields(key, self.score_names) + owned


class CorruptionEvaluation(cv_runs.Curvature):
    """A corruption-injection evaluation run."""

    _RUN_NOUN = "evaluation"

    def _save_views(self, samples, brain_key, key):
        return [save_corrupted_view(samples, key)]


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
            :data:`fiftyone_curvature.engine.dynamics.SCORES`; curvature:
            higher = more likely memorized)
        metrics: dict score -> metric -> list of S floats (None where
            undefined), see
            :data:`fiftyone_curvature.engine.metrics.METRICS`
        epoch_auroc: (S, E) AUROC of the curvature of each scored epoch
        mappings: per seed, the asymmetric mapping used (class name ->
            class name) or None
        seed_seconds: per seed, wall time of training + scoring
        reviews (None): per seed, how far the views can be trusted (see
            :func:`fiftyone_curvature.sdk.evaluation.view_review`): each
            view's precision / recall of the flipped labels, the suggested
            labels' accuracy on them, estimated vs injected error count
        **kwargs: see :class:`fiftyone_curvature.sdk.runs.CurvatureResults`
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
        reviews=None,
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
        self.reviews = list(reviews or [])

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
        return summarize(self.metrics, self.score_names)

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
        return self._curves(names, grid, roc_on_grid, "fpr", "tpr")

    def pr_curves(self, names=None):
        """Mean (interpolated) precision-recall curve over seeds of each
        score, on a fixed recall grid.

        Returns:
            a dict name -> ``{"recall", "precision", "precision_std"}``
        """
        grid = np.linspace(0.0, 1.0, CURVE_POINTS)
        return self._curves(names, grid, pr_on_grid, "recall",
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

    def review_summary(self):
        """The views' precision / recall of the flipped labels, suggested
        label accuracy and estimated vs injected errors, as mean (and std)
        over seeds.

        Returns:
            a dict with ``views`` (name -> ``{"size", "positives",
            "precision", "recall"}`` means), ``suggested_accuracy``,
            ``estimated_errors``, ``confident_joint_errors``, ``injected``
            (means), or None for a run recorded before these existed
        """
        if not self.reviews:
            return None

        def mean(values):
            m, _ = mean_std(values)
            return m

        first = self.reviews[0]
        return {
            "views": {
                name: {k: mean([r["views"][name][k] for r in self.reviews])
                       for k in first["views"][name]}
                for name in first["views"]
            },
            "likely_mislabeled_by": {
                name: {k: mean([r["likely_mislabeled_by"][name][k]
                                for r in self.reviews])
                       for k in first["likely_mislabeled_by"][name]}
                for name in first.get("likely_mislabeled_by", {})
            },
            "estimator": [r.get("estimator") for r in self.reviews],
            **{k: mean([r[k] for r in self.reviews])
               for k in ("suggested_accuracy", "estimated_errors",
                         "aum_mixture_errors", "confident_joint_errors",
                         "injected", "fitting_window")},
        }

    def review_table(self):
        """:meth:`review_summary` as text: one row per view (samples,
        flipped in it, precision, recall), then the suggested-label
        accuracy and the error estimate."""
        summary = self.review_summary()
        if summary is None:
            return ""
        lines = [view_table(summary["views"], prefix=f"{self.key}_")]
        for name, v in summary["likely_mislabeled_by"].items():
            lines.append(
                f"likely_mislabeled ranked by {name}: precision "
                f"{_fmt(v['precision'])}, recall {_fmt(v['recall'])}")
        lines.append(
            f"suggested label = true label on "
            f"{_fmt(summary['suggested_accuracy'])} of the flipped samples; "
            f"estimated wrong labels {summary['estimated_errors']:.0f} "
            f"({', '.join(sorted(set(summary['estimator'])))}; injected "
            f"{summary['injected']:.0f}; AUM mixture "
            f"{summary['aum_mixture_errors']:.0f}, confident learning "
            f"{summary['confident_joint_errors']:.0f})")
        return "\n".join(lines)

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
            "review": self.review_summary(),
        }

    def table(self, metrics=("auroc", "ap", "fpr95", "precision_at_k")):
        """The metrics table as text: one row per score, ``mean ± std``
        over seeds per column."""
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
    def stored_kwargs(cls, d):
        kwargs = super().stored_kwargs(d)
        for name in cls._EVAL_ARRAYS:
            kwargs[name] = fou.deserialize_numpy_array(d[name], ascii=True)
        kwargs["scores"] = {
            name: fou.deserialize_numpy_array(values, ascii=True)
            for name, values in d["scores"].items()
        }
        kwargs.update(seeds=d["seeds"], metrics=d["metrics"],
                      mappings=d.get("mappings"),
                      seed_seconds=d.get("seed_seconds"),
                      reviews=d.get("reviews"))
        return kwargs


def _fmt(value):
    return "-" if value is None else f"{value:.2f}"


def view_table(views, prefix="", indent=""):
    """Views as text: one row per view with its samples, flipped samples in
    it, precision and recall of the flips.

    Args:
        views: dict name -> ``{"size", "positives", "precision", "recall"}``
            (see :func:`fiftyone_curvature.engine.metrics.view_quality`)
        prefix (""): put before each view name (e.g. the run key)
        indent (""): put before each line
    """
    rows = [("view", "samples", "flipped in it", "precision",
             "recall of flips")]
    for name, v in views.items():
        rows.append((f"{prefix}{name}", f"{v['size']:.0f}",
                     f"{v['positives']:.0f}", _fmt(v["precision"]),
                     _fmt(v["recall"])))
    return format_rows(rows, indent)


def save_corrupted_view(samples, key):
    """Saves the view of an evaluation's corrupted samples, highest
    curvature first; returns its name."""
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
