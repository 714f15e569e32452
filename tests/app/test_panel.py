"""The Curvature panel, exercised without a browser: its methods run
through execute_operator and the plot payloads they send are checked."""

import itertools
import os

import numpy as np
import pytest

import fiftyone.operators as foo

PLUGIN = "@fiftyone-curvature/curvature"
PANEL = f"{PLUGIN}/curvature_panel"
REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
TRAIN = dict(epochs=3, probes=1, model="small_cnn", batch_size=64,
             score_every=1, progress=False)


_PANEL_IDS = itertools.count(1)


class PanelSession:
    """Calls panel methods like the App does and records the last plot
    data and rendered layout; ``state`` is the panel's server-side record
    (the panel never writes the App's panel state: each write reloads the
    App's dataset page)."""

    def __init__(self, dataset, view=None):
        self.dataset = dataset
        self.view = view
        #: the App's panel state (what the dropdowns write)
        self.app_state = {}
        self.raw_data = {}
        self.output = None
        self.requests = []
        # a panel of its own (the panel drops a dropdown call repeated
        # by the same panel)
        self.panel_id = f"p{next(_PANEL_IDS)}"

    @property
    def state(self):
        from fiftyone_curvature.app.panel import panel_record

        return panel_record(self.dataset.name, self.panel_id)

    @property
    def data(self):
        """The plot data of the latest refresh, by plot name (the panel
        writes each refresh's plots under ``<name>_<rev>``)."""
        suffix = f"_{self.state.get('rev')}"
        return {k[: -len(suffix)]: v for k, v in self.raw_data.items()
                if k.endswith(suffix)}

    def props(self):
        """The rendered properties, plots by plot name."""
        suffix = f"_{self.state.get('rev')}"
        return {(k[: -len(suffix)] if k.endswith(suffix) else k): v
                for k, v in self.output["type"]["properties"].items()}

    def call(self, method, **params):
        p = {"__method__": method, "panel_id": self.panel_id,
             "state": self.app_state,
             "panel_state": self.app_state,
             "event_args": {}}
        p.update(params)
        ctx = {"dataset": self.dataset.name, "params": p}
        if self.view is not None:
            ctx["view"] = self.view
        result = foo.execute_operator(PANEL, ctx)
        self.requests = result.executor.to_json()["requests"]
        for r in self.requests:
            name, rp = r["operator_uri"], r.get("params") or {}
            # a panel state write resaves the App's layout and reloads its
            # dataset page (three more panel calls)
            assert name not in ("patch_panel_state", "set_panel_state",
                                "clear_panel_state"), (method, r)
            if name == "patch_panel_data":
                self.raw_data = {**self.raw_data, **rp["data"]}
            elif name == "set_panel_data":
                self.raw_data = dict(rp["data"])
            elif name == "clear_panel_data":
                self.raw_data = {}
            elif name == "show_panel_output":
                self.output = rp["output"]
        return self.requests

    def triggered(self, name):
        return [r.get("params") for r in self.requests
                if r["operator_uri"] == name]

    def layout(self, prop):
        return self.props()[prop]["view"]["layout"]


@pytest.fixture(scope="module")
def evaluated(digits_maker):
    from fiftyone_curvature import evaluate_corruption

    dataset = digits_maker(n=120, noise=0.0)
    results = evaluate_corruption(dataset, "ground_truth", noise=0.2,
                                  seeds=(0, 1), key="ev", **TRAIN)
    yield dataset, results
    dataset.delete()


def test_panel_and_operator_declared():
    import yaml

    with open(os.path.join(REPO_ROOT, "fiftyone.yml")) as f:
        meta = yaml.safe_load(f)
    assert meta["panels"] == ["curvature_panel"]
    assert "evaluate_corruption" in meta["operators"]
    assert foo.get_operator(PANEL).config.label == "Curvature"


def test_empty_dataset_shows_buttons(make_digits):
    dataset = make_digits(n=20, noise=0.0)
    s = PanelSession(dataset)
    s.call("on_load")
    assert s.state["runs"] == [] and s.state["run"] is None
    props = s.output["type"]["properties"]
    buttons = props["buttons"]["type"]["properties"]
    assert buttons["compute"]["view"]["operator"] == (
        f"{PLUGIN}/compute_curvature")
    assert buttons["evaluate"]["view"]["operator"] == (
        f"{PLUGIN}/evaluate_corruption")
    assert buttons["evaluate"]["view"]["prompt"] is True
    assert "histogram" not in s.props()


def test_on_load_renders_evaluation_plots(evaluated):
    dataset, results = evaluated
    s = PanelSession(dataset)
    s.call("on_load")
    assert s.state["run"] == "ev" and s.state["is_evaluation"]
    # histogram: clean vs corrupted of the first seed, all samples counted
    hist = {t["name"]: t for t in s.data["histogram"]}
    assert set(hist) == {"clean", "corrupted"}
    assert sum(hist["corrupted"]["y"]) == int(results.corrupted[0].sum())
    assert sum(hist["clean"]["y"]) + sum(hist["corrupted"]["y"]) == 120
    assert len(s.state["hist_edges"]) == len(hist["clean"]["x"]) + 1
    # ROC: one trace per score + chance, names carry the mean AUROC
    roc = s.data["roc"]
    names = [t["name"] for t in roc]
    auroc = results.summary()["curvature"]["auroc"]["mean"]
    assert names[0] == f"curvature ({auroc:.3f})"
    assert len(roc) == len(results.score_names) + 1
    assert roc[0]["x"][0] == 0.0 and roc[0]["y"][-1] == pytest.approx(1.0)
    # per-epoch AUROC with error bars over the seeds
    epochs = s.data["epochs"][0]
    assert epochs["x"] == [1, 2, 3]
    assert epochs["y"] == pytest.approx(
        np.nanmean(results.epoch_auroc, axis=0).tolist())
    assert len(epochs["error_y"]["array"]) == 3
    # metrics table
    rows = {r["score"]: r for r in s.data["metrics"]}
    assert set(rows) == set(results.score_names)
    assert rows["curvature"]["auroc"].startswith(f"{auroc:.3f} ± ")
    # scatter: curvature vs csl with sample ids
    assert s.state["y_field"] == "ev_csl"
    scatter = {t["name"]: t for t in s.data["scatter"]}
    assert len(scatter["clean"]["ids"]) + len(scatter["corrupted"]["ids"]) \
        == 120
    sid = scatter["corrupted"]["ids"][0]
    assert dataset[sid]["ev_corrupted"] is True
    # plotly.js 3 titles are objects
    for prop in ("histogram", "roc", "epochs", "scatter"):
        layout = s.layout(prop)
        assert isinstance(layout["title"], dict) and layout["title"]["text"]
        assert isinstance(layout["xaxis"]["title"], dict)


def test_histogram_click_opens_the_bar(evaluated):
    from fiftyone import ViewField as F

    dataset, results = evaluated
    s = PanelSession(dataset)
    s.call("on_load")
    hist = {t["name"]: t for t in s.data["histogram"]}
    idx = int(np.argmax(hist["corrupted"]["y"]))
    s.call("on_histogram_click", idx=idx, trace="corrupted",
           x=hist["corrupted"]["x"][idx])
    (params,) = s.triggered("set_view")
    stages = params["view"]
    corrupted_view = dataset.load_saved_view("ev_corrupted_samples")
    edges = s.state["hist_edges"]
    expected = dataset.match(
        (F("ev") >= edges[idx]) & (F("ev") < edges[idx + 1])
        & (F("ev_corrupted") == True)  # noqa: E712
    )
    import fiftyone.core.view as fov

    opened = fov.DatasetView._build(dataset, stages)
    assert sorted(opened.values("id")) == sorted(expected.values("id"))
    assert len(opened) == hist["corrupted"]["y"][idx] > 0
    assert all(opened.values("ev_corrupted"))
    assert set(opened.values("id")) <= set(corrupted_view.values("id"))


def test_scatter_click_and_selection_open_samples(evaluated):
    import fiftyone.core.view as fov

    dataset, _ = evaluated
    s = PanelSession(dataset)
    s.call("on_load")
    ids = s.data["scatter"][0]["ids"]
    s.call("on_scatter_click", id=ids[0], idx=0, trace="clean")
    (params,) = s.triggered("set_view")
    assert fov.DatasetView._build(dataset, params["view"]).values("id") == [
        ids[0]]
    s.call("on_scatter_select", data=[{"id": i} for i in ids[:3]])
    (params,) = s.triggered("set_view")
    assert fov.DatasetView._build(dataset, params["view"]).values(
        "id") == ids[:3]


def test_controls_and_view_change_refresh(evaluated):
    dataset, _ = evaluated
    s = PanelSession(dataset)
    s.call("on_load")
    s.call("on_change_score", value="aum")
    assert s.state["hist_field"] == "ev_aum"
    # each dropdown shows its value from the panel data and names it in
    # its placeholder (what it shows if the App mounts it before the data)
    menus = s.props()["controls"]["type"]["properties"]
    shown = {k: (s.raw_data["controls"].get(k),
                 m["view"].get("placeholder"))
             for k, m in menus.items()}
    assert "run_menu" not in shown
    assert shown["score_menu"] == ("aum", "aum")
    assert shown["y_menu_ev"] == ("ev_csl", "ev_csl")
    # no defaults (the App echoes a default back to on_change) and the
    # same names on the next refresh (a new name mounts a new dropdown)
    assert all(m.get("default") is None for m in menus.values()), menus
    s.call("on_change_score", value="curvature")
    assert s.state["hist_field"] == "ev"
    assert set(s.props()["controls"]["type"]["properties"]) == set(menus)
    s.call("on_change_score", value="aum")
    s.call("on_change_y_field", value="ev_forgetting")
    assert s.layout("scatter")["yaxis"]["title"]["text"] == "ev_forgetting"
    # a narrower view refreshes the histogram and scatter, not the ROC
    roc = s.data["roc"]
    s.view = dataset.limit(30)
    s.call("on_change_view")
    assert sum(sum(t["y"]) for t in s.data["histogram"]) == 30
    assert sum(len(t["ids"]) for t in s.data["scatter"]) == 30
    assert s.data["roc"] == roc
    s.call("on_reset_view")
    assert len(s.triggered("clear_view")) == 1


def test_plain_run_with_known_bad_field(make_digits):
    from fiftyone_curvature import compute_curvature

    dataset = make_digits(n=80, noise=0.2)
    compute_curvature(dataset, "label", **TRAIN)
    s = PanelSession(dataset)
    s.call("on_load")
    assert s.state["run"] == "curvature" and not s.state["is_evaluation"]
    assert not s.state["has_truth"]
    assert [t["name"] for t in s.data["histogram"]] == ["samples"]
    assert s.data["epochs"][0]["name"] == "mean curvature"
    assert "roc" not in s.props()
    assert s.state["bool_fields"] == ["flipped"]
    s.call("on_change_truth_field", value="flipped")
    assert s.state["has_truth"]
    assert {t["name"] for t in s.data["histogram"]} == {"clean",
                                                         "corrupted"}
    assert s.data["roc"][0]["name"].startswith("curvature (")
    assert "roc" in s.props()


def test_a_repeated_dropdown_call_is_dropped(evaluated):
    """The App sends one dropdown choice twice at once: the second call
    neither refreshes nor renders (each costs a redraw in the browser)."""
    dataset, _ = evaluated
    s = PanelSession(dataset)
    s.call("on_load")
    s.call("on_change_score", value="csl")
    assert any(r["operator_uri"] == "show_panel_output" for r in s.requests)
    assert s.call("on_change_score", value="csl") == []
    s.call("on_change_score", value="aum")
    assert s.state["hist_field"] == "ev_aum"


def test_run_buttons_switch_without_panel_state(make_digits):
    """One button per run, the shown one filled; a click on another
    switches with one call (plots, dropdown values and layout only, no
    panel state); a click on the shown run, or the App's reload calls
    of on_change_view with the same view, send nothing."""
    from fiftyone_curvature import compute_curvature, evaluate_corruption

    dataset = make_digits(n=80, noise=0.2)
    compute_curvature(dataset, "label", **TRAIN)
    evaluate_corruption(dataset, "ground_truth", key="ev", **TRAIN)
    s = PanelSession(dataset)
    s.call("on_load")
    assert s.state["run"] == "ev"
    runs = s.props()["runs"]["type"]["properties"]
    assert {k: (b["view"]["label"], b["view"]["variant"],
                b["view"]["params"]) for k, b in runs.items()} == {
        "run_curvature": ("curvature", "outlined", {"run": "curvature"}),
        "run_ev": ("ev", "contained", {"run": "ev"})}
    s.call("on_change_run", run="curvature")
    assert s.state["run"] == "curvature" and not s.state["is_evaluation"]
    assert [t["name"] for t in s.data["histogram"]] == ["samples"]
    assert "Run **curvature**" in str(s.props()["summary"])
    assert s.raw_data["controls"]["y_menu_curvature"] == "curvature_csl"
    assert s.call("on_change_run", run="curvature") == []
    for _ in range(3):
        assert s.call("on_change_view") == []
    s.call("on_change_run", run="ev")
    assert s.state["run"] == "ev"
    assert {t["name"] for t in s.data["histogram"]} == {"clean",
                                                         "corrupted"}
