"""A sweep of bad inputs and faults against the engine, SDK, CLI and
operators; prints how many ended in a raw traceback, a silent wrong result
or lost / orphaned data.

    python tests/faults/sweep.py [--list] [--only PREFIX]

Runs on a private MongoDB (started the way the tests start theirs). Each
case is a bad input that must be refused with one clear error, or a
tolerable input (NumPy integers, a smaller view, a resumable run) that must
succeed with a checked result. Around every case the datasets are
fingerprinted (fields and values, tags, saved views, runs; see
``tests/faults/fingerprints.py``); a case that changes anything it does not
own, or leaves a run record, field or lock behind, counts as lost /
orphaned data. Outcomes:

- ``clear``: refused with one error of a documented type, one line
- ``raw``: any other exception (KeyError, TypeError, ...), a message of
  several lines, or a CLI traceback / zero exit
- ``silent``: a bad input accepted, or a tolerable one giving a wrong result
- ``lost``: the user's data changed, or a run / field / lock left behind
"""

import argparse
import contextlib
import io
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.dirname(os.path.dirname(HERE))]


def _load(name, path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# the tests' session setup: starts the private mongod and sets the env
# before fiftyone is imported
conftest = _load("tests_conftest",
                 os.path.join(os.path.dirname(HERE), "conftest.py"))
faults_conftest = _load("faults_conftest", os.path.join(HERE,
                                                        "conftest.py"))

import numpy as np  # noqa: E402

REFUSE, ACCEPT = "refuse", "accept"


class Case:
    """One input: ``run()`` does it; ``expect`` is REFUSE or ACCEPT;
    ``check(value)`` validates an accepted result; ``owns`` lists the run
    keys it may create (deleted after the case)."""

    def __init__(self, name, run, expect=REFUSE, check=None, owns=()):
        self.name, self.run, self.expect = name, run, expect
        self.check, self.owns = check, list(owns)


def _clear_types():
    from fiftyone.operators.executor import ExecutionError

    import fiftyone_curvature as fc
    import fiftyone_curvature.app.base as base

    # FiftyOne's execute_operator raises ExecutionError: clear when it is
    # one line (a validation error), raw when it carries a traceback.
    # (getattr: the sweep also runs against older versions of the package)
    return (ValueError, FileNotFoundError, fc.TrainingDivergedError,
            getattr(fc, "RunInProgressError", ValueError),
            getattr(fc, "RunRenameError", ValueError),
            getattr(base, "OperatorError", ValueError), ExecutionError)


# --------------------------------------------------------------------------
# the world the cases run in


class World:
    """The datasets: ``ds`` (60 digits with a user's field, tags, saved
    view and a complete run ``base``), ``bad`` (digits plus unreadable
    images), ``tiny`` (1x1 images)."""

    def __init__(self, folder):
        import fiftyone as fo
        from fiftyone import ViewField as F
        from PIL import Image

        import fiftyone_curvature as fc

        self.folder = folder
        self.ds = conftest.new_digits_dataset(folder, n=60, name="sweep")
        ds = self.ds
        ds.add_sample_field("note", fo.StringField)
        ds.set_values("note", [f"n{i}" for i in range(len(ds))])
        ds.add_sample_field("score", fo.FloatField)
        ds.set_values("score", list(np.linspace(0, 1, len(ds))))
        ds.take(5, seed=1).tag_samples("mine")
        ds.set_values("dets", [fo.Detections(detections=[fo.Detection(
            label="x", bounding_box=[0.1, 0.1, 0.5, 0.5])])
            for _ in range(len(ds))])
        ds.save_view("my_view", ds.match(F("label.label") == "3"))
        ds.save_view("curvature_top_memorized", ds.limit(4),
                     description="a user's own view")
        fc.compute_curvature(ds, "label", curvature_field="base",
                             epochs=1, score_every=1, progress=False)
        self.bad = conftest.new_digits_dataset(folder, n=30,
                                               name="sweep_bad")
        self.bad_files = conftest_bad_files(os.path.join(folder, "bad"))
        self.bad.add_samples([
            fo.Sample(filepath=p, label=fo.Classification(label="1"))
            for p in self.bad_files.values()])
        self.tiny = fo.Dataset("sweep_tiny")
        for i in range(6):
            path = os.path.join(folder, f"tiny{i}.png")
            Image.new("L", (1, 1), color=i * 40).save(path)
            self.tiny.add_sample(fo.Sample(
                filepath=path, label=fo.Classification(label=str(i % 2))))
        self.big = fo.Dataset("sweep_big")
        for i in range(4):  # two sizes: a run resizes them to image_size
            path = os.path.join(folder, f"big{i}.png")
            Image.new("RGB", (64 - 16 * (i % 2),) * 2,
                      color=(i * 60, 0, 0)).save(path)
            self.big.add_sample(fo.Sample(
                filepath=path, label=fo.Classification(label=str(i % 2))))
        self.datasets = [self.ds, self.bad, self.tiny, self.big]

    def fingerprints(self, owns):
        from fingerprints import fingerprint

        return [fingerprint(d, runs=owns) for d in self.datasets]

    def leftovers(self, owns):
        """Runs, locks and run fields a case left behind."""
        found = []
        for d in self.datasets:
            d.reload()
            for key in d.list_brain_runs():
                if key in owns or key == "base" or key.startswith("base_"):
                    continue
                found.append(f"{d.name}: run {key!r}")
        try:
            from fiftyone_curvature.sdk.locks import _collection

            if _collection().count_documents({}):
                found.append("a lock document")
        except ImportError:  # a version without locks
            pass
        return found

    def clean(self, owns):
        """Deletes the runs a case was allowed to create."""
        for d in self.datasets:
            d.reload()
            for key in list(d.list_brain_runs()):
                if key in owns or any(key == f"{o}_duplicates"
                                      for o in owns):
                    d.delete_brain_run(key)
        try:
            from fiftyone_curvature.sdk.locks import _collection

            _collection().delete_many({})
        except ImportError:  # a version without locks
            pass


def conftest_bad_files(folder):
    return faults_conftest.bad_image_files(folder)


# --------------------------------------------------------------------------
# the cases

#: (option, bad values) of TrackingConfig, each refused by name
BAD_CONFIG = {
    "model": ["resnet50", "", None.__class__, 3, True],
    "width": [0, -1, 2.5, True, "32"],
    "epochs": [0, -1, 2.7, True, "3", math.inf, math.nan],
    "batch_size": [0, 1, 2.5, "big", True],
    "lr": [0, -0.1, math.inf, math.nan, "fast", True],
    "momentum": [-0.1, 1.5, math.nan, "x"],
    "weight_decay": [-1e-4, math.inf, math.nan, "x"],
    "schedule": ["linear", "", 1],
    "augment": ["yes", 1, 2],
    "augment_epochs": [-1, 2.5, True],
    "estimator": ["exact", ""],
    "probes": [0, -2, 1.5, True],
    "h": [0, -1e-3, 1e-30, 1e-7, math.inf, math.nan, "small", True],
    "norm": ["l1", 2],
    "score_every": [-1, 1.5, True, "2"],
    "score_from": [-0.1, 1.0, 2, math.nan, "x"],
    "aggregate": ["median", None.__class__],
    "el2n_epoch": [0, 1000, 1.5],
    "score_batch_size": [0, -5, 2.5],
    "device": ["gpu", "cuda:x", "cuda:0 ", "mps", "", 0],
    "amp": [1, 0, "bf16"],
    "channels_last": ["yes", 1],
    "seed": [-1, 1.5, True, "0"],
    "record_probes": ["no", 2],
    "record_embeddings": ["no", 2],
}

#: (option, NumPy value) accepted and stored as a Python number
NUMPY_OK = [("epochs", np.int64(3)), ("probes", np.int32(2)),
            ("seed", np.uint8(4)), ("h", np.float32(0.01)),
            ("lr", np.float64(0.05)), ("score_every", np.int16(1)),
            ("width", np.int64(16)), ("weight_decay", np.float32(0)),
            ("augment_epochs", np.int64(0)), ("score_batch_size",
                                                np.int64(64))]


def config_cases():
    from fiftyone_curvature.engine.config import TrackingConfig

    cases = []
    for name, values in BAD_CONFIG.items():
        for value in values:
            cases.append(Case(
                f"config {name}={value!r}",
                lambda n=name, v=value: TrackingConfig.resolve(**{n: v})))
    for name, value in NUMPY_OK:
        cases.append(Case(
            f"config {name}=np.{type(value).__name__}({value})",
            lambda n=name, v=value: TrackingConfig.resolve(**{n: v}),
            ACCEPT,
            check=lambda cfg, n=name, v=value: (
                type(getattr(cfg, n)) in (int, float)
                and getattr(cfg, n) == v.item())))
    cases.append(Case("config unknown option",
                      lambda: TrackingConfig.resolve(bogus=1)))
    cases.append(Case("config of a wrong type",
                      lambda: TrackingConfig.resolve(config=[1, 2])))
    cases.append(Case("config dict with unknown key",
                      lambda: TrackingConfig.resolve(config={"nope": 1})))
    return cases


def engine_cases():
    from fiftyone_curvature.engine.training import train_and_track

    x = np.random.default_rng(0).integers(0, 255, (40, 1, 8, 8), np.uint8)
    y = np.arange(40) % 2
    fast = dict(epochs=1, score_every=1)
    bad = {
        "empty inputs": lambda: train_and_track(x[:0], y[:0], **fast),
        "one class": lambda: train_and_track(x, y * 0, **fast),
        "labels out of range": lambda: train_and_track(
            x, y + 5, num_classes=2, **fast),
        "negative labels": lambda: train_and_track(x, y - 1, **fast),
        "float labels": lambda: train_and_track(x, y + 0.5, **fast),
        "length mismatch": lambda: train_and_track(x, y[:10], **fast),
        "NaN pixels": lambda: train_and_track(
            np.where(x > 100, np.nan, x.astype(np.float32)), y, **fast),
        "inf pixels": lambda: train_and_track(
            np.where(x > 100, np.inf, x.astype(np.float32)), y, **fast),
        "2-D inputs": lambda: train_and_track(x[:, 0, 0], y, **fast),
        "1x1 inputs": lambda: train_and_track(x[:, :, :1, :1], y, **fast),
        "checkpoint dir is a file": lambda: train_and_track(
            x, y, checkpoint_dir=__file__, **fast),
        "non-finite curvature": lambda: _nan_curvature(x, y),
    }
    cases = [Case(f"engine {k}", v) for k, v in bad.items()]
    cases.append(Case("engine numpy int config",
                      lambda: train_and_track(x, y, epochs=np.int64(1),
                                              score_every=np.int64(1)),
                      ACCEPT, check=lambda r: np.isfinite(
                          r.curvature).all()))
    return cases


def _nan_curvature(x, y):
    import fiftyone_curvature.engine.training as training

    real = training.curvature_batch

    def nan(*args, **kwargs):
        p, logits = real(*args, **kwargs)
        return p * float("nan"), logits

    training.curvature_batch = nan
    try:
        return training.train_and_track(x, y, epochs=1, score_every=1)
    finally:
        training.curvature_batch = real


def sdk_cases(w):
    from fiftyone import ViewField as F

    import fiftyone_curvature as fc

    ds = w.ds
    fast = dict(epochs=1, score_every=1, progress=False)

    def compute(samples=None, label="label", **kwargs):
        # key "k" is free: each case meets the check it is about (the
        # user's view "curvature_top_memorized" blocks the default key)
        kwargs.setdefault("curvature_field", "k")
        return fc.compute_curvature(ds if samples is None else samples,
                                    label, **{**fast, **kwargs})

    def evaluate(**kwargs):
        return fc.evaluate_corruption(ds, "ground_truth",
                                      **{**fast, **kwargs})

    bad = {
        "label field missing": lambda: compute(label="nope"),
        "label field not a Classification": lambda: compute(label="note"),
        "label field None": lambda: compute(label=None),
        "label field a number": lambda: compute(label=3),
        "label field 'tags'": lambda: compute(label="tags"),
        "key empty": lambda: compute(curvature_field=""),
        "key not identifier": lambda: compute(curvature_field="a-b"),
        "key starts with digit": lambda: compute(curvature_field="1x"),
        "key starts with _": lambda: compute(curvature_field="_private"),
        "key None": lambda: compute(curvature_field=None),
        "key a number": lambda: compute(curvature_field=5),
        "key is a user field": lambda: compute(curvature_field="note"),
        "key is the label field": lambda: compute(curvature_field="label"),
        "key whose view is the user's": lambda: compute(
            curvature_field="curvature"),
        "key of a user's score field": lambda: compute(
            curvature_field="score"),
        "classes with duplicates": lambda: compute(
            classes=["0", "0", "1"]),
        "classes missing a label": lambda: compute(classes=["0", "1"]),
        "a single class": lambda: compute(
            samples=ds.match(F("label.label") == "1"),
            curvature_field="one"),
        "image_size 0": lambda: compute(image_size=0),
        "image_size 3": lambda: compute(image_size=3),
        "image_size -1": lambda: compute(image_size=-1),
        "image_size 2.5": lambda: compute(image_size=2.5),
        "image_size '32'": lambda: compute(image_size="32"),
        "image_size True": lambda: compute(image_size=True),
        "image_size too large for memory": lambda: compute(
            samples=w.big, curvature_field="huge", image_size=100_000),
        "thresholds unknown": lambda: compute(thresholds={"nope": 1}),
        "thresholds top_k 0": lambda: compute(thresholds={"top_k": 0}),
        "thresholds top_k 2.5": lambda: compute(thresholds={"top_k": 2.5}),
        "thresholds high_percentile 2": lambda: compute(
            thresholds={"high_percentile": 2}),
        "thresholds high_percentile 'x'": lambda: compute(
            thresholds={"high_percentile": "x"}),
        "rank_by bogus": lambda: compute(rank_by="bogus"),
        "duplicates bogus": lambda: compute(duplicates="bogus"),
        "duplicates dict unknown": lambda: compute(
            duplicates={"nope": 1}),
        "checkpoint_dir a file": lambda: compute(checkpoint_dir=__file__),
        "checkpoint_dir a number": lambda: compute(checkpoint_dir=5),
        "config a list": lambda: compute(config=[1]),
        "config dict unknown": lambda: compute(config={"nope": 1}),
        "unknown keyword": lambda: compute(nope=1),
        "epochs True": lambda: compute(epochs=True),
        "epochs 2.7": lambda: compute(epochs=2.7),
        "h 1e-30": lambda: compute(h=1e-30),
        "h inf": lambda: compute(h=math.inf),
        "width 0": lambda: compute(width=0),
        "device cuda:x": lambda: compute(device="cuda:x"),
        "augment_epochs -1": lambda: compute(augment_epochs=-1),
        "weight_decay nan": lambda: compute(weight_decay=math.nan),
        "patches view": lambda: compute(samples=ds.to_patches("dets")),
        "empty view": lambda: compute(samples=ds.limit(0)),
        "unreadable images": lambda: compute(samples=w.bad),
        "all unreadable, skipped": lambda: compute(
            samples=w.bad.match(F("filepath").is_in(
                list(w.bad_files.values()))), skip_unreadable=True),
        "1x1 images": lambda: compute(samples=w.tiny),
        "evaluate noise -0.1": lambda: evaluate(noise=-0.1),
        "evaluate noise 1.5": lambda: evaluate(noise=1.5),
        "evaluate noise 'x'": lambda: evaluate(noise="x"),
        "evaluate kind bogus": lambda: evaluate(kind="bogus"),
        "evaluate seeds []": lambda: evaluate(seeds=[]),
        "evaluate seeds repeated": lambda: evaluate(seeds=[1, 1]),
        "evaluate seeds 'a'": lambda: evaluate(seeds="a"),
        "evaluate seed instead of seeds": lambda: evaluate(seed=1),
        "evaluate key a user field": lambda: evaluate(key="note"),
        "evaluate key of a curvature run": lambda: evaluate(key="base"),
        "evaluate mapping unknown class": lambda: evaluate(
            kind="asymmetric", mapping={"x": "y"}),
        "evaluate no scoring": lambda: evaluate(score_every=0),
        "duplicates method bogus": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="d", method="bogus", progress=False),
        "duplicates threshold -1": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="d", method="pixels", threshold=-1,
            progress=False),
        "duplicates threshold 3": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="d", method="pixels", threshold=3,
            progress=False),
        "duplicates threshold 'x'": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="d", method="pixels", threshold="x",
            progress=False),
        "duplicates ratio None": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="d", ratio=None, progress=False),
        "duplicates ratio 1": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="d", ratio=1.0, progress=False),
        "duplicates embeddings missing": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="d", method="embeddings", progress=False),
        "duplicates key _x": lambda: fc.find_duplicate_conflicts(
            ds, "label", key="_x", progress=False),
        "duplicates label missing": lambda: fc.find_duplicate_conflicts(
            ds, "nope", key="d", progress=False),
        "rename to a user field": lambda: ds.rename_brain_run("base",
                                                              "note"),
        "rename to _x": lambda: ds.rename_brain_run("base", "_x"),
        "rename to a bad name": lambda: ds.rename_brain_run("base", "a b"),
        "rename onto a user's view name": lambda: ds.rename_brain_run(
            "base", "curvature"),
        "relabel unknown run": lambda: fc.relabel(ds, "nope", "fixed"),
        "relabel onto the label field": lambda: fc.relabel(ds, "base",
                                                           "label"),
        "relabel onto a user field": lambda: fc.relabel(ds, "base", "note"),
        "info of an unknown run": lambda: _info(ds, "nope"),
        "import_reference empty npy": lambda: _reference(w, np.array([])),
        "import_reference wrong length": lambda: _reference(
            w, np.arange(3.0)),
        "import_reference NaN": lambda: _reference(
            w, np.full(60, np.nan)),
        "import_reference onto the label field": lambda: _reference(
            w, np.arange(60.0), field="label"),
        "compare unknown field": lambda: fc.compare_scores(ds, "nope",
                                                           "score"),
        "compare a label field": lambda: fc.compare_scores(ds, "label",
                                                           "score"),
    }
    cases = [Case(f"sdk {k}", v, owns=["d", "one", "huge", "k"])
             for k, v in bad.items()]
    cases += [
        Case("sdk numpy ints accepted", lambda: compute(
            curvature_field="np_ok", epochs=np.int64(1),
            image_size=np.int64(32)), ACCEPT, owns=["np_ok"],
            check=lambda r: r.config.tracking["epochs"] == 1),
        Case("sdk rerun on a smaller view clears the rest",
             lambda: _smaller_rerun(ds), ACCEPT, owns=["small"],
             check=bool),
        Case("sdk skip unreadable records them", lambda: compute(
            samples=w.bad, curvature_field="skipping",
            skip_unreadable=True), ACCEPT, owns=["skipping"],
             check=lambda r: len(r.skipped) == 3),
        Case("sdk divergence", lambda: _diverge(ds), owns=[]),
        Case("sdk failure while writing", lambda: _fail_write(ds)),
        Case("sdk failing rerun of the user's run", lambda: _fail_rerun(ds)),
        Case("sdk lock held by another host", lambda: _locked(ds)),
        Case("sdk interrupted run is reported",
             lambda: _interrupted(ds), ACCEPT, owns=["cut"],
             check=lambda s: s == "interrupted"),
    ]
    return cases


def _info(ds, key):
    from fiftyone_curvature.sdk.info import run_info

    return run_info(ds, key)


def _reference(w, values, field="ref"):
    import fiftyone_curvature as fc

    path = os.path.join(w.folder, "ref.npy")
    np.save(path, values)
    return fc.import_reference(w.ds, path, field)


def _smaller_rerun(ds):
    import fiftyone_curvature as fc

    fast = dict(epochs=1, score_every=1, progress=False)
    fc.compute_curvature(ds, "label", curvature_field="small", **fast)
    view = ds.take(20, seed=2)
    fc.compute_curvature(view, "label", curvature_field="small", **fast)
    inside = set(view.values("id"))
    ids, values = ds.values(["id", "small"])
    return all((v is not None) == (i in inside) for i, v in zip(ids,
                                                                 values))


def _diverge(ds):
    import torch

    import fiftyone_curvature as fc

    done = []

    class Exploding(torch.optim.SGD):
        def step(self, closure=None):
            if done:
                for g in self.param_groups:
                    g["lr"] = float("inf")
            return super().step(closure)

    real = torch.optim.SGD
    torch.optim.SGD = Exploding
    try:
        fc.compute_curvature(
            ds, "label", curvature_field="div", epochs=3, score_every=1,
            schedule="constant", lr=0.01,
            progress=lambda i: i.get("phase") == "epoch" and done.append(1))
    finally:
        torch.optim.SGD = real


def _fail_write(ds):
    import fiftyone_curvature as fc
    import fiftyone_curvature.sdk.fields as fields

    real = fields.write_run_fields

    def broken(*args, **kwargs):
        real(*args, **kwargs)  # half-written: the fields exist
        raise ValueError("simulated failure after writing")

    fields.write_run_fields = broken
    try:
        fc.compute_curvature(ds, "label", curvature_field="halfway",
                             epochs=1, score_every=1, progress=False)
    finally:
        fields.write_run_fields = real


def _fail_rerun(ds):
    import fiftyone_curvature as fc
    import fiftyone_curvature.engine.training as training

    real = training.train_and_track

    def broken(*args, **kwargs):
        raise ValueError("simulated failure while training")

    training.train_and_track = broken
    try:
        fc.compute_curvature(ds, "label", curvature_field="base", epochs=1,
                             score_every=1, progress=False)
    finally:
        training.train_and_track = real


def _locked(ds):
    import fiftyone_curvature as fc
    from fiftyone_curvature.sdk.locks import _collection, release_lock

    _collection().insert_one({"_id": f"{ds._doc.id}:base",
                              "host": "elsewhere", "pid": 1, "token": "t"})
    try:
        fc.compute_curvature(ds, "label", curvature_field="base", epochs=1,
                             progress=False)
    finally:
        release_lock(ds, "base")


def _interrupted(ds):
    from fiftyone_curvature.sdk.info import run_info
    from fiftyone_curvature.sdk.runs import CurvatureConfig

    CurvatureConfig("label", curvature_field="cut",
                    status="running").build().register_run(
        ds, "cut", cleanup=False)
    return run_info(ds, "cut")["status"]


def cli_cases(w):
    from fiftyone_curvature.cli.main import main

    ds = w.ds.name
    base = ["compute", ds, "--label-field", "label", "--no-progress",
            "--epochs", "1", "--key", "k"]
    bad = {
        "no dataset": ["compute", "nope", "--label-field", "label"],
        "no label field": ["compute", ds, "--label-field", "nope"],
        "label field not a classification": ["compute", ds,
                                             "--label-field", "note"],
        "--h inf": base + ["--h", "inf"],
        "--h nan": base + ["--h", "nan"],
        "--h 0": base + ["--h", "0"],
        "--h 1e-30": base + ["--h", "1e-30"],
        "--epochs 0": base + ["--epochs", "0"],
        "--epochs -3": base + ["--epochs", "-3"],
        "--probes 0": base + ["--probes", "0"],
        "--score-every -1": base + ["--score-every", "-1"],
        "--score-from 1": base + ["--score-from", "1"],
        "--model bogus": base + ["--model", "bogus"],
        "--device gpu": base + ["--device", "gpu"],
        "--device cuda:x": base + ["--device", "cuda:x"],
        "--seed -1": base + ["--seed", "-1"],
        "--set width=0": base + ["--set", "width=0"],
        "--set bogus=1": base + ["--set", "bogus=1"],
        "--set no equals": base + ["--set", "width"],
        "--set lr=inf": base + ["--set", "lr=Infinity"],
        "--set weight_decay=NaN": base + ["--set", "weight_decay=NaN"],
        "--set augment_epochs=-1": base + ["--set", "augment_epochs=-1"],
        "--set batch_size=1": base + ["--set", "batch_size=1"],
        "--set epochs=true": base + ["--set", "epochs=true"],
        "--key _x": base + ["--key", "_x"],
        "--key a-b": base + ["--key", "a-b"],
        "--key note": base + ["--key", "note"],
        "--key curvature (user view)": base + ["--key", "curvature"],
        "--image-size 0": base + ["--image-size", "0"],
        "--image-size 100000": ["compute", w.big.name, "--label-field",
                                "label", "--no-progress", "--image-size",
                                "100000", "--key", "huge"],
        "--checkpoint-dir a file": base + ["--checkpoint-dir", __file__],
        "unreadable images": ["compute", w.bad.name, "--label-field",
                              "label", "--no-progress", "--key", "k"],
        "1x1 images": ["compute", w.tiny.name, "--label-field", "label",
                       "--no-progress", "--key", "k"],
        "--json error": base + ["--h", "inf", "--json"],
        "evaluate --noise 2": ["evaluate", ds, "--label-field",
                               "ground_truth", "--noise", "2",
                               "--no-progress"],
        "evaluate --seeds 1 1": ["evaluate", ds, "--label-field",
                                 "ground_truth", "--seeds", "1", "1",
                                 "--no-progress"],
        "evaluate --mapping bad": ["evaluate", ds, "--label-field",
                                   "ground_truth", "--kind", "asymmetric",
                                   "--mapping", "a-b", "--no-progress"],
        "evaluate --duplicates --report": ["evaluate", ds, "--label-field",
                                           "ground_truth", "--duplicates",
                                           "--report", "/tmp/x"],
        "import-reference missing file": ["import-reference", ds,
                                          "/nope.npy", "--field", "r"],
        "import-reference empty npy": ["import-reference", ds,
                                       _empty_npy(w), "--field", "r"],
        "import-reference onto label": ["import-reference", ds,
                                        _empty_npy(w, 60), "--field",
                                        "label"],
        "compare unknown field": ["compare", ds, "--field", "nope",
                                  "--reference-field", "score"],
        "compare --top-k 0": ["compare", ds, "--field", "base",
                              "--reference-field", "score", "--top-k",
                              "0"],
        "compare --top-k -5": ["compare", ds, "--field", "base",
                               "--reference-field", "score", "--top-k",
                               "-5"],
    }
    return [Case(f"cli {k}", lambda a=v: _cli(main, a),
                 owns=["huge", "k", "curvature_eval", "r"])
            for k, v in bad.items()]


def _empty_npy(w, n=0):
    path = os.path.join(w.folder, f"ref{n}.npy")
    np.save(path, np.arange(float(n)))
    return path


class CliFailure(Exception):
    """A CLI run that failed as it should: one line, non-zero exit."""


class CliRaw(Exception):
    """A CLI run that printed a traceback or several error lines."""


def _cli(main, argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as e:  # argparse
            code = e.code
    text = err.getvalue()
    lines = [line for line in text.splitlines()
             if "error:" in line]
    if "Traceback" in text or len(lines) > 1:
        raise CliRaw(text[-400:])
    if code == 0:
        return code
    if "--json" in argv and '"error"' not in out.getvalue():
        raise CliRaw("--json printed no error object")
    raise CliFailure(lines[0] if lines else text.strip()[:200])


def operator_cases(w):
    import fiftyone.operators as foo

    ds = w.ds
    uri = "@fiftyone-curvature/curvature/"

    def op(name, *args, **kwargs):
        if name == "compute_curvature":
            kwargs.setdefault("curvature_field", "k")
        return foo.get_operator(uri + name)(*args, **kwargs)

    def raw(name, params):
        return foo.execute_operator(uri + name, dataset=ds.name,
                                    params=params)

    bad = {
        "compute epochs 2.7": lambda: op("compute_curvature", ds, "label",
                                         epochs=2.7),
        "compute epochs 0": lambda: op("compute_curvature", ds, "label",
                                       epochs=0),
        "compute h 0": lambda: op("compute_curvature", ds, "label", h=0.0),
        "compute h 1e-30": lambda: op("compute_curvature", ds, "label",
                                      h=1e-30),
        "compute image_size 2": lambda: op("compute_curvature", ds, "label",
                                           image_size=2),
        "compute device bogus": lambda: op("compute_curvature", ds,
                                           "label", device="gpu"),
        "compute model bogus": lambda: op("compute_curvature", ds, "label",
                                          model="bogus"),
        "compute label missing": lambda: op("compute_curvature", ds,
                                            "nope"),
        "compute key a user field": lambda: op("compute_curvature", ds,
                                               "label",
                                               curvature_field="note"),
        "compute key with the user's view": lambda: op(
            "compute_curvature", ds, "label", epochs=1,
            curvature_field="curvature"),
        "compute key _x": lambda: op("compute_curvature", ds, "label",
                                     curvature_field="_x"),
        "duplicates method bogus": lambda: op("find_duplicate_conflicts",
                                              ds, "label", method="bogus"),
        "duplicates threshold 5": lambda: op(
            "find_duplicate_conflicts", ds, "label", key="d",
            method="pixels", threshold=5.0),
        "info unknown key": lambda: op("get_curvature_info", ds, "nope"),
        "delete unknown key": lambda: op("delete_curvature_run", ds, "nope"),
        "load view unknown key": lambda: op("load_curvature_view", ds,
                                            "nope"),
        "tag both k and percentile": lambda: op(
            "tag_for_relabel", ds, "base", k=3, percentile=0.5),
        "relabel onto the label field": lambda: op("relabel", ds, "base",
                                                   "label"),
        "evaluate noise 2": lambda: op("evaluate_corruption", ds,
                                       "ground_truth", noise=2.0),
        "raw compute without label field": lambda: _raw_ok(raw(
            "compute_curvature", {"epochs": 1})),
        "raw compute epochs 'x'": lambda: _raw_ok(raw(
            "compute_curvature", {"label_field": "label",
                                  "curvature_field": "opx",
                                  "epochs": "x"})),
    }
    cases = [Case(f"operator {k}", v,
                  owns=["d", "opx", "curvature_eval", "k"])
             for k, v in bad.items()]
    cases.append(Case(
        "operator compute with defaults omitted",
        lambda: raw("compute_curvature", {
            "label_field": "label", "curvature_field": "opok",
            "epochs": 1, "score_every": 1}),
        ACCEPT, owns=["opok"], check=lambda r: r.error is None))
    return cases


def _raw_ok(result):
    """foo.execute_operator returns some failures on the result: clear
    when the result names the error in one line (its ``error_message`` or
    the reason of an invalid input), raw when only a traceback."""
    if not result.error:
        return result
    ctx = result.validation_ctx
    if ctx is not None and ctx.invalid and ctx.errors:
        raise ResultFailure(f"{ctx.errors[0].path}: {ctx.errors[0].reason}")
    if result.error_message and "\n" not in result.error_message.strip():
        raise ResultFailure(result.error_message)
    raise CliRaw(str(result.error)[-300:])


class ResultFailure(ValueError):
    """An operator result that failed with a one-line message."""


# --------------------------------------------------------------------------


def classify(case, world):
    """Runs a case; returns (outcome, detail)."""
    clear = _clear_types()
    owns = case.owns
    before = world.fingerprints(owns)
    value, error = None, None
    try:
        value = case.run()
    except CliFailure as e:
        error = ("clear", str(e))
    except CliRaw as e:
        error = ("raw", str(e))
    except clear as e:
        text = str(e)
        if "\n" in text.strip() or not text.strip():
            error = ("raw", f"{type(e).__name__}: {text[:200]!r}")
        else:
            error = ("clear", f"{type(e).__name__}: {text[:160]}")
    except BaseException as e:  # noqa: the point of the sweep
        if isinstance(e, KeyboardInterrupt):
            raise
        error = ("raw", f"{type(e).__name__}: {str(e)[:160]}")
    from fingerprints import diff

    if case.expect == ACCEPT and error is None:
        try:
            ok = case.check(value) if case.check else True
        except Exception:  # a check that raises: a wrong result
            ok = False
        outcome = ("ok", "accepted") if ok else ("silent", "wrong result")
    elif case.expect == ACCEPT:
        outcome = error if error[0] == "raw" else ("silent",
                                                   f"refused: {error[1]}")
    elif error is None:
        outcome = ("silent", f"accepted: {value!r}"[:160])
    else:
        outcome = error
    after = world.fingerprints(owns)
    problems = [p for b, a in zip(before, after) for p in diff(b, a)]
    problems += world.leftovers(owns)
    # leftovers are reported once, then removed so that they do not count
    # against the next cases
    world.clean(owns + [p.split("run ")[-1].strip("'") for p in problems
                        if ": run " in p])
    if problems:
        return "lost", "; ".join(problems)[:300] + f" [{outcome[1]}]"
    return outcome


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--list", action="store_true",
                        help="print every case and its outcome")
    parser.add_argument("--only", default=None,
                        help="run only cases whose name starts with this")
    parser.add_argument("--exclude", action="append", default=[],
                        help="leave out cases whose name starts with this "
                        "(repeatable; e.g. the memory cases against a "
                        "version without the memory check, which would "
                        "really allocate the memory)")
    args = parser.parse_args(argv)
    import logging
    import tempfile

    logging.disable(logging.WARNING)
    os.environ.setdefault("FIFTYONE_SHOW_PROGRESS_BARS", "false")
    t0 = time.perf_counter()
    folder = tempfile.mkdtemp(prefix="fault-sweep-")
    world = World(folder)
    cases = (config_cases() + engine_cases() + sdk_cases(world)
             + cli_cases(world) + operator_cases(world))
    if args.only:
        cases = [c for c in cases if c.name.startswith(args.only)]
    cases = [c for c in cases
             if not any(c.name.startswith(e) for e in args.exclude)]
    counts = {}
    rows = []
    for case in cases:
        with contextlib.redirect_stdout(io.StringIO()):
            outcome, detail = classify(case, world)
        counts[outcome] = counts.get(outcome, 0) + 1
        rows.append((outcome, case.name, detail))
        if args.list or outcome not in ("clear", "ok"):
            print(f"{outcome:<7} {case.name}: {detail}")
    print(f"\n{len(cases)} cases in {time.perf_counter() - t0:.0f} s: "
          f"{counts.get('clear', 0)} refused with one clear error, "
          f"{counts.get('ok', 0)} tolerable inputs accepted and checked; "
          f"{counts.get('raw', 0)} raw tracebacks / unclear errors, "
          f"{counts.get('silent', 0)} silent wrong results, "
          f"{counts.get('lost', 0)} with lost or orphaned data")
    for d in world.datasets:
        d.delete()
    bad = sum(counts.get(k, 0) for k in ("raw", "silent", "lost"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
