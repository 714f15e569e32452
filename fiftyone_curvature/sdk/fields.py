"""Per-sample fields of a run: bulk write-back into a FiftyOne dataset.

``Dataset.set_values`` issues one database update per sample *per field*; a
curvature run writes fourteen fields, so for 50,000 samples that is 700,000
updates. :func:`write_columns` declares the fields through the public schema
API, then sends one update per sample that sets every column at once,
through the same collection ``set_values`` writes to, and refreshes
in-memory samples the way it does.

For speed (50,000 samples of a 30-epoch run: 9.1 s before, see the README)
the updates are built in chunks and each chunk is sent by a small thread
pool while the next one is built, so that Python building documents and
mongod applying them overlap; column values are converted by numpy, not
per element.
"""

import dataclasses
import io
import math
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import numpy as np

import fiftyone as fo
import fiftyone.core.sample as fos
from bson import ObjectId
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError

from ..engine.dynamics import SCORES
from ..engine.labels import percentile_rank as percentile_ranks


@dataclasses.dataclass
class Column:
    """One sample field to write.

    Attributes:
        field: the sample field's name
        values: one database-ready value per sample id (float / int / bool
            / None, list of floats, or an embedded-document dict from
            :func:`classification_docs`)
        field_type: the ``fiftyone.core.fields`` class to declare
        description: the field's description, shown in the App
        field_kwargs: other ``add_sample_field`` keywords (``subfield``,
            ``embedded_doc_type``)
    """

    field: str
    values: list
    field_type: type
    description: str
    field_kwargs: dict = dataclasses.field(default_factory=dict)


#: samples per bulk write sent by one thread
CHUNK = 2000
#: threads sending bulk writes while the next chunk is built
WRITERS = 2


def finite_or_none(values):
    """(N,) numbers -> list of N Python floats, NaN / inf -> None."""
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1:
        return [float(v) if math.isfinite(v) else None for v in values]
    out = a.tolist()
    for i in np.flatnonzero(~np.isfinite(a)).tolist():
        out[i] = None
    return out


def finite_rows(matrix):
    """(N, E) numbers -> N lists of E Python floats, NaN / inf -> None."""
    a = np.asarray(matrix, dtype=np.float64)
    rows = a.tolist()
    for i, j in zip(*np.nonzero(~np.isfinite(a))):
        rows[i][j] = None
    return rows


def classification_docs(classes, predictions, confidences, logits=None):
    """Database documents of ``fo.Classification`` labels, built directly.

    Args:
        classes: list of K class names
        predictions: (N,) predicted class indices
        confidences: (N,) confidence of each prediction
        logits (None): optional (N, K) logits, stored the way FiftyOne's
            VectorField stores arrays

    Returns:
        a list of N dicts that load back as ``fo.Classification``
    """

    logit_bytes = None if logits is None else serialized_rows(logits)
    docs = []
    confidences = np.asarray(confidences, dtype=np.float64).tolist()
    for i, p in enumerate(np.asarray(predictions).tolist()):
        doc = {
            "_id": ObjectId(),
            "_cls": "Classification",
            "tags": [],
            "label": classes[p],
            "confidence": confidences[i],
        }
        if logit_bytes is not None:
            doc["logits"] = logit_bytes[i]
        docs.append(doc)
    return docs


def serialized_rows(array):
    """(N, K) array -> N byte strings, each the row as FiftyOne's
    VectorField stores it (``fiftyone.core.utils.serialize_numpy_array``:
    zlib-compressed ``numpy.save`` output, float64), ten times faster by
    writing the ``.npy`` header once."""
    rows = np.ascontiguousarray(array, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError(f"Expected an (N, K) array, got shape {rows.shape}")
    if not len(rows):
        return []
    with io.BytesIO() as f:
        np.save(f, rows[0], allow_pickle=False)
        header = f.getvalue()[: -rows[0].nbytes]
    return [zlib.compress(header + row.tobytes()) for row in rows]


def write_columns(dataset, sample_ids, columns):
    """Writes ``columns`` for the samples ``sample_ids`` of ``dataset``.

    Missing fields are declared first (with their descriptions); existing
    fields keep their declaration. Samples not in ``sample_ids`` are not
    touched.

    Args:
        dataset: a ``fo.Dataset``
        sample_ids: list of N sample id strings
        columns: list of :class:`Column`, each with N values
    """


    n = len(sample_ids)
    for c in columns:
        if len(c.values) != n:
            raise ValueError(f"Column {c.field!r} has {len(c.values)} "
                             f"values for {n} samples")
    schema = dataset.get_field_schema()
    for c in columns:
        if c.field not in schema:
            dataset.add_sample_field(c.field, c.field_type,
                                     description=c.description,
                                     **c.field_kwargs)
    if not n:
        return
    now = datetime.utcnow()
    names = [c.field for c in columns] + ["last_modified_at"]
    # private: FiftyOne has no public bulk write of several fields per
    # sample (set_values sends one update per sample per field); this is
    # the collection set_values itself writes to (see the module docstring)
    coll = dataset._sample_collection

    def chunk_ops(start):
        stop = min(start + CHUNK, n)
        values = [c.values[start:stop] for c in columns]
        values.append([now] * (stop - start))
        return [UpdateOne({"_id": ObjectId(sample_id)},
                          {"$set": dict(zip(names, row))})
                for sample_id, row in zip(sample_ids[start:stop],
                                          zip(*values))]

    _pipelined_bulk_write(coll, chunk_ops, range(0, n, CHUNK), WRITERS)
    _reload_samples(dataset, sample_ids)


def _pipelined_bulk_write(coll, chunk_ops, starts, writers):
    """Sends ``chunk_ops(start)`` for each start as one unordered bulk
    write, from ``writers`` threads (0: in this thread), building the next
    chunk while earlier ones are written."""


    def send(ops):
        try:
            coll.bulk_write(ops, ordered=False)
        except BulkWriteError as e:
            raise ValueError(e.details["writeErrors"][0]["errmsg"]) from e

    if not writers:
        for start in starts:
            send(chunk_ops(start))
        return
    with ThreadPoolExecutor(writers) as pool:
        pending = [pool.submit(send, chunk_ops(start)) for start in starts]
        for future in pending:
            future.result()


def _reload_samples(dataset, sample_ids):
    """Refreshes in-memory ``fo.Sample`` objects of the written samples
    (what ``Dataset._bulk_write`` does after writing)."""

    # private: the refresh Dataset._bulk_write does after a raw write; no
    # public API reloads in-memory samples by id
    fos.Sample._reload_docs(dataset._sample_collection_name,
                            sample_ids=list(sample_ids))


def ranking_score(result, rank_by="curvature"):
    """(N,) the score ``rank_by`` of an engine result oriented higher =
    more likely memorized (curvature, or a training-dynamics score of
    :data:`SCORES` with its direction applied)."""
    from ..engine.dynamics import suspicion

    if rank_by == "curvature":
        return np.asarray(result.curvature, dtype=np.float64)
    return suspicion(rank_by, result.scores[rank_by])


def write_run_fields(dataset, key, prepared, result, rank_by="curvature",
                     shown_key=None):
    """Writes every per-sample field of a curvature run in one bulk write.

    Args:
        dataset: the ``fo.Dataset``
        key: the run key (the curvature field)
        prepared: the :class:`fiftyone_curvature.sdk.images.PreparedData`
            trained on (sample ids and classes)
        result: the engine's
            :class:`fiftyone_curvature.engine.training.TrackingResult`
        rank_by ("curvature"): the score ``key_memorization`` ranks
        shown_key (None): the key the descriptions name (None: ``key``;
            a rerun writes under a pending key renamed at the end)
    """

    shown_key = shown_key or key
    columns = [
        Column(key, finite_or_none(result.curvature), fo.FloatField,
               "mean finite-difference input-loss curvature over the scored "
               "epochs; higher = more likely memorized"),
        Column(f"{key}_epochs",
               finite_rows(result.curvature_epochs),
               fo.ListField,
               f"curvature at each scored epoch {result.scored_epochs}",
               {"subfield": fo.FloatField}),
        Column(f"{key}_percentile",
               np.asarray(percentile_ranks(result.curvature),
                          dtype=np.float64).tolist(),
               fo.FloatField,
               f"rank of {shown_key} among the run's samples in [0, 1]; "
               "1 = highest"),
    ]
    preds = result.predictions
    columns.append(Column(
        f"{key}_prediction",
        classification_docs(
            prepared.classes, preds,
            result.probabilities[np.arange(len(preds)), preds],
            result.logits),
        fo.EmbeddedDocumentField,
        "prediction of the final network (eval mode)",
        {"embedded_doc_type": fo.Classification}))
    review = result.label_review
    columns.append(Column(
        f"{key}_suggested_label",
        classification_docs(prepared.classes, review.suggested,
                            review.confidence),
        fo.EmbeddedDocumentField,
        "what the network predicted before it memorized: the class of "
        f"highest mean training probability over epochs 1-{review.window} "
        "(confidence = that mean probability)",
        {"embedded_doc_type": fo.Classification}))
    columns.append(Column(
        f"{key}_memorization",
        np.asarray(percentile_ranks(ranking_score(result, rank_by)),
                   dtype=np.float64).tolist(),
        fo.FloatField,
        f"rank of {rank_by} among the run's samples in [0, 1]; 1 = most "
        "memorized (the saved views rank by it)"))
    for name, (higher, description) in SCORES.items():
        direction = ("higher = more suspicious" if higher
                     else "LOWER = more suspicious")
        columns.append(Column(f"{key}_{name}",
                              finite_or_none(result.scores[name]),
                              fo.FloatField, f"{description} ({direction})"))
    write_columns(dataset, prepared.sample_ids, columns)
