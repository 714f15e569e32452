"""The training engine: PyTorch and numpy only, never FiftyOne.

Start at :func:`fiftyone_curvature.engine.training.train_and_track`.
Nothing is imported here, so that ``import fiftyone_curvature.engine.config``
stays free of torch.
"""
