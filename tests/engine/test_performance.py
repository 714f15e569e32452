"""Speed levers: bf16 detection and fallback, BatchNorm folding for
scoring, thread choice, the adaptive schedule."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from fiftyone_curvature.engine import performance
from fiftyone_curvature.engine.config import (
    TrackingConfig, adaptive_scored_epochs,
)
from fiftyone_curvature.engine.curvature import curvature_batch
from fiftyone_curvature.engine.models import build_model
from fiftyone_curvature.engine.training import train_and_track


def test_amp_auto_follows_native_bf16_and_falls_back(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(performance, "cpu_bf16_native", lambda: False)
    enabled, path = performance.resolve_amp("auto", cpu)
    assert enabled is False and path.startswith("float32")
    assert "no native bf16" in path
    monkeypatch.setattr(performance, "cpu_bf16_native", lambda: True)
    enabled, path = performance.resolve_amp("auto", cpu)
    assert enabled is True and path.startswith("bf16 autocast")
    # an explicit choice wins over detection
    assert performance.resolve_amp(False, cpu)[0] is False
    # the tiny digits model stays in float32 (bf16 does not pay there)
    assert performance.resolve_amp("auto", cpu, "small_cnn")[0] is False
    # and a run records the path it took
    x = np.random.default_rng(0).integers(0, 255, (40, 8, 8), np.uint8)
    y = np.arange(40) % 2
    r = train_and_track(x, y, epochs=1, score_every=1, threads=1,
                        model="small_resnet", width=4)
    assert r.config["amp"] is True
    assert r.config["amp_path"].startswith("bf16 autocast (cpu")


def test_folded_batchnorm_scores_like_the_model_and_leaves_it_alone():
    torch.manual_seed(0)
    model = build_model("small_resnet", 3, 10, 8)
    x = torch.randn(16, 3, 16, 16)
    y = torch.randint(0, 10, (16,))
    model.train()
    with torch.no_grad():  # running statistics away from 0 / 1
        model(2 * x + 1)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fused = performance.fused_for_scoring(model, channels_last=False)
    assert not any(isinstance(m, torch.nn.BatchNorm2d)
                   for m in fused.modules())
    ids = torch.arange(16)
    a, la = curvature_batch(model, x, y, ids, probes=2, h=1e-2)
    b, lb = curvature_batch(fused, x, y, ids, probes=2, h=1e-2)
    np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=2e-3)
    np.testing.assert_allclose(lb.numpy(), la.numpy(), rtol=1e-4,
                               atol=1e-5)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k
    assert all(p.requires_grad for p in model.parameters())


def test_thread_choice_is_one_of_the_candidates():
    model = build_model("small_cnn", 1, 10, 8)
    x = torch.randn(8, 1, 8, 8)
    y = torch.randint(0, 10, (8,))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with performance.num_threads(2):
        threads = performance.calibrate_threads(
            model, x, y, torch.device("cpu"), False, 1, candidates=[1, 2])
        # one of the candidates; the count set here is left as it was
        assert threads in (1, 2)
        assert torch.get_num_threads() == 2
    with performance.num_threads(2):
        # a single candidate: nothing to time, it is returned
        assert performance.calibrate_threads(
            model, x, y, torch.device("cpu"), False, 1,
            candidates=[1]) == 1
        assert torch.get_num_threads() == 2
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_adaptive_schedule_scores_while_accuracy_climbs():
    acc = [0.2, 0.5, 0.7, 0.705, 0.71, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    assert adaptive_scored_epochs(acc, 11, rise=0.05, gap=4) == [
        1, 2, 3, 6, 10, 11]
    # online: the decision for epoch e only uses epochs 1..e
    for e in range(1, 12):
        assert adaptive_scored_epochs(acc[:e], 11, rise=0.05, gap=4) == [
            s for s in [1, 2, 3, 6, 10, 11] if s <= e]
    with pytest.raises(ValueError, match="score_every"):
        TrackingConfig(score_every="sometimes").validate()


def test_adaptive_run_records_the_epochs_it_scored():
    d = load_digits()
    x = np.round(d.images[:200] / 16.0 * 255).astype(np.uint8)
    y = d.target[:200]
    r = train_and_track(x, y, epochs=6, score_every="auto", score_gap=3,
                        threads=1)
    acc = [h["train_accuracy"] for h in r.history]
    expected = adaptive_scored_epochs(acc, 6, rise=0.01, gap=3)
    assert r.scored_epochs == expected
    assert [h["epoch"] for h in r.history if h["scored"]] == expected
    assert r.curvature_epochs.shape == (200, len(expected))
    assert np.isfinite(r.curvature_epochs).all()
    np.testing.assert_allclose(r.curvature, r.curvature_epochs.mean(axis=1),
                               rtol=1e-6)
