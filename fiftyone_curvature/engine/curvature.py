"""Per-sample input-loss curvature estimators (pure PyTorch, no FiftyOne).

The score of a sample ``x`` with its given label ``y`` at one checkpoint is
(Garg, Ravikumar & Roy, ICML 2024)::

    curv(x) = 1/n * sum_i || grad_x L(x + h v_i, y) - grad_x L(x, y) ||

with ``v_i`` Rademacher probes (+1/-1 per input element), the model in
``eval()`` mode and the perturbation applied to the normalised input.
Higher = sharper loss around the sample = more likely memorized.

Two estimators are offered:

``"fd"`` (default)
    The paper's finite difference above. On ReLU networks it is *not* a
    Hessian norm: the step crosses activation kinks and picks up a
    label-dependent term, which is what finds mislabeled samples.
``"hvp"``
    Exact Hessian-vector products by double backward, reported as
    ``|| h * H v_i ||`` so that both estimators share a scale on smooth
    networks. On ReLU networks it ignores the label and finds mislabeled
    samples much worse; it is an option, never a substitute.

Norms: ``"l2"`` (default, as in every released script) and ``"l2sq"`` (the
squared norm of the paper's text, a Hutchinson estimate of ``h^2 tr(H^2)``).

Probes are drawn from a counter-based generator keyed by (seed, epoch,
probe, sample index, element): a sample's probes do not depend on the
batch it lands in, so scores are invariant to batch size and position.
"""

import numpy as np
import torch
import torch.nn.functional as F

from .config import AGGREGATIONS, ESTIMATORS, NORMS

_MASK32 = 0xFFFFFFFF


def _mix32(x):
    """Integer hash ("lowbias32") on int64 tensors holding 32-bit values."""
    x = x & _MASK32
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK32
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK32
    x = x ^ (x >> 16)
    return x


def rademacher_probes(sample_ids, shape, seed, epoch, probe, device=None):
    """Rademacher probes that depend only on the sample, never on the batch.

    Args:
        sample_ids: (B,) int tensor of dataset indices of the samples
        shape: the shape of one input, e.g. ``(C, H, W)``
        seed: the run seed
        epoch: the epoch being scored
        probe: the probe number
        device (None): where to build the probes

    Returns:
        a (B, *shape) float32 tensor of +1/-1 values
    """
    sample_ids = torch.as_tensor(sample_ids, dtype=torch.int64, device=device)
    numel = 1
    for s in shape:
        numel *= int(s)
    key = _mix32(torch.tensor(int(seed) * 0x9E3779B1 + 0x632BE5AB))
    key = _mix32(key ^ (int(epoch) * 0x85EBCA6B + 0x27D4EB2F))
    key = _mix32(key ^ (int(probe) * 0xC2B2AE35 + 0x165667B1))
    key = key.to(sample_ids.device)
    per_sample = _mix32(sample_ids * 0x9E3779B1 ^ key)
    elements = torch.arange(numel, dtype=torch.int64, device=sample_ids.device)
    bits = _mix32(per_sample[:, None] ^ (elements[None, :] * 0x85EBCA6B))
    signs = (bits >> 31).to(torch.float32) * 2.0 - 1.0
    return signs.reshape(len(sample_ids), *shape)


def _input_gradient(model, x, y, create_graph=False):
    """Gradient of each sample's own loss w.r.t. its input: (B, *input)."""
    x = x.detach().requires_grad_(True)
    logits = model(x)
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()
    # reduction="sum": sample i's gradient is d loss_i / d x_i, unscaled by
    # the batch size (the released code's mean reduction divides by it).
    loss = F.cross_entropy(logits, y, reduction="sum")
    (grad,) = torch.autograd.grad(loss, x, create_graph=create_graph)
    return x, logits, grad


def _norm(diff, norm):
    sq = diff.flatten(1).pow(2).sum(dim=1)
    return sq if norm == "l2sq" else sq.sqrt()


def _check_options(estimator, norm):
    if estimator not in ESTIMATORS:
        raise ValueError(
            f"Unknown curvature estimator {estimator!r}; "
            f"valid ones are {ESTIMATORS}"
        )
    if norm not in NORMS:
        raise ValueError(f"Unknown norm {norm!r}; valid ones are {NORMS}")


def curvature_batch(
    model,
    x,
    y,
    sample_ids,
    *,
    estimator="fd",
    probes=10,
    h=1e-3,
    norm="l2",
    seed=0,
    epoch=0,
):
    """Curvature of every sample of one batch.

    The model must already be in ``eval()`` mode; ``x`` must be normalised
    (the perturbation is applied to what the model sees).

    Args:
        model: a classifier mapping (B, *input) to (B, K) logits
        x: (B, *input) float inputs
        y: (B,) int64 labels (the given labels, possibly wrong)
        sample_ids: (B,) dataset indices, which key the probes
        estimator ("fd"): ``"fd"`` or ``"hvp"``
        probes (10): number of Rademacher probes n
        h (1e-3): finite-difference step (``"hvp"`` scales by it too)
        norm ("l2"): ``"l2"`` or ``"l2sq"``
        seed (0): probe seed
        epoch (0): epoch being scored (part of the probe key)

    Returns:
        a tuple ``(scores, logits)``: scores is a (B, probes) float32 tensor
        of per-probe curvature (mean over the last axis is the score,
        higher = more likely memorized); logits is the (B, K) detached
        output at the unperturbed input
    """
    _check_options(estimator, norm)
    shape = tuple(x.shape[1:])
    per_probe = []
    if estimator == "fd":
        _, logits, grad0 = _input_gradient(model, x, y)
        for p in range(probes):
            v = rademacher_probes(sample_ids, shape, seed, epoch, p, x.device)
            _, _, grad = _input_gradient(model, x + h * v.to(x.dtype), y)
            per_probe.append(_norm(grad - grad0, norm))
    else:
        xg, logits, grad0 = _input_gradient(model, x, y, create_graph=True)
        for p in range(probes):
            v = rademacher_probes(sample_ids, shape, seed, epoch, p, x.device)
            (hv,) = torch.autograd.grad(
                grad0, xg, grad_outputs=v.to(x.dtype), retain_graph=True
            )
            per_probe.append(_norm(h * hv, norm))
    scores = torch.stack(per_probe, dim=1).detach().float()
    return scores, logits.detach().float()


def aggregate_epochs(matrix, method="mean"):
    """Combine per-epoch curvature into one score per sample.

    Args:
        matrix: (N, E) array-like of per-epoch scores (E scored epochs in
            training order); NaN marks an epoch that was not scored
        method ("mean"): one of :data:`AGGREGATIONS`: ``"mean"`` (the
            paper), ``"last_half"`` / ``"first_half"`` (mean over that half
            of the scored epochs), ``"rank_mean"`` (mean of per-epoch
            ranks in [0, 1]), ``"zscore_mean"`` (mean of per-epoch z-scores)

    Returns:
        an (N,) float64 numpy array, higher = more likely memorized
    """

    if method not in AGGREGATIONS:
        raise ValueError(
            f"Unknown aggregation {method!r}; valid ones are {AGGREGATIONS}"
        )
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"Expected an (N, E) matrix, got shape {m.shape}")
    scored = ~np.all(np.isnan(m), axis=0)
    m = m[:, scored]
    if m.shape[1] == 0:
        raise ValueError("No scored epoch in the curvature matrix")
    e = m.shape[1]
    if method == "last_half":
        m = m[:, e // 2 :]
    elif method == "first_half":
        m = m[:, : max(1, (e + 1) // 2)]
    elif method == "rank_mean":
        ranks = np.argsort(np.argsort(m, axis=0), axis=0)
        m = ranks / max(1, m.shape[0] - 1)
    elif method == "zscore_mean":
        std = m.std(axis=0)
        std[std == 0] = 1.0
        m = (m - m.mean(axis=0)) / std
    return m.mean(axis=1)
