"""Write-back speed: all score fields of a run for N samples into FiftyOne.

Builds a synthetic N-sample dataset (no images needed), a fake engine
result of the right shapes, and times the bulk write compute_curvature
does (:func:`fiftyone_curvature.sdk.fields.write_run_fields`), alternating
the pipelined parallel writer (the default) with the same updates sent
sequentially from one thread (``--repeats`` times each, A/B/A/B, so that
the ratio survives a shared machine). Checks that both read back the same
values through ``dataset.values``. Uses FiftyOne's configured database
(set FIFTYONE_DATABASE_URI to use a private mongod).

    python benchmarks/writeback.py --n 50000
"""

import argparse
import time
import types

import numpy as np


def fake_result(n, k, epochs, rng):
    from fiftyone_curvature.engine.dynamics import SCORES

    logits = rng.normal(size=(n, k)).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    curv_epochs = rng.random((n, epochs)).astype(np.float32)
    return types.SimpleNamespace(
        curvature=rng.random(n),
        curvature_epochs=curv_epochs,
        scored_epochs=list(range(1, epochs + 1)),
        logits=logits,
        probabilities=probs,
        predictions=logits.argmax(1),
        scores={name: rng.random(n) for name in SCORES},
        label_review=types.SimpleNamespace(
            suggested=rng.integers(0, k, n), confidence=rng.random(n),
            window=epochs // 2),
    )


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args(argv)

    import fiftyone as fo

    from fiftyone_curvature.sdk import fields

    rng = np.random.default_rng(0)
    n, k = a.n, a.classes
    classes = [f"class{i}" for i in range(k)]
    t0 = time.perf_counter()
    dataset = fo.Dataset()
    dataset._sample_collection.insert_many(
        [{"filepath": f"/nonexistent/{i:06d}.png", "tags": [],
          "_media_type": "image", "_dataset_id": dataset._doc.id,
          "metadata": None,
          "ground_truth": {"_cls": "Classification", "tags": [],
                           "label": classes[i % k]}}
         for i in range(n)])
    dataset.add_sample_field("ground_truth", fo.EmbeddedDocumentField,
                             embedded_doc_type=fo.Classification)
    t_make = time.perf_counter() - t0
    result = fake_result(n, k, a.epochs, rng)
    prepared = types.SimpleNamespace(sample_ids=dataset.values("id"),
                                     classes=classes)
    print(f"synthetic dataset of {n} samples built in {t_make:.1f}s "
          "(machine shared with other workers: compare within a row)")
    default_writers = fields.WRITERS
    times = {"sequential": [], "pipelined": []}
    read = {}
    try:
        for _ in range(a.repeats):
            for name, writers in (("sequential", 0),
                                  ("pipelined", default_writers)):
                fields.WRITERS = writers
                t0 = time.perf_counter()
                fields.write_run_fields(dataset, "curvature", prepared,
                                        result)
                times[name].append(time.perf_counter() - t0)
                read[name] = (dataset.values("curvature_epochs"),
                              dataset.values("curvature_prediction.logits"),
                              dataset.values("curvature"))
        fields.WRITERS = default_writers
        same = (read["sequential"][0] == read["pipelined"][0]
                and read["sequential"][2] == read["pipelined"][2]
                and all(np.array_equal(x, y) for x, y in
                        zip(read["sequential"][1], read["pipelined"][1])))
        n_fields = len([f for f in dataset.get_field_schema()
                        if f.startswith("curvature")])
        print(f"{n_fields} fields ({a.epochs}-epoch lists, {k}-class "
              f"predictions with logits) for {n} samples:")
        for name, ts in times.items():
            print(f"  {name:<11} " + " ".join(f"{t:.2f}s" for t in ts)
                  + f"   best {min(ts):.2f}s ({n / min(ts):.0f} samples/s)")
        print(f"  pipelined / sequential: "
              f"{min(times['pipelined']) / min(times['sequential']):.2f}x; "
              f"same values read back: {same}")
    finally:
        fields.WRITERS = default_writers
        dataset.delete()


if __name__ == "__main__":
    main()
