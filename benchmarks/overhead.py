"""Overhead of curvature tracking: tracked wall time / untracked wall time.

Same process, same data, same training (10% symmetric label noise); each
schedule of curvature scoring is one full run, the baseline is the same
training with no curvature scoring (score_every=0). Prints wall time,
overhead and curvature AUROC / AP for finding the flipped labels.

    python benchmarks/overhead.py --data digits --epochs 15
    python benchmarks/overhead.py --data cifar --epochs 20 --schedules 2:1 1:2
"""

import argparse
import os
import sys
import time

from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import inject_noise, load_cifar_subset, load_digits_uint8  # noqa

DEFAULT_SCHEDULES = ["10:1", "4:1", "2:1", "1:1", "2:2", "1:2", "2:4",
                     "1:4"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["digits", "cifar"], default="digits")
    p.add_argument("--per-class", type=int, default=500)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedules", nargs="*", default=DEFAULT_SCHEDULES,
                   help="PROBES:EVERY pairs")
    a = p.parse_args(argv)

    from fiftyone_curvature.training import train_and_track

    if a.data == "digits":
        images, labels = load_digits_uint8()
    else:
        images, labels, _ = load_cifar_subset(a.per_class)
    noisy, flipped = inject_noise(labels, 0.1, 10, "symmetric", 0)

    def run(**kw):
        t0 = time.perf_counter()
        r = train_and_track(images, noisy, epochs=a.epochs, seed=a.seed,
                            **kw)
        return r, time.perf_counter() - t0

    _, base = run(score_every=0)
    print(f"{a.data} n={len(labels)} epochs={a.epochs}: untracked "
          f"training {base:.1f}s")
    print(f"{'probes':>6}{'every':>6}{'wall s':>9}{'overhead':>10}"
          f"{'AUROC':>8}{'AP':>8}")
    for item in a.schedules:
        probes, every = (int(v) for v in item.split(":"))
        r, wall = run(probes=probes, score_every=every)
        print(f"{probes:>6}{every:>6}{wall:>9.1f}{wall / base:>9.2f}x"
              f"{roc_auc_score(flipped, r.curvature):>8.4f}"
              f"{average_precision_score(flipped, r.curvature):>8.3f}",
              flush=True)


if __name__ == "__main__":
    main()
