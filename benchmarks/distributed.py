"""Data-parallel speed: the same seeded run on 1 and on N processes.

Exports the data once, then runs the engine through the elastic launcher
(what ``fiftyone-curvature compute --nproc N`` does) with 1 and with N
processes, and prints wall time (launch included), the engine's own
train / score seconds (rank 0), samples/s, the speed-up ratio, and how
far the two runs' scores agree (curvature Spearman, AUROC on the injected
flips). On the CPU every rank is a gloo process with
``cores / nproc`` threads: on a 2-core machine two ranks share the same
two cores, so expect no speed-up there; the ratio says what the
communication costs.

    python benchmarks/distributed.py --data digits --epochs 5
    python benchmarks/distributed.py --data cifar --per-class 200 --epochs 2
    python benchmarks/distributed.py --nproc 8 --device cuda   # a GPU box

Results go to benchmarks/results/distributed_<data>.json (and $OUT).
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    RESULTS, load_cifar_subset, load_digits_uint8,
)


def export(images, labels, directory):
    from fiftyone_curvature.engine import datafile

    if images.ndim == 3:
        images = images[:, None]
    out = datafile.create_images(directory, images.shape)
    out[:] = images
    datafile.write_index(directory, out, labels,
                         [str(i) for i in range(len(labels))],
                         [str(c) for c in range(int(labels.max()) + 1)])


def run(images, noisy, nproc, args):
    from fiftyone_curvature.engine.launcher import launch

    directory = tempfile.mkdtemp(prefix=f"curv_dist_{nproc}_")
    try:
        export(images, noisy, directory)
        t0 = time.perf_counter()
        result = launch(directory, nproc, args)
        return result, time.perf_counter() - t0
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main(argv=None):
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    from fiftyone_curvature.engine.noise import inject_noise

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["digits", "cifar"], default="digits")
    p.add_argument("--per-class", type=int, default=200)
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="OMP_NUM_THREADS of every rank (default: cores / "
                   "ranks, so 1 process gets 2 threads on 2 cores)")
    p.add_argument("--set", action="append", default=[],
                   metavar="NAME=VALUE", help="other TrackingConfig options")
    a = p.parse_args(argv)
    if a.threads:
        os.environ["OMP_NUM_THREADS"] = str(a.threads)

    if a.data == "digits":
        images, labels = load_digits_uint8()
    else:
        images, labels, _ = load_cifar_subset(per_class=a.per_class)
    noisy, flipped, _ = inject_noise(labels, 10, 0.1, seed=0)
    args = ["--epochs", str(a.epochs), "--device", a.device,
            "--score-every", "1", "--seed", "0"]
    for item in a.set:
        args += ["--set", item]
    rows, results = [], {}
    for nproc in (1, a.nproc):
        r, wall = run(images, noisy, nproc, args)
        results[nproc] = r
        engine = r.train_seconds + r.score_seconds
        rows.append(dict(
            nproc=nproc, wall_seconds=wall, train_seconds=r.train_seconds,
            score_seconds=r.score_seconds,
            train_samples_per_s=len(noisy) * a.epochs / r.train_seconds,
            engine_samples_per_s=len(noisy) * a.epochs / engine,
            auroc=float(roc_auc_score(flipped, r.curvature)),
        ))
        print(f"{nproc} process(es): wall {wall:.1f} s, train "
              f"{r.train_seconds:.1f} s, score {r.score_seconds:.1f} s, "
              f"AUROC {rows[-1]['auroc']:.4f}", flush=True)
    one, many = rows
    summary = dict(
        data=a.data, samples=len(noisy), epochs=a.epochs,
        device=a.device, cpu_count=os.cpu_count(), threads=a.threads,
        load_average=os.getloadavg(),
        machine=platform.machine(), config=results[1].config, rows=rows,
        speedup_wall=one["wall_seconds"] / many["wall_seconds"],
        speedup_engine=((one["train_seconds"] + one["score_seconds"])
                        / (many["train_seconds"] + many["score_seconds"])),
        curvature_spearman=float(spearmanr(results[1].curvature,
                                           results[a.nproc].curvature)[0]),
        auroc_difference=abs(one["auroc"] - many["auroc"]),
    )
    print(f"\n{a.data}: {len(noisy)} samples, {a.epochs} epochs, "
          f"{os.cpu_count()} cores, device {a.device}, threads per rank "
          f"{a.threads or 'cores / ranks'}, load average "
          f"{os.getloadavg()[0]:.1f}")
    print(f"{'procs':>6}{'wall s':>9}{'train s':>9}{'score s':>9}"
          f"{'train smp/s':>13}{'AUROC':>8}")
    for row in rows:
        print(f"{row['nproc']:>6}{row['wall_seconds']:>9.1f}"
              f"{row['train_seconds']:>9.1f}{row['score_seconds']:>9.1f}"
              f"{row['train_samples_per_s']:>13.0f}{row['auroc']:>8.4f}")
    print(f"speed-up {a.nproc} vs 1: wall {summary['speedup_wall']:.2f}x, "
          f"engine (train + score) {summary['speedup_engine']:.2f}x; "
          f"curvature Spearman {summary['curvature_spearman']:.4f}, "
          f"|AUROC difference| {summary['auroc_difference']:.4f}")
    for d in [RESULTS] + ([os.environ["OUT"]] if os.environ.get("OUT")
                          else []):
        os.makedirs(d, exist_ok=True)
        name = f"distributed_{a.data}" + (f"_t{a.threads}" if a.threads
                                           else "")
        with open(os.path.join(d, f"{name}.json"), "w") as f:
            json.dump(summary, f, indent=1, default=float)


if __name__ == "__main__":
    main()
