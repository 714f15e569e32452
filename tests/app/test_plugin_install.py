"""The plugin installed the FiftyOne way: a copy of the repository in a
plugins directory, requirements installed, the package itself NOT
installed (``fiftyone plugins download`` + ``fiftyone plugins requirements
--install``)."""

import json
import os
import shutil
import subprocess
import sys
import tomllib

REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)
PLUGIN = "@fiftyone-curvature/curvature"


def _requirement_lines(text):
    return [line.split("#")[0].strip() for line in text.splitlines()
            if line.split("#")[0].strip()]


def test_requirements_txt_matches_pyproject():
    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    with open(os.path.join(REPO_ROOT, "requirements.txt")) as f:
        reqs = _requirement_lines(f.read())

    def norm(spec):
        return spec.replace(" ", "").replace('"', "'")

    assert sorted(map(norm, reqs)) == sorted(map(norm, deps))


def _copy_repository(dest):
    """What ``fiftyone plugins download`` leaves: the repository's files
    (no virtual environment, no build outputs)."""
    ignore = shutil.ignore_patterns(".venv", ".git", "__pycache__",
                                    "*.egg-info", ".pytest_cache")
    shutil.copytree(REPO_ROOT, dest, ignore=ignore)


#: runs in a fresh interpreter: the pip-installed (editable) package is
#: made unimportable first, then FiftyOne loads the plugin from the copy
CHECK = r"""
import importlib.util, json, sys

# drop the editable install's finder and any path to the repository
sys.meta_path[:] = [f for f in sys.meta_path
                    if "__editable__" not in getattr(f, "__module__", "")]
sys.path[:] = [p for p in sys.path if p not in ("", sys.argv[1])]
assert importlib.util.find_spec("fiftyone_curvature") is None, (
    "the installed package is still importable")

import fiftyone as fo
import fiftyone.operators as foo
import fiftyone.plugins as fop

plugin = [p for p in fop.list_plugins() if p.name == sys.argv[2]]
operators = sorted(o.name for o in foo.list_operators()
                   if o.plugin_name == sys.argv[2])
dataset = fo.load_dataset(sys.argv[3])
results = dataset.load_brain_results("curvature")
info = foo.execute_operator(
    f"{sys.argv[2]}/get_curvature_info", dict(dataset=dataset.name),
    params={"key": "curvature"},
).result
print(json.dumps({
    "plugin": [p.name for p in plugin],
    "operators": operators,
    "module": sys.modules["fiftyone_curvature"].__file__,
    "num_samples": int(results.num_samples),
    "results_class": type(results).__name__,
    "info_samples": info["num_samples"],
}))
"""


def test_downloaded_copy_registers_and_loads_runs(tmp_path, make_digits):
    import yaml

    from fiftyone_curvature import compute_curvature

    dataset = make_digits(n=60)
    compute_curvature(dataset, "label", epochs=1, progress=False)
    plugins = tmp_path / "plugins"
    copy = plugins / "fiftyone-curvature"
    _copy_repository(copy)
    env = dict(os.environ, FIFTYONE_PLUGINS_DIR=str(plugins),
               PYTHONPATH="")
    proc = subprocess.run(
        [sys.executable, "-c", CHECK, REPO_ROOT, PLUGIN, dataset.name],
        capture_output=True, text=True, timeout=600, env=env,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    with open(os.path.join(REPO_ROOT, "fiftyone.yml")) as f:
        meta = yaml.safe_load(f)
    assert out["plugin"] == [PLUGIN]
    assert out["operators"] == sorted(meta["operators"] + meta["panels"])
    # the package came from the copy, under its real name
    assert out["module"].startswith(str(copy))
    assert out["num_samples"] == 60 and out["info_samples"] == 60
    assert out["results_class"] == "CurvatureResults"


def test_fiftyone_yml_and_pyproject_state_the_same_range():
    import yaml
    from packaging.requirements import Requirement

    with open(os.path.join(REPO_ROOT, "pyproject.toml"), "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    with open(os.path.join(REPO_ROOT, "fiftyone.yml")) as f:
        plugin = yaml.safe_load(f)["fiftyone"]["version"]
    ours = [Requirement(d) for d in deps]
    ours = [r for r in ours if r.name == "fiftyone"]
    assert len(ours) == 1
    assert ours[0].specifier == Requirement("fiftyone" + plugin).specifier
