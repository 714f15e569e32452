"""Every CLI failure is one line on stderr and a non-zero exit; --json
prints {"error": ...}; --debug adds the traceback."""

import json

import numpy as np
import pytest

import fiftyone as fo

from fiftyone_curvature.cli.main import main

from fault_cases import bad_image_files


def _run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, *expected):
    assert code != 0
    lines = [line for line in err.splitlines()
             if line.startswith("fiftyone-curvature: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def name(digits):
    return digits.name


@pytest.mark.parametrize("argv,expected", [
    (["compute", "no-such-dataset", "--label-field", "label"],
     ["No dataset 'no-such-dataset'"]),
    (["compute", "{name}", "--label-field", "label", "--h", "inf"],
     ["h must be a finite number"]),
    (["compute", "{name}", "--label-field", "label", "--h", "1e-30"],
     ["float32"]),
    (["compute", "{name}", "--label-field", "label", "--set", "width=0"],
     ["width"]),
    (["compute", "{name}", "--label-field", "label", "--set", "bogus=1"],
     ["Unknown option"]),
    (["compute", "{name}", "--label-field", "label", "--set", "nonsense"],
     ["--set expects NAME=VALUE"]),
    (["compute", "{name}", "--label-field", "label", "--key", "_x"],
     ["must not start with '_'"]),
    (["compute", "{name}", "--label-field", "nope"], ["no field 'nope'"]),
    (["compute", "{name}", "--label-field", "label", "--device", "gpu"],
     ["Unknown device"]),
])
def test_bad_compute_arguments(capsys, name, argv, expected, no_training):
    argv = [a.replace("{name}", name) for a in argv]
    code, out, err = _run(capsys, "compute", *argv[1:])
    _one_line_error(code, err, *expected)


def test_checkpoint_dir_that_is_a_file(capsys, name, tmp_path, no_training):
    path = tmp_path / "file"
    path.write_text("x")
    code, _, err = _run(capsys, "compute", name, "--label-field", "label",
                        "--checkpoint-dir", str(path))
    _one_line_error(code, err, "is a file")


def test_unreadable_images_are_named(capsys, digits, tmp_path, no_training):
    bad = bad_image_files(str(tmp_path / "bad"))
    digits.add_samples([fo.Sample(filepath=p,
                                  label=fo.Classification(label="1"))
                        for p in bad.values()])
    code, _, err = _run(capsys, "compute", digits.name, "--label-field",
                        "label", "--no-progress")
    line = _one_line_error(code, err, "cannot be read")
    for path in bad.values():
        assert path in line


def test_json_errors_go_to_stdout(capsys, name, no_training):
    code, out, err = _run(capsys, "compute", name, "--label-field", "label",
                          "--h", "inf", "--json")
    _one_line_error(code, err, "h must be")
    payload = json.loads(out)
    assert "h must be" in payload["error"]
    assert payload["type"] == "ValueError"
    code, out, _ = _run(capsys, "compare", "no-such", "--reference-field",
                        "r", "--json")
    assert code != 0 and "No dataset" in json.loads(out)["error"]


def test_unexpected_errors_are_one_line_and_debug_shows_the_traceback(
    capsys, name, monkeypatch,
):
    import fiftyone_curvature.sdk.compute as compute

    def broken(*args, **kwargs):
        raise KeyError("boom")

    monkeypatch.setattr(compute, "compute_curvature", broken)
    code, _, err = _run(capsys, "compute", name, "--label-field", "label")
    _one_line_error(code, err, "KeyError", "boom")
    code, _, err = _run(capsys, "--debug", "compute", name, "--label-field",
                        "label")
    assert code != 0 and "Traceback" in err and "KeyError" in err


def test_empty_npy_reference(capsys, name, tmp_path):
    path = tmp_path / "empty.npy"
    np.save(path, np.array([]))
    code, _, err = _run(capsys, "import-reference", name, str(path),
                        "--field", "ref")
    _one_line_error(code, err)
    assert "ref" not in fo.load_dataset(name).get_field_schema()


def test_divergence_is_one_line(capsys, name, monkeypatch):
    import fiftyone_curvature.engine.training as training

    def diverged(*args, **kwargs):
        raise training.TrainingDivergedError(
            "Training diverged at epoch 2: the loss became nan", 2, None,
            None)

    monkeypatch.setattr(training, "train_and_track", diverged)
    code, _, err = _run(capsys, "compute", name, "--label-field", "label",
                        "--no-progress")
    _one_line_error(code, err, "diverged at epoch 2")
