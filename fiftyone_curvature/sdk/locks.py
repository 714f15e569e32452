"""A lock per (dataset, run key), recorded in the FiftyOne database.

Two processes computing the same key at once would overwrite each other's
fields, and a failing one's rollback would delete the other's run record.
:func:`run_lock` makes the second one fail at once with a message naming
the holder (host, process id, start time). A lock whose holder died (kill
-9, out-of-memory kill) on this host is taken over; one held from another
host is only released by its holder or :func:`release_lock`.
"""

import contextlib
import datetime
import os
import socket
import uuid

#: the database collection holding the locks (one document per lock)
COLLECTION = "fiftyone_curvature_locks"


class RunInProgressError(RuntimeError):
    """Another process is computing a run of the same key on the dataset.

    Attributes:
        holder: the lock document (``host``, ``pid``, ``started``)
    """

    def __init__(self, message, holder):
        super().__init__(message)
        self.holder = holder


def _collection():
    import fiftyone.core.odm as foo

    return foo.get_db_conn()[COLLECTION]


def _lock_id(dataset, key):
    return f"{dataset._doc.id}:{key}"


def _alive(holder):
    """Whether the holder of a lock may still run: False only for a
    process of this host that no longer exists."""
    if holder.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(holder["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, ValueError, KeyError):
        return True
    return True


def describe(holder):
    """``"process 123 on host h since 2026-12-01 10:00:00 UTC"``."""
    started = holder.get("started")
    since = (f" since {started:%Y-%m-%d %H:%M:%S} UTC"
             if isinstance(started, datetime.datetime) else "")
    return f"process {holder.get('pid')} on host {holder.get('host')}{since}"


def holder_of(dataset, key):
    """The lock document of run ``key`` on ``dataset`` when a live process
    holds it, else None."""
    holder = _collection().find_one({"_id": _lock_id(dataset, key)})
    return holder if holder is not None and _alive(holder) else None


def _held_by(holder, key):
    """The end of a refusal: who computes run ``key`` and what to do."""
    return (f"computed by {describe(holder)}; wait for it to finish, or "
            "if that process is gone, call "
            f"fiftyone_curvature.release_lock(dataset, {key!r})")


def refuse_if_computing(dataset, key, action="delete"):
    """Raises :class:`RunInProgressError` when a live process other than
    this one holds the lock of run ``key`` (``action`` names what was
    refused in the message); this process's own rollback may go on."""
    holder = holder_of(dataset, key)
    if holder is None or (holder.get("host") == socket.gethostname()
                          and holder.get("pid") == os.getpid()):
        return
    raise RunInProgressError(
        f"Cannot {action} run {key!r} on dataset {dataset.name!r}: it is "
        f"being {_held_by(holder, key)}", holder)


def _acquire(dataset, key, what):
    from pymongo.errors import DuplicateKeyError

    coll = _collection()
    doc = {
        "_id": _lock_id(dataset, key),
        "dataset": dataset.name,
        "key": key,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "started": datetime.datetime.utcnow().replace(microsecond=0),
        "token": uuid.uuid4().hex,
    }
    for _ in range(3):
        try:
            coll.insert_one(doc)
            return doc
        except DuplicateKeyError:
            held = coll.find_one({"_id": doc["_id"]})
        if held is None:
            continue  # released in between: try again
        if _alive(held):
            raise RunInProgressError(
                f"{what} {key!r} on dataset {dataset.name!r} is being "
                f"{_held_by(held, key)}", held)
        # the holder died (kill -9, OOM): take the lock over atomically
        if coll.replace_one({"_id": doc["_id"], "token": held.get("token")},
                            doc).modified_count == 1:
            return doc
    raise RunInProgressError(
        f"Could not lock {what} {key!r} on dataset {dataset.name!r}; "
        "another process is taking it", None)


@contextlib.contextmanager
def run_lock(dataset, key, what="Curvature run"):
    """Holds the lock of run ``key`` on ``dataset`` for the ``with`` block.

    Raises:
        RunInProgressError: a live process holds it
    """
    doc = _acquire(dataset, key, what)
    try:
        yield doc
    finally:
        _collection().delete_one({"_id": doc["_id"], "token": doc["token"]})


def release_lock(dataset, key):
    """Removes the lock of run ``key`` on ``dataset`` whoever holds it (for
    a holder on another host that is known to be gone); returns whether
    there was one."""
    return bool(_collection().delete_one(
        {"_id": _lock_id(dataset, key)}).deleted_count)
