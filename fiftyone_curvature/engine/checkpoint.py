"""Checkpoints of a run: saved after every epoch, resumed bit-identically."""

import hashlib
import os

import numpy as np

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
    """Creates ``checkpoint_dir`` when missing; raises ValueError when it
    is not a path, names an existing file, cannot be created or is not
    writable (before any epoch is trained)."""
    if not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise ValueError(f"checkpoint_dir must be a path, got "
                         f"{checkpoint_dir!r}")
    name = os.fspath(checkpoint_dir)
    if os.path.exists(name) and not os.path.isdir(name):
        raise ValueError(f"checkpoint_dir {name!r} is a file, not a "
                         "directory")
    try:
        os.makedirs(name, exist_ok=True)
    except OSError as e:
        raise ValueError(f"checkpoint_dir {name!r} cannot be created: "
                         f"{e.strerror or e}") from None
    if not os.access(name, os.W_OK):
        raise ValueError(f"checkpoint_dir {name!r} is not writable")


def save_checkpoint(path, state):
    """Writes ``state`` atomically (a crash never leaves half a file)."""
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path, device, expected_fingerprint):
    """The saved state at ``path``, or None when there is none.

    Raises:
        ValueError: the checkpoint belongs to another run
    """
    import torch

    if not path or not os.path.exists(path):
        return None
    state = torch.load(path, map_location=device, weights_only=False)
    if state["fingerprint"] != expected_fingerprint:
        raise ValueError(
            f"The checkpoint in {os.path.dirname(path)!r} belongs to "
            "another run (different config or data); use an empty "
            "directory"
        )
    return state
