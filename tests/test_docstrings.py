"""Docstrings name modules that exist."""

import os
import re

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOTTED = re.compile(r"fiftyone_curvature(?:\.[A-Za-z_]\w*)+")


def _exists(dotted):
    """Whether ``dotted`` is a module of the package, or a module followed
    by one attribute name."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        path = os.path.join(REPO_ROOT, *parts[:k])
        if os.path.isdir(path) or os.path.isfile(path + ".py"):
            return k >= len(parts) - 1
    return False


def test_every_dotted_name_is_a_real_module():
    wrong = []
    package = os.path.join(REPO_ROOT, "fiftyone_curvature")
    for root, _, files in os.walk(package):
        for name in files:
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            with open(path) as f:
                for i, line in enumerate(f, 1):
                    wrong += [f"{os.path.relpath(path, REPO_ROOT)}:{i}: {m}"
                              for m in DOTTED.findall(line)
                              if not _exists(m)]
    assert not wrong, "\n".join(wrong)
