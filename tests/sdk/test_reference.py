"""Reference scores: similarity maths, import from .npy/.npz/.csv, errors."""

import uuid

import numpy as np
import pytest

import fiftyone as fo

from fiftyone_curvature.sdk.reference import (
    compare_scores,
    import_reference,
    similarity,
)

N = 50


@pytest.fixture
def dataset():
    ds = fo.Dataset(f"ref-{uuid.uuid4().hex[:8]}")
    rng = np.random.default_rng(0)
    ds.add_samples([
        fo.Sample(
            filepath=f"/data/imgs/img_{i:03d}.png",
            label=fo.Classification(label=str(i % 3)),
            score=float(v),
        )
        for i, v in enumerate(rng.random(N))
    ])
    yield ds
    ds.delete()


def test_similarity_exact():
    a = np.array([1.0, 2.0, 3.0, 4.0])
    s = similarity(a, 2 * a)
    assert s["cosine"] == pytest.approx(1.0)
    assert s["pearson"] == pytest.approx(1.0)
    assert s["spearman"] == pytest.approx(1.0)
    b = np.array([1.0, 0.0, 0.0, 0.0])
    assert similarity(a, b)["cosine"] == pytest.approx(1 / np.sqrt(30))
    # a monotone but non-linear map: Spearman 1, Pearson below 1
    s = similarity(a, a**3)
    assert s["spearman"] == pytest.approx(1.0) and s["pearson"] < 0.99
    # a constant vector has no correlation
    assert similarity(a, np.ones(4))["pearson"] is None


def test_import_npy_in_order_and_compare(dataset, tmp_path):
    ref = np.array(dataset.values("score")) ** 2
    np.save(tmp_path / "ref.npy", ref)
    written = import_reference(dataset, str(tmp_path / "ref.npy"), "ref")
    assert written == N
    assert np.allclose(dataset.values("ref"), ref)
    out = compare_scores(dataset, "score", "ref", top_k=10)
    assert out["n"] == N and out["missing"] == 0
    assert out["overall"]["spearman"] == pytest.approx(1.0)
    a = np.array(dataset.values("score"))
    cos = a @ ref / np.linalg.norm(a) / np.linalg.norm(ref)
    assert out["overall"]["cosine"] == pytest.approx(cos)
    top = np.argsort(-ref)[:10]
    assert out["top_k"]["k"] == 10
    assert out["top_k"]["cosine"] == pytest.approx(
        similarity(a[top], ref[top])["cosine"])
    # default top_k: 10% of the samples; fractions work too
    assert compare_scores(dataset, "score", "ref")["top_k"]["k"] == 5
    assert compare_scores(dataset, "score", "ref",
                          top_k=0.2)["top_k"]["k"] == 10


def test_compare_skips_missing_values(dataset):
    ids = dataset.values("id")
    dataset.set_values("other", {ids[0]: 1.0, ids[1]: 2.0, ids[2]: 4.0},
                       key_field="id")
    out = compare_scores(dataset, "score", "other")
    assert out["n"] == 3 and out["missing"] == N - 3


def test_import_npz_key_and_label_order_check(dataset, tmp_path):
    ref = np.arange(N, dtype=float)
    labels = np.arange(N) % 3
    np.savez(tmp_path / "fz.npz", tr_mem=ref, tr_labels=labels)
    path = str(tmp_path / "fz.npz")
    with pytest.raises(ValueError, match="pass key"):
        import_reference(dataset, path, "mem")
    with pytest.raises(ValueError, match="no array 'mem'"):
        import_reference(dataset, path, "mem", key="mem")
    import_reference(dataset, path, "mem", key="tr_mem",
                     labels="tr_labels", label_field="label")
    assert dataset.values("mem") == ref.tolist()
    # the same file against a shuffled order is caught by its labels
    shuffled = np.roll(labels, 1)
    np.savez(tmp_path / "bad.npz", tr_mem=ref, tr_labels=shuffled)
    with pytest.raises(ValueError, match="not in the collection's order"):
        import_reference(dataset, str(tmp_path / "bad.npz"), "mem2",
                         key="tr_mem", labels="tr_labels",
                         label_field="label")
    assert "mem2" not in dataset.get_field_schema()


def test_length_mismatch_and_existing_field(dataset, tmp_path):
    np.save(tmp_path / "short.npy", np.zeros(N - 1))
    with pytest.raises(ValueError, match="49 values but the collection has "
                       "50 samples"):
        import_reference(dataset, str(tmp_path / "short.npy"), "r")
    np.save(tmp_path / "ok.npy", np.zeros(N))
    with pytest.raises(ValueError, match="exists"):
        import_reference(dataset, str(tmp_path / "ok.npy"), "score")
    # the user's own field is never replaced, even with overwrite=True
    before = dataset.values("score")
    with pytest.raises(ValueError, match="not created by an earlier"):
        import_reference(dataset, str(tmp_path / "ok.npy"), "score",
                         overwrite=True)
    assert dataset.values("score") == before
    # a field an earlier import created is
    np.save(tmp_path / "one.npy", np.ones(N))
    import_reference(dataset, str(tmp_path / "one.npy"), "imported")
    import_reference(dataset, str(tmp_path / "ok.npy"), "imported",
                     overwrite=True)
    assert dataset.values("imported") == [0.0] * N
    np.save(tmp_path / "two.npy", np.zeros((N, 2)))
    with pytest.raises(ValueError, match="1-D"):
        import_reference(dataset, str(tmp_path / "two.npy"), "r")
    (tmp_path / "x.txt").write_text("1")
    with pytest.raises(ValueError, match="valid ones are"):
        import_reference(dataset, str(tmp_path / "x.txt"), "r")
    with pytest.raises(FileNotFoundError):
        import_reference(dataset, str(tmp_path / "none.npy"), "r")


def test_csv_by_filename_in_any_order(dataset, tmp_path):
    names = [f"img_{i:03d}.png" for i in range(N)]
    rows = list(zip(names, range(N)))[::-1]
    path = tmp_path / "ref.csv"
    path.write_text("filename,mem\n" + "".join(
        f"{n},{v}\n" for n, v in rows))
    import_reference(dataset, str(path), "mem", filename_column="filename")
    assert dataset.values("mem") == [float(i) for i in range(N)]
    # full paths work too; a subset leaves the rest empty
    path.write_text("path,mem\n/data/imgs/img_004.png,7\n")
    assert import_reference(dataset, str(path), "mem2",
                            filename_column="path") == 1
    values = dataset.values("mem2")
    assert values[4] == 7.0 and values.count(None) == N - 1


def test_csv_by_index_and_errors(dataset, tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("index,value,extra\n3,0.5,x\n0,1.5,y\n")
    with pytest.raises(ValueError, match="pass column"):
        import_reference(dataset, str(path), "v", index_column="index")
    import_reference(dataset, str(path), "v", index_column="index",
                     column="value")
    values = dataset.values("v")
    assert values[0] == 1.5 and values[3] == 0.5 and values[1] is None
    path.write_text("index,value\n3,0.5\n3,1.5\n")
    with pytest.raises(ValueError, match="more than once"):
        import_reference(dataset, str(path), "w", index_column="index")
    path.write_text("index,value\n50,0.5\n")
    with pytest.raises(ValueError, match="outside"):
        import_reference(dataset, str(path), "w", index_column="index")
    path.write_text("filename,value\nnope.png,0.5\n")
    with pytest.raises(ValueError, match="not in the collection"):
        import_reference(dataset, str(path), "w", filename_column="filename")
    path.write_text("value\nabc\n")
    with pytest.raises(ValueError, match="not a number"):
        import_reference(dataset, str(path), "w")
    path.write_text("value\n1\n")
    with pytest.raises(ValueError, match="1 values but the collection"):
        import_reference(dataset, str(path), "w")
    with pytest.raises(ValueError, match="no column 'idx'"):
        import_reference(dataset, str(path), "w", index_column="idx")
    assert "w" not in dataset.get_field_schema()


def test_compare_errors(dataset):
    with pytest.raises(ValueError, match="no field 'nope'"):
        compare_scores(dataset, "score", "nope")
    with pytest.raises(ValueError, match="not a numeric"):
        compare_scores(dataset, "score", "label")
    with pytest.raises(ValueError, match="top_k"):
        compare_scores(dataset, "score", "score", top_k=0)


def test_cli_import_and_compare(dataset, tmp_path):
    import json
    import os
    import subprocess
    import sys

    exe = os.path.join(os.path.dirname(sys.executable), "fiftyone-curvature")
    ref = np.array(dataset.values("score")) * 3 + 1
    np.savez(tmp_path / "ref.npz", mem=ref, labels=np.arange(N) % 3)
    dataset.persistent = True  # visible to the subprocess
    proc = subprocess.run(
        [exe, "import-reference", dataset.name, str(tmp_path / "ref.npz"),
         "--field", "mem", "--key", "mem", "--labels-key", "labels",
         "--label-field", "label"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Wrote 50 values" in proc.stdout
    proc = subprocess.run(
        [exe, "compare", dataset.name, "--field", "score",
         "--reference-field", "mem", "--top-k", "10", "--json"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["overall"]["pearson"] == pytest.approx(1.0)
    assert out["top_k"]["k"] == 10
    proc = subprocess.run(
        [exe, "import-reference", dataset.name, str(tmp_path / "ref.npz"),
         "--field", "mem2"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "pass key" in proc.stderr
