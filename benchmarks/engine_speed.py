"""Engine speed: training vs curvature-scoring throughput, one process.

Trains the model for a few epochs with the engine, then times the scoring
pass of the trained model for each estimator and probe count, and prints
samples/s and the ratio scoring/training (time of one scoring pass over
the data divided by the time of one training epoch).

    python benchmarks/engine_speed.py --data digits
    python benchmarks/engine_speed.py --data cifar --per-class 200 --model small_resnet
"""

import argparse
import os
import platform
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_cifar_subset, load_digits_uint8  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["digits", "cifar"], default="digits")
    p.add_argument("--per-class", type=int, default=200)
    p.add_argument("--model", default="auto")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--probes", type=int, nargs="*", default=[1, 2, 4, 10])
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)

    from fiftyone_curvature.engine.curvature import curvature_batch
    from fiftyone_curvature.engine.source import TensorSource, batches
    from fiftyone_curvature.engine.training import (
        exact_float32, train_and_track,
    )

    if a.data == "digits":
        images, labels = load_digits_uint8()
    else:
        images, labels, _ = load_cifar_subset(a.per_class)
    n = len(labels)
    r = train_and_track(images, labels, epochs=a.epochs, score_every=0,
                        model=a.model, device=a.device)
    train_s = min(h["train_seconds"] for h in r.history)
    train_rate = n / train_s
    model = r.model.eval()
    device = next(model.parameters()).device
    x = torch.as_tensor(images)
    source = TensorSource(x[:, None] if x.ndim == 3 else x, device,
                           r.config["channels_last"])
    y = torch.as_tensor(labels).to(device)
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"{torch.get_num_threads()} threads, device {device}, "
          f"torch {torch.__version__}")
    print(f"data {a.data} n={n} shape {tuple(source.shape)} model "
          f"{r.config['model']} batch {r.config['batch_size']}")
    print(f"training: {train_rate:.0f} samples/s ({train_s:.2f} s/epoch)")
    print(f"\n{'estimator':<10}{'probes':>7}{'samples/s':>11}"
          f"{'scoring/training':>18}")
    for estimator in ("fd", "hvp"):
        for probes in a.probes:
            t0 = time.perf_counter()
            with exact_float32(device):
                for idx in batches(torch.arange(n), 256):
                    curvature_batch(model, source.batch(idx),
                                    y[idx.to(device)], idx,
                                    estimator=estimator, probes=probes)
            if device.type == "cuda":
                torch.cuda.synchronize()
            dt = time.perf_counter() - t0
            print(f"{estimator:<10}{probes:>7}{n / dt:>11.0f}"
                  f"{dt / train_s:>17.2f}x")


if __name__ == "__main__":
    main()
