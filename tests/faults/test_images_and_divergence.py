"""Unreadable images are all named (and can be skipped); divergence is one
error naming the epoch and the likely cause, with the finished epochs
kept where the README says."""

import os

import numpy as np
import pytest
import torch

import fiftyone as fo

import fiftyone_curvature as fc
from fiftyone_curvature.engine.training import TrainingDivergedError
from fiftyone_curvature.sdk.info import run_info

from fault_cases import FAST, bad_image_files
from fingerprints import unchanged


@pytest.fixture
def with_bad_images(digits, tmp_path):
    """The digits plus a zero-byte, a truncated and a not-an-image file
    (labels of a class the digits have)."""
    bad = bad_image_files(str(tmp_path / "bad"))
    digits.add_samples([
        fo.Sample(filepath=p, label=fo.Classification(label="1"))
        for p in bad.values()
    ])
    return digits, bad


def test_every_unreadable_image_is_named(with_bad_images, no_training):
    from fiftyone_curvature.sdk.images import UnreadableImagesError

    dataset, bad = with_bad_images
    with unchanged(dataset):
        with pytest.raises(UnreadableImagesError) as info:
            fc.compute_curvature(dataset, "label", **FAST)
    message = str(info.value)
    assert "3 of 63 images cannot be read" in message
    for path in bad.values():
        assert path in message
    assert "empty file" in message and "skip_unreadable" in message
    assert sorted(info.value.paths) == sorted(bad.values())
    assert dataset.list_brain_runs() == []


def test_unreadable_images_can_be_skipped_and_are_recorded(with_bad_images):
    dataset, bad = with_bad_images
    results = fc.compute_curvature(dataset, "label", skip_unreadable=True,
                                   **FAST)
    assert results.num_samples == 60
    skipped = {s["filepath"] for s in results.skipped}
    assert skipped == set(bad.values())
    loaded = dataset.load_brain_results("curvature", cache=False)
    assert {s["filepath"] for s in loaded.skipped} == skipped
    assert {s["filepath"] for s in run_info(dataset,
                                            "curvature")["skipped"]} == skipped
    values = dict(zip(*dataset.values(["filepath", "curvature"])))
    assert all(values[p] is None for p in bad.values())


class _ExplodingSGD(torch.optim.SGD):
    """SGD whose steps blow the weights up once an epoch has finished."""

    finished = []

    def step(self, closure=None):
        if self.finished:
            for group in self.param_groups:
                group["lr"] = float("inf")
        return super().step(closure)


def test_divergence_is_one_error_and_leaves_the_dataset_as_it_was(
    digits, tmp_path, monkeypatch,
):
    _ExplodingSGD.finished = []
    monkeypatch.setattr(torch.optim, "SGD", _ExplodingSGD)
    checkpoint = str(tmp_path / "ckpt")
    with unchanged(digits):
        with pytest.raises(TrainingDivergedError) as info:
            fc.compute_curvature(
                digits, "label", epochs=3, score_every=1, lr=0.01,
                schedule="constant", checkpoint_dir=checkpoint,
                progress=lambda i: i.get("phase") == "epoch" and (
                    _ExplodingSGD.finished.append(i)))
    err = info.value
    assert err.epoch == 2
    message = str(err)
    assert "\n" not in message
    assert "epoch 2" in message and "learning rate" in message
    assert checkpoint in message
    assert err.partial_result.scored_epochs == [1]
    assert os.path.exists(os.path.join(checkpoint, "state.pt"))
    assert digits.list_brain_runs() == []


def test_non_finite_curvature_is_a_divergence_not_a_floating_point_error(
    monkeypatch,
):
    import fiftyone_curvature.engine.training as training

    real = training.curvature_batch

    def nan_curvature(*args, **kwargs):
        per_probe, logits = real(*args, **kwargs)
        return per_probe * float("nan"), logits

    monkeypatch.setattr(training, "curvature_batch", nan_curvature)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (40, 1, 8, 8), dtype=np.uint8)
    y = np.arange(40) % 2
    with pytest.raises(TrainingDivergedError, match="epoch 1: the curvature"):
        training.train_and_track(x, y, epochs=2, score_every=1)
