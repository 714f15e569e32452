"""The embedded demo dataset: scikit-learn's digits with flipped labels."""

import os

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from ..engine.constants import NOISE, RUN_KEY
from ..engine.safe_files import ensure_dir, save_image

DEMO_DATASET = "curvature-demo-digits"
#: ``dataset.info["created_by"]`` of a demo dataset (with
#: ``info["demo_dataset_id"]``, its own id, so that a clone is not one):
#: only such a dataset is ever replaced by :func:`make_digits_dataset`
CREATED_BY = "fiftyone-curvature demo"
#: training epochs of the demo (the README's demo table was measured at it)
DEMO_EPOCHS = 15


def default_cache_dir():
    """Where the demo writes its images: ``$XDG_CACHE_HOME`` (or
    ``~/.cache``) ``/fiftyone-curvature``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(
        os.path.expanduser("~"), ".cache"
    )
    return os.path.join(base, "fiftyone-curvature")


def make_digits_dataset(name=DEMO_DATASET, noise=NOISE, seed=0,
                        cache_dir=None, limit=None):
    """Builds a FiftyOne dataset of scikit-learn's 1,797 8x8 digits.

    Images are written once as PNGs under ``cache_dir``. ``ground_truth``
    keeps the true labels; ``label`` is a copy in which a ``noise``
    fraction was flipped to a uniformly random other class (symmetric
    noise); ``flipped`` marks those samples.

    Args:
        name (DEMO_DATASET): dataset name; an existing dataset of that name
            is replaced only when a demo created it (its
            ``info["created_by"]`` is :data:`CREATED_BY`)
        noise (0.1): fraction of labels flipped, in [0, 1)
        seed (0): seed of the flip
        cache_dir (None): image folder (default
            ~/.cache/fiftyone-curvature/digits)
        limit (None): use only the first ``limit`` digits

    Returns:
        a persistent fo.Dataset

    Raises:
        ValueError: ``noise`` out of range, a dataset ``name`` exists that
            the demo did not create, or an image folder owned or writable
            by another user
    """

    import fiftyone as fo

    if not 0.0 <= noise < 1.0:
        raise ValueError(f"noise must be in [0, 1), got {noise}")
    check_demo_name(name)
    digits = load_digits()
    images = (digits.images * (255.0 / 16.0)).round().astype(np.uint8)
    truth = digits.target.astype(int)
    if limit is not None:
        images, truth = images[:limit], truth[:limit]
    folder = cache_dir or os.path.join(default_cache_dir(), "digits")
    ensure_dir(folder, "demo image folder")
    rng = np.random.default_rng(seed)
    n = len(truth)
    flipped = np.zeros(n, bool)
    flipped[rng.choice(n, int(round(noise * n)), replace=False)] = True
    noisy = truth.copy()
    for i in np.flatnonzero(flipped):
        noisy[i] = rng.choice([c for c in range(10) if c != truth[i]])
    samples = []
    for i in range(n):
        path = os.path.join(folder, f"digit_{i:04d}.png")
        if not os.path.isfile(path):
            save_image(path, Image.fromarray(images[i], "L"))
        samples.append(fo.Sample(
            filepath=path,
            ground_truth=fo.Classification(label=str(truth[i])),
            label=fo.Classification(label=str(noisy[i])),
            flipped=bool(flipped[i]),
        ))
    dataset = fo.Dataset(name, overwrite=True, persistent=True)
    dataset.add_samples(samples, progress=False)
    dataset.info["created_by"] = CREATED_BY
    dataset.info["demo_dataset_id"] = str(dataset._doc.id)
    dataset.info["demo"] = {
        "source": "sklearn.datasets.load_digits",
        "noise": noise,
        "seed": seed,
        "noisy_field": "label",
        "truth_field": "ground_truth",
    }
    dataset.save()
    return dataset


def check_demo_name(name):
    """Raises ValueError when a dataset ``name`` exists that a demo did not
    create (the demo never replaces a user's dataset)."""
    import fiftyone as fo

    if not isinstance(name, str) or not name:
        raise ValueError(f"The demo dataset name must be a non-empty "
                         f"string, got {name!r}")
    if not fo.dataset_exists(name):
        return
    dataset = fo.load_dataset(name)
    info = dataset.info or {}
    if (info.get("created_by") != CREATED_BY
            or info.get("demo_dataset_id") != str(dataset._doc.id)):
        raise ValueError(
            f"A dataset {name!r} exists and was not created by the demo; "
            "it is never replaced: choose another --dataset name (or "
            f"delete it yourself: fiftyone datasets delete {name!r})")


def demo_scores(dataset, key=RUN_KEY):
    """AUROC / AP / FPR@95 of curvature and every training-dynamics score
    for finding the ``flipped`` samples of a demo dataset.

    Returns:
        a dict name -> {"auroc", "ap", "fpr95"}, curvature first
    """

    from ..engine.dynamics import SCORES, suspicion
    from ..engine.metrics import score_table

    view = dataset.exists(key)
    flipped = np.array(view.values("flipped"), bool)
    scores = {}
    for name in ("curvature",) + tuple(SCORES):
        field = key if name == "curvature" else f"{key}_{name}"
        values = np.array(
            [np.nan if v is None else v for v in view.values(field)],
            dtype=np.float64,
        )
        scores[name] = suspicion(name, values)
    return score_table(flipped, scores)


def demo_views(dataset, key=RUN_KEY):
    """How well the saved views of a demo run find the ``flipped`` samples,
    read back from the dataset as a user would.

    Returns:
        a dict with ``views`` (saved view name -> ``{"size", "positives",
        "precision", "recall"}``), ``suggested_accuracy`` (suggested label
        == ``ground_truth`` on the flipped samples), ``estimated_errors``
        and ``injected``
    """

    from ..engine.metrics import view_quality

    ids = dataset.values("id")
    flipped = np.array(dataset.values("flipped"), bool)
    row = {sid: i for i, sid in enumerate(ids)}
    views = {}
    for name in dataset.get_brain_info(key).config.views:
        members = np.zeros(len(ids), bool)
        members[[row[i] for i in
                 dataset.load_saved_view(name).values("id")]] = True
        views[name] = view_quality(members, flipped)
    suggested, truth = dataset.values(
        [f"{key}_suggested_label.label", "ground_truth.label"])
    hits = [s == t for s, t, f in zip(suggested, truth, flipped) if f]
    review = dataset.load_brain_results(key).label_review
    return {
        "views": views,
        "suggested_accuracy": float(np.mean(hits)) if hits else None,
        "estimated_errors": review.get("estimated_errors"),
        "injected": int(flipped.sum()),
        "verdict": review.get("verdict"),
        "rank_by": review.get("rank_by"),
    }


def format_view_table(review):
    """The rows of :func:`demo_views` as text, then the suggested-label
    accuracy and the error estimate."""
    from ..sdk.evaluation_runs import view_table

    from ..sdk.features import verdict_sentence

    accuracy = review["suggested_accuracy"]
    judged = verdict_sentence({"verdict": review.get("verdict")})
    return view_table(review["views"], indent="  ") + (
        f"\n  views ranked by {review.get('rank_by')}; suggested label = "
        f"true label on "
        f"{'-' if accuracy is None else f'{accuracy:.2f}'} of the flipped "
        f"samples; estimated wrong labels {review['estimated_errors']} "
        f"(flipped: {review['injected']})"
        + (f"\n  {judged}" if judged else ""))
