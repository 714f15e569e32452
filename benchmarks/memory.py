"""Peak memory of a curvature run on all 50,000 CIFAR-10 training images.

Decodes the real CIFAR-10 train set (../shared/data/cifar10) to a
(50000, 3, 32, 32) uint8 array, as prepare_data does, then runs the engine
with the default model for a few epochs and prints the process's peak
resident set size (RSS) after each phase. Peak RSS barely depends on the
number of epochs (the per-sample records are N x E float32 arrays), so a
short run is representative of a long one.

    python benchmarks/memory.py --epochs 1
    python benchmarks/memory.py --epochs 1 --per-class 500   # 5,000 images

Not a test: one epoch on 50,000 images takes about 10 minutes on 2 cores.
"""

import argparse
import json
import os
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS, inject_noise, load_cifar_subset  # noqa: E402


def peak_rss_mb():
    """Peak resident set size of this process so far, in MB (Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=0,
                   help="images per class (0 = all 50,000)")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--probes", type=int, default=1)
    p.add_argument("--with-fiftyone", action="store_true",
                   help="import fiftyone first, as the plugin does")
    a = p.parse_args(argv)

    rows = [("start", peak_rss_mb(), 0.0)]
    t0 = time.perf_counter()
    if a.with_fiftyone:
        __import__("fiftyone")

        rows.append(("import fiftyone", peak_rss_mb(),
                     time.perf_counter() - t0))
    from fiftyone_curvature.engine.training import train_and_track

    rows.append(("import torch + engine", peak_rss_mb(),
                 time.perf_counter() - t0))
    images, labels, _ = load_cifar_subset(per_class=a.per_class or None)
    noisy, _ = inject_noise(labels, 0.1, 10)
    rows.append((f"decode {len(labels)} images "
                 f"({images.nbytes / 1e6:.0f} MB uint8)", peak_rss_mb(),
                 time.perf_counter() - t0))
    result = train_and_track(images, noisy, epochs=a.epochs,
                             probes=a.probes)
    rows.append((f"train + score {a.epochs} epoch(s)", peak_rss_mb(),
                 time.perf_counter() - t0))

    print(f"\n{'phase':<44}{'peak RSS':>12}{'elapsed':>10}")
    for name, mb, t in rows:
        print(f"{name:<44}{mb:>9.0f} MB{t:>9.0f}s")
    print(f"config {json.dumps(result.config)}")
    os.makedirs(RESULTS, exist_ok=True)
    out = os.path.join(RESULTS, f"memory_n{len(labels)}.json")
    with open(out, "w") as f:
        json.dump({"rows": rows, "config": result.config,
                   "train_seconds": result.train_seconds,
                   "score_seconds": result.score_seconds}, f, indent=1)
    print(f"saved {os.path.relpath(out)}")


if __name__ == "__main__":
    main()
