"""Model factory: classifiers by name, each split into features and head."""

import torch
from torch import nn

from .config import HEAD_MODELS, MODELS


class Classifier(nn.Module):
    """A feature extractor followed by a linear head.

    ``forward(x)`` maps (B, C, H, W) inputs to (B, K) logits;
    ``embed(x)`` returns the (B, D) penultimate features.
    """

    def __init__(self, features, num_features, num_classes):
        super().__init__()
        self.features = features
        self.head = nn.Linear(num_features, num_classes)

    def embed(self, x):
        return self.features(x)

    def forward(self, x):
        return self.head(self.features(x))


def _conv_bn(cin, cout, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class _BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False),
                nn.BatchNorm2d(cout),
            )

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


def small_cnn(in_channels, num_classes, width=32):
    """Three conv layers; for tiny images (8x8 digits) and quick CPU runs."""
    w = width
    features = nn.Sequential(
        _conv_bn(in_channels, w),
        _conv_bn(w, 2 * w),
        nn.MaxPool2d(2),
        _conv_bn(2 * w, 4 * w),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return Classifier(features, 4 * w, num_classes)


def small_resnet(in_channels, num_classes, width=32):
    """CIFAR-style ResNet, stages of width w-2w-4w (0.3M params at w=32)."""
    w = width
    features = nn.Sequential(
        _conv_bn(in_channels, w),
        _BasicBlock(w, w, 1),
        _BasicBlock(w, 2 * w, 2),
        _BasicBlock(2 * w, 4 * w, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )
    return Classifier(features, 4 * w, num_classes)


def resnet18(in_channels, num_classes, width=64):
    """torchvision ResNet-18 with a CIFAR stem (3x3 conv, no max-pool)."""
    from torchvision.models import resnet18 as tv_resnet18

    net = tv_resnet18(num_classes=num_classes, width_per_group=64)
    if width != 64:
        raise ValueError("resnet18 supports only width=64")
    net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
    net.maxpool = nn.Identity()
    num_features = net.fc.in_features
    net.fc = nn.Identity()
    return Classifier(net, num_features, num_classes)


_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh,
                "silu": nn.SiLU}


def mlp_head(in_features, num_classes, width=512, depth=1,
             activation="gelu"):
    """A head for (B, D) feature vectors: ``depth`` hidden layers of
    ``width`` units with a smooth activation, then a linear layer.

    A linear softmax head has an input Hessian W^T (diag p - p p^T) W that
    does not depend on the label; a hidden layer with a smooth activation
    makes the curvature of the loss w.r.t. the features depend on it
    (docs/features.md has the measurements behind the default).
    """
    if activation not in _ACTIVATIONS:
        raise ValueError(f"Unknown activation {activation!r}; valid ones "
                         f"are {tuple(_ACTIVATIONS)}")
    layers, cin = [], in_features
    for _ in range(depth):
        layers += [nn.Linear(cin, width), _ACTIVATIONS[activation]()]
        cin = width
    return Classifier(nn.Sequential(*layers), cin, num_classes)


def linear_head(in_features, num_classes, width=None):
    """A linear softmax classifier on (B, D) feature vectors (logistic
    regression); its input curvature ignores the label."""
    return Classifier(nn.Identity(), in_features, num_classes)


_FACTORIES = {
    "small_cnn": small_cnn,
    "small_resnet": small_resnet,
    "resnet18": resnet18,
    "mlp_head": mlp_head,
    "linear_head": linear_head,
}


def auto_model_name(image_size, device_type):
    """The model "auto" picks for images of side ``image_size`` (None:
    (N, D) feature vectors, which get the MLP head)."""
    if image_size is None:
        return "mlp_head"
    if image_size < 16:
        return "small_cnn"
    return "resnet18" if device_type == "cuda" else "small_resnet"


def build_model(name, in_channels, num_classes, width=None, features=None):
    """Builds a classifier by name.

    Args:
        name: one of :data:`MODELS`
        in_channels: input channels (1 grayscale, 3 RGB), or D for the
            heads on (B, D) features (:data:`HEAD_MODELS`)
        num_classes: number of classes K
        width (None): base width; None uses the model's default
        features (None): True when the inputs are (B, D) feature vectors,
            False for images: a model of the other kind raises ValueError
            (None: not checked)

    Returns:
        a :class:`Classifier` mapping (B, C, H, W) (or (B, D)) to (B, K)
        logits
    """
    if name not in _FACTORIES:
        raise ValueError(f"Unknown model {name!r}; valid ones are {MODELS}")
    if features is not None and features != (name in HEAD_MODELS):
        raise ValueError(
            f"model {name!r} takes "
            + ("(N, D) feature vectors" if name in HEAD_MODELS
               else "images (N, C, H, W)")
            + "; these inputs are "
            + ("(N, D) feature vectors: use one of "
               f"{HEAD_MODELS} or 'auto'" if features else
               "images: use one of "
               f"{tuple(m for m in MODELS if m not in HEAD_MODELS)} or "
               "'auto'"))
    kwargs = {} if width is None else {"width": int(width)}
    return _FACTORIES[name](in_channels, num_classes, **kwargs)
