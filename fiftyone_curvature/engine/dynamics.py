"""Training-dynamics scores computed from per-epoch records (pure numpy).

Every score here is a published baseline for finding mislabeled or
memorized samples that costs nothing beyond the training run itself: the
per-sample quantities are recorded from the logits the training pass (and
the curvature pass) computes anyway.
"""

import numpy as np

#: name -> (higher_is_suspicious, description with its source)
SCORES = {
    "csl": (
        True,
        "cumulative sample loss: sum over epochs of the sample's training "
        "loss (Ravikumar et al., ICML 2025)",
    ),
    "final_loss": (
        True,
        "cross-entropy of the given label at the final epoch, eval mode",
    ),
    "in_confidence": (
        True,
        "1 - p(given label) at the final epoch, eval mode",
    ),
    "aum": (
        False,
        "area under the margin: mean over epochs of logit(given) - largest "
        "other logit; LOW = suspicious (Pleiss et al., NeurIPS 2020)",
    ),
    "forgetting": (
        True,
        "forgetting events: times the sample went from correct to wrong "
        "between epochs; never-learned samples count max+1 "
        "(Toneva et al., ICLR 2019)",
    ),
    "dm_confidence": (
        False,
        "data-maps confidence: mean over epochs of p(given label); LOW = "
        "hard to learn (Swayamdipta et al., EMNLP 2020)",
    ),
    "dm_variability": (
        True,
        "data-maps variability: std over epochs of p(given label); HIGH = "
        "ambiguous (Swayamdipta et al., EMNLP 2020)",
    ),
    "el2n": (
        True,
        "EL2N: || softmax - one_hot(given) ||_2 at an early epoch, eval "
        "mode (Paul et al., NeurIPS 2021)",
    ),
}


def forgetting_events(correct):
    """Forgetting events per sample.

    Args:
        correct: (N, E) bool array, training-pass correctness per epoch

    Returns:
        an (N,) float64 array: number of correct -> wrong transitions;
        samples never classified correctly get ``max + 1`` (higher = more
        suspicious)
    """
    correct = np.asarray(correct, dtype=bool)
    if correct.shape[1] < 2:
        events = np.zeros(correct.shape[0])
    else:
        events = (correct[:, :-1] & ~correct[:, 1:]).sum(axis=1).astype(float)
    never = ~correct.any(axis=1)
    events[never] = (events.max() if len(events) else 0.0) + 1.0
    return events


def el2n(probabilities, labels):
    """EL2N score: (N, K) probabilities, (N,) labels -> (N,) L2 errors."""
    p = np.asarray(probabilities, dtype=np.float64).copy()
    p[np.arange(len(labels)), labels] -= 1.0
    return np.sqrt((p**2).sum(axis=1))


def dynamics_scores(records):
    """Computes every score of :data:`SCORES` from the run's records.

    Args:
        records: a dict with ``train_loss``, ``train_margin``,
            ``train_prob`` (N, E) float arrays and ``train_correct`` (N, E)
            bool array from the training pass; ``final_loss``,
            ``final_prob`` (N,) from the last eval pass; ``el2n`` (N,)

    Returns:
        a dict name -> (N,) float64 array, in each score's own direction
        (see :data:`SCORES`)
    """
    prob = np.asarray(records["train_prob"], dtype=np.float64)
    return {
        "csl": np.asarray(records["train_loss"], np.float64).sum(axis=1),
        "final_loss": np.asarray(records["final_loss"], np.float64),
        "in_confidence": 1.0 - np.asarray(records["final_prob"], np.float64),
        "aum": np.asarray(records["train_margin"], np.float64).mean(axis=1),
        "forgetting": forgetting_events(records["train_correct"]),
        "dm_confidence": prob.mean(axis=1),
        "dm_variability": prob.std(axis=1),
        "el2n": np.asarray(records["el2n"], np.float64),
    }


def suspicion(name, values):
    """Orients a score so that higher = more suspicious.

    Args:
        name: ``"curvature"`` or a key of :data:`SCORES`
        values: (N,) score values in the score's own direction

    Returns:
        an (N,) float64 array, higher = more likely mislabeled/memorized
    """
    values = np.asarray(values, dtype=np.float64)
    if name == "curvature" or name.startswith("curvature"):
        return values
    if name not in SCORES:
        raise ValueError(
            f"Unknown score {name!r}; valid ones are "
            f"{('curvature',) + tuple(SCORES)}"
        )
    return values if SCORES[name][0] else -values
