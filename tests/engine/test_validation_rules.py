"""The rules of engine/validation.py: one per kind of value."""

import numpy as np
import pytest

from fiftyone_curvature.engine import validation as v
from fiftyone_curvature.engine.arguments import parse_sets
from fiftyone_curvature.engine.config import TrackingConfig
from fiftyone_curvature.engine.constants import RESERVED_FIELDS


def test_integer_accepts_numpy_refuses_bool_float_and_huge():
    assert v.integer("epochs", np.int64(3), 1) == 3
    assert type(v.integer("epochs", np.int32(3), 1)) is int
    for bad in (True, 2.0, 2.7, "3", 0, 2**63):
        with pytest.raises(ValueError, match="epochs must be an integer"):
            v.integer("epochs", bad, 1)
    with pytest.raises(ValueError, match=r"at most 2\*\*63 - 1"):
        v.integer("seed", 2**63, 0)


def test_real_probability_and_choice():
    assert v.real("h", np.float32(0.5), 0.0) == pytest.approx(0.5)
    for bad in (True, "0.1", float("nan"), float("inf"), -1.0):
        with pytest.raises(ValueError, match="h must be a finite number"):
            v.real("h", bad, 0.0)
    assert v.probability("noise", 0.5, low_open=True) == 0.5
    with pytest.raises(ValueError, match=r"noise .* > 0 .* got 0"):
        v.probability("noise", 0, low_open=True)
    assert v.choice("amp", True, ("auto", True, False)) is True
    with pytest.raises(ValueError, match="Unknown amp 1; valid ones are"):
        v.choice("amp", 1, ("auto", True, False))
    assert v.boolean("exact", np.bool_(False)) is False
    with pytest.raises(ValueError, match="exact must be True or False"):
        v.boolean("exact", 1)


def test_key_rules():
    assert v.key("key", "curv_1") == "curv_1"
    for name in RESERVED_FIELDS:
        if name.isidentifier() and not name.startswith("_"):
            with pytest.raises(ValueError, match="reserves"):
                v.key("key", name)
    for bad in ("1x", "a-b", "", None, 3, "_x"):
        with pytest.raises(ValueError, match="key must"):
            v.key("key", bad)
    with pytest.raises(ValueError, match="at most 64 characters") as err:
        v.key("key", "k" * 20000)
    assert len(str(err.value)) < 300  # the value is cut, not echoed


def test_seeds_classes_progress_count():
    assert v.seeds("seeds", np.int64(4)) == [4]
    assert v.seeds("seeds", (0, np.int64(1))) == [0, 1]
    for bad in ([0.5], [True], "01", [], [1, 1], [-1], [2**63]):
        with pytest.raises(ValueError, match="seeds"):
            v.seeds("seeds", bad)
    assert v.classes("classes", ("a", "b")) == ["a", "b"]
    for bad in ("0123", [0, 1], [], ["a", "a"]):
        with pytest.raises(ValueError, match="classes must be"):
            v.classes("classes", bad)
    for ok in (None, True, False, print):
        assert v.progress("progress", ok) is ok
    with pytest.raises(ValueError, match="progress must be None, True"):
        v.progress("progress", 5)
    assert v.count_or_fraction("top_k", 0.25) == 0.25
    assert v.count_or_fraction("top_k", np.int64(7)) == 7
    for bad in (True, -1, 0, 1.5, "3"):
        with pytest.raises(ValueError, match="top_k must be an int >= 1"):
            v.count_or_fraction("top_k", bad)


def test_thresholds_keep_the_users_values():
    defaults = {"top_k": 100, "high_percentile": 0.8,
                "mislabeled_cutoff": None}
    got = v.thresholds("thresholds", {"mislabeled_cutoff": 0.0}, defaults)
    assert got["mislabeled_cutoff"] == 0.0 and got["top_k"] == 100
    assert v.thresholds("thresholds", None, defaults) == defaults
    for bad, named in (("top_k=5", "must be a dict"),
                       ({"top_k": True}, "top_k"),
                       ({"top_k": -1}, "top_k"),
                       ({"high_percentile": 2}, "high_percentile"),
                       ({"mislabeled_cutoff": "x"}, "mislabeled_cutoff"),
                       ({"bogus": 1}, "Unknown threshold")):
        with pytest.raises(ValueError, match=named):
            v.thresholds("thresholds", bad, defaults)


def test_config_uses_the_rules():
    cfg = TrackingConfig.resolve(epochs=np.int64(3), seed=np.uint8(2))
    assert (cfg.epochs, cfg.seed) == (3, 2) and type(cfg.epochs) is int
    for bad in (dict(seed=2**63), dict(epochs=2**63), dict(epochs=True)):
        with pytest.raises(ValueError, match="must be an integer"):
            TrackingConfig.resolve(**bad)


def test_set_refuses_flagged_options_and_conflicts():
    assert parse_sets(["lr=0.1", "batch_size=32"]) == {"lr": 0.1,
                                                       "batch_size": 32}
    with pytest.raises(ValueError, match="has its own option --epochs"):
        parse_sets(["epochs=2"])
    with pytest.raises(ValueError, match="given twice"):
        parse_sets(["lr=0.1", "lr=0.2"])
