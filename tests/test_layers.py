"""The architecture's rules: imports only run downwards (cli, app -> sdk ->
engine), the engine never imports FiftyOne, the App imports no torch, and
no module imports another module's private names."""

import ast
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(REPO_ROOT, "fiftyone_curvature")

#: layer -> the layers it may import from (itself included)
ALLOWED = {
    "engine": {"engine"},
    "sdk": {"sdk", "engine"},
    "app": {"app", "sdk", "engine"},
    "cli": {"cli", "sdk", "engine"},
}


def _modules():
    """(dotted module name, path) of every module of the package."""
    for root, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(root, name)
                rel = os.path.relpath(path, REPO_ROOT)[:-3].split(os.sep)
                if rel[-1] == "__init__":
                    rel = rel[:-1]
                yield ".".join(rel), path


def _imports(module, path):
    """(imported module, imported names) of every import in a module,
    relative imports resolved; function-level imports included."""
    tree = ast.parse(open(path).read(), path)
    is_package = path.endswith("__init__.py")
    parts = module.split(".")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = parts if is_package else parts[:-1]
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module
                                          else []))
            else:
                target = node.module
            names = [a.name for a in node.names]
            if not node.module:
                # "from . import views": each name is a module
                for name in names:
                    yield f"{target}.{name}", []
            else:
                yield target, names


def _layer(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def test_the_listing_shows_the_layers():
    subpackages = sorted(
        d for d in os.listdir(PACKAGE)
        if os.path.isfile(os.path.join(PACKAGE, d, "__init__.py"))
    )
    assert subpackages == sorted(ALLOWED)
    flat = sorted(f for f in os.listdir(PACKAGE) if f.endswith(".py"))
    assert flat == ["__init__.py"]


def test_imports_only_run_downwards():
    wrong = []
    for module, path in _modules():
        layer = _layer(module)
        if layer is None:
            continue
        for target, _ in _imports(module, path):
            other = _layer(target) if target.startswith(
                "fiftyone_curvature.") else None
            if other is not None and other not in ALLOWED[layer]:
                wrong.append(f"{module} imports {target}")
    assert not wrong, "\n".join(wrong)


def test_engine_never_imports_fiftyone_in_source():
    wrong = [
        f"{module} imports {target}"
        for module, path in _modules() if _layer(module) == "engine"
        for target, _ in _imports(module, path)
        if target == "fiftyone" or target.startswith("fiftyone.")
    ]
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_private_names():
    wrong = []
    for module, path in _modules():
        for target, names in _imports(module, path):
            if not target.startswith("fiftyone_curvature"):
                continue
            private = [n for n in names if n.startswith("_")]
            if private or any(p.startswith("_") and p != "__init__"
                              for p in target.split(".")):
                wrong.append(f"{module}: from {target} import {names}")
    assert not wrong, "\n".join(wrong)


ENGINE_WITHOUT_FIFTYONE = r"""
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "fiftyone" or name.startswith("fiftyone."):
            raise ImportError("fiftyone is blocked in this test")
        return None

sys.meta_path.insert(0, Block())
import numpy as np
import fiftyone_curvature as fc
from fiftyone_curvature.engine import (
    arguments, checkpoint, config, curvature, datafile, distributed,
    dynamics, launcher, metrics, models, neighbors, noise, recorder, source,
    training, worker,
)
rng = np.random.default_rng(0)
x = rng.integers(0, 256, (40, 1, 8, 8), dtype=np.uint8)
y = np.arange(40) % 4
r = fc.train_and_track(x, y, epochs=2, score_every=1)
assert r.curvature.shape == (40,) and np.isfinite(r.curvature).all()
noisy, flipped, _ = noise.inject_noise(y, 4, 0.25, seed=0)
print(round(fc.auroc(flipped, r.curvature), 3))
assert not [m for m in sys.modules if m.split(".")[0] == "fiftyone"]
"""


@pytest.mark.slow
def test_engine_runs_without_fiftyone():
    proc = subprocess.run(
        [sys.executable, "-c", ENGINE_WITHOUT_FIFTYONE],
        capture_output=True, text=True, timeout=600, cwd=REPO_ROOT,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


APP_WITHOUT_TORCH = r"""
import importlib, os, pkgutil, runpy, sys
runpy.run_path(os.path.join(sys.argv[1], "__init__.py"))
import fiftyone_curvature.app as app
for info in pkgutil.iter_modules(app.__path__):
    importlib.import_module(f"fiftyone_curvature.app.{info.name}")
heavy = [m for m in sys.modules
         if m == "torch" or m.startswith(("torch.", "torchvision"))]
print(heavy)
sys.exit(1 if heavy else 0)
"""


def test_app_imports_no_torch():
    proc = subprocess.run(
        [sys.executable, "-c", APP_WITHOUT_TORCH, REPO_ROOT],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
