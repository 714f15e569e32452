"""Reference memorization scores: import per-sample arrays, compare fields."""

import csv
import math
import os

import numpy as np
from scipy.stats import pearsonr, spearmanr

import fiftyone as fo

from ..engine import validation
from . import field_owners
from .fields import finite_or_none

#: file suffixes :func:`import_reference` reads
FORMATS = (".npy", ".npz", ".csv")


# --------------------------------------------------------------------------
# comparison


def similarity(a, b):
    """Cosine, Pearson and Spearman of two score vectors.

    Cosine is taken on the raw values (not centred), as the curvature paper
    compares with Feldman & Zhang memorization estimates (both
    non-negative).

    Args:
        a: (N,) float
        b: (N,) float

    Returns:
        a dict with ``cosine``, ``pearson``, ``spearman`` (None where
        undefined, e.g. a constant vector) and ``n``
    """

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    out = {"n": int(len(a)), "cosine": None, "pearson": None,
           "spearman": None}
    if len(a) == 0:
        return out
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    if norm > 0:
        out["cosine"] = float(a @ b / norm)
    if len(a) >= 2 and np.ptp(a) > 0 and np.ptp(b) > 0:
        out["pearson"] = float(pearsonr(a, b)[0])
        out["spearman"] = float(spearmanr(a, b)[0])
    return out


def _resolve_top_k(top_k, n):
    if top_k is None:
        return max(1, int(round(0.1 * n)))
    top_k = validation.count_or_fraction("top_k", top_k)
    if isinstance(top_k, float):
        return max(1, int(round(top_k * n)))
    return min(top_k, n)


def compare_scores(samples, field, reference_field, top_k=None):
    """Compares a score field with a reference score field, the paper's
    check of curvature against Feldman & Zhang memorization estimates.

    Samples where either field is missing or not finite are left out (and
    counted).

    Args:
        samples: a FiftyOne collection
        field: a numeric field, e.g. ``"curvature"``
        reference_field: the numeric reference field, e.g. ``"fz_mem"``
            (see :func:`import_reference`)
        top_k (None): size of the "top" subset, chosen by the REFERENCE
            (highest first): an int, a fraction in (0, 1), or None for 10%
            of the samples (the paper: top 5,000 of 50,000)

    Returns:
        a dict with ``n`` (samples compared), ``missing`` (left out),
        ``overall`` and ``top_k`` (each ``{"cosine", "pearson",
        "spearman", "n"}``; ``top_k`` also has ``k``)

    Raises:
        ValueError: a field that does not exist or is not numeric, no
            sample with both values, or an invalid ``top_k``
    """
    validation.optional(validation.count_or_fraction, "top_k", top_k)
    _check_numeric(samples, field)
    _check_numeric(samples, reference_field)
    a, b = samples.values([field, reference_field])
    a = np.array([np.nan if v is None else v for v in a], dtype=np.float64)
    b = np.array([np.nan if v is None else v for v in b], dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    n = int(ok.sum())
    if n == 0:
        raise ValueError(
            f"No sample has finite values of both {field!r} and "
            f"{reference_field!r}"
        )
    a, b = a[ok], b[ok]
    k = _resolve_top_k(top_k, n)
    top = np.argsort(-b, kind="stable")[:k]
    top_stats = similarity(a[top], b[top])
    top_stats["k"] = k
    return {
        "field": field,
        "reference_field": reference_field,
        "n": n,
        "missing": int(len(ok) - n),
        "overall": similarity(a, b),
        "top_k": top_stats,
    }


def _check_numeric(samples, field):

    schema = samples.get_field_schema()
    if field not in schema:
        numeric = sorted(
            name for name, f in schema.items()
            if isinstance(f, (fo.FloatField, fo.IntField))
        )
        raise ValueError(
            f"The collection has no field {field!r}; its numeric fields are "
            f"{numeric}"
        )
    if not isinstance(schema[field], (fo.FloatField, fo.IntField)):
        raise ValueError(
            f"Field {field!r} is a {type(schema[field]).__name__}, not a "
            "numeric field"
        )


# --------------------------------------------------------------------------
# import


def read_reference(path, key=None, column=None, index_column=None,
                   filename_column=None):
    """Reads a per-sample reference array from disk.

    Args:
        path: a ``.npy`` file (a 1-D array), a ``.npz`` file (``key`` names
            the array; may be omitted when the file holds one array) or a
            ``.csv`` file with a header row
        key (None): the ``.npz`` array name
        column (None): the CSV value column (None: the only column that is
            not the index / filename column)
        index_column (None): CSV column of 0-based positions in the
            collection's order
        filename_column (None): CSV column of image file names (basenames)
            or full file paths

    Returns:
        a dict with ``values`` (M,) float64 and, for CSVs, ``index`` (M,)
        int or ``filenames`` (M,) str when such a column was given

    Raises:
        ValueError: an unknown format, a missing or ambiguous key/column,
            a non-numeric value, or an array that is not 1-D
        FileNotFoundError: no such file
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"No reference file {path!r}")
    suffix = os.path.splitext(path)[1].lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"Unknown reference format {suffix!r}; valid ones are {FORMATS}"
        )
    if suffix in (".npy", ".npz"):
        if column or index_column or filename_column:
            raise ValueError("column, index_column and filename_column are "
                             "for CSV files")
        return {"values": _read_array(path, suffix, key)}
    if key is not None:
        raise ValueError("key is for .npz files; use column for a CSV")
    return _read_csv(path, column, index_column, filename_column)


def _read_array(path, suffix, key):
    if suffix == ".npy":
        if key is not None:
            raise ValueError("key is for .npz files")
        values = np.load(path, allow_pickle=False)
    else:
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
            if key is None:
                if len(names) != 1:
                    raise ValueError(
                        f"{path} holds arrays {names}; pass key=... to "
                        "choose one"
                    )
                key = names[0]
            if key not in names:
                raise ValueError(
                    f"{path} has no array {key!r}; its arrays are {names}"
                )
            values = archive[key]
    values = np.asarray(values)
    if values.ndim != 1:
        values = np.squeeze(values)
    if values.ndim != 1:
        raise ValueError(
            f"The reference must be a 1-D array of per-sample values, got "
            f"shape {values.shape}"
        )
    if not np.issubdtype(values.dtype, np.number):
        raise ValueError(f"The reference array holds {values.dtype}, not "
                         "numbers")
    return values.astype(np.float64)


def _read_csv(path, column, index_column, filename_column):
    if index_column and filename_column:
        raise ValueError("Pass index_column or filename_column, not both")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        header = list(reader.fieldnames or [])
        rows = list(reader)
    if not header:
        raise ValueError(f"{path} has no header row")
    for name in (index_column, filename_column):
        if name and name not in header:
            raise ValueError(
                f"{path} has no column {name!r}; its columns are {header}"
            )
    if column is None:
        rest = [h for h in header if h not in (index_column,
                                              filename_column)]
        if len(rest) != 1:
            raise ValueError(
                f"{path} has columns {header}; pass column=... to choose "
                "the values"
            )
        column = rest[0]
    elif column not in header:
        raise ValueError(
            f"{path} has no column {column!r}; its columns are {header}"
        )
    out = {"values": np.array(
        [_to_float(r[column], path, i, column) for i, r in enumerate(rows)],
        dtype=np.float64,
    )}
    if index_column:
        index = []
        for i, r in enumerate(rows):
            v = _to_float(r[index_column], path, i, index_column)
            if not (math.isfinite(v) and v == int(v)):
                raise ValueError(
                    f"{path} row {i + 2}: index {r[index_column]!r} is not "
                    "an integer"
                )
            index.append(int(v))
        out["index"] = np.array(index, dtype=np.int64)
    if filename_column:
        out["filenames"] = [r[filename_column] for r in rows]
    return out


def _to_float(text, path, i, column):
    text = (text or "").strip()
    if text == "" or text.lower() in ("nan", "none", "null"):
        return float("nan")
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"{path} row {i + 2}, column {column!r}: {text!r} is not a "
            "number"
        ) from None


def import_reference(
    samples,
    path,
    field,
    key=None,
    column=None,
    index_column=None,
    filename_column=None,
    labels=None,
    label_field=None,
    classes=None,
    overwrite=False,
):
    """Writes a per-sample reference score array (e.g. Feldman & Zhang
    memorization estimates) into a float field.

    Alignment:

    - ``.npy`` / ``.npz`` and CSVs without an index or filename column:
      value i goes to the i-th sample of ``samples`` in its current order;
      the lengths must match. An order mismatch cannot be seen from values
      alone: pass ``labels`` (or, for an .npz, the name of its label array,
      e.g. ``"tr_labels"``) and ``label_field`` to check that the file's
      labels agree with the collection's, position by position.
    - CSV with ``index_column``: 0-based positions in the collection order.
    - CSV with ``filename_column``: matched to each sample's file name
      (basename), or to its full filepath when the column holds paths.

    Args:
        samples: a FiftyOne collection
        path: a .npy, .npz or .csv file, see :func:`read_reference`
        field: the float field to write
        key (None): the .npz array of values
        column (None): the CSV value column
        index_column (None): the CSV position column
        filename_column (None): the CSV file name column
        labels (None): an (N,) array of labels in the file's order, or for
            an .npz the name of such an array; ints are class indices into
            ``classes``
        label_field (None): the collection's fo.Classification field to
            compare ``labels`` with
        classes (None): class names for integer labels (None: the sorted
            distinct labels of ``label_field``)
        overwrite (False): replace ``field`` when an earlier
            import_reference created that very field (recorded by identity,
            see :mod:`fiftyone_curvature.sdk.field_owners`); a field of the
            user or of a run is never written into

    Returns:
        the number of samples that received a finite value

    Raises:
        ValueError: length mismatch, labels out of order, unknown or
            duplicate file names or indices, a field that exists, no
            finite value, or a malformed file
        FileNotFoundError: no such file
    """

    if not isinstance(field, str) or not field.isidentifier():
        raise ValueError(f"field must be a valid identifier, got {field!r}")
    dataset = samples._root_dataset
    schema = dataset.get_field_schema()
    field_owners.check_replaceable(dataset, field, "import_reference",
                                   overwrite)
    if field in schema:
        if not isinstance(schema[field], fo.FloatField):
            raise ValueError(
                f"Field {field!r} is a {type(schema[field]).__name__}; "
                "choose another name"
            )
    if (labels is None) != (label_field is None):
        raise ValueError("labels and label_field go together")
    data = read_reference(path, key=key, column=column,
                          index_column=index_column,
                          filename_column=filename_column)
    ids, filepaths = samples.values(["id", "filepath"])
    n = len(ids)
    values = data["values"]
    if "index" in data:
        aligned = _align_by_index(data["index"], values, n, path)
    elif "filenames" in data:
        aligned = _align_by_filename(data["filenames"], values, filepaths,
                                     path)
    else:
        if len(values) != n:
            raise ValueError(
                f"{path} has {len(values)} values but the collection has "
                f"{n} samples; the i-th value must belong to the i-th "
                "sample (use a CSV with an index or filename column to "
                "import a subset)"
            )
        aligned = values
    if labels is not None:
        if isinstance(labels, str):
            if not path.lower().endswith(".npz"):
                raise ValueError("labels by name only for .npz files")
            labels = _read_array_raw(path, labels)
        _check_labels(samples, label_field, labels, classes, path,
                      data, n)
    if not np.isfinite(np.asarray(aligned, dtype=np.float64)).any():
        raise ValueError(f"{path} holds no finite value (all NaN or inf); "
                         "nothing was written")
    if field not in schema:
        dataset.add_sample_field(
            field, fo.FloatField,
            description=f"reference score imported from "
            f"{os.path.basename(path)}",
        )
        field_owners.record(dataset, field, "import_reference")
    dataset.set_values(
        field,
        dict(zip(ids, finite_or_none(aligned))),
        key_field="id",
    )
    return int(np.isfinite(aligned).sum())


def _align_by_index(index, values, n, path):
    bad = index[(index < 0) | (index >= n)]
    if len(bad):
        raise ValueError(
            f"{path}: indices {bad[:5].tolist()} are outside [0, {n}) of "
            "the collection"
        )
    unique, counts = np.unique(index, return_counts=True)
    if (counts > 1).any():
        raise ValueError(
            f"{path}: indices {unique[counts > 1][:5].tolist()} appear more "
            "than once"
        )
    aligned = np.full(n, np.nan)
    aligned[index] = values
    return aligned


def _align_by_filename(names, values, filepaths, path):
    full = any(os.sep in name or "/" in name for name in names)
    keys = (list(filepaths) if full
            else [os.path.basename(p) for p in filepaths])
    position = {}
    duplicates = set()
    for i, k in enumerate(keys):
        if k in position:
            duplicates.add(k)
        position[k] = i
    used = [name for name in names if name in duplicates]
    if used:
        raise ValueError(
            f"{path}: file names {used[:5]} match several samples; use full "
            "file paths in the filename column"
        )
    unknown = [name for name in names if name not in position]
    if unknown:
        raise ValueError(
            f"{path}: {len(unknown)} of {len(names)} file names are not in "
            f"the collection, e.g. {unknown[:3]}"
        )
    seen = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    repeated = [name for name, c in seen.items() if c > 1]
    if repeated:
        raise ValueError(
            f"{path}: file names {repeated[:5]} appear more than once"
        )
    aligned = np.full(len(keys), np.nan)
    for name, v in zip(names, values):
        aligned[position[name]] = v
    return aligned


def _read_array_raw(path, key):
    with np.load(path, allow_pickle=False) as archive:
        if key not in archive.files:
            raise ValueError(
                f"{path} has no array {key!r}; its arrays are "
                f"{list(archive.files)}"
            )
        return np.asarray(archive[key])


def _check_labels(samples, label_field, labels, classes, path, data, n):
    from .images import get_classes, validate_label_field

    validate_label_field(samples, label_field)
    labels = np.asarray(labels).reshape(-1)
    expected = len(data["values"])
    if len(labels) != expected:
        raise ValueError(
            f"The labels have {len(labels)} entries but {path} has "
            f"{expected} values"
        )
    ours = samples.values(f"{label_field}.label")
    if "index" in data or "filenames" in data:
        raise ValueError("labels are checked only for position-aligned "
                         "files; an index or filename column aligns by "
                         "itself")
    if np.issubdtype(labels.dtype, np.integer):
        names = get_classes(samples, label_field, classes)
        bad = labels[(labels < 0) | (labels >= len(names))]
        if len(bad):
            raise ValueError(
                f"Labels {bad[:5].tolist()} are outside the {len(names)} "
                "classes"
            )
        labels = [names[int(i)] for i in labels]
    else:
        labels = [str(v) for v in labels]
    wrong = [i for i in range(n) if labels[i] != ours[i]]
    if wrong:
        raise ValueError(
            f"The labels of {path} disagree with {label_field!r} at "
            f"{len(wrong)} of {n} positions (first at {wrong[:5]}): the "
            "file is not in the collection's order (sort the collection, "
            "e.g. samples.sort_by('filepath'), or use a CSV with a "
            "filename column)"
        )
