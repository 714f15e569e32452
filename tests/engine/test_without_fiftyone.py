"""The engine's tests really run without FiftyOne and without MongoDB."""

import importlib
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
#: set in the child session of test_engine_only_session_starts_nothing
CHILD = "FO_CURVATURE_ENGINE_ONLY_CHILD"


def test_fiftyone_cannot_be_imported():
    with pytest.raises(ImportError):
        importlib.import_module("fiftyone")
    with pytest.raises(ImportError):
        importlib.import_module("fiftyone.core.dataset")


def test_every_engine_module_imports_without_fiftyone():
    package = os.path.join(REPO_ROOT, "fiftyone_curvature", "engine")
    names = sorted(n[:-3] for n in os.listdir(package)
                   if n.endswith(".py") and n != "__init__.py")
    assert "training" in names and "labels" in names
    for name in names:
        importlib.import_module(f"fiftyone_curvature.engine.{name}")


@pytest.mark.skipif(CHILD not in os.environ,
                    reason="runs inside the engine-only child session")
def test_child_session_state(private_mongod):
    assert "proc" not in private_mongod, "a mongod was started"
    loaded = [m for m in sys.modules
              if (m == "fiftyone" or m.startswith("fiftyone."))
              and sys.modules[m] is not None]
    assert not loaded, loaded


def test_engine_only_session_starts_nothing():
    """An engine-only pytest session (what a machine without FiftyOne
    runs): fiftyone blocked for the whole session, no mongod started."""
    if CHILD in os.environ:
        pytest.skip("already the child session")
    env = dict(os.environ, **{CHILD: "1"})
    me = os.path.relpath(__file__, REPO_ROOT)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         os.path.join("tests", "engine", "test_metrics.py"),
         f"{me}::test_child_session_state",
         f"{me}::test_fiftyone_cannot_be_imported"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, (
        proc.stdout[-2000:])
