"""Shared pieces of the fault tests: a tiny run, a dataset of bad images."""

import pytest

from fault_cases import FAST


@pytest.fixture
def digits(make_digits):
    """60 digits with 10% flipped labels, deleted after the test."""
    return make_digits(n=60, noise=0.1)


@pytest.fixture
def no_training(monkeypatch):
    """Makes training fail loudly: a check that must refuse before
    training hits this instead of its own error."""
    import fiftyone_curvature.engine.training as training

    def trained(*args, **kwargs):
        raise AssertionError("training started")

    monkeypatch.setattr(training, "train_and_track", trained)


@pytest.fixture(scope="module")
def scored(digits_maker):
    """60 digits with one complete curvature run (per test module)."""
    import fiftyone_curvature as fc

    dataset = digits_maker(n=60, noise=0.1)
    fc.compute_curvature(dataset, "label", **FAST)
    yield dataset
    dataset.delete()
