"""The run's thread count: CPUs from affinity and cgroup quota, the load,
the timed choice and what the run stores."""

import numpy as np
import torch

from fiftyone_curvature.engine import performance
from fiftyone_curvature.engine.config import TrackingConfig
from fiftyone_curvature.engine.models import build_model
from fiftyone_curvature.engine.training import train_and_track


def test_cgroup_quota_caps_the_cpus(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert performance._cgroup_quota(str(tmp_path)) == 1.5
    assert performance.available_cpus(str(tmp_path)) == min(
        2, len(__import__("os").sched_getaffinity(0)))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert performance._cgroup_quota(str(tmp_path)) is None
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert performance._cgroup_quota(str(v1)) == 0.5
    assert performance.available_cpus(str(v1)) == 1


def test_load_leaves_fewer_free_cpus():
    assert performance.free_cpus(8, load=0.2) == 8
    assert performance.free_cpus(8, load=5.4) == 3
    assert performance.free_cpus(2, load=9.0) == 1
    assert performance.thread_candidates(8, 3) == [1, 3, 8]
    assert performance.thread_candidates(2, 1) == [1, 2]
    assert performance.thread_candidates(1, 1) == [1]


def test_calibration_picks_a_candidate_and_skips_timing_for_one():
    model = build_model("small_cnn", 1, 10, 8)
    x = torch.randn(8, 1, 8, 8)
    y = torch.randint(0, 10, (8,))
    cpu = torch.device("cpu")
    assert performance.calibrate_threads(model, x, y, cpu, False, 1,
                                         candidates=[1]) == 1
    assert performance.calibrate_threads(model, x, y, cpu, False, 1,
                                         candidates=[1, 2]) in (1, 2)


def test_auto_is_the_default_and_the_run_stores_its_count():
    assert TrackingConfig().threads == "auto"
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (48, 8, 8), np.uint8)
    y = np.arange(48) % 3
    r = train_and_track(x, y, epochs=1, score_every=1, model="small_cnn",
                        width=4)
    chosen = r.config["threads"]
    assert isinstance(chosen, int) and chosen >= 1
    # a rerun with the stored config reproduces the scores
    again = train_and_track(x, y, TrackingConfig(**r.config))
    np.testing.assert_array_equal(again.curvature, r.curvature)
