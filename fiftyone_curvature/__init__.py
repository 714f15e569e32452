"""Find the samples a network memorizes: input-loss curvature over training.

Layers (imports only run downwards):

- :mod:`fiftyone_curvature.engine`: PyTorch and numpy only (never imports
  FiftyOne): config, models, curvature estimators, training loop, dynamics
  scores, metrics, noise injection, neighbours
- :mod:`fiftyone_curvature.sdk`: FiftyOne glue: reading images, writing
  fields, brain runs, views, compute, evaluations, duplicates, report
- :mod:`fiftyone_curvature.app`: the App's operators and panel (no torch at
  import)
- :mod:`fiftyone_curvature.cli`: the ``fiftyone-curvature`` command

Public API (heavy modules are imported on first use):

- :func:`train_and_track`: the pure PyTorch engine on in-memory tensors
- :class:`TrackingConfig`: every option of a run
- :func:`compute_curvature`: the same on a FiftyOne dataset or view, as a
  brain run with sample fields and saved views
- :class:`CurvatureConfig` / :class:`CurvatureResults`: its run record
- :func:`auroc`, :func:`average_precision`, :func:`score_table`: metrics for
  scores against known corrupted samples
- :func:`evaluate_corruption`: inject known label noise, train, and measure
  how well curvature and every training-dynamics score find it (a run)
- :func:`relabel`: a copy of the label field with a run's suggested labels
  applied to its likely-mislabeled samples (or any others)
- :func:`compare_scores` / :func:`import_reference`: compare a score field
  with reference memorization scores imported from .npy / .npz / .csv
- :func:`find_duplicate_conflicts`: groups of exact / near-duplicate images
  whose labels differ (fields, a grouped saved view, a brain run);
  :func:`evaluate_duplicates`: inject re-encoded copies with other labels
  into a clone and measure how every score and the finder rank them
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "train_and_track": "engine.training",
    "TrackingResult": "engine.training",
    "TrainingDivergedError": "engine.training",
    "TrackingConfig": "engine.config",
    "curvature_batch": "engine.curvature",
    "aggregate_epochs": "engine.curvature",
    "build_model": "engine.models",
    "auroc": "engine.metrics",
    "average_precision": "engine.metrics",
    "score_table": "engine.metrics",
    "compute_curvature": "sdk.compute",
    "CurvatureConfig": "sdk.runs",
    "CurvatureResults": "sdk.runs",
    "RunRenameError": "sdk.runs",
    "RunInProgressError": "sdk.locks",
    "release_lock": "sdk.locks",
    "UnreadableImagesError": "sdk.images",
    "evaluate_corruption": "sdk.evaluation",
    "CorruptionEvaluationResults": "sdk.evaluation_runs",
    "relabel": "sdk.relabel",
    "compare_scores": "sdk.reference",
    "import_reference": "sdk.reference",
    "find_duplicate_conflicts": "sdk.duplicates",
    "DuplicateConflictsResults": "sdk.duplicate_runs",
    "evaluate_duplicates": "sdk.duplicate_injection",
    "DuplicateEvaluationResults": "sdk.duplicate_injection",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
