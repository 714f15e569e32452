"""What the network believed before it memorized: suggested labels, an
estimate of how many labels are wrong, and who is likely mislabeled or
long-tail (numpy, scipy, scikit-learn).

A flipped label is predicted as its true class for many epochs before the
network memorizes it. So the suggested label of a sample is the class of
highest mean training-pass probability over the epochs before the network
starts fitting noise (:func:`fitting_window`), not the prediction of the
final, memorizing network. How many labels are wrong is estimated from the
distribution of AUM (Pleiss et al., NeurIPS 2020; mean margin of the given
label over training): a two-component Gaussian mixture, whose low-margin
component is the mislabeled one (the loss-mixture idea of Arazo et al.,
ICML 2019, on AUM) when the network went on to fit the noise; when it
never did, by confident learning's count on the final probabilities
(Northcutt et al., JAIR 2021). The README has the measurements behind the
switch.
"""

import dataclasses

import numpy as np
from scipy.stats import rankdata
from sklearn.mixture import GaussianMixture


def gaussian_mixture_low(x, iters=300, tol=1e-9):
    """1-D two-component Gaussian mixture (scikit-learn's EM), started
    from a small low component (weights 0.1 / 0.9, means at the 5% and 50%
    quantiles, each sd half the data's).

    Args:
        x: (N,) values (at least 2, not all equal)
        iters (300): most EM iterations
        tol (1e-9): convergence threshold of the mean log-likelihood

    Returns:
        (N,) posterior probability of the component with the LOWER mean
    """
    x = np.asarray(x, dtype=np.float64)[:, None]
    sd = x.std() / 2 + 1e-12
    mixture = GaussianMixture(
        2, covariance_type="spherical", max_iter=iters, tol=tol,
        weights_init=[0.1, 0.9],
        means_init=np.quantile(x[:, 0], [0.05, 0.5])[:, None],
        precisions_init=np.full(2, 1.0 / sd**2),
        reg_covar=1e-6 * x.var() + 1e-12, random_state=0,
    ).fit(x)
    return mixture.predict_proba(x)[:, int(np.argmin(mixture.means_[:, 0]))]


def estimate_num_errors(aum):
    """Estimated number of wrong labels: the expected size of the
    low-margin component of a two-component mixture fitted to AUM.

    Args:
        aum: (N,) area under the margin, LOW = suspicious

    Returns:
        an int in [0, N]
    """
    aum = np.asarray(aum, dtype=np.float64)
    aum = aum[np.isfinite(aum)]
    if len(aum) < 10 or aum.std() == 0:
        return 0
    return int(round(gaussian_mixture_low(aum).sum()))


def confident_joint_errors(mean_probs, given, calibrated=False):
    """Confident learning's off-diagonal count of the confident joint
    (Northcutt et al., JAIR 2021): per class j the threshold is the mean
    p(j) over the samples labelled j; a sample counts at the most probable
    class whose probability reaches its threshold.

    Args:
        mean_probs: (N, K) probabilities
        given: (N,) int labels
        calibrated (False): rescale each row to the class's count first

    Returns:
        an int: the estimated number of wrong labels
    """
    p = np.asarray(mean_probs, dtype=np.float64)
    y = np.asarray(given)
    k = p.shape[1]
    thr = np.array([p[y == j, j].mean() if np.any(y == j) else np.inf
                    for j in range(k)])
    above = p >= thr[None, :] - 1e-6
    assigned = np.where(above.any(axis=1),
                        np.where(above, p, -np.inf).argmax(axis=1), -1)
    joint = np.zeros((k, k))
    ok = assigned >= 0
    np.add.at(joint, (y[ok], assigned[ok]), 1)
    if calibrated:
        counts = np.bincount(y, minlength=k)
        joint = joint / np.maximum(joint.sum(axis=1, keepdims=True), 1)
        joint = joint * counts[:, None]
    return int(round(joint.sum() - np.trace(joint)))


def fitting_window(train_accuracy, num_errors, num_samples):
    """W, the number of leading epochs before the network fits noise: the
    epochs before the first whose training accuracy on the given labels
    exceeds the estimated clean fraction ``1 - num_errors / N`` (all of
    them when it never does), at least 1.

    Args:
        train_accuracy: (E,) training-pass accuracy per epoch
        num_errors: the estimated number of wrong labels
        num_samples: N

    Returns:
        an int in [1, E]
    """
    acc = np.asarray(train_accuracy, dtype=np.float64)
    over = np.flatnonzero(acc > 1.0 - float(num_errors) / num_samples)
    w = int(over[0]) if len(over) else len(acc)
    return int(min(max(w, 1), len(acc)))


def percentile_rank(values):
    """(N,) -> (N,) ranks scaled to [0, 1], 1 = highest value, ties
    averaged; NaN ranks lowest."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) < 2:
        return np.ones(len(v))
    v = np.where(np.isfinite(v), v, -np.inf)
    return (rankdata(v) - 1.0) / (len(v) - 1.0)


@dataclasses.dataclass
class LabelReview:
    """Suggested labels and error estimate of one run, N samples.

    Attributes:
        suggested: (N,) int, class of highest mean training probability
            over the first ``window`` epochs
        confidence: (N,) that mean probability
        estimated_errors: estimated number of wrong labels (see
            ``estimator``)
        window: W, the epochs the suggestion averages over
        estimator: how ``estimated_errors`` was made: ``"aum_mixture"``
            when the network went on to fit wrong labels (W < E: the AUM
            of memorized samples stays low), ``"confident_joint"`` on the
            final probabilities when it never did (W = E: the final
            network still disagrees with the wrong labels); ``"heldout"``
            when K-fold held-out probabilities exist (feature runs, see
            :func:`review_with_heldout`)
        aum_mixture_errors: the AUM-mixture count
        confident_joint_errors: confident learning's count on the final
            probabilities
    """

    suggested: np.ndarray
    confidence: np.ndarray
    estimated_errors: int
    window: int
    estimator: str
    aum_mixture_errors: int
    confident_joint_errors: int

    def likely_mislabeled(self, scores, given):
        """(N,) bool: the ``estimated_errors`` samples of highest
        ``scores`` (higher = more memorized) among those whose suggested
        label differs from the given one."""
        s = np.asarray(scores, dtype=np.float64)
        s = np.where(np.isfinite(s), s, -np.inf)
        candidates = np.flatnonzero(self.suggested != np.asarray(given))
        top = candidates[np.argsort(-s[candidates], kind="stable")]
        out = np.zeros(len(s), bool)
        out[top[: self.estimated_errors]] = True
        return out


def review_labels(train_probs, train_accuracy, aum, given, final_probs):
    """Suggested labels and the error estimate of a run.

    Args:
        train_probs: (N, E, K) training-pass softmax per epoch (any float
            dtype), or (N, K) probabilities already averaged over all
            epochs
        train_accuracy: (E,) training accuracy per epoch
        aum: (N,) AUM (LOW = suspicious)
        given: (N,) int labels trained on
        final_probs: (N, K) eval-mode probabilities of the final network

    Returns:
        a :class:`LabelReview`
    """
    given = np.asarray(given)
    epochs = len(np.asarray(train_accuracy))
    by_aum = estimate_num_errors(aum)
    window = fitting_window(train_accuracy, by_aum, len(given))
    by_joint = confident_joint_errors(final_probs, given)
    probs = np.asarray(train_probs)
    if probs.ndim == 3:
        mean = probs[:, :window].astype(np.float64).mean(axis=1)
    else:
        mean = probs.astype(np.float64)
        window = epochs
    suggested = mean.argmax(axis=1)
    fitted_noise = window < epochs
    return LabelReview(
        suggested=suggested,
        confidence=mean[np.arange(len(mean)), suggested],
        estimated_errors=by_aum if fitted_noise else by_joint,
        window=window,
        estimator="aum_mixture" if fitted_noise else "confident_joint",
        aum_mixture_errors=by_aum,
        confident_joint_errors=by_joint,
    )


#: a held-out p(given label) below this fraction of chance (1 / K) counts
#: the label as wrong (docs/features.md has the measurements)
HELDOUT_FRACTION_OF_CHANCE = 0.3


def review_with_heldout(review, heldout_probs, given, aum=None,
                        fraction=HELDOUT_FRACTION_OF_CHANCE):
    """A :class:`LabelReview` from out-of-sample probabilities (K folds:
    every sample predicted by a network that never trained on it).

    The suggested label is the held-out prediction; the estimated number
    of wrong labels is the number of samples whose held-out p(given label)
    is below ``fraction / K`` while another class is predicted, and whose
    AUM is negative (over training, the network that did train on the
    sample preferred another class on average). A network that memorizes
    every label says nothing about a label it trained on; one that never
    saw the sample does, and the AUM condition keeps the hard but correct
    samples out: on 1,000 clean CIFAR photos (pretrained features) 54 pass
    the held-out test and none of them has a negative AUM, while on 10%
    symmetric noise 523 of 537 do (docs/features.md).

    Args:
        review: the run's :class:`LabelReview` (window and the other
            counts are kept)
        heldout_probs: (N, K) held-out probabilities (no NaN rows)
        given: (N,) int labels trained on
        aum (None): (N,) AUM of the run (LOW = suspicious); None = no AUM
            condition
        fraction (0.3): of chance, 1 / K

    Returns:
        a new :class:`LabelReview` with ``estimator="heldout"``
    """
    p = np.asarray(heldout_probs, dtype=np.float64)
    given = np.asarray(given)
    suggested = p.argmax(axis=1)
    p_given = p[np.arange(len(given)), given]
    wrong = (p_given < fraction / p.shape[1]) & (suggested != given)
    if aum is not None:
        wrong &= np.asarray(aum, dtype=np.float64) < 0
    return dataclasses.replace(
        review,
        suggested=suggested,
        confidence=p[np.arange(len(p)), suggested],
        estimated_errors=int(wrong.sum()),
        estimator="heldout",
    )
