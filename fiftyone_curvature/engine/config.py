"""The configuration of a curvature-tracked training run (pure Python).

Importing this module does not import torch, so the CLI and the App's
operator forms read the defaults and the option vocabularies from here:
this module is the one place they are written.
"""

import dataclasses
import math
import re

from . import validation
from .constants import SCORE_GAP, SCORE_RISE

#: model architectures (see :mod:`fiftyone_curvature.engine.models`)
MODELS = ("small_cnn", "small_resnet", "resnet18", "mlp_head",
          "linear_head")
#: the models of (N, D) feature vectors (pretrained embeddings)
HEAD_MODELS = ("mlp_head", "linear_head")
#: learning-rate schedules
SCHEDULES = ("cosine", "onecycle", "multistep", "constant")
#: curvature estimators (see :mod:`fiftyone_curvature.engine.curvature`)
ESTIMATORS = ("fd", "hvp")
#: norms of the curvature estimate
NORMS = ("l2", "l2sq")
#: how per-epoch curvature becomes one score
AGGREGATIONS = ("mean", "last_half", "first_half", "rank_mean",
                "zscore_mean")
#: the weight decay "auto" means for images, and for feature heads
IMAGE_WEIGHT_DECAY = 5e-4
FEATURES_WEIGHT_DECAY = 2e-2
#: device names offered by forms (any ``cuda:i`` is accepted too)
DEVICES = ("auto", "cpu", "cuda")


#: device strings a config accepts (what torch.device parses as these)
_DEVICE = re.compile(r"auto|cpu|cuda(:[0-9]+)?")

#: the smallest finite-difference step: below it the perturbation of a
#: normalised pixel (|x| up to ~5) is within a few float32 roundings
#: (2**-23 relative), so the gradient difference is rounding noise or
#: exactly zero (h = 1e-30 scores every sample 0)
H_MIN = 1e-5


def _integer(cfg, name, minimum, extra=""):
    """Raises ValueError unless option ``name`` is an int >= minimum
    (booleans and floats refused)."""
    setattr(cfg, name, validation.integer(name, getattr(cfg, name), minimum,
                                          extra=extra))


def _real(cfg, name, low=None, high=None, low_open=False, high_open=False):
    """Raises ValueError unless option ``name`` is a finite number in the
    given range (booleans and strings refused)."""
    value = getattr(cfg, name)
    why = (" (smaller steps are below float32 resolution of the "
           "normalised pixels and give zero or noise curvature)"
           if name == "h" and isinstance(value, float)
           and 0 < value < H_MIN else "")
    setattr(cfg, name, validation.real(name, value, low, high, low_open,
                                       high_open, why=why))


@dataclasses.dataclass
class TrackingConfig:
    """Everything that defines a run; stored whole with every result.

    Attributes:
        model ("auto"): one of ``"auto"``, ``"small_cnn"``,
            ``"small_resnet"``, ``"resnet18"``; "auto" picks small_cnn for
            images under 16 px, resnet18 on CUDA, small_resnet on CPU
        width (None): base width of the model (None: the model's default)
        epochs (30): training epochs
        batch_size ("auto"): training batch size; "auto" = N / 100 rounded
            down to a power of two, clipped to [32, 128], so that small
            datasets still get about 100 optimizer steps per epoch (5,000
            images: 32; 20,000 or more: 128)
        lr ("auto"): peak learning rate of SGD; "auto" = 0.1 at batch size
            128, scaled by sqrt(batch_size / 128) (0.05 at 32)
        momentum (0.9): SGD momentum
        weight_decay ("auto"): SGD weight decay; "auto" = 5e-4 for images,
            :data:`FEATURES_WEIGHT_DECAY` for the heads on (N, D) features
            (a head on 1,280 pretrained numbers memorizes 5,000 labels in a
            few epochs at 5e-4; docs/features.md)
        schedule ("cosine"): ``"cosine"``, ``"onecycle"``, ``"multistep"``
            (x0.1 at 50% and 75% of training) or ``"constant"``
        augment ("auto"): random crop (pad 4) + horizontal flip; "auto"
            turns it on for images of 16 px or more (off for digits)
        augment_epochs (None): stop augmenting after this many epochs
            (None: augment throughout)
        estimator ("fd"): ``"fd"`` (finite difference, the paper) or
            ``"hvp"`` (exact Hessian-vector products)
        probes (1): Rademacher probes per scored epoch (the paper: 10; the
            README's trade-off table shows what more probes buy)
        h (1e-2): finite-difference step (the paper: 1e-3; the README
            shows the h sweep; :meth:`paper` restores the paper's
            settings)
        norm ("l2"): ``"l2"`` (released code) or ``"l2sq"`` (paper text)
        score_every ("model"): score curvature every k-th epoch (the
            final epoch is always scored); ``"model"`` = k from what a
            scoring pass (float32) costs beside a training epoch, fixed by
            the model and the training precision (:func:`model_schedule`:
            every epoch for the small CNN, every 6th for bf16 training,
            every 2nd otherwise), so that tracking costs about 1.5x plain
            training on a CPU; 0 = never (training dynamics only, the
            baseline the overhead benchmark compares against); ``"auto"``
            = adaptive: densely while the training accuracy climbs,
            sparsely after (see :func:`adaptive_scored_epochs`; ignores
            ``score_from``)
        score_rise (0.01): with ``score_every="auto"``, the rise of the
            training accuracy since the last scored epoch that triggers
            scoring
        score_gap (8): with ``score_every="auto"``, the longest stretch of
            unscored epochs plus one
        score_from (0.0): fraction of training before which curvature is
            not scored: epochs ``start + k, start + 2k, ...`` and the last
            are scored, with ``start = floor(score_from * epochs)`` and
            ``k = score_every``. Which epochs carry the signal depends on
            the data (see the README), so the default scores throughout
        aggregate ("mean"): how per-epoch curvature becomes one score, see
            :func:`fiftyone_curvature.engine.curvature.aggregate_epochs`
        el2n_epoch (None): epoch (1-based) at which EL2N is taken; None
            uses 10% of the epochs (at least 1)
        score_batch_size (256): batch size of the scoring pass
        device ("auto"): ``"auto"`` (CUDA when present), ``"cpu"``,
            ``"cuda"``, ``"cuda:1"``, ...
        amp ("auto"): bf16 autocast for training; "auto" = on where the
            device runs bf16 natively (CUDA with bf16, a CPU with
            AVX512-BF16 or AMX) except small_cnn on a CPU (no gain there),
            float32 elsewhere. Scoring always runs in float32 without TF32
        amp_path (None): set by the run, not by you: which training
            precision it took and why, e.g. ``"bf16 autocast (cpu, native
            bf16; amp=auto)"``
        channels_last (True): channels-last memory format for conv nets
        fuse_bn (True): score with a copy of the model whose BatchNorm
            layers are folded into the convolutions (same function in
            float32, faster)
        compile (False): ``torch.compile`` the training model (pays only
            on long runs: compiling takes minutes on a small CPU)
        threads ("auto"): CPU threads for the run; "auto" times a few
            training steps at 1 thread, at the cores the load average
            leaves free and at every core the process may use (affinity,
            cgroup quota) before training and keeps the fastest (on a
            shared, busy CPU one thread can be 10-20x faster than all
            cores); an integer sets it; None = PyTorch's default (all
            cores). Scores depend on the thread count (float sums in
            another order): the chosen count is stored in the run's
            config, and a rerun with that config (or a fixed integer)
            gives the same scores for a seed
        seed (0): seeds model init, data order, augmentation and probes
        record_probes (False): keep the (N, E, probes) per-probe scores
        record_embeddings (False): keep (N, D) penultimate features of the
            final model
        holdout ("auto"): how the run measures whether the network can
            judge the labels (:mod:`fiftyone_curvature.engine.judge`):
            the same model is trained again on part of the data, without
            curvature scoring, and predicts the rest; ``"auto"`` = 5 folds
            on (N, D) features (a head trains in seconds), one stratified
            80/20 split on images (0.8x the run's training epochs); 1 = one
            split, k >= 2 = k folds, 0 = not measured (no verdict)
    """

    model: str = "auto"
    width: int = None
    epochs: int = 30
    batch_size: object = "auto"
    lr: object = "auto"
    momentum: float = 0.9
    weight_decay: object = "auto"
    schedule: str = "cosine"
    augment: object = "auto"
    augment_epochs: int = None
    estimator: str = "fd"
    probes: int = 1
    h: float = 1e-2
    norm: str = "l2"
    score_every: object = "model"
    score_from: float = 0.0
    score_rise: float = SCORE_RISE
    score_gap: int = SCORE_GAP
    aggregate: str = "mean"
    el2n_epoch: int = None
    score_batch_size: int = 256
    device: str = "auto"
    amp: object = "auto"
    amp_path: str = None
    channels_last: bool = True
    fuse_bn: bool = True
    compile: bool = False
    threads: object = "auto"
    seed: int = 0
    record_probes: bool = False
    record_embeddings: bool = False
    holdout: object = "auto"

    def validate(self):
        """Raises ValueError naming the first invalid option.

        NumPy scalars are accepted and stored as Python numbers; booleans
        are refused where a number is expected (``epochs=True``), floats
        where an integer is (``epochs=2.7`` is refused, not truncated).
        """
        for f in dataclasses.fields(self):
            setattr(self, f.name, validation.plain(getattr(self, f.name)))

        def choice(name, valid):
            # 1 == True: compared with its type, so amp=1 is refused
            validation.choice(name, getattr(self, name), valid)

        choice("model", ("auto",) + MODELS)
        choice("schedule", SCHEDULES)
        choice("estimator", ESTIMATORS)
        choice("norm", NORMS)
        choice("aggregate", AGGREGATIONS)
        choice("augment", ("auto", True, False))
        choice("amp", ("auto", True, False))
        if self.score_every not in ("auto", "model"):
            _integer(self, "score_every", 0, "or 'model' or 'auto'")
        choice("fuse_bn", (True, False))
        choice("compile", (True, False))
        if self.threads not in (None, "auto"):
            _integer(self, "threads", 1, "or 'auto' or None")
        if self.holdout != "auto":
            _integer(self, "holdout", 0, "or 'auto'")
        _integer(self, "score_gap", 1)
        _real(self, "score_rise", low=0.0, low_open=True)
        for name in ("epochs", "probes", "score_batch_size"):
            _integer(self, name, 1)
        if self.batch_size != "auto":
            _integer(self, "batch_size", 2, "(BatchNorm needs two samples)")
        for name, minimum in (("width", 1), ("augment_epochs", 0),
                              ("el2n_epoch", 1)):
            if getattr(self, name) is not None:
                _integer(self, name, minimum, "or None")
        _integer(self, "seed", 0)
        if self.lr != "auto":
            _real(self, "lr", low=0.0, low_open=True)
        _real(self, "h", low=H_MIN)
        _real(self, "momentum", low=0.0, high=1.0)
        if self.weight_decay != "auto":
            _real(self, "weight_decay", low=0.0)
        _real(self, "score_from", low=0.0, high=1.0, high_open=True)
        for name in ("channels_last", "record_probes", "record_embeddings"):
            validation.boolean(name, getattr(self, name))
        if self.el2n_epoch is not None and self.el2n_epoch > self.epochs:
            raise ValueError(
                f"el2n_epoch must be in [1, epochs={self.epochs}], got "
                f"{self.el2n_epoch}"
            )
        if not isinstance(self.device, str) or not _DEVICE.fullmatch(
            self.device
        ):
            raise ValueError(
                f"Unknown device {self.device!r}; use 'auto', 'cpu', "
                "'cuda' or 'cuda:<index>'"
            )
        return self

    @classmethod
    def resolve(cls, config=None, exclude=(), **overrides):
        """The validated config of a run: ``config`` with ``overrides``.

        The one place where the SDK, the CLI and the operators turn their
        arguments into a config.

        Args:
            config (None): a :class:`TrackingConfig`, a dict of its fields,
                or None for the defaults
            exclude (()): field names the caller sets itself and refuses
                as overrides (e.g. ``("seed",)`` for evaluations, which
                take ``seeds``)
            **overrides: any field; a value of None keeps the config's

        Returns:
            a new, validated :class:`TrackingConfig`

        Raises:
            ValueError: a config of another type, an unknown or excluded
                option, or an invalid value
        """
        if config is None:
            config = cls()
        elif isinstance(config, dict):
            config = cls.from_dict(config)
        elif not isinstance(config, cls):
            raise ValueError(
                f"config must be a TrackingConfig or dict, got "
                f"{type(config).__name__}"
            )
        names = {f.name for f in dataclasses.fields(cls)}
        for name in exclude:
            if name in overrides:
                raise ValueError(
                    "Pass seeds=[...] instead of seed" if name == "seed"
                    else f"{name} cannot be set here"
                )
        unknown = sorted(set(overrides) - names)
        if unknown:
            raise ValueError(
                f"Unknown option(s) {unknown}; valid ones are "
                f"{sorted(names - set(exclude))}"
            )
        overrides = {k: v for k, v in overrides.items() if v is not None}
        return dataclasses.replace(config, **overrides).validate()

    @classmethod
    def paper(cls, **overrides):
        """The paper's scoring settings (Garg et al., ICML 2024): the
        finite-difference estimator with h = 1e-3, 10 probes, every epoch
        from the first, mean over epochs; other options as given."""
        settings = dict(estimator="fd", h=1e-3, probes=10, score_every=1,
                        score_from=0.0, norm="l2", aggregate="mean")
        settings.update(overrides)
        return cls(**settings)

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d):
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(
                f"Unknown option(s) {sorted(unknown)}; valid ones are "
                f"{sorted(names)}"
            )
        return cls(**d)

    @property
    def adaptive(self):
        """Whether the scored epochs are decided during the run
        (``score_every="auto"``)."""
        return self.score_every == "auto"

    def scored_epochs(self, train_accuracy=None):
        """1-based epochs at which curvature is scored (last always).

        Args:
            train_accuracy (None): with ``score_every="auto"``, the
                training accuracies of the epochs so far; the result then
                covers those epochs (without them: every epoch, the
                columns an adaptive run reserves)
        """
        if self.adaptive:
            if train_accuracy is None:
                return list(range(1, self.epochs + 1))
            return adaptive_scored_epochs(train_accuracy, self.epochs,
                                          self.score_rise, self.score_gap)
        if self.score_every == "model":
            raise ValueError("score_every='model' is resolved from the "
                             "model and the training precision when the run "
                             "starts (engine.training.resolve_auto)")
        if self.score_every == 0:
            return []
        start = math.floor(self.score_from * self.epochs)
        return [
            e
            for e in range(start + 1, self.epochs + 1)
            if (e - start) % self.score_every == 0 or e == self.epochs
        ]

    def resolved_batch_size(self, num_samples):
        """The batch size of a run on ``num_samples`` samples."""
        if self.batch_size != "auto":
            return self.batch_size
        size = 2 ** math.floor(math.log2(max(num_samples // 100, 1)))
        return int(min(128, max(32, size)))

    def resolved_lr(self, batch_size):
        """The peak learning rate at batch size ``batch_size``."""
        if self.lr != "auto":
            return self.lr
        return round(0.1 * math.sqrt(batch_size / 128), 6)

    def resolved_weight_decay(self, features=False):
        """The weight decay of a run on images (or on (N, D) features)."""
        if self.weight_decay != "auto":
            return self.weight_decay
        return FEATURES_WEIGHT_DECAY if features else IMAGE_WEIGHT_DECAY

    def resolved_el2n_epoch(self):
        if self.el2n_epoch is not None:
            return self.el2n_epoch
        return max(1, round(0.1 * self.epochs))


def adaptive_scored_epochs(train_accuracy, epochs, rise=SCORE_RISE,
                           gap=SCORE_GAP, warmup=2):
    """The epochs the ``score_every="auto"`` schedule scores.

    Dense while the network still learns, sparse after: epoch e (1-based)
    is scored when it is one of the first ``warmup`` epochs, the last
    epoch, when the training accuracy rose by at least ``rise`` since the
    last scored epoch, or when ``gap`` epochs passed since it. The decision
    for epoch e uses the accuracies of epochs 1..e only, so a run takes it
    online, after each training pass.

    Args:
        train_accuracy: the training accuracies of the epochs trained so
            far (a prefix of the run's, any length up to ``epochs``)
        epochs: E, the run's number of epochs
        rise (0.01): accuracy rise that triggers scoring (the config's
            ``score_rise``)
        gap (8): longest run of unscored epochs plus one (the config's
            ``score_gap``)
        warmup (2): leading epochs always scored

    Returns:
        the sorted 1-based epochs among 1..len(train_accuracy) to score
    """
    scored, last_acc, last = [], None, 0
    for e, acc in enumerate(train_accuracy, start=1):
        if (e <= warmup or e == epochs or e - last >= gap
                or acc - last_acc >= rise):
            scored.append(e)
            last_acc, last = acc, e
    return scored


def model_schedule(model, amp):
    """The ``score_every="model"`` schedule: every k-th epoch so that a
    tracked run costs about 1.5x plain training.

    A scoring pass (two float32 forward/backward passes to the input) cost
    0.45 training epochs for the small CNN, 2.9-3.0 for the small ResNet
    trained in bf16 and 1.4 in float32 (docs/speed.md). Scoring every
    epoch, every 6th and every 2nd epoch kept the curvature AUROC within
    0.005 of scoring every epoch on digits and CIFAR-10.

    Args:
        model: the resolved model name
        amp: whether training runs in bf16 autocast

    Returns:
        k >= 1
    """
    if model == "small_cnn":
        return 1
    return 6 if amp else 2
