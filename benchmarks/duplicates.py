"""Duplicate-injection evaluation on digits or a CIFAR-10 subset.

Starts a private MongoDB (the test suite's, so nothing touches the user's
database), builds the dataset, runs
:func:`fiftyone_curvature.sdk.duplicate_injection.evaluate_duplicates` and writes
``results/duplicates_<data>.json``::

    python benchmarks/duplicates.py --data digits --seeds 0 1
    python benchmarks/duplicates.py --data cifar --per-class 200 \\
        --epochs 20 --score-every 2
"""

import argparse
import importlib
import json
import os
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, HERE)

importlib.import_module("conftest")  # private mongod, env set first


def _cifar_dataset(per_class, seed, folder):
    import fiftyone as fo
    from PIL import Image

    from common import load_cifar_subset

    names = ["airplane", "automobile", "bird", "cat", "deer", "dog",
             "frog", "horse", "ship", "truck"]
    images, labels, index = load_cifar_subset(per_class=per_class, seed=seed)
    samples = []
    for img, label, i in zip(images, labels, index):
        path = os.path.join(folder, f"cifar_{i:05d}.png")
        Image.fromarray(img.transpose(1, 2, 0), "RGB").save(path)
        samples.append(fo.Sample(
            filepath=path, label=fo.Classification(label=names[label])))
    dataset = fo.Dataset(f"dups-cifar-{per_class}")
    dataset.add_samples(samples, progress=False)
    return dataset


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--data", choices=["digits", "cifar"], default="digits")
    p.add_argument("--per-class", type=int, default=200)
    p.add_argument("--num-images", type=int, default=50)
    p.add_argument("--copies", type=int, default=1)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--probes", type=int, default=2)
    p.add_argument("--score-every", type=int, default=1)
    p.add_argument("--model", default="auto")
    p.add_argument("--out", default=None)
    args = p.parse_args()

    from fiftyone_curvature.cli.demo import make_digits_dataset
    from fiftyone_curvature.sdk.duplicate_injection import (
        evaluate_duplicates,
    )

    folder = tempfile.mkdtemp(prefix="dups-bench-")
    if args.data == "digits":
        dataset = make_digits_dataset("dups-digits", noise=0.0,
                                      cache_dir=folder)
    else:
        dataset = _cifar_dataset(args.per_class, 0, folder)
    t0 = time.perf_counter()

    def progress(info):
        if info["phase"] == "epoch":
            print(f"\rseed {info['seed']} epoch {info['epoch']}/"
                  f"{info['epochs']}", end="", file=sys.stderr, flush=True)

    results = evaluate_duplicates(
        dataset, "label", num_images=args.num_images, copies=args.copies,
        seeds=args.seeds, epochs=args.epochs, probes=args.probes,
        score_every=args.score_every, model=args.model, progress=progress,
    )
    seconds = time.perf_counter() - t0
    print(file=sys.stderr)
    print(f"{args.data}: {len(dataset)} images + {args.num_images} x "
          f"{args.copies} injected copies, {args.epochs} epochs, seeds "
          f"{args.seeds}, {seconds:.0f} s")
    print(results.table())
    for s, finder, secs in zip(args.seeds, results.finder,
                               results.seconds):
        print(f"seed {s} finder: {json.dumps(finder)}")
        rounded = {k: round(v, 1) for k, v in secs.items()}
        print(f"seed {s} seconds: {json.dumps(rounded)}")
    out = args.out or os.path.join(HERE, "results",
                                   f"duplicates_{args.data}.json")
    payload = results.to_summary_dict()
    payload.update(data=args.data, wall_seconds=seconds,
                   argv=sys.argv[1:])
    with open(out, "w") as f:
        json.dump(payload, f, indent=1)
    print(f"wrote {out}")
    shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
