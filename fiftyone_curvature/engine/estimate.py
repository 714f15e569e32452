"""How long a run will take, from a few timed steps of its model on random
data (pure PyTorch, no FiftyOne): what the compute form shows before a
run starts."""

import math
import time

#: seconds a run spends per sample outside training and scoring (reading
#: the image, the final pass, writing fields, views and the label review),
#: and once (model set-up, the run record); measured on digits and
#: CIFAR-10 on 2 shared cores
PER_SAMPLE_SECONDS = 0.001
FIXED_SECONDS = 1.0

#: timed steps: (model, size, channels, classes, batch, score batch,
#: device, amp) -> (train step s, score batch s at 1 probe, per extra
#: probe s); the App process keeps it, so a form asks once per shape
_CACHE = {}


class _Shape:
    """What :func:`~fiftyone_curvature.engine.training.resolve_auto` reads
    of the data: its length and (N, C, H, W) shape."""

    ndim = 4

    def __init__(self, n, channels, size):
        self.shape = (n, channels, size, size)

    def __len__(self):
        return self.shape[0]


def resolved(num_samples, image_size, channels, **options):
    """The run's config with every "auto" resolved (model, batch size,
    schedule) for ``num_samples`` images of ``image_size`` px."""
    from .config import TrackingConfig
    from .source import resolve_device
    from .training import resolve_auto

    cfg = TrackingConfig.resolve(**options)
    device = resolve_device(cfg.device)
    return resolve_auto(cfg, _Shape(num_samples, channels, image_size),
                        device), device


def _time(fn, repeats):
    fn()  # warm-up (allocations, oneDNN kernels)
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def _step_seconds(cfg, device, image_size, channels, num_classes):
    """(train step, score batch at 1 probe, per extra probe) seconds."""
    import torch
    import torch.nn.functional as F

    from . import performance
    from .curvature import curvature_batch
    from .models import build_model
    from .training import exact_float32

    key = (cfg.model, image_size, channels, num_classes, cfg.batch_size,
           cfg.score_batch_size, str(device), cfg.amp, cfg.channels_last)
    if key in _CACHE:
        return _CACHE[key]
    gen = torch.Generator().manual_seed(0)
    model = build_model(cfg.model, channels, num_classes, cfg.width)
    model = performance.to_memory_format(model.to(device),
                                         cfg.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def batch(n):
        x = torch.randn(n, channels, image_size, image_size, generator=gen)
        y = torch.randint(num_classes, (n,), generator=gen)
        return x.to(device), y.to(device)

    xb, yb = batch(cfg.batch_size)

    def train_step():
        model.train()
        with performance.train_autocast(device, cfg.amp):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    train = _time(train_step, 3)
    model.eval()
    scorer = (performance.fused_for_scoring(model, cfg.channels_last)
              if cfg.fuse_bn else model)
    n = min(cfg.score_batch_size, 64)
    xs, ys = batch(n)
    ids = torch.arange(n)

    def score(probes):
        with exact_float32(device):
            curvature_batch(scorer, xs, ys, ids, estimator=cfg.estimator,
                            probes=probes, h=cfg.h, norm=cfg.norm)

    one = _time(lambda: score(1), 1)
    two = _time(lambda: score(2), 1)
    scale = cfg.score_batch_size / n
    _CACHE[key] = (train, one * scale, max(two - one, 0.0) * scale)
    return _CACHE[key]


def estimate_run_seconds(num_samples, image_size, channels, num_classes,
                         seeds=1, **options):
    """Estimated wall time of a curvature run, in seconds.

    Times three training steps and two scoring batches of the run's model
    on random data (on this machine, at its current load; about a second
    for the small models on a CPU, cached per shape), then scales them to
    the run: epochs x batches per epoch, scored epochs x scoring batches,
    plus a per-sample cost for reading, writing and reviewing.

    Args:
        num_samples: N, the samples the run trains on
        image_size: the working resolution in px (the smaller of the
            images' size and the run's ``image_size``)
        channels: 1 (grayscale) or 3
        num_classes: K
        seeds (1): trainings in a row (an evaluation's seeds)
        **options: :class:`~fiftyone_curvature.engine.config.TrackingConfig`
            options (model, epochs, probes, score_every, ...)

    Returns:
        a dict with ``seconds`` (the total), ``train_epoch`` and
        ``score_pass`` (seconds of one), ``scored_epochs``, ``model``,
        ``batch_size``
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    cfg, device = resolved(num_samples, image_size, channels, **options)
    train, score_one, per_probe = _step_seconds(cfg, device, image_size,
                                                channels, num_classes)
    if cfg.adaptive:  # decided online; about every other epoch
        scored = max(1, math.ceil(cfg.epochs / 2))
    else:
        scored = len(cfg.scored_epochs())
    train_epoch = math.ceil(num_samples / cfg.batch_size) * train
    score_pass = (math.ceil(num_samples / cfg.score_batch_size)
                  * (score_one + (cfg.probes - 1) * per_probe))
    seconds = seeds * (cfg.epochs * train_epoch + scored * score_pass) + (
        FIXED_SECONDS + PER_SAMPLE_SECONDS * num_samples)
    return {
        "seconds": seconds,
        "train_epoch": train_epoch,
        "score_pass": score_pass,
        "scored_epochs": scored,
        "model": cfg.model,
        "batch_size": cfg.batch_size,
    }


def describe_seconds(seconds):
    """A duration for people: "about 40 s", "about 12 min", "about
    2.5 h"."""
    if seconds < 90:
        return f"about {max(5, 5 * round(seconds / 5)):.0f} s"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60):.0f} min"
    return f"about {seconds / 3600:.1f} h"
