"""Command-line options of a run's TrackingConfig (argparse, pure Python).

Shared by the ``fiftyone-curvature`` command and the rank entry point
:mod:`fiftyone_curvature.engine.worker`, so both accept the same flags.
"""

import json

from . import validation
from .config import TrackingConfig


#: TrackingConfig options with their own flag -> the flag (without --)
FLAGS = {"epochs": "epochs", "probes": "probes", "h": "h",
         "score_every": "score-every", "score_from": "score-from",
         "model": "model", "device": "device", "seed": "seed"}


def int_or_auto(value):
    """argparse type: an integer or the string "auto" (or "model")."""
    return value if value in ("auto", "model") else int(value)


def threads_arg(value):
    """argparse type of --threads: "auto" or an integer."""
    return value if value == "auto" else int(value)


def add_training_args(parser, epochs_default=None):
    """Adds --epochs, --probes, --h, --score-every, --score-from, --model,
    --device, --threads, --seed and --set NAME=VALUE to ``parser``."""
    defaults = TrackingConfig()
    parser.add_argument("--epochs", type=int,
                        default=epochs_default or defaults.epochs,
                        help="training epochs (default %(default)s)")
    parser.add_argument("--probes", type=int, default=defaults.probes,
                        help="Rademacher probes per scored epoch "
                        "(default %(default)s)")
    parser.add_argument("--h", type=float, default=defaults.h,
                        help="finite-difference step (default %(default)s)")
    parser.add_argument("--score-every", type=int_or_auto,
                        default=defaults.score_every,
                        help="score every k-th epoch; 'model' (default): k "
                        "from the model and training precision (1 for the "
                        "small CNN, 6 for bf16 training, else 2; about 1.5x "
                        "the cost of plain training on a CPU); 'auto': "
                        "densely while the training accuracy climbs, "
                        "sparsely after")
    parser.add_argument("--score-from", type=float,
                        default=defaults.score_from,
                        help="fraction of training before which curvature "
                        "is not scored (default %(default)s)")
    parser.add_argument("--model", default=defaults.model,
                        help="auto, small_cnn, small_resnet or resnet18")
    parser.add_argument("--device", default=defaults.device,
                        help="auto, cpu, cuda or cuda:i")
    parser.add_argument("--threads", type=threads_arg,
                        default=defaults.threads,
                        help="CPU threads: 'auto' (default) times 1, the "
                        "free and all cores before training and keeps the "
                        "fastest (stored in the run's config); an integer "
                        "fixes it")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="random seed (default %(default)s)")
    parser.add_argument("--set", action="append", default=[],
                        metavar="NAME=VALUE",
                        help="any other TrackingConfig option, e.g. "
                        "--set weight_decay=0 (repeatable)")


def parse_sets(items, flagged_ok=False):
    """``["name=value", ...]`` -> dict (values parsed as JSON when they
    are JSON).

    Args:
        items: the ``--set`` values
        flagged_ok (False): accept options that have their own flag (the
            rank worker, whose arguments a program writes); a person who
            gives ``--set epochs=2`` is told to use ``--epochs``
    """
    out = {}
    for item in items:
        if "=" not in item:
            raise ValueError(f"--set expects NAME=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        if name in FLAGS and not flagged_ok:
            raise ValueError(
                f"--set {item}: {name} has its own option --{FLAGS[name]}; "
                f"give it there (a value given both ways would be "
                f"ambiguous)")
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            pass
        if name in out:
            validation.conflict(f"--set {name}", out[name], value)
        out[name] = value
    return out


def tracking_kwargs(args, flagged_ok=False):
    """The TrackingConfig keyword arguments of parsed arguments
    (``flagged_ok``: see :func:`parse_sets`)."""
    kwargs = dict(
        model=args.model, epochs=args.epochs, probes=args.probes, h=args.h,
        score_every=args.score_every, score_from=args.score_from,
        device=args.device, seed=args.seed, threads=args.threads,
    )
    kwargs.update(parse_sets(args.set, flagged_ok))
    return kwargs
