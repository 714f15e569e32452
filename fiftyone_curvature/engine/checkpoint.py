"""Checkpoints of a run: saved after every epoch, resumed bit-identically."""

import hashlib
import os

import numpy as np

from .plain import decode, encode
from .safe_files import check_dir, ensure_dir, load_torch, save_torch

#: file name of the checkpoint inside a run's checkpoint directory
CHECKPOINT_NAME = "state.pt"


def fingerprint(x, y, cfg_dict):
    """A hash of the config and the data (a strided sample of the pixels)
    that tells whether a checkpoint belongs to this run."""
    h = hashlib.sha256()
    h.update(repr(sorted(cfg_dict.items())).encode())
    h.update(repr((tuple(x.shape), str(x.dtype))).encode())
    h.update(np.ascontiguousarray(y.numpy()).tobytes())
    # a strided sample of the pixels is enough to tell data sets apart
    flat = x.reshape(-1)
    step = max(1, flat.numel() // 100_000)
    h.update(np.ascontiguousarray(flat[::step].numpy()).tobytes())
    return h.hexdigest()


def checkpoint_path(checkpoint_dir):
    """The checkpoint file of ``checkpoint_dir`` (None without one).

    Raises:
        ValueError: ``checkpoint_dir`` is not a path, is a file, cannot be
            created or is not writable
    """
    if not checkpoint_dir:
        return None
    check_checkpoint_dir(checkpoint_dir)
    return os.path.join(checkpoint_dir, CHECKPOINT_NAME)


def check_checkpoint_dir(checkpoint_dir):
    """Creates ``checkpoint_dir`` when missing (with the user's umask);
    raises ValueError when it is not a path, names an existing file,
    cannot be created, is not writable, is owned by another user or can
    be written by others (before any epoch is trained; see
    :func:`fiftyone_curvature.engine.safe_files.ensure_dir`)."""
    ensure_dir(checkpoint_dir, "checkpoint_dir")


def save_checkpoint(path, state):
    """Writes ``state`` atomically (a crash never leaves half a file)
    through an exclusive temporary file; numpy arrays and scalars are
    stored as tensors and numbers so that :func:`load_checkpoint` reads it
    weights-only."""
    folder = os.path.dirname(path) or "."
    ensure_dir(folder, "checkpoint_dir")
    save_torch(path, encode(state))


def load_checkpoint(path, device, expected_fingerprint):
    """The saved state at ``path``, or None when there is none. Read with
    ``torch.load(weights_only=True)``: a planted pickle runs no code.

    Raises:
        ValueError: the checkpoint belongs to another run, is not a plain
            (weights-only) checkpoint, or is corrupt
    """
    if not path or not os.path.lexists(path):
        return None
    check_dir(os.path.dirname(path) or ".", "checkpoint_dir")
    if os.path.islink(path) or not os.path.isfile(path):
        raise ValueError(
            f"{path!r} is a symlink or not a file; a checkpoint is never "
            "read through a link: delete it or use an empty directory")
    state = decode(load_torch(path, map_location=device,
                              what="checkpoint"))
    if not isinstance(state, dict) or (
            state.get("fingerprint") != expected_fingerprint):
        raise ValueError(
            f"The checkpoint in {os.path.dirname(path)!r} belongs to "
            "another run (different config or data); use an empty "
            "directory"
        )
    return state
