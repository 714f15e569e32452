"""Trains a classifier on in-memory tensors and tracks per-sample curvature.

Pure PyTorch and numpy: this module never imports FiftyOne, so the engine
runs on any machine with torch (a GPU box without FiftyOne included).
"""

import contextlib
import dataclasses
import logging
import time

import numpy as np
from scipy.special import log_softmax, softmax

from .checkpoint import (
    checkpoint_path, fingerprint, load_checkpoint, save_checkpoint,
)
from .config import TrackingConfig, model_schedule
from .curvature import aggregate_epochs, curvature_batch
from .distributed import SingleProcess
from .dynamics import dynamics_scores, el2n
from .judge import folds_for, judge
from .labels import review_labels, review_with_heldout
from .models import auto_model_name, build_model
from . import performance
from .recorder import Recorder
from .source import (
    as_tensors, augment, batches, make_source, resolve_device,
)

logger = logging.getLogger(__name__)


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
            direction (see :data:`fiftyone_curvature.engine.dynamics.SCORES`)
        records: dict of per-epoch (N, E) arrays: train_loss, train_margin,
            train_prob, train_correct (training pass), eval_loss, eval_prob
            (N, E_s, scoring pass)
        logits: (N, K) eval-mode logits of the final model
        embeddings: (N, D) penultimate features of the final model, or None
        history: one dict per epoch (loss, accuracy, lr, seconds)
        label_review: a
            :class:`fiftyone_curvature.engine.labels.LabelReview`:
            suggested labels (what the network predicted before it
            memorized) and the estimated number of wrong labels
        normalization: per-channel ``{"mean": [...], "std": [...]}``
        train_seconds / score_seconds: wall time of each phase
        model: the trained torch module (not serialised)
        verdict: a :class:`fiftyone_curvature.engine.judge.Verdict`: how
            well the network predicts labels it did not train on, and
            whether it can judge them (None when ``holdout=0`` or in a
            distributed run)
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
    label_review: object = None
    verdict: object = None

    @property
    def predictions(self):
        """(N,) predicted class of the final model."""
        return self.logits.argmax(axis=1)

    @property
    def probabilities(self):
        """(N, K) softmax of the final logits."""
        return softmax(self.logits, axis=1)


# --------------------------------------------------------------------------
# optimisation


def make_optimizer(model, cfg, steps_per_epoch):
    """SGD (Nesterov when momentum > 0) and the config's per-step learning
    rate schedule."""
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
def exact_float32(device):
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



def train_and_track(
    inputs,
    labels,
    config=None,
    *,
    num_classes=None,
    checkpoint_dir=None,
    progress=None,
    dist=None,
    **overrides,
):
    """Trains a classifier and tracks per-sample curvature over epochs.

    Args:
        inputs: (N, C, H, W) or (N, H, W) uint8 images (scaled by 1/255) or
            float images, normalised per channel by the data's own
            mean/std; or (N, D) feature vectors (a pretrained model's
            embeddings), standardised per dimension, never augmented, on
            which "auto" trains the MLP head (docs/features.md).
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
        dist (None): this rank's
            :class:`fiftyone_curvature.engine.distributed.Distributed` in a
            data-parallel run (what :mod:`fiftyone_curvature.engine.worker`
            passes); None = one process
        **overrides: any :class:`TrackingConfig` field

    Returns:
        a :class:`TrackingResult`; ``result.curvature`` is (N,),
        higher = more likely memorized (None on ranks other than 0)

    Raises:
        ValueError: empty data, a single class, labels out of range, NaN or
            inf inputs, or an invalid option
        TrainingDivergedError: the loss became NaN/inf; what was computed
            is attached (and saved to ``checkpoint_dir`` when given)
    """
    config = TrackingConfig.resolve(config, **overrides)
    x, y, num_classes = as_tensors(inputs, labels, num_classes)
    result = _train_and_track(
        x, y, config, num_classes, checkpoint_dir, progress, dist
    )
    folds = folds_for(config.holdout, x)
    if result is not None and folds and dist is None:
        # after the run, on its own seeds: the run's scores do not change
        cfg = dataclasses.replace(
            TrackingConfig.from_dict(result.config), holdout=folds)
        with performance.num_threads(cfg.threads):
            result.verdict = judge(
                x, y, cfg, num_classes, folds,
                lambda xs, ys, c, k: _train_and_track(xs, ys, c, k, None,
                                                      None))
        result.config = dict(result.config, holdout=folds)
        if (folds > 1 and result.verdict is not None
                and result.verdict.samples == len(y)):
            # every sample was held out once
            result.label_review = review_with_heldout(
                result.label_review, result.verdict.probabilities,
                y.numpy(), result.scores["aum"])
    return result


def _train_and_track(x, y, cfg, num_classes, checkpoint_dir, progress,
                     dist=None):
    """The run loop; ``dist`` (None: one process) is this rank's
    :class:`fiftyone_curvature.engine.distributed.Distributed`. Returns the
    result (None on ranks other than 0)."""
    run = _Run(x, y, cfg, num_classes, checkpoint_dir, dist)
    with performance.num_threads(run.cfg.threads):
        return _run_epochs(run, progress)


def _run_epochs(run, progress):
    t_run = time.perf_counter()
    for epoch in range(run.start_epoch + 1, run.cfg.epochs + 1):
        entry = run.train_epoch(epoch)
        entry.update(run.score_epoch(epoch))
        run.history.append(entry)
        run.save(epoch)
        if progress is not None:
            progress(_progress_info(entry, run, time.perf_counter() - t_run))
        logger.info(
            "epoch %d/%d loss %.4f acc %.3f train %.1fs score %.1fs",
            epoch, run.cfg.epochs, entry["train_loss"],
            entry["train_accuracy"], entry["train_seconds"],
            entry["score_seconds"],
        )
    return run.result(run.cfg.epochs)


def resolve_auto(cfg, x, device):
    """``cfg`` with every "auto" value resolved for the data ``x`` (N, C,
    H, W) images or (N, D) features on ``device`` (what a run stores as
    its config)."""
    if x.ndim == 2:
        return _resolve_features(cfg, x, device)
    image_size = min(x.shape[2], x.shape[3])
    batch_size = cfg.resolved_batch_size(len(x))
    model = (auto_model_name(image_size, device.type)
             if cfg.model == "auto" else cfg.model)
    amp, amp_path = performance.resolve_amp(cfg.amp, device, model)
    return dataclasses.replace(
        cfg,
        batch_size=batch_size,
        lr=cfg.resolved_lr(batch_size),
        weight_decay=cfg.resolved_weight_decay(),
        model=model,
        augment=(image_size >= 16 if cfg.augment == "auto" else cfg.augment),
        amp=amp,
        amp_path=amp_path,
        score_every=(model_schedule(model, amp)
                     if cfg.score_every == "model" else cfg.score_every),
        el2n_epoch=cfg.resolved_el2n_epoch(),
        device=str(device),
    )


def _resolve_features(cfg, x, device):
    """:func:`resolve_auto` for (N, D) feature vectors: the MLP head, no
    augmentation, float32 (a head trains in seconds; the finite
    difference needs float32 anyway), every epoch scored (a scoring pass
    costs about one training epoch of the head), and no image-only
    layout options (channels_last, BatchNorm folding)."""
    if cfg.augment is True:
        raise ValueError("augment=True works on images; (N, D) feature "
                         "vectors are not augmented (use 'auto' or False)")
    batch_size = cfg.resolved_batch_size(len(x))
    model = auto_model_name(None, device.type) if cfg.model == "auto" \
        else cfg.model
    amp, amp_path = ((False, "float32 (feature head; amp=auto)")
                     if cfg.amp == "auto" else
                     performance.resolve_amp(cfg.amp, device, model))
    return dataclasses.replace(
        cfg,
        batch_size=batch_size,
        lr=cfg.resolved_lr(batch_size),
        weight_decay=cfg.resolved_weight_decay(features=True),
        model=model,
        augment=False,
        amp=amp,
        amp_path=amp_path,
        score_every=1 if cfg.score_every == "model" else cfg.score_every,
        el2n_epoch=cfg.resolved_el2n_epoch(),
        channels_last=False,
        fuse_bn=False,
        device=str(device),
    )


def _progress_info(entry, run, elapsed):
    """The dict a progress callback receives after an epoch."""
    epoch, epochs = entry["epoch"], run.cfg.epochs
    done = epoch - run.start_epoch
    return {
        "epoch": epoch,
        "epochs": epochs,
        "phase": "epoch",
        "fraction": epoch / epochs,
        "elapsed": elapsed,
        "eta": elapsed / done * (epochs - epoch),
        "train_loss": entry["train_loss"],
        "train_accuracy": entry["train_accuracy"],
    }


class _Run:
    """The state of one tracked run: data, model, optimiser, random
    streams, records; one method per step of an epoch."""

    def __init__(self, x, y, cfg, num_classes, checkpoint_dir, dist=None):
        import torch

        self.dist = dist if dist is not None else SingleProcess()
        self.features = x.ndim == 2  # (N, D) feature vectors
        self.device = resolve_device(cfg.device)
        self.cfg = resolve_auto(cfg, x, self.device)
        self.cfg_dict = self.cfg.to_dict()
        self.n = len(x)
        self.y = y
        self.num_classes = num_classes
        self.source = make_source(x, self.device, self.cfg.channels_last)
        self.y_dev = y.to(self.device)
        model = self._build_model(x.shape[1])  # sets self.train_model
        self.model, train_model = self.dist.prepare_model(model)
        if train_model is not self.model:  # distributed: train through DDP
            self.train_model = train_model
        self.cfg = dataclasses.replace(self.cfg,
                                       threads=self._resolve_threads())
        self.cfg_dict = self.cfg.to_dict()
        steps = len(batches(torch.arange(self.n), self.cfg.batch_size))
        self.opt, self.sched = make_optimizer(self.model, self.cfg, steps)
        self.order_gen = torch.Generator().manual_seed(self.cfg.seed + 1)
        self.aug_gen = torch.Generator().manual_seed(self.cfg.seed + 2)
        self.scored = self.cfg.scored_epochs()
        self.rec = Recorder(self.n, self.cfg, self.cfg.probes
                            if self.cfg.record_probes else 0,
                            num_classes)
        self.history = []
        self.start_epoch = 0
        self.timings = {"train": 0.0, "score": 0.0}
        self.ckpt_path = checkpoint_path(checkpoint_dir)
        self.fingerprint = (fingerprint(x, y, {
            k: v for k, v in self.cfg_dict.items()
            if k not in performance.MACHINE_FIELDS})
                            if self.ckpt_path else None)
        state = load_checkpoint(self.ckpt_path, self.device,
                                self.fingerprint)
        if state is not None:
            self._restore(state)

    def _build_model(self, in_channels):
        import torch

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.cfg.seed)
            model = build_model(self.cfg.model, in_channels,
                                self.num_classes, self.cfg.width,
                                features=self.features)
        model = performance.to_memory_format(model.to(self.device),
                                             self.cfg.channels_last)
        self.train_model = performance.maybe_compile(model,
                                                     self.cfg.compile)
        return model

    def _resolve_threads(self):
        """The run's CPU thread count (an int) from ``cfg.threads``."""
        import torch

        if self.cfg.threads != "auto":
            return self.cfg.threads or torch.get_num_threads()
        idx = torch.arange(min(self.n, self.cfg.batch_size))
        return performance.calibrate_threads(
            self.model, self.source.batch(idx), self.y_dev[idx.to(
                self.device)], self.device, self.cfg.amp)

    # ---------------------------------------------------------- checkpoint

    def _restore(self, state):
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.order_gen.set_state(state["order_gen"])
        self.aug_gen.set_state(state["aug_gen"])
        self.rec.arrays = state["records"]
        self.history = state["history"]
        self.timings = state["timings"]
        self.start_epoch = state["epoch"]
        logger.info("Resuming from epoch %d of %d", self.start_epoch,
                    self.cfg.epochs)

    def save(self, epochs_done):
        """Checkpoints the state after ``epochs_done`` epochs (if a
        checkpoint directory was given)."""
        if not self.ckpt_path or not self.dist.is_main:
            return
        save_checkpoint(self.ckpt_path, {
            "fingerprint": self.fingerprint,
            "config": self.cfg_dict,
            "epoch": epochs_done,
            "model": self.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "order_gen": self.order_gen.get_state(),
            "aug_gen": self.aug_gen.get_state(),
            "records": self.rec.arrays,
            "history": self.history,
            "timings": self.timings,
        })

    # -------------------------------------------------------------- steps

    def train_epoch(self, epoch):
        """One training pass (1-based ``epoch``); returns its history
        entry. Raises TrainingDivergedError on a non-finite loss."""
        import torch
        import torch.nn.functional as F

        cfg, device = self.cfg, self.device
        t0 = time.perf_counter()
        self.model.train()
        augmenting = cfg.augment and (
            cfg.augment_epochs is None or epoch <= cfg.augment_epochs
        )
        order = torch.randperm(self.n, generator=self.order_gen)
        loss_sum, correct_sum = 0.0, 0
        self.dist.begin_epoch(self.rec)
        for bi, global_idx in enumerate(batches(order, cfg.batch_size)):
            # this rank's slice of the global batch (all of it in one
            # process) and where it sits in the batch's augmentation draw
            idx, window = self.dist.split(global_idx)
            xb = self.source.batch(idx)
            if augmenting:
                xb = augment(xb, self.aug_gen, window=window)
            yb = self.y_dev[idx.to(device)]
            with performance.train_autocast(device, cfg.amp):
                logits = self.train_model(xb)
            losses = F.cross_entropy(logits.float(), yb, reduction="none")
            loss, batch_mean = self.dist.batch_loss(losses, len(global_idx))
            if not self.dist.all_finite(batch_mean):
                self._diverged(epoch, f"the loss became {batch_mean.item()} "
                               f"at batch {bi + 1}")
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
            self.rec.record_logits("train", epoch - 1, idx, logits, yb)
            loss_sum += batch_mean.item() * len(idx)
            correct_sum += int((logits.argmax(1) == yb).sum())
        self.dist.end_train_epoch(self.rec, epoch - 1)
        loss_sum, correct_sum = self.dist.epoch_totals(loss_sum, correct_sum)
        seconds = time.perf_counter() - t0
        self.timings["train"] += seconds
        self._train_accuracy = correct_sum / self.n
        return {
            "epoch": epoch,
            "train_loss": loss_sum / self.n,
            "train_accuracy": correct_sum / self.n,
            "lr": self.opt.param_groups[0]["lr"],
            "train_seconds": seconds,
        }

    def _diverged(self, epoch, what, cause=None):
        """Raises TrainingDivergedError for ``epoch`` (1-based); ``what``
        says which value became non-finite, ``cause`` its likely cause. The
        checkpoint on disk already holds the finished epochs (saved at the
        end of each)."""
        partial = None
        if epoch > 1:
            try:
                partial = self.result(epoch - 1)
            except Exception:  # the diverged model may not evaluate
                logger.exception("No partial result after divergence")
        kept = (f"; the {epoch - 1} finished epoch(s) are in "
                f"{self.ckpt_path} and error.partial_result"
                if self.ckpt_path and epoch > 1 else
                (f"; the {epoch - 1} finished epoch(s) are in "
                 "error.partial_result" if partial is not None else ""))
        raise TrainingDivergedError(
            f"Training diverged at epoch {epoch}: {what} (lr "
            f"{self.opt.param_groups[0]['lr']:.3g}, batch size "
            f"{self.cfg.batch_size}); "
            + (cause or "the learning rate is likely too high for this "
               "data and model: lower lr") + kept,
            epoch, partial, self.ckpt_path,
        )

    def score_epoch(self, epoch):
        """The eval pass of ``epoch`` when it is scored or is the EL2N
        epoch (eval mode, no augmentation, the given labels); returns the
        history entry's scoring part."""
        t0 = time.perf_counter()
        if self.cfg.adaptive:
            self.scored = self.cfg.scored_epochs(
                [h["train_accuracy"] for h in self.history]
                + [self._train_accuracy])
        do_score = epoch in self.scored
        do_el2n = epoch == self.cfg.el2n_epoch
        if do_score or do_el2n:
            self._eval_pass(epoch, do_score, do_el2n)
        seconds = time.perf_counter() - t0
        self.timings["score"] += seconds
        return {"score_seconds": seconds, "scored": do_score}

    def _eval_pass(self, epoch, do_score, do_el2n):
        import torch

        cfg = self.cfg
        self.model.eval()
        model = (performance.fused_for_scoring(self.model, cfg.channels_last)
                 if cfg.fuse_bn else self.model)
        col = None
        if do_score:  # an adaptive run keeps a column for every epoch
            col = epoch - 1 if cfg.adaptive else self.scored.index(epoch)
        # each sample once: this rank's block of the samples (all of them
        # in one process)
        mine = self.dist.shard(torch.arange(self.n))
        with exact_float32(self.device):
            for idx in batches(mine, cfg.score_batch_size):
                xb = self.source.batch(idx)
                yb = self.y_dev[idx.to(self.device)]
                if do_score:
                    per_probe, logits = curvature_batch(
                        model, xb, yb, idx,
                        estimator=cfg.estimator, probes=cfg.probes, h=cfg.h,
                        norm=cfg.norm, seed=cfg.seed, epoch=epoch,
                    )
                    self.rec.record_curvature(col, idx,
                                              per_probe.cpu().numpy())
                    self.rec.record_logits("eval", col, idx, logits, yb)
                else:
                    with torch.no_grad():
                        logits = model(xb).float()
                if do_el2n:
                    probs = torch.softmax(logits, 1).cpu().numpy()
                    self.rec.arrays["el2n"][idx.numpy()] = el2n(
                        probs, yb.cpu().numpy())
        curv = self.rec.arrays["curvature"]
        rows = mine.numpy()
        if do_score and not np.isfinite(curv[rows, col]).all():
            bad = rows[~np.isfinite(curv[rows, col])]
            self._diverged(epoch, f"the curvature of {len(bad)} sample(s) "
                           f"became NaN or inf (e.g. rows "
                           f"{bad[:5].tolist()})",
                           "the weights likely grew too large (lower lr) or "
                           f"h={self.cfg.h:g} perturbs the inputs too much")
        self.dist.end_eval_pass(self.rec, col, mine, do_el2n)

    # ------------------------------------------------------------- result

    def final_outputs(self):
        """(N, K) eval-mode logits of the current model and (N, D)
        penultimate features (None unless ``record_embeddings``); each
        rank computes its block of samples, and ranks other than 0 get
        ``(None, None)``."""
        import torch

        model, cfg = self.model, self.cfg
        want_embeddings = cfg.record_embeddings
        model.eval()
        logits, feats = [], []
        mine = self.dist.shard(torch.arange(self.n))
        with torch.no_grad(), exact_float32(self.device):
            for idx in batches(mine, cfg.score_batch_size):
                f = model.embed(self.source.batch(idx))
                logits.append(model.head(f).float().cpu())
                if want_embeddings:
                    feats.append(f.float().cpu())
        return self.dist.gather_outputs(
            torch.cat(logits).numpy(),
            torch.cat(feats).numpy() if want_embeddings else None)

    def result(self, epochs_done):
        """The :class:`TrackingResult` over the first ``epochs_done``
        epochs (None on ranks other than 0)."""
        cfg = self.cfg
        if cfg.adaptive:
            scored_all = [h["epoch"] for h in self.history if h["scored"]]
            keep = [e - 1 for e in scored_all if e <= epochs_done]
            scored_all = list(range(1, cfg.epochs + 1))  # column -> epoch
        else:
            scored_all = cfg.scored_epochs()
            keep = [i for i, e in enumerate(scored_all) if e <= epochs_done]
        arrays = self.rec.arrays
        curv = arrays["curvature"][:, keep]
        logits, emb = self.final_outputs()
        if logits is None:
            return None
        yn = self.y.numpy()
        logp = log_softmax(logits, axis=1)
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
            config=self.cfg_dict,
            num_classes=self.num_classes,
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
            history=list(self.history),
            normalization={"mean": self.source.mean.tolist(),
                           "std": self.source.std.tolist()},
            train_seconds=self.timings["train"],
            score_seconds=self.timings["score"],
            model=self.model,
            label_review=review_labels(
                self.rec.train_probs(epochs_done),
                [h["train_accuracy"] for h in self.history[:epochs_done]],
                scores["aum"], yn, np.exp(logp),
            ),
        )
