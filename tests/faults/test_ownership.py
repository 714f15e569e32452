"""Nothing a user owns is destroyed or orphaned by compute, evaluate,
duplicates, rename or delete; a failed run leaves the dataset as it was."""

import pytest

import fiftyone as fo
from fiftyone import ViewField as F

import fiftyone_curvature as fc

from fault_cases import FAST
from fingerprints import fingerprint, unchanged


def _user_state(dataset):
    """A user's own things: a field, a tag, a saved view, another run."""
    dataset.add_sample_field("note", fo.StringField)
    dataset.set_values("note", [f"n{i}" for i in range(len(dataset))])
    dataset.take(5, seed=1).tag_samples("mine")
    dataset.save_view("my_view", dataset.match(F("label.label") == "3"))


def test_compute_evaluate_duplicates_rename_delete_touch_only_their_own(
    digits,
):
    _user_state(digits)
    with unchanged(digits, runs=["curvature"]):
        fc.compute_curvature(digits, "label", duplicates=True, **FAST)
    assert {"curvature", "curvature_duplicates"} <= set(
        digits.list_brain_runs())
    with unchanged(digits, runs=["curvature", "ev"]):
        fc.evaluate_corruption(digits, "ground_truth", key="ev", noise=0.2,
                               **FAST)
    with unchanged(digits, runs=["curvature", "dups"]):
        fc.find_duplicate_conflicts(digits, "label", key="dups",
                                    progress=False)
    before = fingerprint(digits, runs=["curvature", "renamed"])
    digits.rename_brain_run("curvature", "renamed")
    after = fingerprint(digits, runs=["curvature", "renamed"])
    assert before == after
    assert "renamed" in digits.get_field_schema()
    with unchanged(digits, runs=["renamed", "ev", "dups", "curvature"]):
        for key in ("renamed", "ev", "dups_duplicates",
                    "curvature_duplicates"):
            digits.delete_brain_run(key)
    assert digits.list_brain_runs() == []
    assert "my_view" in digits.list_saved_views()


def test_a_users_saved_view_with_a_run_name_is_refused_not_overwritten(
    digits, no_training,
):
    mine = digits.match(F("label.label") == "1")
    digits.save_view("curvature_top_memorized", mine,
                     description="my own view")
    with unchanged(digits):
        with pytest.raises(ValueError, match="curvature_top_memorized"):
            fc.compute_curvature(digits, "label", **FAST)
    assert digits.list_brain_runs() == []
    # without views the key is free: the view is still never touched
    with unchanged(digits, runs=["curvature"]):
        pass


def test_deleting_a_run_never_deletes_a_view_it_did_not_create(digits):
    fc.compute_curvature(digits, "label", create_views=False, **FAST)
    digits.save_view("curvature_long_tail", digits.limit(3))
    with unchanged(digits, runs=["curvature"]):
        digits.delete_brain_run("curvature")
    assert "curvature_long_tail" in digits.list_saved_views()


def test_a_refused_rename_changes_nothing(digits):
    from fiftyone_curvature.sdk.runs import RunRenameError

    fc.compute_curvature(digits, "label", **FAST)
    digits.add_sample_field("other", fo.FloatField)  # other's main field
    with unchanged(digits):
        with pytest.raises(RunRenameError, match="already exist"):
            digits.rename_brain_run("curvature", "other")
    assert digits.list_brain_runs() == ["curvature"]
    assert digits.get_brain_info("curvature").config.curvature_field == (
        "curvature")
    with unchanged(digits):
        with pytest.raises(RunRenameError, match="must not start"):
            digits.rename_brain_run("curvature", "_hidden")


def test_rerun_on_a_smaller_view_clears_the_values_outside(digits):
    fc.compute_curvature(digits, "label", **FAST)
    small = digits.take(20, seed=3)
    fc.compute_curvature(small, "label", **FAST)
    inside = set(small.values("id"))
    for sample_id, value, pred in zip(*digits.values(
        ["id", "curvature", "curvature_prediction"]
    )):
        if sample_id in inside:
            assert value is not None and pred is not None
        else:
            assert value is None and pred is None
    assert len(digits.load_brain_view("curvature")) == 20


def test_a_failing_rerun_restores_the_run_it_replaced(digits, monkeypatch):
    first = fc.compute_curvature(digits, "label", **FAST)
    import fiftyone_curvature.engine.training as training

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(training, "train_and_track", broken)
    with unchanged(digits):
        with pytest.raises(RuntimeError, match="disk full"):
            fc.compute_curvature(digits, "label", **FAST)
    loaded = digits.load_brain_results("curvature", cache=False)
    assert list(loaded.curvature) == list(first.curvature)
    assert digits.get_brain_info("curvature").config.status == "complete"


def test_a_failing_new_run_leaves_nothing(digits):
    # the failure injected through the lifecycle's hook, in the write
    # phase (every kind: tests/faults/test_lifecycle.py)
    from fiftyone_curvature.sdk.lifecycle import run_session
    from lifecycle_cases import case

    def hook(stage):
        if stage == "written":
            raise RuntimeError("write failed")

    kind, request, produce = case("compute", digits)
    with unchanged(digits):
        with pytest.raises(RuntimeError, match="write failed"):
            run_session(digits, kind, request, produce, hook=hook)
    assert digits.list_brain_runs() == []