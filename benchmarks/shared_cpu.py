"""A run on a shared CPU: the default thread choice idle and beside busy
processes, side by side with a fixed all-cores run (no FiftyOne).

    python benchmarks/shared_cpu.py --per-class 100 --epochs 2 --busy 2

Each busy process multiplies matrices with PyTorch's default threads (a
notebook or another training job); the figure is seconds per epoch
(training + scoring), the ratio busy / idle, and the thread count each
run chose. Goal (issue 24): the default within 2.5x of idle when busy.
"""

import argparse
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS, load_cifar_subset  # noqa: E402


def _busy(stop):
    import torch

    a = torch.randn(512, 512)
    while not stop.is_set():
        a = torch.tanh(a @ a) * 0.5


def _run(x, y, threads, epochs):
    from fiftyone_curvature.engine.training import train_and_track

    t0 = time.perf_counter()
    r = train_and_track(x, y, epochs=epochs, threads=threads, seed=0)
    wall = time.perf_counter() - t0
    per_epoch = [h["train_seconds"] + h["score_seconds"] for h in r.history]
    return {"threads_asked": threads, "threads_chosen": r.config["threads"],
            "wall_s": round(wall, 2),
            "s_per_epoch": round(float(np.mean(per_epoch)), 2),
            "load_1min_at_end": round(os.getloadavg()[0], 2)}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=100)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--busy", type=int, default=2,
                   help="busy processes beside the loaded runs")
    p.add_argument("--skip-all-cores-busy", action="store_true",
                   help="skip the fixed all-cores run under load (slow)")
    p.add_argument("--out", default=os.path.join(RESULTS, "shared_cpu.json"))
    args = p.parse_args()
    x, y, _ = load_cifar_subset(args.per_class, 0)
    rows = {}
    rows["idle_auto"] = _run(x, y, "auto", args.epochs)
    rows["idle_all_cores"] = _run(x, y, None, args.epochs)
    stop = mp.Event()
    procs = [mp.Process(target=_busy, args=(stop,), daemon=True)
             for _ in range(args.busy)]
    for proc in procs:
        proc.start()
    time.sleep(20)  # let the 1-minute load average see them
    try:
        rows["busy_auto"] = _run(x, y, "auto", args.epochs)
        if not args.skip_all_cores_busy:
            rows["busy_all_cores"] = _run(x, y, None, args.epochs)
    finally:
        stop.set()
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
    ratio = rows["busy_auto"]["s_per_epoch"] / rows["idle_auto"]["s_per_epoch"]
    print(f"{'run':<16} {'threads':>8} {'s/epoch':>8} {'load':>6}")
    for name, row in rows.items():
        print(f"{name:<16} {row['threads_chosen']!s:>8} "
              f"{row['s_per_epoch']:>8} {row['load_1min_at_end']:>6}")
    print(f"default busy / idle: {ratio:.2f}x (goal <= 2.5x)")
    if "busy_all_cores" in rows:
        print("all cores busy / idle: {:.1f}x".format(
            rows["busy_all_cores"]["s_per_epoch"]
            / rows["idle_all_cores"]["s_per_epoch"]))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    with open(args.out, "w") as f:
        json.dump({"_meta": {
            "command": "python benchmarks/shared_cpu.py " + " ".join(
                sys.argv[1:]),
            "commit": commit, "date": time.strftime("%Y-%m-%d"),
            "machine": f"{os.cpu_count()} CPU cores, no GPU, "
                       f"{platform.platform()}"},
            "n": int(len(y)), "epochs": args.epochs, "busy": args.busy,
            "rows": rows, "busy_over_idle_default": round(ratio, 2)},
            f, indent=1)


if __name__ == "__main__":
    main()
