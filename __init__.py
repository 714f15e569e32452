"""FiftyOne plugin entry (py_entry); the code lives in fiftyone_curvature.

Works both ways a plugin is installed: with the package pip-installed, and
from a copy of the repository made by ``fiftyone plugins download`` with
only its requirements installed. FiftyOne loads this file by path without
putting the plugin directory on ``sys.path``, so in the second case the
directory is appended to it: the package is then importable under its real
name, which run records stored in datasets refer to.
"""

import importlib.util
import os
import sys

if importlib.util.find_spec("fiftyone_curvature") is None:
    sys.path.append(os.path.dirname(os.path.abspath(__file__)))

from fiftyone_curvature.app.plugin import register  # noqa: E402, F401
