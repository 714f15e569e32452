"""Cheaper curvature schedules and bf16 fidelity, after the fact.

Reads recordings of ``benchmarks/quality.py`` (every epoch scored, saved in
benchmarks/results/NAME.json/.npz) and evaluates, without training again:

- fixed schedules (every k-th epoch) and the adaptive one of
  ``score_every="auto"`` (:func:`fiftyone_curvature.engine.config.
  adaptive_scored_epochs`, dense while the training accuracy climbs,
  sparse after) for several ``rise`` / ``gap`` settings: scored epochs,
  estimated overhead (from the run's own training and scoring seconds per
  epoch) and curvature AUROC against every-epoch scoring;
- with ``--reference``, how far a run's scores are from a float32
  reference run of the same data and seed: Spearman rank correlation of the
  final scores (every epoch) and the AUROC change.

    python benchmarks/quality.py --data digits --epochs 30 --probes 1 \\
        --h-sweep --name digits_sym10_e30_levers
    python benchmarks/quality.py --data digits --epochs 30 --probes 1 \\
        --h-sweep --set amp=false fuse_bn=false --name digits_sym10_e30_fp32
    python benchmarks/schedules.py digits_sym10_e30_levers \\
        --reference digits_sym10_e30_fp32
"""

import argparse
import json
import os
import sys

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS  # noqa: E402

RISES = (0.01, 0.02, 0.05)
GAPS = (3, 4, 5, 6, 8)


def load(name):
    with open(os.path.join(RESULTS, name + ".json")) as f:
        summary = json.load(f)
    arrays = np.load(os.path.join(RESULTS, name + ".npz"))
    curv = arrays["curvature_probes"].mean(axis=2)  # (N, E)
    if curv.shape[1] != summary["config"]["epochs"]:
        raise SystemExit(f"{name}: not every epoch was scored")
    acc = [h["train_accuracy"] for h in summary["history"]]
    return summary, curv, arrays["flipped"], acc


def evaluate(name):
    from fiftyone_curvature.engine.config import (
        TrackingConfig, adaptive_scored_epochs,
    )

    summary, curv, flipped, acc = load(name)
    e = curv.shape[1]
    t_train = summary["train_seconds"] / e
    t_score = summary["score_seconds"] / e
    full = roc_auc_score(flipped, curv.mean(axis=1))
    print(f"\n== {name}: {len(flipped)} samples, {e} epochs, "
          f"{t_train:.2f} s training + {t_score:.2f} s scoring per epoch "
          f"(scoring / training {t_score / t_train:.2f}); every-epoch "
          f"AUROC {full:.4f}")
    print(f"{'schedule':<26}{'scored':>7}{'overhead':>10}{'AUROC':>8}"
          f"{'vs every':>10}  epochs")
    rows = []

    def row(label, epochs):
        cols = [x - 1 for x in epochs]
        auc = roc_auc_score(flipped, curv[:, cols].mean(axis=1))
        over = (e * t_train + len(cols) * t_score) / (e * t_train)
        print(f"{label:<26}{len(cols):>7}{over:>9.2f}x{auc:>8.4f}"
              f"{auc - full:>+10.4f}  {epochs if len(epochs) < 16 else ''}")
        rows.append(dict(schedule=label, scored=len(cols), overhead=over,
                         auroc=auc, delta=auc - full, epochs=epochs))

    for k in (1, 2, 3, 4, 6):
        row(f"every {k}", TrackingConfig(epochs=e, score_every=k)
            .scored_epochs())
    for rise in RISES:
        for gap in GAPS:
            row(f"auto rise {rise} gap {gap}",
                adaptive_scored_epochs(acc, e, rise=rise, gap=gap))
    return dict(name=name, every_epoch_auroc=full, t_train=t_train,
                t_score=t_score, rows=rows)


def fidelity(name, reference):
    _, curv, flipped, _ = load(name)
    _, ref, ref_flipped, _ = load(reference)
    assert np.array_equal(flipped, ref_flipped), "different noise"
    a, b = curv.mean(axis=1), ref.mean(axis=1)
    rho = spearmanr(a, b).statistic
    da = roc_auc_score(flipped, a) - roc_auc_score(flipped, b)
    per_epoch = [spearmanr(curv[:, j], ref[:, j]).statistic
                 for j in range(curv.shape[1])]
    print(f"\n{name} vs float32 reference {reference}: Spearman of the "
          f"scores {rho:.4f} (per epoch: min {min(per_epoch):.3f}, median "
          f"{np.median(per_epoch):.3f}); AUROC {da:+.4f}")
    return dict(spearman=rho, auroc_delta=da,
                per_epoch_spearman=per_epoch)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="+")
    p.add_argument("--reference", default=None,
                   help="a float32 recording of the same data and seed")
    a = p.parse_args(argv)
    out = {}
    for name in a.names:
        out[name] = evaluate(name)
        if a.reference:
            out[name]["fidelity"] = fidelity(name, a.reference)
    with open(os.path.join(RESULTS, "schedules.json"), "w") as f:
        json.dump(out, f, indent=1, default=float)


if __name__ == "__main__":
    main()
