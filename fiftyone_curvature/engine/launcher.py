"""Starts the ranks of a run on this machine through torch's elastic
launch API (what ``torchrun --standalone --nproc_per_node=N`` does)."""

import logging
import os
import sys
import threading
import uuid

logger = logging.getLogger(__name__)

#: the module every rank runs
WORKER_MODULE = "fiftyone_curvature.engine.worker"

#: failures that only say a peer went away (the consequence of another
#: rank's death, not its cause)
_SECONDARY = ("DistBackendError", "DistNetworkError", "DistStoreError",
              "Connection closed by peer", "Connection reset by peer",
              "Signal ")


class WorkerError(RuntimeError):
    """A rank of a data-parallel run failed.

    Attributes:
        rank: the global rank whose error ended the run
        traceback: its Python traceback (when it recorded one)
    """

    def __init__(self, message, rank, traceback=None):
        super().__init__(message)
        self.rank = rank
        self.traceback = traceback


def launch(export_dir, nproc, worker_args=(), progress=None,
           monitor_interval=0.5):
    """Runs ``nproc`` ranks of :mod:`fiftyone_curvature.engine.worker` on
    ``export_dir`` and waits for them.

    Args:
        export_dir: an export directory (see
            :mod:`fiftyone_curvature.engine.datafile`)
        nproc: number of processes (one per GPU on a GPU machine)
        worker_args (()): the worker's training options, e.g.
            ``["--epochs", "3", "--set", "weight_decay=0"]``
        progress (None): callable receiving rank 0's progress dicts
        monitor_interval (0.5): seconds between the launcher's checks of
            its workers (how fast a dead rank stops the others)

    Returns:
        the :class:`fiftyone_curvature.engine.training.TrackingResult`
        that rank 0 saved (without the model)

    Raises:
        WorkerError: a rank failed; the message is that rank's error (the
            other ranks are stopped)
    """
    from torch.distributed.elastic.multiprocessing.errors import (
        ChildFailedError,
    )
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from .datafile import PROGRESS, load_export, load_result

    if not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an integer >= 1, got {nproc!r}")
    load_export(export_dir)  # fail here, not in every rank
    for name in (PROGRESS, "result.pt"):
        path = os.path.join(export_dir, name)
        if os.path.exists(path):
            os.remove(path)
    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc,
        run_id=f"curvature-{uuid.uuid4().hex[:8]}", rdzv_backend="c10d",
        rdzv_endpoint="localhost:0", max_restarts=0,
        monitor_interval=monitor_interval, start_method="spawn",
    )
    args = ["-m", WORKER_MODULE, export_dir, *map(str, worker_args)]
    watcher = _ProgressWatcher(export_dir, progress)
    with _package_on_path(), watcher:
        try:
            elastic_launch(config, sys.executable)(*args)
        except ChildFailedError as e:
            raise _worker_error(e) from None
    return load_result(export_dir)


def _worker_error(error):
    """The :class:`WorkerError` of the rank that caused ``error``."""
    def rank_of(item):
        rank, failure = item
        message = _message(failure)
        secondary = any(s in message for s in _SECONDARY)
        return (secondary, failure.timestamp, rank)

    rank, failure = min(error.failures.items(), key=rank_of)
    data = failure.error_file_data.get("message")
    traceback = (data.get("extraInfo", {}).get("py_callstack")
                 if isinstance(data, dict) else None)
    return WorkerError(f"rank {rank} failed: {_message(failure)}", rank,
                       traceback)


def _message(failure):
    message = failure.message
    if isinstance(message, dict):
        message = message.get("message", str(message))
    return str(message)


class _ProgressWatcher:
    """Polls rank 0's ``progress.json`` (the list of finished epochs'
    progress dicts) and hands each new entry to a callable, once, from a
    background thread."""

    def __init__(self, directory, callback, interval=1.0):
        self.directory = directory
        self.callback = callback
        self.interval = interval
        self._stop = threading.Event()
        self._thread = None
        self._seen = 0

    def __enter__(self):
        if self.callback is not None:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()
        return self

    def _poll(self):
        from .datafile import read_progress

        entries = read_progress(self.directory) or []
        for info in entries[self._seen:]:  # every epoch, none twice
            self.callback(info)
        self._seen = max(self._seen, len(entries))

    def _run(self):
        while not self._stop.wait(self.interval):
            self._poll()

    def __exit__(self, *exc):
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            if exc[0] is None:
                self._poll()


class _package_on_path:
    """Puts the directory this package was imported from first on the
    workers' PYTHONPATH, so they run the same code as the launcher."""

    def __enter__(self):
        root = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
        self._old = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(
            [root] + ([self._old] if self._old else []))
        return self

    def __exit__(self, *exc):
        if self._old is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = self._old
