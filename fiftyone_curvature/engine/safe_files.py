"""Every file the package writes: private folders, exclusive temporary
files renamed into place, never a followed symlink, weights-only loads.

On a shared machine (a lab server, a cluster's scratch space) another user
may plant files or symlinks in a folder the package writes to. So:

- a folder is created with the user's umask and refused when another user
  owns it or when it is group/other-writable without the sticky bit
  (:func:`ensure_dir`);
- a file is written to a temporary file created exclusively
  (``O_CREAT | O_EXCL | O_NOFOLLOW``, mode from the umask) in the target
  folder and then ``os.replace``-d onto its name: a symlink planted under
  the final or a temporary name is replaced or refused, never followed
  (:func:`atomic_writer`, :func:`write_bytes`, :func:`write_text`,
  :func:`save_torch`);
- a ``.pt`` file is read with ``torch.load(weights_only=True)``: a planted
  pickle cannot run code (:func:`load_torch`).
"""

import contextlib
import errno
import os
import secrets
import stat

#: how the temporary files of :func:`atomic_writer` are named:
#: ``.<name>.<random>.tmp`` beside the target
TEMP_SUFFIX = ".tmp"

_CREATE_FLAGS = (os.O_WRONLY | os.O_CREAT | os.O_EXCL
                 | getattr(os, "O_NOFOLLOW", 0)
                 | getattr(os, "O_CLOEXEC", 0))


def check_dir(path, what="folder"):
    """Raises ValueError unless ``path`` is a folder this user may trust.

    Trusted: a directory (a symlink to one is resolved) owned by this
    user that is not group/other-writable, or is but has the sticky bit
    (others cannot then rename or delete this user's files in it).

    Args:
        path: the folder
        what ("folder"): how the message names it, e.g. "checkpoint_dir"
    """
    name = os.fspath(path)
    try:
        st = os.stat(name)
    except OSError as e:
        raise ValueError(f"{what} {name!r} cannot be read: "
                         f"{e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise ValueError(f"{what} {name!r} is a file, not a directory")
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    if uid is not None and st.st_uid != uid:
        raise ValueError(
            f"{what} {name!r} is owned by another user (uid {st.st_uid}); "
            "a file planted there could replace what this run writes or "
            "reads: use a folder of your own (e.g. under your home)")
    writable = st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    if writable and not st.st_mode & stat.S_ISVTX:
        mode = stat.S_IMODE(st.st_mode)
        raise ValueError(
            f"{what} {name!r} can be written by other users (mode "
            f"{mode:o}); a file or symlink planted there could replace what "
            f"this run writes or reads: run `chmod go-w {name}` (or "
            "`chmod +t` to make it sticky), or use a private folder")


def ensure_dir(path, what="folder"):
    """Creates ``path`` (and missing parents) with the user's umask when
    missing, then checks it with :func:`check_dir`; returns it as a str.

    Raises:
        ValueError: not a path, a file, cannot be created, not writable,
            owned by another user, or writable by others
    """
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
        raise ValueError(f"{what} must be a path, got {path!r}")
    name = os.fspath(path)
    if os.path.lexists(name) and not os.path.isdir(name):
        raise ValueError(f"{what} {name!r} is a file, not a directory")
    try:
        os.makedirs(name, exist_ok=True)  # mode 0o777 minus the umask
    except OSError as e:
        raise ValueError(f"{what} {name!r} cannot be created: "
                         f"{e.strerror or e}") from None
    check_dir(name, what)
    if not os.access(name, os.W_OK | os.X_OK):
        raise ValueError(f"{what} {name!r} is not writable")
    return name


def _create_temp(path):
    """Creates ``.<name>.<random>.tmp`` beside ``path`` exclusively (never
    through a symlink, mode 0o666 minus the umask); returns ``(fd,
    temporary path)``."""
    folder, base = os.path.split(os.path.abspath(path))
    for _ in range(100):
        tmp = os.path.join(folder,
                           f".{base}.{secrets.token_hex(6)}{TEMP_SUFFIX}")
        try:
            return os.open(tmp, _CREATE_FLAGS, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no free temporary name", path)


def create_temp(path):
    """An empty temporary file beside ``path``, created exclusively;
    returns its path (fill it, then :func:`commit` it onto ``path``)."""
    fd, tmp = _create_temp(path)
    os.close(fd)
    return tmp


def commit(tmp, path):
    """Renames the temporary file ``tmp`` onto ``path`` (a symlink at
    ``path`` is replaced, not followed).

    Raises:
        ValueError: ``path`` is a folder, or an entry another user owns in
            a sticky folder (the rename is refused)
    """
    try:
        os.replace(tmp, path)
    except OSError as e:
        _remove_quietly(tmp)
        if isinstance(e, IsADirectoryError) or os.path.isdir(path):
            raise ValueError(f"{path!r} is a folder; it is not "
                             "replaced") from None
        if e.errno in (errno.EPERM, errno.EACCES):
            raise ValueError(
                f"{path!r} cannot be replaced ({e.strerror}): it likely "
                "belongs to another user; remove it or use a folder of "
                "your own") from None
        raise


def _remove_quietly(path):
    with contextlib.suppress(OSError):
        os.unlink(path)


@contextlib.contextmanager
def atomic_writer(path, mode="wb"):
    """Context manager: a file object on a temporary file beside ``path``,
    renamed onto ``path`` when the block succeeds and removed when it
    fails (``path`` keeps its previous content).

    Args:
        path: the file to (re)place
        mode ("wb"): ``"wb"`` or ``"w"`` (UTF-8 text)
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"mode must be 'wb' or 'w', got {mode!r}")
    try:
        fd, tmp = _create_temp(path)
    except OSError as e:
        raise _write_error(path, e) from None
    try:
        kwargs = {"encoding": "utf-8"} if mode == "w" else {}
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        _remove_quietly(tmp)
        raise _write_error(path, e) from None
    except BaseException:
        _remove_quietly(tmp)
        raise
    commit(tmp, path)


def _write_error(path, error):
    """A one-line OSError naming the file that could not be written (a
    full disk, a read-only folder); the previous file is untouched."""
    reason = error.strerror or str(error)
    hint = " (the disk is full)" if error.errno == errno.ENOSPC else ""
    return OSError(error.errno, f"Cannot write {path!r}: {reason}{hint}; "
                   "its previous content, if any, is unchanged")


def write_bytes(path, data):
    """Writes ``data`` (bytes) to ``path`` atomically; returns ``path``."""
    with atomic_writer(path, "wb") as f:
        f.write(data)
    return path


def write_text(path, text):
    """Writes ``text`` (UTF-8) to ``path`` atomically; returns ``path``."""
    with atomic_writer(path, "w") as f:
        f.write(text)
    return path


def save_npy(path, array):
    """Writes ``array`` as a ``.npy`` file (no pickle) atomically."""
    import numpy as np

    with atomic_writer(path, "wb") as f:
        np.save(f, np.asarray(array), allow_pickle=False)
    return path


def save_image(path, image, **kwargs):
    """Writes a PIL ``image`` atomically (format from the extension)."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    image.save(buf, format=Image.registered_extensions()[
        os.path.splitext(path)[1].lower()], **kwargs)
    return write_bytes(path, buf.getvalue())


def save_torch(path, obj):
    """``torch.save`` of ``obj`` to ``path`` atomically. ``obj`` must hold
    only what :func:`load_torch` reads back: tensors, numbers, strings,
    None, lists, tuples and dicts (see
    :func:`fiftyone_curvature.engine.plain.encode`)."""
    import torch  # heavy: only where a .pt file is written

    with atomic_writer(path, "wb") as f:
        torch.save(obj, f)
    return path


def load_torch(path, map_location=None, what="file"):
    """``torch.load(path, weights_only=True)``: tensors, numbers, strings
    and containers only (a pickle that would run code is refused).

    Raises:
        ValueError: the file is not a weights-only torch file (written by
            an older version, or planted), or is corrupt or truncated;
            the message says to delete it
    """
    import pickle

    import torch  # heavy: only where a .pt file is read

    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [ln for ln in str(e).splitlines() if "Unsupported" in ln]
        first = lines[0].strip() if lines else type(e).__name__
        raise ValueError(
            f"The {what} {path!r} holds more than tensors and numbers (an "
            "older version's file, or one planted by someone else); it was "
            "not loaded because loading it could run code. Delete it and "
            f"run again ({first[:200]})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(
            f"The {what} {path!r} cannot be read (corrupt or truncated: "
            f"{str(e).splitlines()[0][:200] if str(e) else type(e).__name__}"
            "); delete it and run again") from None
