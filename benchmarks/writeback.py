"""Write-back speed: all score fields of a run for N samples into FiftyOne.

Builds a synthetic N-sample dataset (no images needed), a fake engine
result of the right shapes, and times the bulk write compute_curvature
does (set_values per field). Uses FiftyOne's configured database (set
FIFTYONE_DATABASE_URI to use a private mongod).

    python benchmarks/writeback.py --n 50000
"""

import argparse
import time
import types

import numpy as np


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--classes", type=int, default=10)
    a = p.parse_args(argv)

    import fiftyone as fo

    from fiftyone_curvature.sdk.fields import write_run_fields
    from fiftyone_curvature.engine.dynamics import SCORES

    rng = np.random.default_rng(0)
    n, k = a.n, a.classes
    classes = [f"class{i}" for i in range(k)]
    t0 = time.perf_counter()
    dataset = fo.Dataset()
    dataset.add_samples([
        fo.Sample(filepath=f"/nonexistent/{i:06d}.png",
                  ground_truth=fo.Classification(label=classes[i % k]))
        for i in range(n)
    ], progress=False)
    t_make = time.perf_counter() - t0
    logits = rng.normal(size=(n, k)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    result = types.SimpleNamespace(
        curvature=rng.random(n),
        curvature_epochs=rng.random((n, a.epochs)).astype(np.float32),
        scored_epochs=list(range(1, a.epochs + 1)),
        logits=logits,
        probabilities=probs,
        predictions=logits.argmax(1),
        scores={name: rng.random(n) for name in SCORES},
    )
    prepared = types.SimpleNamespace(sample_ids=dataset.values("id"),
                                     classes=classes)
    try:
        t0 = time.perf_counter()
        write_run_fields(dataset, "curvature", prepared, result)
        dt = time.perf_counter() - t0
        fields = [f for f in dataset.get_field_schema()
                  if f.startswith("curvature")]
        print(f"synthetic dataset of {n} samples built in {t_make:.1f}s")
        print(f"wrote {len(fields)} fields ({a.epochs}-epoch lists, "
              f"{k}-class predictions with logits) for {n} samples in "
              f"{dt:.2f}s ({n / dt:.0f} samples/s)")
        assert dataset.bounds("curvature")[1] is not None
    finally:
        dataset.delete()


if __name__ == "__main__":
    main()
