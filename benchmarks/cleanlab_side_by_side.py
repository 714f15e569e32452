"""The likely-mislabeled view beside what a user would pick instead:
cleanlab's ``find_label_issues`` on k-fold out-of-sample probabilities.

Same images, same noise draw (the engine's ``inject_noise`` with the
arguments ``evaluate_corruption`` uses, so the flipped set is the one of
``fiftyone-curvature evaluate ... --seeds SEED``), same network and
training recipe (the engine's defaults): cleanlab gets the softmax of K
networks, each trained with no curvature scoring on K-1 folds and applied
to the held-out fold (stratified folds on the noisy labels, as cleanlab
recommends); this tool gets its one tracked run. Printed for each: how many
samples it flags, precision and recall of the flipped labels, F1, and wall
time (training included).

    pip install -e ".[bench]"            # cleanlab; the package never needs it
    python benchmarks/cleanlab_side_by_side.py --data digits
    python benchmarks/cleanlab_side_by_side.py --data cifar --per-class 500 \\
        --ours-from benchmarks/results/evaluate_cifar.json

``--ours-from`` takes this tool's figures from a saved
``benchmarks/evaluate_fiftyone.py`` result of the same data, noise and seed
(the end-to-end run through FiftyOne) instead of training again; the script
checks that the stored run flipped as many labels as this draw. Not a
test: CIFAR takes about 5 trainings of 4,000 images (50-90 min on 2 CPU
cores). Saves benchmarks/results/cleanlab_<data>[_<kind>].json.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def predict_probs(result, images):
    """(M, K) softmax of ``result.model`` on uint8 ``images`` (M, C, H, W),
    normalised as the run normalised its own training data."""
    import torch

    model = result.model.eval()
    device = next(model.parameters()).device
    mean = torch.tensor(result.normalization["mean"])[None, :, None, None]
    std = torch.tensor(result.normalization["std"])[None, :, None, None]
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x[:, None]
    out = []
    with torch.no_grad():
        for s in range(0, len(x), 512):
            xb = (x[s:s + 512].float() / 255.0 - mean) / std
            out.append(torch.softmax(model(xb.to(device)).float(), 1).cpu())
    return torch.cat(out).numpy()


def out_of_sample_probs(images, noisy, folds, seed, num_classes, log):
    """(N, K) out-of-sample softmax from ``folds`` trainings."""
    from sklearn.model_selection import StratifiedKFold

    from fiftyone_curvature.engine.training import train_and_track

    probs = np.zeros((len(noisy), num_classes))
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for k, (train, held) in enumerate(split.split(images, noisy)):
        t0 = time.perf_counter()
        result = train_and_track(images[train], noisy[train], seed=seed,
                                 score_every=0, num_classes=num_classes)
        probs[held] = predict_probs(result, images[held])
        acc = float((probs[held].argmax(1) == noisy[held]).mean())
        log(f"  fold {k + 1}/{folds}: trained on {len(train)}, held-out "
            f"agreement with the given labels {acc:.3f}, "
            f"{time.perf_counter() - t0:.0f} s")
    return probs


def quality(flagged, flipped):
    """Flagged count, hits, precision, recall and F1 of a flagged set, as
    the tool's own view review counts them."""
    from fiftyone_curvature.engine.metrics import view_quality

    row = _from_view(view_quality(flagged, flipped), None)
    del row["seconds"]
    return row


def ours_engine(images, noisy, clean, flipped, seed, num_classes):
    """This tool's likely-mislabeled view (ranked by curvature, CSL and
    AUM) from one tracked run at the defaults."""
    from fiftyone_curvature.engine.training import train_and_track
    from fiftyone_curvature.sdk.evaluation import view_review

    t0, c0 = time.perf_counter(), time.process_time()
    result = train_and_track(images, noisy, seed=seed,
                             num_classes=num_classes)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    review = view_review(result, noisy, clean, flipped)
    rows = {}
    for name, v in review["likely_mislabeled_by"].items():
        rows[f"likely_mislabeled by {name}"] = dict(
            _from_view(v, seconds), cpu_seconds=cpu)
    return rows, review


def ours_stored(path, injected):
    with open(path) as f:
        stored = json.load(f)
    review = stored["review"]
    if round(review["injected"]) != injected:
        raise SystemExit(
            f"{path} flipped {review['injected']:.0f} labels, this draw "
            f"{injected}: not the same data / noise / seed")
    seconds = stored.get("benchmark_wall_seconds", stored["wall_seconds"])
    rows = {f"likely_mislabeled by {name}": _from_view(v, seconds)
            for name, v in review["likely_mislabeled_by"].items()}
    return rows, review, stored.get("command")


def _from_view(v, seconds):
    """A row of the table from a view-quality dict (engine.metrics.
    view_quality): None precision / recall (empty view, no flips) count
    as 0."""
    p, r = v["precision"] or 0.0, v["recall"] or 0.0
    return {"flagged": int(v["size"]), "hits": int(v["positives"]),
            "precision": p, "recall": r,
            "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "seconds": None if seconds is None else round(seconds, 1)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", choices=("digits", "cifar"), default="digits")
    p.add_argument("--per-class", type=int, default=500)
    p.add_argument("--noise", type=float, default=0.1)
    p.add_argument("--kind", choices=("symmetric", "asymmetric"),
                   default="symmetric")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--ours-from", default=None,
                   help="a saved evaluate_fiftyone.py JSON of the same data,"
                   " noise and seed, instead of a new tracked run")
    a = p.parse_args(argv)

    try:
        from cleanlab.filter import find_label_issues
    except ImportError:
        raise SystemExit("cleanlab is not installed: pip install -e "
                         "\".[bench]\"") from None
    from common import load_cifar_subset, load_digits_uint8
    from fiftyone_curvature.engine.noise import inject_noise

    def log(msg):
        print(msg, flush=True)

    if a.data == "digits":
        images, clean = load_digits_uint8()
    else:
        images, clean, _ = load_cifar_subset(a.per_class)
    num_classes = int(clean.max()) + 1
    # exactly evaluate_corruption's draw (mapping=None: for asymmetric
    # noise a random cycle of classes drawn from the seed)
    noisy, flipped, _ = inject_noise(clean, num_classes, a.noise,
                                     kind=a.kind, seed=a.seed)
    injected = int(flipped.sum())
    log(f"{a.data}: {len(clean)} images, {a.kind} noise {a.noise}: "
        f"{injected} flipped (seed {a.seed})")

    rows = {}
    t0, c0 = time.perf_counter(), time.process_time()
    probs = out_of_sample_probs(images, noisy, a.folds, a.seed, num_classes,
                                log)
    train_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    issues = find_label_issues(noisy, probs)
    find_seconds = time.perf_counter() - t1
    cpu = time.process_time() - c0
    rows[f"cleanlab find_label_issues ({a.folds}-fold)"] = dict(
        quality(issues, flipped),
        seconds=round(train_seconds + find_seconds, 1), cpu_seconds=cpu)
    rows["  (out-of-sample argmax != given)"] = dict(
        quality(probs.argmax(1) != noisy, flipped),
        seconds=round(train_seconds, 1), cpu_seconds=cpu)

    source = "one tracked run at the defaults (this script)"
    if a.ours_from:
        ours, review, command = ours_stored(a.ours_from, injected)
        source = f"{a.ours_from} ({command})"
    else:
        ours, review = ours_engine(images, noisy, clean, flipped, a.seed,
                                   num_classes)
    rows.update(ours)

    log(f"\n{'method':<42}{'flagged':>8}{'precision':>10}{'recall':>8}"
        f"{'F1':>6}{'wall s':>8}{'CPU s':>8}")
    for name, r in rows.items():
        cpu = r.get("cpu_seconds")
        log(f"{name:<42}{r['flagged']:>8}{r['precision']:>10.2f}"
            f"{r['recall']:>8.2f}{r['f1']:>6.2f}{r['seconds']:>8.0f}"
            f"{'-' if cpu is None else f'{cpu:.0f}':>8}")
    log("(wall s depends on what else the machine ran; CPU s is this "
        "process's CPU time, comparable between rows of one run)")
    log(f"\nlikely_mislabeled: {source}; its size is the run's estimate "
        f"({review['estimated_errors']:.0f}, {review['estimator']}) of "
        f"{injected} injected. cleanlab: out-of-sample softmax of "
        f"{a.folds} networks (same model and recipe, no curvature scoring),"
        f" find_label_issues defaults, {find_seconds:.1f} s of it in "
        "cleanlab itself.")
    out = {"data": a.data, "n": len(clean), "noise": a.noise,
           "kind": a.kind, "seed": a.seed, "folds": a.folds,
           "injected": injected, "ours_source": source, "rows": rows}
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    suffix = "" if a.kind == "symmetric" else f"_{a.kind}"
    path = os.path.join(HERE, "results", f"cleanlab_{a.data}{suffix}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    log(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
