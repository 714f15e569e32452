"""Trains a classifier on in-memory tensors and tracks per-sample curvature.

Pure PyTorch and numpy: this module never imports FiftyOne, so the engine
runs on any machine with torch (a GPU box without FiftyOne included).
"""

import contextlib
import dataclasses
import hashlib
import logging
import os
import time

import numpy as np

from .config import TrackingConfig
from .curvature import aggregate_epochs, curvature_batch
from .dynamics import dynamics_scores, el2n
from .models import auto_model_name, build_model

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "state.pt"


class TrainingDivergedError(RuntimeError):
    """The training loss became NaN or inf.

    Attributes:
        epoch: the 1-based epoch in which it happened
        partial_result: a :class:`TrackingResult` over the epochs finished
            before (None if none finished)
        checkpoint_path: where those epochs were saved (None without a
            checkpoint directory)
    """

    def __init__(self, message, epoch, partial_result, checkpoint_path):
        super().__init__(message)
        self.epoch = epoch
        self.partial_result = partial_result
        self.checkpoint_path = checkpoint_path


@dataclasses.dataclass
class TrackingResult:
    """What a tracked run produced, for N training samples.

    Attributes:
        config: the full :class:`TrackingConfig` as a dict (model resolved)
        num_classes: K
        curvature: (N,) aggregated curvature, higher = more likely memorized
        curvature_epochs: (N, E_s) per-probe-mean curvature at each scored
            epoch
        scored_epochs: the E_s 1-based epochs that were scored
        curvature_probes: (N, E_s, P) per-probe curvature, or None
        scores: dict name -> (N,) training-dynamics scores, each in its own
            direction (see :data:`fiftyone_curvature.dynamics.SCORES`)
        records: dict of per-epoch (N, E) arrays: train_loss, train_margin,
            train_prob, train_correct (training pass), eval_loss, eval_prob
            (N, E_s, scoring pass)
        logits: (N, K) eval-mode logits of the final model
        embeddings: (N, D) penultimate features of the final model, or None
        history: one dict per epoch (loss, accuracy, lr, seconds)
        normalization: per-channel ``{"mean": [...], "std": [...]}``
        train_seconds / score_seconds: wall time of each phase
        model: the trained torch module (not serialised)
    """

    config: dict
    num_classes: int
    curvature: np.ndarray
    curvature_epochs: np.ndarray
    scored_epochs: list
    curvature_probes: np.ndarray
    scores: dict
    records: dict
    logits: np.ndarray
    embeddings: np.ndarray
    history: list
    normalization: dict
    train_seconds: float
    score_seconds: float
    model: object = None

    @property
    def predictions(self):
        """(N,) predicted class of the final model."""
        return self.logits.argmax(axis=1)

    @property
    def probabilities(self):
        """(N, K) softmax of the final logits."""
        z = self.logits - self.logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------
# validation


def _as_tensors(inputs, labels, num_classes):
    import torch

    if inputs is None or len(inputs) == 0:
        raise ValueError("No training samples: the inputs are empty")
    x = torch.as_tensor(np.asarray(inputs) if not torch.is_tensor(inputs)
                        else inputs)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4:
        raise ValueError(
            f"Inputs must be (N, C, H, W) or (N, H, W); got shape "
            f"{tuple(x.shape)}"
        )
    if x.dtype != torch.uint8:
        if not torch.is_floating_point(x):
            raise ValueError(
                f"Inputs must be uint8 or floating point, got {x.dtype}"
            )
        if x.dtype != torch.float32:
            x = x.float()
        bad = torch.cat([
            (~torch.isfinite(x[s : s + 4096])).flatten(1).any(dim=1)
            for s in range(0, len(x), 4096)
        ])
        if bad.any():
            idx = torch.nonzero(bad).flatten()[:10].tolist()
            raise ValueError(
                f"Inputs contain NaN or inf in {int(bad.sum())} sample(s), "
                f"e.g. at indices {idx}"
            )
    y = torch.as_tensor(np.asarray(labels))
    if y.ndim != 1 or len(y) != len(x):
        raise ValueError(
            f"Labels must be a 1-D array with one label per input "
            f"({len(x)}), got shape {tuple(y.shape)}"
        )
    if torch.is_floating_point(y):
        if not torch.equal(y, y.round()):
            raise ValueError("Labels must be integer class indices")
    y = y.long()
    if num_classes is None:
        num_classes = int(y.max()) + 1
    bad = (y < 0) | (y >= num_classes)
    if bad.any():
        idx = torch.nonzero(bad).flatten()[:10].tolist()
        raise ValueError(
            f"{int(bad.sum())} label(s) out of range [0, {num_classes}), "
            f"e.g. at indices {idx}: {y[idx].tolist()}"
        )
    present = torch.unique(y)
    if len(present) < 2:
        raise ValueError(
            f"Only one class ({int(present[0])}) in the labels: curvature "
            "needs a classifier over at least two classes"
        )
    return x, y, int(num_classes)


def _resolve_device(name):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} but CUDA is not available")
    return device


# --------------------------------------------------------------------------
# data


class _TensorSource:
    """Holds the (N, C, H, W) data on the device, as uint8 when given so.

    ``batch(idx)`` returns normalised float32 inputs.
    """

    #: data larger than this stays in host memory (or on disk, for a
    #: memory-mapped array) and is moved to an accelerator batch by batch
    DEVICE_BYTES_LIMIT = 4 << 30

    def __init__(self, x, device, channels_last, chunk=4096):
        import torch

        self.device = device
        self.scale = 1.0 / 255.0 if x.dtype == torch.uint8 else 1.0
        # per-channel mean / std in chunks: never a float copy of all data
        total = torch.zeros(x.shape[1], dtype=torch.float64)
        total_sq = torch.zeros(x.shape[1], dtype=torch.float64)
        for s in range(0, len(x), chunk):
            xf = x[s : s + chunk].double() * self.scale
            total += xf.sum(dim=(0, 2, 3))
            total_sq += (xf * xf).sum(dim=(0, 2, 3))
        count = len(x) * x.shape[2] * x.shape[3]
        mean = total / count
        var = (total_sq / count - mean * mean).clamp_min(0) * (
            count / max(count - 1, 1)
        )
        std = var.sqrt().float()
        self.mean = mean.float()
        self.std = torch.where(std > 1e-8, std, torch.ones_like(std))
        nbytes = x.numel() * x.element_size()
        on_device = device.type == "cpu" or nbytes <= self.DEVICE_BYTES_LIMIT
        self.data = x.to(device) if on_device else x
        self._mean = self.mean.to(device)[None, :, None, None]
        self._std = self.std.to(device)[None, :, None, None]
        self.channels_last = channels_last

    def __len__(self):
        return len(self.data)

    @property
    def shape(self):
        return tuple(self.data.shape[1:])

    def batch(self, idx):
        import torch

        x = self.data[idx.to(self.data.device)].to(self.device)
        x = x.float() * self.scale
        x = (x - self._mean) / self._std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


def _augment(x, generator, pad=4):
    """Random crop with zero padding + horizontal flip, vectorised."""
    import torch
    import torch.nn.functional as F

    b, c, hgt, wid = x.shape
    xp = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator)
    flip = torch.rand(b, generator=generator) < 0.5
    dev = x.device
    rows = (oy[:, None] + torch.arange(hgt)).to(dev)
    cols = (ox[:, None] + torch.arange(wid))
    cols = torch.where(flip[:, None], cols.flip(1), cols).to(dev)
    out = xp[
        torch.arange(b, device=dev)[:, None, None, None],
        torch.arange(c, device=dev)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]
    return out.contiguous(memory_format=torch.channels_last) if (
        x.is_contiguous(memory_format=torch.channels_last) and c > 1
    ) else out


def _batches(order, batch_size):
    """Splits an index order in batches, never leaving a batch of one."""
    n = len(order)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    bounds = starts[1:] + [n]
    return [order[s:e] for s, e in zip(starts, bounds)]


# --------------------------------------------------------------------------
# optimisation


def _make_optimizer(model, cfg, steps_per_epoch):
    import torch

    opt = torch.optim.SGD(
        model.parameters(),
        lr=cfg.lr,
        momentum=cfg.momentum,
        weight_decay=cfg.weight_decay,
        nesterov=cfg.momentum > 0,
    )
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: 0.5 * (1 + np.cos(np.pi * min(s, total) / total))
        )
    elif cfg.schedule == "onecycle":
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=cfg.lr, total_steps=total, pct_start=0.25
        )
    elif cfg.schedule == "multistep":
        milestones = [int(0.5 * total), int(0.75 * total)]
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones, 0.1)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return opt, sched


@contextlib.contextmanager
def _exact_float32(device):
    """Disables TF32 so that a finite difference at small h stays exact."""
    import torch

    if device.type != "cuda":
        yield
        return
    old = (torch.backends.cuda.matmul.allow_tf32,
           torch.backends.cudnn.allow_tf32)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        (torch.backends.cuda.matmul.allow_tf32,
         torch.backends.cudnn.allow_tf32) = old


# --------------------------------------------------------------------------
# checkpoints


def _fingerprint(x, y, cfg_dict):
    h = hashlib.sha256()
    h.update(repr(sorted(cfg_dict.items())).encode())
    h.update(repr((tuple(x.shape), str(x.dtype))).encode())
    h.update(np.ascontiguousarray(y.numpy()).tobytes())
    # a strided sample of the pixels is enough to tell data sets apart
    flat = x.reshape(-1)
    step = max(1, flat.numel() // 100_000)
    h.update(np.ascontiguousarray(flat[::step].numpy()).tobytes())
    return h.hexdigest()


def _save_checkpoint(path, state):
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


# --------------------------------------------------------------------------
# the run


class _Recorder:
    """Per-sample, per-epoch records, filled in place."""

    def __init__(self, n, cfg, num_probes_kept):
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

    def record_logits(self, prefix, col, idx, logits, y):
        import torch
        import torch.nn.functional as F

        logits = logits.detach().float()
        logp = F.log_softmax(logits, dim=1)
        logp_y = logp.gather(1, y[:, None])[:, 0]
        idx = idx.cpu().numpy()
        self.arrays[f"{prefix}_loss"][idx, col] = (-logp_y).cpu().numpy()
        self.arrays[f"{prefix}_prob"][idx, col] = logp_y.exp().cpu().numpy()
        if prefix == "train":
            other = logits.scatter(1, y[:, None], float("-inf"))
            margin = logits.gather(1, y[:, None])[:, 0] - other.max(1).values
            self.arrays["train_margin"][idx, col] = margin.cpu().numpy()
            correct = logits.argmax(1) == y
            self.arrays["train_correct"][idx, col] = correct.cpu().numpy()
        return torch.isfinite(logp_y).all()


def train_and_track(
    inputs,
    labels,
    config=None,
    *,
    num_classes=None,
    checkpoint_dir=None,
    progress=None,
    **overrides,
):
    """Trains a classifier and tracks per-sample curvature over epochs.

    Args:
        inputs: (N, C, H, W) or (N, H, W) uint8 images (scaled by 1/255) or
            float images; normalised per channel by the data's own mean/std.
            A numpy memmap is streamed from disk batch by batch on the CPU;
            on CUDA, data over 4 GiB stays in host memory and moves to the
            device per batch
        labels: (N,) int class indices in [0, num_classes), the given
            (possibly wrong) labels
        config (None): a :class:`TrackingConfig` or dict; None = defaults
        num_classes (None): K; None = max(labels) + 1
        checkpoint_dir (None): directory where the state is saved after
            every epoch; a run started on a directory holding the state of
            the same run (same config and data) resumes from its last
            finished epoch and gives the same scores
        progress (None): callable receiving a dict with ``epoch``,
            ``epochs``, ``phase``, ``fraction`` (0-1), ``elapsed`` and
            ``eta`` (seconds) during the run
        **overrides: any :class:`TrackingConfig` field

    Returns:
        a :class:`TrackingResult`; ``result.curvature`` is (N,),
        higher = more likely memorized

    Raises:
        ValueError: empty data, a single class, labels out of range, NaN or
            inf inputs, or an invalid option
        TrainingDivergedError: the loss became NaN/inf; what was computed
            is attached (and saved to ``checkpoint_dir`` when given)
    """
    if config is None:
        config = TrackingConfig()
    elif isinstance(config, dict):
        config = TrackingConfig.from_dict(config)
    config = dataclasses.replace(config, **overrides).validate()
    x, y, num_classes = _as_tensors(inputs, labels, num_classes)
    return _train_and_track(
        x, y, config, num_classes, checkpoint_dir, progress
    )


def _train_and_track(x, y, cfg, num_classes, checkpoint_dir, progress):
    import torch
    import torch.nn.functional as F

    device = _resolve_device(cfg.device)
    image_size = min(x.shape[2], x.shape[3])
    batch_size = cfg.resolved_batch_size(len(x))
    resolved = dataclasses.replace(
        cfg,
        batch_size=batch_size,
        lr=cfg.resolved_lr(batch_size),
        model=(auto_model_name(image_size, device.type)
               if cfg.model == "auto" else cfg.model),
        augment=(image_size >= 16 if cfg.augment == "auto" else cfg.augment),
        amp=(device.type == "cuda" if cfg.amp == "auto" else cfg.amp),
        el2n_epoch=cfg.resolved_el2n_epoch(),
    )
    cfg_dict = resolved.to_dict()
    n = len(x)
    source = _TensorSource(x, device, resolved.channels_last)
    y_dev = y.to(device)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(resolved.seed)
        model = build_model(
            resolved.model, x.shape[1], num_classes, resolved.width
        )
    model = model.to(device)
    if resolved.channels_last:
        model = model.to(memory_format=torch.channels_last)

    batches_per_epoch = len(_batches(torch.arange(n), resolved.batch_size))
    opt, sched = _make_optimizer(model, resolved, batches_per_epoch)
    order_gen = torch.Generator().manual_seed(resolved.seed + 1)
    aug_gen = torch.Generator().manual_seed(resolved.seed + 2)
    scored = resolved.scored_epochs()
    rec = _Recorder(n, resolved, resolved.probes if resolved.record_probes
                    else 0)
    history = []
    start_epoch = 0
    timings = {"train": 0.0, "score": 0.0}

    ckpt_path = (os.path.join(checkpoint_dir, CHECKPOINT_NAME)
                 if checkpoint_dir else None)
    fingerprint = _fingerprint(x, y, cfg_dict) if ckpt_path else None
    if ckpt_path and os.path.exists(ckpt_path):
        state = torch.load(ckpt_path, map_location=device,
                           weights_only=False)
        if state["fingerprint"] != fingerprint:
            raise ValueError(
                f"The checkpoint in {checkpoint_dir!r} belongs to another "
                "run (different config or data); use an empty directory"
            )
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        order_gen.set_state(state["order_gen"])
        aug_gen.set_state(state["aug_gen"])
        rec.arrays = state["records"]
        history = state["history"]
        timings = state["timings"]
        start_epoch = state["epoch"]
        logger.info("Resuming from epoch %d of %d", start_epoch,
                    resolved.epochs)

    def checkpoint(epoch_done):
        if ckpt_path:
            _save_checkpoint(ckpt_path, {
                "fingerprint": fingerprint,
                "config": cfg_dict,
                "epoch": epoch_done,
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "order_gen": order_gen.get_state(),
                "aug_gen": aug_gen.get_state(),
                "records": rec.arrays,
                "history": history,
                "timings": timings,
            })

    def finish(epochs_done):
        return _make_result(rec, resolved, cfg_dict, num_classes, history,
                            source, timings, model, epochs_done, y)

    t_run = time.perf_counter()
    work_per_epoch = 1.0
    for epoch in range(start_epoch + 1, resolved.epochs + 1):
        # ---- training pass
        t0 = time.perf_counter()
        model.train()
        augment = resolved.augment and (
            resolved.augment_epochs is None
            or epoch <= resolved.augment_epochs
        )
        order = torch.randperm(n, generator=order_gen)
        loss_sum, correct_sum = 0.0, 0
        col = epoch - 1
        for bi, idx in enumerate(_batches(order, resolved.batch_size)):
            xb = source.batch(idx)
            if augment:
                xb = _augment(xb, aug_gen)
            yb = y_dev[idx.to(device)]
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=bool(resolved.amp)):
                logits = model(xb)
            losses = F.cross_entropy(logits.float(), yb, reduction="none")
            loss = losses.mean()
            if not torch.isfinite(loss):
                checkpoint(epoch - 1)
                partial = finish(epoch - 1) if epoch > 1 else None
                where = (f"; the {epoch - 1} finished epoch(s) were saved "
                         f"to {ckpt_path}" if ckpt_path and epoch > 1
                         else "")
                raise TrainingDivergedError(
                    f"Training diverged: the loss became {loss.item()} at "
                    f"epoch {epoch}, batch {bi + 1} (lr "
                    f"{opt.param_groups[0]['lr']:.3g}); lower the learning "
                    f"rate{where}. Scores of finished epochs are in "
                    "error.partial_result",
                    epoch, partial, ckpt_path,
                )
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            rec.record_logits("train", col, idx, logits, yb)
            loss_sum += loss.item() * len(idx)
            correct_sum += int((logits.argmax(1) == yb).sum())
        t_train = time.perf_counter() - t0
        timings["train"] += t_train

        # ---- scoring pass (eval mode, no augmentation, given labels)
        t0 = time.perf_counter()
        do_score = epoch in scored
        do_el2n = epoch == resolved.el2n_epoch
        if do_score or do_el2n:
            _eval_pass(model, source, y_dev, resolved, rec, epoch, scored,
                       do_score, do_el2n, device, progress)
        t_score = time.perf_counter() - t0
        timings["score"] += t_score
        history.append({
            "epoch": epoch,
            "train_loss": loss_sum / n,
            "train_accuracy": correct_sum / n,
            "lr": opt.param_groups[0]["lr"],
            "train_seconds": t_train,
            "score_seconds": t_score,
            "scored": do_score,
        })
        checkpoint(epoch)
        if progress is not None:
            elapsed = time.perf_counter() - t_run
            done = epoch - start_epoch
            remaining = resolved.epochs - epoch
            progress({
                "epoch": epoch,
                "epochs": resolved.epochs,
                "phase": "epoch",
                "fraction": epoch / resolved.epochs,
                "elapsed": elapsed,
                "eta": elapsed / done * remaining * work_per_epoch,
                "train_loss": loss_sum / n,
                "train_accuracy": correct_sum / n,
            })
        logger.info(
            "epoch %d/%d loss %.4f acc %.3f train %.1fs score %.1fs",
            epoch, resolved.epochs, loss_sum / n, correct_sum / n, t_train,
            t_score,
        )
    return finish(resolved.epochs)


def _eval_pass(model, source, y_dev, cfg, rec, epoch, scored, do_score,
               do_el2n, device, progress):
    import torch

    model.eval()
    col = scored.index(epoch) if do_score else None
    order = torch.arange(len(source))
    with _exact_float32(device):
        for idx in _batches(order, cfg.score_batch_size):
            xb = source.batch(idx)
            yb = y_dev[idx.to(device)]
            if do_score:
                per_probe, logits = curvature_batch(
                    model, xb, yb, idx,
                    estimator=cfg.estimator, probes=cfg.probes, h=cfg.h,
                    norm=cfg.norm, seed=cfg.seed, epoch=epoch,
                )
                ii = idx.numpy()
                pp = per_probe.cpu().numpy()
                rec.arrays["curvature"][ii, col] = pp.mean(axis=1)
                if "curvature_probes" in rec.arrays:
                    rec.arrays["curvature_probes"][ii, col] = pp
                rec.record_logits("eval", col, idx, logits, yb)
            else:
                with torch.no_grad():
                    logits = model(xb).float()
            if do_el2n:
                probs = torch.softmax(logits, 1).cpu().numpy()
                rec.arrays["el2n"][idx.numpy()] = el2n(probs,
                                                       yb.cpu().numpy())
    if do_score and not np.isfinite(rec.arrays["curvature"][:, col]).all():
        bad = np.flatnonzero(~np.isfinite(rec.arrays["curvature"][:, col]))
        raise FloatingPointError(
            f"Curvature is not finite at epoch {epoch} for {len(bad)} "
            f"sample(s), e.g. {bad[:10].tolist()}"
        )


def _final_outputs(model, source, cfg, want_embeddings):
    import torch

    model.eval()
    logits, feats = [], []
    with torch.no_grad(), _exact_float32(source.device):
        for idx in _batches(torch.arange(len(source)), cfg.score_batch_size):
            xb = source.batch(idx)
            f = model.embed(xb)
            logits.append(model.head(f).float().cpu())
            if want_embeddings:
                feats.append(f.float().cpu())
    return (torch.cat(logits).numpy(),
            torch.cat(feats).numpy() if want_embeddings else None)


def _make_result(rec, cfg, cfg_dict, num_classes, history, source, timings,
                 model, epochs_done, y):
    scored_all = cfg.scored_epochs()
    keep = [i for i, e in enumerate(scored_all) if e <= epochs_done]
    arrays = rec.arrays
    curv = arrays["curvature"][:, keep]
    logits, emb = _final_outputs(model, source, cfg, cfg.record_embeddings)
    yn = y.numpy()
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    logp_y = logp[np.arange(len(yn)), yn]
    records = {
        "train_loss": arrays["train_loss"][:, :epochs_done],
        "train_margin": arrays["train_margin"][:, :epochs_done],
        "train_prob": arrays["train_prob"][:, :epochs_done],
        "train_correct": arrays["train_correct"][:, :epochs_done],
        "eval_loss": arrays["eval_loss"][:, keep],
        "eval_prob": arrays["eval_prob"][:, keep],
    }
    el2n_values = arrays["el2n"]
    if np.isnan(el2n_values).all():
        el2n_values = np.full(len(yn), np.nan, np.float32)
    scores = dynamics_scores({
        **records,
        "final_loss": -logp_y,
        "final_prob": np.exp(logp_y),
        "el2n": el2n_values,
    })
    return TrackingResult(
        config=cfg_dict,
        num_classes=num_classes,
        curvature=(aggregate_epochs(curv, cfg.aggregate) if len(keep)
                   else np.full(len(yn), np.nan)),
        curvature_epochs=curv,
        scored_epochs=[scored_all[i] for i in keep],
        curvature_probes=(arrays["curvature_probes"][:, keep]
                          if "curvature_probes" in arrays else None),
        scores=scores,
        records=records,
        logits=logits,
        embeddings=emb,
        history=list(history),
        normalization={"mean": source.mean.tolist(),
                       "std": source.std.tolist()},
        train_seconds=timings["train"],
        score_seconds=timings["score"],
        model=model,
    )
