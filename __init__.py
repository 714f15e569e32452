"""FiftyOne plugin entry (py_entry); the code lives in fiftyone_curvature."""

from fiftyone_curvature.app.plugin import register  # noqa: F401
