"""The aligned duplicate finder on real digits with planted realistic
copies, one test per kind of copy (engine only: no FiftyOne, no
training). Floors set from benchmarks/duplicate_finder.py on digits
(1,000 images, 100 copies per kind: recall 0.96-1.00 for single kinds,
0.82-0.84 for combinations, false flags <= 0.67%) with margin for the
smaller sample here."""

import numpy as np
import pytest

from fiftyone_curvature.engine.copies import KINDS, SINGLE, make_copies
from fiftyone_curvature.engine.near_duplicates import (
    MAX_THRESHOLD, data_threshold, find_near_duplicates,
)

NUM, PLANTS = 600, 40


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.round(d.images / 16.0 * 255).astype(np.uint8)[:, None]
    rng = np.random.default_rng(0)
    keep = np.sort(rng.choice(len(images), NUM, replace=False))
    return images[keep], d.target[keep]


def _plant(images, labels, kind, seed):
    rng = np.random.default_rng(seed)
    sources = np.sort(rng.choice(len(images), PLANTS, replace=False))
    copies = make_copies(images[sources], kind, seed=seed)
    other = (labels[sources] + rng.integers(1, 10, PLANTS)) % 10
    return (np.concatenate([images, copies]),
            np.concatenate([labels, other]), sources)


@pytest.mark.parametrize("kind", list(KINDS))
def test_planted_copies_are_found(digits, kind):
    images, labels = digits
    all_images, all_labels, sources = _plant(images, labels, kind, seed=1)
    found = find_near_duplicates(all_images, all_labels)
    copies = np.arange(NUM, NUM + PLANTS)
    recall = np.mean(found.flagged[copies]
                     & (found.groups[copies] == found.groups[sources]))
    others = np.setdiff1d(np.arange(NUM), sources)
    false_rate = found.flagged[others].mean()
    floor = 0.85 if kind in SINGLE else 0.7
    assert recall >= floor, (kind, recall)
    assert false_rate <= 0.015, (kind, false_rate)
    # flagged samples are surer than 1, the others are not in a conflict
    assert (found.certainty[found.flagged & (found.conflict_with >= 0)]
            > 0).all()
    assert 0.0 <= found.threshold <= MAX_THRESHOLD


def test_nothing_planted_flags_almost_nothing(digits):
    images, labels = digits
    found = find_near_duplicates(images, labels)
    assert found.flagged.mean() <= 0.01


def test_copies_keep_shape_and_are_seeded(digits):
    images, _ = digits
    for kind in KINDS:
        a = make_copies(images[:5], kind, seed=3)
        b = make_copies(images[:5], kind, seed=3)
        assert a.shape == images[:5].shape and a.dtype == np.uint8
        assert np.array_equal(a, b)


def test_threshold_is_a_robust_outlier_bound():
    rng = np.random.default_rng(0)
    d = np.exp(rng.normal(np.log(0.3), 0.3, 1000))
    t = data_threshold(d)
    assert 0.0 < t < np.quantile(d, 0.001)
    assert data_threshold([0.2, np.inf]) == 0.0  # too few to tell
    # a tight cluster of distances cannot lift it past the bound
    assert data_threshold(np.full(50, 0.45)) == MAX_THRESHOLD
