"""CPU speed levers side by side, in one process, interleaved A/B/A/B.

Every variant is a real engine run (``_Run``: data source, augmentation,
recording, the scoring pass) on the same data with the same seed; the
benchmark calls one training epoch (or one scoring pass) of each variant in
turn, ``--rounds`` times, and reports the median seconds and the ratio to
the "before" variant (the defaults before issue 16: float32, channels-last,
PyTorch's thread count, unfused scoring at batch 256). Interleaving makes
the ratios survive a machine that other processes share (their load
slows every variant alike); absolute figures do not.

    python benchmarks/cpu_levers.py --data digits
    python benchmarks/cpu_levers.py --data cifar --per-class 100
    python benchmarks/cpu_levers.py --data cifar --per-class 100 --compile
"""

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_cifar_subset, load_digits_uint8  # noqa: E402

#: the training / scoring settings of the code before the levers
BEFORE = dict(amp=False, channels_last=True, threads=None, fuse_bn=False,
              compile=False, score_batch_size=256)


def train_variants(args):
    v = {
        "before (fp32, NHWC, default threads)": {},
        "bf16 autocast": dict(amp=True),
        "channels-last off (NCHW)": dict(channels_last=False),
        "1 thread": dict(threads=1),
        "bf16 + 1 thread": dict(amp=True, threads=1),
        "no per-batch records (bookkeeping cost)": dict(_no_records=True),
    }
    if args.compile:
        v["torch.compile"] = dict(compile=True)
    v["after: defaults"] = "defaults"
    return v


def score_variants():
    return {
        "before (unfused, batch 256, default threads)": {},
        "BatchNorm folded (fuse_bn)": dict(fuse_bn=True),
        "score batch 1024": dict(score_batch_size=1024),
        "score batch 64": dict(score_batch_size=64),
        "1 thread": dict(threads=1),
        "after: defaults (fused)": "defaults",
    }


def make_run(images, labels, settings, epochs):
    import torch

    from fiftyone_curvature.engine.config import TrackingConfig
    from fiftyone_curvature.engine.source import as_tensors
    from fiftyone_curvature.engine.training import _Run

    x, y, k = as_tensors(images, labels, None)
    if settings == "defaults":
        cfg = TrackingConfig(epochs=epochs, score_every=1)
        no_records = False
    else:
        settings = dict(settings)
        no_records = settings.pop("_no_records", False)
        cfg = TrackingConfig(**{**BEFORE, **settings}, epochs=epochs,
                             score_every=1)
    run = _Run(x, y, cfg, k, None)
    if no_records:
        run.rec.record_logits = lambda *a, **kw: torch.tensor(True)
    return run


def timed(run, what, epoch):
    from fiftyone_curvature.engine.performance import num_threads

    with num_threads(run.cfg.threads):
        t0 = time.perf_counter()
        if what == "train":
            run.train_epoch(epoch)
        else:
            run.score_epoch(epoch)
        return time.perf_counter() - t0


def bench(kind, variants, images, labels, rounds):
    n = len(labels)
    runs = {name: make_run(images, labels, s, rounds + 1)
            for name, s in variants.items()}
    # warm-up: one training epoch each (kernels, allocator, compilation);
    # scoring needs a trained-for-one-epoch model anyway
    for run in runs.values():
        timed(run, "train", 1)
        if kind == "score":
            timed(run, "score", 1)
    times = {name: [] for name in runs}
    for r in range(rounds):
        for name, run in runs.items():  # A/B/A/B
            if kind == "score":
                times[name].append(timed(run, "score", 1))
            else:
                times[name].append(timed(run, "train", r + 2))
    base = statistics.median(next(iter(times.values())))
    what = "training" if kind == "train" else "scoring"
    unit = "epochs" if kind == "train" else "passes"
    print(f"\n{what}: median of {rounds} interleaved {unit} over {n} "
          "samples")
    print(f"{'lever':<44}{'s':>8}{'samples/s':>11}{'speed-up':>10}  config")
    rows = []
    for name, ts in times.items():
        m = statistics.median(ts)
        cfg = runs[name].cfg
        note = (f"amp={cfg.amp} threads={cfg.threads} "
                f"fuse_bn={cfg.fuse_bn} batch={cfg.score_batch_size}"
                if kind == "score" or name.startswith("after") else "")
        print(f"{name:<44}{m:>8.2f}{n / m:>11.0f}{base / m:>9.2f}x  {note}",
              flush=True)
        rows.append(dict(lever=name, seconds=m, speedup=base / m))
    return runs, rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["digits", "cifar"], default="digits")
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--compile", action="store_true",
                   help="also time torch.compile (minutes of compilation)")
    p.add_argument("--only", choices=["train", "score"], default=None)
    p.add_argument("--limit", type=int, default=None,
                   help="use only the first N images (quicker rounds)")
    a = p.parse_args(argv)

    import torch

    from fiftyone_curvature.engine.performance import resolve_amp

    if a.data == "digits":
        images, labels = load_digits_uint8()
    else:
        images, labels, _ = load_cifar_subset(a.per_class)
    images, labels = images[:a.limit], labels[:a.limit]
    load = os.getloadavg()
    _, path = resolve_amp("auto", torch.device("cpu"),
                          "small_cnn" if a.data == "digits"
                          else "small_resnet")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, load "
          f"average {load[0]:.1f} (other processes share these cores: "
          "absolute figures vary, the interleaved ratios are what counts); "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads by "
          f"default; amp=auto takes: {path}")
    print(f"data {a.data}: {len(labels)} images of shape "
          f"{tuple(images.shape[1:])}")
    if a.only != "score":
        bench("train", train_variants(a), images, labels, a.rounds)
    if a.only != "train":
        bench("score", score_variants(), images, labels, a.rounds)
    print(f"\nload average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
