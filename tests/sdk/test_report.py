"""Static reports: PNG plots, contact sheet and metrics of a run."""

import json
import os

import numpy as np
import pytest
from PIL import Image

TRAIN = dict(epochs=3, probes=1, model="small_cnn", batch_size=64,
             score_every=1, progress=False)


def _is_png(path):
    with Image.open(path) as im:
        return im.format == "PNG" and im.width > 100 and im.height > 100


def test_evaluation_report(make_digits, tmp_path):
    from fiftyone_curvature import evaluate_corruption
    from fiftyone_curvature.sdk.report import write_report

    dataset = make_digits(n=120, noise=0.0)
    results = evaluate_corruption(dataset, "ground_truth", noise=0.2,
                                  seeds=(0, 1), key="ev", **TRAIN)
    out = write_report(dataset, "ev", str(tmp_path / "r"), top_k=12)
    assert set(out) == {"roc", "pr", "histograms", "epochs",
                        "contact_sheet", "metrics", "readme"}
    for name, path in out.items():
        assert os.path.isfile(path)
        if path.endswith(".png"):
            assert _is_png(path), name
    metrics = json.load(open(out["metrics"]))
    assert metrics["evaluation"] and metrics["num_corrupted"] == 24
    assert metrics["seeds"] == [0, 1]
    summary = results.summary()
    assert metrics["scores"]["curvature"]["auroc"]["mean"] == pytest.approx(
        summary["curvature"]["auroc"]["mean"])
    assert len(metrics["epoch_auroc"]["mean"]) == 3
    readme = open(out["readme"]).read()
    assert "| curvature |" in readme and "![roc](roc.png)" in readme


def test_plain_run_report_with_and_without_known_flips(make_digits,
                                                       tmp_path):
    from fiftyone_curvature import compute_curvature
    from fiftyone_curvature.sdk.report import gather, write_report

    dataset = make_digits(n=120, noise=0.1)
    compute_curvature(dataset, "label", **TRAIN)
    plain = write_report(dataset, "curvature", str(tmp_path / "a"),
                         top_k=6)
    assert "roc" not in plain and _is_png(plain["contact_sheet"])
    assert json.load(open(plain["metrics"]))["scores"] is None
    known = write_report(dataset, "curvature", str(tmp_path / "b"),
                         corrupted_field="flipped", top_k=6)
    assert _is_png(known["roc"]) and _is_png(known["histograms"])
    data = gather(dataset, "curvature", corrupted_field="flipped")
    flipped = np.array(
        dataset.select(data["sample_ids"], ordered=True).values("flipped"))
    assert (data["corrupted"] == flipped).all()
    from fiftyone_curvature.engine.metrics import auroc

    assert data["summary"]["curvature"]["auroc"]["mean"] == pytest.approx(
        auroc(flipped, data["curvature"]))
    with pytest.raises(ValueError, match="No field"):
        gather(dataset, "curvature", corrupted_field="nope")


def test_demo_report_in_process(image_dir, tmp_path, capsys):
    import fiftyone as fo

    from fiftyone_curvature.cli import main

    name = "report-demo"
    try:
        code = main(["demo", "--json", "--limit", "100", "--epochs", "2",
                     "--probes", "1", "--dataset", name, "--cache-dir",
                     image_dir, "--report", str(tmp_path / "demo")])
        assert code == 0
        out = json.loads(capsys.readouterr().out)
        assert out["report"] == str(tmp_path / "demo" / "README.md")
        for png in ("roc.png", "histograms.png", "top_curvature.png"):
            assert _is_png(tmp_path / "demo" / png)
        metrics = json.load(open(tmp_path / "demo" / "metrics.json"))
        assert metrics["num_corrupted"] == out["flipped"] == 10
        assert metrics["scores"]["curvature"]["auroc"]["mean"] == (
            pytest.approx(out["scores"]["curvature"]["auroc"]))
    finally:
        if fo.dataset_exists(name):
            fo.delete_dataset(name)
