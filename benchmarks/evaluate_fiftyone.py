"""Corruption-injection evaluation through FiftyOne, end to end.

Builds a FiftyOne dataset with clean labels (scikit-learn digits, or a
stratified subset of the real CIFAR-10 in ../shared/data/cifar10), then
runs ``fiftyone-curvature evaluate`` on it (label noise injected into the
run's own fields), printing the table (mean ± std over seeds) and the wall
time, and saving the JSON to benchmarks/results/evaluate_<data>.json.

    python benchmarks/evaluate_fiftyone.py --data digits --seeds 0 1
    python benchmarks/evaluate_fiftyone.py --data cifar --per-class 500 \\
        --seeds 0 -- --score-every 2

Arguments after ``--`` go to ``fiftyone-curvature evaluate`` unchanged.
Uses the FiftyOne database of the environment. Not a test: CIFAR takes
25+ minutes per seed on 2 CPU cores.
"""

import argparse
import contextlib
import io
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def cifar_dataset(name, per_class, seed, folder):
    import numpy as np
    from PIL import Image

    import fiftyone as fo

    from common import load_cifar_subset

    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog",
               "frog", "horse", "ship", "truck"]
    images, labels, index = load_cifar_subset(per_class=per_class,
                                              seed=seed)
    os.makedirs(folder, exist_ok=True)
    samples = []
    for img, label, i in zip(images, labels, index):
        path = os.path.join(folder, f"train_{i:05d}.png")
        if not os.path.isfile(path):
            Image.fromarray(np.ascontiguousarray(img.transpose(1, 2, 0)),
                            "RGB").save(path)
        samples.append(fo.Sample(
            filepath=path,
            ground_truth=fo.Classification(label=classes[int(label)]),
            cifar_index=int(i),
        ))
    dataset = fo.Dataset(name, overwrite=True, persistent=True)
    dataset.add_samples(samples, progress=False)
    return dataset


def main():
    argv = sys.argv[1:]
    passthrough = []
    if "--" in argv:
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", choices=("digits", "cifar"),
                        default="digits")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument("--kind", choices=("symmetric", "asymmetric"),
                        default="symmetric")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--per-class", type=int, default=500)
    parser.add_argument("--report", default=None)
    args = parser.parse_args(argv)

    from fiftyone_curvature.cli import main as cli_main
    from fiftyone_curvature.cli.demo import (
        default_cache_dir, make_digits_dataset,
    )

    name = f"bench-evaluate-{args.data}"
    if args.data == "digits":
        dataset = make_digits_dataset(name, noise=0.0)
    else:
        dataset = cifar_dataset(
            name, args.per_class, 0,
            os.path.join(default_cache_dir(), f"cifar10_{args.per_class}"))
    cmd = ["evaluate", dataset.name, "--label-field", "ground_truth",
           "--noise", str(args.noise), "--kind", args.kind, "--seeds",
           *[str(s) for s in args.seeds], "--json"]
    if args.report:
        cmd += ["--report", args.report]
    cmd += passthrough
    t0 = time.perf_counter()
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = cli_main(cmd)
    wall = time.perf_counter() - t0
    if code:
        return code
    out = json.loads(buf.getvalue().strip().splitlines()[-1])
    out["benchmark_wall_seconds"] = round(wall, 1)
    out["command"] = "fiftyone-curvature " + " ".join(cmd)
    os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
    suffix = "" if args.kind == "symmetric" else f"_{args.kind}"
    path = os.path.join(HERE, "results",
                        f"evaluate_{args.data}{suffix}.json")
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
    print(f"{len(dataset)} samples, {args.kind} noise {args.noise}, seeds "
          f"{args.seeds}, {out['epochs']} epochs, model {out['model']}: "
          f"{wall:.0f} s\n")
    print(f"{'score':<16}{'AUROC':>16}{'AP':>16}{'FPR@95':>16}")
    for name, row in out["scores"].items():
        cells = "".join(
            f"{row[m]['mean']:>9.3f} ± {row[m]['std']:.3f}"
            if row[m]["mean"] is not None else f"{'-':>16}"
            for m in ("auroc", "ap", "fpr95")
        )
        print(f"{name:<16}{cells}")
    review = out.get("review")
    if review:
        print("\nviews (mean over seeds): samples / flipped in it / "
              "precision / recall of flips")
        for name, v in review["views"].items():
            print(f"  {name:<20}{v['size']:>8.0f}{v['positives']:>8.0f}"
                  f"{_fmt(v['precision']):>8}{_fmt(v['recall']):>8}")
        for name, v in review["likely_mislabeled_by"].items():
            print(f"  likely_mislabeled by {name:<6} precision "
                  f"{_fmt(v['precision'])}, recall {_fmt(v['recall'])}")
        print(f"suggested label right on {_fmt(review['suggested_accuracy'])}"
              f" of the flipped; estimated wrong labels "
              f"{review['estimated_errors']:.0f} ({review['estimator']}) of "
              f"{review['injected']:.0f} injected")
    print(f"\nsaved {path}")
    return 0


def _fmt(value):
    return "-" if value is None else f"{value:.2f}"


if __name__ == "__main__":
    sys.exit(main())
