"""The curvature estimators against exact Hessians, and their invariances."""

import numpy as np
import pytest
import torch
from torch import nn

from fiftyone_curvature.engine.curvature import (
    aggregate_epochs,
    curvature_batch,
    rademacher_probes,
)
from fiftyone_curvature.engine.models import build_model


def _smooth_model():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)
    ).double().eval()


def _exact_hv_norms(model, x, y, sample_ids, probes, h, norm, seed, epoch):
    """h * ||H v|| per sample and probe from the full input Hessian."""
    out = np.zeros((len(x), probes))
    for i in range(len(x)):

        def loss_i(xi):
            return nn.functional.cross_entropy(
                model(xi[None]), y[i : i + 1], reduction="sum"
            )

        hess = torch.autograd.functional.hessian(loss_i, x[i])
        for p in range(probes):
            v = rademacher_probes(sample_ids[i : i + 1], (6,), seed, epoch, p)
            hv = h * hess @ v[0].double()
            sq = float((hv**2).sum())
            out[i, p] = sq if norm == "l2sq" else np.sqrt(sq)
    return out


@pytest.mark.parametrize("norm", ["l2", "l2sq"])
@pytest.mark.parametrize("estimator", ["fd", "hvp"])
def test_estimators_match_exact_hessian_on_smooth_model(estimator, norm):
    model = _smooth_model()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(5, 6, generator=gen, dtype=torch.float64) * 2
    y = torch.tensor([0, 1, 2, 1, 0])
    ids = torch.arange(10, 15)
    h = 1e-6
    got, logits = curvature_batch(
        model, x, y, ids, estimator=estimator, probes=3, h=h, norm=norm,
        seed=7, epoch=2,
    )
    want = _exact_hv_norms(model, x, y, ids, 3, h, norm, 7, 2)
    # a forward difference is O(h) off on a smooth model; HVP is exact
    rtol = 1e-4 if estimator == "fd" else 1e-5
    np.testing.assert_allclose(got.numpy(), want, rtol=rtol)
    assert got.shape == (5, 3)
    assert logits.shape == (5, 3)
    # the l2sq score is the square of the l2 score
    if norm == "l2sq":
        l2, _ = curvature_batch(model, x, y, ids, estimator=estimator,
                                probes=3, h=h, norm="l2", seed=7, epoch=2)
        np.testing.assert_allclose(got.numpy(), l2.numpy() ** 2, rtol=1e-6)


def test_fd_and_hvp_differ_on_relu_models():
    """On ReLU nets the finite difference is not a Hessian norm."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.ReLU(),
                          nn.Linear(32, 3)).eval()
    x = torch.randn(64, 6) * 3
    y = torch.randint(0, 3, (64,))
    ids = torch.arange(64)
    fd, _ = curvature_batch(model, x, y, ids, estimator="fd", probes=2,
                            h=1e-1)
    hvp, _ = curvature_batch(model, x, y, ids, estimator="hvp", probes=2,
                             h=1e-1)
    assert not torch.allclose(fd, hvp, rtol=0.1)


def test_scores_do_not_depend_on_batch_size_or_position():
    model = build_model("small_cnn", 1, 4).eval()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(24, 1, 8, 8, generator=gen)
    y = torch.randint(0, 4, (24,), generator=gen)
    ids = torch.arange(24)

    def score(order, batch_size):
        out = torch.zeros(24, 2)
        for s in range(0, 24, batch_size):
            idx = order[s : s + batch_size]
            sc, _ = curvature_batch(model, x[idx], y[idx], ids[idx],
                                    probes=2, seed=5, epoch=1)
            out[idx] = sc
        return out

    reference = score(torch.arange(24), 24)
    for order, bs in [
        (torch.arange(24), 1),
        (torch.arange(24), 7),
        (torch.randperm(24, generator=gen), 5),
        (torch.arange(24).flip(0), 24),
    ]:
        torch.testing.assert_close(score(order, bs), reference, rtol=1e-4,
                                   atol=1e-7)


def test_probes_are_rademacher_and_keyed_by_sample_seed_epoch_probe():
    ids = torch.arange(100)
    v = rademacher_probes(ids, (3, 4, 4), seed=0, epoch=1, probe=0)
    assert v.shape == (100, 3, 4, 4)
    assert set(v.unique().tolist()) == {-1.0, 1.0}
    assert abs(float(v.mean())) < 0.05
    # the same sample gets the same probe whatever batch it is in
    again = rademacher_probes(torch.tensor([42, 7]), (3, 4, 4), 0, 1, 0)
    torch.testing.assert_close(again[0], v[42])
    torch.testing.assert_close(again[1], v[7])
    for other in [dict(seed=1, epoch=1, probe=0),
                  dict(seed=0, epoch=2, probe=0),
                  dict(seed=0, epoch=1, probe=1)]:
        w = rademacher_probes(ids, (3, 4, 4), **other)
        assert 0.4 < float((w == v).float().mean()) < 0.6
    # different samples get different (uncorrelated) probes
    assert 0.4 < float((v[0] == v[1]).float().mean()) < 0.6


def test_unknown_options_name_the_valid_ones():
    model = _smooth_model()
    x = torch.zeros(2, 6, dtype=torch.float64)
    y = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="valid ones are .*fd"):
        curvature_batch(model, x, y, torch.arange(2), estimator="exact")
    with pytest.raises(ValueError, match="l2sq"):
        curvature_batch(model, x, y, torch.arange(2), norm="l1")
    with pytest.raises(ValueError, match="rank_mean"):
        aggregate_epochs(np.ones((2, 2)), "median")


def test_aggregations():
    m = np.array([[1.0, 10.0, 3.0, np.nan],
                  [2.0, 20.0, 1.0, np.nan],
                  [3.0, 30.0, 2.0, np.nan]])
    # the NaN column is an epoch that was never scored: ignored
    np.testing.assert_allclose(aggregate_epochs(m, "mean"),
                               [14 / 3, 23 / 3, 35 / 3])
    np.testing.assert_allclose(aggregate_epochs(m, "last_half"),
                               [6.5, 10.5, 16.0])
    np.testing.assert_allclose(aggregate_epochs(m, "first_half"),
                               [5.5, 11.0, 16.5])
    np.testing.assert_allclose(aggregate_epochs(m, "rank_mean"),
                               [(0 + 0 + 1) / 3, (0.5 + 0.5 + 0) / 3,
                                (1 + 1 + 0.5) / 3])
    z = aggregate_epochs(m, "zscore_mean")
    assert z.argmax() == 2 and abs(z.sum()) < 1e-9
