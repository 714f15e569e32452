"""A run's data on disk: a uint8 image array every rank memory-maps.

An export directory holds what the ranks of a data-parallel run read
(:func:`load_export`) and what they give back (:func:`save_result`):

- ``images.npy``: (N, C, H, W) uint8, a plain ``.npy`` file opened with
  ``numpy.load(mmap_mode=...)``: the ranks of a machine share its pages
- ``targets.npy``: (N,) int64 class indices (the given labels)
- ``sample_ids.npy``: (N,) sample ids (str), the write-back key
- ``meta.json``: classes, image size, channels and where the data came
  from (written last: an export without it is incomplete)
- ``result.pt``: the :class:`fiftyone_curvature.engine.training.
  TrackingResult` of the run (rank 0 writes it) and ``model.pt``, the
  final network's ``state_dict``
- ``progress.json``: the last epoch's progress (rank 0 rewrites it)

Pure numpy / torch: no rank needs FiftyOne or its database.
"""

import dataclasses
import json
import os

import numpy as np

IMAGES = "images.npy"
TARGETS = "targets.npy"
SAMPLE_IDS = "sample_ids.npy"
META = "meta.json"
RESULT = "result.pt"
MODEL = "model.pt"
PROGRESS = "progress.json"


@dataclasses.dataclass
class ExportedData:
    """The data of an export directory.

    Attributes:
        directory: the export directory
        inputs: (N, C, H, W) uint8 memory-mapped array (copy-on-write)
        targets: (N,) int64 class indices into ``classes``
        sample_ids: list of N sample ids
        classes: list of K class names
        meta: the rest of ``meta.json`` (image_size, channels, resized,
            dataset, label_field, ...)
    """

    directory: str
    inputs: np.ndarray
    targets: np.ndarray
    sample_ids: list
    classes: list
    meta: dict


def create_images(directory, shape):
    """A writable (N, C, H, W) uint8 array backed by ``directory``'s
    ``images.npy`` (created, or replaced)."""
    os.makedirs(directory, exist_ok=True)
    meta = os.path.join(directory, META)
    if os.path.exists(meta):
        os.remove(meta)  # the export is incomplete until write_index
    return np.lib.format.open_memmap(
        os.path.join(directory, IMAGES), mode="w+", dtype=np.uint8,
        shape=tuple(shape))


def write_index(directory, inputs, targets, sample_ids, classes, **meta):
    """Writes the labels, ids and ``meta.json`` next to the images (call
    after :func:`create_images` was filled)."""
    if isinstance(inputs, np.memmap):
        inputs.flush()
    targets = np.asarray(targets, dtype=np.int64)
    if not (len(inputs) == len(targets) == len(sample_ids)):
        raise ValueError(
            f"{len(inputs)} images, {len(targets)} labels and "
            f"{len(sample_ids)} ids: an export needs one of each per sample")
    np.save(os.path.join(directory, TARGETS), targets)
    np.save(os.path.join(directory, SAMPLE_IDS),
            np.asarray(sample_ids, dtype=str))
    meta = dict(meta, classes=list(classes), num_samples=len(targets),
                shape=list(inputs.shape[1:]))
    tmp = os.path.join(directory, META + ".tmp")
    with open(tmp, "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(tmp, os.path.join(directory, META))


def load_export(directory):
    """The :class:`ExportedData` of ``directory``; images stay on disk.

    Raises:
        FileNotFoundError: no (complete) export in ``directory``
        ValueError: files that disagree with each other
    """
    missing = [name for name in (META, IMAGES, TARGETS, SAMPLE_IDS)
               if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise FileNotFoundError(
            f"{directory!r} holds no complete export (missing "
            f"{', '.join(missing)}); run `fiftyone-curvature export` first")
    with open(os.path.join(directory, META)) as f:
        meta = json.load(f)
    inputs = np.load(os.path.join(directory, IMAGES), mmap_mode="c")
    targets = np.load(os.path.join(directory, TARGETS))
    ids = np.load(os.path.join(directory, SAMPLE_IDS)).tolist()
    n = meta["num_samples"]
    if inputs.ndim != 4 or inputs.dtype != np.uint8 or not (
        len(inputs) == len(targets) == len(ids) == n
    ):
        raise ValueError(
            f"The export in {directory!r} is inconsistent: images "
            f"{inputs.shape} {inputs.dtype}, {len(targets)} labels, "
            f"{len(ids)} ids, meta.json says {n} samples")
    classes = meta.pop("classes")
    return ExportedData(directory, inputs, targets, ids, classes, meta)


def save_result(directory, result):
    """Writes a run's result (``result.pt``) and its final network's
    weights (``model.pt``) to ``directory``, atomically."""
    import torch

    model = result.model
    for name, obj in ((RESULT, dataclasses.replace(result, model=None)),
                      (MODEL, model.state_dict() if model is not None
                       else None)):
        path = os.path.join(directory, name)
        torch.save(obj, path + ".tmp")
        os.replace(path + ".tmp", path)


def load_result(directory):
    """The :class:`TrackingResult` saved in ``directory`` (without the
    model; ``model.pt`` holds its weights).

    Raises:
        FileNotFoundError: the run has not finished (no ``result.pt``)
    """
    import torch

    path = os.path.join(directory, RESULT)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No result in {directory!r}: the engine has not finished a "
            "run on this export")
    return torch.load(path, weights_only=False)


def write_progress(directory, info):
    """Rewrites ``progress.json`` (atomically) with ``info``: the list of
    the run's progress dicts so far, one per finished epoch."""
    tmp = os.path.join(directory, PROGRESS + ".tmp")
    with open(tmp, "w") as f:
        json.dump(info, f, default=float)
    os.replace(tmp, os.path.join(directory, PROGRESS))


def read_progress(directory):
    """The list of progress dicts written so far, or None."""
    try:
        with open(os.path.join(directory, PROGRESS)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
