"""Duplicate finders on real images with planted realistic copies (engine
only, no FiftyOne, no training).

For each kind of copy (fiftyone_curvature.engine.copies.KINDS, and "none"
= nothing planted): ``--num`` unrelated images (a stratified random
subset of CIFAR-10 or digits); ``--plants`` of them get a transformed copy
with another label (one run per kind, so each run's data-derived threshold
is chosen on its own data). Prints per kind and finder the recall of the
planted pairs (copy flagged in one group with its source) and the false
flags among the unrelated images that are not sources, and writes JSON to
benchmarks/results/.

    python benchmarks/duplicate_finder.py --data cifar
    python benchmarks/duplicate_finder.py --data digits --num 1000
"""

import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from common import RESULTS, load_cifar_subset, load_digits_uint8  # noqa


def load(data, num, seed):
    """``num`` stratified images (N, C, H, W) uint8 and labels."""
    if data == "cifar":
        images, labels, _ = load_cifar_subset(per_class=num // 10, seed=seed)
        return images, labels
    images, labels = load_digits_uint8()
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(labels == c), num // 10, replace=False)
        for c in range(10)]))
    return images[keep][:, None], labels[keep]


def pixels_finder(images, labels, threshold):
    """The earlier default: 16 px pixel vectors (zero-mean, unit-norm),
    centred cosine distance, a fixed threshold, groups of pairs within
    it (what fiftyone-brain's near-duplicate search returns)."""
    from PIL import Image
    from sklearn.neighbors import NearestNeighbors

    from fiftyone_curvature.engine.copies import to_array, to_pil
    from fiftyone_curvature.engine.near_duplicates import conflicting_members
    from fiftyone_curvature.engine.neighbors import (
        group_pairs, pixel_features,
    )

    if max(images.shape[2:]) > 16:
        images = np.stack([to_array(to_pil(im).resize((16, 16),
                                                      Image.BILINEAR))
                           for im in images])
    x = pixel_features(images).astype(np.float64)
    x = x - x.mean(0)
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    nn = NearestNeighbors().fit(x)
    _, idx = nn.radius_neighbors(x, radius=np.sqrt(2 * threshold))
    pairs = [(i, j) for i in range(len(x)) for j in idx[i] if j != i]
    groups = group_pairs(len(x), pairs)
    return groups, conflicting_members(groups, np.asarray(labels))


def score(groups, flagged, n_unrelated, sources, copies):
    found = flagged[copies] & (groups[copies] == groups[sources])
    others = np.setdiff1d(np.arange(n_unrelated), sources)
    return {
        "recall": float(found.mean()) if len(copies) else None,
        "false_flags": int(flagged[others].sum()),
        "false_flag_rate": float(flagged[others].mean()),
    }


def main(argv=None):
    from fiftyone_curvature.engine.copies import KINDS, make_copies
    from fiftyone_curvature.engine.near_duplicates import (
        find_near_duplicates,
    )

    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", choices=["cifar", "digits"], default="cifar")
    p.add_argument("--num", type=int, default=2000)
    p.add_argument("--plants", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kinds", nargs="+", default=["none"] + list(KINDS))
    a = p.parse_args(argv)
    images, labels = load(a.data, a.num, a.seed)
    n = len(images)
    table = {}
    print(f"{a.data}: {n} unrelated images, {a.plants} planted copies per "
          "kind (recall / false flags among the others)")
    print(f"{'kind':<22}{'aligned (default)':>26}{'pixels@0.01':>20}"
          f"{'pixels@0.1':>20}{'s/1k':>8}")
    for k, kind in enumerate(a.kinds):
        rng = np.random.default_rng(1000 * a.seed + k)
        if kind == "none":
            sources = np.array([], int)
            all_images, all_labels = images, labels
        else:
            sources = np.sort(rng.choice(n, a.plants, replace=False))
            planted = make_copies(images[sources], kind,
                                  seed=int(rng.integers(1 << 31)))
            other = (labels[sources] + rng.integers(1, 10, len(sources))) % 10
            all_images = np.concatenate([images, planted])
            all_labels = np.concatenate([labels, other])
        copies = np.arange(n, len(all_images))
        t0 = time.perf_counter()
        near = find_near_duplicates(all_images, all_labels)
        seconds = time.perf_counter() - t0
        row = {"aligned": dict(score(near.groups, near.flagged, n, sources,
                                     copies), threshold=near.threshold)}
        for thr in (0.01, 0.1):
            g, f = pixels_finder(all_images, all_labels, thr)
            row[f"pixels@{thr}"] = score(g, f, n, sources, copies)
        row["seconds_per_1000"] = 1000 * seconds / len(all_images)
        table[kind] = row

        def cell(s):
            r = "  - " if s["recall"] is None else f"{s['recall']:.2f}"
            return f"{r} / {s['false_flags']} ({s['false_flag_rate']:.2%})"

        print(f"{kind:<22}{cell(row['aligned']):>26}"
              f"{cell(row['pixels@0.01']):>20}{cell(row['pixels@0.1']):>20}"
              f"{row['seconds_per_1000']:>8.1f}", flush=True)
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"duplicate_finder_{a.data}.json")
    with open(out, "w") as f:
        json.dump({"args": vars(a), "table": table}, f, indent=1)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
