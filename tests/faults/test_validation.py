"""Bad options are refused before training, each with one clear error."""

import math

import numpy as np
import pytest

import fiftyone_curvature as fc
from fiftyone_curvature.engine.config import TrackingConfig

from fault_cases import FAST
from fingerprints import unchanged

BAD_OPTIONS = [
    ({"epochs": True}, "epochs"),
    ({"epochs": 2.7}, "epochs"),
    ({"epochs": 0}, "epochs"),
    ({"h": 1e-30}, "float32"),
    ({"h": math.inf}, "h must be"),
    ({"h": math.nan}, "h must be"),
    ({"width": 0}, "width"),
    ({"width": -3}, "width"),
    ({"device": "cuda:x"}, "device"),
    ({"device": "gpu"}, "device"),
    ({"device": "cuda:0 "}, "device"),
    ({"augment_epochs": -1}, "augment_epochs"),
    ({"weight_decay": math.nan}, "weight_decay"),
    ({"weight_decay": math.inf}, "weight_decay"),
    ({"weight_decay": -1e-4}, "weight_decay"),
    ({"lr": math.inf}, "lr"),
    ({"momentum": 1.5}, "momentum"),
    ({"amp": 1}, "amp"),
    ({"seed": -1}, "seed"),
    ({"probes": np.float64(2.5)}, "probes"),
    ({"channels_last": "yes"}, "channels_last"),
]


@pytest.mark.parametrize("options,named", BAD_OPTIONS)
def test_bad_option_is_refused_by_name(options, named):
    with pytest.raises(ValueError, match=named):
        TrackingConfig.resolve(**options)


def test_numpy_numbers_are_accepted_as_python_numbers():
    cfg = TrackingConfig.resolve(epochs=np.int64(3), probes=np.int32(2),
                                 h=np.float32(0.01), seed=np.uint8(1))
    assert (cfg.epochs, cfg.probes, cfg.seed) == (3, 2, 1)
    assert type(cfg.epochs) is int and type(cfg.h) is float
    import json

    json.dumps(cfg.to_dict())  # stored in the run record


def test_memory_estimate_refuses_a_run_that_cannot_fit():
    from fiftyone_curvature.engine.memory import check_memory, estimate_bytes

    cfg = TrackingConfig.resolve(model="small_resnet")
    # the reported case: 61 images at 2048 px (killed at 21.6 GB)
    need = estimate_bytes(cfg, 61, 3, 2048, 2048)
    assert need > 100 * 2 ** 30
    with pytest.raises(ValueError, match="image_size"):
        check_memory(cfg, 61, 3, 2048, 2048)
    # and a small run fits
    check_memory(cfg, 61, 3, 32, 32)


@pytest.mark.parametrize("kwargs,named", [
    ({"curvature_field": "_private"}, "must not start with '_'"),
    ({"epochs": True}, "epochs"),
    ({"h": 1e-30}, "float32"),
    ({"width": 0}, "width"),
    ({"device": "cuda:x"}, "device"),
    ({"augment_epochs": -2}, "augment_epochs"),
    ({"weight_decay": math.inf}, "weight_decay"),
    ({"image_size": 2.5}, "image_size"),
    ({"image_size": True}, "image_size"),
])
def test_sdk_refuses_before_training(digits, no_training, kwargs, named):
    with unchanged(digits):
        with pytest.raises(ValueError, match=named):
            fc.compute_curvature(digits, "label", **{**FAST, **kwargs})
    assert digits.list_brain_runs() == []


def test_sdk_accepts_numpy_integers(digits):
    results = fc.compute_curvature(digits, "label", epochs=np.int64(1),
                                   score_every=np.int32(1),
                                   image_size=np.int64(32), progress=False)
    assert results.config.tracking["epochs"] == 1


def test_sdk_refuses_a_run_too_large_for_memory(digits, monkeypatch):
    import fiftyone_curvature.engine.memory as memory  # noqa: new here

    monkeypatch.setattr(memory, "available_bytes", lambda *a: 1 << 20)
    with unchanged(digits):
        with pytest.raises(ValueError, match="needs about"):
            fc.compute_curvature(digits, "label", **FAST)
    assert digits.list_brain_runs() == []


def test_tiny_images_are_refused(make_digits, tmp_path):
    import fiftyone as fo
    from PIL import Image

    dataset = make_digits(n=4, noise=0.0)
    dataset.delete_samples(dataset)
    for i in range(6):
        path = str(tmp_path / f"{i}.png")
        Image.new("L", (1, 1), color=i * 40).save(path)
        dataset.add_sample(fo.Sample(
            filepath=path, label=fo.Classification(label=str(i % 2))))
    with unchanged(dataset):
        with pytest.raises(ValueError, match="1x1 pixels"):
            fc.compute_curvature(dataset, "label", **FAST)
    assert dataset.list_brain_runs() == []


def test_engine_refuses_tiny_images_and_a_checkpoint_file(tmp_path):
    from fiftyone_curvature.engine.training import train_and_track

    x = np.zeros((10, 1, 1, 1), np.uint8)
    y = np.arange(10) % 2
    with pytest.raises(ValueError, match="1x1 pixels"):
        train_and_track(x, y, epochs=1)
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(ValueError, match="is a file"):
        train_and_track(np.zeros((10, 1, 8, 8), np.uint8), y, epochs=1,
                        checkpoint_dir=str(path))


def test_all_nan_reference_is_refused(digits, tmp_path):
    path = str(tmp_path / "nan.npy")
    np.save(path, np.full(len(digits), np.nan))
    with unchanged(digits):
        with pytest.raises(ValueError, match="no finite value"):
            fc.import_reference(digits, path, "ref")
