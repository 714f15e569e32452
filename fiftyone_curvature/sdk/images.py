"""FiftyOne samples -> uint8 image tensors, class indices and sample ids."""

import dataclasses
import os
import tempfile

import numpy as np
from PIL import Image

import fiftyone.core.labels as fol
import fiftyone.core.media as fom

from ..engine.constants import IMAGE_SIZE, MIN_SIDE
from .options import check_arguments

#: PIL modes read as one grayscale channel
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F")

#: decoded images larger than this (bytes of the (N, C, H, W) uint8 array)
#: are written to an unlinked temporary file in $TMPDIR and memory-mapped,
#: so that training streams them from disk batch by batch instead of
#: holding them in RAM. 50,000 images at 32 px are 150 MB (in memory); at
#: 128 px, 2.4 GB (streamed)
STREAM_BYTES = 2 << 30


class UnreadableImagesError(ValueError):
    """Some images could not be decoded (zero-byte, truncated, not an
    image).

    Attributes:
        failures: list of ``(path, reason)``, every failing file
    """

    def __init__(self, failures, total):
        self.failures = list(failures)
        shown = "; ".join(f"{p} ({r})" for p, r in self.failures[:20])
        more = (f"; and {len(self.failures) - 20} more"
                if len(self.failures) > 20 else "")
        super().__init__(
            f"{len(self.failures)} of {total} images cannot be read: "
            f"{shown}{more}. Fix or remove them, or pass "
            "skip_unreadable=True to leave them out (they are listed in "
            "the run's results as skipped)")

    @property
    def paths(self):
        return [p for p, _ in self.failures]


@dataclasses.dataclass
class PreparedData:
    """The training data of a run, in the order of ``sample_ids``.

    Attributes:
        sample_ids: list of N sample ids
        inputs: (N, C, H, W) uint8 array
        targets: (N,) int64 class indices into ``classes``
        classes: list of K class names
        image_size: (H, W) the working resolution
        channels: C (1 when every image is grayscale, else 3)
        resized: whether any image was resized
        skipped: list of ``{"id", "filepath", "reason"}`` of the samples
            left out because their image could not be read
    """

    sample_ids: list
    inputs: np.ndarray
    targets: np.ndarray
    classes: list
    image_size: tuple
    channels: int
    resized: bool
    skipped: list = dataclasses.field(default_factory=list)


def validate_label_field(samples, label_field):
    """Raises ValueError unless ``label_field`` is a Classification field."""

    if samples.media_type != fom.IMAGE:
        raise ValueError(
            f"Curvature needs an image collection; this one has media type "
            f"{samples.media_type!r}"
        )
    schema = samples.get_field_schema(flat=True)
    if label_field not in schema:
        fields = sorted(
            name
            for name in schema
            if "." not in name
            and samples._is_label_field(name, fol.Classification)
        )
        raise ValueError(
            f"The collection has no field {label_field!r}; its "
            f"Classification fields are {fields}"
        )
    if not samples._is_label_field(label_field, fol.Classification):
        field = schema[label_field]
        doc_type = getattr(field, "document_type", None)
        kind = doc_type.__name__ if doc_type else type(field).__name__
        raise ValueError(
            f"Field {label_field!r} holds {kind}; curvature needs a "
            "single-label fo.Classification field"
        )


def get_classes(samples, label_field, classes=None):
    """The class list of a run.

    Args:
        samples: a FiftyOne collection
        label_field: an fo.Classification field
        classes (None): an explicit list of class names (its order defines
            the class indices); None = the sorted distinct labels

    Returns:
        a list of class names

    Raises:
        ValueError: fewer than two classes, duplicates in ``classes``, or
            labels that ``classes`` does not list
    """
    present = samples.distinct(f"{label_field}.label")
    if classes is None:
        classes = sorted(present)
    else:
        classes = list(classes)
        if len(set(classes)) != len(classes):
            raise ValueError("The given classes contain duplicates")
        unknown = sorted(set(present) - set(classes))
        if unknown:
            raise ValueError(
                f"Labels {unknown[:10]} of {label_field!r} are not in the "
                f"given classes"
            )
    if len(classes) < 2:
        raise ValueError(
            f"Curvature needs at least two classes; {label_field!r} has "
            f"{classes}"
        )
    return classes


def read_targets(samples, label_field, classes=None, *fields):
    """The ids, (N,) int64 class indices of the labels, the class names
    and the values of ``fields`` of a collection, in collection order.

    Raises:
        ValueError: an empty collection or samples without a label
    """
    ids, labels, *values = samples.values(
        ["id", f"{label_field}.label", *fields])
    if not ids:
        raise ValueError("The collection is empty")
    missing = [i for i, label in zip(ids, labels) if label is None]
    if missing:
        raise ValueError(
            f"{len(missing)} of {len(ids)} samples have no {label_field!r} "
            f"label (e.g. {missing[:3]}); run on "
            f"samples.exists({label_field!r}) instead"
        )
    classes = get_classes(samples, label_field, classes)
    index = {c: i for i, c in enumerate(classes)}
    targets = np.array([index[label] for label in labels], dtype=np.int64)
    return (ids, targets, classes, *values)


def prepare_data(
    samples,
    label_field,
    classes=None,
    image_size=IMAGE_SIZE,
    progress=None,
    skip_unreadable=False,
    check_shape=None,
    allocate=None,
):
    """Reads a collection's images and labels for training.

    Args:
        samples: a FiftyOne image collection
        label_field: an fo.Classification field; every sample needs a label
        classes (None): see :func:`get_classes`
        image_size (32): working resolution. When every image has the same
            size and neither side exceeds ``image_size``, images keep their
            native size (8x8 digits stay 8x8); otherwise each image is
            resized to ``image_size x image_size`` (bilinear, antialiased,
            aspect ratio not kept). None keeps native sizes, which must
            then all agree
        progress (None): callable receiving ``(done, total)`` while images
            are decoded
        skip_unreadable (False): leave out the samples whose image cannot
            be decoded (listed in ``PreparedData.skipped``) instead of
            raising
        check_shape (None): callable receiving the (N, C, H, W) shape of
            the data once the image headers are read, before decoding
            (e.g. a memory check that raises)
        allocate (None): see :func:`read_images`

    Returns:
        a :class:`PreparedData`

    Raises:
        ValueError: not an image collection, a label field of another type,
            missing labels, fewer than two classes, or images of different
            sizes with ``image_size=None``
        FileNotFoundError: some images are missing on disk
        UnreadableImagesError: some images cannot be decoded (all named)
    """
    image_size = check_arguments(image_size=image_size,
                                 classes=classes)["image_size"]
    validate_label_field(samples, label_field)
    ids, targets, classes, paths = read_targets(samples, label_field,
                                                classes, "filepath")
    skipped = []
    try:
        inputs, size, channels, resized = read_images(
            paths, image_size, progress=progress, check_shape=check_shape,
            allocate=allocate,
        )
    except UnreadableImagesError as e:
        if not skip_unreadable:
            raise
        reasons = dict(e.failures)
        keep = [i for i, p in enumerate(paths) if p not in reasons]
        skipped = [{"id": ids[i], "filepath": p, "reason": reasons[p]}
                   for i, p in enumerate(paths) if p in reasons]
        if not keep:
            raise ValueError(f"None of the {len(paths)} images can be "
                             f"read; e.g. {e.failures[:3]}") from None
        ids = [ids[i] for i in keep]
        paths = [paths[i] for i in keep]
        targets = targets[keep]
        if len(set(targets.tolist())) < 2:
            raise ValueError(
                "Fewer than two classes are left once the unreadable images "
                "are skipped") from None
        inputs, size, channels, resized = read_images(
            paths, image_size, progress=progress, check_shape=check_shape,
            allocate=allocate,
        )
    return PreparedData(
        sample_ids=list(ids),
        inputs=inputs,
        targets=targets,
        classes=classes,
        image_size=size,
        channels=channels,
        resized=resized,
        skipped=skipped,
    )


def read_images(paths, image_size=IMAGE_SIZE, progress=None, check_shape=None,
                allocate=None):
    """Decodes images into one uint8 array.

    Args:
        paths: list of N image paths
        image_size (32): see :func:`prepare_data`
        progress (None): callable receiving ``(done, total)``
        check_shape (None): callable receiving the (N, C, H, W) shape
            before any image is decoded
        allocate (None): callable ``shape -> writable uint8 array`` that
            receives the decoded images (e.g. an export's memory-mapped
            file); None: memory, or a temporary file as below

    Returns:
        a tuple ``(inputs, (H, W), channels, resized)`` with ``inputs`` an
        (N, C, H, W) uint8 array; a ``numpy.memmap`` backed by an unlinked
        temporary file when it is larger than :data:`STREAM_BYTES`
    """

    absent = [p for p in paths if not os.path.isfile(p)]
    if absent:
        raise FileNotFoundError(
            f"{len(absent)} of {len(paths)} images are missing on disk, "
            f"e.g. {absent[:3]}"
        )
    sizes, gray, failures = set(), True, {}
    for path in paths:
        try:
            with Image.open(path) as im:
                sizes.add((im.height, im.width))
                gray = gray and im.mode in GRAY_MODES
        except Exception as e:  # zero-byte, not an image, bomb, ...
            failures[path] = _reason(path, e)
    if not sizes:
        raise UnreadableImagesError(failures.items(), len(paths))
    channels = 1 if gray else 3
    if len(sizes) == 1 and (
        image_size is None or max(next(iter(sizes))) <= image_size
    ):
        size, resized = next(iter(sizes)), False
    elif image_size is None:
        raise ValueError(
            f"Images have {len(sizes)} different sizes (e.g. "
            f"{sorted(sizes)[:3]}); pass an image_size to resize them"
        )
    else:
        size, resized = (image_size, image_size), True
    if min(size) < MIN_SIDE:
        raise ValueError(
            f"Images are {size[0]}x{size[1]} pixels; curvature needs at "
            f"least {MIN_SIDE}x{MIN_SIDE} (images keep their native size "
            "when it is under image_size)")
    shape = (len(paths), channels, size[0], size[1])
    if check_shape is not None:
        check_shape(shape)
    if allocate is not None:
        out = allocate(shape)
    elif int(np.prod(shape)) > STREAM_BYTES:

        # the file has no name on disk: it disappears with the array
        out = np.memmap(tempfile.TemporaryFile(prefix="fiftyone_curvature_"),
                        dtype=np.uint8, mode="w+", shape=shape)
    else:
        out = np.empty(shape, np.uint8)
    mode = "L" if channels == 1 else "RGB"
    for i, path in enumerate(paths):
        if path in failures:
            continue
        try:
            with Image.open(path) as im:
                out[i] = _to_array(im, mode, size)
        except Exception as e:  # truncated data fails only when decoded
            failures[path] = _reason(path, e)
        if progress is not None and (i + 1) % 256 == 0:
            progress(i + 1, len(paths))
    if failures:
        raise UnreadableImagesError(
            [(p, failures[p]) for p in paths if p in failures], len(paths))
    if progress is not None:
        progress(len(paths), len(paths))
    return out, size, channels, resized


def _reason(path, error):
    """A short reason why the image at ``path`` cannot be read."""
    if os.path.getsize(path) == 0:
        return "empty file"
    text = str(error).splitlines()[0] if str(error) else ""
    text = text.replace(repr(path), "").replace(path, "").strip(" :")
    return f"{type(error).__name__}: {text}"[:120]


def _to_array(im, mode, size):

    if im.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        # deep grayscale: scale the image's own range to 0-255
        a = np.asarray(im, dtype=np.float64)
        lo, hi = float(a.min()), float(a.max())
        a = (a - lo) / (hi - lo) * 255.0 if hi > lo else a * 0.0
        im = Image.fromarray(a.round().astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (
        im.mode == "P" and "transparency" in im.info
    ):
        # composite transparent images on black
        im = im.convert("RGBA")
        background = Image.new("RGBA", im.size, (0, 0, 0, 255))
        im = Image.alpha_composite(background, im)
    im = im.convert(mode)
    if (im.height, im.width) != tuple(size):
        im = im.resize((size[1], size[0]), Image.BILINEAR)
    a = np.asarray(im, dtype=np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
