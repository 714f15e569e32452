"""The ``fiftyone-curvature`` command: ``compute``, ``export``,
``write-back``, ``demo``, ``evaluate``, ``import-reference``, ``compare``."""

import argparse
import contextlib
import json
import logging
import os
import sys
import time
import traceback

from ..engine.arguments import (
    add_training_args as _add_training_args,
    tracking_kwargs as _tracking_kwargs,
)
from ..engine.constants import (
    EVAL_KEY, IMAGE_SIZE, NOISE, NOISE_KINDS, RUN_KEY,
)
from .demo import DEMO_DATASET, DEMO_EPOCHS


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="fiftyone-curvature",
        description="Find memorized, mislabeled and long-tail samples of a "
        "FiftyOne dataset by the loss curvature a network tracks over "
        "training.",
    )
    parser.add_argument("--debug", action="store_true",
                        help="on an error, also print the traceback")
    sub = parser.add_subparsers(dest="command", required=True)

    compute = sub.add_parser(
        "compute", help="score an existing FiftyOne dataset",
        description="Train on DATASET's label field and write curvature "
        "fields and saved views (a brain run keyed by --key).",
    )
    compute.add_argument("dataset", help="FiftyOne dataset name")
    compute.add_argument("--label-field", required=True,
                         help="fo.Classification field to train on")
    compute.add_argument("--key", default=RUN_KEY,
                         help="output field and brain key "
                         "(default %(default)s)")
    compute.add_argument("--image-size", type=int, default=IMAGE_SIZE,
                         help="working resolution (default %(default)s)")
    compute.add_argument("--view-tag", default=None,
                         help="only samples with this tag")
    compute.add_argument("--features", default=None,
                         help="train a head on pretrained features: an "
                         "embeddings field of the dataset or a FiftyOne "
                         "zoo model name (embedded into KEY_features); "
                         "default: from scratch on the images")
    compute.add_argument("--checkpoint-dir", default=None,
                         help="checkpoint every epoch here; rerun to "
                         "resume")
    compute.add_argument("--no-progress", action="store_true",
                         help="no progress bar")
    compute.add_argument("--skip-unreadable", action="store_true",
                         help="leave out images that cannot be decoded "
                         "(listed in the run's info) instead of failing")
    compute.add_argument("--json", action="store_true",
                         help="print one JSON object on stdout")
    compute.add_argument("--nproc", type=int, default=1,
                         help="processes of a data-parallel run (one per "
                         "GPU; gloo processes on a CPU): the dataset is "
                         "exported once and the ranks are launched with "
                         "torch's elastic launcher (default %(default)s)")
    compute.add_argument("--export-dir", default=None,
                         help="with --nproc > 1: where to export the data "
                         "(default: a temporary directory)")
    _add_training_args(compute)

    export = sub.add_parser(
        "export", help="decode a dataset once for a torchrun run",
        description="Decode DATASET's images and labels into DIR "
        "(images.npy, a memory-mapped uint8 array, plus labels, sample ids "
        "and meta.json): what every rank of `torchrun -m "
        "fiftyone_curvature.engine.worker DIR` reads.",
    )
    export.add_argument("dataset", help="FiftyOne dataset name")
    export.add_argument("dir", help="export directory (shared by the "
                        "ranks)")
    export.add_argument("--label-field", required=True,
                        help="fo.Classification field to train on")
    export.add_argument("--image-size", type=int, default=IMAGE_SIZE,
                        help="working resolution (default %(default)s)")
    export.add_argument("--view-tag", default=None,
                        help="only samples with this tag")

    back = sub.add_parser(
        "write-back", help="write a torchrun run's scores to the dataset",
        description="Write the result that the engine left in DIR (after "
        "`export` and torchrun) to DATASET: the same brain run, fields and "
        "saved views as `compute`.",
    )
    back.add_argument("dataset", help="FiftyOne dataset name")
    back.add_argument("dir", help="the export directory")
    back.add_argument("--label-field", default=None,
                      help="the exported label field (default: the one in "
                      "meta.json)")
    back.add_argument("--key", default=RUN_KEY,
                      help="output field and brain key (default "
                      "%(default)s)")
    back.add_argument("--view-tag", default=None,
                      help="the tag the export used, if any")

    demo = sub.add_parser(
        "demo", help="end-to-end demo on scikit-learn digits with label "
        "noise",
        description="Build a FiftyOne dataset from scikit-learn's digits, "
        "flip a fraction of a COPY of the labels, run curvature and print "
        "how well each score finds the flipped samples.",
    )
    demo.add_argument("--noise", type=float, default=NOISE,
                      help="fraction of labels flipped to another class "
                      "(default %(default)s)")
    demo.add_argument("--json", action="store_true",
                      help="print one JSON object on stdout")
    demo.add_argument("--dataset", default=DEMO_DATASET,
                      help="dataset name (default %(default)s; replaced "
                      "if it exists)")
    demo.add_argument("--cache-dir", default=None,
                      help="where the images are written (default "
                      "~/.cache/fiftyone-curvature/digits)")
    demo.add_argument("--limit", type=int, default=None,
                      help="use only the first N digits")
    _add_training_args(demo, DEMO_EPOCHS)
    demo.add_argument("--report", default=None, metavar="DIR",
                      help="also write a static report (PNG plots, "
                      "contact sheet) to DIR")
    _add_evaluation_parsers(sub)
    return parser


def _add_evaluation_parsers(sub):
    """The evaluate, import-reference and compare subcommands."""
    evaluate = sub.add_parser(
        "evaluate", help="measure curvature on injected label noise",
        description="Flip a known fraction of DATASET's labels (in the "
        "run's own fields; the label field is never modified), train with "
        "curvature tracking per seed and print AUROC / AP / FPR@95 / P@k "
        "of curvature and every training-dynamics score (mean ± std over "
        "seeds).",
    )
    evaluate.add_argument("dataset", help="FiftyOne dataset name")
    evaluate.add_argument("--label-field", required=True,
                          help="fo.Classification field (assumed clean)")
    evaluate.add_argument("--features", default=None,
                          help="train a head on pretrained features (an "
                          "embeddings field or a zoo model name), as "
                          "compute --features")
    evaluate.add_argument("--noise", type=float, default=NOISE,
                          help="fraction of labels flipped "
                          "(default %(default)s)")
    evaluate.add_argument("--kind", default=NOISE_KINDS[0],
                          choices=NOISE_KINDS,
                          help="symmetric: a random other class; "
                          "asymmetric: class pairs (--mapping)")
    evaluate.add_argument("--mapping", default=None,
                          help="asymmetric pairs 'src:dst,src:dst' (default "
                          "a random cycle through all classes)")
    evaluate.add_argument("--seeds", type=int, nargs="+", default=None,
                          help="one run per seed (default: --seed)")
    evaluate.add_argument("--key", default=EVAL_KEY,
                          help="run key (default %(default)s)")
    evaluate.add_argument("--image-size", type=int, default=IMAGE_SIZE,
                          help="working resolution (default %(default)s)")
    evaluate.add_argument("--json", action="store_true",
                          help="print one JSON object on stdout")
    evaluate.add_argument("--report", default=None, metavar="DIR",
                          help="also write a static report to DIR")
    evaluate.add_argument("--no-progress", action="store_true",
                          help="no progress bar")
    _add_training_args(evaluate)
    dups = evaluate.add_argument_group(
        "duplicate injection (--duplicates)",
        "Instead of flipping labels, add realistic copies (colour jitter, "
        "shifts, crops, JPEG, blur and combinations) of --num-images "
        "images per kind, each with a random other label, to a temporary "
        "clone of DATASET (never modified) and rank the copies by "
        "curvature, every training-dynamics score and the duplicate "
        "finders; prints each finder's recall per kind.",
    )
    dups.add_argument("--duplicates", action="store_true",
                      help="run the duplicate-injection evaluation")
    dups.add_argument("--num-images", type=int, default=50,
                      help="images copied per seed and kind "
                      "(default %(default)s)")
    dups.add_argument("--copies", type=int, default=1,
                      help="copies per image (default %(default)s)")
    dups.add_argument("--kinds", nargs="+", default=None, metavar="KIND",
                      help="kinds of copies (default: all of "
                      "fiftyone_curvature.engine.copies.KINDS)")
    dups.add_argument("--dup-threshold", type=float, default=None,
                      help="aligned finder threshold (default: taken from "
                      "the data)")
    dups.add_argument("--keep-datasets", action="store_true",
                      help="keep the working clones to inspect in the App")

    ref = sub.add_parser(
        "import-reference", help="import per-sample reference scores",
        description="Write a per-sample array (.npy, .npz key, or CSV with "
        "an index or filename column) into a float field of DATASET.",
    )
    ref.add_argument("dataset", help="FiftyOne dataset name")
    ref.add_argument("path", help=".npy, .npz or .csv file")
    ref.add_argument("--field", required=True, help="field to write")
    ref.add_argument("--key", default=None, help=".npz array name")
    ref.add_argument("--column", default=None, help="CSV value column")
    ref.add_argument("--index-column", default=None,
                     help="CSV column of 0-based sample positions")
    ref.add_argument("--filename-column", default=None,
                     help="CSV column of file names or paths")
    ref.add_argument("--labels-key", default=None,
                     help=".npz array of labels to check the order with "
                     "(needs --label-field)")
    ref.add_argument("--label-field", default=None,
                     help="label field the --labels-key array must match")
    ref.add_argument("--overwrite", action="store_true",
                     help="replace an existing field")

    compare = sub.add_parser(
        "compare", help="compare a score field with a reference field",
        description="Cosine, Pearson and Spearman of FIELD vs "
        "REFERENCE_FIELD, overall and on the top-k by the reference.",
    )
    compare.add_argument("dataset", help="FiftyOne dataset name")
    compare.add_argument("--field", default=RUN_KEY,
                         help="score field (default %(default)s)")
    compare.add_argument("--reference-field", required=True,
                         help="reference score field")
    compare.add_argument("--top-k", type=float, default=None,
                         help="top-k size (int) or fraction (default 10%%)")
    compare.add_argument("--json", action="store_true",
                         help="print one JSON object on stdout")


def main(argv=None):
    """Entry point of the ``fiftyone-curvature`` console script.

    Every failure prints one line ``fiftyone-curvature: error: ...`` on
    stderr (``--debug`` adds the traceback) and exits 2 (130 when
    interrupted, as argparse for bad arguments); with ``--json`` stdout
    holds ``{"error": ..., "type": ...}``.
    """
    args = _build_parser().parse_args(argv)
    # the pinned offline MongoDB (6.0) makes FiftyOne print a deprecation
    # notice on every connection; the user cannot act on it here
    logging.getLogger("fiftyone.core.odm.database").setLevel(logging.ERROR)
    handler = {
        "compute": _compute,
        "export": _export,
        "write-back": _write_back,
        "demo": _demo,
        "evaluate": _evaluate,
        "import-reference": _import_reference,
        "compare": _compare,
    }[args.command]
    as_json = getattr(args, "json", False)
    stdout = sys.stdout
    try:
        if as_json:
            # libraries print notices on stdout (e.g. FiftyOne's MongoDB
            # version warning): keep stdout for the one JSON object
            with contextlib.redirect_stdout(sys.stderr):
                payload = handler(args)
            stdout.write(json.dumps(payload) + "\n")
            stdout.flush()
            return 0
        return handler(args)
    except KeyboardInterrupt:
        return _fail(args, stdout, "interrupted", "KeyboardInterrupt", 130)
    except Exception as e:  # every error: one line, never a traceback
        return _fail(args, stdout, error_line(e), type(e).__name__, 2)


def error_line(error):
    """One line naming what went wrong: the message of the errors this
    package raises on purpose, the type and message of anything else."""
    text = " ".join(str(error).split()) or repr(error)
    if isinstance(error, (ValueError, FileNotFoundError, RuntimeError)):
        return text
    return f"{type(error).__name__}: {text}"


def _fail(args, stdout, message, kind, code):
    if getattr(args, "debug", False):

        traceback.print_exc(file=sys.stderr)
    print(f"fiftyone-curvature: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        stdout.write(json.dumps({"error": message, "type": kind}) + "\n")
        stdout.flush()
    return code


# --------------------------------------------------------------------------
# compute


def _compute(args):
    from ..sdk.compute import compute_curvature

    samples = _samples(args)
    t0 = time.perf_counter()
    results = compute_curvature(
        samples, args.label_field, curvature_field=args.key,
        image_size=args.image_size, checkpoint_dir=args.checkpoint_dir,
        progress=not (args.no_progress or args.json),
        skip_unreadable=args.skip_unreadable, nproc=args.nproc,
        export_dir=args.export_dir, features=args.features,
        **_tracking_kwargs(args),
    )
    return _print_run(args, results, time.perf_counter() - t0)


def _samples(args):
    import fiftyone as fo

    if not fo.dataset_exists(args.dataset):
        raise ValueError(
            f"No dataset {args.dataset!r}; existing ones: "
            f"{fo.list_datasets()}"
        )
    dataset = fo.load_dataset(args.dataset)
    return (dataset.match_tags(args.view_tag) if args.view_tag
            else dataset)


def _print_run(args, results, seconds):
    config = results.config
    if getattr(args, "json", False):
        return {
            "key": args.key,
            "dataset": args.dataset,
            "num_samples": int(results.num_samples),
            "seconds": round(seconds, 2),
            "model": config.tracking.get("model"),
            "fields": config.output_fields(),
            "views": list(config.views),
            "skipped": results.skipped,
            "features": getattr(config, "features", None),
            "verdict": results.label_review.get("verdict"),
        }
    if results.skipped:
        print(f"Skipped {len(results.skipped)} unreadable image(s): "
              + ", ".join(s["filepath"] for s in results.skipped[:10]))
    print(f"Curvature run {args.key!r} on {results.num_samples} samples of "
          f"{args.dataset!r} in {seconds:.1f} s "
          f"(model {config.tracking.get('model')}, "
          f"{len(results.scored_epochs)} scored epochs)")
    print("Fields: " + ", ".join(config.output_fields()))
    from ..sdk.features import verdict_sentence

    sentence = verdict_sentence(results.label_review)
    if sentence:
        print(sentence)
    _print_views(args.dataset, config.views)
    return 0


def _export(args):
    from ..sdk.distributed import export_samples

    samples = _samples(args)
    t0 = time.perf_counter()
    prepared = export_samples(samples, args.label_field, args.dir,
                              image_size=args.image_size)
    h, w = prepared.image_size
    print(f"Exported {len(prepared.sample_ids)} samples "
          f"({prepared.channels}x{h}x{w}, {len(prepared.classes)} classes) "
          f"to {args.dir} in {time.perf_counter() - t0:.1f} s")
    print("Train on it on every node with:\n  torchrun --nproc_per_node=N "
          f"-m fiftyone_curvature.engine.worker {args.dir} [--epochs ...]")
    print(f"then: fiftyone-curvature write-back {args.dataset} {args.dir}")
    return 0


def _write_back(args):

    from ..engine.datafile import META
    from ..sdk.distributed import write_back

    label_field = args.label_field
    if label_field is None:
        path = os.path.join(args.dir, META)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No export in {args.dir!r} (no {META})")
        with open(path) as f:
            label_field = json.load(f)["label_field"]
    samples = _samples(args)
    t0 = time.perf_counter()
    results = write_back(samples, label_field, args.dir,
                         curvature_field=args.key, progress=False)
    _print_run(args, results, time.perf_counter() - t0)
    return 0


def _print_views(dataset_name, names):
    if not names:
        return
    print("Saved views:")
    for name in names:
        print(f"  {name}")
    print(
        "Open them in the App: fiftyone app launch "
        f"{dataset_name}  (then pick a saved view), or in Python:\n"
        f"  session = fo.launch_app(fo.load_dataset({dataset_name!r})"
        f".load_saved_view({names[0]!r}))"
    )


# --------------------------------------------------------------------------
# demo


def _demo(args):
    from ..sdk.compute import compute_curvature
    from .demo import (
        demo_scores, demo_views, format_view_table, make_digits_dataset,
    )

    _check_report(args.report)
    t0 = time.perf_counter()
    dataset = make_digits_dataset(
        args.dataset, noise=args.noise, seed=args.seed,
        cache_dir=args.cache_dir, limit=args.limit,
    )
    results = compute_curvature(
        dataset, "label", curvature_field=RUN_KEY,
        progress=not args.json, **_tracking_kwargs(args),
    )
    table = demo_scores(dataset)
    review = demo_views(dataset)
    seconds = time.perf_counter() - t0
    views = list(results.config.views)
    report = _write_report(dataset, RUN_KEY, args.report,
                           corrupted_field="flipped")
    if args.json:
        return {
            "n": len(dataset),
            "noise": args.noise,
            "flipped": int(sum(dataset.values("flipped"))),
            "epochs": args.epochs,
            "scores": table,
            "seconds": round(seconds, 2),
            "dataset": dataset.name,
            "views": views,
            "view_review": review,
            "report": report,
        }
    n_flip = int(sum(dataset.values("flipped")))
    print(f"\nDigits: {len(dataset)} images, {n_flip} labels flipped "
          f"({args.noise:.0%} symmetric noise) in field 'label'; true "
          f"labels in 'ground_truth', flipped samples marked 'flipped'.")
    print(f"Finding the flipped labels ({seconds:.0f} s, "
          f"{args.epochs} epochs, model {results.config.tracking['model']}):"
          "\n")
    print(f"  {'score':<16}{'AUROC':>8}{'AP':>8}{'FPR@95':>8}")
    for name, row in table.items():
        cells = "".join(
            f"{row[m]:>8.3f}" if row[m] is not None else f"{'-':>8}"
            for m in ("auroc", "ap", "fpr95")
        )
        print(f"  {name:<16}{cells}")
    print("\n(AUROC 0.5 = chance; AP of a random ranking = the noise rate. "
          "aum and dm_confidence are negated: low = suspicious. "
          "dm_variability measures ambiguity, not mislabeling: labels the "
          "network never learns vary little, so it ranks them LOW.)\n")
    print("What the saved views hold:\n")
    print(format_view_table(review))
    print()
    _print_views(dataset.name, views)
    if report:
        print(f"Report: {report}")
    return 0


def _check_report(directory):
    """Refuses a ``--report`` folder before any work (see
    :func:`fiftyone_curvature.sdk.report.check_report_folder`)."""
    if directory:
        from ..sdk.report import check_report_folder

        check_report_folder(directory)


def _write_report(samples, key, directory, corrupted_field=None):
    """Writes the static report when ``directory`` is given; returns the
    path of its README.md (or None)."""
    if not directory:
        return None
    from ..sdk.report import write_report

    return write_report(samples, key, directory,
                        corrupted_field=corrupted_field)["readme"]


# --------------------------------------------------------------------------
# evaluate, import-reference, compare


def _load(name):
    import fiftyone as fo

    if not fo.dataset_exists(name):
        raise ValueError(
            f"No dataset {name!r}; existing ones: {fo.list_datasets()}"
        )
    return fo.load_dataset(name)


def _evaluate(args):
    from ..sdk.evaluation import evaluate_corruption
    from ..sdk.options import parse_mapping

    if args.duplicates:
        return _evaluate_duplicates(args)
    dataset = _load(args.dataset)
    _check_report(args.report)
    kwargs = _tracking_kwargs(args)
    seed = kwargs.pop("seed")
    seeds = args.seeds or [seed]
    t0 = time.perf_counter()
    results = evaluate_corruption(
        dataset, args.label_field, noise=args.noise, kind=args.kind,
        seeds=seeds, key=args.key, mapping=parse_mapping(args.mapping),
        image_size=args.image_size, features=args.features,
        progress=not (args.no_progress or args.json), **kwargs,
    )
    seconds = time.perf_counter() - t0
    report = _write_report(dataset, args.key, args.report)
    if args.json:
        payload = results.to_summary_dict()
        payload.update(dataset=dataset.name, wall_seconds=round(seconds, 2),
                       epochs=results.config.tracking.get("epochs"),
                       model=results.config.tracking.get("model"),
                       report=report)
        return payload
    corrupted = [int(c.sum()) for c in results.corrupted]
    print(f"\nEvaluation {args.key!r} on {results.num_samples} samples of "
          f"{dataset.name!r}: {args.kind} noise {args.noise:g}, "
          f"{corrupted} labels flipped per seed, seeds {seeds}, "
          f"{results.config.tracking.get('epochs')} epochs, model "
          f"{results.config.tracking.get('model')}, {seconds:.0f} s\n")
    print(results.table())
    print("\n(mean ± std over seeds; every score oriented higher = more "
          "suspicious; P@k = precision = recall at k = number flipped)")
    if results.reviews:
        print("\nWhat the views would hold (mean over seeds):\n")
        print(results.review_table())
    epochs = results.epoch_auroc_summary()
    if epochs["epochs"]:
        print("Curvature AUROC per scored epoch: " + ", ".join(
            f"{e}:{m:.2f}" for e, m in zip(epochs["epochs"],
                                           epochs["mean"])))
    _print_views(dataset.name, results.config.views)
    if report:
        print(f"Report: {report}")
    return 0


def _evaluate_duplicates(args):
    from ..sdk.duplicate_injection import evaluate_duplicates

    if args.report or args.mapping or args.kind != "symmetric":
        raise ValueError("--report, --kind and --mapping do not apply to "
                         "--duplicates")
    dataset = _load(args.dataset)
    kwargs = _tracking_kwargs(args)
    seeds = args.seeds or [kwargs.pop("seed")]
    kwargs.pop("seed", None)
    t0 = time.perf_counter()
    results = evaluate_duplicates(
        dataset, args.label_field, num_images=args.num_images,
        copies=args.copies, seeds=seeds, kinds=args.kinds,
        threshold=args.dup_threshold,
        image_size=args.image_size, keep_datasets=args.keep_datasets,
        progress=not (args.no_progress or args.json), **kwargs,
    )
    seconds = time.perf_counter() - t0
    if args.json:
        payload = results.to_summary_dict()
        payload.update(dataset=dataset.name, wall_seconds=round(seconds, 2))
        return payload
    tracking = results.config["tracking"]
    print(f"\nDuplicate evaluation on {dataset.name!r}: {results.num_images}"
          f" images x {results.copies} copies with other labels per kind "
          f"({len(results.kinds)} kinds) added to a clone "
          f"({results.num_samples} samples), seeds {seeds}, "
          f"{tracking['epochs']} epochs, model {tracking['model']}, "
          f"{seconds:.0f} s\n")
    print(results.table())
    print("\n(positives: the injected copies; their originals count as "
          "negatives. dup_aligned / dup_pixels / dup_embeddings: distance "
          "to the nearest image with another label; dup_flag_curvature: "
          "the aligned finder's flag, ties broken by curvature)\n")
    print("Recall of the planted copies per kind (copy found in one group "
          "with its source):\n")
    print(results.kind_text())
    print()
    for seed, finder in zip(seeds, results.finder):
        print(f"seed {seed}: " + "; ".join(
            f"{name} flagged {f['injected_flagged']}/{f['injected']} "
            f"copies, {f['sources_flagged']} originals, "
            f"{f['others_flagged']} others"
            for name, f in finder.items()))
    if results.datasets:
        print("Working datasets kept: " + ", ".join(results.datasets))
    return 0


def _import_reference(args):
    from ..sdk.reference import import_reference

    dataset = _load(args.dataset)
    if (args.labels_key is None) != (args.label_field is None):
        raise ValueError("--labels-key and --label-field go together")
    written = import_reference(
        dataset, args.path, args.field, key=args.key, column=args.column,
        index_column=args.index_column,
        filename_column=args.filename_column, labels=args.labels_key,
        label_field=args.label_field, overwrite=args.overwrite,
    )
    print(f"Wrote {written} values of {args.path} into {args.field!r} of "
          f"{dataset.name!r} ({len(dataset)} samples)")
    return 0


def _compare(args):
    from ..sdk.reference import compare_scores

    dataset = _load(args.dataset)
    top_k = args.top_k
    if top_k is not None and top_k >= 1:
        top_k = int(top_k)
    out = compare_scores(dataset, args.field, args.reference_field,
                         top_k=top_k)
    if args.json:
        return out

    def row(name, d):
        cells = "".join(
            f"{d[m]:>10.3f}" if d[m] is not None else f"{'-':>10}"
            for m in ("cosine", "pearson", "spearman")
        )
        return f"  {name:<22}{cells}{d['n']:>8}"

    print(f"{args.field!r} vs reference {args.reference_field!r} "
          f"({out['missing']} samples without both values left out):\n")
    print(f"  {'':<22}{'cosine':>10}{'pearson':>10}{'spearman':>10}"
          f"{'n':>8}")
    print(row("all samples", out["overall"]))
    print(row(f"top {out['top_k']['k']} by reference", out["top_k"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
