"""The engine's tests run where FiftyOne is absent: ``import fiftyone``
fails here, and no MongoDB is started.

In a session that collects only tests/engine, ``fiftyone`` is made
unimportable for the whole session (so the root conftest's private mongod,
started on the first ``import fiftyone``, never starts). When the engine's
tests run beside the others, fiftyone may already be loaded; it is then
hidden (``sys.modules["fiftyone..."] = None``) during each engine test.
"""

import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))


class BlockFiftyone:
    """A meta path finder that refuses ``fiftyone`` and its submodules."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "fiftyone" or name.startswith("fiftyone."):
            raise ModuleNotFoundError(
                f"{name} is blocked in tests/engine: the engine must work "
                "without FiftyOne", name=name)
        return None


def engine_only(args):
    """Whether every path pytest was given lies under tests/engine."""
    paths = [a.split("::")[0] for a in args if not a.startswith("-")]
    return bool(paths) and all(
        os.path.commonpath([os.path.abspath(p), HERE]) == HERE
        for p in paths
    )


def pytest_configure(config):
    if engine_only(config.args) and "fiftyone" not in sys.modules:
        sys.meta_path.insert(0, BlockFiftyone)


def pytest_collection_finish(session):
    """The repository root is a package to pytest, whose setup imports its
    __init__.py: the plugin's entry, which imports the App (fiftyone). It
    holds no setup_module, so that import is skipped when fiftyone is
    blocked."""
    if BlockFiftyone not in sys.meta_path:
        return
    for item in session.items:
        for node in item.listchain():
            if (isinstance(node, pytest.Package)
                    and str(node.path) == REPO_ROOT):
                node.setup = lambda: None


@pytest.fixture(autouse=True)
def _no_fiftyone(monkeypatch):
    """Hides fiftyone during each engine test (``import fiftyone`` raises
    ImportError), also where other tests loaded it."""
    loaded = [name for name in sys.modules
              if name == "fiftyone" or name.startswith("fiftyone.")]
    for name in set(loaded) | {"fiftyone"}:
        monkeypatch.setitem(sys.modules, name, None)
