"""A hostile neighbour's folder: planted pickles are not executed, planted
symlinks are not followed, folders others can write are refused, and a
report never overwrites a file it did not write."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

import fiftyone_curvature as fc
from fiftyone_curvature.engine import datafile, safe_files
from fiftyone_curvature.engine.checkpoint import (
    CHECKPOINT_NAME, check_checkpoint_dir,
)
from fiftyone_curvature.engine.config import TrackingConfig
from fiftyone_curvature.engine.training import train_and_track
from fiftyone_curvature.sdk.report import MANIFEST, write_report

from fault_cases import FAST

VICTIM = b"the victim's own file\n"


class _Payload:
    """Unpickling it would create ``marker`` (what an attacker's command
    would do)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant_pickle(path, marker):
    torch.save({"fingerprint": "x", "payload": _Payload(marker)}, path)
    assert not os.path.exists(marker)
    # the planted file is a real pickle: a plain load would run it
    with open(path, "rb"):
        pass


def _tiny():
    x = torch.rand(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    y = torch.arange(32) % 2
    cfg = TrackingConfig.resolve(epochs=1, score_every=1, batch_size=16)
    return x, y, cfg


def _victim(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(VICTIM)
    return victim


# -------------------------------------------------------------- pickles

def test_planted_pickle_checkpoint_is_refused_not_executed(tmp_path):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    marker = str(tmp_path / "pwned")
    _plant_pickle(str(folder / CHECKPOINT_NAME), marker)
    x, y, cfg = _tiny()
    with pytest.raises(ValueError, match="could run code"):
        train_and_track(x, y, cfg, num_classes=2, checkpoint_dir=str(folder))
    assert not os.path.exists(marker)


def test_planted_pickle_result_is_refused_not_executed(tmp_path):
    marker = str(tmp_path / "pwned")
    _plant_pickle(str(tmp_path / datafile.RESULT), marker)
    with pytest.raises(ValueError, match="could run code"):
        datafile.load_result(str(tmp_path))
    assert not os.path.exists(marker)


def test_plain_pickle_payload_would_have_run(tmp_path):
    """The payload is live: pickle.load runs it (the two tests above can
    fail)."""
    marker = str(tmp_path / "ran")
    data = pickle.dumps(_Payload(marker))
    pickle.loads(data).close()
    assert os.path.exists(marker)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    x, y, cfg = _tiny()
    folder = str(tmp_path / "ckpt")
    train_and_track(x, y, cfg, num_classes=2, checkpoint_dir=folder)
    path = os.path.join(folder, CHECKPOINT_NAME)
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt or truncated.*delete it"):
        train_and_track(x, y, cfg, num_classes=2, checkpoint_dir=folder)


def test_checkpoint_and_result_round_trip_weights_only(tmp_path):
    x, y, cfg = _tiny()
    folder = str(tmp_path / "ckpt")
    result = train_and_track(x, y, cfg, num_classes=2, checkpoint_dir=folder)
    state = torch.load(os.path.join(folder, CHECKPOINT_NAME),
                       weights_only=True)
    assert state["epoch"] == 1
    datafile.save_result(str(tmp_path), result)
    back = datafile.load_result(str(tmp_path))
    np.testing.assert_array_equal(back.curvature, result.curvature)
    np.testing.assert_array_equal(back.label_review.suggested,
                                  result.label_review.suggested)
    assert back.history == result.history


# ------------------------------------------------------------- symlinks

def test_symlink_under_checkpoint_names_not_followed(tmp_path):
    victim = _victim(tmp_path)
    folder = tmp_path / "ckpt"
    folder.mkdir()
    for name in (CHECKPOINT_NAME + ".tmp", "." + CHECKPOINT_NAME + ".tmp"):
        os.symlink(victim, folder / name)
    x, y, cfg = _tiny()
    # a dangling link under the final name: replaced, not followed
    os.symlink(tmp_path / "created_through_link", folder / CHECKPOINT_NAME)
    with pytest.raises(ValueError, match="symlink"):
        train_and_track(x, y, cfg, num_classes=2, checkpoint_dir=str(folder))
    os.unlink(folder / CHECKPOINT_NAME)
    os.symlink(victim, folder / CHECKPOINT_NAME)
    with pytest.raises(ValueError, match="symlink"):
        train_and_track(x, y, cfg, num_classes=2, checkpoint_dir=str(folder))
    assert victim.read_bytes() == VICTIM
    # the save itself never writes through the link
    safe_files.save_torch(str(folder / CHECKPOINT_NAME), {"a": 1})
    assert victim.read_bytes() == VICTIM
    assert not os.path.islink(folder / CHECKPOINT_NAME)
    assert not os.path.exists(tmp_path / "created_through_link")


def test_symlink_under_a_temporary_name_not_followed(tmp_path, monkeypatch):
    victim = _victim(tmp_path)
    names = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(safe_files.secrets, "token_hex",
                        lambda n: next(names))
    target = tmp_path / "out.json"
    os.symlink(victim, tmp_path / ".out.json.aaaa.tmp")
    safe_files.write_text(str(target), "{}")
    assert victim.read_bytes() == VICTIM
    assert target.read_text() == "{}"
    assert os.path.islink(tmp_path / ".out.json.aaaa.tmp")


def test_symlinks_under_export_names_not_followed(tmp_path):
    victim = _victim(tmp_path)
    folder = tmp_path / "export"
    folder.mkdir()
    names = [datafile.IMAGES, datafile.TARGETS, datafile.SAMPLE_IDS,
             datafile.META, datafile.RESULT, datafile.MODEL,
             datafile.PROGRESS]
    for name in names:
        os.symlink(victim, folder / name)
        os.symlink(victim, folder / (name + ".tmp"))
    images = datafile.create_images(str(folder), (4, 1, 8, 8))
    images[:] = 7
    datafile.write_index(str(folder), images, [0, 1, 0, 1],
                         ["a", "b", "c", "d"], ["x", "y"])
    datafile.write_progress(str(folder), [{"epoch": 1}])
    x, y, cfg = _tiny()
    result = train_and_track(x, y, cfg, num_classes=2)
    datafile.save_result(str(folder), result)
    assert victim.read_bytes() == VICTIM
    for name in names:
        assert not os.path.islink(folder / name), name
    data = datafile.load_export(str(folder))
    assert data.sample_ids == ["a", "b", "c", "d"]
    assert int(data.inputs.sum()) == 7 * 4 * 64


# -------------------------------------------------------------- folders

@pytest.mark.parametrize("mode", [0o775, 0o757, 0o777])
def test_folder_others_can_write_is_refused(tmp_path, mode):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, mode)
    with pytest.raises(ValueError, match="chmod go-w"):
        check_checkpoint_dir(str(folder))
    with pytest.raises(ValueError, match="written by other users"):
        datafile.create_images(str(folder), (2, 1, 4, 4))
    assert os.listdir(folder) == []


def test_sticky_private_folder_is_accepted(tmp_path):
    folder = tmp_path / "sticky"
    folder.mkdir()
    os.chmod(folder, 0o1777)
    check_checkpoint_dir(str(folder))


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_folder_of_another_user_is_refused(tmp_path):
    folder = tmp_path / "theirs"
    folder.mkdir()
    os.chmod(folder, 0o755)
    os.chown(folder, 4242, 4242)
    with pytest.raises(ValueError, match="owned by another user"):
        check_checkpoint_dir(str(folder))
    with pytest.raises(ValueError, match="owned by another user"):
        datafile.create_images(str(folder), (2, 1, 4, 4))


def test_new_folders_and_files_follow_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        folder = tmp_path / "made" / "ckpt"
        check_checkpoint_dir(str(folder))
        safe_files.write_text(str(folder / "f.txt"), "x")
    finally:
        os.umask(old)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert os.stat(folder / "f.txt").st_mode & 0o777 == 0o600


def test_compute_refuses_a_writable_checkpoint_dir_before_training(
    digits, tmp_path, no_training,
):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    with pytest.raises(ValueError, match="checkpoint_dir.*other users"):
        fc.compute_curvature(digits, "label", checkpoint_dir=str(folder),
                             **FAST)
    assert digits.list_brain_runs() == []


# -------------------------------------------------------------- reports

def test_report_never_overwrites_a_users_file(scored, tmp_path):
    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "README.md").write_text("my notes")
    (folder / "metrics.json").write_text('{"mine": 1}')
    with pytest.raises(ValueError, match="README.md, metrics.json"):
        write_report(scored, "curvature", str(folder))
    assert (folder / "README.md").read_text() == "my notes"
    assert (folder / "metrics.json").read_text() == '{"mine": 1}'
    assert sorted(os.listdir(folder)) == ["README.md", "metrics.json"]


def test_report_rewrites_its_own_files_but_not_changed_ones(scored,
                                                            tmp_path):
    folder = tmp_path / "report"
    written = write_report(scored, "curvature", str(folder))
    manifest = json.loads((folder / MANIFEST).read_text())
    assert set(manifest["files"]) == {os.path.basename(p)
                                      for p in written.values()}
    write_report(scored, "curvature", str(folder))  # its own: replaced
    (folder / "metrics.json").write_text('{"edited": true}')
    with pytest.raises(ValueError, match="metrics.json"):
        write_report(scored, "curvature", str(folder))
    assert (folder / "metrics.json").read_text() == '{"edited": true}'


def test_report_symlinks_not_followed(scored, tmp_path):
    victim = _victim(tmp_path)
    folder = tmp_path / "report"
    folder.mkdir()
    os.symlink(victim, folder / "README.md")
    with pytest.raises(ValueError, match="README.md"):
        write_report(scored, "curvature", str(folder))
    assert victim.read_bytes() == VICTIM
    os.unlink(folder / "README.md")
    os.symlink(victim, folder / ".README.md.tmp")
    os.symlink(victim, folder / "README.md.tmp")
    write_report(scored, "curvature", str(folder))
    assert victim.read_bytes() == VICTIM
    assert not os.path.islink(folder / "README.md")


def test_report_folder_others_can_write_is_refused(scored, tmp_path):
    folder = tmp_path / "shared"
    folder.mkdir()
    os.chmod(folder, 0o777)
    with pytest.raises(ValueError, match="report folder.*chmod go-w"):
        write_report(scored, "curvature", str(folder))
    assert os.listdir(folder) == []


def test_cli_evaluate_report_refused_before_the_run(scored, tmp_path,
                                                    capsys, no_training):
    from fiftyone_curvature.cli.main import main

    folder = tmp_path / "report"
    folder.mkdir()
    (folder / "README.md").write_text("my notes")
    code = main(["evaluate", scored.name, "--label-field", "ground_truth",
                 "--key", "ev", "--epochs", "1", "--report", str(folder)])
    err = capsys.readouterr().err
    assert code != 0
    assert "README.md" in err and "Traceback" not in err
    assert (folder / "README.md").read_text() == "my notes"
    assert "ev" not in scored.list_brain_runs()


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    import errno

    x, y, cfg = _tiny()
    folder = tmp_path / "ckpt"
    train_and_track(x, y, cfg, num_classes=2, checkpoint_dir=str(folder))
    before = (folder / CHECKPOINT_NAME).read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safe_files.os, "fsync", full)
    with pytest.raises(OSError, match="state.pt.*disk is full"):
        safe_files.save_torch(str(folder / CHECKPOINT_NAME), {"a": 1})
    assert (folder / CHECKPOINT_NAME).read_bytes() == before
    assert os.listdir(folder) == [CHECKPOINT_NAME]
