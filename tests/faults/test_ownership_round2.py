"""Nothing the user owns is replaced, round two: the demo's dataset name,
relabel / import_reference target fields, saved views equal by slug, and
samples or labels changed while a run trains."""

import numpy as np
import pytest

import fiftyone as fo
from fiftyone import ViewField as F

import fiftyone_curvature as fc
from fiftyone_curvature.cli.demo import make_digits_dataset
from fiftyone_curvature.cli.main import main
from fiftyone_curvature.sdk.reference import import_reference
from fiftyone_curvature.sdk.views import same_view_name, view_slug

from fault_cases import FAST
from fingerprints import fingerprint, unchanged


# ------------------------------------------------------------------ demo

def test_demo_refuses_a_users_dataset(tmp_path, capsys):
    name = "users-own-dataset-round2"
    mine = fo.Dataset(name, persistent=True)
    try:
        mine.add_sample(fo.Sample(filepath=str(tmp_path / "a.png")))
        mine.info["note"] = "mine"
        mine.save()
        before = fingerprint(mine)
        with pytest.raises(ValueError, match="not created by the demo"):
            make_digits_dataset(name, cache_dir=str(tmp_path / "img"),
                                limit=20)
        code = main(["demo", "--dataset", name, "--limit", "20",
                     "--cache-dir", str(tmp_path / "img")])
        err = capsys.readouterr().err
        assert code != 0 and "not created by the demo" in err
        mine.reload()
        assert len(mine) == 1 and mine.info["note"] == "mine"
        assert fingerprint(mine) == before
    finally:
        fo.delete_dataset(name)


def test_demo_replaces_its_own_dataset_but_not_a_clone(tmp_path):
    name = "demo-own-round2"
    folder = str(tmp_path / "img")
    first = make_digits_dataset(name, cache_dir=folder, limit=20)
    clone = first.clone("clone-of-demo-round2", persistent=True)
    try:
        again = make_digits_dataset(name, cache_dir=folder, limit=30)
        assert len(again) == 30
        with pytest.raises(ValueError, match="not created by the demo"):
            make_digits_dataset(clone.name, cache_dir=folder, limit=10)
        assert len(fo.load_dataset(clone.name)) == 20
    finally:
        for n in (name, clone.name):
            if fo.dataset_exists(n):
                fo.delete_dataset(n)


# ------------------------------------------------- relabel / reference

def test_relabel_never_replaces_a_users_or_a_runs_field(scored):
    scored.clone_sample_field("label", "mine")
    try:
        with unchanged(scored):
            with pytest.raises(ValueError, match="not created by an "
                               "earlier relabel"):
                fc.relabel(scored, "curvature", "mine", overwrite=True)
            with pytest.raises(ValueError, match="run's field"):
                fc.relabel(scored, "curvature", "curvature_suggested_label",
                           overwrite=True)
    finally:
        scored.delete_sample_field("mine")


def test_relabel_replaces_only_the_very_field_it_created(scored):
    fc.relabel(scored, "curvature", "fixed")
    fc.relabel(scored, "curvature", "fixed", target="all", overwrite=True)
    # the user deletes it and makes their own under the same name
    scored.delete_sample_field("fixed")
    scored.clone_sample_field("label", "fixed")
    scored.set_values("fixed.label", ["u"] * len(scored))
    try:
        with pytest.raises(ValueError, match="not created by an earlier"):
            fc.relabel(scored, "curvature", "fixed", overwrite=True)
        assert set(scored.values("fixed.label")) == {"u"}
    finally:
        scored.delete_sample_field("fixed")


def test_import_reference_never_writes_into_foreign_fields(scored,
                                                           tmp_path):
    path = str(tmp_path / "ref.npy")
    np.save(path, np.arange(len(scored), dtype=float))
    scored.add_sample_field("note", fo.FloatField)
    scored.set_values("note", [1.5] * len(scored))
    fc.relabel(scored, "curvature", "relabeled")
    try:
        with unchanged(scored):
            for field in ("curvature", "curvature_aum", "note"):
                with pytest.raises(ValueError, match="never replaced"):
                    import_reference(scored, path, field, overwrite=True)
            with pytest.raises(ValueError, match="never replaced"):
                import_reference(scored, path, "relabeled", overwrite=True)
        import_reference(scored, path, "ref")
        np.save(path, np.ones(len(scored)))
        import_reference(scored, path, "ref", overwrite=True)
        assert scored.values("ref") == [1.0] * len(scored)
    finally:
        for f in ("note", "relabeled", "ref"):
            if f in scored.get_field_schema():
                scored.delete_sample_field(f)


# ---------------------------------------------------------- slug views

def test_view_slug_matches_fiftyone():
    assert view_slug("K Top Memorized") == "k-top-memorized"
    assert same_view_name("k_top_memorized", "K Top Memorized")
    assert same_view_name("k_top_memorized", "k-top-memorized")
    assert not same_view_name("k_top_memorized", "k_long_tail")
    assert view_slug("!!!") is None


@pytest.mark.parametrize("theirs", ["K Top Memorized", "k-top-memorized",
                                    "K.TOP.MEMORIZED"])
def test_slug_equal_user_view_not_replaced(digits, no_training, theirs):
    digits.save_view(theirs, digits.match(F("label.label") == "1"),
                     description="my view")
    with unchanged(digits):
        with pytest.raises(ValueError, match=theirs):
            fc.compute_curvature(digits, "label", curvature_field="k",
                                 **FAST)
    assert digits.list_brain_runs() == []
    assert digits.get_saved_view_info(theirs)["description"] == "my view"


def test_run_base_views_survive_a_run_keyed_Base(digits):
    fc.compute_curvature(digits, "label", curvature_field="base", **FAST)
    with unchanged(digits):
        with pytest.raises(ValueError, match="base_top_memorized"):
            fc.compute_curvature(digits, "label", curvature_field="Base",
                                 **FAST)
    assert set(digits.get_brain_info("base").config.views) <= set(
        digits.list_saved_views())


# ---------------------------------------------------- changed samples

def _mutating_training(monkeypatch, change):
    """Trains for real, then lets ``change`` alter the dataset (as
    another process would while the run trains)."""
    import fiftyone_curvature.engine.training as training

    real = training.train_and_track

    def train(*args, **kwargs):
        result = real(*args, **kwargs)
        change()
        return result

    monkeypatch.setattr(training, "train_and_track", train)


def test_run_refuses_to_write_when_samples_were_deleted(digits,
                                                        monkeypatch):
    victim = digits.first().id
    _mutating_training(monkeypatch, lambda: digits.delete_samples([victim]))
    with pytest.raises(ValueError, match=r"1 sample\(s\) deleted .*"
                       + victim):
        fc.compute_curvature(digits, "label", **FAST)
    assert digits.list_brain_runs() == []
    assert "curvature" not in digits.get_field_schema()


def test_rerun_refuses_to_write_when_labels_changed(digits, monkeypatch):
    from fiftyone_curvature.sdk.info import run_status

    fc.compute_curvature(digits, "label", **FAST)
    before = fingerprint(digits)
    scores = digits.values("curvature")
    ids = digits.take(3, seed=0).values("id")

    def relabel():
        digits.select(ids).set_values("label.label", ["x"] * 3)

    _mutating_training(monkeypatch, relabel)
    with pytest.raises(ValueError, match=r"'label' label of 3 sample"):
        fc.compute_curvature(digits, "label", **FAST)
    # the previous complete run is as it was
    after = fingerprint(digits)
    assert after["runs"] == before["runs"]
    assert after["views"] == before["views"]
    assert run_status(digits, "curvature") == "complete"
    assert digits.values("curvature") == scores
