"""Known label noise for evaluations: flip a seeded fraction (pure numpy)."""

import numpy as np

from .constants import NOISE_KINDS

#: noise kinds of :func:`inject_noise`
KINDS = NOISE_KINDS


def random_mapping(num_classes, rng):
    """A random class-pair mapping for asymmetric noise: one random cycle
    through all classes, so no class maps to itself.

    Args:
        num_classes: K >= 2
        rng: a ``numpy.random.Generator``

    Returns:
        a dict source index -> target index
    """
    perm = rng.permutation(num_classes)
    return {
        int(perm[i]): int(perm[(i + 1) % num_classes])
        for i in range(num_classes)
    }


def inject_noise(targets, num_classes, noise, kind="symmetric", mapping=None,
                 seed=0):
    """Flips a known random fraction of labels.

    Args:
        targets: (N,) int class indices, the labels to corrupt (not
            modified)
        num_classes: K
        noise: fraction of labels to flip, in (0, 1)
        kind ("symmetric"): ``"symmetric"``: round(noise * N) samples drawn
            uniformly get a uniformly random OTHER class;
            ``"asymmetric"``: in each source class of ``mapping``,
            round(noise * n_class) samples get the mapped class
        mapping (None): for asymmetric noise, a dict source index -> target
            index (may cover only some classes); None draws a random cycle
            through all classes (:func:`random_mapping`)
        seed (0): seed of the draw

    Returns:
        a tuple ``(noisy, corrupted, mapping)``: (N,) int64 labels with the
        flips, (N,) bool True where the label was flipped, and the mapping
        used (None for symmetric noise)

    Raises:
        ValueError: an invalid fraction, kind or mapping, or no sample to
            flip
    """
    y = np.asarray(targets, dtype=np.int64)
    if not 0.0 < float(noise) < 1.0:
        raise ValueError(f"noise must be in (0, 1), got {noise!r}")
    if kind not in KINDS:
        raise ValueError(f"Unknown kind {kind!r}; valid ones are {KINDS}")
    if num_classes < 2:
        raise ValueError("Noise injection needs at least two classes")
    rng = np.random.default_rng(seed)
    noisy = y.copy()
    corrupted = np.zeros(len(y), dtype=bool)
    if kind == "symmetric":
        if mapping is not None:
            raise ValueError("mapping is only used with kind='asymmetric'")
        k = int(round(noise * len(y)))
        idx = rng.choice(len(y), size=k, replace=False)
        noisy[idx] = (y[idx] + rng.integers(1, num_classes, size=k)) % (
            num_classes
        )
        corrupted[idx] = True
        used = None
    else:
        used = (random_mapping(num_classes, rng) if mapping is None
                else check_mapping(mapping, num_classes))
        for src in sorted(used):
            members = np.flatnonzero(y == src)
            k = int(round(noise * len(members)))
            idx = rng.choice(members, size=k, replace=False)
            noisy[idx] = used[src]
            corrupted[idx] = True
    if not corrupted.any():
        raise ValueError(
            f"noise={noise} flips no label of these {len(y)} samples; use a "
            "larger fraction"
        )
    return noisy, corrupted, used


def check_mapping(mapping, num_classes):
    """Validates an asymmetric mapping of class indices.

    Returns:
        a dict source index -> target index

    Raises:
        ValueError: an index out of range, a class mapped to itself, or an
            empty mapping
    """
    used = {}
    for src, dst in dict(mapping).items():
        src, dst = int(src), int(dst)
        for c in (src, dst):
            if not 0 <= c < num_classes:
                raise ValueError(
                    f"Class index {c} of the mapping is outside "
                    f"[0, {num_classes})"
                )
        if src == dst:
            raise ValueError(f"The mapping sends class {src} to itself")
        used[src] = dst
    if not used:
        raise ValueError("The mapping is empty")
    return used
