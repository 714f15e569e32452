"""Per-sample fields of a run: bulk write-back into a FiftyOne dataset.

``Dataset.set_values`` issues one database update per sample *per field*; a
curvature run writes fourteen fields, so for 50,000 samples that is 700,000
updates. :func:`write_columns` declares the fields through the public schema
API, then sends one update per sample that sets every column at once,
through the same bulk-write path ``set_values`` uses (which also refreshes
in-memory samples).
"""

import dataclasses
import io
import math
import zlib

import numpy as np

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


def finite_or_none(values):
    """(N,) numbers -> list of N Python floats, NaN / inf -> None."""
    return [float(v) if math.isfinite(v) else None for v in values]


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
    from bson import ObjectId

    logit_bytes = None if logits is None else serialized_rows(logits)
    docs = []
    for i, p in enumerate(np.asarray(predictions)):
        doc = {
            "_id": ObjectId(),
            "_cls": "Classification",
            "tags": [],
            "label": classes[int(p)],
            "confidence": float(confidences[i]),
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
    from datetime import datetime

    from bson import ObjectId
    from pymongo import UpdateOne

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
    names = [c.field for c in columns]
    ops = []
    for sample_id, row in zip(sample_ids,
                              zip(*(c.values for c in columns))):
        update = dict(zip(names, row))
        update["last_modified_at"] = now
        ops.append(UpdateOne({"_id": ObjectId(sample_id)}, {"$set": update}))
    dataset._bulk_write(ops, ids=list(sample_ids))


def ranking_score(result, rank_by="curvature"):
    """(N,) the score ``rank_by`` of an engine result oriented higher =
    more likely memorized (curvature, or a training-dynamics score of
    :data:`SCORES` with its direction applied)."""
    from ..engine.dynamics import suspicion

    if rank_by == "curvature":
        return np.asarray(result.curvature, dtype=np.float64)
    return suspicion(rank_by, result.scores[rank_by])


def write_run_fields(dataset, key, prepared, result, rank_by="curvature"):
    """Writes every per-sample field of a curvature run in one bulk write.

    Args:
        dataset: the ``fo.Dataset``
        key: the run key (the curvature field)
        prepared: the :class:`fiftyone_curvature.sdk.images.PreparedData`
            trained on (sample ids and classes)
        result: the engine's
            :class:`fiftyone_curvature.engine.training.TrackingResult`
        rank_by ("curvature"): the score ``key_memorization`` ranks
    """
    import fiftyone as fo

    columns = [
        Column(key, finite_or_none(result.curvature), fo.FloatField,
               "mean finite-difference input-loss curvature over the scored "
               "epochs; higher = more likely memorized"),
        Column(f"{key}_epochs",
               [finite_or_none(row)
                for row in result.curvature_epochs.astype(np.float64)],
               fo.ListField,
               f"curvature at each scored epoch {result.scored_epochs}",
               {"subfield": fo.FloatField}),
        Column(f"{key}_percentile",
               [float(v) for v in percentile_ranks(result.curvature)],
               fo.FloatField,
               f"rank of {key} among the run's samples in [0, 1]; "
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
        [float(v) for v in percentile_ranks(ranking_score(result, rank_by))],
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
