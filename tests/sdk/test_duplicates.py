"""Duplicate-conflict search on generated images with planted duplicates."""

import os
import shutil
import uuid

import numpy as np
import pytest
from PIL import Image

import fiftyone as fo

import fiftyone_curvature as cd
from fiftyone_curvature.engine.neighbors import conflict_distances, group_pairs
from fiftyone_curvature.sdk.duplicate_injection import FINDER_SCORES
from fiftyone_curvature.sdk.duplicate_runs import output_fields

CLASSES = ("cat", "dog", "fox")


def _smooth_image(rng, size=32):
    """A random smooth RGB image (upsampled 4x4 noise): distinct ones are
    far apart, re-encoded or resized copies stay close."""
    grid = rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8)
    return Image.fromarray(grid, "RGB").resize((size, size), Image.BICUBIC)


def _jpeg_copy(src, dst, size=None, quality=90):
    with Image.open(src) as im:
        im = im.convert("RGB")
        if size:
            im = im.resize((size, size), Image.BILINEAR)
        im.save(dst, "JPEG", quality=quality)


@pytest.fixture
def planted(tmp_path):
    """20 distinct images plus planted duplicates:

    - exact copy (same bytes), other label -> reported
    - exact copy, same label -> not reported
    - resized JPEG copy, other label -> reported
    - JPEG copy, same label -> not reported
    - a group of three (JPEG copy same label, resized copy other label)
      -> reported as one group of three
    """
    rng = np.random.default_rng(0)
    folder = str(tmp_path)
    samples, paths, labels = [], [], []
    for i in range(20):
        path = os.path.join(folder, f"base_{i:02d}.png")
        _smooth_image(rng).save(path)
        paths.append(path)
        labels.append(CLASSES[i % 3])

    def add(path, label, role):
        samples.append(fo.Sample(
            filepath=path, ground_truth=fo.Classification(label=label),
            role=role,
        ))

    for path, label in zip(paths, labels):
        add(path, label, "base")
    other = {c: CLASSES[(CLASSES.index(c) + 1) % 3] for c in CLASSES}
    dst = os.path.join(folder, "exact_conflict.png")
    shutil.copy(paths[0], dst)
    add(dst, other[labels[0]], "exact_conflict")
    dst = os.path.join(folder, "exact_same.png")
    shutil.copy(paths[1], dst)
    add(dst, labels[1], "exact_same")
    dst = os.path.join(folder, "near_conflict.jpg")
    _jpeg_copy(paths[2], dst, size=24)
    add(dst, other[labels[2]], "near_conflict")
    dst = os.path.join(folder, "near_same.jpg")
    _jpeg_copy(paths[3], dst)
    add(dst, labels[3], "near_same")
    dst = os.path.join(folder, "triple_same.jpg")
    _jpeg_copy(paths[4], dst, quality=85)
    add(dst, labels[4], "triple_same")
    dst = os.path.join(folder, "triple_conflict.jpg")
    _jpeg_copy(paths[4], dst, size=40)
    add(dst, other[labels[4]], "triple_conflict")
    dataset = fo.Dataset(f"dups-{uuid.uuid4().hex[:8]}")
    dataset.add_samples(samples, progress=False)
    yield dataset, paths
    dataset.delete()


def _flagged(dataset, key="curvature"):
    flag = fo.ViewField(f"{key}_duplicate_conflict")
    view = dataset.match(flag == True)  # noqa: E712
    return view.values("filepath"), view.values(f"{key}_duplicate_group")


def test_pixels_find_exact_and_near_conflicts_only(planted):
    dataset, paths = planted
    before = dataset.values("ground_truth.label")
    results = cd.find_duplicate_conflicts(dataset, "ground_truth",
                                          progress=False)
    names = {os.path.basename(p) for p in _flagged(dataset)[0]}
    expected = {
        "base_00.png", "exact_conflict.png",
        "base_02.png", "near_conflict.jpg",
        "base_04.png", "triple_same.jpg", "triple_conflict.jpg",
    }
    assert names == expected
    # same-label duplicates were found but not reported
    assert results.num_duplicate_groups == 5
    assert len(results.groups) == 3
    assert sorted(len(g) for g in results.groups) == [2, 2, 3]
    # group ids: one per group, matching results.groups
    group_of = dict(zip(*dataset.values(["id", "curvature_duplicate_group"])))
    for g, members in enumerate(results.groups):
        assert {group_of[i] for i in members} == {g}
    assert sum(v is not None for v in group_of.values()) == 7
    assert dataset.values("ground_truth.label") == before
    # distances: exact conflicts at 0, near ones small, unique ones larger
    dist = dict(zip(dataset.values("filepath"),
                    dataset.values("curvature_duplicate_distance")))
    assert dist[paths[0]] == 0.0
    assert dist[os.path.join(os.path.dirname(paths[0]),
                             "near_conflict.jpg")] < 0.01
    assert min(dist[p] for p in paths[5:]) > 0.05


def test_saved_view_shows_groups_together_surest_first(planted):
    dataset, _ = planted
    # a fake curvature field: group of base_04 gets the highest curvature
    curv = {os.path.basename(p): 0.1 * i
            for i, p in enumerate(dataset.values("filepath"))}
    curv["triple_conflict.jpg"] = 100.0
    dataset.set_values(
        "curvature",
        [curv[os.path.basename(p)] for p in dataset.values("filepath")],
    )
    results = cd.find_duplicate_conflicts(dataset, "ground_truth",
                                          progress=False)
    assert "curvature_duplicate_conflicts" in dataset.list_saved_views()
    view = dataset.load_saved_view("curvature_duplicate_conflicts")
    groups = view.values("curvature_duplicate_group")
    # contiguous groups, in order: the finder's surest first (the
    # byte-identical pair), then the near copies
    assert groups == sorted(groups) and len(groups) == 7
    assert results.certainty == sorted(results.certainty, reverse=True)
    assert results.certainty[0] > results.certainty[-1] > 1.0
    names = [os.path.basename(p) for p in view.values("filepath")]
    first = {n for n, g in zip(names, groups) if g == 0}
    assert first == {"base_00.png", "exact_conflict.png"}
    triple = {n for n, g in zip(names, groups) if g != 0 and
              n.startswith(("triple", "base_04"))}
    assert triple == {"base_04.png", "triple_same.jpg",
                      "triple_conflict.jpg"}
    # highest curvature first within a group
    values = view.values("curvature")
    for g in set(groups):
        within = [v for v, gg in zip(values, groups) if gg == g]
        assert within == sorted(within, reverse=True)
    assert names[names.index("triple_conflict.jpg") - 1] not in triple
    assert results.view().values("id") == view.values("id")
    # what the finder chose is on the run
    summary = results.summary()
    assert summary["method"] == "aligned" and summary["ratio"] == 0.45
    assert 0.0 < summary["threshold"] < 0.5


def test_run_record_and_cleanup(planted):
    dataset, _ = planted
    schema_before = set(dataset.get_field_schema())
    cd.find_duplicate_conflicts(dataset, "ground_truth", key="dup",
                                progress=False)
    assert "dup_duplicates" in dataset.list_brain_runs()
    info = dataset.get_brain_info("dup_duplicates")
    assert info.config.type == "duplicate_conflicts"
    loaded = dataset.load_brain_results("dup_duplicates")
    assert isinstance(loaded, cd.DuplicateConflictsResults)
    assert len(loaded.groups) == 3
    assert set(dataset.get_field_schema()) == schema_before | set(
        output_fields("dup"))
    # rerun overwrites in place
    cd.find_duplicate_conflicts(dataset, "ground_truth", key="dup",
                                progress=False)
    dataset.delete_brain_run("dup_duplicates")
    assert set(dataset.get_field_schema()) == schema_before
    assert "dup_duplicate_conflicts" not in dataset.list_saved_views()


def test_exact_method_finds_only_byte_identical(planted):
    dataset, _ = planted
    results = cd.find_duplicate_conflicts(dataset, "ground_truth",
                                          method="exact", progress=False)
    names = {os.path.basename(p) for p in _flagged(dataset)[0]}
    assert names == {"base_00.png", "exact_conflict.png"}
    assert results.num_duplicate_groups == 2
    assert results.threshold is None


def test_embeddings_method(planted):
    dataset, _ = planted
    roles = dataset.values("role")
    rng = np.random.default_rng(1)
    base = rng.normal(size=(20, 8))
    emb = np.concatenate([base, np.zeros((6, 8))])
    # the near-conflict copy of base 2 gets base 2's vector (other label):
    # reported; everything else is distinct
    for i, role in enumerate(roles[20:], start=20):
        emb[i] = rng.normal(size=8)
    emb[roles.index("near_conflict")] = base[2] + 1e-4
    results = cd.find_duplicate_conflicts(
        dataset, "ground_truth", method="embeddings", embeddings=emb,
        exact=False, progress=False,
    )
    names = {os.path.basename(p) for p in _flagged(dataset)[0]}
    assert names == {"base_02.png", "near_conflict.jpg"}
    assert len(results.groups) == 1
    # as a dict id -> vector, and as a field
    ids = dataset.values("id")
    cd.find_duplicate_conflicts(
        dataset, "ground_truth", method="embeddings",
        embeddings=dict(zip(ids, emb)), exact=False, progress=False,
    )
    assert len(_flagged(dataset)[0]) == 2
    dataset.set_values("emb", [e for e in emb])
    cd.find_duplicate_conflicts(
        dataset, "ground_truth", method="embeddings", embeddings="emb",
        progress=False,
    )
    # with exact=True the byte-identical conflict joins
    assert len(_flagged(dataset)[0]) == 4


def test_no_conflicts_when_labels_agree(tmp_path):
    rng = np.random.default_rng(2)
    samples = []
    for i in range(6):
        path = str(tmp_path / f"img_{i}.png")
        _smooth_image(rng).save(path)
        copy = str(tmp_path / f"img_{i}_copy.jpg")
        _jpeg_copy(path, copy)
        for p in (path, copy):
            samples.append(fo.Sample(
                filepath=p,
                ground_truth=fo.Classification(label=CLASSES[i % 3])))
    dataset = fo.Dataset(f"dups-{uuid.uuid4().hex[:8]}")
    try:
        dataset.add_samples(samples, progress=False)
        results = cd.find_duplicate_conflicts(dataset, "ground_truth",
                                              progress=False)
        assert results.num_duplicate_groups == 6
        assert results.groups == []
        assert not any(dataset.values("curvature_duplicate_conflict"))
        assert len(dataset.load_saved_view(
            "curvature_duplicate_conflicts")) == 0
    finally:
        dataset.delete()


def test_invalid_arguments(planted):
    dataset, _ = planted
    with pytest.raises(ValueError, match="Unknown method"):
        cd.find_duplicate_conflicts(dataset, "ground_truth", method="hash")
    with pytest.raises(ValueError, match="needs embeddings"):
        cd.find_duplicate_conflicts(dataset, "ground_truth",
                                    method="embeddings")
    with pytest.raises(ValueError, match="only used"):
        cd.find_duplicate_conflicts(dataset, "ground_truth",
                                    embeddings=np.zeros((26, 2)))
    with pytest.raises(ValueError, match=r"\(26, D\)"):
        cd.find_duplicate_conflicts(dataset, "ground_truth",
                                    method="embeddings",
                                    embeddings=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="threshold"):
        cd.find_duplicate_conflicts(dataset, "ground_truth", threshold=3)
    with pytest.raises(ValueError, match="no field"):
        cd.find_duplicate_conflicts(dataset, "nope")
    dataset.set_values("x_duplicate_group", [1] * len(dataset))
    with pytest.raises(ValueError, match="not written by"):
        cd.find_duplicate_conflicts(dataset, "ground_truth", key="x")
    assert dataset.list_brain_runs() == []


def test_group_pairs_and_conflict_distances():
    comp = group_pairs(6, [(0, 1), (1, 2), (4, 5)])
    assert list(comp) == [0, 0, 0, 1, 2, 2]
    x = np.array([[1.0, 0.0], [1.0, 0.001], [0.0, 1.0], [-1.0, 0.2]])
    d = conflict_distances(x, ["a", "b", "a", None], k=3)
    assert d[0] < 1e-4 and d[1] < 1e-4
    assert d[2] > 0.1 and np.isinf(d[3])


def test_evaluate_duplicates_on_a_clone(make_digits):
    dataset = make_digits(n=150, noise=0.0)
    before = (dataset.values("id"), dataset.values("label.label"))
    names_before = set(fo.list_datasets())
    seen = []
    results = cd.evaluate_duplicates(
        dataset, "label", num_images=8, copies=2, seeds=[0, 1], epochs=2,
        probes=1, progress=seen.append, kinds=["reencode"],
    )
    # the user's data is untouched and no working dataset is left behind
    assert (dataset.values("id"), dataset.values("label.label")) == before
    assert set(dataset.get_field_schema()) == {
        "id", "filepath", "tags", "metadata", "created_at", "last_modified_at",
        "ground_truth", "label", "flipped"}
    assert dataset.list_brain_runs() == []
    assert set(fo.list_datasets()) == names_before
    assert results.num_samples == 150 + 16
    assert results.datasets == []
    names = results.score_names
    assert names[0] == "curvature" and "csl" in names
    assert set(FINDER_SCORES) <= set(names)
    for name in names:
        assert len(results.metrics[name]["auroc"]) == 2
    for seed in results.finder:
        # every re-encoded copy (same size, JPEG 85-95) is found in pixels
        # and by the aligned finder
        for finder in ("pixels", "aligned"):
            assert seed[finder]["injected_flagged"] == 16
            assert seed[finder]["sources_flagged"] == 8
            assert seed[finder]["per_kind"]["reencode"]["recall"] == 1.0
    assert results.summary()["dup_pixels"]["auroc"]["mean"] > 0.9
    assert results.summary()["dup_aligned"]["auroc"]["mean"] > 0.9
    assert results.table().splitlines()[0].startswith("score")
    assert {e["phase"] for e in seen} >= {"epoch", "duplicates"}
    summary = results.to_summary_dict()
    assert summary["injected"] == 16 and len(summary["seconds"]) == 2
    assert summary["finder_by_kind"]["aligned"]["recall"] == {
        "reencode": 1.0}


def test_evaluate_duplicates_every_kind(make_digits):
    from fiftyone_curvature.engine.copies import KINDS

    dataset = make_digits(n=300, noise=0.0)
    results = cd.evaluate_duplicates(dataset, "label", num_images=6,
                                     epochs=1, probes=1)
    assert results.kinds == list(KINDS)
    assert results.num_samples == 300 + 6 * len(KINDS)
    table = results.kind_table()
    assert set(table) == {"aligned", "pixels", "embeddings"}
    aligned, pixels = table["aligned"], table["pixels"]
    # the aligned finder finds shifted and cropped copies; pixels does not
    assert aligned["recall"]["translate"] >= 0.8
    assert aligned["recall"]["translate"] > pixels["recall"]["translate"]
    assert np.mean(list(aligned["recall"].values())) >= 0.8
    assert aligned["false_flag_rate"] <= 0.02
    text = results.kind_text()
    assert text.splitlines()[0].split()[:2] == ["kind", "aligned"]
    assert "translate+blur+jpeg" in text


def test_evaluate_duplicates_keeps_datasets_when_asked(make_digits,
                                                      tmp_path):
    dataset = make_digits(n=60, noise=0.0)
    results = cd.evaluate_duplicates(dataset, "label", num_images=4,
                                     epochs=1, probes=1, keep_datasets=True,
                                     work_dir=str(tmp_path),
                                     kinds=["reencode"])
    try:
        (name,) = results.datasets
        work = fo.load_dataset(name)
        assert len(work) == 64
        assert sum(work.values("injected_duplicate", missing_value=False)) \
            == 4
        view = work.load_saved_view("curvature_duplicate_conflicts")
        assert len(view) >= 8
        assert len(list(tmp_path.glob("*.png"))) == 4
    finally:
        for name in results.datasets:
            fo.delete_dataset(name)


def test_evaluate_duplicates_invalid(make_digits):
    dataset = make_digits(n=30, noise=0.0)
    with pytest.raises(ValueError, match="num_images"):
        cd.evaluate_duplicates(dataset, "label", num_images=31,
                               kinds=["jpeg"])
    with pytest.raises(ValueError, match="num_images"):
        cd.evaluate_duplicates(dataset, "label", num_images=4)
    with pytest.raises(ValueError, match="Unknown kinds"):
        cd.evaluate_duplicates(dataset, "label", num_images=2,
                               kinds=["sepia"])
    with pytest.raises(ValueError, match="copies"):
        cd.evaluate_duplicates(dataset, "label", num_images=2, copies=0)
    with pytest.raises(ValueError, match="seeds"):
        cd.evaluate_duplicates(dataset, "label", num_images=2, seed=1)
    with pytest.raises(ValueError, match="quality"):
        cd.evaluate_duplicates(dataset, "label", num_images=2,
                               quality=(50, 101))
    with pytest.raises(ValueError, match="Unknown option"):
        cd.evaluate_duplicates(dataset, "label", num_images=2, foo=1)


OP_URI = "@fiftyone-curvature/curvature/find_duplicate_conflicts"


def test_operator_immediate_and_call(planted):
    import fiftyone.operators as foo

    dataset, _ = planted
    result = foo.execute_operator(
        OP_URI, dataset=dataset.name,
        params=dict(label_field="ground_truth", key="curvature"),
    )
    assert result.error is None, result.error
    # the operator streams its progress (a generator): what it found is in
    # the dataset, not in a returned dict
    assert "curvature_duplicates" in dataset.list_brain_runs()
    found = dataset.load_brain_results("curvature_duplicates")
    assert len(found.groups) == 3 and found.num_conflicts == 7
    view = dataset.load_saved_view("curvature_duplicate_conflicts")
    assert len(view) == 7
    op = foo.get_operator(OP_URI)
    out = op(dataset, "ground_truth", key="exact", method="exact")
    assert out.error is None, out.error
    assert len(dataset.load_brain_results("exact_duplicates").groups) == 1
    assert "exact_duplicate_conflicts" in dataset.list_saved_views()


def test_operator_form_and_delegation(planted):
    import fiftyone.operators as foo
    from fiftyone.operators.delegated import DelegatedOperationService

    from fiftyone_curvature.app.duplicates_operator import (
        FindDuplicateConflicts,
        _kwargs,
    )

    dataset, _ = planted
    assert _kwargs({"label_field": "gt", "method": "exact",
                    "threshold": 0.5}) == {
        "label_field": "gt", "key": "curvature", "method": "exact",
        "exact": True}
    kw = _kwargs({"label_field": "gt", "method": "embeddings",
                  "embeddings_field": "emb", "threshold": 0.1,
                  "exact": False})
    assert kw["embeddings"] == "emb" and kw["threshold"] == 0.1
    assert not kw["exact"]
    # a key whose fields another writer owns is refused in the form
    dataset.set_values("x_duplicate_group", [1] * len(dataset))
    ctx = foo.ExecutionContext(request_params=dict(
        dataset_name=dataset.name,
        params=dict(label_field="ground_truth", key="x"),
    ))
    inputs = FindDuplicateConflicts().resolve_input(ctx)
    assert inputs.type.properties["key"].invalid
    out = FindDuplicateConflicts.__call__(
        foo.get_operator(OP_URI), dataset, "ground_truth", delegate=True)
    assert out.error is None and out.delegated
    assert dataset.list_brain_runs() == []
    DelegatedOperationService().execute_queued_operations(
        dataset_name=dataset.name)
    dataset.reload()
    assert dataset.list_brain_runs() == ["curvature_duplicates"]
    assert len(dataset.load_saved_view("curvature_duplicate_conflicts")) == 7


def test_compute_curvature_flag(planted):
    import fiftyone_curvature as fc

    dataset, _ = planted
    with pytest.raises(ValueError, match="duplicates method"):
        fc.compute_curvature(dataset, "ground_truth", epochs=1,
                             duplicates="hash", progress=False)
    with pytest.raises(ValueError, match="Unknown duplicates option"):
        fc.compute_curvature(dataset, "ground_truth", epochs=1,
                             duplicates={"k": 3}, progress=False)
    assert dataset.list_brain_runs() == []
    fc.compute_curvature(dataset, "ground_truth", epochs=1, probes=1,
                         duplicates=True, progress=False)
    assert set(dataset.list_brain_runs()) == {"curvature",
                                              "curvature_duplicates"}
    view = dataset.load_saved_view("curvature_duplicate_conflicts")
    assert len(view) == 7
    groups, curv = view.values(["curvature_duplicate_group", "curvature"])
    assert groups == sorted(groups)
    # groups ordered by the finder's certainty, members by curvature
    found = dataset.load_brain_results("curvature_duplicates")
    assert found.certainty == sorted(found.certainty, reverse=True)
    for g in set(groups):
        within = [c for c, gg in zip(curv, groups) if gg == g]
        assert within == sorted(within, reverse=True)
    # what the finder chose is on the run and in the info operator's output
    from fiftyone_curvature.sdk.info import run_info

    dups = run_info(dataset, "curvature")["duplicates"]
    assert dups["method"] == "aligned" and dups["ratio"] == 0.45
    assert 0.0 <= dups["threshold"] <= 0.1
    assert dups["num_conflict_groups"] == 3
    # deleting the curvature run leaves a loadable view
    dataset.delete_brain_run("curvature")
    assert len(dataset.load_saved_view("curvature_duplicate_conflicts")) == 7
    dataset.delete_brain_run("curvature_duplicates")
    assert dataset.list_saved_views() == []


def test_compute_curvature_flag_embeddings(planted):
    import fiftyone_curvature as fc

    dataset, _ = planted
    fc.compute_curvature(dataset, "ground_truth", curvature_field="memo",
                         epochs=2, probes=1, progress=False,
                         duplicates={"method": "embeddings", "exact": True})
    info = dataset.get_brain_info("memo_duplicates")
    assert info.config.compare == "embeddings"
    dist = dataset.values("memo_duplicate_distance")
    assert all(d is None or d >= 0 for d in dist)
    # the byte-identical conflict is found whatever the network learned
    flag = fo.ViewField("memo_duplicate_conflict")
    flagged = dataset.match(flag == True)  # noqa: E712
    names = {os.path.basename(p) for p in flagged.values("filepath")}
    assert {"base_00.png", "exact_conflict.png"} <= names


def test_cli_evaluate_duplicates(make_digits, capsys):
    import json

    from fiftyone_curvature.cli import main

    dataset = make_digits(n=80, noise=0.0)
    argv = ["evaluate", dataset.name, "--label-field", "label",
            "--duplicates", "--num-images", "5", "--copies", "2",
            "--epochs", "1", "--probes", "1", "--kinds", "reencode"]
    assert main(argv + ["--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["injected"] == 10 and out["n"] == 90
    assert out["dataset"] == dataset.name
    assert {"curvature", "csl", *FINDER_SCORES} <= set(out["scores"])
    assert out["finder"][0]["pixels"]["injected_flagged"] == 10
    assert main(argv + ["--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "dup_pixels" in text and "pixels flagged 10/10" in text
    assert "reencode" in text and "false flags" in text
    assert main(argv + ["--report", "x"]) == 2
    assert dataset.list_brain_runs() == []
