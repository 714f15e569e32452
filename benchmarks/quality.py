"""Quality benchmark: how well each score finds injected label noise.

Runs the engine the way compute_curvature does, recording everything
(curvature every epoch, every probe) so that cheaper schedules (fewer
probes, every k-th epoch, other aggregations) are evaluated after the fact
from the same run. Prints per score AUROC / AP / precision at k, training
accuracy on the noisy labels, the fraction of flipped samples memorized,
per-epoch curvature AUROC and wall time; saves the arrays to
benchmarks/results/<name>.npz.

    python benchmarks/quality.py --data digits --epochs 15
    python benchmarks/quality.py --data cifar --epochs 20 --set augment_epochs=10
    python benchmarks/quality.py --schedules-of cifar_symmetric_0.1_e20_s0

Not a test: a CIFAR-10 run takes 20-30 minutes on 2 CPU cores.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (  # noqa: E402
    RESULTS, inject_noise, load_cifar_subset, load_digits_uint8,
)


def metrics(flipped, score):
    k = int(flipped.sum())
    top = np.argsort(-score, kind="stable")[:k]
    return {
        "auroc": roc_auc_score(flipped, score),
        "ap": average_precision_score(flipped, score),
        "p_at_k": float(flipped[top].mean()),
    }


def per_class_zscore(score, labels):
    out = np.empty_like(score, dtype=np.float64)
    for c in np.unique(labels):
        m = labels == c
        s = score[m]
        out[m] = (s - s.mean()) / (s.std() + 1e-12)
    return out


def h_sweep(result, images, noisy, flipped, steps, probes, seed):
    """Final-model curvature AUROC for each step h (one pass per h)."""
    import torch

    from fiftyone_curvature.engine.curvature import curvature_batch
    from fiftyone_curvature.engine.source import TensorSource, batches
    from fiftyone_curvature.engine.training import exact_float32

    if not steps:
        return []
    model = result.model.eval()
    device = next(model.parameters()).device
    x = torch.as_tensor(images)
    source = TensorSource(x[:, None] if x.ndim == 3 else x, device,
                           result.config["channels_last"])
    y = torch.as_tensor(noisy).to(device)
    rows = []
    print(f"\n{'h':>8}{'final-epoch AUROC':>19}{'AP':>8}")
    for h in steps:
        score = np.zeros(len(noisy))
        with exact_float32(device):
            for idx in batches(torch.arange(len(noisy)), 256):
                per_probe, _ = curvature_batch(
                    model, source.batch(idx), y[idx.to(device)], idx,
                    estimator=result.config["estimator"], probes=probes,
                    h=h, norm=result.config["norm"], seed=seed,
                    epoch=result.config["epochs"])
                score[idx.numpy()] = per_probe.mean(1).cpu().numpy()
        m = metrics(flipped, score)
        rows.append(dict(h=h, **m))
        print(f"{h:>8g}{m['auroc']:>19.3f}{m['ap']:>8.3f}")
    return rows


def schedule_columns(epochs, every, start_fraction):
    """0-based columns of a run scored every epoch that a schedule (every
    k-th epoch from ``floor(start_fraction * epochs)``, last always) keeps;
    the same rule as TrackingConfig.scored_epochs."""
    from fiftyone_curvature.engine.config import TrackingConfig

    cfg = TrackingConfig(epochs=epochs, score_every=every,
                         score_from=start_fraction)
    return [e - 1 for e in cfg.scored_epochs()]


def cheaper_schedules(probes, train_seconds, score_seconds, noisy, flipped,
                      verbose=True):
    """AUROC / AP / estimated overhead of cheaper schedules (fewer probes,
    every k-th epoch, later epochs only, other aggregations), from the
    (N, E, P) per-probe curvature of a run that scored every epoch.

    The overhead is estimated from the run's own timings: a scored epoch
    with p probes costs ``score_seconds / E * (1 + p) / (1 + P)`` (one
    gradient at x, one per probe).
    """
    from fiftyone_curvature.engine.curvature import aggregate_epochs

    n, e, p_max = probes.shape
    t_train = train_seconds / e
    t_score = score_seconds / e
    rows = []
    if verbose:
        print(f"\n{'probes':>6}{'every':>6}{'from':>6}{'aggregate':>13}"
              f"{'per-class':>10}{'AUROC':>8}{'AP':>8}{'overhead':>10}")
    for n_probes in sorted({1, 2, p_max} & set(range(1, p_max + 1))):
        for every in (1, 2, 3, 4):
            for start in (0.0, 1 / 3, 0.5):
                cols = schedule_columns(e, every, start)
                m = probes[:, cols, :n_probes].mean(axis=2)
                cost = t_score * (1 + n_probes) / (1 + p_max)
                overhead = (e * t_train + len(cols) * cost) / (e * t_train)
                full = every == 1 and start == 0.0
                for agg in (("mean", "last_half", "rank_mean", "zscore_mean")
                            if full else ("mean",)):
                    for per_class in ((False, True) if full else (False,)):
                        base = aggregate_epochs(m, agg)
                        s = per_class_zscore(base, noisy) if per_class \
                            else base
                        mm = metrics(flipped, s)
                        rows.append(dict(probes=n_probes, every=every,
                                         score_from=round(start, 3),
                                         aggregate=agg, per_class=per_class,
                                         scored_epochs=len(cols),
                                         overhead=overhead, **mm))
                        if verbose:
                            print(f"{n_probes:>6}{every:>6}{start:>6.2f}"
                                  f"{agg:>13}{str(per_class):>10}"
                                  f"{mm['auroc']:>8.3f}{mm['ap']:>8.3f}"
                                  f"{overhead:>9.2f}x")
    return rows


def schedules_from_results(name):
    """Re-evaluates cheaper schedules from a saved run (no training)."""
    with open(os.path.join(RESULTS, name + ".json")) as f:
        summary = json.load(f)
    d = np.load(os.path.join(RESULTS, name + ".npz"))
    rows = cheaper_schedules(d["curvature_probes"], summary["train_seconds"],
                             summary["score_seconds"], d["noisy"],
                             d["flipped"])
    summary["schedules"] = rows
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(summary, f, indent=1, default=float)


def parse_overrides(pairs):
    out = {}
    for pair in pairs or []:
        key, _, value = pair.partition("=")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=["digits", "cifar"], default="digits")
    p.add_argument("--per-class", type=int, default=500)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--kind", choices=["symmetric", "asymmetric"],
                   default="symmetric")
    p.add_argument("--noise-seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--probes", type=int, default=4,
                   help="probes recorded per epoch (subsets evaluated)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", nargs="*", metavar="KEY=VALUE",
                   help="other TrackingConfig options")
    p.add_argument("--h-sweep", type=float, nargs="*",
                   default=[1e-4, 1e-3, 1e-2, 1e-1],
                   help="steps h at which the final model is re-scored")
    p.add_argument("--name", default=None)
    p.add_argument("--schedules-of", default=None, metavar="NAME",
                   help="only re-evaluate the cheaper schedules of the "
                   "saved run benchmarks/results/NAME.npz (no training)")
    a = p.parse_args(argv)
    if a.schedules_of:
        return schedules_from_results(a.schedules_of)

    from fiftyone_curvature.engine.dynamics import SCORES, suspicion
    from fiftyone_curvature.engine.training import train_and_track

    t_load = time.perf_counter()
    if a.data == "digits":
        images, labels = load_digits_uint8()
    else:
        images, labels, _ = load_cifar_subset(a.per_class)
    t_load = time.perf_counter() - t_load
    noisy, flipped = inject_noise(labels, a.noise, 10, a.kind, a.noise_seed)
    overrides = parse_overrides(a.set)
    t0 = time.perf_counter()
    run_options = dict(epochs=a.epochs, probes=a.probes, score_every=1,
                       score_from=0.0,
                       record_probes=True, seed=a.seed)
    run_options.update(overrides)  # --set wins over the recording defaults
    r = train_and_track(
        images, noisy, **run_options,
        progress=lambda i: print(
            f"  epoch {i['epoch']}/{i['epochs']} loss "
            f"{i['train_loss']:.3f} acc {i['train_accuracy']:.3f} "
            f"eta {i['eta']:.0f}s", flush=True),
    )
    wall = time.perf_counter() - t0
    pred = r.predictions
    print(f"\n== {a.data} n={len(labels)} {a.kind} noise {a.noise} "
          f"config {json.dumps(r.config)}")
    print(f"wall {wall:.0f}s (train {r.train_seconds:.0f}s, scoring "
          f"{r.score_seconds:.0f}s, data {t_load:.0f}s)")
    print(f"train accuracy on noisy labels {np.mean(pred == noisy):.3f}; "
          f"flipped samples memorized {np.mean(pred[flipped] == noisy[flipped]):.3f}; "
          f"accuracy vs clean labels {np.mean(pred == labels):.3f}")

    rows = {}
    if r.scored_epochs:  # score_every=0 records training dynamics only
        rows["curvature"] = metrics(flipped, r.curvature)
    for name in SCORES:
        rows[name] = metrics(flipped, suspicion(name, r.scores[name]))
    print(f"\n{'score':<16}{'AUROC':>8}{'AP':>8}{'P@k':>8}")
    for name, m in rows.items():
        print(f"{name:<16}{m['auroc']:>8.3f}{m['ap']:>8.3f}"
              f"{m['p_at_k']:>8.3f}")

    per_epoch = [roc_auc_score(flipped, r.curvature_epochs[:, j])
                 for j in range(r.curvature_epochs.shape[1])]
    print("\nper-epoch curvature AUROC: " +
          " ".join(f"{e}:{v:.3f}" for e, v in zip(r.scored_epochs,
                                                  per_epoch)))

    # ---- cheaper schedules, evaluated after the fact from the same run
    if len(r.scored_epochs) == a.epochs:
        schedule_rows = cheaper_schedules(
            r.curvature_probes, r.train_seconds, r.score_seconds, noisy,
            flipped)
    else:
        schedule_rows = []
        print("\n(cheaper schedules need every epoch scored: skipped)")

    # ---- the step h, on the final model (one scoring pass per h)
    h_rows = h_sweep(r, images, noisy, flipped, a.h_sweep, a.probes,
                     a.seed)

    name = a.name or f"{a.data}_{a.kind}_{a.noise}_e{a.epochs}_s{a.seed}"
    os.makedirs(RESULTS, exist_ok=True)
    np.savez_compressed(
        os.path.join(RESULTS, name + ".npz"),
        flipped=flipped, labels=labels, noisy=noisy,
        curvature_probes=r.curvature_probes, scored_epochs=r.scored_epochs,
        logits=r.logits, **{f"score_{k}": v for k, v in r.scores.items()},
        **{f"record_{k}": v for k, v in r.records.items()},
    )
    summary = dict(data=a.data, n=len(labels), noise=a.noise, kind=a.kind,
                   config=r.config, wall_seconds=wall,
                   train_seconds=r.train_seconds,
                   score_seconds=r.score_seconds,
                   train_accuracy_noisy=float(np.mean(pred == noisy)),
                   flipped_memorized=float(np.mean(
                       pred[flipped] == noisy[flipped])),
                   scores=rows, per_epoch_auroc=per_epoch,
                   schedules=schedule_rows, h_sweep=h_rows,
                   history=r.history)
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(summary, f, indent=1, default=float)
    print(f"\nsaved benchmarks/results/{name}.json/.npz")


if __name__ == "__main__":
    main()
