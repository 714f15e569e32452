"""Find the samples a network memorizes: input-loss curvature over training.

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
    "train_and_track": "training",
    "TrackingResult": "training",
    "TrainingDivergedError": "training",
    "TrackingConfig": "config",
    "curvature_batch": "curvature",
    "aggregate_epochs": "curvature",
    "build_model": "models",
    "compute_curvature": "core",
    "CurvatureConfig": "runs",
    "CurvatureResults": "runs",
    "auroc": "metrics",
    "average_precision": "metrics",
    "score_table": "metrics",
    "evaluate_corruption": "evaluation",
    "CorruptionEvaluationResults": "evaluation",
    "compare_scores": "reference",
    "import_reference": "reference",
    "find_duplicate_conflicts": "duplicates",
    "DuplicateConflictsResults": "duplicates",
    "evaluate_duplicates": "duplicates",
    "DuplicateEvaluationResults": "duplicates",
}

__all__ = sorted(_LAZY)


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
