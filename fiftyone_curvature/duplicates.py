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

import numpy as np

import fiftyone.core.brain as fob
import fiftyone.core.utils as fou

logger = logging.getLogger(__name__)

#: how images are compared: "pixels" (downsampled, zero-mean, unit-norm
#: pixels), "embeddings" (given vectors, e.g. a curvature run's penultimate
#: features) or "exact" (file hash only)
METHODS = ("pixels", "embeddings", "exact")

#: default cosine-distance thresholds (after fiftyone-brain centres the
#: vectors on their mean). Pixels, measured on sklearn digits: JPEG
#: re-encodes at quality 90 lie below 0.003, 8 -> 12 px resizes below
#: 0.006, while 99.9% of distinct digits are farther than 0.016 from their
#: nearest neighbour. Embeddings: see the README's duplicate section
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
    ``key``, when it exists) first within a group.

    Returns:
        a view, or None when ``samples`` has no ``<key>_duplicate_conflict``
        field
    """
    from fiftyone import ViewField as F

    schema = samples.get_field_schema()
    group, flag = output_fields(key)[:2]
    if flag not in schema:
        return None
    order = [(group, 1)]
    if key in schema:
        order.append((key, -1))
    return samples.match(F(flag) == True).sort_by(order)  # noqa: E712


def view_builder(samples, key, label_field, thresholds):
    """:data:`fiftyone_curvature.views.VIEW_BUILDERS` hook: the conflict
    view with its description, or None when no search wrote fields under
    ``key``."""
    view = conflict_view(samples, key)
    if view is None:
        return None
    return view, (
        "duplicate images whose labels differ, one group after another, "
        "highest curvature first within a group"
    )


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
    if not isinstance(key, str) or not key.isidentifier():
        raise ValueError(f"key must be a valid identifier, got {key!r}")
    outputs = output_fields(key)
    if label_field in outputs:
        raise ValueError(
            f"The label field {label_field!r} would be overwritten; choose "
            "another key"
        )
    dataset = samples._root_dataset
    rkey = run_key(key)
    ours = set(dataset.list_brain_runs(type=DuplicateConflicts))
    if rkey in dataset.list_brain_runs() and rkey not in ours:
        raise ValueError(
            f"Brain run {rkey!r} exists and is not a duplicate search; "
            "choose another key"
        )
    if rkey not in ours:
        schema = dataset.get_field_schema()
        taken = [f for f in outputs if f in schema]
        if taken:
            raise ValueError(
                f"Fields {taken} exist and were not written by a duplicate "
                f"search; choose another key than {key!r}"
            )


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
    schema = samples.get_field_schema()
    if key in schema:
        values = samples.values(key)
        curv = np.array([-np.inf if v is None else v for v in values])
    else:
        curv = np.zeros(len(ids))
    groups = [sorted(g, key=lambda i: (-curv[i], i)) for g in groups]
    return sorted(groups, key=lambda g: (-curv[g[0]], -len(g), g[0]))


def _write_fields(dataset, key, ids, groups, distance):
    import fiftyone as fo

    group_f, flag_f, dist_f = output_fields(key)
    schema = dataset.get_field_schema()
    specs = (
        (group_f, fo.IntField, "conflicting duplicate group (0 = highest "
         "curvature); None outside conflicting groups"),
        (flag_f, fo.BooleanField, "whether the sample is a duplicate of an "
         "image with another label"),
        (dist_f, fo.FloatField, "cosine distance to the nearest sample "
         "with another label; LOWER = more likely a conflicting "
         "duplicate"),
    )
    for field, ftype, description in specs:
        if field not in schema:
            dataset.add_sample_field(field, ftype, description=description)
    group_of = {}
    for g, members in enumerate(groups):
        for i in members:
            group_of[i] = g
    dataset.set_values(
        group_f, {sid: group_of.get(i) for i, sid in enumerate(ids)},
        key_field="id",
    )
    dataset.set_values(
        flag_f, {sid: i in group_of for i, sid in enumerate(ids)},
        key_field="id",
    )
    dataset.set_values(
        dist_f,
        {sid: (float(distance[i]) if np.isfinite(distance[i]) else None)
         for i, sid in enumerate(ids)},
        key_field="id",
    )
