"""Every public entry checks its arguments first (issue 23's "silently
wrong" cases): refused before any training, named in the message."""

import numpy as np
import pytest

import fiftyone_curvature as fc
import fiftyone_curvature.engine.training as training
from fiftyone_curvature.engine.constants import RESERVED_FIELDS

FAST = dict(epochs=1, score_every=1, progress=False)


@pytest.fixture
def no_training(monkeypatch):
    def trained(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(training, "train_and_track", trained)


REFUSED = [
    (dict(score_every=0), "score_every"),
    (dict(classes="0123"), "classes must be"),
    (dict(progress=5), "progress must be"),
    (dict(seed=2**63), "at most 2"),
    (dict(epochs=2**63), "at most 2"),
    (dict(thresholds="top_k=5"), "thresholds must be a dict"),
    (dict(thresholds={"top_k": True}), "top_k"),
    (dict(thresholds={"top_k": -1}), "top_k"),
    (dict(nproc=np.float64(2)), "nproc must be an integer"),
    (dict(rank_by="bogus"), "rank_by"),
    (dict(image_size=True), "image_size"),
    (dict(curvature_field="k" * 20000), "at most 64 characters"),
] + [(dict(curvature_field=name), "reserves")
     for name in ("media_type", "frames", "sample_id", "id", "filepath",
                  "tags", "metadata")]


@pytest.mark.parametrize("kwargs,named", REFUSED)
def test_compute_refuses(make_digits, no_training, kwargs, named):
    dataset = make_digits(n=20, noise=0.0)
    options = dict(FAST, **kwargs)
    with pytest.raises(ValueError, match=named) as err:
        fc.compute_curvature(dataset, "label", **options)
    assert len(str(err.value)) < 400
    assert dataset.list_brain_runs() == []


@pytest.mark.parametrize("kwargs,named", [
    (dict(seeds=[0.5]), "seeds"),
    (dict(seeds=[2**63]), "seeds"),
    (dict(progress=5), "progress must be"),
    (dict(noise=True), "noise"),
    (dict(key="media_type"), "reserves"),
])
def test_evaluate_refuses(make_digits, no_training, kwargs, named):
    dataset = make_digits(n=20, noise=0.0)
    with pytest.raises(ValueError, match=named):
        fc.evaluate_corruption(dataset, "label", epochs=1, **kwargs)
    assert dataset.list_brain_runs() == []


@pytest.mark.parametrize("kwargs,named", [
    (dict(threshold=True), "threshold"),
    (dict(method="pixels", threshold=3.0), "threshold"),
    (dict(progress=5), "progress must be"),
    (dict(key="frames"), "reserves"),
])
def test_duplicate_search_refuses(make_digits, kwargs, named):
    dataset = make_digits(n=20, noise=0.0)
    with pytest.raises(ValueError, match=named):
        fc.find_duplicate_conflicts(dataset, "label", **kwargs)
    assert dataset.list_brain_runs() == []


def test_duplicates_option_threshold_checked_like_the_search(make_digits,
                                                            no_training):
    dataset = make_digits(n=20, noise=0.0)
    with pytest.raises(ValueError, match="threshold"):
        fc.compute_curvature(dataset, "label", duplicates={
            "method": "pixels", "threshold": True}, **FAST)


def test_compare_scores_refuses_bad_top_k(make_digits):
    dataset = make_digits(n=20, noise=0.0)
    dataset.set_values("a", [float(i) for i in range(20)])
    for bad in (True, -1):
        with pytest.raises(ValueError, match="top_k must be an int"):
            fc.compare_scores(dataset, "a", "a", top_k=bad)


def test_users_mislabeled_cutoff_is_kept(make_digits):
    dataset = make_digits(n=40, noise=0.2)
    results = fc.compute_curvature(
        dataset, "label", thresholds={"mislabeled_cutoff": 0.0}, **FAST)
    assert results.config.thresholds["mislabeled_cutoff"] == 0.0
    view = dataset.load_saved_view("curvature_likely_mislabeled")
    suggested = np.array(dataset.values("curvature_suggested_label.label"))
    given = np.array(dataset.values("label.label"))
    # cutoff 0: every sample whose suggested label differs
    assert len(view) == int((suggested != given).sum())


def test_reserved_names_are_the_constant():
    assert {"media_type", "frames", "sample_id", "id", "filepath", "tags",
            "metadata"} <= set(RESERVED_FIELDS)


def test_cuda_without_cuda_is_a_plain_message(make_digits):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    dataset = make_digits(n=20, noise=0.0)
    with pytest.raises(ValueError, match="no usable CUDA device"):
        fc.compute_curvature(dataset, "label", device="cuda", **FAST)
    assert dataset.list_brain_runs() == []
