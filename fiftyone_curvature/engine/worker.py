"""What every rank runs: ``torchrun ... -m fiftyone_curvature.engine.worker
EXPORT_DIR [training options]``.

Reads the export directory (:mod:`fiftyone_curvature.engine.datafile`),
joins the process group torchrun describes (NCCL on GPUs, gloo on the
CPU), trains and scores its share of the samples, and, on rank 0, writes
``result.pt`` / ``model.pt`` / ``progress.json`` into the directory.
Outside torchrun (or with one process) it is a plain single-process run.
Never imports FiftyOne.
"""

import argparse
import dataclasses
import logging
import os
import sys
import time

#: testing hook: the rank named here raises after its first epoch (how the
#: tests check that a dying rank ends the whole run with its error)
FAIL_RANK_ENV = "FIFTYONE_CURVATURE_TEST_FAIL_RANK"

logger = logging.getLogger("fiftyone_curvature.engine.worker")


def build_parser():
    from .arguments import add_training_args

    parser = argparse.ArgumentParser(
        prog="python -m fiftyone_curvature.engine.worker",
        description="One rank of a curvature run on an exported data "
        "directory (start it with torchrun).",
    )
    parser.add_argument("export_dir", help="directory written by "
                        "`fiftyone-curvature export`")
    parser.add_argument("--checkpoint-dir", default=None,
                        help="checkpoint every epoch here (a directory "
                        "every rank can read); rerun, with any number of "
                        "processes, to resume")
    add_training_args(parser)
    return parser


def rank_device(name, local_rank):
    """The device of this rank: GPU ``local_rank`` when the config asks
    for CUDA (or "auto" finds it), else the CPU. The config keeps the
    plain name ("cuda" / "cpu") so that checkpoints are rank-independent.
    """
    import torch

    from .source import resolve_device

    device = resolve_device(name)
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        return torch.device("cuda")
    return device


def run(argv=None):
    """Parses the arguments and runs this rank; returns the result on rank
    0 (None on the others)."""
    import torch

    from .arguments import tracking_kwargs
    from .config import TrackingConfig
    from .datafile import load_export, save_result, write_progress
    from .distributed import env_world, init_process_group
    from . import performance
    from .training import train_and_track

    args = build_parser().parse_args(argv)
    rank, world, local_rank, local_world = env_world()
    logging.basicConfig(
        level=logging.INFO if rank == 0 else logging.WARNING,
        stream=sys.stderr,
        format=f"[rank {rank}/{world}] %(asctime)s %(message)s")
    data = load_export(args.export_dir)
    cfg = TrackingConfig.resolve(**tracking_kwargs(args, flagged_ok=True))
    device = rank_device(cfg.device, local_rank)
    cfg = dataclasses.replace(cfg, device=device.type)
    if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
        # the ranks of a machine share its cores
        torch.set_num_threads(
            max(1, performance.available_cpus() // local_world))
    if cfg.threads == "auto":
        # ranks time nothing: each takes its share (set above), the same
        # count on every rank
        cfg = dataclasses.replace(cfg, threads=None)
    dist = init_process_group(device) if world > 1 else None
    progress = _progress(args.export_dir, rank, write_progress)
    t0 = time.perf_counter()
    try:
        result = train_and_track(
            data.inputs, data.targets, cfg, num_classes=len(data.classes),
            checkpoint_dir=args.checkpoint_dir, progress=progress, dist=dist)
    finally:
        if dist is not None:
            import torch.distributed

            torch.distributed.destroy_process_group()
    if result is not None:
        save_result(args.export_dir, result)
        logger.info(
            "%d samples, %d ranks, %d epochs in %.1f s (train %.1f s, "
            "score %.1f s); result in %s", len(data.targets), world, cfg.epochs,
            time.perf_counter() - t0, result.train_seconds,
            result.score_seconds, args.export_dir)
    return result


def _progress(directory, rank, write):
    fail = os.environ.get(FAIL_RANK_ENV)
    # every epoch's dict so far: the launcher polls the file and must not
    # miss an epoch that ends between two polls
    entries = []

    def progress(info):
        if rank == 0:
            entries.append(info)
            write(directory, entries)
        if fail is not None:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.barrier()  # rank 0 has saved this epoch
            if int(fail) != rank:
                return
            raise RuntimeError(f"injected failure on rank {rank} after "
                               f"epoch {info['epoch']} ({FAIL_RANK_ENV})")

    return progress


def main(argv=None):
    """Console entry: runs this rank, recording an uncaught error for the
    launcher (torchrun reports the failing rank's error)."""
    from torch.distributed.elastic.multiprocessing.errors import record

    record(run)(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
