"""FiftyOne samples -> tensors: image modes and sizes, classes, errors."""

import os

import numpy as np
import pytest
from PIL import Image

import fiftyone as fo

from fiftyone_curvature.sdk.images import prepare_data, read_images


def _save(folder, name, mode, size, value=128):
    path = os.path.join(folder, name)
    if mode == "RGBA":
        color = (value, 0, 0, 255)
    elif mode == "RGB":
        color = (0, value, 0)
    else:
        color = value
    Image.new(mode, size, color).save(path)
    return path


def test_gray_native_size_kept(tmp_path):
    paths = [_save(tmp_path, f"{i}.png", "L", (8, 8), 10 * i)
             for i in range(3)]
    x, size, channels, resized = read_images(paths, image_size=32)
    assert x.shape == (3, 1, 8, 8) and x.dtype == np.uint8
    assert size == (8, 8) and channels == 1 and not resized
    assert x[2, 0, 0, 0] == 20


def test_mixed_modes_and_sizes_resized_to_rgb(tmp_path):
    paths = [
        _save(tmp_path, "a.png", "L", (40, 30)),
        _save(tmp_path, "b.png", "RGB", (64, 64)),
        _save(tmp_path, "c.png", "RGBA", (10, 20)),
        _save(tmp_path, "d.jpg", "RGB", (33, 33)),
    ]
    x, size, channels, resized = read_images(paths, image_size=16)
    assert x.shape == (4, 3, 16, 16) and resized and channels == 3
    # grayscale replicated over channels, RGBA composited (opaque red)
    assert (x[0, 0] == x[0, 1]).all() and (x[0, 1] == x[0, 2]).all()
    assert x[2, 0].min() > 100 and x[2, 1].max() == 0


def test_larger_than_working_size_is_resized(tmp_path):
    paths = [_save(tmp_path, f"{i}.png", "L", (64, 64)) for i in range(2)]
    x, size, _, resized = read_images(paths, image_size=32)
    assert x.shape == (2, 1, 32, 32) and resized


def test_native_sizes_must_agree_without_image_size(tmp_path):
    paths = [_save(tmp_path, "a.png", "L", (8, 8)),
             _save(tmp_path, "b.png", "L", (9, 9))]
    with pytest.raises(ValueError, match="different sizes"):
        read_images(paths, image_size=None)


def test_missing_file(tmp_path):
    paths = [_save(tmp_path, "a.png", "L", (8, 8)),
             str(tmp_path / "nope.png")]
    with pytest.raises(FileNotFoundError, match="1 of 2 images"):
        read_images(paths)


@pytest.fixture
def small_dataset(tmp_path):
    dataset = fo.Dataset()
    for i in range(6):
        path = _save(tmp_path, f"s{i}.png", "L", (8, 8), 20 * i)
        dataset.add_sample(fo.Sample(
            filepath=path,
            gt=fo.Classification(label="cat" if i % 2 else "dog"),
            dets=fo.Detections(detections=[]),
        ))
    yield dataset
    dataset.delete()


def test_prepare_data_classes_and_order(small_dataset):
    data = prepare_data(small_dataset, "gt")
    assert data.classes == ["cat", "dog"]
    assert data.sample_ids == small_dataset.values("id")
    assert data.targets.tolist() == [1, 0, 1, 0, 1, 0]
    data = prepare_data(small_dataset, "gt", classes=["dog", "cat", "cow"])
    assert data.targets.tolist() == [0, 1, 0, 1, 0, 1]
    with pytest.raises(ValueError, match="not in the given classes"):
        prepare_data(small_dataset, "gt", classes=["dog"])


def test_prepare_data_errors(small_dataset):
    with pytest.raises(ValueError, match="Detections"):
        prepare_data(small_dataset, "dets")
    with pytest.raises(ValueError, match="no field 'nope'.*\\['gt'\\]"):
        prepare_data(small_dataset, "nope")
    sample = small_dataset.first()
    sample["gt"] = None
    sample.save()
    with pytest.raises(ValueError, match="1 of 6 samples have no 'gt'"):
        prepare_data(small_dataset, "gt")
    one_class = small_dataset.match(fo.ViewField("gt.label") == "cat")
    with pytest.raises(ValueError, match="at least two classes"):
        prepare_data(one_class, "gt")


def test_large_decoded_data_is_streamed_from_an_unlinked_file(tmp_path,
                                                             monkeypatch):
    import fiftyone_curvature.sdk.images as data
    from fiftyone_curvature.engine.training import train_and_track

    paths = [_save(tmp_path, f"{i}.png", "L", (8, 8), 20 * (i % 10))
             for i in range(40)]
    in_memory, *_ = read_images(paths, image_size=32)
    assert not isinstance(in_memory, np.memmap)
    monkeypatch.setattr(data, "STREAM_BYTES", 8 * 8 * 40 - 1)
    streamed, *_ = read_images(paths, image_size=32)
    assert isinstance(streamed, np.memmap)
    np.testing.assert_array_equal(streamed, in_memory)
    # the engine trains on the memory map with the same result
    labels = np.arange(40) % 2
    kw = dict(epochs=2, probes=1, batch_size=8, model="small_cnn", width=4)
    a = train_and_track(in_memory, labels, **kw)
    b = train_and_track(streamed, labels, **kw)
    np.testing.assert_array_equal(a.curvature, b.curvature)
