"""compute_curvature on a real (private) MongoDB: run record, fields, views."""

import numpy as np
import pytest

import fiftyone as fo
from fiftyone import ViewField as F

import fiftyone_curvature as fc
from fiftyone_curvature.engine.dynamics import SCORES
from fiftyone_curvature.sdk.runs import Curvature, CurvatureResults

EPOCHS = 3
OUTPUTS = ["curvature", "curvature_epochs", "curvature_percentile",
           "curvature_prediction", "curvature_suggested_label",
           "curvature_memorization"] + [f"curvature_{s}" for s in SCORES]


def _labels(dataset, field="label"):
    return [(c.id, c.label) if c else None for c in dataset.values(field)]


@pytest.fixture(scope="module")
def run(digits_maker):
    """One 3-epoch run on 200 noisy digits, shared by the module."""
    dataset = digits_maker(n=200, noise=0.1)
    before = {f: _labels(dataset, f) for f in ("label", "ground_truth")}
    schema_before = set(dataset.get_field_schema())
    results = fc.compute_curvature(dataset, "label", epochs=EPOCHS,
                                   score_every=1, score_from=0.0,
                                   progress=False)
    yield dataset, results, before, schema_before
    dataset.delete()


def test_fields_written(run):
    dataset, results, _, schema_before = run
    schema = dataset.get_field_schema()
    assert set(schema) == schema_before | set(OUTPUTS)
    assert all(v is not None for v in dataset.values("curvature"))
    epochs = dataset.values("curvature_epochs")
    assert all(len(e) == EPOCHS for e in epochs)
    pct = np.array(dataset.values("curvature_percentile"))
    assert pct.min() == 0.0 and pct.max() == 1.0
    top = dataset.sort_by("curvature", reverse=True).first()
    assert top.curvature_percentile == 1.0
    pred = dataset.first().curvature_prediction
    assert isinstance(pred, fo.Classification)
    assert len(pred.logits) == 10 and 0 < pred.confidence <= 1
    assert pred.label in [str(i) for i in range(10)]
    # the field values are those of the results, row by row
    ids = dataset.values("id")
    row = {sid: i for i, sid in enumerate(results.sample_ids)}
    order = [row[i] for i in ids]
    np.testing.assert_allclose(dataset.values("curvature"),
                               results.curvature[order])
    assert dataset.get_field("curvature").description.startswith("mean")


def test_labels_unchanged(run):
    dataset, _, before, _ = run
    for field, values in before.items():
        assert _labels(dataset, field) == values


def test_run_record_round_trip(run):
    dataset, results, _, _ = run
    assert dataset.list_brain_runs() == ["curvature"]
    assert dataset.list_brain_runs(type=Curvature) == ["curvature"]
    info = dataset.get_brain_info("curvature")
    assert info.config.label_field == "label"
    assert info.config.tracking["epochs"] == EPOCHS
    assert info.config.tracking["model"] == "small_cnn"  # resolved
    assert info.config.classes == [str(i) for i in range(10)]
    loaded = dataset.load_brain_results("curvature", cache=False)
    assert isinstance(loaded, CurvatureResults)
    assert loaded.curvature_epochs.shape == (200, EPOCHS)
    assert loaded.scored_epochs == list(range(1, EPOCHS + 1))
    assert list(loaded.sample_ids) == list(results.sample_ids)
    np.testing.assert_allclose(loaded.curvature, results.curvature)
    assert len(loaded.history) == EPOCHS
    assert {"train_loss", "train_accuracy", "lr"} <= set(loaded.history[0])
    np.testing.assert_allclose(
        loaded.epochs_of(list(loaded.sample_ids[:3])),
        loaded.curvature_epochs[:3],
    )
    assert len(dataset.load_brain_view("curvature")) == 200


def test_saved_views(run):
    dataset, results, _, _ = run
    names = ["curvature_top_memorized", "curvature_likely_mislabeled",
             "curvature_long_tail"]
    assert set(names) <= set(dataset.list_saved_views())
    top = dataset.load_saved_view("curvature_top_memorized")
    assert len(top) == 100
    # most memorized first, by the run's rank_by score (AUM by default)
    assert results.label_review["rank_by"] == "aum"
    values = top.values("curvature_memorization")
    assert values == sorted(values, reverse=True)
    mis = dataset.load_saved_view("curvature_likely_mislabeled")
    tail = dataset.load_saved_view("curvature_long_tail")
    # mislabeled: the suggested label differs; as many as estimated wrong
    # (none when the network cannot judge the labels)
    verdict = results.label_review["verdict"]
    assert len(mis) == (results.label_review["estimated_errors"]
                        if verdict["can_judge"] else 0)
    for sample in mis:
        assert sample.curvature_suggested_label.label != sample.label.label
    # long tail: highly memorized and the suggested label agrees
    high = dataset.match(F("curvature_memorization") >= 0.8)
    expected = {s.id for s in high
                if s.curvature_suggested_label.label == s.label.label}
    assert set(tail.values("id")) == expected


def test_brain_methods_run_on_prediction(run):
    import fiftyone.brain as fob

    dataset, _, _, _ = run
    fob.compute_mistakenness(dataset, "curvature_prediction", "label",
                             mistakenness_field="mistakenness_test",
                             progress=False)
    fob.compute_hardness(dataset, "curvature_prediction",
                         hardness_field="hardness_test", progress=False)
    assert None not in dataset.values("mistakenness_test")
    hardness = dataset.values("hardness_test")
    assert None not in hardness and min(hardness) >= 0
    dataset.delete_brain_runs()  # also the next tests' starting point


def test_rename_and_delete(digits_maker):
    dataset = digits_maker(n=60, noise=0.0)
    try:
        schema_before = set(dataset.get_field_schema())
        views_before = set(dataset.list_saved_views())
        fc.compute_curvature(dataset, "ground_truth", "curv", epochs=1,
                             progress=False)
        dataset.rename_brain_run("curv", "memo")
        assert dataset.list_brain_runs() == ["memo"]
        schema = set(dataset.get_field_schema())
        assert "memo" in schema and "memo_prediction" in schema
        assert not any(f.startswith("curv") for f in schema)
        assert "memo_long_tail" in dataset.list_saved_views()
        assert not any(v.startswith("curv") for v in
                       dataset.list_saved_views())
        info = dataset.get_brain_info("memo")
        assert info.config.curvature_field == "memo"
        loaded = dataset.load_brain_results("memo", cache=False)
        assert loaded.key == "memo"
        dataset.delete_brain_run("memo")
        assert dataset.list_brain_runs() == []
        assert set(dataset.get_field_schema()) == schema_before
        assert set(dataset.list_saved_views()) == views_before
    finally:
        dataset.delete()


def test_view_subset_and_overwrite(digits_maker):
    dataset = digits_maker(n=80, noise=0.0)
    try:
        subset = dataset.limit(50)
        fc.compute_curvature(subset, "ground_truth", epochs=1,
                             progress=False, create_views=False)
        assert len(dataset.exists("curvature")) == 50
        assert len(dataset.load_brain_view("curvature")) == 50
        assert dataset.list_saved_views() == []
        # same key again: overwrites the run in place
        fc.compute_curvature(dataset, "ground_truth", epochs=1,
                             progress=False, score_every=1,
                             thresholds={"top_k": 5})
        assert len(dataset.exists("curvature")) == 80
        assert len(dataset.load_saved_view("curvature_top_memorized")) == 5
        assert dataset.list_brain_runs() == ["curvature"]
        # replaced by a run without views: the old views go
        fc.compute_curvature(dataset, "ground_truth", epochs=1,
                             progress=False, create_views=False)
        assert dataset.list_saved_views() == []
        assert dataset.get_brain_info("curvature").config.views == []
    finally:
        dataset.delete()


def test_validation_errors(make_digits, tmp_path):
    dataset = make_digits(n=30, noise=0.0)
    with pytest.raises(ValueError, match="valid identifier"):
        fc.compute_curvature(dataset, "label", "bad key", progress=False)
    with pytest.raises(ValueError, match="Unknown model"):
        fc.compute_curvature(dataset, "label", model="vgg", progress=False)
    with pytest.raises(ValueError, match="Unknown option"):
        fc.compute_curvature(dataset, "label", epoch=3, progress=False)
    with pytest.raises(ValueError, match="Unknown threshold"):
        fc.compute_curvature(dataset, "label", thresholds={"k": 1},
                             progress=False)
    dataset.clone_sample_field("label", "label_prediction")
    with pytest.raises(ValueError, match="overwritten"):
        fc.compute_curvature(dataset, "label_prediction", "label",
                             progress=False)
    dataset.add_sample_field("curvature", fo.FloatField)
    with pytest.raises(ValueError, match="not written by a curvature"):
        fc.compute_curvature(dataset, "label", progress=False)
    with pytest.raises(ValueError, match="Classification"):
        fc.compute_curvature(dataset, "flipped", "c2", progress=False)
    assert dataset.list_brain_runs() == []


def test_failed_run_is_not_registered(make_digits):
    import os

    dataset = make_digits(n=30, noise=0.0)
    # a private copy of one image, then removed
    sample = dataset.first()
    copy = sample.filepath.replace(".png", "_copy.png")
    with open(sample.filepath, "rb") as src, open(copy, "wb") as dst:
        dst.write(src.read())
    sample.filepath = copy
    sample.save()
    os.remove(copy)
    with pytest.raises(FileNotFoundError, match="missing on disk"):
        fc.compute_curvature(dataset, "label", epochs=1, progress=False)
    assert dataset.list_brain_runs() == []
    assert "curvature" not in dataset.get_field_schema()


def test_failed_write_leaves_no_fields(make_digits, monkeypatch):
    import fiftyone_curvature.sdk.fields as core

    dataset = make_digits(n=30, noise=0.0)
    schema_before = set(dataset.get_field_schema())
    real = core.percentile_ranks

    def boom(values):
        raise RuntimeError("disk full")

    monkeypatch.setattr(core, "percentile_ranks", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        fc.compute_curvature(dataset, "label", epochs=1, progress=False)
    assert dataset.list_brain_runs() == []
    assert set(dataset.get_field_schema()) == schema_before
    # the failure left nothing behind that blocks a retry
    monkeypatch.setattr(core, "percentile_ranks", real)
    fc.compute_curvature(dataset, "label", epochs=1, progress=False)
    assert dataset.list_brain_runs() == ["curvature"]
    assert None not in dataset.values("curvature")


def test_progress_callback(make_digits):
    dataset = make_digits(n=40, noise=0.0)
    events = []
    fc.compute_curvature(dataset, "label", epochs=2, progress=events.append,
                         create_views=False)
    phases = [e["phase"] for e in events]
    assert phases[0] == "load" and phases[-1] == "write"
    epochs = [e for e in events if e["phase"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and 0 < fractions[-1] <= 1
    assert {"eta", "epochs", "train_accuracy"} <= set(epochs[-1])
