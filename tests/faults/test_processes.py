"""Runs across processes: a lock recorded in the database keeps two
processes off one key; a run killed with SIGKILL is reported as
interrupted, resumes from its checkpoint and is cleaned by a rerun."""

import datetime
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fiftyone_curvature as fc
from fiftyone_curvature.sdk.info import run_info

from fault_cases import FAST
from fingerprints import fingerprint, unchanged

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

CHILD = textwrap.dedent("""
    import os, sys, time
    import fiftyone as fo
    import fiftyone_curvature as fc

    dataset = fo.load_dataset(sys.argv[1])
    marker, pause_at = sys.argv[2], int(sys.argv[3])

    def progress(info):
        if info.get("phase") == "epoch" and info["epoch"] == pause_at:
            open(marker, "w").write(str(os.getpid()))
            time.sleep(float(sys.argv[4]))

    fc.compute_curvature(dataset, "label", epochs=4, score_every=1,
                         checkpoint_dir=sys.argv[5] or None,
                         progress=progress)
""")


def _start_child(tmp_path, dataset, pause_at, pause_s, checkpoint=""):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    marker = tmp_path / "marker"
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    proc = subprocess.Popen(
        [sys.executable, str(script), dataset.name, str(marker),
         str(pause_at), str(pause_s), checkpoint],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(proc.stdout.read().decode()[-3000:])
        assert time.time() < deadline, "child never reached its epoch"
        time.sleep(0.2)
    return proc


def test_a_lock_held_elsewhere_refuses_the_run_and_names_the_holder(
    digits, no_training,
):
    from fiftyone_curvature.sdk.locks import (
        RunInProgressError, _collection, release_lock,
    )

    lock_id = f"{digits._doc.id}:curvature"
    _collection().insert_one({
        "_id": lock_id, "host": "gpu-box-7", "pid": 4242, "token": "t",
        "started": datetime.datetime(2026, 12, 1, 10, 0, 0)})
    try:
        with unchanged(digits):
            with pytest.raises(RunInProgressError,
                               match="process 4242 on host gpu-box-7"):
                fc.compute_curvature(digits, "label", **FAST)
    finally:
        assert release_lock(digits, "curvature")


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(digits):
    from fiftyone_curvature.sdk.locks import _collection

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _collection().insert_one({
        "_id": f"{digits._doc.id}:curvature", "host": socket.gethostname(),
        "pid": dead.pid, "token": "t"})
    fc.compute_curvature(digits, "label", **FAST)
    assert _collection().count_documents(
        {"_id": f"{digits._doc.id}:curvature"}) == 0  # released


@pytest.mark.slow
def test_two_processes_on_one_key(digits, tmp_path):
    from fiftyone_curvature.sdk.locks import RunInProgressError

    proc = _start_child(tmp_path, digits, pause_at=1, pause_s=8)
    try:
        digits.reload()
        info = run_info(digits, "curvature")
        assert info["status"] == "running"
        assert str(proc.pid) in info["message"]
        with unchanged(digits):  # the other run's record included
            with pytest.raises(RunInProgressError,
                               match=f"process {proc.pid} "):
                fc.compute_curvature(digits, "label", **FAST)
    finally:
        out, _ = proc.communicate(timeout=300)
    assert proc.returncode == 0, out.decode()[-3000:]
    digits.reload()
    assert run_info(digits, "curvature")["status"] == "complete"
    assert None not in digits.values("curvature")
    digits.delete_brain_run("curvature")
    assert "curvature" not in digits.get_field_schema()


@pytest.mark.slow
def test_kill_9_is_reported_resumed_and_cleaned(digits, tmp_path):
    checkpoint = str(tmp_path / "ckpt")
    user = fingerprint(digits, runs=["curvature"])
    proc = _start_child(tmp_path, digits, pause_at=2, pause_s=600,
                        checkpoint=checkpoint)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    digits.reload()
    # what is left: a listed, interrupted run, and the user's data intact
    assert fingerprint(digits, runs=["curvature"]) == user
    assert "curvature" in digits.list_brain_runs()
    info = run_info(digits, "curvature")
    assert info["status"] == "interrupted"
    assert info["checkpoint_dir"] == checkpoint
    assert "interrupted" in info["message"] and checkpoint in info["message"]
    assert digits.load_brain_results("curvature") is None
    # a rerun resumes from the checkpoint (epochs 3 and 4 only)
    epochs = []
    resumed = fc.compute_curvature(
        digits, "label", epochs=4, score_every=1, checkpoint_dir=checkpoint,
        progress=lambda i: epochs.append(i.get("epoch")))
    assert [e for e in epochs if e] == [3, 4]
    assert run_info(digits, "curvature")["status"] == "complete"
    # and gives the scores of an uninterrupted run, bit for bit
    whole = fc.compute_curvature(digits, "label", curvature_field="whole",
                                 epochs=4, score_every=1, progress=False)
    np.testing.assert_array_equal(resumed.curvature_epochs,
                                  whole.curvature_epochs)


def test_an_interrupted_run_is_deleted_cleanly(digits):
    # a run record left "running" by a process that is gone
    from fiftyone_curvature.sdk.runs import CurvatureConfig

    config = CurvatureConfig("label", status="running")
    config.build().register_run(digits, "curvature", cleanup=False)
    assert run_info(digits, "curvature")["status"] == "interrupted"
    with unchanged(digits, runs=["curvature"]):
        digits.delete_brain_run("curvature")
    assert digits.list_brain_runs() == []
    # and a rerun replaces it
    config.build().register_run(digits, "curvature", cleanup=False)
    fc.compute_curvature(digits, "label", **FAST)
    assert run_info(digits, "curvature")["status"] == "complete"
