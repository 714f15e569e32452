"""The App's round-three behaviour without a browser: the compute form's
duration estimate, run label fields hidden from the grid, the info's
timestamp, the panel noticing new runs and naming only existing views,
the duplicate operator's result (the browser test covers the rest)."""

import re
import time

import pytest

import fiftyone as fo
import fiftyone.operators as foo

from fiftyone_curvature.app.operators import ComputeCurvature
from fiftyone_curvature.engine.estimate import (
    describe_seconds, estimate_run_seconds,
)

PLUGIN = "@fiftyone-curvature/curvature"
PANEL = f"{PLUGIN}/curvature_panel"
TRAIN = dict(epochs=2, probes=1, model="small_cnn", batch_size=64,
             score_every=1, progress=False)


@pytest.fixture
def digits(make_digits):
    return make_digits(n=80, noise=0.1)


def _form(operator, dataset, **params):
    ctx = foo.ExecutionContext(request_params=dict(
        dataset_name=dataset.name, params=params))
    return operator.resolve_input(ctx).type.properties


def test_estimate_scales_with_the_run():
    small = estimate_run_seconds(200, 8, 1, 10, epochs=5, probes=2)
    more_epochs = estimate_run_seconds(200, 8, 1, 10, epochs=20, probes=2)
    more_probes = estimate_run_seconds(200, 8, 1, 10, epochs=5, probes=8)
    assert small["model"] == "small_cnn" and small["scored_epochs"] == 5
    assert more_epochs["seconds"] > small["seconds"]
    assert more_probes["score_pass"] > small["score_pass"]
    with pytest.raises(ValueError, match="num_samples"):
        estimate_run_seconds(0, 8, 1, 10)


def test_describe_seconds():
    assert describe_seconds(3) == "about 5 s"
    assert describe_seconds(42) == "about 40 s"
    assert describe_seconds(600) == "about 10 min"
    assert describe_seconds(3 * 3600) == "about 3.0 h"


def test_compute_form_estimates_the_run_within_2x(digits):
    props = _form(ComputeCurvature(), digits, label_field="label",
                  epochs=6, probes=2)
    label = props["estimate"].view.label
    match = re.search(r"Estimated duration: about (\d+) (s|min)", label)
    assert match, label
    estimate = int(match.group(1)) * (60 if match.group(2) == "min" else 1)
    import fiftyone_curvature as fc

    t0 = time.perf_counter()
    fc.compute_curvature(digits, "label", epochs=6, probes=2,
                         progress=False)
    real = time.perf_counter() - t0
    # the notice rounds to 5 s: compare against that granularity
    assert max(real, 5) / 2 <= max(estimate, 5) <= 2 * max(real, 5) + 5, (
        label, real)


def test_run_label_fields_are_hidden_but_the_suggested_label(digits):
    import fiftyone_curvature as fc

    fc.compute_curvature(digits, "label", **TRAIN)
    # FiftyOne's default (label fields only, no primitives) less the
    # run's prediction
    active = digits.app_config.active_fields
    assert not active.exclude
    assert set(active.paths) == {"ground_truth", "label",
                                 "curvature_suggested_label"}
    fc.evaluate_corruption(digits, "ground_truth", **TRAIN)
    digits.reload()
    paths = digits.app_config.active_fields.paths
    # an evaluation's labels, its suggested label too, stay hidden
    assert set(paths) == {"ground_truth", "label",
                          "curvature_suggested_label"}


def test_an_evaluations_labels_are_all_hidden(digits):
    """An evaluation first (no active fields yet), then into a user's
    exclusion list: its suggested label is hidden like its other
    labels."""
    import fiftyone_curvature as fc

    fc.evaluate_corruption(digits, "ground_truth", key="ev", **TRAIN)
    digits.reload()
    assert set(digits.app_config.active_fields.paths) == {
        "ground_truth", "label"}
    digits.app_config.active_fields = fo.ActiveFields(
        exclude=True, paths=["filepath"])
    digits.save()
    fc.evaluate_corruption(digits, "ground_truth", key="ev2", **TRAIN)
    assert set(digits.app_config.active_fields.paths) == {
        "filepath", "ev2_prediction", "ev2_label", "ev2_suggested_label"}


def test_a_users_exclude_list_gets_the_runs_hidden_labels(digits):
    import fiftyone_curvature as fc

    digits.app_config.active_fields = fo.ActiveFields(
        exclude=True, paths=["filepath"])
    digits.save()
    fc.compute_curvature(digits, "label", **TRAIN)
    active = digits.app_config.active_fields
    assert active.exclude is True
    assert active.paths == ["filepath", "curvature_prediction"]


def test_a_users_include_list_gets_only_the_suggested_label(digits):
    import fiftyone_curvature as fc

    digits.app_config.active_fields = fo.ActiveFields(paths=["label"])
    digits.save()
    fc.compute_curvature(digits, "label", **TRAIN)
    active = digits.app_config.active_fields
    assert not active.exclude
    assert active.paths == ["label", "curvature_suggested_label"]


def test_info_timestamp_has_no_microseconds(digits):
    import fiftyone_curvature as fc

    fc.compute_curvature(digits, "label", **TRAIN)
    op = foo.get_operator(f"{PLUGIN}/get_curvature_info")
    stamp = op(digits, "curvature").result["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", stamp), stamp


def _panel(dataset, method, state, panel_id="p1"):
    """Calls panel ``method``; returns the panel's server-side record (it
    writes no App panel state) and the requests it sent."""
    from fiftyone_curvature.app.panel import panel_record

    params = {"__method__": method, "panel_id": panel_id, "state": {},
              "panel_state": {}, "event_args": {}}
    result = foo.execute_operator(PANEL, {"dataset": dataset.name,
                                          "params": params})
    requests = result.executor.to_json()["requests"]
    assert not any(r["operator_uri"].endswith("panel_state")
                   for r in requests), requests
    return panel_record(dataset.name, panel_id), requests


def test_panel_notices_a_new_run_on_a_reload_and_stays_quiet_else(digits):
    import fiftyone_curvature as fc

    fc.compute_curvature(digits, "label", **TRAIN)
    state, _ = _panel(digits, "on_load", {})
    assert state["runs"] == ["curvature"]
    # a reload of the dataset calls on_change_view with the same view:
    # nothing changed, nothing sent (no re-render)
    same, requests = _panel(digits, "on_change_view", state)
    assert requests == [] and same == state
    fc.evaluate_corruption(digits, "ground_truth", **TRAIN)
    state, requests = _panel(digits, "on_change_view", state)
    assert sorted(state["runs"]) == ["curvature", "curvature_eval"]
    assert any(r["operator_uri"] == "show_panel_output" for r in requests)
    # a click on the shown run's button: nothing sent back
    params = {"__method__": "on_change_run", "panel_id": "p1",
              "state": {}, "panel_state": {},
              "run": state["run"], "event_args": {}}
    result = foo.execute_operator(PANEL, {"dataset": digits.name,
                                          "params": params})
    assert result.executor.to_json()["requests"] == []


def test_panel_views_table_names_only_existing_views(digits):
    import fiftyone_curvature as fc

    fc.evaluate_corruption(digits, "ground_truth", **TRAIN)
    state, requests = _panel(digits, "on_load", {})
    data = [r["params"]["data"] for r in requests
            if r["operator_uri"] == "set_panel_data"][-1]
    rows = next(v for k, v in data.items() if k.startswith("view_review"))
    saved = set(digits.list_saved_views())
    for row in rows:
        assert row["view"] in saved or "(as a run saves it)" in row["view"]
    assert not any(row["view"] == "curvature_eval_top_memorized"
                   for row in rows)
    assert "curvature_eval_likely_mislabeled" not in state["summary_text"]
