"""Nearest neighbours for duplicate search: pixel vectors, groups,
distances to the nearest sample with another label (numpy, scikit-learn,
scipy)."""

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import normalize

from .constants import NEIGHBORS


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
    """Connected components of an undirected graph.

    Args:
        n: number of nodes
        pairs: iterable of ``(i, j)`` node-index pairs

    Returns:
        (N,) int array: the component of each node, numbered by first
        appearance
    """

    edges = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)
    graph = coo_matrix(
        (np.ones(len(edges), np.int8), (edges[:, 0], edges[:, 1])),
        shape=(n, n),
    )
    _, labels = connected_components(graph, directed=False)
    # renumber by first appearance
    _, first = np.unique(labels, return_index=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[labels]


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
