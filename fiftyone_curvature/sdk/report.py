"""Static report of a run: PNG plots, a contact sheet and a metrics table."""

import hashlib
import io
import json
import os

import numpy as np

from ..engine.safe_files import ensure_dir, write_bytes, write_text

from ..engine.dynamics import SCORES, suspicion
from ..engine.metrics import (
    CURVE_POINTS, METRICS, detection_metrics, epoch_aurocs, pr_on_grid,
    roc_on_grid,
)
from .evaluation_runs import SCORE_NAMES, CorruptionEvaluationResults

#: the files :func:`write_report` can write
REPORT_FILES = {
    "roc": "roc.png",
    "pr": "pr.png",
    "histograms": "histograms.png",
    "epochs": "epoch_auroc.png",
    "contact_sheet": "top_curvature.png",
    "metrics": "metrics.json",
    "readme": "README.md",
}

#: the report's record of the files it wrote in a folder (name -> sha256
#: of the content it wrote): a file not in it, or changed since, is never
#: overwritten
MANIFEST = ".fiftyone-curvature-report.json"


def gather(samples, key, corrupted_field=None):
    """Collects what a report or the panel shows for a run.

    Args:
        samples: the collection of the run
        key: a curvature run or corruption evaluation key
        corrupted_field (None): for a plain curvature run, a boolean field
            marking the known-bad samples (e.g. the demo's ``flipped``);
            ignored for an evaluation, which knows its corrupted samples

    Returns:
        a dict with ``key``, ``is_evaluation``, ``sample_ids`` (N,),
        ``curvature`` (N,) (higher = more likely memorized), ``scores``
        (name -> (N,) oriented higher = more suspicious, first seed),
        ``corrupted`` ((N,) bool of the first seed, or None), ``summary``
        (score -> metric -> mean/std/values, or None), ``roc`` / ``pr``
        (mean curves per score, or {}), ``epochs`` (scored epochs),
        ``epoch_auroc`` ({"mean", "std"} per scored epoch, or None),
        ``epoch_mean`` (mean curvature per scored epoch), ``seeds``
    """
    results = samples.load_brain_results(key)
    out = _run_basics(results, key)
    if out["is_evaluation"]:
        out.update(_evaluation_data(results))
        return out
    dataset = samples._root_dataset
    view = dataset.select(out["sample_ids"], ordered=True)
    out["scores"] = _field_scores(view, key, out["curvature"])
    out.update(corrupted=None, summary=None, roc={}, pr={},
               epoch_auroc=None)
    if corrupted_field is not None:
        out.update(_known_bad_data(view, corrupted_field, out["scores"],
                                   results))
    return out


def _run_basics(results, key):
    """What every run shows: ids, curvature, scored epochs."""
    return {
        "key": key,
        "is_evaluation": isinstance(results, CorruptionEvaluationResults),
        "label_field": results.config.label_field,
        "sample_ids": list(results.sample_ids),
        "curvature": np.asarray(results.curvature, dtype=np.float64),
        "epochs": list(results.scored_epochs),
        "epoch_mean": np.nanmean(results.curvature_epochs, axis=0).tolist()
        if results.curvature_epochs.size else [],
        "seeds": list(getattr(results, "seeds", [])),
        "label_review": dict(getattr(results, "label_review", {}) or {}),
    }


def _evaluation_data(results):
    """Scores, injected flags, metrics and curves of an evaluation."""
    return {
        "scores": {name: results.suspicion(name, 0)
                   for name in results.score_names},
        "corrupted": results.corrupted[0],
        "summary": results.summary(),
        "roc": results.roc_curves(),
        "pr": results.pr_curves(),
        "epoch_auroc": results.epoch_auroc_summary(),
        "noise": results.config.noise,
        "kind": results.config.kind,
        "review": results.review_summary(),
    }


def _field_scores(view, key, curvature):
    """Curvature and the run's dynamics-score fields of ``view``, each
    oriented higher = more suspicious."""
    schema = view.get_field_schema()
    scores = {"curvature": curvature}
    for name in SCORES:
        field = f"{key}_{name}"
        if field in schema:
            values = view.values(field)
            scores[name] = suspicion(name, np.array(
                [np.nan if v is None else v for v in values], np.float64))
    return scores


def _known_bad_data(view, corrupted_field, scores, results):
    """Metrics, curves and per-epoch AUROC of a plain run against a
    boolean field of known-bad samples."""
    if corrupted_field not in view.get_field_schema():
        raise ValueError(f"No field {corrupted_field!r}")
    corrupted = np.array([bool(v) for v in view.values(corrupted_field)])
    summary = {}
    for name in SCORE_NAMES:
        if name in scores:
            m = detection_metrics(corrupted, scores[name])
            summary[name] = {
                metric: {"mean": m[metric], "std": 0.0 if m[metric]
                         is not None else None, "values": [m[metric]]}
                for metric in METRICS
            }
    roc, pr = _single_curves(corrupted, scores)
    return {
        "corrupted": corrupted,
        "summary": summary,
        "roc": roc,
        "pr": pr,
        "epoch_auroc": {
            "epochs": list(results.scored_epochs),
            "mean": epoch_aurocs(corrupted, results.curvature_epochs),
            "std": [0.0] * len(results.scored_epochs),
        },
    }


def _single_curves(corrupted, scores):
    grid = np.linspace(0.0, 1.0, CURVE_POINTS)
    roc, pr = {}, {}
    for name, values in scores.items():
        tpr = roc_on_grid(corrupted, values, grid)
        precision = pr_on_grid(corrupted, values, grid)
        if tpr is not None:
            roc[name] = {"fpr": grid.tolist(), "tpr": tpr.tolist(),
                         "tpr_std": [0.0] * len(grid)}
        if precision is not None:
            pr[name] = {"recall": grid.tolist(),
                        "precision": precision.tolist(),
                        "precision_std": [0.0] * len(grid)}
    return roc, pr


def _figure(width=6.4, height=4.8):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path):
    """Writes ``fig`` as a PNG to ``path`` atomically (an exclusive
    temporary file renamed into place, never through a symlink)."""
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return write_bytes(path, buf.getvalue())


def _curve_label(name, summary):
    if summary and name in summary:
        m = summary[name]["auroc"]
        if m["mean"] is not None:
            return f"{name} ({m['mean']:.3f})"
    return name


def plot_roc(data, path):
    """ROC curves of every score (mean over seeds, ±std band)."""
    fig = _figure()
    ax = fig.add_subplot()
    for name, c in data["roc"].items():
        x, y = np.array(c["fpr"]), np.array(c["tpr"])
        lw = 2.5 if name == "curvature" else 1.0
        (line,) = ax.plot(x, y, lw=lw, label=_curve_label(name,
                                                          data["summary"]))
        std = np.array(c["tpr_std"])
        if std.any():
            ax.fill_between(x, y - std, y + std, alpha=0.15,
                            color=line.get_color())
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(f"ROC, finding corrupted samples ({data['key']}; AUROC)")
    ax.legend(fontsize=7, loc="lower right")
    return _save(fig, path)


def plot_pr(data, path):
    """Precision-recall curves of every score."""
    fig = _figure()
    ax = fig.add_subplot()
    for name, c in data["pr"].items():
        lw = 2.5 if name == "curvature" else 1.0
        label = name
        if data["summary"] and data["summary"][name]["ap"]["mean"] is not None:
            label = f"{name} ({data['summary'][name]['ap']['mean']:.3f})"
        ax.plot(c["recall"], c["precision"], lw=lw, label=label)
    if data["corrupted"] is not None:
        ax.axhline(float(np.mean(data["corrupted"])), color="k", ls=":",
                   lw=0.8)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Precision-recall ({data['key']}; AP)")
    ax.legend(fontsize=7, loc="upper right")
    return _save(fig, path)


def plot_histograms(data, path, names=None):
    """Histograms of curvature (and other scores), clean vs corrupted when
    known."""
    names = names or ["curvature"] + [
        n for n in ("csl", "aum", "final_loss") if n in data["scores"]
    ]
    fig = _figure(4.0 * len(names), 3.6)
    corrupted = data["corrupted"]
    for i, name in enumerate(names):
        ax = fig.add_subplot(1, len(names), i + 1)
        values = np.asarray(data["scores"][name], dtype=np.float64)
        finite = np.isfinite(values)
        bins = np.histogram_bin_edges(values[finite], bins=40)
        if corrupted is None:
            ax.hist(values[finite], bins=bins, color="C0")
        else:
            ax.hist(values[finite & ~corrupted], bins=bins, alpha=0.6,
                    label=f"clean ({int((~corrupted).sum())})",
                    color="C0", density=True)
            ax.hist(values[finite & corrupted], bins=bins, alpha=0.6,
                    label=f"corrupted ({int(corrupted.sum())})",
                    color="C3", density=True)
            ax.legend(fontsize=7)

        negated = name in SCORES and not SCORES[name][0]
        oriented = "" if name == "curvature" else " (higher = suspicious)"
        ax.set_title(f"{name}{oriented}", fontsize=9)
        ax.set_xlabel(f"-{name}" if negated else name)
    return _save(fig, path)


def plot_epochs(data, path):
    """Per scored epoch: curvature AUROC (mean ± std over seeds) when the
    corrupted samples are known, and the mean curvature."""
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    epochs = data["epochs"]
    if data["epoch_auroc"] is not None:
        mean = np.array(data["epoch_auroc"]["mean"], dtype=np.float64)
        std = np.array(data["epoch_auroc"]["std"], dtype=np.float64)
        ax.plot(epochs, mean, "o-", color="C3", label="AUROC of the epoch")
        ax.fill_between(epochs, mean - std, mean + std, color="C3",
                        alpha=0.2)
        ax.set_ylabel("AUROC (curvature of that epoch)")
        ax.axhline(0.5, color="k", ls=":", lw=0.8)
        ax.set_title("When does curvature find the corrupted samples?")
        twin = ax.twinx()
        twin.plot(epochs, data["epoch_mean"], color="C0", lw=1,
                  label="mean curvature")
        twin.set_ylabel("mean curvature", color="C0")
    else:
        ax.plot(epochs, data["epoch_mean"], "o-", color="C0")
        ax.set_ylabel("mean curvature")
        ax.set_title("Mean curvature per scored epoch")
    ax.set_xlabel("epoch")
    return _save(fig, path)


def contact_sheet(samples, data, path, top_k=36, columns=6):
    """The ``top_k`` highest-curvature images with their label, the
    network's prediction and, when known, whether the label was corrupted
    (red)."""
    from PIL import Image

    key = data["key"]
    order = np.argsort(-np.nan_to_num(data["curvature"], nan=-np.inf),
                       kind="stable")[:top_k]
    ids = [data["sample_ids"][i] for i in order]
    dataset = samples._root_dataset
    view = dataset.select(ids, ordered=True)
    label_field = (f"{key}_label" if data["is_evaluation"]
                   else data["label_field"])
    schema = dataset.get_field_schema()
    paths = view.values("filepath")
    labels = view.values(f"{label_field}.label")
    preds = (view.values(f"{key}_prediction.label")
             if f"{key}_prediction" in schema else [None] * len(ids))
    rows = max(1, int(np.ceil(len(ids) / columns)))
    fig = _figure(1.6 * columns, 1.9 * rows)
    for j, i in enumerate(order):
        ax = fig.add_subplot(rows, columns, j + 1)
        try:
            with Image.open(paths[j]) as im:
                im = im.convert("RGB") if im.mode not in ("L", "RGB") else im
                a = np.asarray(im)
        except OSError:
            a = np.zeros((8, 8))
        ax.imshow(a, cmap="gray" if a.ndim == 2 else None,
                  interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        bad = data["corrupted"] is not None and bool(data["corrupted"][i])
        ax.set_title(
            f"#{j + 1} {data['curvature'][i]:.3g}\nlabel {labels[j]} "
            f"pred {preds[j]}",
            fontsize=7, color="C3" if bad else "black",
        )
    title = f"Top {len(ids)} by curvature ({key})"
    if data["corrupted"] is not None:
        title += ": red = corrupted label"
    fig.suptitle(title, fontsize=9)
    return _save(fig, path)


def write_report(samples, key, directory, corrupted_field=None, top_k=36):
    """Writes a static report of a run to ``directory``.

    Files (see :data:`REPORT_FILES`): ``histograms.png`` (curvature and
    other scores, clean vs corrupted when known), ``epoch_auroc.png``
    (per-epoch AUROC of the curvature, or mean curvature per epoch),
    ``top_curvature.png`` (contact sheet of the ``top_k`` highest-curvature
    images with label and prediction), ``metrics.json`` and ``README.md``;
    when corrupted samples are known (an evaluation, or
    ``corrupted_field``) also ``roc.png`` and ``pr.png``. Matplotlib is
    used through its Agg canvas (no display, no pyplot state).

    Args:
        samples: the collection of the run
        key: a curvature run or corruption evaluation key
        directory: output folder (created with the user's umask)
        corrupted_field (None): for a plain curvature run, a boolean field
            of known-bad samples (the demo's ``flipped``)
        top_k (36): images on the contact sheet

    Returns:
        a dict name -> path of the files written

    Raises:
        ValueError: ``directory`` is owned or writable by another user, or
            holds a file of the report's names that no report wrote (or
            that changed since): nothing is overwritten (see
            :func:`check_report_folder`)
    """
    directory = ensure_dir(directory, "report folder")
    data = gather(samples, key, corrupted_field=corrupted_field)
    names = [n for n in REPORT_FILES if data["roc"] or n not in ("roc",
                                                                  "pr")]
    manifest = _Manifest(directory)
    manifest.check([REPORT_FILES[n] for n in names])

    def p(name):
        return os.path.join(directory, REPORT_FILES[name])

    written = {}

    def record(name, path):
        written[name] = path
        manifest.add(REPORT_FILES[name])

    if data["roc"]:
        record("roc", plot_roc(data, p("roc")))
        record("pr", plot_pr(data, p("pr")))
    record("histograms", plot_histograms(data, p("histograms")))
    record("epochs", plot_epochs(data, p("epochs")))
    record("contact_sheet", contact_sheet(samples, data, p("contact_sheet"),
                                          top_k=top_k))
    metrics = {
        "key": key,
        "evaluation": data["is_evaluation"],
        "n": len(data["sample_ids"]),
        "seeds": data["seeds"],
        "num_corrupted": (int(data["corrupted"].sum())
                          if data["corrupted"] is not None else None),
        "scores": data["summary"],
        "epoch_auroc": data["epoch_auroc"],
    }
    record("metrics", write_text(p("metrics"), json.dumps(
        metrics, indent=1, default=_json_default)))
    record("readme", write_text(p("readme"), _markdown(data, written)))
    return written


def check_report_folder(directory, names=None):
    """Raises ValueError unless a report may write to ``directory``: it
    is (or can be created as) a folder of this user that others cannot
    write, and none of the report files ``names`` (default: all of
    :data:`REPORT_FILES`) exists there unless a report wrote it (checked
    before a long run, e.g. by the CLI's ``--report``)."""
    directory = ensure_dir(directory, "report folder")
    _Manifest(directory).check(list(names or REPORT_FILES.values()))


def _sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Manifest:
    """The files a report wrote in ``directory`` (:data:`MANIFEST`), by
    content: a report replaces only a file it wrote and nobody changed
    since."""

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, MANIFEST)
        self.files = {}
        if os.path.lexists(self.path):
            try:
                if os.path.islink(self.path):
                    raise ValueError("a symlink")
                with open(self.path) as f:
                    doc = json.load(f)
                self.files = dict(doc["files"])
            except (OSError, ValueError, KeyError, TypeError):
                raise ValueError(
                    f"{self.path!r} is not a report manifest this package "
                    "wrote; the report does not write into "
                    f"{directory!r}: choose an empty folder") from None

    def check(self, names):
        """Raises ValueError naming those of ``names`` that exist in the
        folder and were not written by a report (or changed since)."""
        foreign = []
        for name in names:
            path = os.path.join(self.directory, name)
            if not os.path.lexists(path):
                continue
            if (os.path.islink(path) or not os.path.isfile(path)
                    or self.files.get(name) != _sha256(path)):
                foreign.append(name)
        if foreign:
            raise ValueError(
                f"The report folder {self.directory!r} holds "
                f"{', '.join(sorted(foreign))}, not written by a report (or "
                "changed since); they are never overwritten: choose an empty "
                "folder, or move those files away")

    def add(self, name):
        """Records ``name`` (just written) with its content's hash."""
        self.files[name] = _sha256(os.path.join(self.directory, name))
        write_text(self.path, json.dumps({
            "written_by": "fiftyone_curvature.sdk.report.write_report",
            "files": self.files}, indent=1, sort_keys=True))


def _json_default(v):
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    raise TypeError(f"not JSON serializable: {type(v)}")


def _review_markdown(data):
    """The views' precision / recall of the flips (evaluations) and the
    run's estimate of its wrong labels, as markdown lines."""
    lines = []
    review = data.get("review")
    if review:

        def cell(v, digits=2):
            return "-" if v is None else f"{v:.{digits}f}"

        lines += ["", "| view | samples | flipped in it | precision | "
                  "recall of flips |", "|---|---|---|---|---|"]
        for name, v in review["views"].items():
            lines.append(f"| {data['key']}_{name} | {cell(v['size'], 0)} | "
                         f"{cell(v['positives'], 0)} | "
                         f"{cell(v['precision'])} | {cell(v['recall'])} |")
        lines += ["", f"Suggested label = true label on "
                  f"{cell(review['suggested_accuracy'])} of the flipped "
                  f"samples."]
    estimate = (data.get("label_review") or {}).get("estimated_errors")
    if estimate is not None:
        lines += ["", f"Estimated wrong labels: {estimate}"
                  + (f" (injected: {review['injected']:.0f})"
                     if review else "") + "."]
    return lines


def _markdown(data, written):
    lines = [f"# Curvature report: {data['key']}", ""]
    n = len(data["sample_ids"])
    if data["corrupted"] is not None:
        lines.append(
            f"{n} samples, {int(data['corrupted'].sum())} corrupted"
            + (f" ({data.get('kind')} noise {data.get('noise')}, seeds "
               f"{data['seeds']})" if data["is_evaluation"] else "")
            + ". Mean ± std over seeds; every score oriented higher = more "
            "suspicious."
        )
        lines += ["", "| score | AUROC | AP | FPR@95%TPR | P@k |",
                  "|---|---|---|---|---|"]
        for name, row in data["summary"].items():
            cells = []
            for metric in ("auroc", "ap", "fpr95", "precision_at_k"):
                m = row[metric]
                cells.append("-" if m["mean"] is None else
                             f"{m['mean']:.3f} ± {m['std']:.3f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    else:
        lines.append(f"{n} samples; no known corrupted samples, so no "
                     "detection metrics.")
    lines += _review_markdown(data)
    lines.append("")
    for name, path in written.items():
        if path.endswith(".png"):
            lines.append(f"![{name}]({os.path.basename(path)})")
    return "\n".join(lines) + "\n"
