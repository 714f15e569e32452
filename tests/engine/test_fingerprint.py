"""Pins the scores of a short fixed-seed run, so that a refactor that
changes any score bit fails.

Run ``python tests/engine/test_fingerprint.py --write`` to regenerate
``fingerprints/digits_small_cnn.json`` (only when a change of scores is
intended, and say why in the commit).
"""

import hashlib
import json
import os
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FINGERPRINT = os.path.join(HERE, "fingerprints", "digits_small_cnn.json")

#: the run: 240 digits with 24 symmetric flips, small CNN, one CPU thread
RUN = dict(model="small_cnn", epochs=6, device="cpu", threads=1, seed=0,
           score_every=1, probes=2)


def _digits(n=240, flips=24):
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = np.clip(digits.images[:n] * 16, 0, 255).astype(np.uint8)[:, None]
    y = digits.target[:n].copy()
    rng = np.random.default_rng(0)
    flip = rng.choice(n, flips, replace=False)
    y[flip] = (y[flip] + rng.integers(1, 10, flips)) % 10
    return x, y


def _describe(array):
    """sha256 of the exact bytes (with dtype and shape) and a few numbers
    that make a mismatch readable."""
    a = np.ascontiguousarray(np.asarray(array))
    digest = hashlib.sha256(
        f"{a.dtype.str}{a.shape}".encode() + a.tobytes()
    ).hexdigest()
    f = a.astype(np.float64)
    return {"sha256": digest, "dtype": a.dtype.str, "shape": list(a.shape),
            "sum": float(np.nansum(f)), "head": f.ravel()[:3].tolist()}


def fingerprint():
    """The fingerprint of :data:`RUN` on this code (a dict)."""
    from fiftyone_curvature.engine.training import train_and_track

    x, y = _digits()
    result = train_and_track(x, y, **RUN)
    review = result.label_review
    arrays = {"curvature": result.curvature,
              "curvature_epochs": result.curvature_epochs,
              "logits": result.logits}
    arrays.update({f"score.{k}": v for k, v in result.scores.items()})
    arrays.update({f"record.{k}": v for k, v in result.records.items()})
    return {
        "run": RUN,
        "scored_epochs": list(map(int, result.scored_epochs)),
        "arrays": {k: _describe(v) for k, v in sorted(arrays.items())},
        "label_review": {
            "suggested": _describe(review.suggested.astype(np.int64)),
            "estimated_errors": int(review.estimated_errors),
            "window": int(review.window),
            "estimator": review.estimator,
            "aum_mixture_errors": int(review.aum_mixture_errors),
            "confident_joint_errors": int(review.confident_joint_errors),
        },
    }


@pytest.fixture(scope="module")
def pair():
    with open(FINGERPRINT) as f:
        stored = json.load(f)
    return stored, fingerprint()


def test_same_run_and_epochs(pair):
    stored, now = pair
    assert now["run"] == stored["run"]
    assert now["scored_epochs"] == stored["scored_epochs"]


def test_scores_bit_identical(pair):
    stored, now = pair
    assert sorted(now["arrays"]) == sorted(stored["arrays"])
    changed = {
        name: (stored["arrays"][name], now["arrays"][name])
        for name in stored["arrays"]
        if now["arrays"][name] != stored["arrays"][name]
    }
    assert not changed, f"scores changed: {changed}"


def test_label_review_identical(pair):
    stored, now = pair
    assert now["label_review"] == stored["label_review"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit(f"usage: {sys.argv[0]} --write")
    os.makedirs(os.path.dirname(FINGERPRINT), exist_ok=True)
    with open(FINGERPRINT, "w") as f:
        json.dump(fingerprint(), f, indent=1, sort_keys=True)
        f.write("\n")
    print("wrote", FINGERPRINT)
