"""Shared pieces of the fault tests: a tiny run, a dataset of bad images."""

import os

import pytest

#: the cheapest real run: one epoch, scored, on 8x8 digits
FAST = dict(epochs=1, score_every=1, progress=False)


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


def bad_image_files(folder):
    """A zero-byte file, a truncated PNG and a text file named .png."""
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    empty = os.path.join(folder, "empty.png")
    open(empty, "wb").close()
    full = os.path.join(folder, "full.png")
    Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)
    ).save(full)
    data = open(full, "rb").read()
    truncated = os.path.join(folder, "truncated.png")
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    text = os.path.join(folder, "text.png")
    with open(text, "w") as f:
        f.write("not an image")
    return {"empty": empty, "truncated": truncated, "text": text}
