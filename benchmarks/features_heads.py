"""Head candidates on the cached CIFAR-10 5k embeddings, 10% symmetric
noise: curvature AUROC (per scored epoch, per aggregation) and the best
training-dynamics score of each (no holdout: the rankings only).

    OMP_NUM_THREADS=1 python benchmarks/features_heads.py \\
        'model="mlp_head",weight_decay=2e-2' 'model="mlp_tanh",h=1.0'

Each argument is the keyword arguments of train_and_track; "mlp_tanh"
and "mlp_relu" are the MLP head with that activation, "linear_head" is
logistic regression. docs/features.md has the table these made.
"""

import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import features as B  # noqa: E402
from common import inject_noise  # noqa: E402
from fiftyone_curvature.engine import config as cfgmod, models  # noqa
from fiftyone_curvature.engine.curvature import aggregate_epochs  # noqa
from fiftyone_curvature.engine.metrics import auroc  # noqa: E402
from fiftyone_curvature.engine.training import train_and_track  # noqa

CACHE = os.environ.get("FEATURES_CACHE",
                       "/work/cache/effnet_lite2_cifar5k.npz")


def main():
    B._register("mlp_tanh", activation="tanh")
    B._register("mlp_relu", activation="relu")
    extra = ("mlp_tanh", "mlp_relu")
    cfgmod.MODELS += extra
    cfgmod.HEAD_MODELS += extra
    models.HEAD_MODELS = cfgmod.HEAD_MODELS
    models.MODELS = cfgmod.MODELS
    d = np.load(CACHE)
    x, y = d["features"], d["labels"].astype(np.int64)
    given, flips = inject_noise(y, 0.1, 10, kind="symmetric", seed=0)
    for spec in sys.argv[1:]:
        kw = eval(f"dict({spec})")  # the command line's own arguments
        t = time.time()
        r = train_and_track(x, given, num_classes=10, threads=1, holdout=0,
                            **kw)
        sc = {k: auroc(flips, B.suspicion(k, v))
              for k, v in r.scores.items()}
        best = max(sc, key=sc.get)
        per_epoch = [round(auroc(flips, r.curvature_epochs[:, e]), 3)
                     for e in range(0, r.curvature_epochs.shape[1], 3)]
        aggs = {a: round(auroc(flips, aggregate_epochs(
            r.curvature_epochs, a)), 3)
            for a in ("mean", "first_half", "zscore_mean", "rank_mean")}
        acc = [round(h["train_accuracy"], 2) for h in r.history][::3]
        print(spec, f"curv={auroc(flips, r.curvature):.3f} "
              f"best={best}:{sc[best]:.3f} csl={sc['csl']:.3f} "
              f"aum={sc['aum']:.3f} per_epoch={per_epoch} agg={aggs} "
              f"train_acc={acc} s={time.time() - t:.0f}", flush=True)


if __name__ == "__main__":
    main()
