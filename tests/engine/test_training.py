"""The tracked training loop: determinism, resume, bad input, label noise."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.metrics import roc_auc_score

from fiftyone_curvature.engine.dynamics import SCORES, suspicion
from fiftyone_curvature.engine.source import augment as _augment
from fiftyone_curvature.engine.source import batches as _batches
from fiftyone_curvature.engine.training import (
    TrainingDivergedError,
    train_and_track,
)


def symmetric_noise(labels, fraction, num_classes, seed):
    """Flips ``fraction`` of labels to a uniformly random other class."""
    rng = np.random.default_rng(seed)
    n = len(labels)
    flipped = rng.choice(n, int(round(fraction * n)), replace=False)
    noisy = labels.copy()
    noisy[flipped] = (
        labels[flipped] + rng.integers(1, num_classes, len(flipped))
    ) % num_classes
    mask = np.zeros(n, bool)
    mask[flipped] = True
    return noisy, mask


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    images = np.round(d.images / 16.0 * 255).astype(np.uint8)
    return images, d.target.astype(np.int64)


def _small(digits, n=240):
    images, labels = digits
    return images[:n], labels[:n]


# threads fixed: "auto" picks the faster count at run time, and runs are
# bit-for-bit reproducible at a fixed thread count only
FAST = dict(epochs=3, probes=2, batch_size=64, score_batch_size=64,
            score_every=1, score_from=0.0, threads=1)


def test_result_shapes_and_finite_scores(digits):
    x, y = _small(digits)
    r = train_and_track(x, y, **dict(FAST, score_every=2),
                        record_probes=True, record_embeddings=True)
    n = len(y)
    assert r.curvature.shape == (n,)
    assert r.scored_epochs == [2, 3]
    assert r.curvature_epochs.shape == (n, 2)
    assert r.curvature_probes.shape == (n, 2, 2)
    np.testing.assert_allclose(r.curvature_probes.mean(axis=2),
                               r.curvature_epochs, rtol=1e-6)
    np.testing.assert_allclose(r.curvature, r.curvature_epochs.mean(axis=1),
                               rtol=1e-6)
    assert np.isfinite(r.curvature).all() and (r.curvature > 0).all()
    assert set(r.scores) == set(SCORES)
    for name, values in r.scores.items():
        assert values.shape == (n,) and np.isfinite(values).all(), name
    assert r.records["train_loss"].shape == (n, 3)
    assert r.logits.shape == (n, 10) and r.embeddings.shape[0] == n
    assert [h["epoch"] for h in r.history] == [1, 2, 3]
    assert r.config["model"] == "small_cnn" and r.config["augment"] is False
    # CSL is the sum of the recorded per-epoch training losses
    np.testing.assert_allclose(r.scores["csl"],
                               r.records["train_loss"].sum(axis=1),
                               rtol=1e-5)


def test_same_seed_same_scores_bit_for_bit(digits):
    x, y = _small(digits)
    a = train_and_track(x, y, **FAST, seed=3)
    b = train_and_track(x, y, **FAST, seed=3)
    c = train_and_track(x, y, **FAST, seed=4)
    assert np.array_equal(a.curvature_epochs, b.curvature_epochs)
    for name in SCORES:
        assert np.array_equal(a.scores[name], b.scores[name]), name
    assert not np.allclose(a.curvature, c.curvature)


def test_resume_after_interruption_gives_same_scores(digits, tmp_path):
    x, y = _small(digits)
    kw = dict(FAST, epochs=4, seed=1)
    reference = train_and_track(x, y, **kw)

    class Interrupt(Exception):
        pass

    def stop_after_two(info):
        if info["epoch"] == 2:
            raise Interrupt()

    with pytest.raises(Interrupt):
        train_and_track(x, y, **kw, checkpoint_dir=tmp_path,
                        progress=stop_after_two)
    seen = []
    resumed = train_and_track(x, y, **kw, checkpoint_dir=tmp_path,
                              progress=lambda i: seen.append(i["epoch"]))
    assert seen == [3, 4]  # only the unfinished epochs ran
    assert np.array_equal(resumed.curvature_epochs,
                          reference.curvature_epochs)
    for name in SCORES:
        assert np.array_equal(resumed.scores[name], reference.scores[name])
    # a different run must not silently reuse that checkpoint
    with pytest.raises(ValueError, match="another run"):
        train_and_track(x, y, **dict(kw, lr=0.05), checkpoint_dir=tmp_path)


def test_bad_input_errors_name_the_problem(digits):
    x, y = _small(digits, 50)
    with pytest.raises(ValueError, match="empty"):
        train_and_track(x[:0], y[:0], **FAST)
    with pytest.raises(ValueError, match="one class"):
        train_and_track(x, np.zeros_like(y), **FAST)
    with pytest.raises(ValueError, match="out of range"):
        train_and_track(x, y, num_classes=5, **FAST)
    with pytest.raises(ValueError, match="out of range"):
        train_and_track(x, np.where(y == 3, -1, y), **FAST)
    bad = x.astype(np.float32)
    bad[7, 2, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf.*\\[7\\]"):
        train_and_track(bad, y, **FAST)
    with pytest.raises(ValueError, match="one label per input"):
        train_and_track(x, y[:-1], **FAST)
    with pytest.raises(ValueError, match="valid ones are"):
        train_and_track(x, y, **FAST, estimator="exact")
    with pytest.raises(ValueError, match="Unknown option"):
        train_and_track(x, y, config={"epoch": 3})
    with pytest.raises(ValueError, match="epochs must be"):
        train_and_track(x, y, epochs=0)


def test_divergence_raises_after_saving_what_was_computed(
    digits, tmp_path, monkeypatch
):
    x, y = _small(digits, 120)
    finished = []

    class ExplodingSGD(torch.optim.SGD):
        def step(self, closure=None):
            if finished:  # after the first epoch, blow the weights up
                for group in self.param_groups:
                    group["lr"] = float("inf")
            return super().step(closure)

    monkeypatch.setattr(torch.optim, "SGD", ExplodingSGD)
    with pytest.raises(TrainingDivergedError) as info:
        train_and_track(x, y, **FAST, schedule="constant", lr=1e-3,
                        checkpoint_dir=tmp_path, progress=finished.append)
    err = info.value
    assert err.epoch == 2
    assert "diverged" in str(err) and "epoch 2" in str(err)
    assert str(tmp_path) in str(err)
    assert err.partial_result.scored_epochs == [1]
    assert np.isfinite(err.partial_result.curvature).all()
    assert (tmp_path / "state.pt").exists()


def test_batches_never_leave_a_single_sample():
    order = torch.arange(257)
    sizes = [len(b) for b in _batches(order, 128)]
    assert sizes == [128, 129]
    assert torch.equal(torch.cat(_batches(order, 128)), order)
    assert [len(b) for b in _batches(torch.arange(10), 4)] == [4, 4, 2]


def test_augmentation_crops_and_flips():
    gen = torch.Generator().manual_seed(0)
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).reshape(2, 3, 5, 5)
    same = _augment(x, gen, pad=0)
    for i in range(2):  # with no padding, only flips remain
        assert torch.equal(same[i], x[i]) or torch.equal(same[i],
                                                         x[i].flip(-1))
    out = _augment(x.repeat(50, 1, 1, 1), gen, pad=4)
    assert out.shape == (100, 3, 5, 5)
    assert (out == 0).any()  # some crops reach into the zero padding


@pytest.mark.slow
def test_digits_flipped_labels_rank_high(digits):
    """10% symmetric noise on all 1,797 digits: curvature finds the flips."""
    images, labels = digits
    noisy, flipped = symmetric_noise(labels, 0.1, 10, seed=0)
    r = train_and_track(images, noisy, epochs=15, probes=2, seed=0)
    auroc = roc_auc_score(flipped, r.curvature)
    # measured 0.99 over seeds 0-2 (README); floor with margin
    assert auroc >= 0.97, auroc
    for name in ("csl", "in_confidence", "aum"):
        assert roc_auc_score(flipped, suspicion(name, r.scores[name])) > 0.95


def test_schedule_and_auto_options_of_the_config():
    from fiftyone_curvature.engine.config import TrackingConfig

    cfg = TrackingConfig(epochs=10, score_every=2, score_from=0.5)
    assert cfg.scored_epochs() == [7, 9, 10]
    assert TrackingConfig(epochs=10, score_every=3,
                          score_from=0.0).scored_epochs() == [3, 6, 9, 10]
    # the default: k from the model and training precision, resolved when
    # the run starts (every epoch for the small CNN, 6 with bf16, else 2)
    from fiftyone_curvature.engine.config import model_schedule

    with pytest.raises(ValueError, match="resolved from the model"):
        TrackingConfig().scored_epochs()
    assert [model_schedule("small_cnn", False), model_schedule(
        "small_resnet", True), model_schedule("small_resnet", False)] == [
        1, 6, 2]
    assert TrackingConfig(score_every=2).scored_epochs() == list(
        range(2, 31, 2))
    assert TrackingConfig(epochs=4, score_every=0).scored_epochs() == []
    assert TrackingConfig(epochs=5, score_every=2,
                          score_from=0.9).scored_epochs() == [5]
    auto = TrackingConfig()
    assert [auto.resolved_batch_size(n) for n in (40, 1797, 5000, 10000,
                                                 20000, 50000)] == [
        32, 32, 32, 64, 128, 128]
    assert auto.resolved_lr(128) == 0.1 and auto.resolved_lr(32) == 0.05
    fixed = TrackingConfig(batch_size=16, lr=0.3)
    assert fixed.resolved_batch_size(50000) == 16
    assert fixed.resolved_lr(16) == 0.3
    for bad, match in ((dict(score_from=1.0), "score_from"),
                       (dict(score_from="half"), "score_from"),
                       (dict(batch_size="big"), "batch_size"),
                       (dict(lr="fast"), "lr must be"),
                       (dict(lr=0.0), "lr must be")):
        with pytest.raises(ValueError, match=match):
            TrackingConfig(**bad).validate()


def test_auto_batch_size_and_lr_are_stored_resolved(digits):
    x, y = _small(digits, 200)
    r = train_and_track(x, y, epochs=1, probes=1)
    assert r.config["batch_size"] == 32 and r.config["lr"] == 0.05


def test_paper_preset():
    from fiftyone_curvature.engine.config import TrackingConfig

    paper = TrackingConfig.paper(epochs=7)
    assert (paper.estimator, paper.h, paper.probes, paper.score_every,
            paper.score_from, paper.aggregate) == ("fd", 1e-3, 10, 1, 0.0,
                                                   "mean")
    assert paper.epochs == 7 and paper.scored_epochs() == list(range(1, 8))
    assert TrackingConfig.paper(probes=4).probes == 4
