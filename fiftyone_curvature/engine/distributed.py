"""Data-parallel runs: process group, batch slices, sample shards, gather.

A run under ``torchrun`` (or :mod:`fiftyone_curvature.engine.launcher`)
trains one DistributedDataParallel model on N ranks:

- every rank draws the same seeded permutation of the N samples and the
  same global batches of it; rank ``r`` trains on its contiguous slice of
  each global batch, and draws the augmentation of the whole global batch
  (applying its slice), so a global batch is the same samples with the
  same crops whatever the number of ranks;
- each rank's loss is ``sum(losses of its slice) * world / global_batch``,
  so that DDP's gradient average equals the gradient of the global batch's
  mean loss; BatchNorm layers are synchronised (``torch.nn.SyncBatchNorm``
  on CUDA, :class:`CpuSyncBatchNorm` on the CPU, where torch's refuses);
- the scoring pass (curvature, eval losses, EL2N) and the final logits
  are computed once per sample: rank ``r`` takes the r-th contiguous
  block of sample indices;
- after every epoch the per-sample records of each rank are gathered to
  rank 0, which alone holds complete records, writes checkpoints and
  returns the result.

:class:`SingleProcess` is the same interface for a plain run: every hook
is the identity, so a single-process run is unchanged.
"""

import datetime
import logging
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

logger = logging.getLogger(__name__)

#: seconds a collective may wait for a peer before the run fails (env
#: ``FIFTYONE_CURVATURE_DIST_TIMEOUT`` overrides); a rank that dies ends
#: the run at the latest after this long, usually at once (its launcher
#: stops the others)
DEFAULT_TIMEOUT_S = 600

#: per-sample records filled by the training pass (one column per epoch)
TRAIN_RECORDS = ("train_loss", "train_margin", "train_prob",
                 "train_correct", "train_probs")
#: per-sample records filled by the scoring pass (one column per scored
#: epoch)
EVAL_RECORDS = ("eval_loss", "eval_prob", "curvature", "curvature_probes")


def timeout():
    """The collective timeout as a ``datetime.timedelta``."""
    seconds = float(os.environ.get("FIFTYONE_CURVATURE_DIST_TIMEOUT",
                                   DEFAULT_TIMEOUT_S))
    return datetime.timedelta(seconds=seconds)


def env_world():
    """``(rank, world_size, local_rank, local_world_size)`` from the
    environment torchrun sets; ``(0, 1, 0, 1)`` outside torchrun."""
    get = os.environ.get
    world = int(get("WORLD_SIZE", 1))
    return (int(get("RANK", 0)), world, int(get("LOCAL_RANK", 0)),
            int(get("LOCAL_WORLD_SIZE", world)))


def backend_for(device):
    """``"nccl"`` for CUDA devices, ``"gloo"`` otherwise."""
    return "nccl" if device.type == "cuda" else "gloo"


def shard_bounds(n, world, rank):
    """``(start, stop)`` of rank ``rank``'s contiguous block of ``n``
    items (the first ``n % world`` ranks get one more)."""
    base, extra = divmod(n, world)
    start = rank * base + min(rank, extra)
    return start, start + base + (rank < extra)


class SingleProcess:
    """The hooks of :class:`Distributed` for a one-process run: all
    identities, so the run is exactly the plain one."""

    rank, world, is_main = 0, 1, True

    def prepare_model(self, model):
        """``(model, train_model)``: the module to score, checkpoint and
        return, and the one to train with."""
        return model, model

    def begin_epoch(self, rec):
        """Called before an epoch's training pass."""

    def split(self, global_idx):
        """``(local_idx, window)``: this rank's slice of a global batch
        and the augmentation window (None: the whole batch)."""
        return global_idx, None

    def batch_loss(self, losses, global_size):
        """``(loss to backpropagate, loss to check and report)``."""
        loss = losses.mean()
        return loss, loss

    def all_finite(self, loss):
        """Whether the loss is finite on every rank."""
        return bool(torch.isfinite(loss))

    def epoch_totals(self, loss_sum, correct_sum):
        """Sums of the epoch's training loss and correct count over ranks."""
        return loss_sum, correct_sum

    def end_train_epoch(self, rec, col):
        """Gathers the training records of column ``col`` to rank 0."""

    def shard(self, order):
        """This rank's block of the sample order ``order`` (scoring)."""
        return order

    def end_eval_pass(self, rec, col, idx, el2n):
        """Gathers the scoring records of column ``col`` (None: none) and
        EL2N (when ``el2n``) of the samples ``idx`` to rank 0."""

    def gather_outputs(self, logits, feats):
        """This rank's (n_r, K) logits / (n_r, D) features -> all of them
        on rank 0 in sample order (None elsewhere)."""
        return logits, feats


class Distributed(SingleProcess):
    """One rank of a data-parallel run; ``torch.distributed`` must be
    initialised (see :func:`init_process_group`)."""

    def __init__(self, device):
        self.device = device
        self.rank = dist.get_rank()
        self.world = dist.get_world_size()
        self.is_main = self.rank == 0
        self._seen = []

    # ------------------------------------------------------------- model

    def prepare_model(self, model):
        from torch.nn.parallel import DistributedDataParallel

        if self.device.type == "cuda":
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
            ids = [self.device.index if self.device.index is not None
                   else torch.cuda.current_device()]
        else:
            model = convert_cpu_sync_batchnorm(model)
            ids = None
        # SyncBatchNorm keeps the buffers equal on every rank: no broadcast
        ddp = DistributedDataParallel(model, device_ids=ids,
                                      forward_sync_buffers=False)
        return model, ddp

    # ---------------------------------------------------------- training

    def begin_epoch(self, rec):
        self._seen = []
        if not self.is_main and "train_probs_sum" in rec.arrays:
            # non-main ranks send this epoch's sums only (rank 0 adds them)
            rec.arrays["train_probs_sum"][:] = 0

    def split(self, global_idx):
        start, stop = shard_bounds(len(global_idx), self.world, self.rank)
        local = global_idx[start:stop]
        self._seen.append(local)
        return local, (len(global_idx), start)

    def batch_loss(self, losses, global_size):
        loss = losses.sum() * (self.world / global_size)
        report = losses.detach().sum() / max(len(losses), 1)
        return loss, report

    def all_finite(self, loss):
        flag = torch.tensor([float(torch.isfinite(loss))],
                            device=self._comm_device())
        dist.all_reduce(flag, op=dist.ReduceOp.MIN)
        return bool(flag.item() > 0)

    def epoch_totals(self, loss_sum, correct_sum):
        t = torch.tensor([loss_sum, float(correct_sum)], dtype=torch.float64,
                         device=self._comm_device())
        dist.all_reduce(t)
        return float(t[0]), int(round(float(t[1])))

    def end_train_epoch(self, rec, col):
        idx = (np.concatenate([i.numpy() for i in self._seen])
               if self._seen else np.zeros(0, np.int64))
        arrays = rec.arrays
        payload = {name: arrays[name][idx, col] for name in TRAIN_RECORDS
                   if name in arrays}
        if "train_probs_sum" in arrays:
            payload["train_probs_sum"] = arrays["train_probs_sum"][idx]
        self._gather_rows(arrays, idx, payload, col)

    # ----------------------------------------------------------- scoring

    def shard(self, order):
        start, stop = shard_bounds(len(order), self.world, self.rank)
        return order[start:stop]

    def end_eval_pass(self, rec, col, idx, el2n):
        arrays = rec.arrays
        idx = idx.numpy()
        payload = {}
        if col is not None:
            payload = {name: arrays[name][idx, col] for name in EVAL_RECORDS
                       if name in arrays}
        if el2n:
            payload["el2n"] = arrays["el2n"][idx]
        self._gather_rows(arrays, idx, payload, col)

    def gather_outputs(self, logits, feats):
        parts = self._gather((logits, feats))
        if parts is None:
            return None, None
        logits = np.concatenate([p[0] for p in parts])
        feats = (np.concatenate([p[1] for p in parts])
                 if parts[0][1] is not None else None)
        return logits, feats

    # --------------------------------------------------------- plumbing

    def _comm_device(self):
        return self.device if self.device.type == "cuda" else "cpu"

    def _gather(self, obj):
        """Every rank's ``obj`` (a list in rank order) on rank 0, None on
        the others."""

        out = [None] * self.world if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def _gather_rows(self, arrays, idx, payload, col):
        """Writes every rank's ``payload`` rows ``idx`` into rank 0's
        ``arrays`` (column ``col`` for 2-D+ records; ``train_probs_sum``
        is added, the others assigned)."""
        parts = self._gather((idx, payload))
        if parts is None:
            return
        _check_once([p[0] for p in parts], len(arrays["el2n"]))
        for rank, (ridx, values) in enumerate(parts):
            if rank == 0:
                continue
            for name, v in values.items():
                if name == "train_probs_sum":
                    arrays[name][ridx] += v
                elif name == "el2n":
                    arrays[name][ridx] = v
                else:
                    arrays[name][ridx, col] = v


def _check_once(index_sets, n):
    """Raises RuntimeError unless the ranks' index sets cover the ``n``
    samples exactly once (every sample trained / scored by one rank)."""
    counts = np.bincount(np.concatenate(index_sets).astype(np.int64),
                         minlength=n)
    if len(counts) != n or not (counts == 1).all():
        raise RuntimeError(
            f"Sharding error: {int((counts == 0).sum())} sample(s) missed "
            f"and {int((counts > 1).sum())} seen more than once by the "
            f"{len(index_sets)} ranks")


def convert_cpu_sync_batchnorm(module):
    """``module`` with every ``BatchNorm2d`` replaced by a
    :class:`CpuSyncBatchNorm` sharing its parameters and buffers."""
    if type(module) is nn.BatchNorm2d:
        out = CpuSyncBatchNorm(module.num_features, module.eps,
                               module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean = module.running_mean
        out.running_var = module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
        return out
    for name, child in module.named_children():
        module.add_module(name, convert_cpu_sync_batchnorm(child))
    return module


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks whose gradient is the sum over ranks of the
    gradients (each rank's loss depends on every rank's statistics)."""

    @staticmethod
    def forward(ctx, tensor):
        out = tensor.clone()
        dist.all_reduce(out)
        return out

    @staticmethod
    def backward(ctx, grad):
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class CpuSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the global batch
    (all ranks), for the gloo backend (torch's SyncBatchNorm runs on
    accelerators only).

    One all-reduce per layer of the sums and sums of squares (float64);
    gradients flow through it. Eval mode (and a run of one
    rank) is plain BatchNorm2d. Input and output: (B, C, H, W), B may
    differ between ranks (even be 0).
    """

    def forward(self, x):
        if not (self.training and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        # one all-reduce of the sums and sums of squares, in float64 (as
        # torch's CPU BatchNorm accumulates), so E[x^2] - E[x]^2 is exact
        # enough and each layer costs one collective forward, one backward
        c = x.shape[1]
        xd = x.double()
        count = xd.new_tensor([x.numel() // c])
        total = _AllReduceSum.apply(torch.cat(
            [xd.sum((0, 2, 3)), (xd * xd).sum((0, 2, 3)), count]))
        n = total[2 * c]
        mean = total[:c] / n
        var = (total[c:2 * c] / n - mean * mean).clamp_min(0)
        centred = xd - mean[None, :, None, None]
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum
                self.running_mean.mul_(1 - m).add_((m * mean).float())
                self.running_var.mul_(1 - m).add_(
                    (m * var * (n / (n - 1).clamp_min(1))).float())
        out = (centred * torch.rsqrt(var + self.eps)[None, :, None, None]
               ).to(x.dtype)
        if self.affine:
            out = (out * self.weight[None, :, None, None]
                   + self.bias[None, :, None, None])
        return out


def init_process_group(device):
    """Initialises ``torch.distributed`` from torchrun's environment
    (NCCL on CUDA, gloo on the CPU, :func:`timeout` for collectives) and
    returns a :class:`Distributed` for this rank."""

    backend = backend_for(device)
    kwargs = {}
    if device.type == "cuda":
        kwargs["device_id"] = torch.device("cuda",
                                           torch.cuda.current_device())
    dist.init_process_group(backend, timeout=timeout(), **kwargs)
    logger.info("rank %d/%d: %s process group on %s", dist.get_rank(),
                dist.get_world_size(), backend, device)
    return Distributed(device)
