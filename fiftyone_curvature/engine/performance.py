"""Speed levers of a run: training precision, memory format, compiled and
BatchNorm-fused models, threads (pure PyTorch, no FiftyOne).

Every lever is a :class:`~fiftyone_curvature.engine.config.TrackingConfig`
option with a default measured by ``benchmarks/cpu_levers.py``:

- ``amp`` ("auto"): bf16 autocast for the *training* pass where the
  hardware runs bf16 natively (CUDA with bf16; a CPU with AVX512-BF16 or
  AMX, detected through oneDNN) and the model is one where it pays
  (not the tiny ``small_cnn`` of 8 px images: no gain there, measured),
  float32 elsewhere. Scoring never uses it.
- ``channels_last`` (True): NHWC memory format for conv nets.
- ``fuse_bn`` (True): the scoring pass runs a copy of the eval-mode model
  with each BatchNorm folded into the convolution before it (same function,
  float32; about 1.2x faster scoring on CPU).
- ``compile`` (False): ``torch.compile`` of the training model (minutes of
  compilation on a small CPU; did not pay here).
- ``threads`` (None: all cores): CPU threads of the run; "auto" times a few
  training steps at one thread and at PyTorch's default before the first
  epoch and keeps the faster. On a CPU that other processes share,
  OpenMP threads that wait for a preempted sibling make two threads many
  times slower than one (measured 10-20x here under a load of 8 on 2
  cores); on an idle CPU all cores win.
"""

import contextlib
import copy
import logging
import time

logger = logging.getLogger(__name__)

#: models trained in float32 under amp="auto" on a CPU: too small for
#: bf16 kernels to pay (digits: no measurable gain)
CPU_FLOAT32_MODELS = ("small_cnn",)

#: resolved config fields that describe the machine, not the run (a
#: checkpoint resumes on another machine or load)
MACHINE_FIELDS = ("threads", "amp_path")


def cpu_bf16_native():
    """Whether this CPU runs bf16 matmuls / convolutions natively
    (AVX512-BF16 or AMX, as oneDNN reports it)."""
    import torch

    try:
        return bool(torch.backends.mkldnn.is_available()
                    and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # older torch, no oneDNN
        return False


def bf16_native(device):
    """Whether ``device`` (a ``torch.device``) runs bf16 natively."""
    import torch

    if device.type == "cuda":
        try:
            return bool(torch.cuda.is_bf16_supported())
        except (AssertionError, RuntimeError):
            return False
    if device.type == "cpu":
        return cpu_bf16_native()
    return False


def resolve_amp(amp, device, model=None):
    """The training precision of a run.

    Args:
        amp: the config's ``amp``: "auto" (bf16 where native and the model
            is not in :data:`CPU_FLOAT32_MODELS` on a CPU), True or False
        device: the run's ``torch.device``
        model (None): the resolved model name

    Returns:
        a tuple ``(enabled, path)``: enabled is a bool; path is a short
        sentence stored in the run's config saying which path was taken
        and why (e.g. ``"bf16 autocast (cpu, native bf16)"``)
    """
    native = bf16_native(device)
    where = f"{device.type}, {'native' if native else 'no native'} bf16"
    if amp == "auto":
        enabled = native
        if (native and device.type == "cpu"
                and model in CPU_FLOAT32_MODELS):
            enabled = False
            where += f", {model} too small to gain"
    else:
        enabled = bool(amp)
    how = "bf16 autocast" if enabled else "float32"
    why = "amp=auto" if amp == "auto" else f"amp={enabled}"
    return enabled, f"{how} ({where}; {why})"


def train_autocast(device, enabled):
    """Context for the training forward pass: bf16 autocast when
    ``enabled``, else nothing."""
    import torch

    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=torch.bfloat16)


def to_memory_format(model, channels_last):
    """``model`` in channels-last memory format when asked (in place)."""
    import torch

    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    return model


def maybe_compile(model, enabled):
    """``torch.compile(model)`` when ``enabled`` and it works here, else
    ``model`` (logged)."""
    if not enabled:
        return model
    import torch

    try:
        return torch.compile(model)
    except Exception as e:  # no compiler toolchain, unsupported platform
        logger.warning("torch.compile unavailable (%s); running eagerly", e)
        return model


def fused_for_scoring(model, channels_last=True):
    """An eval-mode copy of ``model`` with every BatchNorm folded into the
    convolution before it (the same function in float32, up to rounding),
    or ``model`` itself when it cannot be traced.

    The copy shares nothing with ``model``: training continues on the
    original. Call it once per scoring pass (the statistics change with
    training).
    """
    import torch
    from torch.fx.experimental.optimization import fuse

    model = getattr(model, "_orig_mod", model)  # a compiled model
    was_training = model.training
    model.eval()
    try:
        fused = fuse(model, inplace=False)
    except Exception as e:  # untraceable control flow in a custom model
        logger.debug("BatchNorm fusion skipped (%s)", e)
        return model
    finally:
        model.train(was_training)
    fused.eval()
    for p in fused.parameters():
        p.requires_grad_(False)
    if channels_last:
        fused = fused.to(memory_format=torch.channels_last)
    return fused


@contextlib.contextmanager
def num_threads(threads):
    """Runs the block with ``torch.set_num_threads(threads)`` (None: as
    is), restoring the previous setting after."""
    import torch

    if not threads:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def calibrate_threads(model, xb, yb, device, amp, repeats=3):
    """The faster thread count for training steps on ``xb`` (B, C, H, W)
    / ``yb`` (B,): 1 or PyTorch's default, timed on a throwaway copy of
    ``model`` (the run's model, optimiser and random streams are not
    touched). Returns PyTorch's default on a single-thread machine or
    off the CPU."""

    import torch
    import torch.nn.functional as F

    default = torch.get_num_threads()
    if device.type != "cpu" or default <= 1:
        return default
    probe = copy.deepcopy(getattr(model, "_orig_mod", model)).train()

    def step():
        with train_autocast(device, amp):
            logits = probe(xb)
        F.cross_entropy(logits.float(), yb).backward()
        probe.zero_grad(set_to_none=True)

    best = {}
    for threads in (1, default, 1, default):
        with num_threads(threads):
            step()  # warm-up at this setting
            t0 = time.perf_counter()
            for _ in range(repeats):
                step()
            dt = time.perf_counter() - t0
        best[threads] = min(best.get(threads, dt), dt)
    choice = min(best, key=best.get)
    logger.info("threads: %s s per %d steps -> %d thread(s)",
                {k: round(v, 3) for k, v in best.items()}, repeats, choice)
    return choice
