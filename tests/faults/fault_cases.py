"""Plain pieces the fault tests import (a module of its own: every test
folder has a conftest.py, so ``from conftest import`` could find another
folder's)."""

import os

#: the cheapest real run: one epoch, scored, on 8x8 digits
FAST = dict(epochs=1, score_every=1, progress=False)


def bad_image_files(folder):
    """A zero-byte file, a truncated PNG and a text file named .png."""
    import numpy as np
    from PIL import Image

    os.makedirs(folder, exist_ok=True)
    empty = os.path.join(folder, "empty.png")
    open(empty, "wb").close()
    full = os.path.join(folder, "full.png")
    Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8)
    ).save(full)
    data = open(full, "rb").read()
    truncated = os.path.join(folder, "truncated.png")
    with open(truncated, "wb") as f:
        f.write(data[: len(data) // 2])
    text = os.path.join(folder, "text.png")
    with open(text, "w") as f:
        f.write("not an image")
    return {"empty": empty, "truncated": truncated, "text": text}
