"""Near-duplicate images that survive colour shifts, crops, rescaling,
re-encoding and blur: candidates, an aligned distance, a threshold taken
from the data (numpy, scipy, scikit-learn; no FiftyOne, no torch).

Pipeline (:func:`find_near_duplicates`):

1. :func:`gray_images`: luminance (0.299 R + 0.587 G + 0.114 B), so that
   saturation changes do not move an image; every window below is
   zero-mean and unit-norm, which removes brightness and contrast.
2. :func:`candidate_pairs`: coarse 8 x 8 vectors of the blurred luminance,
   compared by cosine distance after centring on the mean (as
   fiftyone-brain's sklearn similarity index does); every image's
   :data:`NEIGHBORS` nearest neighbours plus the :data:`QUERY_NEIGHBORS`
   nearest of each of its shifted / cropped query windows
   (:data:`QUERY_VIEWS`).
3. :func:`aligned_distances`: ``1 - max`` normalised cross-correlation
   between one image and any of 167 windows of the other (shifts up to
   12.5% of the side, crops of 80-95%, :func:`view_grid`), both ways.
   LOWER = more likely a duplicate.
4. :func:`decide`: sample i and its nearest other-label candidate j
   conflict when ``c_i < t`` (the data's own threshold,
   :func:`data_threshold`) OR ``c_i / r_i < RATIO`` (a ratio test against
   i's :data:`RATIO_RANK`-th nearest other candidate: scale-free); the same
   test on each sample's nearest candidate of any label joins same-label
   copies; those pairs and all pairs below ``t`` are grouped, and groups
   holding two labels are flagged.

The defaults were chosen on CIFAR-10 and digits with planted copies; the
README's duplicates section has the measurements.
"""

import dataclasses

import numpy as np
from scipy import ndimage
from sklearn.neighbors import NearestNeighbors

from .constants import NEIGHBORS
from .neighbors import group_pairs

#: coarse search resolution (side of the index vectors' image)
SEARCH_SIZE = 8
#: verification resolution (upper bound; small images keep their side)
VERIFY_SIZE = 16
#: neighbours of each shifted / cropped query window
QUERY_NEIGHBORS = 3
#: robust z of the absolute threshold (see :func:`data_threshold`)
MAD_K = 4.0
#: upper bound of the data's threshold (a normalised correlation of 0.9):
#: on small or uniform collections the robust spread of the distances is
#: tiny and the outlier bound would reach distinct images
MAX_THRESHOLD = 0.1
#: ratio-test threshold and the rank of the reference neighbour
RATIO = 0.45
RATIO_RANK = 2


# --------------------------------------------------------------------------
# images


def gray_images(images):
    """(N, C, H, W) uint8 (C = 1 or 3) -> (N, H, W) float32 luminance."""
    x = np.asarray(images)
    if x.ndim == 3:
        return x.astype(np.float32)
    if x.shape[1] == 1:
        return x[:, 0].astype(np.float32)
    x = x.astype(np.float32)
    return 0.299 * x[:, 0] + 0.587 * x[:, 1] + 0.114 * x[:, 2]


def _blur(gray, sigma_frac=1 / 32, min_sigma=0.5):
    """Gaussian blur of (N, H, W), sigma = max(sigma_frac * side,
    min_sigma) px, border replicated."""
    h, w = gray.shape[1:]
    sy, sx = max(sigma_frac * h, min_sigma), max(sigma_frac * w, min_sigma)

    return ndimage.gaussian_filter(gray, (0, sy, sx), mode="nearest")


def _axis_matrix(length, size, scale, offset):
    """(size, length) bilinear resampling of the window [offset, offset +
    scale] (fractions of ``length``) at ``size`` points, border
    replicated."""
    t = (np.arange(size) + 0.5) / size
    c = np.clip((offset + scale * t) * length - 0.5, 0, length - 1)
    i0 = np.floor(c).astype(int)
    i1 = np.minimum(i0 + 1, length - 1)
    w = c - i0
    m = np.zeros((size, length), np.float32)
    np.add.at(m, (np.arange(size), i0), 1 - w)
    np.add.at(m, (np.arange(size), i1), w)
    return m


def _unit(v):
    v = v - v.mean(axis=-1, keepdims=True)
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 1e-6, n, 1.0)


def windows(blurred, grid, size):
    """Resampled windows of blurred grayscale images.

    Args:
        blurred: (N, H, W) float32
        grid: (V, 3) rows (scale, offset_y, offset_x), fractions of the side
        size: output side G

    Returns:
        (N, V, G*G) float32, each window zero-mean and unit-norm (a flat
        window gives zeros)
    """
    n, h, w = blurred.shape
    out = np.empty((n, len(grid), size * size), np.float32)
    for v, (s, oy, ox) in enumerate(grid):
        my = _axis_matrix(h, size, s, oy)
        mx = _axis_matrix(w, size, s, ox)
        out[:, v] = (my @ blurred @ mx.T).reshape(n, -1)
    return _unit(out)


def view_grid(max_shift=0.125, shift_step=1 / 32,
              scales=(0.95, 0.9, 0.85, 0.8), offset_step=1.5 / 32):
    """The windows tried by the verification, (V, 3) float64 rows
    (scale, offset_y, offset_x); row 0 is the identity (1, 0, 0).

    Translations: offsets -max_shift..max_shift by shift_step on both axes
    (scale 1). Crops: each scale s < 1 at offsets 0..1-s on both axes, at
    most ``offset_step`` apart. Defaults: 81 + 86 = 167 windows."""
    rows = [(1.0, 0.0, 0.0)]
    o = np.arange(-max_shift, max_shift + 1e-9, shift_step)
    rows += [(1.0, a, b) for a in o for b in o
             if abs(a) > 1e-9 or abs(b) > 1e-9]
    for s in scales:
        k = max(2, int(np.ceil((1 - s) / offset_step)) + 1)
        o = np.linspace(0.0, 1.0 - s, k)
        rows += [(s, a, b) for a in o for b in o]
    return np.array(rows)


#: query windows of the candidate search: shifts of 3/32 of the side
#: along the axes and diagonals, centre and corner crops of 85%
QUERY_VIEWS = np.array(
    [(1.0, a, b) for a in (-3 / 32, 0, 3 / 32) for b in (-3 / 32, 0, 3 / 32)
     if a or b]
    + [(0.85, a, b) for a in (0.0, 0.15) for b in (0.0, 0.15)]
    + [(0.85, 0.075, 0.075)]
)


# --------------------------------------------------------------------------
# features


def search_features(images, size=SEARCH_SIZE, grid=None):
    """Coarse vectors for the index.

    Args:
        images: (N, C, H, W) uint8
        size (SEARCH_SIZE): side of the resampled image
        grid (None): (V, 3) windows (:func:`view_grid` rows); None: the
            identity only

    Returns:
        (N, size*size) float32 (or (N, V, size*size) when ``grid`` is
        given), rows zero-mean unit-norm; compare by cosine distance
        after centring on the dataset mean, LOWER = more similar
    """
    b = _blur(gray_images(images))
    if grid is None:
        return windows(b, np.array([(1.0, 0.0, 0.0)]), size)[:, 0]
    return windows(b, np.asarray(grid), size)


def candidate_pairs(images, k=NEIGHBORS, queries=QUERY_VIEWS,
                    q_k=QUERY_NEIGHBORS):
    """Candidate pairs from the coarse index (the package would query
    fiftyone-brain's similarity index the same way).

    Every image's ``k`` nearest neighbours, plus the ``q_k`` nearest
    neighbours of each of its shifted / cropped query windows.

    Returns:
        (P, 2) int array of unique pairs i < j
    """

    n = len(images)
    full = search_features(images)
    mean = full.mean(axis=0)
    base = _unit_rows(full - mean)
    k1 = min(k + 1, n)
    nn = NearestNeighbors(n_neighbors=k1).fit(base)
    _, idx = nn.kneighbors(base)
    pairs = [np.stack([np.repeat(np.arange(n), k1), idx.ravel()], 1)]
    if queries is not None and len(queries):
        qv = search_features(images, grid=queries)  # (N, Q, D)
        q = _unit_rows(qv.reshape(-1, qv.shape[-1]) - mean)
        _, qi = nn.kneighbors(q, n_neighbors=min(q_k + 1, n))
        owner = np.repeat(np.arange(n), len(queries) * qi.shape[1])
        pairs.append(np.stack([owner, qi.ravel()], 1))
    p = np.concatenate(pairs)
    p = p[p[:, 0] != p[:, 1]]
    p = np.sort(p, axis=1)
    return np.unique(p, axis=0)


def _unit_rows(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(n > 1e-12, n, 1.0)


def aligned_distances(images, pairs, size=VERIFY_SIZE, grid=None,
                      chunk=256):
    """Verified distance of candidate pairs, best alignment of either
    image onto the other.

    Args:
        images: (N, C, H, W) uint8
        pairs: (P, 2) int index pairs
        size (VERIFY_SIZE): verification side G (min with the images' side)
        grid (None): windows, default :func:`view_grid`
        chunk (256): images whose windows are held at once (memory
            chunk * V * G * G * 4 bytes)

    Returns:
        (P,) float64 in [0, 2]: 1 - the best normalised cross-correlation,
        LOWER = more likely a duplicate
    """
    grid = view_grid() if grid is None else np.asarray(grid)
    pairs = np.asarray(pairs, dtype=np.int64)
    b = _blur(gray_images(images))
    n, h, w = b.shape
    g = min(size, h, w)
    full = windows(b, grid[:1], g)[:, 0]  # (N, D)
    best = np.full(len(pairs), -1.0)
    # each pair is scored twice: windows of a against full(b), and back
    ends = np.concatenate([pairs[:, 0], pairs[:, 1]])
    other = np.concatenate([pairs[:, 1], pairs[:, 0]])
    which = np.concatenate([np.arange(len(pairs))] * 2)
    order = np.argsort(ends, kind="stable")
    ends, other, which = ends[order], other[order], which[order]
    starts = np.searchsorted(ends, np.arange(n + 1))
    for c0 in range(0, n, chunk):
        c1 = min(n, c0 + chunk)
        views = windows(b[c0:c1], grid, g)  # (c, V, D)
        for i in range(c0, c1):
            lo, hi = starts[i], starts[i + 1]
            if lo == hi:
                continue
            sims = (views[i - c0] @ full[other[lo:hi]].T).max(axis=0)
            np.maximum.at(best, which[lo:hi], sims)
    return 1.0 - best


# --------------------------------------------------------------------------
# threshold and grouping


def nearest_distances(n, pairs, dist):
    """(N,) each sample's smallest distance over the pairs it is in
    (inf if none)."""
    out = np.full(n, np.inf)
    np.minimum.at(out, pairs[:, 0], dist)
    np.minimum.at(out, pairs[:, 1], dist)
    return out


def data_threshold(conflict, k=MAD_K):
    """The absolute distance threshold of the data at hand: ``exp(median(log
    d) - k * 1.4826 * MAD(log d))`` over the samples' conflict distances
    ``d`` (clipped at 1e-6): true duplicates are far outliers below the
    typical nearest-neighbour distance.

    Args:
        conflict: (N,) distances (inf where none), LOWER = closer
        k (MAD_K): robust z below the median

    Returns:
        a float in [0, :data:`MAX_THRESHOLD`] (0.0 when fewer than 4
        finite distances)
    """
    d = np.asarray(conflict, dtype=np.float64)
    d = np.maximum(d[np.isfinite(d)], 1e-6)
    if len(d) < 4:
        return 0.0
    ld = np.log(d)
    med = np.median(ld)
    mad = 1.4826 * np.median(np.abs(ld - med))
    return float(min(np.exp(med - k * mad), MAX_THRESHOLD))


def reference_distances(n, pairs, dist, conflict_with, rank=RATIO_RANK):
    """(N,) each sample's ``rank``-th smallest distance to its candidates,
    its nearest other-label partner left out (inf if too few): the local
    scale of the ratio test."""
    per = [[] for _ in range(n)]
    for (i, j), d in zip(pairs.tolist(), dist.tolist()):
        if j != conflict_with[i]:
            per[i].append(d)
        if i != conflict_with[j]:
            per[j].append(d)
    out = np.full(n, np.inf)
    for i, v in enumerate(per):
        if len(v) >= rank:
            out[i] = np.partition(v, rank - 1)[rank - 1]
    return out


@dataclasses.dataclass
class NearDuplicates:
    """What :func:`find_near_duplicates` found among N images.

    Attributes:
        threshold: the absolute distance threshold taken from the data
        ratio_threshold: the ratio-test threshold used
        pairs: (P, 2) candidate pairs (i < j)
        distance: (P,) their aligned distances, LOWER = more alike
        conflict: (N,) aligned distance to the nearest candidate with
            another label (inf where none), LOWER = more likely a
            conflicting duplicate
        conflict_with: (N,) that candidate's index (-1 where none)
        ratio: (N,) ``conflict / reference`` of the ratio test (inf where
            undefined)
        certainty: (N,) how far inside the decision a sample is, > 1
            inside, higher = surer: ``max(threshold / conflict,
            ratio_threshold / ratio)``
        edges: (E, 2) the pairs that were joined into groups
        groups: (N,) connected component of each sample
        flagged: (N,) bool, member of a group holding two labels
    """

    threshold: float
    ratio_threshold: float
    pairs: np.ndarray
    distance: np.ndarray
    conflict: np.ndarray
    conflict_with: np.ndarray
    ratio: np.ndarray
    certainty: np.ndarray
    edges: np.ndarray
    groups: np.ndarray
    flagged: np.ndarray


def find_near_duplicates(images, labels, threshold=None, ratio=RATIO,
                         k=NEIGHBORS):
    """Groups of near-duplicate images whose labels differ.

    Args:
        images: (N, C, H, W) uint8 (C = 1 or 3)
        labels: (N,) labels (any comparable values; None = unlabeled)
        threshold (None): absolute distance threshold; None = taken from
            the data (:func:`data_threshold`)
        ratio (RATIO): ratio-test threshold; 0 turns the test off
        k (NEIGHBORS): nearest neighbours per image in the search

    Returns:
        a :class:`NearDuplicates`
    """
    pairs = candidate_pairs(images, k=k)
    dist = aligned_distances(images, pairs)
    return decide(len(images), labels, pairs, dist, threshold=threshold,
                  ratio=ratio)


def decide(n, labels, pairs, dist, threshold=None, ratio=RATIO,
           ratio_rank=RATIO_RANK):
    """Threshold, ratio test and grouping of verified candidate pairs (see
    :func:`find_near_duplicates`); returns a :class:`NearDuplicates`."""
    labels = np.asarray(labels, dtype=object)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    dist = np.asarray(dist, dtype=np.float64)
    conflict, conflict_with = conflict_of(n, pairs, dist, labels)
    thr = data_threshold(conflict) if threshold is None else float(
        threshold)
    ref = reference_distances(n, pairs, dist, conflict_with, ratio_rank)
    finite = np.isfinite(conflict)
    with np.errstate(divide="ignore", invalid="ignore"):
        rat = np.where(finite, conflict / np.maximum(ref, 1e-9), np.inf)
        certainty = np.maximum(
            np.where(finite, thr / np.maximum(conflict, 1e-9), 0.0),
            np.where(np.isfinite(rat), ratio / np.maximum(rat, 1e-9), 0.0),
        )
    hit = finite & ((conflict < thr) | (rat < ratio))
    # the same test on each sample's nearest candidate of any label groups
    # same-label duplicates too (a copy of a copy joins its group)
    near, near_with = nearest_partner(n, pairs, dist)
    near_ref = reference_distances(n, pairs, dist, near_with, ratio_rank)
    with np.errstate(divide="ignore", invalid="ignore"):
        near_hit = np.isfinite(near) & (
            (near < thr) | (near / np.maximum(near_ref, 1e-9) < ratio))
    edges = np.concatenate([
        np.stack([np.flatnonzero(hit), conflict_with[hit]], 1),
        np.stack([np.flatnonzero(near_hit), near_with[near_hit]], 1),
        pairs[dist < thr],
    ])
    groups = group_pairs(n, edges)
    return NearDuplicates(
        threshold=thr, ratio_threshold=float(ratio), pairs=pairs,
        distance=dist, conflict=conflict, conflict_with=conflict_with,
        ratio=rat, certainty=certainty, edges=edges, groups=groups,
        flagged=conflicting_members(groups, labels),
    )


def conflict_of(n, pairs, dist, labels):
    """Nearest other-label partner of each sample among the pairs: (N,)
    distances (inf if none) and (N,) partner indices (-1)."""
    a, b = labels[pairs[:, 0]], labels[pairs[:, 1]]
    diff = np.array([x is not None and y is not None and x != y
                     for x, y in zip(a, b)], dtype=bool)
    return nearest_partner(n, pairs, dist, diff)


def nearest_partner(n, pairs, dist, keep=None):
    """Nearest partner of each sample among the pairs (those where
    ``keep``, a (P,) bool mask, holds): (N,) distances (inf if none) and
    (N,) partner indices (-1)."""
    out = np.full(n, np.inf)
    who = np.full(n, -1)
    if keep is None:
        keep = np.ones(len(pairs), bool)
    order = np.argsort(-dist)  # assign far first, near last wins
    for p in order[keep[order]]:
        i, j = pairs[p]
        for a, b in ((i, j), (j, i)):
            if dist[p] <= out[a]:
                out[a], who[a] = dist[p], b
    return out, who


def conflicting_members(groups, labels):
    """(N,) bool: member of a component (size > 1) with two labels."""
    flagged = np.zeros(len(groups), bool)
    for g in np.unique(groups):
        m = np.flatnonzero(groups == g)
        named = {labels[i] for i in m if labels[i] is not None}
        if len(m) > 1 and len(named) > 1:
            flagged[m] = True
    return flagged
