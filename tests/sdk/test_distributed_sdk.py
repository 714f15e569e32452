"""compute_curvature(nproc=2) through FiftyOne, export and write-back."""

import numpy as np
import pytest

import fiftyone_curvature as fc
from fiftyone_curvature.sdk.distributed import write_back


@pytest.mark.slow
def test_nproc_run_writes_back_like_a_plain_run(make_digits, tmp_path):
    dataset = make_digits(n=120, noise=0.1)
    events = []
    export_dir = str(tmp_path / "export")
    results = fc.compute_curvature(
        dataset, "label", curvature_field="dp", epochs=2, device="cpu",
        nproc=2, export_dir=export_dir, progress=events.append)
    assert dataset.list_brain_runs() == ["dp"]
    values = dataset.values("dp")
    assert len(values) == 120 and np.isfinite(values).all()
    assert results.num_samples == 120
    assert [e["epoch"] for e in events if e["phase"] == "epoch"] == [1, 2]
    assert "dp_likely_mislabeled" in dataset.list_saved_views()

    # the same export and result written back under another key: the same
    # scores, sample by sample
    write_back(dataset, "label", export_dir, curvature_field="again")
    assert dataset.values("again") == dataset.values("dp")
    assert dataset.get_brain_info("again").config.tracking["epochs"] == 2

    # a run of that key computing in another process: refused, untouched
    from fiftyone_curvature.sdk.locks import (
        RunInProgressError, _collection, release_lock,
    )

    _collection().insert_one({"_id": f"{dataset._doc.id}:fourth",
                              "host": "gpu-box-7", "pid": 4242, "token": "t"})
    try:
        with pytest.raises(RunInProgressError,
                           match="process 4242 on host gpu-box-7"):
            write_back(dataset, "label", export_dir, curvature_field="fourth")
    finally:
        release_lock(dataset, "fourth")
    assert "fourth" not in dataset.list_brain_runs()
    assert "fourth" not in dataset.get_field_schema()

    # labels edited after the export: the scores are stale
    sample = dataset.first()
    sample["label"].label = "9" if sample["label"].label != "9" else "8"
    sample.save()
    with pytest.raises(ValueError, match="changed since the export"):
        write_back(dataset, "label", export_dir, curvature_field="third")
    assert "third" not in dataset.list_brain_runs()


def test_nproc_must_be_positive(make_digits):
    dataset = make_digits(n=20)
    with pytest.raises(ValueError, match="nproc must be an integer >= 1"):
        fc.compute_curvature(dataset, "label", nproc=0)
