"""Can the network judge the labels? Out-of-sample predictions and a verdict.

A network that fits every label tells nothing about a label it merely
memorized. Whether its suggestions are worth showing is measured on
samples it did not train on: the same model and schedule are trained on
part of the data and predict the rest (K folds on feature vectors, where a
head trains in seconds; one 80/20 split on images, the cheapest honest
holdout: 0.8x the training epochs of the run, without curvature scoring).

Two numbers come out, both against the GIVEN labels:

- ``heldout_accuracy``: how often the held-out prediction equals the label
- ``separation``: AUROC of p(given label) against p(a random other label)
  on the same held-out samples (0.5 = the network cannot tell the given
  label from any other; 1 = it always prefers the given one)

The rule (:data:`MIN_KAPPA`, :data:`MIN_SEPARATION`, measured in
docs/features.md): the network can judge when its held-out accuracy is
well above chance, ``(accuracy - 1/K) / (1 - 1/K) >= 0.45`` (50.5% with 10
classes), and the separation is at least 0.9. Below that, a disagreement
between the network and a label is more often the network's error than
the label's, and the likely-mislabeled view is not offered. The accuracy
is measured against the given labels, so noise lowers it too: the bound is
set so that 20% asymmetric noise on pretrained features (held-out accuracy
0.59) is still judged, and a network trained from scratch on 1,000 clean
CIFAR photos (0.47) is not.
"""

import dataclasses
import time

import numpy as np

#: held-out accuracy above chance, ``(acc - 1/K) / (1 - 1/K)``, below
#: which the network cannot judge the labels
MIN_KAPPA = 0.45
#: separation (AUROC of p(given) vs p(random other label)) below which
#: the network cannot judge the labels
MIN_SEPARATION = 0.9


def min_accuracy(num_classes):
    """The held-out accuracy the rule asks for with K classes."""
    chance = 1.0 / num_classes
    return chance + MIN_KAPPA * (1.0 - chance)


def rule(num_classes):
    """The rule, in words (what results and messages quote)."""
    return (f"held-out accuracy >= {min_accuracy(num_classes):.1%} "
            f"(chance {1.0 / num_classes:.0%}) and separation >= "
            f"{MIN_SEPARATION:g}")


@dataclasses.dataclass
class Verdict:
    """How well the network predicts labels it did not train on.

    Attributes:
        method: ``"5-fold"`` (K folds) or ``"holdout 20%"``
        samples: number of held-out predictions
        heldout_accuracy: fraction of held-out predictions equal to the
            given label
        separation: AUROC of p(given label) vs p(a random other label) on
            the held-out samples (0.5 = chance)
        chance: 1 / K, the accuracy of a guess
        can_judge: ``heldout_accuracy >= min_accuracy(K) and separation
            >= MIN_SEPARATION``
        rule: :func:`rule`, in words
        seconds: wall time of the held-out training
        probabilities: (N, K) held-out probabilities, NaN rows for samples
            that were never held out (not serialised by :meth:`to_dict`)
    """

    method: str
    samples: int
    heldout_accuracy: float
    separation: float
    chance: float
    can_judge: bool
    rule: str
    seconds: float
    probabilities: np.ndarray = None

    def to_dict(self):
        """The verdict's numbers (JSON-able, without the probabilities)."""
        d = dataclasses.asdict(self)
        d.pop("probabilities")
        return d

    def message(self):
        """One sentence for users: can the network judge the labels?"""
        acc = f"held-out accuracy {self.heldout_accuracy:.0%}"
        if self.can_judge:
            return (f"The network can judge these labels ({acc}, "
                    f"separation {self.separation:.2f}, {self.method}).")
        return (f"The network cannot judge these labels ({acc}, "
                f"separation {self.separation:.2f}, {self.method}; needs "
                f"{self.rule}): use pretrained features (features=...).")


def separation(probs, given, seed=0):
    """AUROC of p(given label) against p(a random other label).

    Args:
        probs: (M, K) probabilities of M samples
        given: (M,) int given labels
        seed (0): seed of the random other labels

    Returns:
        a float in [0, 1]; 0.5 = the given label is no more probable than
        any other
    """
    from sklearn.metrics import roc_auc_score

    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(given)
    k = p.shape[1]
    rng = np.random.default_rng(seed)
    other = (y + rng.integers(1, k, len(y))) % k
    rows = np.arange(len(y))
    pos, neg = p[rows, y], p[rows, other]
    return float(roc_auc_score(
        np.r_[np.ones(len(y)), np.zeros(len(y))], np.r_[pos, neg]))


def verdict_from(probs, given, method, seconds=0.0):
    """The :class:`Verdict` of held-out probabilities (None with fewer
    than two held-out samples).

    Args:
        probs: (N, K) held-out probabilities; rows of NaN are samples
            that were not held out
        given: (N,) int given labels
        method: how they were made (e.g. ``"5-fold"``)
        seconds (0.0): what they cost
    """
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(given)
    k = p.shape[1]
    rows = np.flatnonzero(np.isfinite(p).all(axis=1))
    if len(rows) < 2:
        return None
    acc = float((p[rows].argmax(axis=1) == y[rows]).mean())
    sep = separation(p[rows], y[rows])
    return Verdict(
        method=method, samples=len(rows), heldout_accuracy=acc,
        separation=sep, chance=1.0 / k,
        can_judge=bool(acc >= min_accuracy(k) and sep >= MIN_SEPARATION),
        rule=rule(k), seconds=float(seconds),
        probabilities=np.asarray(probs, dtype=np.float32),
    )


def folds_for(holdout, x):
    """The number of folds a ``holdout`` setting means for data ``x``
    (1 = one 80/20 split, 0 = none): "auto" = 5 folds on (N, D)
    features, one split on images."""
    if holdout == "auto":
        return 5 if x.ndim == 2 else 1
    return int(holdout)


def _splits(n, y, folds, seed):
    """Stratified held-out index sets: ``folds`` of them, or one 20% set
    when ``folds == 1``."""
    rng = np.random.default_rng(seed + 7919)
    parts = max(folds, 5)
    assign = np.empty(n, np.int64)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        assign[idx] = np.arange(len(idx)) % parts
    rng_shift = int(rng.integers(parts))
    assign = (assign + rng_shift) % parts
    return [np.flatnonzero(assign == f) for f in range(folds)]


def predict(result, x, batch_size=512):
    """(M, K) probabilities of a trained run's model on new inputs ``x``
    (float32 tensor (M, D) features or (M, C, H, W) images, normalised as
    the run normalised its own data)."""
    import torch

    model = result.model.eval()
    device = next(model.parameters()).device
    mean = torch.tensor(result.normalization["mean"])
    std = torch.tensor(result.normalization["std"])
    if x.ndim == 4:
        mean, std = mean[None, :, None, None], std[None, :, None, None]
    scale = 1.0 / 255.0 if x.dtype == torch.uint8 else 1.0
    out = []
    with torch.no_grad():
        for s in range(0, len(x), batch_size):
            xb = (x[s:s + batch_size].float() * scale - mean) / std
            out.append(torch.softmax(model(xb.to(device)).float(), 1).cpu())
    return torch.cat(out).numpy()


def judge(x, y, cfg, num_classes, folds, train):
    """Trains ``cfg`` (without curvature scoring) on all but a held-out
    part of the data and predicts that part.

    Args:
        x: (N, D) float32 or (N, C, H, W) tensor, as the run trains on
        y: (N,) int64 tensor of the given labels
        cfg: the run's resolved :class:`TrackingConfig`
        num_classes: K
        folds: 1 (one stratified 20% split) or K >= 2 folds
        train: callable ``(x, y, cfg, num_classes) -> TrackingResult``
            (the run loop of :mod:`fiftyone_curvature.engine.training`)

    Returns:
        a :class:`Verdict`, or None when the data is too small to hold
        any sample out
    """
    t0 = time.perf_counter()
    yn = y.numpy()
    probs = np.full((len(yn), num_classes), np.nan, np.float32)
    sub = dataclasses.replace(cfg, score_every=0, holdout=0,
                              record_embeddings=False, record_probes=False)
    for held in _splits(len(yn), yn, folds, cfg.seed):
        keep = np.setdiff1d(np.arange(len(yn)), held)
        if len(held) == 0 or len(np.unique(yn[keep])) < 2:
            continue  # too few samples to hold these out
        res = train(x[keep], y[keep], sub, num_classes)
        probs[held] = predict(res, x[held])
    method = f"{folds}-fold" if folds > 1 else "holdout 20%"
    return verdict_from(probs, yn, method, time.perf_counter() - t0)
