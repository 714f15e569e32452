"""Detection metrics (pure numpy/sklearn, no FiftyOne)."""

import numpy as np
import pytest

from fiftyone_curvature.engine.metrics import (
    auroc,
    average_precision,
    fpr_at_tpr,
    score_table,
)


def test_perfect_reversed_and_chance():
    y = np.array([0, 0, 0, 1, 1], bool)
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert auroc(y, s) == 1.0 and average_precision(y, s) == 1.0
    assert fpr_at_tpr(y, s) == 0.0
    assert auroc(y, -s) == 0.0
    assert auroc(y, np.zeros(5)) == 0.5


def test_nan_ranks_lowest_and_undefined_cases():
    y = np.array([0, 1, 0, 1], bool)
    s = np.array([np.nan, 2.0, 1.0, 3.0])
    assert auroc(y, s) == 1.0
    assert auroc(y, np.full(4, np.nan)) is None
    assert auroc(np.ones(4, bool), s) is None
    assert average_precision(np.zeros(4, bool), s) is None


def test_fpr_at_tpr_counts_negatives_above_the_threshold():
    # positives at ranks 1 and 3: reaching TPR 1 lets one of 3 negatives in
    y = np.array([1, 0, 1, 0, 0], bool)
    s = np.array([5, 4, 3, 2, 1], float)
    assert fpr_at_tpr(y, s, tpr=1.0) == pytest.approx(1 / 3)
    assert fpr_at_tpr(y, s, tpr=0.5) == 0.0


def test_score_table_and_shape_check():
    y = np.array([0, 1, 0, 1], bool)
    table = score_table(y, {"a": [0, 1, 0, 1], "b": [1, 0, 1, 0]})
    assert list(table) == ["a", "b"]
    assert table["a"]["auroc"] == 1.0 and table["b"]["auroc"] == 0.0
    with pytest.raises(ValueError, match="equal length"):
        auroc(y, [1, 2])
