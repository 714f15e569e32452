"""write_columns: one bulk update per sample, FiftyOne-compatible values."""

import numpy as np
import pytest

import fiftyone as fo

from fiftyone_curvature.sdk.fields import (
    Column, classification_docs, finite_or_none, write_columns,
)


@pytest.fixture
def dataset():
    ds = fo.Dataset()
    ds.add_samples([
        fo.Sample(filepath=f"/nonexistent/{i}.png",
                  label=fo.Classification(label=str(i % 2)))
        for i in range(6)
    ])
    yield ds
    ds.delete()


def test_writes_every_column_for_the_given_samples_only(dataset):
    ids = dataset.values("id")
    chosen = [ids[4], ids[1], ids[2]]  # a subset, not in dataset order
    logits = np.array([[0.0, 2.0], [1.0, -1.0], [0.5, 0.25]])
    preds = logits.argmax(1)
    columns = [
        Column("score", finite_or_none([0.5, float("nan"), 2.0]),
               fo.FloatField, "a score; higher = worse"),
        Column("per_epoch", [[1.0, 2.0], [3.0, 4.0], []], fo.ListField,
               "per epoch", {"subfield": fo.FloatField}),
        Column("flag", [True, False, True], fo.BooleanField, "a flag"),
        Column("pred", classification_docs(["a", "b"], preds,
                                           [0.9, 0.8, 0.7], logits),
               fo.EmbeddedDocumentField, "prediction",
               {"embedded_doc_type": fo.Classification}),
    ]
    write_columns(dataset, chosen, columns)

    by_id = {s.id: s for s in dataset}
    assert by_id[ids[4]].score == 0.5
    assert by_id[ids[1]].score is None  # NaN is stored as None
    assert by_id[ids[2]].per_epoch == []
    assert by_id[ids[1]].per_epoch == [3.0, 4.0]
    assert by_id[ids[2]].flag is True
    for i in (0, 3, 5):  # samples that were not asked for stay untouched
        assert by_id[ids[i]].score is None
        assert by_id[ids[i]].pred is None
    pred = by_id[ids[4]].pred
    assert isinstance(pred, fo.Classification)
    assert pred.label == "b" and pred.confidence == 0.9
    np.testing.assert_array_equal(pred.logits, logits[0])
    assert dataset.get_field("score").description == "a score; higher = worse"
    assert isinstance(dataset.get_field("per_epoch").field, fo.FloatField)
    # the labels the user owns are untouched
    assert dataset.values("label.label") == ["0", "1", "0", "1", "0", "1"]
    # and the bulk write is visible to FiftyOne's aggregations and filters
    assert dataset.bounds("score") == (0.5, 2.0)
    assert len(dataset.match_labels(filter=fo.ViewField("label") == "b",
                                    fields="pred")) == 1


def test_existing_field_is_overwritten_not_redeclared(dataset):
    ids = dataset.values("id")
    dataset.add_sample_field("score", fo.FloatField, description="old")
    write_columns(dataset, ids, [
        Column("score", [float(i) for i in range(6)], fo.FloatField, "new")])
    assert dataset.values("score") == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert dataset.get_field("score").description == "old"


def test_in_memory_samples_see_the_new_values(dataset):
    sample = dataset.first()
    write_columns(dataset, [sample.id],
                  [Column("score", [7.0], fo.FloatField, "s")])
    assert sample.score == 7.0


def test_column_length_mismatch_names_the_column(dataset):
    with pytest.raises(ValueError, match="'score' has 2 values for 6"):
        write_columns(dataset, dataset.values("id"),
                      [Column("score", [1.0, 2.0], fo.FloatField, "s")])
    assert "score" not in dataset.get_field_schema()


def test_serialized_rows_are_fiftyones_bytes():
    import fiftyone.core.utils as fou

    from fiftyone_curvature.sdk.fields import serialized_rows

    rows = np.random.default_rng(0).normal(size=(4, 7)).astype(np.float32)
    out = serialized_rows(rows)
    assert len(out) == 4
    for row, data in zip(rows, out):
        assert data == fou.serialize_numpy_array(row.astype(np.float64))
        np.testing.assert_array_equal(fou.deserialize_numpy_array(data), row)
    assert serialized_rows(np.zeros((0, 3))) == []
    with pytest.raises(ValueError, match="shape"):
        serialized_rows(np.zeros(3))
