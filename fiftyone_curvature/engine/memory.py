"""A run's peak memory, estimated before training, and the check that
refuses a run that cannot fit (instead of being killed out of memory)."""

import math
import os

#: peak bytes per input pixel per sample of the largest batch (training
#: or scoring: the scoring pass backpropagates to the input, so it holds
#: activations and their gradients like training), float32, at the
#: model's default width. Measured on CPU (2026-12-02): growth of the peak
#: RSS of a one-epoch scored run on 64 RGB images (batch 32, scoring batch
#: 64) from 32 to 64 px (small_cnn 1,390, resnet18 4,700) and from 64 to
#: 128 px (small_resnet 1,190); rounded up
BYTES_PER_PIXEL = {"small_cnn": 1500, "small_resnet": 1300,
                   "resnet18": 5000}
#: the models' default widths (activation memory grows with the width)
DEFAULT_WIDTH = {"small_cnn": 32, "small_resnet": 32, "resnet18": 64}
#: memory of the process before the batches (torch, the model, buffers)
BASE_BYTES = 768 << 20


def estimate_bytes(cfg, num_samples, channels, height, width,
                   device_type="cpu"):
    """Estimated peak memory (bytes) of a run on N images of C x H x W.

    Args:
        cfg: the run's :class:`fiftyone_curvature.engine.config
            .TrackingConfig` (``"auto"`` values allowed)
        num_samples: N
        channels: C (1 or 3)
        height, width: the working resolution
        device_type ("cpu"): ``"cpu"`` or ``"cuda"`` (what "auto" picks)

    Returns:
        bytes: the base, the largest batch's activations, and the uint8
        images (on the device for CUDA, in host memory on the CPU)
    """
    from .models import auto_model_name

    model = (auto_model_name(min(height, width), device_type)
             if cfg.model == "auto" else cfg.model)
    per_pixel = BYTES_PER_PIXEL.get(model, max(BYTES_PER_PIXEL.values()))
    if cfg.width is not None:
        per_pixel *= cfg.width / DEFAULT_WIDTH.get(model, cfg.width)
    batch = max(min(num_samples, cfg.score_batch_size),
                min(num_samples, cfg.resolved_batch_size(num_samples)))
    activations = per_pixel * batch * height * width
    data = num_samples * channels * height * width
    return int(BASE_BYTES + activations + data)


def available_bytes(device_type="cpu"):
    """Free memory of the device (CUDA: free memory of the current GPU;
    CPU: MemAvailable of /proc/meminfo, else the physical memory), or None
    when unknown."""
    if device_type == "cuda":
        import torch

        return int(torch.cuda.mem_get_info()[0])
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(cfg, num_samples, channels, height, width):
    """Raises ValueError when the estimated peak memory
    of the run exceeds what the device has free (see
    :func:`estimate_bytes`); does nothing when that is unknown."""
    device_type = _device_type(cfg.device)
    need = estimate_bytes(cfg, num_samples, channels, height, width,
                          device_type)
    have = available_bytes(device_type)
    if have is None or need <= have:
        return
    batch = max(min(num_samples, cfg.score_batch_size),
                min(num_samples, cfg.resolved_batch_size(num_samples)))
    raise ValueError(
        f"This run needs about {_gb(need)} of {device_type.upper()} "
        f"memory ({num_samples} images of {channels}x{height}x{width}, "
        f"batches of {batch}) but {_gb(have)} is free; lower image_size "
        f"(memory grows with its square), or batch_size / "
        "score_batch_size")


def _device_type(device):
    """"cpu" or "cuda" for a config's device (ValueError, in plain words,
    for a CUDA device this machine lacks)."""
    from .source import resolve_device

    return resolve_device(device).type


def _gb(n):
    return f"{n / 2 ** 30:.1f} GB" if n >= 2 ** 30 else (
        f"{math.ceil(n / 2 ** 20)} MB")
