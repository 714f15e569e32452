"""All 50,000 CIFAR-10 training images on this machine's CPU (or GPU),
engine only, at the defaults: wall time and AUROC for 10% symmetric noise.

Prints the levers the run took (training precision, threads, BatchNorm
folding, schedule), per-phase seconds and the AUROC of curvature and the
training-dynamics scores; saves benchmarks/results/cifar_full_<tag>.json (and the per-epoch
curvature, flips and scores as .npz, git-ignored).
A benchmark, not a test: hours on 2 CPU cores.

    nohup python benchmarks/cifar_full.py > cifar_full.log 2>&1 &
    python benchmarks/cifar_full.py --epochs 30 --set score_every=auto
    python benchmarks/cifar_full.py --schedules-of defaults
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RESULTS, inject_noise, load_cifar_subset  # noqa: E402
from quality import parse_overrides  # noqa: E402


def sparser_schedules(tag):
    """AUROC and overhead of schedules that score a subset of a recorded
    run's scored epochs (after the fact, no training): every 2k-th epoch
    at two phases and the last half, from cifar_full_<tag>.json / .npz."""
    base = os.path.join(RESULTS, f"cifar_full_{tag}")
    with open(base + ".json") as f:
        summary = json.load(f)
    arrays = np.load(base + ".npz")
    curv, flipped = arrays["curvature_epochs"], arrays["flipped"]
    scored = arrays["scored_epochs"].tolist()
    epochs = summary["epochs"]
    t_train = summary["train_seconds"] / epochs
    t_score = summary["score_seconds"] / len(scored)
    recorded = roc_auc_score(flipped, curv.mean(axis=1))
    print(f"{len(flipped)} images, {epochs} epochs; {t_train:.0f} s "
          f"training per epoch, {t_score:.0f} s per scoring pass "
          f"({t_score / t_train:.2f}x); recorded schedule: epochs {scored}, "
          f"AUROC {recorded:.4f}")
    print(f"{'schedule':<28}{'passes':>7}{'overhead':>10}{'AUROC':>8}"
          f"{'vs recorded':>13}")
    rows = []
    candidates = [("as recorded", scored)]
    step = scored[1] - scored[0] if len(scored) > 1 else 1
    for k in (2, 3, 4):
        for phase in range(k):
            keep = scored[phase::k]
            candidates.append(
                (f"every {k * step}th (from epoch {keep[0]})", keep))
    candidates.append(("last half of the recorded", scored[len(scored) // 2:]))
    for label, keep in candidates:
        cols = [scored.index(e) for e in keep]
        auc = roc_auc_score(flipped, curv[:, cols].mean(axis=1))
        over = (epochs * t_train + len(cols) * t_score) / (epochs * t_train)
        print(f"{label:<28}{len(cols):>7}{over:>9.2f}x{auc:>8.4f}"
              f"{auc - recorded:>+13.4f}")
        rows.append(dict(schedule=label, epochs=keep, overhead=over,
                         auroc=auc, delta=auc - recorded))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--schedules-of", metavar="TAG", default=None,
                   help="print sparser schedules of a finished run "
                   "(no training)")
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--per-class", type=int, default=0,
                   help="0 = all 5,000 per class (50,000 images)")
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE",
                   help="other TrackingConfig options")
    p.add_argument("--tag", default="defaults")
    a = p.parse_args(argv)
    if a.schedules_of:
        sparser_schedules(a.schedules_of)
        return

    from fiftyone_curvature.engine.dynamics import SCORES, suspicion
    from fiftyone_curvature.engine.training import train_and_track

    t0 = time.perf_counter()
    images, labels, _ = load_cifar_subset(a.per_class or None)
    t_load = time.perf_counter() - t0
    noisy, flipped = inject_noise(labels, 0.1, 10, "symmetric", 0)
    t0 = time.perf_counter()
    r = train_and_track(
        images, noisy, epochs=a.epochs, **parse_overrides(a.set),
        progress=lambda i: print(
            f"  epoch {i['epoch']}/{i['epochs']} acc "
            f"{i['train_accuracy']:.3f} elapsed {i['elapsed']:.0f}s eta "
            f"{i['eta']:.0f}s", flush=True))
    wall = time.perf_counter() - t0
    aurocs = {"curvature": roc_auc_score(flipped, r.curvature)}
    for name in SCORES:
        aurocs[name] = roc_auc_score(flipped, suspicion(name,
                                                        r.scores[name]))
    cfg = r.config
    print(f"\n{len(labels)} images, {a.epochs} epochs: wall {wall:.0f}s "
          f"({wall / 60:.1f} min; training {r.train_seconds:.0f}s, scoring "
          f"{r.score_seconds:.0f}s, decoding {t_load:.0f}s)")
    print(f"levers: {cfg['amp_path']}; threads {cfg['threads']}; fuse_bn "
          f"{cfg['fuse_bn']}; channels_last {cfg['channels_last']}; "
          f"schedule every {cfg['score_every']} -> {len(r.scored_epochs)} "
          f"scored epochs; model {cfg['model']} batch {cfg['batch_size']}")
    print("AUROC: " + ", ".join(f"{k} {v:.4f}" for k, v in aurocs.items()))
    os.makedirs(RESULTS, exist_ok=True)
    # the per-epoch arrays, so that sparser schedules (a subset of the
    # scored epochs) can be evaluated after the fact without training again
    np.savez_compressed(
        os.path.join(RESULTS, f"cifar_full_{a.tag}.npz"),
        curvature_epochs=r.curvature_epochs, flipped=flipped,
        scored_epochs=np.asarray(r.scored_epochs),
        **{f"score_{k}": np.asarray(v) for k, v in r.scores.items()})
    with open(os.path.join(RESULTS, f"cifar_full_{a.tag}.json"), "w") as f:
        json.dump(dict(n=len(labels), epochs=a.epochs, wall_seconds=wall,
                       train_seconds=r.train_seconds,
                       score_seconds=r.score_seconds, load_seconds=t_load,
                       config=cfg, auroc=aurocs,
                       scored_epochs=r.scored_epochs, history=r.history),
                  f, indent=1, default=float)


if __name__ == "__main__":
    main()
