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

from .plain import decode, encode
from .safe_files import (
    TEMP_SUFFIX, check_dir, commit, create_temp, ensure_dir, load_torch,
    save_npy, save_torch, write_text,
)

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
    """A writable (N, C, H, W) uint8 array backed by a temporary file in
    ``directory`` (created exclusively; :func:`write_index` renames it to
    ``images.npy``). ``directory`` is created with the user's umask and
    refused when another user owns it or can write it.

    Raises:
        ValueError: see :func:`fiftyone_curvature.engine.safe_files.
            ensure_dir`
    """
    ensure_dir(directory, "export directory")
    meta = os.path.join(directory, META)
    if os.path.lexists(meta):
        os.remove(meta)  # the export is incomplete until write_index
    tmp = create_temp(os.path.join(directory, IMAGES))
    return np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                     shape=tuple(shape))


def write_index(directory, inputs, targets, sample_ids, classes, **meta):
    """Writes the labels, ids and ``meta.json`` next to the images (call
    after :func:`create_images` was filled), each file atomically through
    an exclusive temporary file."""
    ensure_dir(directory, "export directory")
    if isinstance(inputs, np.memmap):
        inputs.flush()
        _commit_images(directory, inputs)
    targets = np.asarray(targets, dtype=np.int64)
    if not (len(inputs) == len(targets) == len(sample_ids)):
        raise ValueError(
            f"{len(inputs)} images, {len(targets)} labels and "
            f"{len(sample_ids)} ids: an export needs one of each per sample")
    save_npy(os.path.join(directory, TARGETS), targets)
    save_npy(os.path.join(directory, SAMPLE_IDS),
             np.asarray(sample_ids, dtype=str))
    meta = dict(meta, classes=list(classes), num_samples=len(targets),
                shape=list(inputs.shape[1:]))
    write_text(os.path.join(directory, META), json.dumps(meta, indent=1))


def _commit_images(directory, inputs):
    """Renames the temporary image file of :func:`create_images` behind
    the memory map ``inputs`` to ``images.npy`` (the map stays valid)."""
    tmp = getattr(inputs, "filename", None)
    target = os.path.join(directory, IMAGES)
    if (tmp and os.path.dirname(tmp) == os.path.abspath(directory)
            and os.path.basename(tmp).startswith(f".{IMAGES}.")
            and tmp.endswith(TEMP_SUFFIX) and os.path.isfile(tmp)):
        commit(tmp, target)


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
    weights (``model.pt``) to ``directory``, atomically; numpy arrays and
    dataclasses are stored as tensors and tagged dicts (plain data that
    :func:`load_result` reads weights-only)."""
    check_dir(directory, "export directory")
    model = result.model
    for name, obj in ((RESULT, encode(dataclasses.replace(result,
                                                          model=None))),
                      (MODEL, model.state_dict() if model is not None
                       else None)):
        save_torch(os.path.join(directory, name), obj)


def load_result(directory):
    """The :class:`TrackingResult` saved in ``directory`` (without the
    model; ``model.pt`` holds its weights), read with
    ``torch.load(weights_only=True)``: a planted pickle runs no code.

    Raises:
        FileNotFoundError: the run has not finished (no ``result.pt``)
        ValueError: ``result.pt`` is not a plain result file (an older
            version's or a planted one), is corrupt, or ``directory`` can
            be written by another user
    """
    from .judge import Verdict
    from .labels import LabelReview
    from .training import TrackingResult

    path = os.path.join(directory, RESULT)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"No result in {directory!r}: the engine has not finished a "
            "run on this export")
    check_dir(directory, "export directory")
    result = decode(load_torch(path, what="result"),
                    types=(TrackingResult, LabelReview, Verdict))
    if not isinstance(result, TrackingResult):
        raise ValueError(f"{path!r} holds no run result; delete it and "
                         "run the engine again")
    return result


def write_progress(directory, info):
    """Rewrites ``progress.json`` (atomically) with ``info``: the list of
    the run's progress dicts so far, one per finished epoch."""
    write_text(os.path.join(directory, PROGRESS),
               json.dumps(info, default=float))


def read_progress(directory):
    """The list of progress dicts written so far, or None."""
    try:
        with open(os.path.join(directory, PROGRESS)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
