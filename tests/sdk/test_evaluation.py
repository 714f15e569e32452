"""Corruption-injection evaluation runs on a FiftyOne dataset."""

import numpy as np
import pytest

from fiftyone_curvature.engine.metrics import METRICS
from fiftyone_curvature.sdk.evaluation_runs import SCORE_NAMES

# --------------------------------------------------------------------------
# the run on a FiftyOne dataset

TRAIN = dict(epochs=5, probes=1, model="small_cnn", batch_size=64,
             score_every=1)


@pytest.fixture(scope="module")
def evaluated(digits_maker):
    from fiftyone_curvature import evaluate_corruption

    dataset = digits_maker(n=240, noise=0.0)
    before = dataset.values("ground_truth.label")
    fields_before = set(dataset.get_field_schema())
    events = []
    results = evaluate_corruption(
        dataset, "ground_truth", noise=0.1, seeds=(0, 1), key="ev",
        progress=events.append, **TRAIN,
    )
    yield dataset, results, before, fields_before, events
    dataset.delete()


def test_labels_untouched_and_fields_written(evaluated):
    dataset, results, before, fields_before, _ = evaluated
    assert dataset.values("ground_truth.label") == before
    added = set(dataset.get_field_schema()) - fields_before
    assert added == set(results.config.output_fields())
    assert {"ev_corrupted", "ev_label", "ev", "ev_epochs", "ev_csl",
            "ev_prediction"} <= added
    corrupted = np.array(dataset.values("ev_corrupted"))
    assert corrupted.sum() == 24
    assert (corrupted == results.corrupted[0]).all()
    trained = np.array(dataset.values("ev_label.label"))
    truth = np.array(before)
    assert (trained[corrupted] != truth[corrupted]).all()
    assert (trained[~corrupted] == truth[~corrupted]).all()


def test_results_shapes_metrics_and_seeds(evaluated):
    dataset, results, *_ = evaluated
    assert results.seeds == [0, 1]
    assert results.corrupted.shape == (2, 240)
    assert not (results.corrupted[0] == results.corrupted[1]).all()
    assert results.score_names == list(SCORE_NAMES)
    summary = results.summary()
    for name in SCORE_NAMES:
        for metric in METRICS:
            m = summary[name][metric]
            assert len(m["values"]) == 2
            assert m["mean"] == pytest.approx(np.mean(m["values"]))
            assert m["std"] == pytest.approx(np.std(m["values"]))
    # the flipped samples rank high by the loss-based scores even after
    # five epochs, and above chance by curvature
    assert summary["csl"]["auroc"]["mean"] > 0.85
    assert summary["curvature"]["auroc"]["mean"] > 0.55
    # precision == recall at k = number corrupted
    for name in SCORE_NAMES:
        p = summary[name]["precision_at_k"]["values"]
        r = summary[name]["recall_at_k"]["values"]
        assert p == pytest.approx(r)
    assert results.epoch_auroc.shape == (2, 5)
    per_epoch = results.epoch_auroc_summary()
    assert per_epoch["epochs"] == [1, 2, 3, 4, 5]
    assert len(per_epoch["mean"]) == 5
    roc = results.roc_curves()
    assert set(roc) == set(SCORE_NAMES)
    tpr = np.array(roc["curvature"]["tpr"])
    assert tpr[0] >= 0 and tpr[-1] == 1.0 and (np.diff(tpr) >= -1e-12).all()
    pr = results.pr_curves(["csl"])
    assert len(pr["csl"]["precision"]) == len(pr["csl"]["recall"])
    text = results.table()
    assert "curvature" in text and "±" in text
    d = results.to_summary_dict()
    assert d["num_corrupted"] == [24, 24] and d["n"] == 240


def test_review_of_the_views(evaluated):
    dataset, results, *_ = evaluated
    review = results.review_summary()
    assert set(review["views"]) == {"top_memorized", "likely_mislabeled",
                                    "long_tail"}
    assert review["injected"] == 24
    for per_seed, corrupted in zip(results.reviews, results.corrupted):
        mis = per_seed["views"]["likely_mislabeled"]
        assert mis["size"] == (per_seed["estimated_errors"]
                               if per_seed["verdict"]["can_judge"] else 0)
        assert mis["recall"] == pytest.approx(
            mis["positives"] / corrupted.sum())
        assert per_seed["views"]["top_memorized"]["size"] == 100
        assert set(per_seed["likely_mislabeled_by"]) == {
            "curvature", "csl", "aum"}
    # even five epochs of digits suggest the true label for most flips
    assert review["suggested_accuracy"] > 0.5
    text = results.review_table()
    assert "ev_likely_mislabeled" in text and "suggested label" in text
    assert results.to_summary_dict()["review"] == review
    # stored with the run
    loaded = dataset.load_brain_results("ev")
    assert loaded.review_summary() == review


def test_progress_events_cover_both_seeds(evaluated):
    events = evaluated[4]
    epochs = [e for e in events if e["phase"] == "epoch"]
    assert len(epochs) == 10
    assert [e["seed"] for e in epochs] == [0] * 5 + [1] * 5
    fractions = [e["fraction"] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] < 1.0


def test_run_listed_loaded_and_view_sorted(evaluated):
    from fiftyone_curvature.sdk.evaluation_runs import (
        CorruptionEvaluationResults,
    )
    from fiftyone_curvature.sdk.runs import Curvature

    dataset, results, *_ = evaluated
    assert "ev" in dataset.list_brain_runs()
    assert "ev" in dataset.list_brain_runs(type="curvature_evaluation")
    # a curvature run too: the load-view / info / delete operators list it
    assert "ev" in dataset.list_brain_runs(type=Curvature)
    info = dataset.get_brain_info("ev")
    assert info.config.noise == 0.1 and info.config.seeds == [0, 1]
    dataset.clear_cache()
    loaded = dataset.load_brain_results("ev", cache=False)
    assert isinstance(loaded, CorruptionEvaluationResults)
    assert (loaded.corrupted == results.corrupted).all()
    assert loaded.metrics == results.metrics
    assert np.allclose(loaded.scores["aum"], results.scores["aum"])
    assert loaded.summary() == results.summary()
    view = dataset.load_saved_view("ev_corrupted_samples")
    assert len(view) == 24
    assert all(view.values("ev_corrupted"))
    values = view.values("ev")
    assert values == sorted(values, reverse=True)


def test_asymmetric_rename_and_delete(make_digits):
    from fiftyone_curvature import evaluate_corruption

    dataset = make_digits(n=120, noise=0.0)
    fields = set(dataset.get_field_schema())
    results = evaluate_corruption(
        dataset, "ground_truth", noise=0.3, kind="asymmetric",
        mapping={"1": "7", "3": "8"}, key="asym", progress=False,
        **dict(TRAIN, epochs=2),
    )
    assert results.mappings == [{"1": "7", "3": "8"}]
    truth = np.array(dataset.values("ground_truth.label"))
    trained = np.array(dataset.values("asym_label.label"))
    corrupted = np.array(dataset.values("asym_corrupted"))
    assert set(truth[corrupted]) <= {"1", "3"}
    assert set(trained[corrupted]) <= {"7", "8"}
    # a plain curvature run cannot silently replace the evaluation
    from fiftyone_curvature import compute_curvature

    with pytest.raises(ValueError, match="Cannot overwrite"):
        compute_curvature(dataset, "ground_truth", curvature_field="asym",
                          epochs=1, progress=False)
    assert dataset.get_brain_info("asym").config.noise == 0.3
    dataset.rename_brain_run("asym", "asym2")
    assert "asym2_corrupted" in dataset.get_field_schema()
    assert dataset.list_saved_views() == ["asym2_corrupted_samples"]
    dataset.delete_brain_run("asym2")
    assert set(dataset.get_field_schema()) == fields
    assert dataset.list_saved_views() == []
    assert dataset.list_brain_runs() == []


def test_evaluate_validation_errors(make_digits):
    from fiftyone_curvature import evaluate_corruption

    dataset = make_digits(n=40, noise=0.0)
    with pytest.raises(ValueError, match="seeds"):
        evaluate_corruption(dataset, "ground_truth", seed=1)
    with pytest.raises(ValueError, match="distinct"):
        evaluate_corruption(dataset, "ground_truth", seeds=[1, 1])
    with pytest.raises(ValueError, match="Unknown option"):
        evaluate_corruption(dataset, "ground_truth", epochz=3)
    with pytest.raises(ValueError, match="no field 'nope'"):
        evaluate_corruption(dataset, "nope")
    with pytest.raises(ValueError, match="not classes of the label field"):
        evaluate_corruption(dataset, "ground_truth", kind="asymmetric",
                            mapping={"1": "cat"}, progress=False, epochs=1)
    with pytest.raises(ValueError, match="exist and were not written"):
        evaluate_corruption(dataset, "ground_truth", key="label")
    dataset.clone_sample_field("ground_truth", "k_label")
    with pytest.raises(ValueError, match="would be overwritten"):
        evaluate_corruption(dataset, "k_label", key="k")
    assert dataset.list_brain_runs() == []


# --------------------------------------------------------------------------
# the App operator

EVALUATE_URI = "@fiftyone-curvature/curvature/evaluate_corruption"


def test_parse_seeds_and_mapping():
    from fiftyone_curvature.sdk.options import parse_mapping, parse_seeds

    assert parse_seeds("0, 1,2") == [0, 1, 2]
    assert parse_seeds([3]) == [3]
    with pytest.raises(ValueError, match="comma-separated"):
        parse_seeds("a,b")
    assert parse_mapping("cat:dog, 3 : 8") == {"cat": "dog", "3": "8"}
    assert parse_mapping("") is None
    with pytest.raises(ValueError, match="source:target"):
        parse_mapping("cat-dog")


def test_operator_immediate_then_info_and_delete(make_digits):
    import fiftyone.operators as foo

    dataset = make_digits(n=60, noise=0.0)
    result = foo.execute_operator(
        EVALUATE_URI, dataset=dataset.name,
        params=dict(label_field="ground_truth", key="ev", noise=0.2,
                    seeds="0,1", epochs=2, probes=1, model="small_cnn"),
    )
    assert result.error is None, result.error
    assert dataset.list_brain_runs() == ["ev"]
    info = dataset.get_brain_info("ev")
    assert info.config.seeds == [0, 1] and info.config.noise == 0.2
    assert sum(dataset.values("ev_corrupted")) == 12
    # the integration's info and delete operators handle evaluations too
    plugin = "@fiftyone-curvature/curvature"
    out = foo.get_operator(f"{plugin}/get_curvature_info")(dataset, "ev")
    assert out.error is None, out.error
    assert "ev_corrupted" in out.result["fields"]
    out = foo.get_operator(f"{plugin}/delete_curvature_run")(dataset, "ev")
    assert out.error is None, out.error
    assert dataset.list_brain_runs() == []
    assert "ev_corrupted" not in dataset.get_field_schema()


def test_operator_call_delegated_asymmetric(make_digits):
    import fiftyone.operators as foo
    from fiftyone.operators.delegated import DelegatedOperationService

    dataset = make_digits(n=60, noise=0.0)
    op = foo.get_operator(EVALUATE_URI)
    out = op(dataset, "ground_truth", key="asym", kind="asymmetric",
             mapping={"1": "7"}, noise=0.5, epochs=1, probes=1,
             delegate=True)
    assert out.error is None, out.error
    assert out.delegated
    assert dataset.list_brain_runs() == []
    service = DelegatedOperationService()
    service.execute_queued_operations(dataset_name=dataset.name)
    dataset.reload()
    assert dataset.list_brain_runs() == ["asym"]
    results = dataset.load_brain_results("asym")
    assert results.mappings == [{"1": "7"}]
    (doc,) = service.list_operations(dataset_name=dataset.name)
    assert doc.run_state == "completed", doc.run_state
    assert doc.status is not None and doc.status.progress > 0.5


def test_operator_form_validates_the_key(make_digits):
    import fiftyone as fo
    import fiftyone.operators as foo
    from fiftyone.operators.executor import ExecutionError

    dataset = make_digits(n=20, noise=0.0)
    dataset.add_sample_field("taken", fo.FloatField)
    with pytest.raises(ExecutionError, match="were not written"):
        foo.execute_operator(
            EVALUATE_URI, dataset=dataset.name,
            params=dict(label_field="ground_truth", key="taken"),
        )
    assert dataset.list_brain_runs() == []


# --------------------------------------------------------------------------
# the CLI


def _cli(*args, timeout=900):
    import os
    import subprocess
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), "fiftyone-curvature")
    return subprocess.run([exe, *args], capture_output=True, text=True,
                          timeout=timeout)


def test_cli_evaluate_json_and_table(make_digits, tmp_path):
    import json

    dataset = make_digits(n=80, noise=0.0)
    common = ["--label-field", "ground_truth", "--noise", "0.25",
              "--epochs", "2", "--probes", "1", "--model", "small_cnn"]
    proc = _cli("evaluate", dataset.name, *common, "--seeds", "0", "1",
                "--json", "--report", str(tmp_path / "r"))
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["n"] == 80 and out["seeds"] == [0, 1]
    assert out["num_corrupted"] == [20, 20]
    assert set(out["scores"]) == set(SCORE_NAMES)
    m = out["scores"]["curvature"]["auroc"]
    assert m["mean"] == pytest.approx(np.mean(m["values"]))
    assert out["views"] == ["curvature_eval_corrupted_samples"]
    assert out["report"].endswith("README.md")
    assert (tmp_path / "r" / "roc.png").is_file()
    proc = _cli("evaluate", dataset.name, *common, "--key", "ev2",
                "--kind", "asymmetric", "--mapping", "1:7,2:3",
                "--no-progress")
    assert proc.returncode == 0, proc.stderr
    assert "curvature" in proc.stdout and "AUROC per scored epoch" in (
        proc.stdout)
    dataset.reload()
    assert sorted(dataset.list_brain_runs()) == ["curvature_eval", "ev2"]
    proc = _cli("evaluate", dataset.name, "--label-field", "nope")
    assert proc.returncode == 2 and "no field 'nope'" in proc.stderr
