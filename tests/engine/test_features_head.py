"""Heads on (N, D) feature vectors and the can-judge verdict (engine only:
no FiftyOne import)."""

import subprocess
import sys

import numpy as np
import pytest

from fiftyone_curvature.engine import judge
from fiftyone_curvature.engine.metrics import auroc
from fiftyone_curvature.engine.training import train_and_track


def _blobs(n=600, k=4, d=16, spread=3.0, noise=0.1, seed=0):
    """Separable Gaussian blobs with ``noise`` symmetric flips: features,
    true labels, given labels, flipped mask."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * spread
    truth = rng.integers(0, k, n)
    x = (centres[truth] + rng.normal(size=(n, d))).astype(np.float32)
    flips = rng.random(n) < noise
    given = truth.copy()
    given[flips] = (truth[flips] + rng.integers(1, k, flips.sum())) % k
    return x, truth, given, flips


@pytest.fixture(scope="module")
def noisy_run():
    x, truth, given, flips = _blobs()
    result = train_and_track(x, given, epochs=15, threads=1)
    return result, truth, given, flips


def test_engine_does_not_import_fiftyone():
    code = ("import sys; import fiftyone_curvature.engine.training, "
            "fiftyone_curvature.engine.judge; "
            "sys.exit(any(m.split('.')[0] == 'fiftyone' "
            "for m in sys.modules))")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_auto_picks_the_head_and_resolves_for_features(noisy_run):
    result, *_ = noisy_run
    cfg = result.config
    assert cfg["model"] == "mlp_head"
    assert cfg["augment"] is False
    assert cfg["channels_last"] is False and cfg["fuse_bn"] is False
    assert cfg["score_every"] == 1 and cfg["holdout"] == 5
    assert result.curvature_epochs.shape == (600, 15)
    # standardised per dimension: mean and std of every one of the D
    assert len(result.normalization["mean"]) == 16


def test_flipped_labels_rank_high(noisy_run):
    result, truth, given, flips = noisy_run
    assert auroc(flips, result.curvature) > 0.85
    assert auroc(flips, -result.scores["aum"]) > 0.97
    review = result.label_review
    assert (review.suggested[flips] == truth[flips]).mean() > 0.9
    assert abs(review.estimated_errors - flips.sum()) <= 0.3 * flips.sum()


def test_separable_labels_can_be_judged(noisy_run):
    verdict = noisy_run[0].verdict
    assert verdict.can_judge
    assert verdict.heldout_accuracy > 0.8 and verdict.separation > 0.9
    assert verdict.samples == 600 and verdict.method == "5-fold"
    assert "can judge" in verdict.message()


def test_random_labels_cannot_be_judged():
    x, _, _, _ = _blobs(n=400, noise=0.0)
    labels = np.random.default_rng(1).integers(0, 4, 400)
    verdict = train_and_track(x, labels, epochs=8, threads=1).verdict
    assert not verdict.can_judge
    assert verdict.heldout_accuracy < 0.4
    assert abs(verdict.separation - 0.5) < 0.1
    assert "cannot judge" in verdict.message()
    assert "features=" in verdict.message()


def test_separation_measure():
    given = np.array([0, 1, 2, 0])
    sure = np.eye(3)[given] * 0.9 + 0.1 / 3
    assert judge.separation(sure, given) == 1.0
    flat = np.full((4, 3), 1 / 3)
    assert judge.separation(flat, given) == 0.5


def test_image_models_refuse_features_and_heads_refuse_images():
    x, _, given, _ = _blobs(n=64)
    with pytest.raises(ValueError, match="feature vectors"):
        train_and_track(x, given, model="small_cnn", epochs=1, holdout=0)
    images = np.zeros((64, 1, 8, 8), np.uint8)
    with pytest.raises(ValueError, match="images"):
        train_and_track(images, given, model="mlp_head", epochs=1,
                        holdout=0)
    with pytest.raises(ValueError, match="not augmented"):
        train_and_track(x, given, augment=True, epochs=1, holdout=0)


def test_bad_features_are_refused():
    x, _, given, _ = _blobs(n=64)
    x[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        train_and_track(x, given, epochs=1, holdout=0)
    with pytest.raises(ValueError, match="holdout"):
        train_and_track(x, given, epochs=1, holdout=-1)


def test_holdout_does_not_change_the_scores():
    """The verdict trains after the run on its own seeds: the run's scores
    are bit-identical with and without it (the from-scratch path too)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (96, 1, 8, 8)).astype(np.uint8)
    labels = rng.integers(0, 3, 96)
    kw = dict(epochs=2, threads=1, score_every=1)
    a = train_and_track(images, labels, holdout=0, **kw)
    b = train_and_track(images, labels, holdout=1, **kw)
    assert a.verdict is None and b.verdict.method == "holdout 20%"
    np.testing.assert_array_equal(a.curvature, b.curvature)
    for name in a.scores:
        np.testing.assert_array_equal(a.scores[name], b.scores[name])


def test_heldout_review_counts_confident_disagreements_never_learned():
    from fiftyone_curvature.engine.labels import (
        LabelReview, review_with_heldout,
    )

    given = np.array([0, 0, 1, 1, 2])
    probs = np.array([
        [0.90, 0.05, 0.05],  # agrees
        [0.01, 0.98, 0.01],  # confident disagreement, never learned
        [0.01, 0.01, 0.98],  # confident disagreement, but learned
        [0.30, 0.40, 0.30],  # agrees (weakly)
        [0.45, 0.30, 0.25],  # disagrees, p(given) not small
    ])
    aum = np.array([2.0, -1.0, 0.5, 1.0, -0.5])
    base = LabelReview(suggested=given.copy(), confidence=np.ones(5),
                       estimated_errors=3, window=4, estimator="x",
                       aum_mixture_errors=3, confident_joint_errors=2)
    review = review_with_heldout(base, probs, given, aum)
    assert review.estimator == "heldout" and review.window == 4
    np.testing.assert_array_equal(review.suggested, [0, 1, 2, 1, 0])
    assert review.estimated_errors == 1
    assert review_with_heldout(base, probs, given).estimated_errors == 2
