"""Operators: omitted parameters with defaults are not "Required", errors
are one clear line, float epochs are refused, unknown methods named."""

import pytest

import fiftyone.operators as foo

from fingerprints import unchanged

PLUGIN = "@fiftyone-curvature/curvature"


def _operator_error():
    from fiftyone_curvature.app.base import OperatorError

    return OperatorError


def _op(name):
    return foo.get_operator(f"{PLUGIN}/{name}")


def _one_line_error(call, *expected):
    """Runs ``call()``, which must fail with an operator error of one line
    (no traceback) holding every ``expected`` text; returns the error."""
    with pytest.raises(_operator_error()) as info:
        call()
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message, message
    for text in expected:
        assert text in message, message
    return info.value


def test_omitted_parameters_with_defaults_are_not_required(digits):
    result = foo.execute_operator(
        f"{PLUGIN}/compute_curvature", dataset=digits.name,
        params={"label_field": "label", "epochs": 1, "score_every": 1},
    )
    assert result.error is None, result.error
    assert digits.list_brain_runs() == ["curvature"]  # the default key


def test_float_epochs_are_refused_not_truncated(digits):
    with unchanged(digits):
        _one_line_error(
            lambda: _op("compute_curvature")(digits, "label", epochs=2.7),
            "epochs must be a whole number, got 2.7")
    assert digits.list_brain_runs() == []


def test_an_sdk_error_arrives_as_its_own_line(digits):
    digits.save_view("curvature_long_tail", digits.limit(2))
    with unchanged(digits):
        error = _one_line_error(
            lambda: _op("compute_curvature")(digits, "label", epochs=1),
            "curvature_long_tail")
    assert error.traceback  # kept for whoever wants it


def test_unknown_duplicate_method_is_named(digits):
    with unchanged(digits):
        error = _one_line_error(
            lambda: _op("find_duplicate_conflicts")(digits, "label",
                                                    method="bogus"),
            "method", "bogus")
    assert "KeyError" not in str(error)


def test_info_and_delete_of_an_unknown_key_are_one_line(digits):
    for name in ("get_curvature_info", "delete_curvature_run"):
        # no run at all: the form says so
        _one_line_error(lambda: _op(name)(digits, "nope"),
                        "has no curvature runs: run compute_curvature")
    _op("compute_curvature")(digits, "label", epochs=1, score_every=1)
    for name in ("get_curvature_info", "delete_curvature_run"):
        _one_line_error(lambda: _op(name)(digits, "nope"),
                        "No curvature run 'nope'", "its runs: curvature")


def test_delete_is_refused_while_another_process_computes(digits):
    from fiftyone_curvature.sdk.locks import _collection, release_lock

    _op("compute_curvature")(digits, "label", epochs=1, score_every=1)
    _collection().insert_one({
        "_id": f"{digits._doc.id}:curvature", "host": "gpu-box-7",
        "pid": 4242, "token": "t"})
    try:
        with unchanged(digits, runs=["curvature"]):
            _one_line_error(
                lambda: _op("delete_curvature_run")(digits, "curvature"),
                "Cannot delete run 'curvature'",
                "process 4242 on host gpu-box-7")
    finally:
        release_lock(digits, "curvature")
    _op("delete_curvature_run")(digits, "curvature")
    assert digits.list_brain_runs() == []
    assert "curvature" not in digits.get_field_schema()
