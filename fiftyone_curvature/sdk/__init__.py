"""The FiftyOne layer: collections in, fields, runs and views out.

No torch at import time (the engine is imported when a run trains). Start
at :func:`fiftyone_curvature.sdk.compute.compute_curvature`.
"""
