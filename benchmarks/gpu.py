"""GPU benchmark: all 50,000 CIFAR-10 training images, ResNet-18, 10% noise.

Runs the engine alone (no FiftyOne: the GPU machine does not have it) on
the real CIFAR-10 train set of ../shared/data/cifar10 with 10% symmetric
label noise and prints, per schedule: wall time, curvature AUROC / AP and
those of the training-dynamics scores, train accuracy, per-epoch curvature
AUROC, peak GPU memory and mean GPU utilisation (nvidia-smi, sampled every
second). The first schedule is the full run (goal: AUROC >= 0.975 in under
8 minutes); the others are fast schedules (fewer epochs, one-cycle) for the
best AUROC reached in about 2 minutes.

    python benchmarks/gpu.py                      # everything, one command
    python benchmarks/gpu.py --only full
    python benchmarks/gpu.py --per-class 100 --epochs 2 --only fast   # smoke
    python benchmarks/gpu.py --nproc 8 --only full   # 8 GPUs, one rank each

With ``--nproc N`` (N > 1) the data is exported once to a memory-mapped
file and N ranks (one per GPU, NCCL) train one DistributedDataParallel
model through the elastic launcher, exactly as ``fiftyone-curvature
compute --nproc N``; each schedule's global batch size stays the same, so
the scores are comparable with the one-GPU rows. GPU memory is then the
peak nvidia-smi reading of the busiest GPU (not torch's allocator), and
utilisation the mean over all GPUs.

Results go to benchmarks/results/gpu_<schedule>.json (and to $OUT when
that is set, as on the device machine). Runs on CPU too, slowly.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS, inject_noise, load_cifar_subset  # noqa: E402

#: name -> TrackingConfig overrides. "full" is the goal-3 run; the "fast"
#: ones look for the best AUROC in about 2 minutes of an H100
SCHEDULES = {
    "full": dict(model="resnet18", epochs=30, schedule="cosine",
                 batch_size=256, lr=0.2, probes=1, score_every=2, h=1e-2),
    "fast_onecycle_12": dict(model="resnet18", epochs=12, schedule="onecycle",
                             batch_size=512, lr=0.4, probes=1, score_every=1,
                             h=1e-2),
    "fast_onecycle_8": dict(model="resnet18", epochs=8, schedule="onecycle",
                            batch_size=512, lr=0.4, probes=1, score_every=1,
                            h=1e-2),
}


class GpuSampler:
    """Samples GPU utilisation (%) every second with nvidia-smi."""

    def __init__(self):
        self.samples = []
        self.memory_mb = []
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if shutil.which("nvidia-smi"):
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _run(self):
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    ["nvidia-smi", "--query-gpu=utilization.gpu,memory.used",
                     "--format=csv,noheader,nounits"],
                    capture_output=True, text=True, timeout=5).stdout
                rows = [[float(v) for v in line.split(",")]
                        for line in out.strip().splitlines()]
                self.samples.append(float(np.mean([r[0] for r in rows])))
                self.memory_mb.append(max(r[1] for r in rows))
            except (OSError, ValueError, IndexError,
                    subprocess.SubprocessError):
                pass
            self._stop.wait(1.0)

    def __exit__(self, *args):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    @property
    def mean(self):
        return float(np.mean(self.samples)) if self.samples else None


def train_on_ranks(images, noisy, overrides, nproc, progress):
    """The run on ``nproc`` local ranks (one per GPU) through the elastic
    launcher, on a memory-mapped export of the data."""
    import tempfile

    from fiftyone_curvature.engine import datafile
    from fiftyone_curvature.engine.launcher import launch

    directory = tempfile.mkdtemp(prefix="curvature_gpu_")
    try:
        out = datafile.create_images(directory, images.shape)
        out[:] = images
        datafile.write_index(directory, out, noisy,
                             [str(i) for i in range(len(noisy))],
                             [str(c) for c in range(10)])
        args = []
        for key, value in overrides.items():
            args += ["--set", f"{key}={json.dumps(value)}"]
        return launch(directory, nproc, args, progress=progress)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def run_schedule(name, overrides, images, noisy, flipped, nproc=1):
    import torch
    from sklearn.metrics import average_precision_score, roc_auc_score

    from fiftyone_curvature.engine.dynamics import SCORES, suspicion
    from fiftyone_curvature.engine.training import train_and_track

    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
        torch.cuda.synchronize()

    def progress(i):
        print(f"  [{name}] epoch {i['epoch']}/{i['epochs']} acc "
              f"{i['train_accuracy']:.3f} elapsed {i['elapsed']:.0f}s",
              flush=True)

    t0 = time.perf_counter()
    with GpuSampler() as gpu:
        if nproc > 1:
            r = train_on_ranks(images, noisy, overrides, nproc, progress)
        else:
            r = train_and_track(images, noisy, **overrides,
                                progress=progress)
    wall = time.perf_counter() - t0
    scores = {"curvature": r.curvature}
    scores.update({k: suspicion(k, v) for k, v in r.scores.items()
                   if k in SCORES})
    table = {k: dict(auroc=float(roc_auc_score(flipped, v)),
                     ap=float(average_precision_score(flipped, v)))
             for k, v in scores.items() if np.isfinite(v).all()}
    per_epoch = [float(roc_auc_score(flipped, r.curvature_epochs[:, j]))
                 for j in range(r.curvature_epochs.shape[1])]
    pred = r.predictions
    return dict(
        schedule=name, config=r.config, wall_seconds=wall,
        train_seconds=r.train_seconds, score_seconds=r.score_seconds,
        device=(torch.cuda.get_device_name() if cuda else "cpu"),
        nproc=nproc,
        peak_gpu_memory_gb=(
            (max(gpu.memory_mb) / 1024 if gpu.memory_mb else None)
            if nproc > 1 else
            (torch.cuda.max_memory_allocated() / 2**30 if cuda else None)),
        mean_gpu_utilisation=gpu.mean,
        train_accuracy_noisy=float(np.mean(pred == noisy)),
        flipped_memorized=float(np.mean(pred[flipped] == noisy[flipped])),
        scores=table, per_epoch_auroc=per_epoch,
        scored_epochs=list(r.scored_epochs), history=r.history,
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=0,
                   help="images per class (0 = all 5,000)")
    p.add_argument("--only", choices=("full", "fast"), default=None)
    p.add_argument("--epochs", type=int, default=None,
                   help="override every schedule's epochs (smoke tests)")
    p.add_argument("--nproc", type=int, default=1,
                   help="data-parallel ranks, one per GPU (default 1: "
                   "in-process, no launcher)")
    a = p.parse_args(argv)

    t0 = time.perf_counter()
    images, labels, _ = load_cifar_subset(per_class=a.per_class or None)
    noisy, flipped = inject_noise(labels, 0.1, 10)
    print(f"decoded {len(labels)} images in {time.perf_counter() - t0:.0f}s",
          flush=True)
    out_dirs = [RESULTS] + ([os.environ["OUT"]] if os.environ.get("OUT")
                            else [])
    rows = []
    for name, overrides in SCHEDULES.items():
        if a.only and not name.startswith(a.only):
            continue
        overrides = dict(overrides)
        if a.epochs:
            overrides["epochs"] = a.epochs
        row = run_schedule(name, overrides, images, noisy, flipped,
                           a.nproc)
        rows.append(row)
        suffix = f"_x{a.nproc}" if a.nproc > 1 else ""
        for d in out_dirs:
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, f"gpu_{name}{suffix}.json"),
                      "w") as f:
                json.dump(row, f, indent=1, default=float)

    print(f"\nCIFAR-10 train, {len(labels)} images, 10% symmetric noise, "
          f"{a.nproc} process(es)")
    print(f"{'schedule':<18}{'epochs':>7}{'wall':>8}{'curv AUROC':>12}"
          f"{'AP':>7}{'CSL':>7}{'AUM':>7}{'best/epoch':>12}{'GPU mem':>9}"
          f"{'GPU util':>10}")
    for row in rows:
        s = row["scores"]
        mem = row["peak_gpu_memory_gb"]
        util = row["mean_gpu_utilisation"]
        print(f"{row['schedule']:<18}{row['config']['epochs']:>7}"
              f"{row['wall_seconds']:>7.0f}s"
              f"{s['curvature']['auroc']:>12.3f}{s['curvature']['ap']:>7.3f}"
              f"{s['csl']['auroc']:>7.3f}{s['aum']['auroc']:>7.3f}"
              f"{max(row['per_epoch_auroc']):>12.3f}"
              f"{(f'{mem:.1f} GB' if mem is not None else '-'):>9}"
              f"{(f'{util:.0f}%' if util is not None else '-'):>10}")


if __name__ == "__main__":
    main()
