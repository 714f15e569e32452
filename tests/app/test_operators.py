"""The plugin's operators through fiftyone.operators.execute_operator."""

import os
import subprocess
import sys

import pytest

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators.delegated import DelegatedOperationService

from fiftyone_curvature.app.operators import OPERATORS

PLUGIN = "@fiftyone-curvature/curvature"
NAMES = ["compute_curvature", "load_curvature_view", "get_curvature_info",
         "delete_curvature_run", "tag_for_relabel", "relabel"]
REPO_ROOT = os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


def _uri(name):
    return f"{PLUGIN}/{name}"


def test_every_operator_is_listed_in_fiftyone_yml():
    # FiftyOne silently skips registered operators/panels that the
    # metadata does not list
    import yaml

    from fiftyone_curvature.app.plugin import register

    with open(os.path.join(REPO_ROOT, "fiftyone.yml")) as f:
        meta = yaml.safe_load(f)
    registered = []

    class _Plugin:
        def register(self, cls):
            registered.append(cls().config.name)

    register(_Plugin())
    listed = meta.get("operators", []) + meta.get("panels", [])
    assert sorted(registered) == sorted(listed)
    assert meta["operators"][: len(NAMES)] == NAMES
    assert [op().config.name for op in OPERATORS] == NAMES


def test_plugin_import_is_light():
    # the App imports every plugin at start-up: no torch, no engine
    code = (
        "import sys, runpy; "
        f"runpy.run_path({os.path.join(REPO_ROOT, '__init__.py')!r}); "
        "heavy = [m for m in ('torch', 'fiftyone_curvature.engine.training', "
        "'fiftyone_curvature.engine.models', "
        "'fiftyone_curvature.engine.curvature') "
        "if m in sys.modules]; print(heavy); sys.exit(1 if heavy else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("plugins_dir", ["copy", "repo_root"])
def test_fiftyone_operators_list(plugins_dir):
    env = dict(os.environ)
    if plugins_dir == "repo_root":
        # the repository root holds a .venv: the walk stops at the root's
        # fiftyone.yml, so no plugin inside the venv is picked up
        env["FIFTYONE_PLUGINS_DIR"] = REPO_ROOT
    exe = os.path.join(os.path.dirname(sys.executable), "fiftyone")
    proc = subprocess.run([exe, "operators", "list"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for name in NAMES:
        assert proc.stdout.count(_uri(name)) == 1, proc.stdout


@pytest.fixture
def digits(make_digits):
    return make_digits(n=80, noise=0.1)


def _compute_params(**extra):
    params = dict(label_field="label", curvature_field="curvature",
                  epochs=2, probes=1)
    params.update(extra)
    return params


def test_compute_immediate_then_info_view_tag_delete(digits):
    result = foo.execute_operator(
        _uri("compute_curvature"), dataset=digits.name,
        params=_compute_params(),
    )
    assert result.error is None, result.error
    assert digits.list_brain_runs() == ["curvature"]
    assert len(digits.exists("curvature")) == 80
    info = digits.get_brain_info("curvature")
    assert info.config.tracking["epochs"] == 2
    assert info.config.tracking["probes"] == 1

    op = foo.get_operator(_uri("get_curvature_info"))
    out = op(digits, "curvature")
    assert out.error is None, out.error
    assert out.result["num_samples"] == 80
    assert out.result["label_field"] == "label"
    assert "curvature_likely_mislabeled" in out.result["views"]

    op = foo.get_operator(_uri("load_curvature_view"))
    out = op(digits, "curvature", view="curvature_long_tail")
    assert out.error is None, out.error
    out = op(digits, "curvature")
    assert out.error is None, out.error

    op = foo.get_operator(_uri("tag_for_relabel"))
    out = op(digits, "curvature", tag="check", k=7)
    assert out.error is None and out.result["tagged"] == 7
    top = digits.sort_by("curvature", reverse=True).limit(7)
    assert set(digits.match_tags("check").values("id")) == set(
        top.values("id"))
    out = op(digits, "curvature", tag="high", percentile=0.9)
    assert out.result["tagged"] == len(
        digits.match(fo.ViewField("curvature_percentile") >= 0.9))

    op = foo.get_operator(_uri("delete_curvature_run"))
    out = op(digits, "curvature")
    assert out.error is None, out.error
    assert digits.list_brain_runs() == []
    assert "curvature" not in digits.get_field_schema()
    assert digits.list_saved_views() == []


def test_compute_call_on_a_view(digits):
    op = foo.get_operator(_uri("compute_curvature"))
    out = op(digits.limit(50), "label", curvature_field="memo", epochs=1,
             probes=1)
    assert out.error is None, out.error
    assert len(digits.exists("memo")) == 50


def test_compute_delegated(digits):
    op = foo.get_operator(_uri("compute_curvature"))
    out = op(digits, "label", epochs=2, probes=1, delegate=True)
    assert out.error is None, out.error
    assert out.delegated
    assert digits.list_brain_runs() == []  # only queued so far
    service = DelegatedOperationService()
    service.execute_queued_operations(dataset_name=digits.name)
    digits.reload()
    assert digits.list_brain_runs() == ["curvature"]
    assert len(digits.exists("curvature")) == 80
    docs = service.list_operations(dataset_name=digits.name)
    assert len(docs) == 1
    doc = docs[0]
    assert doc.run_state == "completed", doc.run_state
    assert doc.status is not None and doc.status.progress > 0.5


@pytest.mark.slow
def test_compute_on_two_processes_is_delegated(digits):
    op = foo.get_operator(_uri("compute_curvature"))
    props = _form(op, digits, label_field="label")
    assert props["num_processes"].default == 1
    out = op(digits, "label", curvature_field="dp", epochs=1, probes=1,
             device="cpu", num_processes=2)
    assert out.error is None, out.error
    assert out.delegated  # forced: the ranks never run inside the App
    DelegatedOperationService().execute_queued_operations(
        dataset_name=digits.name)
    digits.reload()
    assert digits.list_brain_runs() == ["dp"]
    assert len(digits.exists("dp")) == 80


def test_form_validates_the_key(digits):
    digits.add_sample_field("taken", fo.FloatField)
    from fiftyone.operators.executor import ExecutionError

    with pytest.raises(ExecutionError, match="Fields \\['taken'\\] exist"):
        foo.execute_operator(
            _uri("compute_curvature"), dataset=digits.name,
            params=_compute_params(curvature_field="taken"),
        )
    assert digits.list_brain_runs() == []


def _form(operator, dataset, **params):
    ctx = foo.ExecutionContext(request_params=dict(
        dataset_name=dataset.name, params=params))
    return operator.resolve_input(ctx).type.properties


def test_forms_share_defaults_with_the_engine(digits):
    from fiftyone_curvature.engine.config import TrackingConfig
    from fiftyone_curvature.app.evaluation_operator import EvaluateCorruption

    defaults = TrackingConfig()
    compute = _form(OPERATORS[0](), digits, label_field="ground_truth")
    evaluate = _form(EvaluateCorruption(), digits, label_field="ground_truth")
    for props in (compute, evaluate):
        for name in ("epochs", "probes", "h"):
            assert props[name].default == getattr(defaults, name), name
        # empty = the engine's "model" schedule (the SDK's default)
        assert defaults.score_every == "model"
        assert props["score_every"].default is None
        assert props["label_field"].required
    assert "seed" in compute and "seed" not in evaluate


def test_forms_mark_a_taken_key_invalid(digits):
    from fiftyone_curvature.app.evaluation_operator import EvaluateCorruption

    digits.add_sample_field("taken", fo.FloatField)
    for operator, name in ((OPERATORS[0](), "curvature_field"),
                           (EvaluateCorruption(), "key")):
        props = _form(operator, digits, label_field="ground_truth",
                      **{name: "taken"})
        assert props[name].invalid
        assert "were not written by" in props[name].error_message
        props = _form(operator, digits, label_field="ground_truth",
                      **{name: "not an identifier"})
        assert "identifier" in props[name].error_message
    digits.delete_sample_field("taken")


def test_forms_without_a_classification_field_say_so():
    from fiftyone_curvature.app.evaluation_operator import EvaluateCorruption

    dataset = fo.Dataset()
    dataset.add_sample(fo.Sample(filepath="/nonexistent.png"))
    try:
        for operator in (OPERATORS[0](), EvaluateCorruption()):
            props = _form(operator, dataset)
            assert props["no_labels"].invalid
            assert "label_field" not in props
    finally:
        dataset.delete()
