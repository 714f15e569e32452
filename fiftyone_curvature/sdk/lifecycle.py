"""One run lifecycle that every run kind enters: lock, running mark, rollback
and atomic replacement.

:func:`run_session` checks the key, takes the run's lock
(:func:`fiftyone_curvature.sdk.locks.run_lock`), reloads, finishes or
undoes what an earlier session of the key left behind, checks the key
again, registers the run as ``status="running"``, calls ``produce`` (train
here, train on ranks, read an export, ...), lets the kind write its
fields and results, and completes. What differs between run kinds is a
:class:`RunKind`; what the user asked for is a :class:`RunRequest`.

A NEW key is registered under its own name and written in place; any
failure (an exception, KeyboardInterrupt) removes everything it wrote,
and a process killed mid-run leaves a record that
:func:`fiftyone_curvature.sdk.info.run_status` reports as
``"interrupted"`` and that the next session of the key (or
``delete_brain_run``) removes.

REPLACING a complete run is atomic: the new run is registered and written
under a private key ``<key>_pending_<6 hex>`` (its own fields, e.g.
``curvature_pending_1a2b3c_epochs``) while the old run stays exactly as it
was; once the new results are saved, a short swap deletes the old run
(fields, saved views, record), renames the new fields, moves the new
record to ``key`` and saves the views. A journal (one document per key in
the database collection :data:`JOURNAL`) names the pending key and
whether the swap began, so that whatever a kill -9 or a lost database
leaves is finished (swap begun) or undone (swap not begun) by the next
session of the key.
"""

import dataclasses
import logging
import uuid

import fiftyone.core.odm as foo

from . import snapshot
from .locks import run_lock
from .runs import check_key_name, check_run_key

logger = logging.getLogger(__name__)

#: the database collection of replacement journals (one per run key)
JOURNAL = "fiftyone_curvature_journal"

#: config status values: registered and computing / results saved, the
#: swap that replaces the old run under way / complete
RUNNING, SWAPPING, COMPLETE = "running", "swapping", "complete"

#: the points :func:`run_session` calls its ``hook`` at, in order
#: (the swap points only when a complete run is replaced)
STAGES = ("registered", "produced", "written", "saved", "old_deleted",
          "renamed", "moved", "complete")


@dataclasses.dataclass
class RunRequest:
    """What the user asked a run for, checked by the public function.

    Attributes:
        label_field: the label field the run reads (never written)
        key: the run key (its output fields and views derive from it)
        create_views (True): whether to save the run's views
        progress (None): the public function's ``progress`` argument
        options (dict): what else the kind needs (thresholds, tracking
            config, seeds, ...), by name
    """

    label_field: str
    key: str
    create_views: bool = True
    progress: object = None
    options: dict = dataclasses.field(default_factory=dict)


class RunKind:
    """One kind of run: what the lifecycle needs to know of it.

    A subclass sets :attr:`method_cls`, :attr:`noun`, :attr:`what` and
    implements :meth:`output_fields`, :meth:`make_config` and
    :meth:`write`; everything else has a default.
    """

    #: the brain method class that owns runs of this kind, and its config
    method_cls = None
    config_cls = None
    #: how errors name a run of this kind ("a curvature run")
    noun = "a run"
    #: how the lock's refusal names it ("Curvature run")
    what = "Run"
    #: how errors name the key argument
    key_name = "key"
    #: the config attribute holding the key the fields derive from
    key_attr = "key"

    def brain_key(self, key):
        """The brain-run key of a run writing fields under ``key``."""
        return key

    def output_fields(self, key):
        """The sample fields a run with key ``key`` writes."""
        raise NotImplementedError

    def view_names(self, key):
        """The saved views a run with key ``key`` creates."""
        return []

    def make_config(self, request, key):
        """The brain config of a run of ``request`` writing under ``key``
        (``status`` and ``views`` are set by the lifecycle)."""
        raise NotImplementedError

    def reporter(self, request):
        """The progress reporter handed to ``produce`` (a context manager
        with ``on_phase(name)``)."""
        return NullReporter()

    def write(self, samples, request, key, produced, config, method):
        """Writes the per-sample fields of ``produced`` under ``key``,
        records on ``config`` what the run set, and returns the results
        object (not saved yet)."""
        raise NotImplementedError

    def save_views(self, dataset, bkey, key):
        """Saves the views of the complete run ``bkey`` under ``key``;
        returns their names (by default the method's ``_save_views``, which
        a rename uses too)."""
        return kind_method(dataset, bkey)._save_views(dataset, bkey, key)

    def set_views(self, config, names):
        """Records the saved view ``names`` on ``config``."""
        config.views = list(names)

    def finish_fields(self, dataset, key):
        """Called once the fields have their final names (indexes)."""

    def check_key(self, samples, label_field, key):
        """Raises ValueError unless ``key`` can name a run of this kind
        (a replacement cut short mid-swap owns the key's names: the
        session finishes it under the lock, then checks again)."""
        doc = pending_rerun(samples._root_dataset, self.brain_key(key))
        if doc is not None and doc.get("state") == SWAPPING:
            check_key_name(key, self.key_name)
            return
        check_run_key(samples, key, label_field, self.method_cls, self.noun,
                      self.output_fields, key_name=self.key_name,
                      brain_key_of=self.brain_key,
                      views_of=self.view_names)


def kind_method(dataset, bkey):
    """The brain method object of the stored run ``bkey``."""
    return dataset.get_brain_info(bkey).config.build()


class NullReporter:
    """A reporter that reports nothing."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def on_phase(self, phase):
        pass


# --------------------------------------------------------------------------
# the session


def run_session(samples, kind, request, produce, hook=None):
    """Runs ``produce`` as a run of ``kind`` keyed ``request.key`` with
    every guarantee of the lifecycle (see the module docstring).

    Args:
        samples: the collection the run is for
        kind: a :class:`RunKind`
        request: a :class:`RunRequest`
        produce: ``produce(reporter) -> produced``, what the kind's
            :meth:`RunKind.write` turns into fields and results
        hook (None): ``hook(stage)`` called at each stage of
            :data:`STAGES` (a seam for fault tests: raising there fails
            the run at that point)

    Returns:
        the results object, saved under the run's brain key

    Raises:
        ValueError: the key cannot name a run of this kind
        fiftyone_curvature.RunInProgressError: another process holds the
            key's lock
    """
    dataset = samples._root_dataset
    kind.check_key(samples, request.label_field, request.key)
    bkey = kind.brain_key(request.key)
    with run_lock(dataset, bkey, kind.what):
        # another process may have changed the dataset's runs before the
        # lock was ours: recover and check the key on the stored state
        dataset.reload()
        recover(dataset, kind, request.key)
        kind.check_key(samples, request.label_field, request.key)
        _check_same_type(dataset, kind, bkey)
        return _session(samples, kind, request, produce, hook or _no_hook)


def _no_hook(stage):
    pass


def _check_same_type(dataset, kind, bkey):
    """A run of another config class (an evaluation for a plain run) is
    never replaced."""
    if bkey not in dataset.list_brain_runs():
        return
    existing = type(dataset.get_brain_info(bkey).config)
    if existing is not kind.config_cls:
        raise ValueError(
            f"Cannot overwrite existing brain run {bkey!r} of type "
            f"{existing.__name__} with {kind.noun}; choose another "
            f"{kind.key_name} or delete that run first")


def _session(samples, kind, request, produce, hook):
    dataset = samples._root_dataset
    key = request.key
    bkey = kind.brain_key(key)
    replacing = status_of(dataset, bkey) == COMPLETE
    if bkey in dataset.list_brain_runs() and not replacing:
        # left "running" by a process that is gone (the lock was free):
        # nothing of it is worth keeping
        kind.method_cls.delete_run(dataset, bkey, cleanup=True)
    wkey = _pending_key(dataset, kind, key) if replacing else key
    wbkey = kind.brain_key(wkey)
    config = kind.make_config(request, wkey)
    config.status = RUNNING
    kind.set_views(config, [])
    if replacing:
        config.replaces = bkey
    method = config.build()
    read = snapshot.take(samples, request.label_field)  # checked at write
    if replacing:
        _journal().replace_one(
            {"_id": _journal_id(dataset, bkey)},
            {"dataset": dataset.name, "key": key, "pending": wkey,
             "state": RUNNING, "create_views": bool(request.create_views)},
            upsert=True)
    try:
        method.register_run(samples, wbkey, cleanup=False)
        hook("registered")
        with kind.reporter(request) as reporter:
            produced = produce(reporter)
            hook("produced")
            reporter.on_phase("write")
            read.check(samples, f"{kind.what} {key!r}")
            results = kind.write(samples, request, wkey, produced, config,
                                 method)
            hook("written")
        if replacing:
            config.status = SWAPPING
        method.update_run_config(samples, wbkey, config)
        method.save_run_results(samples, wbkey, results)
        hook("saved")
        if not replacing:
            _complete(dataset, kind, key, request.create_views, hook)
    except BaseException:
        _discard(dataset, kind, key, wkey, journal=replacing)
        raise
    if replacing:
        try:
            _journal().update_one({"_id": _journal_id(dataset, bkey)},
                                  {"$set": {"state": SWAPPING}})
            _swap(dataset, kind, key, wkey, request.create_views, hook)
        except BaseException:
            # past this point the old run may be gone: finish forward
            _try(lambda: recover(dataset, kind, key), "finish the swap of",
                 key)
            raise
    results = dataset.load_brain_results(bkey, cache=False)
    logger.info("%s %r complete", kind.what, key)
    return results


def _pending_key(dataset, kind, key):
    """A fresh private key ``<key>_pending_<6 hex>`` whose brain key,
    fields and views are all free."""
    schema = dataset.get_field_schema()
    runs = set(dataset.list_brain_runs())
    for _ in range(100):
        wkey = f"{key}_pending_{uuid.uuid4().hex[:6]}"
        if (kind.brain_key(wkey) not in runs
                and not set(kind.output_fields(wkey)) & set(schema)):
            return wkey
    raise RuntimeError(f"No free pending key for {key!r}")


def status_of(dataset, bkey):
    """The stored status of run ``bkey`` (None when there is none; a run
    recorded before statuses existed is complete)."""
    if bkey not in dataset.list_brain_runs():
        return None
    return getattr(dataset.get_brain_info(bkey).config, "status", COMPLETE)


# --------------------------------------------------------------------------
# completion, swap, rollback, recovery


def _complete(dataset, kind, key, create_views, hook):
    """The fields of run ``key`` have their final names: indexes, views,
    status "complete"."""
    bkey = kind.brain_key(key)
    info = dataset.get_brain_info(bkey)
    config = info.config
    setattr(config, kind.key_attr, key)
    kind.finish_fields(dataset, key)
    if create_views:
        kind.set_views(config, kind.save_views(dataset, bkey, key))
    config.status = COMPLETE
    config.__dict__.pop("replaces", None)
    kind.method_cls.update_run_config(dataset, bkey, config)
    hook("complete")


def _swap(dataset, kind, key, wkey, create_views, hook=_no_hook):
    """Replaces the complete run ``key`` by the saved pending run ``wkey``
    (idempotent: a swap cut short is finished by calling it again)."""
    bkey, wbkey = kind.brain_key(key), kind.brain_key(wkey)
    if bkey in dataset.list_brain_runs() and status_of(
            dataset, bkey) != SWAPPING:
        # the old run: its own cleanup deletes its fields and views
        kind.method_cls.delete_run(dataset, bkey, cleanup=True)
    hook("old_deleted")
    schema = dataset.get_field_schema()
    moves = {w: f for w, f in zip(kind.output_fields(wkey),
                                  kind.output_fields(key)) if w in schema}
    stale = [f for f in moves.values() if f in schema]
    if stale:  # left by an old cleanup that failed half-way
        _delete_fields(dataset, stale)
    if moves:
        _drop_indexes(dataset, list(moves))
        dataset.rename_sample_fields(moves)
    hook("renamed")
    if wbkey in dataset.list_brain_runs():
        # the run's rename() moves nothing while it is swapping
        dataset.rename_brain_run(wbkey, bkey)
    hook("moved")
    _complete(dataset, kind, key, create_views, hook)
    _journal().delete_one({"_id": _journal_id(dataset, bkey)})


def _discard(dataset, kind, key, wkey, journal):
    """Removes what the failed run writing under ``wkey`` wrote (its
    record, fields and views); the run it would have replaced is
    untouched. Never hides the run's own error."""
    def discard():
        wbkey = kind.brain_key(wkey)
        if wbkey in dataset.list_brain_runs():
            kind.method_cls.delete_run(dataset, wbkey, cleanup=True)
        _delete_fields(dataset, kind.output_fields(wkey))
        if journal:
            _journal().delete_one(
                {"_id": _journal_id(dataset, kind.brain_key(key))})

    _try(discard, "roll back", key)


def recover(dataset, kind, key):
    """Finishes or undoes what an earlier session of run ``key`` left (a
    process killed, or a database lost, while it replaced a complete
    run): a swap that began is finished, any other leftover of the
    pending run is removed. Called under the key's lock."""
    bkey = kind.brain_key(key)
    doc = _journal().find_one({"_id": _journal_id(dataset, bkey)})
    if doc is None:
        return
    wkey = doc["pending"]
    if doc.get("state") == SWAPPING:
        logger.warning("Finishing the replacement of run %r that was cut "
                       "short", key)
        _swap(dataset, kind, key, wkey, doc.get("create_views", True))
    else:
        logger.warning("Removing the unfinished rerun %r of run %r", wkey,
                       key)
        _discard(dataset, kind, key, wkey, journal=True)


def pending_rerun(dataset, bkey):
    """The journal of an unfinished replacement of run ``bkey`` (``key``,
    ``pending``, ``state``), or None."""
    return _journal().find_one({"_id": _journal_id(dataset, bkey)})


def _delete_fields(dataset, fields):
    schema = dataset.get_field_schema()
    present = [f for f in fields if f in schema]
    _drop_indexes(dataset, present)
    if present:
        dataset.delete_sample_fields(present, error_level=1)


def _drop_indexes(dataset, fields):
    indexes = set(dataset.list_indexes())
    for field in fields:
        if field in indexes:
            dataset.drop_index(field)


def _try(fn, what, key):
    try:
        fn()
    except Exception:
        logger.exception("Could not %s run %r", what, key)


def _journal():
    return foo.get_db_conn()[JOURNAL]


def _journal_id(dataset, bkey):
    return f"{dataset._doc.id}:{bkey}"
