"""Noise injection and detection metrics (pure numpy)."""

import numpy as np
import pytest

from fiftyone_curvature.engine.metrics import (
    METRICS,
    detection_metrics,
    precision_recall_at_k,
)
from fiftyone_curvature.engine.metrics import pr_on_grid as _pr_on_grid
from fiftyone_curvature.engine.metrics import roc_on_grid as _roc_on_grid
from fiftyone_curvature.engine.noise import inject_noise, random_mapping


def test_symmetric_noise_flips_exact_count_to_other_classes():
    y = np.repeat(np.arange(10), 100)
    noisy, corrupted, mapping = inject_noise(y, 10, 0.1, seed=3)
    assert mapping is None
    assert corrupted.sum() == 100
    assert (noisy[corrupted] != y[corrupted]).all()
    assert (noisy[~corrupted] == y[~corrupted]).all()
    assert noisy.min() >= 0 and noisy.max() < 10
    # the input is not modified, the draw is reproducible
    assert (y == np.repeat(np.arange(10), 100)).all()
    again = inject_noise(y, 10, 0.1, seed=3)
    assert (again[0] == noisy).all() and (again[1] == corrupted).all()
    assert not (inject_noise(y, 10, 0.1, seed=4)[1] == corrupted).all()


def test_symmetric_noise_targets_are_uniform_over_other_classes():
    y = np.zeros(20000, dtype=int)
    noisy, corrupted, _ = inject_noise(y, 5, 0.5, seed=0)
    counts = np.bincount(noisy[corrupted], minlength=5)
    assert counts[0] == 0
    assert np.allclose(counts[1:] / corrupted.sum(), 0.25, atol=0.02)


def test_asymmetric_noise_follows_mapping_per_class():
    y = np.repeat(np.arange(4), 50)
    noisy, corrupted, used = inject_noise(
        y, 4, 0.2, kind="asymmetric", mapping={0: 1, 2: 3}, seed=0
    )
    assert used == {0: 1, 2: 3}
    assert corrupted[y == 0].sum() == 10 and corrupted[y == 2].sum() == 10
    assert not corrupted[(y == 1) | (y == 3)].any()
    assert (noisy[corrupted & (y == 0)] == 1).all()
    assert (noisy[corrupted & (y == 2)] == 3).all()


def test_random_mapping_is_one_cycle_without_fixed_points():
    m = random_mapping(7, np.random.default_rng(1))
    assert sorted(m) == list(range(7)) and sorted(m.values()) == list(
        range(7))
    assert all(s != d for s, d in m.items())
    seen, c = set(), 0
    while c not in seen:
        seen.add(c)
        c = m[c]
    assert len(seen) == 7


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(noise=0.0), "noise must be in"),
        (dict(noise=1.0), "noise must be in"),
        (dict(kind="pairs"), "valid ones are"),
        (dict(mapping={0: 1}), "only used with kind='asymmetric'"),
        (dict(kind="asymmetric", mapping={0: 0}), "to itself"),
        (dict(kind="asymmetric", mapping={0: 9}), "outside"),
        (dict(noise=0.001), "flips no label"),
    ],
)
def test_inject_noise_errors(kwargs, message):
    args = dict(noise=0.1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        inject_noise(np.arange(40) % 4, 4, **args)


def test_precision_recall_at_k_exact():
    y = np.array([1, 0, 1, 0, 0, 1], bool)
    s = np.array([0.9, 0.8, 0.1, 0.7, np.nan, 0.95])
    # top 3: idx 5, 0, 1 -> 2 hits of 3 positives
    assert precision_recall_at_k(y, s) == (2 / 3, 2 / 3)
    assert precision_recall_at_k(y, s, k=2) == (1.0, 2 / 3)
    assert precision_recall_at_k(np.zeros(3, bool), [1, 2, 3]) == (None,
                                                                   None)


def test_detection_metrics_perfect_and_inverted():
    y = np.array([0] * 90 + [1] * 10, bool)
    s = np.arange(100.0)
    good = detection_metrics(y, s)
    assert set(good) == set(METRICS)
    assert good["auroc"] == 1.0 and good["ap"] == pytest.approx(1.0)
    assert good["fpr95"] == 0.0 and good["precision_at_k"] == 1.0
    bad = detection_metrics(y, -s)
    assert bad["auroc"] == 0.0 and bad["fpr95"] == 1.0
    assert bad["recall_at_k"] == 0.0
    grid = np.linspace(0, 1, 11)
    assert np.allclose(_roc_on_grid(y, s, grid), 1.0)
    assert np.allclose(_pr_on_grid(y, s, grid), 1.0)
    assert _roc_on_grid(y, -s, grid)[0] == 0.0
