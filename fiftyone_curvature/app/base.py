"""What the operators share: running from Python, and the base of
operators that train (delegate, stream progress, report).

A training operator runs delegated (``ctx.set_progress`` records progress
on the delegated run) or immediately (a generator yielding
``ctx.ops.set_progress`` while the SDK call runs in a thread). Either way it
ends by reloading the dataset.
"""

import asyncio
import queue
import re
import threading

import fiftyone.operators as foo
from fiftyone.operators import executor
from fiftyone.operators.executor import ExecutionError


def threaded(run, samples, kwargs, outcome=None):
    """Runs ``run(samples, kwargs, progress)`` in a thread and yields its
    progress dicts, so that an immediate (generator) execution can stream
    progress to the App; an exception of ``run`` is re-raised here, its
    return value is appended to the list ``outcome`` when given."""

    events = queue.Queue()
    done = object()
    failure = []

    def work():
        try:
            value = run(samples, kwargs, events.put)
            if outcome is not None:
                outcome.append(value)
        except BaseException as e:  # re-raised in the caller's thread
            failure.append(e)
        finally:
            events.put(done)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    while True:
        info = events.get()
        if info is done:
            break
        yield info
    thread.join()
    if failure:
        raise failure[0]


def progress_label(info):
    """A one-line progress text for the App from a progress dict of
    :class:`fiftyone_curvature.sdk.progress.Progress`."""
    phase = info.get("phase")
    if phase == "epoch":
        seed = ""
        if info.get("seeds", 1) > 1 or info.get("seed") is not None:
            seed = (f"seed {info['seed']} ({info['seed_index'] + 1}/"
                    f"{info['seeds']}), ")
        return (f"{seed}epoch {info['epoch']}/{info['epochs']}, train "
                f"accuracy {info.get('train_accuracy', 0):.1%}, ETA "
                f"{info.get('eta') or 0:.0f} s")
    if phase == "load":
        return f"reading images {info['done']}/{info['total']}"
    return "writing fields and views"


class OperatorError(RuntimeError):
    """An operator run from Python failed; the message is the operator's
    own one-line error (the traceback is on ``.traceback``)."""

    def __init__(self, message, traceback=None):
        super().__init__(message)
        self.traceback = traceback


def _execute(operator, ctx, params, delegate=False):
    """Runs ``operator`` like ``foo.execute_operator``, raising
    :class:`OperatorError` with the error's one-line message (FiftyOne's
    ExecutionError carries the whole traceback as its message)."""


    try:
        asyncio.get_running_loop()
        in_loop = True
    except RuntimeError:
        in_loop = False
    if in_loop:  # notebooks: FiftyOne schedules the run as a task
        return foo.execute_operator(operator.uri, ctx, params=params,
                                    request_delegation=delegate)

    # private: foo.execute_operator (public) calls the same _parse_ctx, but
    # then raises the result's error as one ExecutionError whose message
    # is the whole traceback, and drops the ExecutionResult whose
    # validation context and error_message give the one-line message
    request = executor._parse_ctx(ctx=ctx, params=params,
                                  request_delegation=delegate)
    try:
        result = asyncio.run(executor.execute_or_delegate_operator(
            operator.uri, request, exhaust=False))
        _exhaust(result)
    except ExecutionError as e:  # invalid inputs, or failed scheduling
        raise OperatorError(_validation_line(str(e), params),
                            str(e)) from None
    if result.error:
        raise OperatorError(error_message(result), result.error)
    return result


def _exhaust(result):
    """Runs a generator execution to its end; its last plain dict (what
    the operator returns to Python callers; the App ignores it) becomes
    ``result.result``."""
    import inspect
    import traceback

    if not inspect.isgenerator(result.result):
        return
    last = None
    try:
        for item in result.result:
            if isinstance(item, dict):
                last = item
    except Exception as e:  # what FiftyOne records for a failed run
        result.error = traceback.format_exc()
        result.error_message = str(e)
        return
    result.result = last


def error_message(result):
    """One line saying why an ExecutionResult failed: the invalid input
    and its reason, or the error's message."""
    ctx = result.validation_ctx
    if ctx is not None and ctx.invalid and ctx.errors:
        first = ctx.errors[0]
        path = first.path.lstrip(".") or "input"
        reason = first.reason
        if reason == "Invalid enum value":
            reason = f"invalid value {_param(ctx.params, path)!r}"
        return f"Invalid parameter {path!r}: {reason}"
    return " ".join((result.error_message or _last_line(result.error))
                    .split())


def _validation_line(text, params):
    """FiftyOne's "Validation error. Path: p. Reason: r" as "Invalid
    parameter 'p': r (got v)"; other texts: their last line."""

    match = re.search(r"Path: ([\w.\[\]]*)\. Reason: (.*)$", text.strip())
    if not match:
        return _last_line(text)
    path, reason = match.group(1).lstrip("."), match.group(2)
    if path not in (params or {}) and reason and not reason.startswith(
            "Required"):
        return reason  # a notice of the form (e.g. "no runs"), no input
    value = repr(_param(params, path))
    got = "" if value in reason else f" (got {value})"
    return f"Invalid parameter {path!r}: {reason}{got}"


def _param(params, path):
    return (params or {}).get(path)


def _last_line(text):
    lines = [line for line in str(text).splitlines() if line.strip()]
    return lines[-1].strip() if lines else str(text)


def execute_on_view(operator, samples, params, delegate=False):
    """Runs ``operator`` from Python on the view ``samples`` (what the
    operators' ``__call__`` does); ``delegate=True`` queues it for a
    delegated-operations worker.

    Raises:
        OperatorError: the operator failed (its one-line message)
    """
    return _execute(operator, dict(view=samples.view()), params, delegate)


def execute_on_dataset(operator, samples, params):
    """Runs ``operator`` from Python on the dataset of ``samples``.

    Raises:
        OperatorError: the operator failed (its one-line message)
    """
    return _execute(operator, dict(dataset=samples._root_dataset.name),
                    params)


class TrainingOperator(foo.Operator):
    """An operator whose execution trains a network through the SDK.

    Subclasses define :meth:`sdk_kwargs` (the SDK's keyword arguments from
    the form's params, ``label_field`` among them) and
    :meth:`sdk_function` (the SDK function they are passed to).
    """

    def sdk_kwargs(self, params):
        """The SDK keyword arguments of the form's ``params``."""
        raise NotImplementedError

    def sdk_function(self):
        """The SDK function, called as ``f(samples, label_field,
        progress=..., **kwargs)``."""
        raise NotImplementedError

    def done_message(self, results):
        """One line saying what the finished run produced."""
        raise NotImplementedError

    def run(self, samples, kwargs, progress):
        """Calls the SDK on ``samples`` with ``kwargs``, reporting to the
        ``progress`` callable; returns its results."""
        kwargs = dict(kwargs)
        label_field = kwargs.pop("label_field")
        return self.sdk_function()(samples, label_field, progress=progress,
                                   **kwargs)

    def execute(self, ctx):
        """Runs the SDK, streaming progress; ends at 100% with
        :meth:`done_message` (the progress label, and a notification in
        the App) and reloads the dataset so the new fields show."""
        kwargs = self.sdk_kwargs(ctx.params)
        target = ctx.target_view()
        if ctx.delegated:

            def progress(info):
                ctx.set_progress(progress=info["fraction"],
                                 label=progress_label(info))

            results = self.run(target, kwargs, progress)
            message = self.done_message(results)
            ctx.set_progress(progress=1.0, label=message)
        else:
            outcome = []
            for info in threaded(self.run, target, kwargs, outcome):
                yield ctx.ops.set_progress(label=progress_label(info),
                                           progress=info["fraction"])
            message = self.done_message(outcome[0])
            yield ctx.ops.set_progress(label=message, progress=1.0)
            yield ctx.ops.notify(message, variant="success")
        yield ctx.ops.reload_dataset()
