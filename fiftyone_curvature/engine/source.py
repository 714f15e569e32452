"""Training data on the device: normalisation, batches and augmentation."""

import numpy as np

from .constants import MIN_SIDE


def as_tensors(inputs, labels, num_classes):
    """Validates a run's data and returns it as tensors.

    Args:
        inputs: (N, C, H, W) or (N, H, W) uint8 or float images, or (N, D)
            feature vectors (numpy or torch)
        labels: (N,) integer class indices
        num_classes: K, or None for ``max(labels) + 1``

    Returns:
        a tuple ``(x, y, K)``: x (N, C, H, W) uint8 or float32 tensor (or
        (N, D) float32 for features), y (N,) int64 tensor

    Raises:
        ValueError: empty data, a wrong shape or dtype, NaN / inf inputs,
            labels out of range or fewer than two classes
    """
    import torch

    if inputs is None or len(inputs) == 0:
        raise ValueError("No training samples: the inputs are empty")
    x = torch.as_tensor(np.asarray(inputs) if not torch.is_tensor(inputs)
                        else inputs)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim not in (2, 4):
        raise ValueError(
            f"Inputs must be (N, C, H, W) or (N, H, W) images or (N, D) "
            f"feature vectors; got shape {tuple(x.shape)}"
        )
    if x.ndim == 2:
        if x.shape[1] < 1:
            raise ValueError("Feature vectors are empty (D = 0)")
        if not torch.is_floating_point(x):
            x = x.float()  # integer features: their values, as floats
    elif min(x.shape[2], x.shape[3]) < MIN_SIDE:
        raise ValueError(
            f"Images are {x.shape[2]}x{x.shape[3]} pixels; the networks "
            f"need at least {MIN_SIDE}x{MIN_SIDE}")
    if x.dtype != torch.uint8:
        if not torch.is_floating_point(x):
            raise ValueError(
                f"Inputs must be uint8 or floating point, got {x.dtype}"
            )
        if x.dtype != torch.float32:
            x = x.float()
        bad = torch.cat([
            (~torch.isfinite(x[s : s + 4096])).reshape(
                len(x[s : s + 4096]), -1).any(dim=1)
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


def resolve_device(name):
    """``"auto"`` -> CUDA when available, else CPU; other names as given.

    Raises:
        ValueError: a CUDA device on a machine without CUDA
    """
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={name!r} but this machine has no usable CUDA device "
            "(no GPU or no driver); use device='cpu' or 'auto'")
    if device.type == "cuda" and device.index is not None and (
        device.index >= torch.cuda.device_count()
    ):
        raise ValueError(
            f"device={name!r} but this machine has "
            f"{torch.cuda.device_count()} CUDA device(s) (cuda:0 ...)")
    return device


class _Source:
    """What both kinds of training data share: ``data`` (N, ...) rows."""

    def __len__(self):
        return len(self.data)

    @property
    def shape(self):
        """The shape of one sample."""
        return tuple(self.data.shape[1:])


class TensorSource(_Source):
    """Holds the (N, C, H, W) data on the device, as uint8 when given so.

    ``batch(idx)`` returns normalised float32 inputs (B, C, H, W),
    normalised by the data's own per-channel mean and std.
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

    def batch(self, idx):
        import torch

        x = self.data[idx.to(self.data.device)].to(self.device)
        x = x.float() * self.scale
        x = (x - self._mean) / self._std
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x


class FeatureSource(_Source):
    """Holds (N, D) feature vectors on the device, standardised per
    dimension by the data's own mean and std.

    ``batch(idx)`` returns float32 (B, D); the curvature probes perturb
    these standardised values.
    """

    def __init__(self, x, device):
        import torch

        self.device = device
        xd = x.double()
        mean = xd.mean(dim=0)
        std = (xd.std(dim=0) if len(x) > 1 else torch.zeros_like(mean))
        self.mean = mean.float()
        # a constant dimension carries nothing: centred, not scaled
        self.std = torch.where(std > 1e-8, std,
                               torch.ones_like(std)).float()
        self.data = ((x - self.mean) / self.std).float().to(device)

    def batch(self, idx):
        return self.data[idx.to(self.data.device)]


def make_source(x, device, channels_last):
    """:class:`FeatureSource` for (N, D) features, else
    :class:`TensorSource` for (N, C, H, W) images."""
    if x.ndim == 2:
        return FeatureSource(x, device)
    return TensorSource(x, device, channels_last)


def augment(x, generator, pad=4, window=None):
    """Random crop with zero padding + horizontal flip, vectorised.

    Args:
        x: (B, C, H, W) float tensor
        generator: the ``torch.Generator`` of the augmentation stream
        pad (4): crop padding in pixels
        window (None): ``(total, start)``: draw the crops and flips of a
            batch of ``total`` samples and apply those of rows ``start`` to
            ``start + B`` (a rank's slice of a global batch, so that the
            augmentation does not depend on the number of ranks); None =
            ``(B, 0)``

    Returns:
        a (B, C, H, W) tensor
    """
    import torch
    import torch.nn.functional as F

    b, c, hgt, wid = x.shape
    total, start = window if window is not None else (b, 0)
    mine = slice(start, start + b)
    xp = F.pad(x, (pad, pad, pad, pad))
    oy = torch.randint(0, 2 * pad + 1, (total,), generator=generator)[mine]
    ox = torch.randint(0, 2 * pad + 1, (total,), generator=generator)[mine]
    flip = (torch.rand(total, generator=generator) < 0.5)[mine]
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


def batches(order, batch_size):
    """Splits an index order in batches, never leaving a batch of one."""
    n = len(order)
    starts = list(range(0, n, batch_size))
    if len(starts) > 1 and n - starts[-1] == 1:
        starts.pop()
    bounds = starts[1:] + [n]
    return [order[s:e] for s, e in zip(starts, bounds)]
