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


def test_omitted_parameters_with_defaults_are_not_required(digits):
    result = foo.execute_operator(
        f"{PLUGIN}/compute_curvature", dataset=digits.name,
        params={"label_field": "label", "epochs": 1, "score_every": 1},
    )
    assert result.error is None, result.error
    assert digits.list_brain_runs() == ["curvature"]  # the default key


def test_float_epochs_are_refused_not_truncated(digits):
    with unchanged(digits):
        with pytest.raises(_operator_error()) as info:
            _op("compute_curvature")(digits, "label", epochs=2.7)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert "epochs must be a whole number, got 2.7" in message
    assert digits.list_brain_runs() == []


def test_an_sdk_error_arrives_as_its_own_line(digits):
    digits.save_view("curvature_long_tail", digits.limit(2))
    with unchanged(digits):
        with pytest.raises(_operator_error()) as info:
            _op("compute_curvature")(digits, "label", epochs=1)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    assert "curvature_long_tail" in message
    assert info.value.traceback  # kept for whoever wants it


def test_unknown_duplicate_method_is_named(digits):
    with unchanged(digits):
        with pytest.raises(_operator_error()) as info:
            _op("find_duplicate_conflicts")(digits, "label", method="bogus")
    message = str(info.value)
    assert "method" in message and "bogus" in message
    assert "KeyError" not in message and "\n" not in message


def test_info_and_delete_of_an_unknown_key_are_one_line(digits):
    for name in ("get_curvature_info", "delete_curvature_run"):
        with pytest.raises(_operator_error()) as info:
            _op(name)(digits, "nope")
        assert "\n" not in str(info.value)


def test_delete_is_refused_while_another_process_computes(digits):
    from fiftyone_curvature.sdk.locks import _collection, release_lock

    _op("compute_curvature")(digits, "label", epochs=1, score_every=1)
    _collection().insert_one({
        "_id": f"{digits._doc.id}:curvature", "host": "gpu-box-7",
        "pid": 4242, "token": "t"})
    try:
        with unchanged(digits, runs=["curvature"]):
            with pytest.raises(_operator_error()) as info:
                _op("delete_curvature_run")(digits, "curvature")
        message = str(info.value)
        assert "\n" not in message
        assert "Cannot delete run 'curvature'" in message
        assert "process 4242 on host gpu-box-7" in message
    finally:
        release_lock(digits, "curvature")
    _op("delete_curvature_run")(digits, "curvature")
    assert digits.list_brain_runs() == []
    assert "curvature" not in digits.get_field_schema()
