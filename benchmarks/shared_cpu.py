"""A run on a shared CPU: the default thread choice idle and beside busy
processes, side by side with a fixed all-cores run (no FiftyOne).

    python benchmarks/shared_cpu.py --per-class 100 --epochs 2 --busy 2

Each busy process multiplies matrices on one thread (--busy-threads: a
notebook or another training job); the figure is seconds per epoch
(training + scoring), the ratio busy / idle, and the thread count each
run chose. Goal (issue 24): the default within 2.5x of idle when busy.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS, load_cifar_subset  # noqa: E402


#: what each busy process runs: matrix products on one thread until
#: killed (a separate interpreter: forking after OpenMP started can hang
#: the child); --busy-threads sets its thread count
BUSY = ("import sys, torch\n"
        "torch.set_num_threads(int(sys.argv[1]))\n"
        "a = torch.randn(512, 512)\n"
        "while True:\n"
        "    a = torch.tanh(a @ a) * 0.5\n")


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
    p.add_argument("--busy-threads", type=int, default=1,
                   help="threads of each busy process (default 1)")
    p.add_argument("--skip-all-cores-busy", action="store_true",
                   help="skip the fixed all-cores run under load (slow)")
    p.add_argument("--out", default=os.path.join(RESULTS, "shared_cpu.json"))
    args = p.parse_args()
    x, y, _ = load_cifar_subset(args.per_class, 0)
    rows = {}
    rows["idle_auto"] = _run(x, y, "auto", args.epochs)
    cores = os.cpu_count() or 1
    rows["idle_all_cores"] = _run(x, y, cores, args.epochs)
    procs = [subprocess.Popen([sys.executable, "-c", BUSY,
                               str(args.busy_threads)])
             for _ in range(args.busy)]
    time.sleep(30)  # let the 1-minute load average see them
    try:
        rows["busy_auto"] = _run(x, y, "auto", args.epochs)
        if not args.skip_all_cores_busy:
            rows["busy_all_cores"] = _run(x, y, cores, args.epochs)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
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
            "busy_threads": args.busy_threads,
            "rows": rows, "busy_over_idle_default": round(ratio, 2)},
            f, indent=1)


if __name__ == "__main__":
    main()
