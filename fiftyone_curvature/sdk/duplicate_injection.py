"""evaluate_duplicates: inject copies with other labels into a clone and
measure how well curvature, the training-dynamics scores and the duplicate
finder rank them (the literature's duplicate-with-conflicting-label
test)."""

import dataclasses
import os
import time

import numpy as np

from ..engine.config import TrackingConfig
from ..engine.constants import IMAGE_SIZE
from ..engine.copies import KINDS
from ..engine.dynamics import SCORES, suspicion
from ..engine.metrics import detection_metrics, format_summary_table, summarize
from ..engine.safe_files import ensure_dir, save_image
from .duplicate_runs import DEFAULT_THRESHOLDS
from .duplicates import find_duplicate_conflicts
from .fields import percentile_ranks, write_run_fields
from .images import get_classes, validate_label_field
from .options import check_samples, check_scoring, check_seeds
from .progress import Progress


#: the finders compared: name -> (method, key of their fields in the
#: working dataset)
FINDERS = {
    "aligned": ("aligned", "curvature"),
    "pixels": ("pixels", "curvature_pix"),
    "embeddings": ("embeddings", "curvature_emb"),
}

#: duplicate-finder rows of the evaluation table, besides curvature and the
#: training-dynamics scores (each oriented higher = more suspicious): the
#: negated conflict distance of each finder (aligned luminance, pixels, the
#: trained network's embeddings), and the aligned finder's flag with
#: curvature breaking ties
FINDER_SCORES = ("dup_aligned", "dup_pixels", "dup_embeddings",
                 "dup_flag_curvature")

#: JPEG quality range of the "reencode" copies
DEFAULT_QUALITY = (85, 95)


class DuplicateEvaluationResults:
    """What :func:`evaluate_duplicates` measured.

    Attributes:
        label_field: the label field the clean labels were read from
        num_images: images duplicated per seed and kind
        copies: copies injected per duplicated image
        kinds: the transformation kinds of the copies (see
            :data:`fiftyone_curvature.engine.copies.KINDS`)
        seeds: the S seeds
        num_samples: N + num_images * copies (samples trained on)
        metrics: dict score -> metric -> list of S floats (None where
            undefined); metrics as
            :func:`fiftyone_curvature.engine.metrics.detection_metrics`
        finder: per seed, a dict finder name (:data:`FINDERS`) -> counts
            (``injected_flagged``: injected copies in a conflicting group;
            ``sources_flagged``: their originals; ``others_flagged``:
            flagged samples neither injected nor sources, i.e. duplicates
            the data already had or false matches, and
            ``false_flag_rate`` = others_flagged / others; ``groups``;
            ``per_kind``: kind -> ``{"injected", "found", "recall"}``, a
            copy found = flagged in the same group as its source)
        seconds: per seed, wall time of ``train`` (training + curvature),
            each finder, ``total``
        config: the training configuration (dict), thresholds, quality
        datasets: names of the kept working datasets (empty unless
            ``keep_datasets``)
    """

    def __init__(self, label_field, num_images, copies, seeds, num_samples,
                 metrics, finder, seconds, config, datasets=None,
                 kinds=("reencode",)):
        self.label_field = label_field
        self.num_images = num_images
        self.copies = copies
        self.kinds = list(kinds)
        self.seeds = list(seeds)
        self.num_samples = num_samples
        self.metrics = metrics
        self.finder = finder
        self.seconds = seconds
        self.config = config
        self.datasets = list(datasets or [])

    @property
    def score_names(self):
        return list(self.metrics)

    def summary(self):
        """dict score -> metric -> ``{"mean", "std", "values"}``."""
        return summarize(self.metrics)

    def table(self, metrics=("auroc", "ap", "fpr95", "precision_at_k")):
        """The metrics table as text, ``mean ± std`` over seeds."""
        return format_summary_table(self.summary(), self.score_names,
                                    len(self.seeds), metrics)

    def kind_table(self):
        """Per finder and kind, the recall of the planted copies (mean
        over seeds), and per finder the false-flag rate among unrelated
        images.

        Returns:
            a dict finder -> ``{"recall": {kind: float}, "false_flag_rate":
            float}``
        """
        out = {}
        for name in FINDERS:
            per = [f[name] for f in self.finder if name in f]
            if not per:
                continue
            out[name] = {
                "recall": {
                    kind: float(np.mean([p["per_kind"][kind]["recall"]
                                         for p in per]))
                    for kind in self.kinds
                },
                "false_flag_rate": float(np.mean(
                    [p["false_flag_rate"] for p in per])),
            }
        return out

    def kind_text(self):
        """:meth:`kind_table` as text: one row per kind, recall per
        finder; the last row the false-flag rate."""
        table = self.kind_table()
        names = list(table)
        width = max([len("false flags (others)")] + [len(k)
                                                     for k in self.kinds])
        lines = ["kind".ljust(width) + "".join(f"{n:>12}" for n in names)]
        for kind in self.kinds:
            lines.append(kind.ljust(width) + "".join(
                f"{table[n]['recall'][kind]:>12.2f}" for n in names))
        lines.append("false flags (others)".ljust(width) + "".join(
            f"{table[n]['false_flag_rate']:>12.2%}" for n in names))
        return "\n".join(lines)

    def to_summary_dict(self):
        """A JSON-able summary."""
        return {
            "label_field": self.label_field,
            "num_images": self.num_images,
            "copies": self.copies,
            "kinds": self.kinds,
            "injected": self.num_images * self.copies * len(self.kinds),
            "finder_by_kind": self.kind_table(),
            "seeds": self.seeds,
            "n": self.num_samples,
            "scores": self.summary(),
            "finder": self.finder,
            "seconds": self.seconds,
            "config": self.config,
            "datasets": self.datasets,
        }


def evaluate_duplicates(
    samples,
    label_field,
    num_images=50,
    copies=1,
    seeds=(0,),
    kinds=None,
    quality=DEFAULT_QUALITY,
    threshold=None,
    embeddings_threshold=None,
    classes=None,
    image_size=IMAGE_SIZE,
    config=None,
    keep_datasets=False,
    work_dir=None,
    progress=None,
    **kwargs,
):
    """Injects realistic copies of some images with other labels and
    measures how well curvature, the training-dynamics scores and the
    duplicate finders rank the injected copies (the literature's
    duplicate-with-conflicting-label test), per kind of copy.

    The user's samples are never modified: each seed works on a
    non-persistent clone of ``samples`` (only the label field copied), to
    which, for each kind of ``kinds``, ``copies`` transformed copies
    (colour jitter, a shift, a crop and rescale, JPEG, blur, or
    combinations: :data:`fiftyone_curvature.engine.copies.KINDS`) of
    ``num_images`` randomly chosen images are added, each with a
    uniformly random OTHER label. A network is trained on the clone with
    curvature tracking and penultimate embeddings, and the finders of
    :data:`FINDERS` run on it. Positives are the injected copies; their
    originals (correct label) count as negatives, so a score that cannot
    tell a copy from its original tops out near 1 - num_images / N in
    AUROC and 0.5 in AP. ``results.kind_text()`` is the recall of each
    finder per kind and its false-flag rate among unrelated images.

    Scores (each oriented higher = more suspicious): ``curvature``, every
    score of :data:`fiftyone_curvature.engine.dynamics.SCORES`, and
    :data:`FINDER_SCORES`.

    Args:
        samples: a dataset or view of images with an fo.Classification
            field; every sample needs a label
        label_field: the (assumed clean) labels
        num_images (50): images duplicated per seed and kind (distinct
            sources across kinds)
        copies (1): copies per duplicated image, each with its own random
            other label
        seeds ((0,)): one injection + training per seed
        kinds (None): kinds of copies (None: every kind of
            :data:`fiftyone_curvature.engine.copies.KINDS`, re-encodes
            among them)
        quality ((85, 95)): inclusive JPEG quality range of the
            ``"reencode"`` copies
        threshold (None): aligned-finder threshold (None: from the data)
        embeddings_threshold (None): embedding-finder threshold
        classes (None): class names (None: the sorted labels)
        image_size (32): see :func:`fiftyone_curvature.sdk.images.prepare_data`
        config (None): a :class:`fiftyone_curvature.TrackingConfig` or dict
        keep_datasets (False): keep each seed's working dataset (persistent,
            named in ``results.datasets``) to inspect in the App, with the
            curvature fields and the ``curvature_duplicate_conflicts`` view
        work_dir (None): where the copies are written (None: a temporary
            folder, removed unless ``keep_datasets``)
        progress (None): None/True shows a progress bar (None follows
            ``fo.config.show_progress_bars``), False nothing, a callable
            receives the dicts of
            :class:`fiftyone_curvature.sdk.progress.Progress` (phases
            "load", "epoch", "duplicates")
        **kwargs: any :class:`fiftyone_curvature.TrackingConfig` field
            except ``seed``

    Returns:
        a :class:`DuplicateEvaluationResults`

    Raises:
        ValueError: an invalid option, too few images or classes
    """
    tracking = TrackingConfig.resolve(config, exclude=("seed",), **kwargs)
    tracking = dataclasses.replace(tracking, record_embeddings=True)
    check_scoring(tracking)
    seeds = check_seeds(seeds)
    if not (isinstance(copies, int) and copies >= 1):
        raise ValueError(f"copies must be an int >= 1, got {copies!r}")
    lo, hi = (int(q) for q in quality)
    if not 1 <= lo <= hi <= 100:
        raise ValueError(f"quality must be (lo, hi) in [1, 100], got "
                         f"{quality!r}")
    kinds = list(KINDS) if kinds is None else list(kinds)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ValueError(f"Unknown kinds {unknown or kinds}; valid ones are "
                         f"{list(KINDS)}")
    check_samples(samples, "Evaluations")
    validate_label_field(samples, label_field)
    most = len(samples) // len(kinds)
    if not (isinstance(num_images, int) and 1 <= num_images <= most):
        raise ValueError(
            f"num_images must be an int in [1, {most}] ({len(samples)} "
            f"samples for {len(kinds)} kind(s)), got {num_images!r}"
        )
    classes = get_classes(samples, label_field, classes)
    return _evaluate_duplicates(
        samples, label_field, num_images, copies, seeds, kinds, (lo, hi),
        threshold, embeddings_threshold, classes, image_size, tracking,
        keep_datasets, work_dir, progress,
    )


def _evaluate_duplicates(samples, label_field, num_images, copies, seeds,
                         kinds, quality, threshold, embeddings_threshold,
                         classes, image_size, tracking, keep_datasets,
                         work_dir, progress):
    import shutil
    import tempfile

    own_dir = work_dir is None
    folder = tempfile.mkdtemp(prefix="curvature-dups-") if own_dir else (
        work_dir)
    ensure_dir(folder, "work_dir")
    metrics, finder, seconds, kept, n_total = {}, [], [], [], None
    reporter = Progress(progress, tracking.epochs, seeds)
    try:
        with reporter:
            for s_index, seed in enumerate(seeds):
                reporter.start_seed(s_index)
                record = _evaluate_seed(
                    samples, label_field, num_images, copies, seed, kinds,
                    quality, threshold, embeddings_threshold, classes,
                    image_size, tracking, keep_datasets, folder, reporter,
                )
                n_total = record["n"]
                for name, row in record["metrics"].items():
                    per = metrics.setdefault(name, {})
                    for metric, value in row.items():
                        per.setdefault(metric, []).append(value)
                finder.append(record["finder"])
                seconds.append(record["seconds"])
                if record["dataset"]:
                    kept.append(record["dataset"])
    finally:
        if own_dir and not keep_datasets:
            shutil.rmtree(folder, ignore_errors=True)
    return DuplicateEvaluationResults(
        label_field, num_images, copies, seeds, n_total, metrics, finder,
        seconds,
        config={
            "tracking": dict(tracking.to_dict(), seed=None),
            "kinds": list(kinds),
            "quality": list(quality),
            "threshold": threshold,
            "pixels_threshold": DEFAULT_THRESHOLDS["pixels"],
            "embeddings_threshold": (
                DEFAULT_THRESHOLDS["embeddings"]
                if embeddings_threshold is None else embeddings_threshold
            ),
            "image_size": image_size,
        },
        datasets=kept,
        kinds=kinds,
    )


def _inject_copies(work, label_field, num_images, copies, seed, kinds,
                   quality, classes, folder):
    """Adds transformed copies with other labels to the working dataset
    (PNG files of the transformed pixels); returns the source sample ids
    and the kind of each new sample id."""
    import fiftyone as fo
    from PIL import Image

    from ..engine.copies import jpeg, make_copy, to_array, to_pil

    ids, paths, labels = work.values(
        ["id", "filepath", f"{label_field}.label"]
    )
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(ids), size=num_images * len(kinds),
                        replace=False)
    new = []
    for k, kind in enumerate(kinds):
        for i in chosen[k * num_images:(k + 1) * num_images]:
            others = [c for c in classes if c != labels[i]]
            with Image.open(paths[i]) as im:
                image = to_array(to_pil(im))
            for c in range(copies):
                if kind == "reencode":
                    pixels = to_array(jpeg(to_pil(image), rng, quality))
                else:
                    pixels = make_copy(image, kind, rng)
                path = os.path.join(
                    folder, f"seed{seed}_{ids[i]}_{kind}_{c}.png")
                save_image(path, to_pil(pixels))
                new.append(fo.Sample(
                    filepath=path,
                    injected_duplicate=True,
                    duplicate_source=ids[i],
                    duplicate_kind=kind,
                    **{label_field: fo.Classification(
                        label=others[int(rng.integers(len(others)))])},
                ))
    work.add_samples(new, progress=False)
    return {ids[i] for i in chosen}


def _evaluate_seed(samples, label_field, num_images, copies, seed, kinds,
                   quality, threshold, embeddings_threshold, classes,
                   image_size, tracking, keep, folder, reporter):
    """One seed: clone, inject copies, train, run both finders, measure."""
    import uuid

    from ..engine.training import train_and_track
    from .images import prepare_data

    start = time.perf_counter()
    name = f"curvature-dups-eval-{uuid.uuid4().hex[:8]}"
    work = samples.select_fields(label_field).clone(name)
    try:
        if keep:
            work.persistent = True
        sources = _inject_copies(work, label_field, num_images, copies,
                                 seed, kinds, quality, classes, folder)
        prepared = prepare_data(work, label_field, classes=classes,
                                image_size=image_size)
        t0 = time.perf_counter()
        result = train_and_track(
            prepared.inputs, prepared.targets,
            dataclasses.replace(tracking, seed=seed),
            num_classes=len(classes), progress=reporter.on_epoch,
        )
        train_s = time.perf_counter() - t0
        write_run_fields(work, "curvature", prepared, result)
        reporter.on_phase("duplicates")
        finders, finder_s = _run_finders(
            work, label_field, prepared.sample_ids, result.embeddings,
            threshold, embeddings_threshold,
        )
        injected, scores = _injection_scores(work, prepared.sample_ids,
                                             result)
        source = np.array([sid in sources for sid in prepared.sample_ids])
        copies_of = _copies(work, prepared.sample_ids)
        return {
            "n": len(prepared.sample_ids),
            "metrics": {n: detection_metrics(injected, v)
                        for n, v in scores.items()},
            "finder": {
                fname: _finder_counts(work, fname, res, prepared.sample_ids,
                                      injected, source, copies_of, kinds,
                                      -scores[f"dup_{fname}"])
                for fname, res in finders.items()
            },
            "seconds": dict(train=train_s, **finder_s,
                            total=time.perf_counter() - start),
            "dataset": name if keep else None,
        }
    finally:
        if not keep:
            work.delete()


def _run_finders(work, label_field, ids, embeddings, threshold,
                 embeddings_threshold):
    """Every finder of :data:`FINDERS` on the working dataset; returns
    their results and wall times by name."""
    options = {
        "aligned": dict(threshold=threshold),
        "pixels": dict(create_view=False),
        "embeddings": dict(embeddings=dict(zip(ids, embeddings)),
                           threshold=embeddings_threshold, exact=False,
                           create_view=False),
    }
    found, seconds = {}, {}
    for name, (method, key) in FINDERS.items():
        t0 = time.perf_counter()
        found[name] = find_duplicate_conflicts(
            work, label_field, key=key, method=method, progress=False,
            **options[name])
        seconds[name] = time.perf_counter() - t0
    return found, seconds


def _injection_scores(work, ids, result):
    """(N,) bool injected flags in the order of ``ids`` and every score
    (curvature, :data:`SCORES`, :data:`FINDER_SCORES`), each oriented
    higher = more suspicious."""
    row = {sid: i for i, sid in enumerate(ids)}
    back = np.argsort([row[i] for i in work.values("id")])
    injected = np.array(
        [bool(v) for v in work.values("injected_duplicate")])[back]

    def field(name):
        v = work.values(name)
        return np.array([np.nan if x is None else x for x in v],
                        float)[back]

    scores = {"curvature": np.asarray(result.curvature, np.float64)}
    for sname in SCORES:
        scores[sname] = suspicion(sname, result.scores[sname])
    for name, (_, key) in FINDERS.items():
        scores[f"dup_{name}"] = -field(f"{key}_duplicate_distance")
    flag = field(f"{FINDERS['aligned'][1]}_duplicate_conflict")
    scores["dup_flag_curvature"] = flag + 0.999 * percentile_ranks(
        result.curvature)
    return injected, scores


def _copies(work, ids):
    """Per injected copy (sample id): its source id and kind."""
    row_ids, sources, kinds = work.values(
        ["id", "duplicate_source", "duplicate_kind"])
    wanted = set(ids)
    return {sid: (src, kind) for sid, src, kind in
            zip(row_ids, sources, kinds) if src is not None and sid in wanted}


def _finder_counts(work, fname, res, ids, injected, source, copies_of,
                   kinds, dist):
    """What a finder flagged among the injected copies, their sources and
    the other samples; per kind, the copies found in one group with their
    source; the conflict distances that calibrate its threshold."""
    row = {sid: i for i, sid in enumerate(ids)}
    flagged = np.zeros(len(ids), bool)
    group_of = {}
    for g, members in enumerate(res.groups):
        for sid in members:
            flagged[row[sid]] = True
            group_of[sid] = g
    others = ~injected & ~source
    per_kind = {kind: {"injected": 0, "found": 0} for kind in kinds}
    for sid, (src, kind) in copies_of.items():
        per_kind[kind]["injected"] += 1
        if sid in group_of and group_of.get(src) == group_of[sid]:
            per_kind[kind]["found"] += 1
    for counts in per_kind.values():
        counts["recall"] = counts["found"] / max(counts["injected"], 1)
    return {
        "injected_flagged": int((flagged & injected).sum()),
        "injected": int(injected.sum()),
        "sources_flagged": int((flagged & source).sum()),
        "others_flagged": int((flagged & others).sum()),
        "false_flag_rate": float((flagged & others).sum()
                                 / max(int(others.sum()), 1)),
        "groups": len(res.groups),
        "threshold": res.threshold,
        "per_kind": per_kind,
        "injected_distance_median": _finite(np.nanmedian(dist[injected])),
        "injected_distance_max": _finite(np.nanmax(dist[injected])),
        "others_distance_min": _finite(
            np.nanmin(dist[others]) if others.any() else np.nan),
    }


def _finite(value):
    value = float(value)
    return value if np.isfinite(value) else None
