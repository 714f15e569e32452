"""Label-error detection on pretrained features vs from scratch, side by side.

From the cached EfficientNet-Lite2 embeddings of the 5,000-image CIFAR-10
subset (benchmarks/embed_cifar.py), with the same noise draw for every
method: the features-head run (every score's AUROC / AP, the
likely-mislabeled view's precision / recall / F1 at each ranking, the
suggested labels on the flips, the error estimate, the held-out verdict,
time per stage), cleanlab's find_label_issues on 5-fold logistic
regression over the same embeddings, and 1,000 clean photos (100 per
class, true labels): how many are flagged.

    OMP_NUM_THREADS=1 python benchmarks/features.py \\
        --cache /work/cache/effnet_lite2_cifar5k.npz \\
        --out benchmarks/results/features_cifar5k.json

``--sweep`` compares head candidates (depth, activation, h, epochs, lr,
weight decay) on 10% symmetric and 10% asymmetric noise instead.
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# this checkout's package, not whichever one is installed
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
from common import inject_noise  # noqa: E402

from fiftyone_curvature.engine import metrics, models  # noqa: E402
from fiftyone_curvature.engine.dynamics import SCORES  # noqa: E402
from fiftyone_curvature.engine.labels import percentile_rank  # noqa: E402
from fiftyone_curvature.engine.training import train_and_track  # noqa

#: the noise settings of the comparison: (name, kind, fraction)
SETTINGS = (("sym10", "symmetric", 0.1), ("asym10", "asymmetric", 0.1),
            ("asym20", "asymmetric", 0.2))


def suspicion(name, values):
    """A score oriented higher = more suspicious."""
    v = np.asarray(values, dtype=np.float64)
    if name == "curvature":
        return v
    return v if SCORES[name][0] else -v


def f1(q):
    p, r = q["precision"] or 0.0, q["recall"] or 0.0
    return 2 * p * r / (p + r) if p + r else 0.0


def flagged(result, given, rank_by, gate=True):
    """(N,) bool: the likely-mislabeled view of a run ranked by
    ``rank_by`` (what sdk.views builds from the run's fields), empty when
    the network cannot judge (``gate``)."""
    if gate and result.verdict is not None and not result.verdict.can_judge:
        return np.zeros(len(given), bool)
    score = (result.curvature if rank_by == "curvature"
             else result.scores[rank_by])
    memo = percentile_rank(suspicion(rank_by, score))
    return result.label_review.likely_mislabeled(memo, given)


def evaluate_run(result, given, truth, flips, gate=True):
    """Every score's AUROC / AP, the views at each ranking, suggestions,
    estimate, verdict."""
    scores = {"curvature": result.curvature, **result.scores}
    table = {}
    for name, values in scores.items():
        s = suspicion(name, values)
        table[name] = {"auroc": metrics.auroc(flips, s),
                       "ap": metrics.average_precision(flips, s)}
    views = {}
    for name in scores:
        q = metrics.view_quality(flagged(result, given, name, gate),
                                 flips)
        q["f1"] = f1(q)
        views[name] = q
    review = result.label_review
    return {
        "heldout_fraction_sweep": fraction_sweep(result, given, flips),
        "scores": table,
        "likely_mislabeled": views,
        "suggested_right_on_flips": float(
            (review.suggested[flips] == truth[flips]).mean())
        if flips.any() else None,
        "estimated_errors": int(review.estimated_errors),
        "estimator": review.estimator,
        "true_errors": int(flips.sum()),
        "verdict": (result.verdict.to_dict() if result.verdict is not None
                    else None),
        "train_seconds": result.train_seconds,
        "score_seconds": result.score_seconds,
        "holdout_seconds": (result.verdict.seconds if result.verdict
                            is not None else None),
    }


def oos_review(result, given, truth, flips):
    """Alternatives built on the held-out probabilities: confident
    learning's count, the held-out argmax as suggestion, and the view
    (that many, among held-out disagreements, ranked by each score)."""
    from fiftyone_curvature.engine.labels import confident_joint_errors

    p = result.verdict.probabilities.astype(np.float64)
    est = confident_joint_errors(p, given)
    sugg = p.argmax(1)
    out = {"est_cj_oos": est,
           "sugg_oos": float((sugg[flips] == truth[flips]).mean())}
    cand = np.flatnonzero(sugg != given)
    for name in ("curvature", "aum", "dm_confidence", "csl"):
        score = (result.curvature if name == "curvature"
                 else result.scores[name])
        s = suspicion(name, score)
        top = cand[np.argsort(-s[cand], kind="stable")][:est]
        m = np.zeros(len(given), bool)
        m[top] = True
        out[f"f1oos_{name}"] = f1(metrics.view_quality(m, flips))
    return out


def fraction_sweep(result, given, flips=None):
    """The held-out review at other fractions of chance: the estimate and
    (with ``flips``) the view's F1 ranked by CSL and by curvature."""
    import dataclasses

    from fiftyone_curvature.engine.labels import review_with_heldout

    if result.verdict is None or result.verdict.samples < len(given):
        return None
    out = {}
    for fraction in (0.05, 0.1, 0.2, 0.3, 0.5):
        review = review_with_heldout(result.label_review,
                                     result.verdict.probabilities, given,
                                     result.scores["aum"], fraction)
        row = {"estimated_errors": review.estimated_errors}
        if flips is not None:
            alt = dataclasses.replace(result, label_review=review)
            for name in ("csl", "curvature"):
                q = metrics.view_quality(flagged(alt, given, name), flips)
                row[f"f1_{name}"] = f1(q)
        out[str(fraction)] = row
    return out


def run_head(features, given, **overrides):
    t0 = time.perf_counter()
    res = train_and_track(features, given, num_classes=10, threads=1,
                          **overrides)
    res.wall_seconds = time.perf_counter() - t0
    return res


def cleanlab_side(features, given, flips):
    """cleanlab find_label_issues on 5-fold logistic regression."""
    from cleanlab.filter import find_label_issues
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    x = StandardScaler().fit_transform(features)
    probs = cross_val_predict(LogisticRegression(max_iter=1000, C=0.1), x,
                              given, cv=5, method="predict_proba")
    issues = find_label_issues(given, probs)
    q = metrics.view_quality(issues, flips)
    q["f1"] = f1(q)
    return {
        "view": q,
        "auroc_self_confidence": metrics.auroc(
            flips, -probs[np.arange(len(given)), given]),
        "oos_accuracy": float((probs.argmax(1) == given).mean()),
        "seconds": time.perf_counter() - t0,
    }


def clean_1k(features, labels, per_class=100, seed=0, **overrides):
    """1,000 clean photos (per_class of each class, true labels): how many
    the head run flags."""
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
        for c in range(10)]))
    res = run_head(features[keep], labels[keep], **overrides)
    out = {"n": int(len(keep)), "estimated_errors":
           int(res.label_review.estimated_errors),
           "estimator": res.label_review.estimator,
           "verdict": res.verdict.to_dict(),
           "heldout_fraction_sweep": fraction_sweep(res, labels[keep]),
           "seconds": res.wall_seconds}
    for rank_by in ("curvature", "aum", "csl"):
        out[f"flagged_{rank_by}"] = int(
            flagged(res, labels[keep], rank_by).sum())
    return out, keep


def scratch_clean_1k(labels, per_class=100, seed=0):
    """The from-scratch path (32 px images, engine defaults) on the same
    1,000 clean photos as :func:`clean_1k`: its verdict and how many it
    would flag without one."""
    from common import load_cifar_subset

    images, labels5k, _ = load_cifar_subset(500, 0)
    assert np.array_equal(labels5k, labels)
    rng = np.random.default_rng(seed)
    keep = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(labels == c), per_class, replace=False)
        for c in range(10)]))
    t0 = time.perf_counter()
    res = train_and_track(images[keep], labels[keep], num_classes=10,
                          threads=1)
    given = labels[keep]
    review = res.label_review
    memo = percentile_rank(res.curvature)
    return {
        "n": int(len(keep)), "config": {k: res.config[k] for k in (
            "model", "epochs", "batch_size", "lr", "score_every",
            "holdout")},
        "estimated_errors": int(review.estimated_errors),
        "flagged_without_verdict": int(
            review.likely_mislabeled(memo, given).sum()),
        "flagged": int(flagged(res, given, "curvature").sum()),
        "verdict": res.verdict.to_dict(),
        "train_seconds": res.train_seconds,
        "score_seconds": res.score_seconds,
        "wall_seconds": time.perf_counter() - t0,
    }


# ------------------------------------------------------------------ sweep

def _register(name, **kwargs):
    models._FACTORIES[name] = lambda d, k, width=None: models.mlp_head(
        d, k, **({"width": width} if width else {}), **kwargs)


CANDIDATES = {
    "relu_h1": dict(model="mlp_relu", h=1.0),
    "gelu_h1": dict(model="mlp_head", h=1.0),
    "gelu_h1_wd5e-3": dict(model="mlp_head", h=1.0, weight_decay=5e-3),
    "gelu_h1_e10": dict(model="mlp_head", h=1.0, epochs=10),
    "tanh_h1": dict(model="mlp_tanh", h=1.0),
    "gelu_h0.1": dict(model="mlp_head", h=0.1),
    "linear": dict(model="linear_head"),
    "mlp_relu": dict(model="mlp_relu"),
    "mlp_gelu": dict(model="mlp_head"),
    "mlp_tanh": dict(model="mlp_tanh"),
    "mlp_gelu_d2": dict(model="mlp_gelu_d2"),
    "mlp_gelu_h1e-1": dict(model="mlp_head", h=0.1),
    "mlp_gelu_e60": dict(model="mlp_head", epochs=60),
    "mlp_gelu_wd5e-3": dict(model="mlp_head", weight_decay=5e-3),
    "mlp_gelu_lr0.01": dict(model="mlp_head", lr=0.01),
}


def sweep(features, labels, names, settings):
    from fiftyone_curvature.engine import config as cfgmod

    _register("mlp_relu", activation="relu")
    _register("mlp_tanh", activation="tanh")
    _register("mlp_gelu_d2", depth=2)
    extra = ("mlp_relu", "mlp_tanh", "mlp_gelu_d2")
    cfgmod.MODELS = cfgmod.MODELS + extra
    cfgmod.HEAD_MODELS = cfgmod.HEAD_MODELS + extra
    models.HEAD_MODELS = cfgmod.HEAD_MODELS
    models.MODELS = cfgmod.MODELS
    rows = {}
    for setting, kind, frac in settings:
        given, flips = inject_noise(labels, frac, 10, kind=kind, seed=0)
        for name in names:
            # views ungated: the sweep compares the rankings
            res = run_head(features, given, **CANDIDATES[name])
            ev = evaluate_run(res, given, labels, flips, gate=False)
            alt = oos_review(res, given, labels, flips)
            best = max((n for n in ev["scores"] if n != "curvature"),
                       key=lambda n: ev["scores"][n]["auroc"])
            bestv = max(ev["likely_mislabeled"],
                        key=lambda n: ev["likely_mislabeled"][n]["f1"])
            row = {
                "curv_auroc": ev["scores"]["curvature"]["auroc"],
                "curv_ap": ev["scores"]["curvature"]["ap"],
                "best": best, "best_auroc": ev["scores"][best]["auroc"],
                "best_ap": ev["scores"][best]["ap"],
                "f1_curv": ev["likely_mislabeled"]["curvature"]["f1"],
                "best_view": bestv,
                "f1_best": ev["likely_mislabeled"][bestv]["f1"],
                "sugg": ev["suggested_right_on_flips"],
                "est": ev["estimated_errors"], "true": ev["true_errors"],
                "train_acc": res.history[-1]["train_accuracy"],
                "acc": ev["verdict"]["heldout_accuracy"],
                "sep": ev["verdict"]["separation"],
                **alt,
                "s": round(res.wall_seconds, 1),
            }
            rows[f"{setting}/{name}"] = row
            print(f"{setting:7s} {name:16s} " + " ".join(
                f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}"
                for k, v in row.items()), flush=True)
    return rows


def machine():
    return {"platform": platform.platform(), "cpus": os.cpu_count(),
            "threads": 1, "python": platform.python_version()}


def commit():
    try:
        return subprocess.check_output(
            ["git", "rev-parse", "HEAD"], text=True,
            cwd=os.path.dirname(os.path.abspath(__file__))).strip()
    except Exception:
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", default="/work/cache/effnet_lite2_cifar5k.npz")
    p.add_argument("--out", default=None)
    p.add_argument("--sweep", nargs="*", default=None,
                   help="head candidates to compare (none named: all)")
    p.add_argument("--scratch-clean", action="store_true",
                   help="only the from-scratch run on the 1,000 clean "
                   "photos (32 px images, engine defaults)")
    p.add_argument("--settings", type=int, default=2,
                   help="with --sweep: the first n of sym10, asym10, "
                   "asym20")
    args = p.parse_args()
    d = np.load(args.cache)
    features, labels = d["features"], d["labels"].astype(np.int64)
    record = {"command": " ".join(sys.argv), "commit": commit(),
              "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "machine": machine(), "cache": args.cache,
              "embedding_seconds": float(d["seconds"]),
              "n": int(len(labels))}
    if args.scratch_clean:
        record["scratch_clean_1k"] = scratch_clean_1k(labels)
        print(json.dumps(record["scratch_clean_1k"]), flush=True)
    elif args.sweep is not None:
        names = args.sweep or list(CANDIDATES)
        record["sweep"] = sweep(features, labels, names,
                                SETTINGS[:args.settings])
    else:
        record["settings"] = {}
        for setting, kind, frac in SETTINGS:
            given, flips = inject_noise(labels, frac, 10, kind=kind, seed=0)
            res = run_head(features, given)
            ev = evaluate_run(res, given, labels, flips)
            ev["config"] = {k: res.config[k] for k in (
                "model", "epochs", "lr", "batch_size", "weight_decay", "h",
                "probes", "score_every", "holdout")}
            ev["wall_seconds"] = res.wall_seconds
            ev["cleanlab"] = cleanlab_side(features, given, flips)
            record["settings"][setting] = ev
            print(setting, json.dumps({
                "curv": ev["scores"]["curvature"],
                "aum": ev["scores"]["aum"],
                "view_f1": {k: round(v["f1"], 3) for k, v in
                            ev["likely_mislabeled"].items()},
                "sugg": ev["suggested_right_on_flips"],
                "est": ev["estimated_errors"],
                "verdict": ev["verdict"],
                "cleanlab": ev["cleanlab"]["view"]}), flush=True)
        record["clean_1k"], _ = clean_1k(features, labels)
        print("clean 1k", record["clean_1k"], flush=True)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)),
                    exist_ok=True)
        with open(args.out, "w") as f:
            json.dump(record, f, indent=1)
        print("->", args.out)


if __name__ == "__main__":
    main()
