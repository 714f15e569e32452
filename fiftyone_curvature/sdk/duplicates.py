"""find_duplicate_conflicts: duplicate images whose labels differ.

The paper's most striking failure mode (CIFAR-100, ImageNet): the same
image appears more than once with different labels, and those samples
carry the highest curvature. The finder groups near-identical images (same
bytes, or close in pixel / embedding space) with fiftyone-brain's exact-
and near-duplicate machinery and reports the groups whose labels differ.
"""

import logging

import numpy as np

from ..engine.constants import RUN_KEY
from ..engine.near_duplicates import RATIO, find_near_duplicates
from ..engine.neighbors import conflict_distances, group_pairs, pixel_features
from .duplicate_runs import (
    DEFAULT_THRESHOLDS, IMAGE_SIZES, METHODS, DuplicateConflicts,
    DuplicateConflictsConfig, DuplicateConflictsResults,
    output_fields, run_key, view_name,
)
from .fields import Column, finite_or_none, write_columns
from .images import read_images, validate_label_field
from .lifecycle import RunKind, RunRequest, run_session
from .options import (
    check_arguments, check_duplicate_options, check_samples,
)

#: the certainty stored for byte-identical files (surer than any near
#: duplicate)
EXACT_CERTAINTY = 1e6

logger = logging.getLogger(__name__)


def resolve_duplicates_option(samples, label_field, key, duplicates):
    """Validates the ``duplicates`` argument of
    :func:`fiftyone_curvature.compute_curvature` before training.

    Args:
        samples: the run's collection
        label_field: the run's label field
        key: the curvature run key (prefix of the duplicate fields)
        duplicates: False/None (no search), True (``"aligned"``), a method
            name of :data:`METHODS` (``"embeddings"`` uses the run's own
            network: penultimate features of the final model), or a dict of
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
        options = {"method": "aligned"}
    elif isinstance(duplicates, str):
        options = {"method": duplicates}
    elif isinstance(duplicates, dict):
        options = dict(duplicates)
        options.setdefault("method", "aligned")
    else:
        raise ValueError(
            f"duplicates must be a bool, a method {METHODS} or a dict, got "
            f"{duplicates!r}"
        )
    allowed = {"method", "threshold", "exact", "image_size", "ratio"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(f"Unknown duplicates option(s) {unknown}; valid "
                         f"ones are {sorted(allowed)}")
    if options["method"] not in METHODS:
        raise ValueError(f"Unknown duplicates method {options['method']!r}; "
                         f"valid ones are {METHODS}")
    check_duplicate_options(options["method"], options.get("threshold"),
                            options.get("ratio", RATIO),
                            DEFAULT_THRESHOLDS.get(options["method"]))
    validate_key(samples, label_field, key)
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
        embeddings (None): (N, D) penultimate features of the final model
            (the pretrained features themselves for a run on
            ``features=``), needed for ``method="embeddings"``

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


def find_duplicate_conflicts(
    samples,
    label_field,
    key=RUN_KEY,
    threshold=None,
    method="aligned",
    embeddings=None,
    exact=True,
    image_size=None,
    create_view=True,
    progress=None,
    ratio=RATIO,
):
    """Finds groups of near-identical images whose labels differ.

    Exact duplicates (same file hash, ``fob.compute_exact_duplicates``) and
    near duplicates are merged into groups; a group is reported when it
    holds at least two different labels. Same-label duplicates are not
    reported (they are only counted in ``num_duplicate_groups``).

    Near duplicates, by ``method``:

    - ``"aligned"`` (default): the same photo after a colour or contrast
      change, a small shift or crop, a rescale, another JPEG quality or a
      mild blur. Candidates from a nearest-neighbour search of coarse
      luminance vectors are checked by the best normalised correlation
      over shifts up to 12.5% and crops of 80-95%; a pair conflicts when
      its distance is below a threshold taken from the data's own
      nearest-neighbour distances (a robust outlier bound) or far below
      the sample's other candidates (a ratio test). See
      :mod:`fiftyone_curvature.engine.near_duplicates`.
    - ``"pixels"`` / ``"embeddings"``: fiftyone-brain's
      ``compute_near_duplicates`` on a cosine ``compute_similarity`` index
      of pixel vectors or given embeddings, with a fixed threshold.

    Recorded as a brain run with key ``<key>_duplicates`` (type
    ``"duplicate_conflicts"``); ``delete_brain_run`` removes its fields and
    view. The label field is never modified.

    Fields written:

    - ``key_duplicate_group`` (int): the conflicting group of the sample
      (0 = the group the finder is surest of; ties by highest curvature
      when a curvature field ``key`` exists), None outside conflicting
      groups
    - ``key_duplicate_conflict`` (bool): whether the sample is in a
      conflicting group
    - ``key_duplicate_distance`` (float): distance to the nearest sample
      with another label (the method's distance, among its nearest
      candidates; None if none), LOWER = more likely a conflicting
      duplicate; 0 for exact duplicates with another label

    Saved view ``key_duplicate_conflicts``: the conflicting samples, group
    after group (surest first), highest curvature first within a group.
    The method, threshold and ratio used are on the results
    (``results.summary()``) and shown by the info operator.

    Args:
        samples: a dataset or view of images
        label_field: an fo.Classification field
        key ("curvature"): prefix of the fields and view; pass the key of a
            curvature run so that its curvature orders the groups
        threshold (None): distance threshold of near duplicates (None:
            "aligned" takes it from the data; otherwise
            :data:`DEFAULT_THRESHOLDS` of the method). Pixel and embedding
            vectors are centred on their mean first, as fiftyone-brain does
        method ("aligned"): ``"aligned"``, ``"pixels"`` (images read at
            ``image_size``, zero-mean, unit-norm), ``"embeddings"`` (the
            given ``embeddings``) or ``"exact"`` (file hash only)
        embeddings (None): for ``"embeddings"``: an (N, D) array in the
            order of ``samples``, a dict sample id -> vector, or the name
            of a field holding vectors (e.g. from a zoo model)
        exact (True): also group byte-identical files (always for
            ``"exact"``)
        image_size (None): resolution images are compared at (None:
            :data:`IMAGE_SIZES` of the method: 32 for "aligned", 16 for
            "pixels")
        create_view (True): whether to save the view
        progress (None): passed to fiftyone-brain (bar True/False/None)
        ratio (RATIO): the ratio-test threshold of "aligned" (0 = off)

    Returns:
        a :class:`DuplicateConflictsResults`

    Raises:
        ValueError: an unknown method, a missing or misaligned embeddings
            argument, a threshold out of [0, 2], a label field that is not
            a Classification, or fields under ``key`` that another run
            wrote
    """
    check_arguments(exact=exact, create_view=create_view, progress=progress)
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
    threshold, ratio = check_duplicate_options(
        method, threshold, ratio, DEFAULT_THRESHOLDS.get(method))
    if image_size is None:
        image_size = IMAGE_SIZES.get(method)
    check_samples(samples, "Duplicate search")
    validate_label_field(samples, label_field)
    validate_key(samples, label_field, key)
    exact = exact or method == "exact"
    ratio = float(ratio)
    request = RunRequest(
        label_field=label_field, key=key, create_views=create_view,
        progress=progress,
        options=dict(method=method, threshold=threshold,
                     ratio=ratio if method == "aligned" else None,
                     exact=exact, embeddings_field=(
                         embeddings if isinstance(embeddings, str)
                         else None)),
    )

    def produce(reporter):
        return search(samples, label_field, key, method, threshold, ratio,
                      embeddings, exact, image_size, progress)

    results = run_session(samples, DUPLICATES, request, produce)
    logger.info(
        "%d duplicate groups, %d with conflicting labels (%d samples)",
        results.num_duplicate_groups, len(results.groups),
        results.num_conflicts,
    )
    return results


def search(samples, label_field, key, method, threshold, ratio, embeddings,
           exact, image_size, progress):
    """What a duplicate search produces (options checked): a dict with
    ``ids``, ``groups`` (conflicting groups as row lists, surest first,
    ordered by the curvature field ``key`` where it exists),
    ``num_dup``, ``certainty``, ``distance`` and ``threshold``."""
    ids, labels = samples.values(["id", f"{label_field}.label"])
    found = _search(samples, ids, labels, method, threshold, ratio,
                    embeddings, exact, image_size, progress)
    comp = group_pairs(len(ids), found["pairs"])
    groups, num_dup = _conflict_groups(comp, labels)
    groups, certainty = _order_groups(samples, key, ids, groups,
                                      found["certainty"])
    return dict(ids=ids, groups=groups, num_dup=num_dup,
                certainty=certainty, distance=found["distance"],
                threshold=found["threshold"])


class DuplicatesKind(RunKind):
    """A duplicate-conflict search: ``produce(reporter)`` returns the
    dict of :func:`find_duplicate_conflicts`'s search (ids, ordered
    groups, certainty, distance, threshold)."""

    method_cls = DuplicateConflicts
    config_cls = DuplicateConflictsConfig
    noun = "a duplicate search"
    what = "Duplicate search"

    def brain_key(self, key):
        return run_key(key)

    def output_fields(self, key):
        return output_fields(key)

    def view_names(self, key):
        return [view_name(key)]

    def make_config(self, request, key):
        return DuplicateConflictsConfig(
            request.label_field, key=key,
            compare=request.options["method"], **{
                k: v for k, v in request.options.items() if k != "method"})

    def set_views(self, config, names):
        config.view = names[0] if names else None

    def write(self, samples, request, key, found, config, method):
        ids, groups = found["ids"], found["groups"]
        _write_fields(samples._root_dataset, key, ids, groups,
                      found["distance"])
        return DuplicateConflictsResults(
            samples, config, run_key(key),
            groups=[[ids[i] for i in g] for g in groups],
            num_duplicate_groups=found["num_dup"],
            threshold=found["threshold"], ratio=config.ratio,
            certainty=found["certainty"], backend=method,
        )


#: the one instance the SDK uses
DUPLICATES = DuplicatesKind()


def validate_key(samples, label_field, key):
    """Raises ValueError unless ``key`` can prefix a duplicate search."""
    DUPLICATES.check_key(samples, label_field, key)


def _vectors(samples, method, embeddings, image_size, ids):
    """(N, D) vectors in the order of ``ids``, or None for "exact"."""
    if method == "exact":
        return None
    if method == "pixels":
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


def _search(samples, ids, labels, method, threshold, ratio, embeddings,
            exact, image_size, progress):
    """The pairs to group, each sample's conflict distance and certainty
    (higher = surer), and the threshold used, for one method."""
    import fiftyone.brain as fb

    n = len(ids)
    index_of = {sid: i for i, sid in enumerate(ids)}
    pairs, hashes = [], {}
    distance = np.full(n, np.inf)
    certainty = np.zeros(n)
    if exact:
        hashes = fb.compute_exact_duplicates(samples, progress=progress)
        for first, others in hashes.items():
            pairs.extend((index_of[first], index_of[o]) for o in others)
    if method == "aligned" and n >= 2:
        images, _, _, _ = read_images(samples.values("filepath"),
                                      image_size=image_size)
        near = find_near_duplicates(images, labels, threshold=threshold,
                                    ratio=ratio)
        pairs.extend(map(tuple, near.edges.tolist()))
        distance, certainty = near.conflict, near.certainty
        threshold = near.threshold
    elif method in ("pixels", "embeddings") and n >= 2:
        vectors = _vectors(samples, method, embeddings, image_size, ids)
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
        with np.errstate(divide="ignore"):
            certainty = threshold / np.maximum(distance, 1e-9)
    if exact:
        # exact duplicates with another label are at distance 0
        _zero_exact(distance, certainty, labels, hashes, index_of)
    return {"pairs": pairs, "distance": distance, "certainty": certainty,
            "threshold": threshold}


def _zero_exact(distance, certainty, labels, hashes, index_of):
    """Sets the conflict distance of byte-identical, differently labeled
    samples to 0 (and their certainty to :data:`EXACT_CERTAINTY`)."""
    for first, others in hashes.items():
        members = [index_of[first]] + [index_of[o] for o in others]
        for i in members:
            if labels[i] is None:
                continue
            if any(labels[j] is not None and labels[j] != labels[i]
                   for j in members):
                distance[i] = 0.0
                certainty[i] = EXACT_CERTAINTY


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


def _order_groups(samples, key, ids, groups, certainty):
    """Groups ordered by how sure the finder is (the highest certainty of
    a member), ties by highest curvature (when field ``key`` exists);
    members by curvature, descending. Returns the ordered groups and
    their certainties."""
    import fiftyone as fo

    field = samples.get_field_schema().get(key)
    if isinstance(field, (fo.FloatField, fo.IntField)):
        values = samples.values(key)
        curv = np.array([-np.inf if v is None else v for v in values])
    else:
        curv = np.zeros(len(ids))
    sure = np.nan_to_num(np.asarray(certainty, dtype=np.float64),
                         posinf=EXACT_CERTAINTY)
    groups = [sorted(g, key=lambda i: (-curv[i], i)) for g in groups]
    group_sure = [float(min(sure[g].max(), EXACT_CERTAINTY)) for g in groups]
    order = sorted(range(len(groups)), key=lambda k: (
        -group_sure[k], -curv[groups[k][0]], -len(groups[k]),
        groups[k][0]))
    return [groups[k] for k in order], [group_sure[k] for k in order]


def _write_fields(dataset, key, ids, groups, distance):
    import fiftyone as fo

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
