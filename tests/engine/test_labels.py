"""engine/labels.py: the AUM mixture, confident learning's count, the
fitting window and review_labels."""

import numpy as np
import pytest

from fiftyone_curvature.engine.labels import (
    LabelReview, confident_joint_errors, estimate_num_errors,
    fitting_window, gaussian_mixture_low, percentile_rank, review_labels,
)


def _noisy_probs(n=600, k=5, flips=60, seed=0):
    """(N, K) probabilities that favour the true class, labels with
    ``flips`` symmetric flips."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += 3.0
    p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    given = truth.copy()
    flip = rng.choice(n, flips, replace=False)
    given[flip] = (given[flip] + rng.integers(1, k, flips)) % k
    return p, given, flip


def test_mixture_finds_the_low_component():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.5, 100), rng.normal(3, 1, 900)])
    post = gaussian_mixture_low(x)
    assert post.shape == (1000,)
    assert post[:100].mean() > 0.98 and post[100:].mean() < 0.02
    assert abs(post.sum() - 100) < 3
    # order of the input does not matter
    perm = rng.permutation(1000)
    np.testing.assert_allclose(gaussian_mixture_low(x[perm]), post[perm],
                               atol=1e-6)


def test_estimate_num_errors_counts_the_low_margin_samples():
    rng = np.random.default_rng(1)
    aum = np.concatenate([rng.normal(-1.5, 0.4, 50),
                          rng.normal(2.0, 0.6, 450), [np.nan, np.inf]])
    assert abs(estimate_num_errors(aum) - 50) <= 3
    assert estimate_num_errors(np.ones(100)) == 0  # no spread
    assert estimate_num_errors(np.arange(5.0)) == 0  # too few


def test_confident_joint_exact_small_case():
    # class thresholds: mean p(0 | given 0) = 0.7, mean p(1 | given 1) = 0.6
    p = np.array([[0.9, 0.1], [0.5, 0.5], [0.3, 0.7], [0.5, 0.5]])
    given = np.array([0, 0, 1, 1])
    # sample 1 (given 0): p0=0.5 < 0.7, p1=0.5 < 0.6 -> not counted;
    # sample 3 (given 1): same; sample 0 -> (0, 0), sample 2 -> (1, 1)
    assert confident_joint_errors(p, given) == 0
    # thresholds become 0.7 (class 0) and mean(0.7, 0.2) = 0.45 (class
    # 1): sample 3 (given 1) counts at 0 (0.8 >= 0.7) and sample 1 (given
    # 0) at 1 (0.5 >= 0.45)
    p[3] = [0.8, 0.2]
    assert confident_joint_errors(p, given) == 2


def test_confident_joint_matches_cleanlab():
    count = pytest.importorskip(
        "cleanlab.count", reason="cleanlab not installed (pip install "
        "'fiftyone-curvature[bench]')")
    for seed in range(3):
        p, given, _ = _noisy_probs(seed=seed)
        joint = count.compute_confident_joint(given, p, calibrate=False)
        assert confident_joint_errors(p, given) == int(
            round(joint.sum() - np.trace(joint)))
        # cleanlab rounds each calibrated row to integers (keeping the
        # row's total); this count rounds the off-diagonal sum once
        calibrated = count.compute_confident_joint(given, p, calibrate=True)
        assert abs(confident_joint_errors(p, given, calibrated=True) - int(
            round(calibrated.sum() - np.trace(calibrated)))) <= 1


def test_confident_joint_finds_most_flips():
    p, given, flip = _noisy_probs()
    assert 40 <= confident_joint_errors(p, given) <= 80


def test_fitting_window():
    acc = [0.3, 0.6, 0.85, 0.92, 0.99]
    # 10% wrong labels: the clean fraction 0.9 is first exceeded at epoch 4
    assert fitting_window(acc, 10, 100) == 3
    assert fitting_window(acc, 0, 100) == 5  # never exceeds 1.0
    assert fitting_window([0.95, 0.99], 10, 100) == 1  # at least 1


def test_percentile_rank():
    np.testing.assert_allclose(percentile_rank([3.0, 1.0, 2.0, np.nan]),
                               [1.0, 1 / 3, 2 / 3, 0.0])
    assert percentile_rank([5.0]).tolist() == [1.0]


def test_review_labels_suggests_the_early_belief():
    n, e, k = 200, 6, 3
    rng = np.random.default_rng(0)
    truth = rng.integers(0, k, n)
    given = truth.copy()
    flip = np.arange(20)
    given[flip] = (truth[flip] + 1) % k
    probs = np.full((n, e, k), 0.05, np.float32)
    probs[np.arange(n), :, truth] = 0.9  # believes the truth early
    probs[flip, 3:, :] = 0.05
    probs[flip, 3:, given[flip]] = 0.9  # memorized from epoch 4
    acc = [0.85, 0.88, 0.9, 0.97, 1.0, 1.0]
    aum = np.where(np.isin(np.arange(n), flip), -1.0, 2.0)
    aum = aum + rng.normal(0, 0.1, n)
    final = probs[:, -1].astype(np.float64)
    review = review_labels(probs, acc, aum, given, final)
    assert isinstance(review, LabelReview)
    assert review.estimator == "aum_mixture" and review.window == 3
    assert review.estimated_errors == 20 == review.aum_mixture_errors
    assert (review.suggested == truth).all()
    np.testing.assert_allclose(review.confidence, 0.9, rtol=1e-6)
    flagged = review.likely_mislabeled(-aum, given)
    assert set(np.flatnonzero(flagged)) == set(flip)
    # never fitted the noise: confident learning's count on the final
    # probabilities, over all epochs
    never = review_labels(probs[:, :3], acc[:3], aum, given,
                          probs[:, 0].astype(np.float64))
    assert never.estimator == "confident_joint" and never.window == 3
    assert never.estimated_errors == never.confident_joint_errors == 20
