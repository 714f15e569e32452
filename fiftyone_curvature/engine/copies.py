"""Realistic near-duplicate copies of an image, for duplicate-injection
evaluations (numpy and PIL; no FiftyOne, no torch).

Every maker takes one uint8 image as a (C, H, W) array (C = 1 grayscale or
3 RGB; a PIL image is accepted too) and a ``numpy.random.Generator`` and
returns a uint8 (C, H, W) array of the SAME shape, so copies can be stored
next to their sources. Parameters are drawn from documented ranges with
the generator, so a seed reproduces a copy exactly.

Kinds (:data:`KINDS`):

- ``reencode``  JPEG at quality 85-95 (the old evaluation's only kind)
- ``jpeg``      JPEG at quality 50-95
- ``jitter``    colour jitter: brightness, contrast, saturation factors in
                [0.7, 1.3], hue shift in [-0.05, 0.05] of the colour circle
                (saturation and hue are no-ops on grayscale)
- ``translate`` shift by 1-3 px on 32 px images (1 px on 8 px; 10% of the
                side, at least 1) in a random direction, the border
                replicated
- ``crop``      crop of 80-100% of the side (same fraction for both axes,
                random position), resized back to the full size (bicubic)
- ``blur``      Gaussian blur, sigma 0.5-1.0 px at >= 16 px (0.3-0.6 px on
                smaller images)
- ``jitter+crop+jpeg``, ``translate+blur+jpeg``, ``jitter+translate``,
  ``all`` (jitter, crop, blur, jpeg): combinations, applied in that order
"""

import io

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter


def to_pil(image):
    """(C, H, W) uint8 array (or a PIL image) -> PIL image ("L" or "RGB")."""
    if isinstance(image, Image.Image):
        return image.convert("L" if image.mode in ("1", "L") else "RGB")
    a = np.asarray(image, dtype=np.uint8)
    if a.ndim == 2:
        return Image.fromarray(a, "L")
    if a.shape[0] == 1:
        return Image.fromarray(a[0], "L")
    return Image.fromarray(np.ascontiguousarray(a.transpose(1, 2, 0)), "RGB")


def to_array(im):
    """PIL image -> (C, H, W) uint8 array."""
    a = np.asarray(im, dtype=np.uint8)
    return a[None].copy() if a.ndim == 2 else a.transpose(2, 0, 1).copy()


# --------------------------------------------------------------------------
# single transformations (PIL in, PIL out)


def jpeg(im, rng, quality=(50, 95)):
    """JPEG re-encode at a quality drawn uniformly from ``quality``
    (inclusive)."""
    q = int(rng.integers(quality[0], quality[1] + 1))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    buf.seek(0)
    with Image.open(buf) as out:
        return out.convert(im.mode)


def reencode(im, rng):
    """JPEG re-encode at quality 85-95."""
    return jpeg(im, rng, quality=(85, 95))


def _shift_hue(im, shift):
    hsv = np.asarray(im.convert("HSV"), dtype=np.int16).copy()
    hsv[..., 0] = (hsv[..., 0] + int(round(shift * 256))) % 256
    return Image.fromarray(hsv.astype(np.uint8), "HSV").convert("RGB")


def jitter(im, rng, brightness=0.3, contrast=0.3, saturation=0.3, hue=0.05):
    """Colour jitter as torchvision's ColorJitter: factors drawn from
    [1 - x, 1 + x] for brightness, contrast and saturation, a hue shift
    from [-hue, hue] of the colour circle, applied in a random order.
    Saturation and hue are skipped on grayscale images."""
    ops = [
        lambda m: ImageEnhance.Brightness(m).enhance(
            rng.uniform(1 - brightness, 1 + brightness)),
        lambda m: ImageEnhance.Contrast(m).enhance(
            rng.uniform(1 - contrast, 1 + contrast)),
    ]
    if im.mode == "RGB":
        ops += [
            lambda m: ImageEnhance.Color(m).enhance(
                rng.uniform(1 - saturation, 1 + saturation)),
            lambda m: _shift_hue(m, rng.uniform(-hue, hue)),
        ]
    for k in rng.permutation(len(ops)):
        im = ops[k](im)
    return im


def translate(im, rng, max_shift=None):
    """Shift by 1..``max_shift`` px (default 10% of the side, at least 1)
    along a random direction (each axis -s..s, not both 0), borders
    replicated."""
    a = to_array(im)
    side = min(a.shape[1:])
    if max_shift is None:
        max_shift = max(1, int(round(0.1 * side)))
    while True:
        dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
        if dy or dx:
            break
    pad = max_shift
    p = np.pad(a, ((0, 0), (pad, pad), (pad, pad)), mode="edge")
    h, w = a.shape[1:]
    out = p[:, pad - dy:pad - dy + h, pad - dx:pad - dx + w]
    return to_pil(out)


def crop(im, rng, scale=(0.8, 1.0)):
    """Crop a square-proportioned window of ``scale`` (fraction of each
    side, uniform) at a random position and resize it back (bicubic)."""
    w, h = im.size
    f = rng.uniform(*scale)
    cw, ch = max(1.0, f * w), max(1.0, f * h)
    x0 = rng.uniform(0, w - cw)
    y0 = rng.uniform(0, h - ch)
    return im.resize((w, h), Image.BICUBIC, box=(x0, y0, x0 + cw, y0 + ch))


def blur(im, rng, sigma=None):
    """Gaussian blur with sigma drawn from ``sigma`` (default 0.5-1.0 px,
    0.3-0.6 px on images smaller than 16 px)."""
    if sigma is None:
        sigma = (0.5, 1.0) if min(im.size) >= 16 else (0.3, 0.6)
    return im.filter(ImageFilter.GaussianBlur(rng.uniform(*sigma)))


#: transformation kind -> the single transformations applied in order
KINDS = {
    "reencode": (reencode,),
    "jpeg": (jpeg,),
    "jitter": (jitter,),
    "translate": (translate,),
    "crop": (crop,),
    "blur": (blur,),
    "jitter+crop+jpeg": (jitter, crop, jpeg),
    "translate+blur+jpeg": (translate, blur, jpeg),
    "jitter+translate": (jitter, translate),
    "all": (jitter, crop, blur, jpeg),
}

#: kinds that are a single transformation; the others are combinations
SINGLE = ("reencode", "jpeg", "jitter", "translate", "crop", "blur")


def make_copy(image, kind, rng):
    """A transformed copy of one image.

    Args:
        image: (C, H, W) uint8 array or PIL image
        kind: a key of :data:`KINDS`
        rng: numpy Generator

    Returns:
        (C, H, W) uint8 array, the shape of ``image``
    """
    im = to_pil(image)
    for op in KINDS[kind]:
        im = op(im, rng)
    return to_array(im)


def make_copies(images, kind, seed=0):
    """Copies of a batch: (N, C, H, W) uint8 -> (N, C, H, W) uint8, one
    generator seeded with ``seed`` for the batch."""
    rng = np.random.default_rng(seed)
    return np.stack([make_copy(im, kind, rng) for im in images])
