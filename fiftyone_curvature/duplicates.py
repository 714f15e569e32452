"""Duplicate images with conflicting labels: find them, show them, score.

The paper's most striking failure mode (CIFAR-100, ImageNet): the same
image appears more than once with different labels, and those samples
carry the highest curvature. :func:`find_duplicate_conflicts` groups
near-identical images (same bytes, or close in pixel / embedding space)
with fiftyone-brain's exact- and near-duplicate machinery and reports the
groups whose labels differ; :func:`evaluate_duplicates` injects re-encoded
copies with other labels into a clone and measures how well curvature, the
training-dynamics scores and the duplicate finder rank them.

The finder is a brain run of its own (type ``"duplicate_conflicts"``,
key ``<key>_duplicates``) so that ``delete_brain_run`` removes its fields
and saved view; ``key`` is the prefix of its fields and normally the key
of a curvature run, whose curvature orders the saved view.
"""

import logging
import os

import numpy as np

import fiftyone.core.brain as fob

logger = logging.getLogger(__name__)

#: how images are compared: "pixels" (downsampled, zero-mean, unit-norm
#: pixels), "embeddings" (given vectors, e.g. a curvature run's penultimate
#: features) or "exact" (file hash only)
METHODS = ("pixels", "embeddings", "exact")

#: default cosine-distance thresholds (after fiftyone-brain centres the
#: vectors on their mean). Pixels, measured on sklearn digits: JPEG
#: re-encodes at quality 85-95 lie below 0.004 and 8 -> 12 px resizes
#: below 0.006, while 99.9% of distinct digits are farther than 0.016 from
#: their nearest neighbour (0.024 to the nearest with another label); on a
#: CIFAR-10 subset re-encodes lie below 0.001 and distinct images with
#: another label above 0.09. Embeddings of a curvature run's final network
#: do not transfer as well: re-encodes up to 0.018 on digits, distinct
#: images down to 0.008 on CIFAR-10 (20 epochs); pixels is the default
DEFAULT_THRESHOLDS = {"pixels": 0.01, "embeddings": 0.01}

#: side of the images compared by the pixel method (smaller images keep
#: their size when they all agree, see
#: :func:`fiftyone_curvature.data.read_images`)
PIXEL_SIZE = 16

#: suffixes of the fields a finder writes (``<key>_<suffix>``)
FIELD_SUFFIXES = ("duplicate_group", "duplicate_conflict",
                  "duplicate_distance")

#: suffix of the saved view (``<key>_duplicate_conflicts``); also the
#: suffix registered in :data:`fiftyone_curvature.views.VIEW_BUILDERS`
VIEW_SUFFIX = "duplicate_conflicts"

#: neighbours searched for :func:`conflict_distances`
NEIGHBORS = 10


def run_key(key):
    """The brain-run key of the duplicate finder writing fields ``key_*``."""
    return f"{key}_duplicates"


def output_fields(key):
    """The sample fields a duplicate finder with prefix ``key`` writes:
    ``key_duplicate_group`` (int), ``key_duplicate_conflict`` (bool) and
    ``key_duplicate_distance`` (float)."""
    return [f"{key}_{s}" for s in FIELD_SUFFIXES]


def view_name(key):
    """Name of the saved view of conflicting duplicate groups."""
    return f"{key}_{VIEW_SUFFIX}"


# --------------------------------------------------------------------------
# pure numpy helpers


def pixel_features(images):
    """Pixel vectors for near-duplicate search.

    Args:
        images: (N, C, H, W) uint8 array

    Returns:
        (N, C*H*W) float32, each row zero-mean and unit-norm (a constant
        image gives a zero row), so that brightness / contrast changes and
        JPEG noise move a vector little
    """
    x = np.asarray(images, dtype=np.float64).reshape(len(images), -1)
    x = x - x.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(norm > 0, norm, 1.0)).astype(np.float32)


def group_pairs(n, pairs):
    """Connected components of an undirected graph (union-find).

    Args:
        n: number of nodes
        pairs: iterable of ``(i, j)`` node-index pairs

    Returns:
        (N,) int array: the component of each node, numbered by first
        appearance
    """
    parent = np.arange(n)

    def find(i):
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:
            parent[i], i = root, parent[i]
        return root

    for i, j in pairs:
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(n)])
    _, comp = np.unique(roots, return_inverse=True)
    return comp


def conflict_distances(features, labels, k=NEIGHBORS):
    """Distance of each sample to its nearest neighbour with another label.

    Args:
        features: (N, D) vectors (centred on their mean, then compared by
            cosine distance, as fiftyone-brain's similarity index does)
        labels: (N,) labels (None = unlabeled: never a conflict)
        k (NEIGHBORS): neighbours searched; a sample none of whose k
            nearest neighbours has another label gets ``inf``

    Returns:
        (N,) float64 cosine distances, LOWER = more likely a duplicate
        with a conflicting label (``inf`` where none was found)
    """
    from sklearn.neighbors import NearestNeighbors
    from sklearn.preprocessing import normalize

    x = np.asarray(features, dtype=np.float64)
    x = normalize(x - x.mean(axis=0, keepdims=True))
    n = len(x)
    out = np.full(n, np.inf)
    if n < 2:
        return out
    k = min(int(k) + 1, n)
    nn = NearestNeighbors(n_neighbors=k).fit(x)
    dist, idx = nn.kneighbors(x)
    labels = np.asarray(labels, dtype=object)
    # euclidean distance of unit vectors -> cosine distance
    cos = dist ** 2 / 2.0
    for i in range(n):
        if labels[i] is None:
            continue
        for d, j in zip(cos[i], idx[i]):
            if j != i and labels[j] is not None and labels[j] != labels[i]:
                out[i] = d
                break
    return out


# --------------------------------------------------------------------------
# the run record


class DuplicateConflictsConfig(fob.BrainMethodConfig):
    """Configuration of a duplicate-conflict search.

    Args:
        label_field: the fo.Classification field whose labels are compared
        key ("curvature"): prefix of the fields and view (normally the key
            of a curvature run, whose curvature orders the view)
        compare ("pixels"): how images are compared, one of
            :data:`METHODS` (the ``method`` argument of
            :func:`find_duplicate_conflicts`)
        threshold (None): cosine-distance threshold of near duplicates
            (None: :data:`DEFAULT_THRESHOLDS` of the method)
        exact (True): whether byte-identical files are grouped too
        embeddings_field (None): the field the embeddings were read from,
            if any
        view (None): name of the saved view created, if any
    """

    def __init__(
        self,
        label_field,
        key="curvature",
        compare="pixels",
        threshold=None,
        exact=True,
        embeddings_field=None,
        view=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.label_field = label_field
        self.key = key
        self.compare = compare
        self.threshold = threshold
        self.exact = exact
        self.embeddings_field = embeddings_field
        self.view = view

    @property
    def type(self):
        return "duplicate_conflicts"

    @property
    def method(self):
        return self.compare

    def output_fields(self):
        return output_fields(self.key)


class DuplicateConflicts(fob.BrainMethod):
    """A duplicate-conflict search: knows its fields and saved view."""

    def ensure_requirements(self):
        pass

    def get_fields(self, samples, brain_key):
        return [self.config.label_field] + self.config.output_fields()

    def cleanup(self, samples, brain_key):
        dataset = samples._root_dataset
        schema = dataset.get_field_schema()
        present = [f for f in self.config.output_fields() if f in schema]
        if present:
            dataset.delete_sample_fields(present, error_level=1)
        if self.config.view in dataset.list_saved_views():
            dataset.delete_saved_view(self.config.view)

    def _validate_run(self, samples, brain_key, existing_info):
        self._validate_fields_match(brain_key, "key", existing_info)


class DuplicateConflictsResults(fob.BrainResults):
    """The groups a duplicate-conflict search found.

    Args:
        samples: the collection searched
        config: the :class:`DuplicateConflictsConfig`
        brain_key: the run key
        groups: list of conflicting groups, each a list of sample ids,
            group ``g`` (0-based) holding the samples whose
            ``<key>_duplicate_group`` is ``g``; ordered by highest
            curvature first when the curvature field existed, else by size
        num_duplicate_groups: how many duplicate groups were found in all,
            same-label ones included
        threshold: the distance threshold used (None for "exact")
        backend (None): a :class:`DuplicateConflicts`
    """

    def __init__(self, samples, config, brain_key, groups,
                 num_duplicate_groups, threshold, backend=None):
        super().__init__(samples, config, brain_key, backend=backend)
        self.groups = [list(g) for g in groups]
        self.num_duplicate_groups = int(num_duplicate_groups)
        self.threshold = threshold

    @property
    def num_conflicts(self):
        """Number of samples in conflicting groups."""
        return sum(len(g) for g in self.groups)

    def view(self):
        """The conflicting samples, grouped, highest curvature first."""
        return conflict_view(self.samples, self.config.key)

    def get_meta(self):
        return {
            "num_conflict_groups": len(self.groups),
            "num_conflict_samples": self.num_conflicts,
            "num_duplicate_groups": self.num_duplicate_groups,
        }

    @classmethod
    def _from_dict(cls, d, samples, config, brain_key):
        return cls(samples, config, brain_key, groups=d["groups"],
                   num_duplicate_groups=d["num_duplicate_groups"],
                   threshold=d.get("threshold"))


# --------------------------------------------------------------------------
# the view


def conflict_view(samples, key):
    """The samples of conflicting duplicate groups, group after group
    (``<key>_duplicate_group`` ascending), highest curvature (field
    ``key``) first within a group.

    Curvature is sorted on as an expression, so the saved view stays
    loadable when the curvature run is deleted or was never computed.

    Returns:
        a view, or None when ``samples`` has no ``<key>_duplicate_conflict``
        field
    """
    from fiftyone import ViewField as F

    group, flag = output_fields(key)[:2]
    if flag not in samples.get_field_schema():
        return None
    return samples.match(F(flag) == True).sort_by(  # noqa: E712
        [(group, 1), (F(key), -1)]
    )


def resolve_duplicates_option(samples, label_field, key, duplicates):
    """Validates the ``duplicates`` argument of
    :func:`fiftyone_curvature.compute_curvature` before training.

    Args:
        samples: the run's collection
        label_field: the run's label field
        key: the curvature run key (prefix of the duplicate fields)
        duplicates: False/None (no search), True (pixels), a method name
            of :data:`METHODS` (``"embeddings"`` uses the run's own network:
            penultimate features of the final model), or a dict of
            :func:`find_duplicate_conflicts` keywords (``method``,
            ``threshold``, ``exact``, ``image_size``)

    Returns:
        None, or a dict of keywords for :func:`find_duplicate_conflicts`

    Raises:
        ValueError: an invalid value or option, or duplicate fields under
            ``key`` that another writer owns
    """
    if duplicates is None or duplicates is False:
        return None
    if duplicates is True:
        options = {"method": "pixels"}
    elif isinstance(duplicates, str):
        options = {"method": duplicates}
    elif isinstance(duplicates, dict):
        options = dict(duplicates)
        options.setdefault("method", "pixels")
    else:
        raise ValueError(
            f"duplicates must be a bool, a method {METHODS} or a dict, got "
            f"{duplicates!r}"
        )
    allowed = {"method", "threshold", "exact", "image_size"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"Unknown duplicates option(s) {unknown}; valid "
                         f"ones are {sorted(allowed)}")
    if options["method"] not in METHODS:
        raise ValueError(f"Unknown duplicates method {options['method']!r}; "
                         f"valid ones are {METHODS}")
    threshold = options.get("threshold")
    if threshold is not None and not 0.0 <= float(threshold) <= 2.0:
        raise ValueError(
            f"threshold is a cosine distance in [0, 2], got {threshold}"
        )
    _validate_key(samples, label_field, key)
    return options


def run_from_curvature(samples, label_field, key, options, sample_ids,
                       embeddings=None):
    """Runs the duplicate search of a curvature run (called by
    :func:`fiftyone_curvature.compute_curvature` once its fields are
    written).

    Args:
        samples: the run's collection
        label_field: the run's label field
        key: the curvature run key
        options: the output of :func:`resolve_duplicates_option`
        sample_ids: (N,) ids of the run's rows
        embeddings (None): (N, D) penultimate features of the final model,
            needed for ``method="embeddings"``

    Returns:
        a :class:`DuplicateConflictsResults`
    """
    options = dict(options)
    if options["method"] == "embeddings":
        if embeddings is None:
            raise ValueError("The run recorded no embeddings")
        options["embeddings"] = dict(zip(sample_ids, embeddings))
    return find_duplicate_conflicts(samples, label_field, key=key,
                                    progress=False, **options)


# --------------------------------------------------------------------------
# the public function


def find_duplicate_conflicts(
    samples,
    label_field,
    key="curvature",
    threshold=None,
    method="pixels",
    embeddings=None,
    exact=True,
    image_size=PIXEL_SIZE,
    create_view=True,
    progress=None,
):
    """Finds groups of near-identical images whose labels differ.

    Exact duplicates (same file hash, ``fob.compute_exact_duplicates``) and
    near duplicates (resized, re-encoded: fiftyone-brain's
    ``compute_near_duplicates`` on a cosine ``compute_similarity`` index of
    the chosen vectors) are merged into groups; a group is reported when
    it holds at least two different labels. Same-label duplicates are not
    reported (they are only counted in ``num_duplicate_groups``).

    Recorded as a brain run with key ``<key>_duplicates`` (type
    ``"duplicate_conflicts"``); ``delete_brain_run`` removes its fields and
    view. The label field is never modified.

    Fields written:

    - ``key_duplicate_group`` (int): the conflicting group of the sample
      (0 = the group with the highest curvature when a curvature field
      ``key`` exists, else the largest), None outside conflicting groups
    - ``key_duplicate_conflict`` (bool): whether the sample is in a
      conflicting group
    - ``key_duplicate_distance`` (float): cosine distance to the nearest
      sample with another label (among its 10 nearest neighbours; None if
      none), LOWER = more likely a conflicting duplicate; 0 for exact
      duplicates with another label

    Saved view ``key_duplicate_conflicts``: the conflicting samples, group
    after group, highest curvature first within a group.

    Args:
        samples: a dataset or view of images
        label_field: an fo.Classification field
        key ("curvature"): prefix of the fields and view; pass the key of a
            curvature run so that its curvature orders the groups
        threshold (None): cosine-distance threshold of near duplicates
            (None: :data:`DEFAULT_THRESHOLDS` of the method). Vectors are
            centred on their mean first, as fiftyone-brain does
        method ("pixels"): ``"pixels"`` (images read at ``image_size``,
            zero-mean, unit-norm), ``"embeddings"`` (the given
            ``embeddings``) or ``"exact"`` (file hash only)
        embeddings (None): for ``"embeddings"``: an (N, D) array in the
            order of ``samples``, a dict sample id -> vector, or the name
            of a field holding vectors (e.g. from a zoo model)
        exact (True): also group byte-identical files (always for
            ``"exact"``)
        image_size (PIXEL_SIZE): resolution of the pixel comparison
        create_view (True): whether to save the view
        progress (None): passed to fiftyone-brain (bar True/False/None)

    Returns:
        a :class:`DuplicateConflictsResults`

    Raises:
        ValueError: an unknown method, a missing or misaligned embeddings
            argument, a threshold out of [0, 2], a label field that is not
            a Classification, or fields under ``key`` that another run
            wrote
    """
    from .data import validate_label_field

    if method not in METHODS:
        raise ValueError(
            f"Unknown method {method!r}; valid ones are {METHODS}"
        )
    if method == "embeddings" and embeddings is None:
        raise ValueError(
            "method='embeddings' needs embeddings: an (N, D) array, a dict "
            "id -> vector or a field name"
        )
    if method != "embeddings" and embeddings is not None:
        raise ValueError("embeddings are only used with method='embeddings'")
    if method != "exact":
        if threshold is None:
            threshold = DEFAULT_THRESHOLDS[method]
        if not 0.0 <= float(threshold) <= 2.0:
            raise ValueError(
                f"threshold is a cosine distance in [0, 2], got {threshold}"
            )
        threshold = float(threshold)
    else:
        threshold = None
    if samples._is_generated:
        raise ValueError("Duplicate search runs on samples; patches, frames "
                         "and clips views are not supported")
    validate_label_field(samples, label_field)
    _validate_key(samples, label_field, key)
    return _find_duplicate_conflicts(
        samples, label_field, key, threshold, method, embeddings,
        exact or method == "exact", image_size, create_view, progress,
    )


def _validate_key(samples, label_field, key):
    from .runs import check_run_key

    check_run_key(samples, key, label_field, DuplicateConflicts,
                  "a duplicate search", output_fields, brain_key_of=run_key)


def _vectors(samples, method, embeddings, image_size, ids):
    """(N, D) vectors in the order of ``ids``, or None for "exact"."""
    if method == "exact":
        return None
    if method == "pixels":
        from .data import read_images

        images, _, _, _ = read_images(samples.values("filepath"),
                                      image_size=image_size)
        return pixel_features(images)
    if isinstance(embeddings, str):
        schema = samples.get_field_schema()
        if embeddings not in schema:
            raise ValueError(f"No embeddings field {embeddings!r}")
        values = samples.values(embeddings)
        missing = sum(v is None for v in values)
        if missing:
            raise ValueError(
                f"{missing} samples have no {embeddings!r} embedding"
            )
        return np.stack([np.asarray(v, np.float32) for v in values])
    if isinstance(embeddings, dict):
        missing = [i for i in ids if i not in embeddings]
        if missing:
            raise ValueError(
                f"{len(missing)} samples have no embedding (e.g. "
                f"{missing[:3]})"
            )
        return np.stack([np.asarray(embeddings[i], np.float32)
                         for i in ids])
    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or len(x) != len(ids):
        raise ValueError(
            f"embeddings must be ({len(ids)}, D) in the order of the "
            f"samples, got shape {x.shape}"
        )
    return x


def _find_duplicate_conflicts(samples, label_field, key, threshold, method,
                              embeddings, exact, image_size, create_view,
                              progress):
    import fiftyone.brain as fb

    dataset = samples._root_dataset
    rkey = run_key(key)
    config = DuplicateConflictsConfig(
        label_field, key=key, compare=method, threshold=threshold,
        exact=exact,
        embeddings_field=embeddings if isinstance(embeddings, str) else None,
        view=view_name(key) if create_view else None,
    )
    method_obj = config.build()
    existed = rkey in dataset.list_brain_runs()
    method_obj.register_run(samples, rkey, cleanup=False)
    try:
        ids, labels = samples.values(["id", f"{label_field}.label"])
        index_of = {sid: i for i, sid in enumerate(ids)}
        pairs = []
        distance = np.full(len(ids), np.inf)
        if exact:
            hashes = fb.compute_exact_duplicates(samples, progress=progress)
            for first, others in hashes.items():
                pairs.extend((index_of[first], index_of[o]) for o in others)
        vectors = _vectors(samples, method, embeddings, image_size, ids)
        if vectors is not None and len(ids) >= 2:
            # the brain centres vectors in place: hand it a copy
            index = fb.compute_similarity(
                samples, embeddings=vectors.copy(), backend="sklearn",
                metric="cosine", progress=progress,
            )
            fb.compute_near_duplicates(
                samples, threshold=threshold, similarity_index=index,
                progress=progress,
            )
            for first, dups in (index.neighbors_map or {}).items():
                pairs.extend((index_of[first], index_of[d]) for d, _ in dups)
            distance = conflict_distances(vectors, labels)
        comp = group_pairs(len(ids), pairs)
        groups, num_dup = _conflict_groups(comp, labels)
        # exact duplicates with another label are at distance 0
        if exact:
            _zero_exact(distance, labels, hashes, index_of)
        groups = _order_groups(samples, key, ids, groups)
        _write_fields(dataset, key, ids, groups, distance)
    except BaseException:
        if not existed:
            method_obj.delete_run(samples, rkey, cleanup=False)
        raise

    results = DuplicateConflictsResults(
        samples, config, rkey,
        groups=[[ids[i] for i in g] for g in groups],
        num_duplicate_groups=num_dup, threshold=threshold,
        backend=method_obj,
    )
    method_obj.save_run_results(samples, rkey, results)
    if create_view:
        view = conflict_view(samples, key)
        dataset.save_view(
            view_name(key), view,
            description="duplicate images whose labels differ, one group "
            "after another, highest curvature first within a group",
            overwrite=True,
        )
    logger.info(
        "%d duplicate groups, %d with conflicting labels (%d samples)",
        num_dup, len(groups), results.num_conflicts,
    )
    return results


def _zero_exact(distance, labels, hashes, index_of):
    """Sets the conflict distance of byte-identical, differently labeled
    samples to 0."""
    for first, others in hashes.items():
        members = [index_of[first]] + [index_of[o] for o in others]
        for i in members:
            if labels[i] is None:
                continue
            if any(labels[j] is not None and labels[j] != labels[i]
                   for j in members):
                distance[i] = 0.0


def _conflict_groups(comp, labels):
    """Components with two or more distinct labels, as index lists, and
    the number of components with more than one member."""
    members = {}
    for i, c in enumerate(comp):
        members.setdefault(int(c), []).append(i)
    dup = [m for m in members.values() if len(m) > 1]
    conflicts = [
        m for m in dup
        if len({labels[i] for i in m if labels[i] is not None}) > 1
    ]
    return conflicts, len(dup)


def _order_groups(samples, key, ids, groups):
    """Groups ordered by their highest curvature (when field ``key``
    exists), else by size; members by curvature, descending."""
    import fiftyone as fo

    field = samples.get_field_schema().get(key)
    if isinstance(field, (fo.FloatField, fo.IntField)):
        values = samples.values(key)
        curv = np.array([-np.inf if v is None else v for v in values])
    else:
        curv = np.zeros(len(ids))
    groups = [sorted(g, key=lambda i: (-curv[i], i)) for g in groups]
    return sorted(groups, key=lambda g: (-curv[g[0]], -len(g), g[0]))


def _write_fields(dataset, key, ids, groups, distance):
    import fiftyone as fo

    from .writeback import Column, finite_or_none, write_columns

    group_f, flag_f, dist_f = output_fields(key)
    group_of = {}
    for g, members in enumerate(groups):
        for i in members:
            group_of[i] = g
    n = len(ids)
    write_columns(dataset, ids, [
        Column(group_f, [group_of.get(i) for i in range(n)], fo.IntField,
               "conflicting duplicate group (0 = highest curvature); None "
               "outside conflicting groups"),
        Column(flag_f, [i in group_of for i in range(n)], fo.BooleanField,
               "whether the sample is a duplicate of an image with another "
               "label"),
        Column(dist_f, finite_or_none(distance), fo.FloatField,
               "cosine distance to the nearest sample with another label; "
               "LOWER = more likely a conflicting duplicate"),
    ])


# --------------------------------------------------------------------------
# duplicate-injection evaluation

#: duplicate-finder rows of the evaluation table, besides curvature and the
#: training-dynamics scores (each oriented higher = more suspicious):
#: negated conflict distance in pixel space / in the trained network's
#: embedding space, and the pixel finder's flag with curvature breaking ties
FINDER_SCORES = ("dup_pixels", "dup_embeddings", "dup_flag_curvature")

#: JPEG quality range of the injected copies
DEFAULT_QUALITY = (85, 95)


class DuplicateEvaluationResults:
    """What :func:`evaluate_duplicates` measured.

    Attributes:
        label_field: the label field the clean labels were read from
        num_images: images duplicated per seed
        copies: copies injected per duplicated image
        seeds: the S seeds
        num_samples: N + num_images * copies (samples trained on)
        metrics: dict score -> metric -> list of S floats (None where
            undefined); metrics as
            :func:`fiftyone_curvature.evaluation.detection_metrics`
        finder: per seed, a dict of the pixel / embedding finders' counts
            (``injected_flagged``: injected copies in a conflicting group;
            ``sources_flagged``: their originals; ``others_flagged``:
            flagged samples neither injected nor sources, i.e. duplicates
            the data already had or false matches; ``groups``)
        seconds: per seed, wall time of ``train`` (training + curvature),
            ``pixels`` and ``embeddings`` (the finders), ``total``
        config: the training configuration (dict), thresholds, quality
        datasets: names of the kept working datasets (empty unless
            ``keep_datasets``)
    """

    def __init__(self, label_field, num_images, copies, seeds, num_samples,
                 metrics, finder, seconds, config, datasets=None):
        self.label_field = label_field
        self.num_images = num_images
        self.copies = copies
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
        from .evaluation import METRICS, _mean_std

        out = {}
        for name, per_metric in self.metrics.items():
            out[name] = {}
            for metric in METRICS:
                values = per_metric[metric]
                mean, std = _mean_std(values)
                out[name][metric] = {"mean": mean, "std": std,
                                     "values": list(values)}
        return out

    def table(self, metrics=("auroc", "ap", "fpr95", "precision_at_k")):
        """The metrics table as text, ``mean ± std`` over seeds."""
        from .metrics import format_summary_table

        return format_summary_table(self.summary(), self.score_names,
                                    len(self.seeds), metrics)

    def to_summary_dict(self):
        """A JSON-able summary."""
        return {
            "label_field": self.label_field,
            "num_images": self.num_images,
            "copies": self.copies,
            "injected": self.num_images * self.copies,
            "seeds": self.seeds,
            "n": self.num_samples,
            "scores": self.summary(),
            "finder": self.finder,
            "seconds": self.seconds,
            "config": self.config,
            "datasets": self.datasets,
        }


def reencode(src, dst, quality=90, size=None):
    """Writes a JPEG copy of an image (grayscale stays grayscale,
    transparency is dropped), optionally resized to ``size`` (W, H)."""
    from PIL import Image

    with Image.open(src) as im:
        mode = "L" if im.mode in ("1", "L", "LA", "I", "I;16", "F") else "RGB"
        im = im.convert(mode)
        if size is not None:
            im = im.resize(tuple(size), Image.BILINEAR)
        im.save(dst, "JPEG", quality=int(quality))


def evaluate_duplicates(
    samples,
    label_field,
    num_images=50,
    copies=1,
    seeds=(0,),
    quality=DEFAULT_QUALITY,
    threshold=None,
    embeddings_threshold=None,
    classes=None,
    image_size=32,
    config=None,
    keep_datasets=False,
    work_dir=None,
    progress=None,
    **kwargs,
):
    """Injects re-encoded copies of some images with other labels and
    measures how well curvature, the training-dynamics scores and the
    duplicate finder rank the injected copies (the literature's
    duplicate-with-conflicting-label test).

    The user's samples are never modified: each seed works on a
    non-persistent clone of ``samples`` (only the label field copied), to
    which ``copies`` JPEG re-encodes (same size, quality drawn from
    ``quality``) of ``num_images`` randomly chosen images are added, each
    with a uniformly random OTHER label. A network is trained on the clone
    with curvature tracking and penultimate embeddings, and the finder is
    run on pixels and on those embeddings. Positives are the injected
    copies; their originals (correct label) count as negatives, so a score
    that cannot tell a copy from its original tops out near
    1 - num_images / N in AUROC and 0.5 in AP.

    Scores (each oriented higher = more suspicious): ``curvature``, every
    score of :data:`fiftyone_curvature.dynamics.SCORES`, and
    :data:`FINDER_SCORES`.

    Args:
        samples: a dataset or view of images with an fo.Classification
            field; every sample needs a label
        label_field: the (assumed clean) labels
        num_images (50): images duplicated per seed
        copies (1): copies per duplicated image, each with its own random
            other label
        seeds ((0,)): one injection + training per seed
        quality ((85, 95)): inclusive JPEG quality range of the copies
        threshold (None): pixel-finder threshold (None: the default)
        embeddings_threshold (None): embedding-finder threshold
        classes (None): class names (None: the sorted labels)
        image_size (32): see :func:`fiftyone_curvature.data.prepare_data`
        config (None): a :class:`fiftyone_curvature.TrackingConfig` or dict
        keep_datasets (False): keep each seed's working dataset (persistent,
            named in ``results.datasets``) to inspect in the App, with the
            curvature fields and the ``curvature_duplicate_conflicts`` view
        work_dir (None): where the copies are written (None: a temporary
            folder, removed unless ``keep_datasets``)
        progress (None): callable receiving ``{"phase", "seed", "epoch",
            "epochs", "fraction"}`` dicts; None/False: silent
        **kwargs: any :class:`fiftyone_curvature.TrackingConfig` field
            except ``seed``

    Returns:
        a :class:`DuplicateEvaluationResults`

    Raises:
        ValueError: an invalid option, too few images or classes
    """
    import dataclasses

    from .config import TrackingConfig
    from .data import get_classes, validate_label_field

    if config is None:
        tracking = TrackingConfig()
    elif isinstance(config, dict):
        tracking = TrackingConfig.from_dict(config)
    elif isinstance(config, TrackingConfig):
        tracking = config
    else:
        raise ValueError(
            f"config must be a TrackingConfig or dict, got {type(config)}"
        )
    if "seed" in kwargs:
        raise ValueError("Pass seeds=[...] instead of seed")
    names = {f.name for f in dataclasses.fields(TrackingConfig)}
    unknown = sorted(set(kwargs) - names)
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown}; valid ones are "
            f"{sorted(names - {'seed'})}"
        )
    tracking = dataclasses.replace(
        tracking, record_embeddings=True, **kwargs
    ).validate()
    if tracking.score_every == 0:
        raise ValueError("An evaluation needs curvature: score_every >= 1")
    if isinstance(seeds, int):
        seeds = [seeds]
    seeds = [int(s) for s in seeds]
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and non-empty, got "
                         f"{seeds}")
    if not (isinstance(copies, int) and copies >= 1):
        raise ValueError(f"copies must be an int >= 1, got {copies!r}")
    lo, hi = (int(q) for q in quality)
    if not 1 <= lo <= hi <= 100:
        raise ValueError(f"quality must be (lo, hi) in [1, 100], got "
                         f"{quality!r}")
    if samples._is_generated:
        raise ValueError("Evaluations run on samples; patches, frames and "
                         "clips views are not supported")
    validate_label_field(samples, label_field)
    if not (isinstance(num_images, int) and
            1 <= num_images <= len(samples)):
        raise ValueError(
            f"num_images must be an int in [1, {len(samples)}], got "
            f"{num_images!r}"
        )
    classes = get_classes(samples, label_field, classes)
    return _evaluate_duplicates(
        samples, label_field, num_images, copies, seeds, (lo, hi),
        threshold, embeddings_threshold, classes, image_size, tracking,
        keep_datasets, work_dir, progress,
    )


def _evaluate_duplicates(samples, label_field, num_images, copies, seeds,
                         quality, threshold, embeddings_threshold, classes,
                         image_size, tracking, keep_datasets, work_dir,
                         progress):
    import shutil
    import tempfile

    own_dir = work_dir is None
    folder = tempfile.mkdtemp(prefix="curvature-dups-") if own_dir else (
        work_dir)
    os.makedirs(folder, exist_ok=True)
    metrics, finder, seconds, kept, n_total = {}, [], [], [], None
    try:
        for s_index, seed in enumerate(seeds):
            record = _evaluate_seed(
                samples, label_field, num_images, copies, seed, s_index,
                len(seeds), quality, threshold, embeddings_threshold,
                classes, image_size, tracking, keep_datasets, folder,
                progress,
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
            "quality": list(quality),
            "threshold": (DEFAULT_THRESHOLDS["pixels"] if threshold is None
                          else threshold),
            "embeddings_threshold": (
                DEFAULT_THRESHOLDS["embeddings"]
                if embeddings_threshold is None else embeddings_threshold
            ),
            "image_size": image_size,
        },
        datasets=kept,
    )


def _inject_copies(work, label_field, num_images, copies, seed, quality,
                   classes, folder):
    """Adds re-encoded copies with other labels to the working dataset;
    returns the source sample ids."""
    import fiftyone as fo

    ids, paths, labels = work.values(
        ["id", "filepath", f"{label_field}.label"]
    )
    rng = np.random.default_rng(seed)
    sources = rng.choice(len(ids), size=num_images, replace=False)
    new = []
    for i in sources:
        others = [c for c in classes if c != labels[i]]
        for c in range(copies):
            path = os.path.join(folder, f"seed{seed}_{ids[i]}_{c}.jpg")
            reencode(paths[i], path,
                     quality=int(rng.integers(quality[0], quality[1] + 1)))
            new.append(fo.Sample(
                filepath=path,
                injected_duplicate=True,
                duplicate_source=ids[i],
                **{label_field: fo.Classification(
                    label=others[int(rng.integers(len(others)))])},
            ))
    work.add_samples(new, progress=False)
    return {ids[i] for i in sources}


def _evaluate_seed(samples, label_field, num_images, copies, seed, s_index,
                   num_seeds, quality, threshold, embeddings_threshold,
                   classes, image_size, tracking, keep, folder, progress):
    import dataclasses
    import time
    import uuid

    from .core import _write_fields, percentile_ranks
    from .dynamics import SCORES, suspicion
    from .evaluation import detection_metrics
    from .data import prepare_data
    from .training import train_and_track

    callback = progress if callable(progress) else None
    start = time.perf_counter()
    name = f"curvature-dups-eval-{uuid.uuid4().hex[:8]}"
    work = samples.select_fields(label_field).clone(name)
    try:
        if keep:
            work.persistent = True
        sources = _inject_copies(work, label_field, num_images, copies,
                                 seed, quality, classes, folder)
        prepared = prepare_data(work, label_field, classes=classes,
                                image_size=image_size)

        def on_epoch(info):
            if callback is not None:
                callback({
                    "phase": "epoch", "seed": seed, "seed_index": s_index,
                    "epoch": info["epoch"], "epochs": info["epochs"],
                    "fraction": (s_index + info["epoch"] / info["epochs"])
                    / num_seeds,
                })

        t0 = time.perf_counter()
        result = train_and_track(
            prepared.inputs, prepared.targets,
            dataclasses.replace(tracking, seed=seed),
            num_classes=len(classes), progress=on_epoch,
        )
        train_s = time.perf_counter() - t0
        ids = prepared.sample_ids
        _write_fields(work, "curvature", prepared, result)
        if callback is not None:
            callback({"phase": "duplicates", "seed": seed,
                      "fraction": (s_index + 1) / num_seeds})
        t0 = time.perf_counter()
        pix = find_duplicate_conflicts(
            work, label_field, key="curvature", threshold=threshold,
            progress=False,
        )
        pix_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        emb = find_duplicate_conflicts(
            work, label_field, key="curvature_emb", method="embeddings",
            embeddings=dict(zip(ids, result.embeddings)),
            threshold=embeddings_threshold, exact=False,
            create_view=False, progress=False,
        )
        emb_s = time.perf_counter() - t0
        row = {sid: i for i, sid in enumerate(ids)}
        order = [row[i] for i in work.values("id")]
        injected = np.array(
            [bool(v) for v in work.values("injected_duplicate")]
        )[np.argsort(order)]

        def field(name):
            v = work.values(name)
            out = np.array([np.nan if x is None else x for x in v], float)
            return out[np.argsort(order)]

        scores = {"curvature": np.asarray(result.curvature, np.float64)}
        for sname in SCORES:
            scores[sname] = suspicion(sname, result.scores[sname])
        scores["dup_pixels"] = -field("curvature_duplicate_distance")
        scores["dup_embeddings"] = -field("curvature_emb_duplicate_distance")
        flag = field("curvature_duplicate_conflict")
        scores["dup_flag_curvature"] = flag + 0.999 * percentile_ranks(
            result.curvature)
        metrics = {n: detection_metrics(injected, v)
                   for n, v in scores.items()}
        source = np.array([sid in sources for sid in ids])
        finder = {}
        for fname, res in (("pixels", pix), ("embeddings", emb)):
            dist = -scores[f"dup_{fname}"]
            others = dist[~injected & ~source]
            flagged = np.zeros(len(ids), bool)
            for g in res.groups:
                flagged[[row[sid] for sid in g]] = True
            finder[fname] = {
                "injected_flagged": int((flagged & injected).sum()),
                "injected": int(injected.sum()),
                "sources_flagged": int((flagged & source).sum()),
                "others_flagged": int(
                    (flagged & ~injected & ~source).sum()),
                "groups": len(res.groups),
                "threshold": res.threshold,
                # conflict distances, to calibrate the threshold
                "injected_distance_median": _finite(
                    np.nanmedian(dist[injected])),
                "injected_distance_max": _finite(np.nanmax(dist[injected])),
                "others_distance_min": _finite(
                    np.nanmin(others) if len(others) else np.nan),
            }
        return {
            "n": len(ids),
            "metrics": metrics,
            "finder": finder,
            "seconds": {"train": train_s, "pixels": pix_s,
                        "embeddings": emb_s,
                        "total": time.perf_counter() - start},
            "dataset": name if keep else None,
        }
    finally:
        if not keep:
            work.delete()


def _finite(value):
    value = float(value)
    return value if np.isfinite(value) else None
