"""Data and noise helpers shared by the benchmarks (no FiftyOne)."""

import io
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
def _find_cifar():
    """$CIFAR10_NPZ, else shared/ beside the repository (this machine) or
    inside it (the device machine's copy of the working tree)."""
    if os.environ.get("CIFAR10_NPZ"):
        return os.environ["CIFAR10_NPZ"]
    candidates = [os.path.join(HERE, "..", up, "shared", "data", "cifar10",
                               "cifar10_jpeg.npz") for up in ("..", ".")]
    return next((c for c in candidates if os.path.exists(c)), candidates[0])


CIFAR_NPZ = _find_cifar()
RESULTS = os.path.join(HERE, "results")


def load_digits_uint8():
    """scikit-learn digits as (1797, 8, 8) uint8 images and (1797,) labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (np.round(d.images / 16.0 * 255).astype(np.uint8),
            d.target.astype(np.int64))


def load_cifar_subset(per_class=500, seed=0, path=CIFAR_NPZ):
    """A stratified subset of real CIFAR-10 train images.

    Picks the same images as ``shared/data/cifar10/export.py --per-class``
    with the same seed.

    Returns:
        (N, 3, 32, 32) uint8 images, (N,) labels, (N,) original indices
    """
    from PIL import Image

    if not os.path.exists(path):
        raise FileNotFoundError(
            f"CIFAR-10 archive not found at {path}; this benchmark needs "
            "../shared/data/cifar10"
        )
    d = np.load(path)
    blob, off, lab = d["train_jpeg"], d["train_offsets"], d["train_labels"]
    keep = np.arange(len(lab))
    if per_class:
        rng = np.random.default_rng(seed)
        keep = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(lab == c), per_class, replace=False)
            for c in range(10)
        ]))
    images = np.stack([
        np.asarray(Image.open(io.BytesIO(
            blob[off[i]:off[i + 1]].tobytes())).convert("RGB"))
        for i in keep
    ]).transpose(0, 3, 1, 2)
    return np.ascontiguousarray(images), lab[keep].astype(np.int64), keep


def inject_noise(labels, fraction, num_classes, kind="symmetric", seed=0):
    """Flips a known fraction of labels with the engine's
    :func:`fiftyone_curvature.engine.noise.inject_noise`.

    ``symmetric``: each chosen sample gets a uniformly random other class.
    ``asymmetric``: in each class, the chosen samples get class
    (c + 1) mod K, a fixed class-pair mapping.

    Returns:
        noisy (N,) labels and an (N,) bool mask of the flipped samples
    """
    from fiftyone_curvature.engine.noise import inject_noise as engine_noise

    mapping = None
    if kind == "asymmetric":
        mapping = {c: (c + 1) % num_classes for c in range(num_classes)}
    noisy, mask, _ = engine_noise(labels, num_classes, fraction, kind=kind,
                                  mapping=mapping, seed=seed)
    return noisy, mask
