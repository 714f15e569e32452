"""Overhead of curvature tracking: tracked wall time / untracked wall time.

Same process, same data, same training (10% symmetric label noise); each
schedule of curvature scoring is one full run, the baseline is the same
training with no curvature scoring (score_every=0). Prints wall time,
overhead and curvature AUROC / AP for finding the flipped labels.

    python benchmarks/overhead.py --data digits --epochs 30
    python benchmarks/overhead.py --data cifar --epochs 30 --schedules default
"""

import argparse
import os
import sys
import time

from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import inject_noise, load_cifar_subset, load_digits_uint8  # noqa

DEFAULT_SCHEDULES = ["paper", "10:1", "2:1", "1:1", "1:2", "1:2:0.4",
                     "1:4", "default"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["digits", "cifar"], default="digits")
    p.add_argument("--per-class", type=int, default=500)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--schedules", nargs="*", default=DEFAULT_SCHEDULES,
                   help="PROBES:EVERY[:FROM] at the default h, 'default' "
                   "(TrackingConfig's defaults) or 'paper' (10 probes every "
                   "epoch at h = 1e-3)")
    a = p.parse_args(argv)

    from fiftyone_curvature.engine.config import TrackingConfig
    from fiftyone_curvature.engine.training import train_and_track

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

    # warm-up (thread pools, kernels, allocator) so that the baseline is
    # not charged for first-call costs
    train_and_track(images, noisy, epochs=1, seed=a.seed, probes=1,
                    score_every=1)
    _, base = run(score_every=0)
    print(f"{a.data} n={len(labels)} epochs={a.epochs}: untracked "
          f"training {base:.1f}s")
    print(f"{'schedule':>10}{'h':>7}{'probes':>7}{'every':>6}{'from':>6}"
          f"{'wall s':>9}{'overhead':>10}{'AUROC':>8}{'AP':>8}")
    defaults = TrackingConfig()
    for item in a.schedules:
        if item == "paper":
            cfg = TrackingConfig.paper()
        elif item == "default":
            cfg = defaults
        else:
            parts = item.split(":")
            cfg = TrackingConfig(probes=int(parts[0]),
                                 score_every=int(parts[1]),
                                 score_from=float(parts[2]) if len(parts) > 2
                                 else 0.0)
        r, wall = run(probes=cfg.probes, score_every=cfg.score_every,
                      score_from=cfg.score_from, h=cfg.h)
        print(f"{item:>10}{cfg.h:>7g}{cfg.probes:>7}{cfg.score_every:>6}"
              f"{cfg.score_from:>6.2f}{wall:>9.1f}{wall / base:>9.2f}x"
              f"{roc_auc_score(flipped, r.curvature):>8.4f}"
              f"{average_precision_score(flipped, r.curvature):>8.3f}",
              flush=True)


if __name__ == "__main__":
    main()
