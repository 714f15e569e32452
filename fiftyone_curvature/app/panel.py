"""The "Curvature" App panel: histograms, ROC, per-epoch AUROC, scatter."""

import json
import math
import threading
import time
from collections import OrderedDict

import numpy as np

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.operators.types as types
from fiftyone import ViewField as F

from ..engine.dynamics import SCORES
from ..sdk.features import verdict_sentence
from ..sdk.info import curvature_runs, duplicates_info, is_evaluation
from ..sdk.report import gather
from .names import uri

COMPUTE_URI = uri("compute_curvature")
EVALUATE_URI = uri("evaluate_corruption")

#: histogram bins
BINS = 30
#: most points drawn in the scatter (a fixed random subset beyond)
MAX_POINTS = 5000
#: score names the histogram offers
SCORE_CHOICES = ("curvature",) + tuple(SCORES)


def _title(text):
    """A plotly.js 3 title (``{"text": ...}``; a bare string is ignored)."""
    return {"text": text}


def _score_field(key, score):
    return key if score == "curvature" else f"{key}_{score}"


def _numeric_fields(dataset):

    schema = dataset.get_field_schema()
    return sorted(
        name for name, field in schema.items()
        if isinstance(field, (fo.FloatField, fo.IntField))
    )


def _bool_fields(dataset):

    schema = dataset.get_field_schema()
    return sorted(
        name for name, field in schema.items()
        if isinstance(field, fo.BooleanField)
    )


def _fmt(m):
    if m is None or m.get("mean") is None:
        return "-"
    if m.get("std"):
        return f"{m['mean']:.3f} ± {m['std']:.3f}"
    return f"{m['mean']:.3f}"


class CurvaturePanel(foo.Panel):
    """Plots of a curvature run or corruption evaluation; clicks open the
    matching samples in the grid."""

    @property
    def config(self):
        return foo.PanelConfig(
            name="curvature_panel",
            label="Curvature",
            description="Curvature scores: histograms, ROC of every score, "
            "per-epoch AUROC, metrics and scatter",
            icon="insights",
            surfaces="grid",
        )

    # ---------------------------------------------------------- lifecycle

    # What the panel shows (run, choices, the view it was drawn for, the
    # click data) is kept server-side in a record per panel (see
    # _record), never in the panel state: FiftyOne 1.22.1 saves the panel
    # state inside the App's layout, and each change of it resaves the
    # layout and reloads the dataset page, which calls on_change_view
    # three times. The plots go to the panel data (kept in the browser
    # only); the dropdowns show their values from it too.

    def on_load(self, ctx):
        self._refresh(ctx)

    def on_change_dataset(self, ctx):
        _record(ctx).pop("run", None)
        self._refresh(ctx)

    def on_change_view(self, ctx):
        # the App calls this three times whenever it reloads the dataset
        # page (after each dropdown choice, since the choice is panel
        # state) with the same view: a no-op then. An operator that
        # reloads the dataset (ours do when they end) calls it too: a run
        # created or deleted since shows then
        rec = _record(ctx)
        if ("rev" in rec and _view_key(ctx.view) == rec.get("view_key")
                and not self._runs_changed(ctx, rec)):
            return UNCHANGED
        self._refresh(ctx)

    def _runs_changed(self, ctx, rec):
        """Whether the dataset's complete runs differ from those the panel
        lists."""
        runs = (curvature_runs(ctx.dataset, complete=True)
                if ctx.dataset is not None else [])
        return runs != list(rec.get("runs") or [])

    def execute(self, ctx):
        """FiftyOne's panel dispatch, without the re-render when the
        handler changed nothing (it returns :data:`UNCHANGED`): the App
        echoes dropdown values and view changes back to the panel, and
        each render redraws every plot in the browser."""
        method = ctx.params.get("__method__")
        if method in MENU_HANDLERS and _repeated(
                ctx.dataset_name, ctx.params, _record(ctx).get("rev")):
            return None
        if method in QUIET_HANDLERS:
            ctx.event_args = ctx.params.get("event_args", {})
            if getattr(self, method)(ctx) is UNCHANGED:
                return None
            ctx.ops.show_panel_output(self.render(ctx))
            return None
        return super().execute(ctx)

    # The run is switched with buttons (one per run): a button click
    # changes no panel state, so the App neither resaves its layout nor
    # reloads the dataset page (a dropdown choice does both: five panel
    # calls and a second redraw per switch). The other choices are
    # dropdowns, named apart from what they set, with the same names on
    # every refresh (the run-dependent ones per run, so that a value the
    # browser echoes back from a dropdown of the previous run can never
    # change the record), and without a default: the App calls a
    # dropdown's on_change when its default differs from its value. A
    # handler refreshes only when the value changes.

    def _set(self, ctx, name, value, **reset):
        rec = _record(ctx)
        if value is None or rec.get(name) == value:
            return UNCHANGED
        rec[name] = value
        rec.update(reset)
        self._refresh(ctx)

    def on_change_run(self, ctx):
        """A run button (``params["run"]``)."""
        run = ctx.params.get("run")
        if run is not None and run == _record(ctx).get("run"):
            return UNCHANGED
        return self._set(ctx, "run", run, y_field=None)

    def on_change_score(self, ctx):
        return self._set(ctx, "score", ctx.params.get("value"))

    def on_change_y_field(self, ctx):
        return self._set(ctx, "y_field", ctx.params.get("value"))

    def on_change_truth_field(self, ctx):
        value = ctx.params.get("value") or None
        rec = _record(ctx)
        if value == rec.get("truth_field"):
            return UNCHANGED
        rec["truth_field"] = value
        self._refresh(ctx)

    def on_reset_view(self, ctx):
        ctx.ops.clear_view()

    # ------------------------------------------------------------- clicks

    def on_histogram_click(self, ctx):
        """Opens the samples of the clicked bar (and trace: clean /
        corrupted), highest score first."""

        state = _record(ctx)
        edges = state.get("hist_edges") or []
        idx = ctx.params.get("idx")
        if idx is None or not state.get("hist_field") or not 0 <= int(
            idx
        ) < len(edges) - 1:
            return
        idx = int(idx)
        field = state["hist_field"]
        lo, hi = edges[idx], edges[idx + 1]
        upper = F(field) <= hi if idx == len(edges) - 2 else F(field) < hi
        view = ctx.view.match((F(field) >= lo) & upper)
        trace = ctx.params.get("trace")
        if state.get("hist_split") and trace in ("clean", "corrupted"):
            flag = F(state["hist_split"]) == True  # noqa: E712
            view = view.match(flag if trace == "corrupted" else ~flag)
        ctx.ops.set_view(view=view.sort_by(field, reverse=True))

    def on_scatter_click(self, ctx):
        """Opens the clicked sample."""
        sample_id = ctx.params.get("id")
        if sample_id:
            ctx.ops.set_view(view=ctx.dataset.select([sample_id]))

    def on_scatter_select(self, ctx):
        """Opens the lasso / box-selected samples."""
        ids = [p.get("id") for p in ctx.params.get("data") or []
               if isinstance(p, dict) and p.get("id")]
        if ids:
            ctx.ops.set_view(view=ctx.dataset.select(ids, ordered=True))

    # --------------------------------------------------------------- data

    def _refresh(self, ctx):
        """Recomputes every plot; the panel's record and data are
        replaced once at the end (the panel state is not written)."""
        rec = _record(ctx)
        s = dict(rec)
        s["view_key"] = _view_key(ctx.view) if ctx.view is not None else None
        rev = s["rev"] = int(s.get("rev") or 0) + 1
        runs = (curvature_runs(ctx.dataset, complete=True)
                if ctx.dataset is not None else [])
        s["runs"] = runs
        if not runs:
            s["run"] = None
            _replace(rec, s)
            ctx.ops.set_panel_data({})
            return
        if s.get("run") not in runs:
            evals = [r for r in runs if is_evaluation(ctx.dataset, r)]
            s["run"] = evals[0] if evals else runs[0]
        key = s["run"]
        is_eval = is_evaluation(ctx.dataset, key)
        s["is_evaluation"] = is_eval
        if s.get("score") not in SCORE_CHOICES:
            s["score"] = "curvature"
        numeric = [f for f in _numeric_fields(ctx.dataset) if f != key]
        s["numeric_fields"] = numeric
        if s.get("y_field") not in numeric:
            default = f"{key}_csl"
            s["y_field"] = default if default in numeric else (
                numeric[0] if numeric else None)
        if is_eval:
            truth = f"{key}_corrupted"
            s["bool_fields"] = []
        else:
            s["bool_fields"] = _bool_fields(ctx.dataset)
            if s.get("truth_field") not in s["bool_fields"]:
                s["truth_field"] = None
            truth = s["truth_field"]
        s["hist_split"] = truth

        data = gather(ctx.dataset, key,
                      corrupted_field=None if is_eval else truth)
        data["duplicates"] = duplicates_info(ctx.dataset, key)
        histogram = _histogram(ctx.view, key, s, truth)
        scatter = _scatter(ctx.view, key, s, truth)
        s["has_truth"] = data["corrupted"] is not None
        data["saved_views"] = set(ctx.dataset.list_saved_views())
        s["summary_text"] = _summary_text(data)
        s["has_review"] = bool(data.get("review"))
        _replace(rec, s)
        # each refresh writes its plots under new names: the App merges
        # the panel data over the panel state it shows, which would keep
        # the previous run's extra traces (lists merge element by element)
        ctx.ops.set_panel_data({
            # what the dropdowns show, at their paths (the App shows the
            # panel data over the panel state)
            "controls": {
                "score_menu": s["score"],
                f"y_menu_{key}": s["y_field"],
                f"truth_menu_{key}": s.get("truth_field"),
            },
            _slot("histogram", rev): histogram,
            _slot("roc", rev): _roc_traces(data),
            _slot("epochs", rev): _epoch_traces(data),
            _slot("metrics", rev): _metric_rows(data),
            _slot("view_review", rev): _view_rows(data),
            _slot("scatter", rev): scatter,
        })

    # ------------------------------------------------------------- render

    def render(self, ctx):
        panel = types.Object()
        state = _State(_record(ctx))
        panel.md(
            "Finite-difference input-loss curvature tracked over training: "
            "high = memorized (mislabeled, atypical or conflicting) "
            "samples.",
            name="intro",
        )
        # rows of controls wrap (a 2-d grid) when the pane is narrow
        buttons = panel.grid("buttons", align_x="left", gap=1)
        buttons.btn("compute", label="Compute curvature", icon="play_arrow",
                    on_click=COMPUTE_URI, prompt=True, variant="contained",
                    componentsProps=_AUTO_WIDTH)
        buttons.btn("evaluate", label="Evaluate on injected noise",
                    icon="science", on_click=EVALUATE_URI, prompt=True,
                    variant="outlined", componentsProps=_AUTO_WIDTH)
        buttons.btn("reset_view", label="Reset view", icon="restart_alt",
                    on_click=self.on_reset_view, variant="outlined",
                    componentsProps=_AUTO_WIDTH)
        runs = state.runs or []
        if not runs:
            panel.md(
                "No curvature run on this dataset yet: press *Compute "
                "curvature*, or *Evaluate on injected noise* to measure how "
                "well curvature finds flipped labels here.",
                name="empty",
            )
            return types.Property(panel, view=_page_view())
        key = state.run
        rev = state.rev or 0
        run_buttons = panel.grid("runs", align_x="left", gap=1)
        for run in runs:
            run_buttons.btn(
                f"run_{run}", label=run,
                variant="contained" if run == key else "outlined",
                on_click=self.on_change_run, params={"run": run},
                componentsProps=_AUTO_WIDTH)
        controls = panel.grid("controls", align_x="left", gap=2)
        _menu(controls, "score_menu", "Histogram of", SCORE_CHOICES,
              state.score, self.on_change_score)
        if state.numeric_fields:
            _menu(controls, f"y_menu_{key}", "Scatter: curvature vs",
                  state.numeric_fields, state.y_field,
                  self.on_change_y_field)
        if not state.is_evaluation and state.bool_fields:
            _menu(controls, f"truth_menu_{key}", "Known-bad field",
                  state.bool_fields, state.truth_field,
                  self.on_change_truth_field)
        if state.summary_text:
            panel.md(state.summary_text, name="summary")
        score = state.score or "curvature"
        panel.plot(
            _slot("histogram", rev),
            layout={
                "title": _title(f"{score} in the current view (click a "
                                "bar to open it)"),
                "barmode": "overlay",
                "xaxis": {"title": _title(score)},
                "yaxis": {"title": _title("samples")},
                "showlegend": True,
                "height": 320,
                "margin": {"t": 48},
            },
            on_click=self.on_histogram_click,
        )
        if state.has_truth:
            panel.plot(
                _slot("roc", rev),
                layout={
                    "title": _title("ROC of every score (AUROC)"),
                    "xaxis": {"title": _title("false-positive rate"),
                              "range": [0, 1]},
                    "yaxis": {"title": _title("true-positive rate"),
                              "range": [0, 1.02]},
                    "showlegend": True,
                    "height": 360,
                    "margin": {"t": 48},
                },
                )
            table = types.TableView()
            for col, label in (("score", "Score"), ("auroc", "AUROC"),
                               ("ap", "AP"), ("fpr95", "FPR@95%TPR"),
                               ("precision_at_k", "P@k")):
                table.add_column(col, label=label)
            panel.list(_slot("metrics", rev), types.Object(), view=table,
                       label="Detection metrics (mean ± std over seeds)")
        if state.has_review:
            views = types.TableView()
            for col, label in (("view", "View"), ("size", "Samples"),
                               ("positives", "Flipped in it"),
                               ("precision", "Precision"),
                               ("recall", "Recall of flips")):
                views.add_column(col, label=label)
            panel.list(_slot("view_review", rev), types.Object(), view=views,
                       label="How far to trust the views: each view on the "
                       "injected flips")
        panel.plot(
            _slot("epochs", rev),
            layout={
                "title": _title(
                    "AUROC of each scored epoch's curvature" if
                    state.has_truth else "Mean curvature per scored epoch"
                ),
                "xaxis": {"title": _title("epoch")},
                "yaxis": {"title": _title(
                    "AUROC" if state.has_truth else "mean curvature")},
                "height": 300,
                "margin": {"t": 48},
            },
        )
        panel.plot(
            _slot("scatter", rev),
            layout={
                "title": _title(f"curvature vs {state.y_field}"),
                "xaxis": {"title": _title(key)},
                "yaxis": {"title": _title(state.y_field or "")},
                "showlegend": True,
                "height": 380,
                "margin": {"t": 48},
            },
            on_click=self.on_scatter_click,
            on_selected=self.on_scatter_select,
        )
        return types.Property(panel, view=_page_view())


#: what a handler returns when it changed nothing (no re-render)
UNCHANGED = object()

#: handlers that may return :data:`UNCHANGED`
QUIET_HANDLERS = ("on_change_view", "on_change_run", "on_change_score",
                  "on_change_y_field", "on_change_truth_field")


#: dropdown handlers; the App calls one twice at once for one choice
MENU_HANDLERS = QUIET_HANDLERS[1:]

#: seconds within which the same dropdown call is a repeat
REPEAT_WINDOW = 5.0

_recent_calls = {}
_recent_lock = threading.Lock()


def _repeated(dataset_name, params, rev):
    """Whether a dropdown call with these params (dataset, panel, handler,
    value) and the panel's refresh number ``rev`` came in the last
    :data:`REPEAT_WINDOW` seconds (the App sends each choice twice: a
    second refresh would redraw every plot)."""
    key = (dataset_name, params.get("panel_id"), params.get("__method__"),
           params.get("path"), repr(params.get("value")),
           repr(params.get("run")), rev)
    now = time.monotonic()
    with _recent_lock:
        for old in [k for k, t in _recent_calls.items()
                    if now - t > REPEAT_WINDOW]:
            del _recent_calls[old]
        if key in _recent_calls:
            return True
        _recent_calls[key] = now
    return False


def _menu(parent, name, label, choices, current, on_change,
          unset="(none)"):
    """Adds a dropdown of ``choices`` named ``name`` to ``parent``.

    The dropdown shows the panel state at ``name``; its placeholder names
    ``current`` too (``unset`` when None), so that it says what the panel
    shows even when the App mounts it before that state arrives. No
    default: the App echoes a default that differs from the dropdown's
    value back to ``on_change``."""
    view = types.DropdownView(
        label=label, placeholder=unset if current is None else str(current),
        componentsProps=_AUTO_WIDTH)
    for choice in choices:
        view.add_choice(choice, label=choice)
    parent.enum(name, view.values(), view=view, on_change=on_change)


#: a row item as wide as its content (the grid's default is the full row)
_AUTO_WIDTH = {"item": {"sx": {"width": "auto"}}}


def _page_view():
    """The panel's vertical layout, one column as wide as the pane: its
    content never widens it (the App sizes the plots to the panel's
    width, which otherwise kept its widest content after a resize)."""
    return types.GridView(
        orientation="vertical", gap=2, padding=1,
        componentsProps={"grid": {"sx": {
            "gridTemplateColumns": "minmax(0, 1fr)"}}})


def _slot(name, rev):
    """The panel-data path of a plot in refresh number ``rev``."""
    return f"{name}_{rev}"


def _view_key(view):
    """A string that changes when the App's view changes."""

    stages = view._serialize() if hasattr(view, "_serialize") else []
    return json.dumps(stages, sort_keys=True, default=str)


#: most panels whose records are kept (the oldest are dropped)
MAX_PANELS = 64

_records = OrderedDict()
_records_lock = threading.Lock()

#: dropdown state paths and the record entries they seed when a panel has
#: no record yet (e.g. after the App server restarted)
_SEEDS = {"score_menu": "score"}


def _record(ctx):
    """The server-side record of the panel calling (dataset, panel id):
    a dict of what it shows (``run``, ``score``, ``y_field``,
    ``truth_field``, ``view_key``, ``rev``, click data ...), created empty
    (seeded from the dropdowns' panel state) on first use."""
    key = (ctx.dataset_name, ctx.params.get("panel_id"))
    with _records_lock:
        rec = _records.get(key)
        if rec is None:
            rec = _records[key] = {}
            controls = ctx.panel.state.get("controls") or {}
            for path, name in _SEEDS.items():
                if controls.get(path) is not None:
                    rec[name] = controls[path]
            while len(_records) > MAX_PANELS:
                _records.popitem(last=False)
        else:
            _records.move_to_end(key)
        return rec


def panel_record(dataset_name, panel_id):
    """A copy of the record of panel ``panel_id`` on ``dataset_name``
    (empty when it has none), for tests and debugging."""
    with _records_lock:
        return dict(_records.get((dataset_name, panel_id)) or {})


def _replace(rec, s):
    """Replaces the contents of record ``rec`` by ``s``."""
    rec.clear()
    rec.update(s)


class _State:
    """Attribute access to a record (None when missing), for render."""

    def __init__(self, rec):
        self._rec = rec

    def __getattr__(self, name):
        return self._rec.get(name)


def _histogram(view, key, s, truth):
    """Bar traces of the chosen score in ``view`` (clean / corrupted when
    known); records the bin edges in ``s`` for clicks."""

    field = _score_field(key, s["score"])
    s["hist_field"], s["hist_edges"] = None, []
    if field not in view.get_field_schema():
        return []
    view = view.exists(field)
    columns = view.values([field] + ([truth] if truth else []))
    values = np.array(columns[0], dtype=np.float64)
    finite = np.isfinite(values)
    s["hist_field"] = field
    if not finite.any():
        return []
    edges = np.histogram_bin_edges(values[finite], bins=BINS)
    s["hist_edges"] = edges.tolist()
    centres = ((edges[:-1] + edges[1:]) / 2).tolist()
    width = float(edges[1] - edges[0])
    groups = [("samples", finite)]
    if truth:
        flags = np.array([bool(v) for v in columns[1]], dtype=bool)
        groups = [("clean", finite & ~flags), ("corrupted", finite & flags)]
    traces = []
    for name, mask in groups:
        counts, _ = np.histogram(values[mask], bins=edges)
        traces.append({
            "type": "bar",
            "name": name,
            "x": centres,
            "y": counts.tolist(),
            "width": width,
            "opacity": 0.7 if truth else 1.0,
            "marker": {"color": "#d62728" if name == "corrupted"
                       else "#1f77b4"},
        })
    return traces


def _scatter(view, key, s, truth):
    """Marker traces of curvature against ``s["y_field"]`` in ``view``,
    with sample ids for clicks."""

    y_field = s.get("y_field")
    s["scatter_points"] = 0
    if not y_field:
        return []
    view = view.exists(key).exists(y_field)
    fields = ["id", key, y_field] + ([truth] if truth else [])
    columns = view.values(fields)
    ids = np.array(columns[0], dtype=object)
    x = np.array(columns[1], dtype=np.float64)
    y = np.array(columns[2], dtype=np.float64)
    flags = (np.array([bool(v) for v in columns[3]], dtype=bool) if truth
             else np.zeros(len(ids), bool))
    keep = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if len(keep) > MAX_POINTS:
        rng = np.random.default_rng(0)
        keep = np.sort(rng.choice(keep, MAX_POINTS, replace=False))
    s["scatter_points"] = int(len(keep))
    groups = ([("clean", ~flags), ("corrupted", flags)] if truth
              else [("samples", np.ones(len(ids), bool))])
    traces = []
    for name, mask in groups:
        sel = keep[mask[keep]]
        traces.append({
            "type": "scattergl" if len(keep) > 1000 else "scatter",
            "mode": "markers",
            "name": name,
            "x": x[sel].tolist(),
            "y": y[sel].tolist(),
            "ids": [str(i) for i in ids[sel]],
            "marker": {"size": 5, "opacity": 0.6,
                       "color": "#d62728" if name == "corrupted"
                       else "#1f77b4"},
        })
    return traces


def _roc_traces(data):
    traces = []
    summary = data.get("summary") or {}
    for name, c in (data.get("roc") or {}).items():
        auroc = summary.get(name, {}).get("auroc", {}).get("mean")
        traces.append({
            "type": "scatter",
            "mode": "lines",
            "name": f"{name} ({auroc:.3f})" if auroc is not None else name,
            "x": c["fpr"],
            "y": c["tpr"],
            "line": {"width": 3 if name == "curvature" else 1.5},
        })
    if traces:
        traces.append({"type": "scatter", "mode": "lines", "name": "chance",
                       "x": [0, 1], "y": [0, 1],
                       "line": {"dash": "dot", "color": "gray"}})
    return traces


def _epoch_traces(data):

    if data.get("epoch_auroc"):
        mean = [None if (v is None or math.isnan(v)) else v
                for v in data["epoch_auroc"]["mean"]]
        std = [0.0 if (v is None or math.isnan(v)) else v
               for v in data["epoch_auroc"]["std"]]
        return [{
            "type": "scatter",
            "mode": "lines+markers",
            "name": "curvature AUROC",
            "x": data["epochs"],
            "y": mean,
            "error_y": {"type": "data", "array": std, "visible": True},
        }]
    return [{
        "type": "scatter",
        "mode": "lines+markers",
        "name": "mean curvature",
        "x": data["epochs"],
        "y": data["epoch_mean"],
    }]


def _metric_rows(data):
    summary = data.get("summary") or {}
    return [
        {
            "score": name,
            **{m: _fmt(row.get(m)) for m in ("auroc", "ap", "fpr95",
                                              "precision_at_k")},
        }
        for name, row in summary.items()
    ]


def _view_label(data, suffix):
    """The saved view ``<key>_<suffix>`` when the dataset has it, else
    what the view is in words (an evaluation builds a run's views to
    measure them but saves only its corrupted-samples view)."""
    name = f"{data['key']}_{suffix}"
    if name in data.get("saved_views", ()):
        return name
    return suffix.replace("_", " ") + " (as a run saves it)"


def _view_rows(data):
    review = data.get("review") or {}

    def cell(v, digits=2):
        return "-" if v is None else f"{v:.{digits}f}"

    return [
        {"view": _view_label(data, name), "size": cell(v["size"], 0),
         "positives": cell(v["positives"], 0),
         "precision": cell(v["precision"]), "recall": cell(v["recall"])}
        for name, v in (review.get("views") or {}).items()
    ]


def _estimate_text(data):
    """The run's estimate of its wrong labels, as a sentence."""
    review = data.get("label_review") or {}
    if review.get("estimated_errors") is None:
        return ""
    name = f"{data['key']}_likely_mislabeled"
    size = (f"the size of the view {name}"
            if name in data.get("saved_views", ()) else
            "the size a run's likely-mislabeled view has")
    judged = verdict_sentence(review)
    return (f" Estimated wrong labels: **{review['estimated_errors']}** "
            f"({size}; "
            f"{review.get('estimator', 'aum_mixture').replace('_', ' ')})."
            + (f" {judged}" if judged else ""))


def _summary_text(data):
    n = len(data["sample_ids"])
    if data["is_evaluation"]:
        m = (data["summary"] or {}).get("curvature", {}).get("auroc", {})
        review = data.get("review") or {}
        text = (
            f"Evaluation **{data['key']}**: {n} samples, "
            f"{int(data['corrupted'].sum())} labels flipped "
            f"({data['kind']} noise {data['noise']:g}, seeds "
            f"{data['seeds']}); curvature AUROC {_fmt(m)}."
        )
        if review.get("suggested_accuracy") is not None:
            text += (f" Suggested labels right on "
                     f"{review['suggested_accuracy']:.0%} of the flipped "
                     f"samples.")
        return text + _estimate_text(data)
    text = f"Run **{data['key']}**: {n} samples." + _estimate_text(data)
    if data["corrupted"] is not None:
        m = data["summary"]["curvature"]["auroc"]
        text += (f" {int(data['corrupted'].sum())} known-bad; curvature "
                 f"AUROC {_fmt(m)}.")
    return text + _duplicates_text(data.get("duplicates"))


def _duplicates_text(dups):
    """One sentence on the run's duplicate search (method and threshold
    it chose, what it found), or ""."""
    if not dups:
        return ""
    how = dups["method"]
    if dups.get("threshold") is not None:
        how += f", threshold {dups['threshold']:.3g}"
    if dups.get("ratio"):
        how += f", ratio test {dups['ratio']:g}"
    return (f" Duplicate search ({how}): {dups['num_conflict_groups']} "
            f"conflicting groups, {dups['num_conflict_samples']} samples.")


PANELS = (CurvaturePanel,)

