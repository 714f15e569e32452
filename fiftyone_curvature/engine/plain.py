"""Plain data for weights-only torch files: numpy arrays and dataclasses to
tensors and tagged dicts, and back.

``torch.load(weights_only=True)`` reads tensors, numbers, strings, None,
lists, tuples and dicts only. :func:`encode` turns what a run saves (numpy
arrays and scalars, a :class:`~fiftyone_curvature.engine.training.
TrackingResult`, a :class:`~fiftyone_curvature.engine.labels.LabelReview`)
into those; :func:`decode` rebuilds them, instantiating only the dataclass
types the caller allows.
"""

import dataclasses

import numpy as np

_ARRAY = "__ndarray__"
_STRINGS = "__ndarray_str__"
_DATACLASS = "__dataclass__"


def encode(obj, path="state"):
    """``obj`` with numpy arrays as tensors, numpy scalars as Python
    numbers and dataclasses as tagged dicts (recursively).

    Raises:
        TypeError: a value that is none of those nor a tensor, number,
            string, None, list, tuple or dict (named by ``path``)
    """
    import torch  # heavy: only where a .pt file is written

    if isinstance(obj, np.generic):  # before float: np.float64 is one
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str, bytes,
                                       torch.Tensor, torch.dtype,
                                       torch.device)):
        return obj
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "US":
            return {_STRINGS: obj.astype(str).tolist(),
                    "shape": list(obj.shape)}
        if obj.dtype.kind not in "biuf" or obj.dtype.byteorder == ">":
            raise TypeError(f"{path}: a {obj.dtype} array cannot be saved")
        return {_ARRAY: torch.from_numpy(np.ascontiguousarray(obj))}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {_DATACLASS: type(obj).__name__, "fields": {
            f.name: encode(getattr(obj, f.name), f"{path}.{f.name}")
            for f in dataclasses.fields(obj)}}
    if isinstance(obj, dict):
        return {k: encode(v, f"{path}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        out = [encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]
        return out if isinstance(obj, list) else tuple(out)
    raise TypeError(f"{path}: a {type(obj).__name__} cannot be saved in a "
                    "weights-only file")


def decode(obj, types=()):
    """Inverse of :func:`encode`: tagged arrays back to numpy (on the CPU),
    tagged dataclasses back to instances of those of ``types`` (by class
    name).

    Raises:
        ValueError: a dataclass tag that is not one of ``types``
    """
    import torch  # heavy: only where a .pt file is read

    if isinstance(obj, dict):
        if _ARRAY in obj and len(obj) == 1:
            value = obj[_ARRAY]
            return value.detach().cpu().numpy() if isinstance(
                value, torch.Tensor) else np.asarray(value)
        if _STRINGS in obj and set(obj) == {_STRINGS, "shape"}:
            return np.asarray(obj[_STRINGS], dtype=str).reshape(
                obj["shape"])
        if _DATACLASS in obj and set(obj) == {_DATACLASS, "fields"}:
            allowed = {t.__name__: t for t in types}
            cls = allowed.get(obj[_DATACLASS])
            if cls is None:
                raise ValueError(f"Unexpected saved type "
                                 f"{obj[_DATACLASS]!r}; expected one of "
                                 f"{sorted(allowed)}")
            return cls(**{k: decode(v, types)
                          for k, v in obj["fields"].items()})
        return {k: decode(v, types) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode(v, types) for v in obj]
    if isinstance(obj, tuple):
        return tuple(decode(v, types) for v in obj)
    return obj
