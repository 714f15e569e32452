"""The fiftyone-curvature console script, end to end in subprocesses."""

import json
import os
import subprocess
import sys

import pytest

from fiftyone_curvature.engine.dynamics import SCORES

#: curvature AUROC floor of the full demo (digits, 10% noise, 20 epochs);
#: measured 0.98-0.99 on 2 CPU cores, see the README
DEMO_AUROC_FLOOR = 0.95


def _cli(*args, timeout=900):
    exe = os.path.join(os.path.dirname(sys.executable), "fiftyone-curvature")
    return subprocess.run([exe, *args], capture_output=True, text=True,
                          timeout=timeout)


def _delete(name):
    import fiftyone as fo

    if fo.dataset_exists(name):
        fo.delete_dataset(name)


def test_demo_json_small(image_dir):
    name = "cli-demo-small"
    try:
        proc = _cli("demo", "--json", "--limit", "300", "--epochs", "3",
                    "--dataset", name, "--cache-dir", image_dir)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)  # stdout holds only the JSON object
        assert out["n"] == 300 and out["noise"] == 0.1
        assert out["flipped"] == 30
        assert out["dataset"] == name
        assert set(out["scores"]) == {"curvature", *SCORES}
        for row in out["scores"].values():
            assert {"auroc", "ap"} <= set(row)
        assert out["scores"]["csl"]["auroc"] > 0.6
        assert out["views"] == ["curvature_top_memorized",
                                "curvature_likely_mislabeled",
                                "curvature_long_tail"]
        assert out["seconds"] > 0

        import fiftyone as fo

        dataset = fo.load_dataset(name)
        assert dataset.list_brain_runs() == ["curvature"]
        # the noise went into the copy: ground truth is intact
        truth = dataset.values("ground_truth.label")
        noisy = dataset.values("label.label")
        flipped = dataset.values("flipped")
        assert all((t != n) == f for t, n, f in zip(truth, noisy, flipped))
    finally:
        _delete(name)


def test_compute_on_existing_dataset(make_digits):
    dataset = make_digits(n=60, noise=0.0)
    dataset.persistent = True  # visible to the subprocess
    proc = _cli("compute", dataset.name, "--label-field", "ground_truth",
                "--key", "memo", "--epochs", "1", "--probes", "1",
                "--set", "batch_size=32")
    assert proc.returncode == 0, proc.stderr
    assert "Curvature run 'memo' on 60 samples" in proc.stdout
    assert "memo_likely_mislabeled" in proc.stdout
    assert "epoch 1/1" in proc.stderr  # the progress bar
    dataset.reload()
    assert dataset.list_brain_runs() == ["memo"]
    assert dataset.get_brain_info("memo").config.tracking["batch_size"] == 32


def test_compute_nproc_must_be_positive(make_digits):
    dataset = make_digits(n=20)
    dataset.persistent = True
    proc = _cli("compute", dataset.name, "--label-field", "label",
                "--nproc", "0")
    assert proc.returncode == 2
    assert "nproc must be an integer >= 1" in proc.stderr


def test_compute_errors():
    proc = _cli("compute", "no-such-dataset", "--label-field", "x")
    assert proc.returncode == 2
    assert "No dataset 'no-such-dataset'" in proc.stderr


@pytest.mark.slow
def test_demo_full_meets_the_floor(image_dir):
    """The README's first command: default epochs, all 1,797 digits."""
    name = "cli-demo-full"
    try:
        proc = _cli("demo", "--json", "--dataset", name, "--cache-dir",
                    image_dir)
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out["n"] == 1797
        auroc = out["scores"]["curvature"]["auroc"]
        assert auroc >= DEMO_AUROC_FLOOR, out
    finally:
        _delete(name)
