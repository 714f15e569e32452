"""Detection metrics for a score against known corrupted samples (sklearn)."""

import math

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.metrics import average_precision_score
from sklearn.metrics import roc_curve
from sklearn.metrics import precision_recall_curve

#: detection metrics computed for every score, in table order
METRICS = ("auroc", "ap", "fpr95", "precision_at_k", "recall_at_k")

#: points of the fixed grids the mean ROC / PR curves are sampled on
CURVE_POINTS = 101


def _prepare(is_positive, scores):
    y = np.asarray(is_positive, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape or y.ndim != 1:
        raise ValueError(
            f"is_positive and scores must be 1-D of equal length, got "
            f"{y.shape} and {s.shape}"
        )
    finite = np.isfinite(s)
    if not finite.any():
        return None, None
    # a missing score ranks a sample as least suspicious
    s = np.where(finite, s, s[finite].min() - 1.0)
    if y.all() or not y.any():
        return None, None
    return y, s


def auroc(is_positive, scores):
    """Area under the ROC curve of ``scores`` for finding the positives.

    Args:
        is_positive: (N,) bool, e.g. True for a flipped label
        scores: (N,) float, higher = more suspicious; NaN ranks lowest

    Returns:
        a float in [0, 1], or None when only one class is present or no
        score is finite
    """

    y, s = _prepare(is_positive, scores)
    if y is None:
        return None
    return float(roc_auc_score(y, s))


def average_precision(is_positive, scores):
    """Average precision of ``scores`` for finding the positives.

    Args:
        is_positive: (N,) bool
        scores: (N,) float, higher = more suspicious; NaN ranks lowest

    Returns:
        a float in [0, 1] (a random ranking scores the positive rate), or
        None when only one class is present or no score is finite
    """

    y, s = _prepare(is_positive, scores)
    if y is None:
        return None
    return float(average_precision_score(y, s))


def fpr_at_tpr(is_positive, scores, tpr=0.95):
    """False-positive rate at the first threshold reaching ``tpr``.

    Args:
        is_positive: (N,) bool
        scores: (N,) float, higher = more suspicious; NaN ranks lowest
        tpr (0.95): the true-positive rate to reach

    Returns:
        a float in [0, 1] (lower is better), or None as :func:`auroc`
    """

    y, s = _prepare(is_positive, scores)
    if y is None:
        return None
    fpr, tprs, _ = roc_curve(y, s)
    return float(fpr[np.searchsorted(tprs, tpr, side="left")])


def score_table(is_positive, scores):
    """AUROC, AP and FPR@95%TPR for several scores at once.

    Args:
        is_positive: (N,) bool
        scores: dict name -> (N,) float, each oriented higher = more
            suspicious (see
            :func:`fiftyone_curvature.engine.dynamics.suspicion`)

    Returns:
        a dict name -> ``{"auroc": float, "ap": float, "fpr95": float}``
        (values None where undefined), in the order of ``scores``
    """
    return {
        name: {
            "auroc": auroc(is_positive, values),
            "ap": average_precision(is_positive, values),
            "fpr95": fpr_at_tpr(is_positive, values),
        }
        for name, values in scores.items()
    }


def precision_recall_at_k(is_positive, scores, k=None):
    """Precision and recall of the top-k samples by score.

    Args:
        is_positive: (N,) bool
        scores: (N,) float, higher = more suspicious; NaN ranks lowest
        k (None): how many top samples to flag; None = the number of
            positives (precision and recall are then equal)

    Returns:
        a tuple ``(precision, recall)``, or ``(None, None)`` without
        positives
    """
    y = np.asarray(is_positive, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    positives = int(y.sum())
    if positives == 0 or len(y) == 0:
        return None, None
    k = positives if k is None else int(k)
    s = np.where(np.isfinite(s), s, -np.inf)
    top = np.argsort(-s, kind="stable")[:k]
    hits = int(y[top].sum())
    return hits / max(k, 1), hits / positives


def roc_points(is_positive, scores):
    """The ROC curve: ``(fpr, tpr)`` arrays, or None when undefined."""

    y, s = _prepare(is_positive, scores)
    if y is None:
        return None
    fpr, tpr, _ = roc_curve(y, s)
    return fpr, tpr


def pr_points(is_positive, scores):
    """The precision-recall curve: ``(recall, precision)`` arrays (recall
    decreasing), or None when undefined."""

    y, s = _prepare(is_positive, scores)
    if y is None:
        return None
    precision, recall, _ = precision_recall_curve(y, s)
    return recall, precision


def format_summary_table(summary, score_names, num_seeds, metrics):
    """A text table of per-score metrics: one row per score.

    Args:
        summary: dict score -> metric -> ``{"mean": float or None,
            "std": float}``
        score_names: the rows, in order
        num_seeds: ``mean ± std`` is shown when more than one
        metrics: the columns, in order

    Returns:
        the table as a string
    """
    header = ["score"] + list(metrics)
    rows = []
    for name in score_names:
        cells = [name]
        for metric in metrics:
            m = summary[name][metric]
            if m["mean"] is None:
                cells.append("-")
            elif num_seeds > 1:
                cells.append(f"{m['mean']:.3f} ± {m['std']:.3f}")
            else:
                cells.append(f"{m['mean']:.3f}")
        rows.append(cells)
    return format_rows([header] + rows)


def format_rows(rows, indent=""):
    """Rows of text cells (the header first) as aligned columns, two
    spaces apart, each line prefixed with ``indent``."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths))
                     for r in rows)




def roc_on_grid(is_positive, scores, grid):
    """True-positive rate interpolated on a grid of false-positive rates
    (None when undefined)."""
    points = roc_points(is_positive, scores)
    if points is None:
        return None
    fpr, tpr = points
    return np.interp(grid, fpr, tpr)


def pr_on_grid(is_positive, scores, grid):
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
    precision, recall = precision_recall_at_k(is_positive, scores)
    return {
        "auroc": auroc(is_positive, scores),
        "ap": average_precision(is_positive, scores),
        "fpr95": fpr_at_tpr(is_positive, scores),
        "precision_at_k": precision,
        "recall_at_k": recall,
    }


def mean_std(values):
    """Mean and std of the finite values (None, None when there is none)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), float(np.std(finite))


def epoch_aurocs(is_positive, curvature_epochs):
    """AUROC of each scored epoch's curvature.

    Args:
        is_positive: (N,) bool
        curvature_epochs: (N, E) curvature per scored epoch, higher = more
            likely memorized

    Returns:
        a list of E floats (NaN where undefined)
    """
    m = np.asarray(curvature_epochs)
    values = [auroc(is_positive, m[:, j]) for j in range(m.shape[1])]
    return [np.nan if a is None else a for a in values]


def summarize(metrics, names=None):
    """Mean and std over seeds of per-seed metrics.

    Args:
        metrics: dict score -> metric -> list of S per-seed values (None
            where undefined)
        names (None): the scores to keep, in order (None: all)

    Returns:
        a dict score -> metric (:data:`METRICS`) -> ``{"mean", "std",
        "values"}`` (mean / std None where undefined)
    """
    out = {}
    for name in names or list(metrics):
        out[name] = {}
        for metric in METRICS:
            values = metrics[name][metric]
            mean, std = mean_std(values)
            out[name][metric] = {"mean": mean, "std": std,
                                 "values": list(values)}
    return out


def view_quality(members, is_positive):
    """How well a set of samples (a view) finds the positives.

    Args:
        members: (N,) bool, True for a sample in the view
        is_positive: (N,) bool, e.g. True for a flipped label

    Returns:
        a dict with ``size``, ``positives`` (positives in the view),
        ``precision`` (None for an empty view) and ``recall`` (None
        without positives)
    """
    m = np.asarray(members, dtype=bool)
    y = np.asarray(is_positive, dtype=bool)
    hits = int((m & y).sum())
    return {
        "size": int(m.sum()),
        "positives": hits,
        "precision": hits / int(m.sum()) if m.any() else None,
        "recall": hits / int(y.sum()) if y.any() else None,
    }
