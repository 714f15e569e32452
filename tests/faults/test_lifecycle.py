"""The run lifecycle's guarantees, shown for every run kind (compute here,
write-back of an export, corruption evaluation, duplicate search): the
running mark, the lock, rollback of a new key, and a rerun of a complete
key that fails (in produce, in the write phase, by Ctrl-C) leaving the old
run exactly as it was; a swap cut short is finished. Failures are
injected through the lifecycle's explicit seams: the ``produce`` callable
and the ``hook(stage)`` argument."""

import datetime
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from fiftyone_curvature.sdk.info import run_status
from fiftyone_curvature.sdk.lifecycle import (
    pending_rerun, run_session, status_of,
)
from fiftyone_curvature.sdk.locks import (
    RunInProgressError, _collection, release_lock,
)

from fingerprints import fingerprint, unchanged
from lifecycle_cases import KINDS, case

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


class Boom(RuntimeError):
    pass


def fail_at(stage, exc=Boom):
    def hook(at):
        if at == stage:
            raise exc(f"injected at {stage}")

    return hook


def failing(reporter):
    raise Boom("injected in produce")


def _run(dataset, name, produce=None, hook=None):
    kind, request, real = case(name, dataset)
    return run_session(dataset, kind, request, produce or real, hook=hook)


def _clean(dataset, name):
    """Nothing of a pending rerun is left: no journal, no pending run or
    field."""
    kind, request, _ = case(name, dataset)
    dataset.reload()
    assert pending_rerun(dataset, kind.brain_key(request.key)) is None
    assert not [k for k in dataset.list_brain_runs() if "_pending_" in k]
    assert not [f for f in dataset.get_field_schema() if "_pending_" in f]


@pytest.mark.parametrize("name", KINDS)
def test_a_new_run_is_marked_running_while_it_produces(digits, name):
    kind, request, real = case(name, digits)
    bkey = kind.brain_key(request.key)
    seen = {}

    def produce(reporter):
        digits.reload()
        seen["status"] = status_of(digits, bkey)
        seen["shown"] = run_status(digits, bkey)
        return real(reporter)

    run_session(digits, kind, request, produce)
    assert seen == {"status": "running", "shown": "running"}
    assert status_of(digits, bkey) == "complete"


@pytest.mark.parametrize("name", KINDS)
def test_a_rerun_is_marked_running_beside_the_intact_old_run(digits, name):
    kind, request, real = case(name, digits)
    bkey = kind.brain_key(request.key)
    _run(digits, name)
    seen = {}

    def produce(reporter):
        digits.reload()
        pending = [k for k in digits.list_brain_runs() if k != bkey]
        seen["old"] = status_of(digits, bkey)
        seen["pending"] = [
            (status_of(digits, k), run_status(digits, k),
             digits.get_brain_info(k).config.replaces) for k in pending]
        return real(reporter)

    run_session(digits, kind, request, produce)
    assert seen == {"old": "complete",
                    "pending": [("running", "running", bkey)]}
    assert digits.list_brain_runs() == [bkey]
    _clean(digits, name)


@pytest.mark.parametrize("name", KINDS)
def test_a_lock_held_elsewhere_refuses_the_run(digits, name):
    kind, request, _ = case(name, digits)
    bkey = kind.brain_key(request.key)
    _collection().insert_one({
        "_id": f"{digits._doc.id}:{bkey}", "host": "gpu-box-7", "pid": 1,
        "token": "t", "started": datetime.datetime(2026, 12, 1)})
    try:
        with unchanged(digits):
            with pytest.raises(RunInProgressError, match="gpu-box-7"):
                _run(digits, name, produce=failing)
    finally:
        assert release_lock(digits, bkey)


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("where", ["produce", "written"])
def test_a_failing_new_run_leaves_nothing(digits, name, where):
    with unchanged(digits):
        with pytest.raises(Boom):
            if where == "produce":
                _run(digits, name, produce=failing)
            else:
                _run(digits, name, hook=fail_at(where))
    assert digits.list_brain_runs() == []


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("where,exc", [
    ("produce", Boom), ("written", Boom), ("saved", Boom),
    ("written", KeyboardInterrupt)])
def test_a_failing_rerun_leaves_the_old_run_exactly_as_it_was(
    digits, name, where, exc,
):
    kind, request, _ = case(name, digits)
    bkey = kind.brain_key(request.key)
    first = _run(digits, name)
    with unchanged(digits):  # fields, views, run config and results
        with pytest.raises(exc):
            if where == "produce":
                _run(digits, name, produce=failing)
            else:
                _run(digits, name, hook=fail_at(where, exc))
    _clean(digits, name)
    assert status_of(digits, bkey) == "complete"
    loaded = digits.load_brain_results(bkey, cache=False)
    assert loaded.serialize() == first.serialize()


@pytest.mark.parametrize("name,stage", [
    ("compute", "old_deleted"), ("compute", "renamed"), ("compute", "moved"),
    ("writeback", "renamed"), ("evaluation", "renamed"),
    ("duplicates", "moved")])
def test_a_swap_cut_short_is_finished(digits, name, stage):
    kind, request, _ = case(name, digits)
    bkey = kind.brain_key(request.key)
    _run(digits, name)
    with pytest.raises(Boom):
        _run(digits, name, hook=fail_at(stage))
    _clean(digits, name)
    assert digits.list_brain_runs() == [bkey]
    assert status_of(digits, bkey) == "complete"
    config = digits.get_brain_info(bkey).config
    schema = digits.get_field_schema()
    assert set(kind.output_fields(request.key)) <= set(schema)
    assert set(kind.view_names(request.key)) <= set(
        digits.list_saved_views())
    assert digits.load_brain_results(bkey, cache=False) is not None
    assert not hasattr(config, "replaces")


CHILD = textwrap.dedent("""
    import os, signal, sys
    sys.path.insert(0, sys.argv[3])
    import fiftyone as fo
    from fiftyone_curvature.sdk.lifecycle import run_session
    from lifecycle_cases import case

    dataset = fo.load_dataset(sys.argv[1])
    kind, request, produce = case("compute", dataset)

    def hook(stage):
        if stage == sys.argv[2]:
            os.kill(os.getpid(), signal.SIGKILL)

    run_session(dataset, kind, request, produce, hook=hook)
""")


def _killed_rerun(tmp_path, dataset, stage):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.run(
        [sys.executable, str(script), dataset.name, stage, HERE], env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stdout.decode()[-3000:]
    dataset.reload()


@pytest.mark.slow
def test_kill_9_in_the_write_phase_of_a_rerun_leaves_the_old_run(
    digits, tmp_path,
):
    first = _run(digits, "compute")
    before = fingerprint(digits)
    _killed_rerun(tmp_path, digits, "written")
    journal = pending_rerun(digits, "curvature")
    assert journal["state"] == "running"
    pending = journal["pending"]
    # the old run exactly as it was beside the killed rerun's leftovers
    assert fingerprint(digits, runs=[pending]) == before
    assert run_status(digits, pending) == "interrupted"
    assert digits.load_brain_results(
        "curvature", cache=False).serialize() == first.serialize()
    # the next session of the key removes the leftovers first
    with pytest.raises(Boom):
        _run(digits, "compute", produce=failing)
    assert fingerprint(digits) == before
    _clean(digits, "compute")


@pytest.mark.slow
def test_kill_9_in_the_swap_is_finished_by_the_next_session(
    digits, tmp_path,
):
    _run(digits, "compute")
    _killed_rerun(tmp_path, digits, "renamed")
    assert pending_rerun(digits, "curvature")["state"] == "swapping"
    # the next session finishes the swap before it produces (and fails)
    with pytest.raises(Boom):
        _run(digits, "compute", produce=failing)
    _clean(digits, "compute")
    assert digits.list_brain_runs() == ["curvature"]
    assert status_of(digits, "curvature") == "complete"
    assert None not in digits.values("curvature")
    assert len(digits.load_saved_view("curvature_top_memorized")) > 0
