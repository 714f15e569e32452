"""Per-sample, per-epoch records of a run (what the dynamics scores need)."""

import numpy as np


class Recorder:
    """Arrays filled in place during training, N samples:

    - ``train_loss``, ``train_margin``, ``train_prob`` (N, E) float32 and
      ``train_correct`` (N, E) bool, from the training pass of each epoch
    - ``eval_loss``, ``eval_prob``, ``curvature`` (N, E_s), from the eval
      pass of each of the E_s scored epochs (curvature: higher = more
      likely memorized)
    - ``el2n`` (N,), at the EL2N epoch
    - ``curvature_probes`` (N, E_s, P) when probes are kept
    - ``train_probs`` (N, E, K) float16 training-pass softmax (what the
      suggested labels average), or, when that would exceed
      :data:`PROBS_BYTES_LIMIT`, ``train_probs_sum`` (N, K) float64 summed
      over all epochs
    """

    #: largest (N, E, K) float16 record of per-epoch probabilities kept
    PROBS_BYTES_LIMIT = 1 << 30

    def __init__(self, n, cfg, num_probes_kept, num_classes):
        e, es = cfg.epochs, len(cfg.scored_epochs())
        nan = np.float32("nan")
        self.arrays = {
            "train_loss": np.full((n, e), nan, np.float32),
            "train_margin": np.full((n, e), nan, np.float32),
            "train_prob": np.full((n, e), nan, np.float32),
            "train_correct": np.zeros((n, e), bool),
            "eval_loss": np.full((n, es), nan, np.float32),
            "eval_prob": np.full((n, es), nan, np.float32),
            "curvature": np.full((n, es), nan, np.float32),
            "el2n": np.full(n, nan, np.float32),
        }
        if num_probes_kept:
            self.arrays["curvature_probes"] = np.full(
                (n, es, num_probes_kept), nan, np.float32
            )
        if 2 * n * e * num_classes <= self.PROBS_BYTES_LIMIT:
            self.arrays["train_probs"] = np.zeros((n, e, num_classes),
                                                  np.float16)
        else:
            self.arrays["train_probs_sum"] = np.zeros((n, num_classes))

    def train_probs(self, epochs_done):
        """(N, E, K) per-epoch probabilities of the first ``epochs_done``
        epochs, or the (N, K) mean over them when only sums are kept."""
        if "train_probs" in self.arrays:
            return self.arrays["train_probs"][:, :epochs_done]
        return self.arrays["train_probs_sum"] / max(epochs_done, 1)

    def record_logits(self, prefix, col, idx, logits, y):
        """Records loss and p(label) (and, for ``"train"``, margin and
        correctness) of a batch's (B, K) logits in column ``col``.

        Returns:
            a bool tensor: whether every loss was finite
        """
        import torch
        import torch.nn.functional as F

        logits = logits.detach().float()
        logp = F.log_softmax(logits, dim=1)
        logp_y = logp.gather(1, y[:, None])[:, 0]
        idx = idx.cpu().numpy()
        self.arrays[f"{prefix}_loss"][idx, col] = (-logp_y).cpu().numpy()
        self.arrays[f"{prefix}_prob"][idx, col] = logp_y.exp().cpu().numpy()
        if prefix == "train":
            probs = logp.exp().cpu().numpy()
            if "train_probs" in self.arrays:
                self.arrays["train_probs"][idx, col] = probs
            else:
                self.arrays["train_probs_sum"][idx] += probs
            other = logits.scatter(1, y[:, None], float("-inf"))
            margin = logits.gather(1, y[:, None])[:, 0] - other.max(1).values
            self.arrays["train_margin"][idx, col] = margin.cpu().numpy()
            correct = logits.argmax(1) == y
            self.arrays["train_correct"][idx, col] = correct.cpu().numpy()
        return torch.isfinite(logp_y).all()

    def record_curvature(self, col, idx, per_probe):
        """Records a batch's (B, P) per-probe curvature in column ``col``."""
        ii = idx.numpy()
        self.arrays["curvature"][ii, col] = per_probe.mean(axis=1)
        if "curvature_probes" in self.arrays:
            self.arrays["curvature_probes"][ii, col] = per_probe
