"""The SSD network (Liu et al. 2016) in plain torch: a base network's feature maps (VGG-16 with batch
norm: ``conv4_3`` and ``fc7``; ResNet: C3, C4, C5), extra stride-2 layers down to a 1×1 map (six maps at
most), and per map a 3×3 convolution predicting, for each of its anchors, class scores (background
first) and box offsets. Feature-map sizes are found by running the base once at ``image_shape``.
"""

from __future__ import annotations

import torch
from torch import nn

from sagestack.algorithms.object_detection.boxes import ANCHORS_PER_CELL, make_anchors

MAX_LEVELS = 6
VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512)


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1, padding: int = 1, dilation: int = 1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class VGGBase(nn.Module):
    """VGG-16 (with batch norm) as SSD uses it: ``conv4_3`` (stride 8) and ``fc7`` (stride 16, a
    dilated 3×3 ``fc6`` and a 1×1 ``fc7`` in place of the fully connected layers)."""

    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for item in VGG16:
            if item == "M":
                layers.append(nn.MaxPool2d(2, 2, ceil_mode=True))
            else:
                layers.append(_conv(cin, int(item)))
                cin = int(item)
        self.conv4 = nn.Sequential(*layers)
        self.conv5 = nn.Sequential(
            nn.MaxPool2d(2, 2, ceil_mode=True), _conv(512, 512), _conv(512, 512), _conv(512, 512)
        )
        self.fc = nn.Sequential(
            nn.MaxPool2d(3, 1, 1), _conv(512, 1024, 3, 1, 6, 6), _conv(1024, 1024, 1, 1, 0)
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        c4 = self.conv4(x)
        return [c4, self.fc(self.conv5(c4))]


class ResNetBase(nn.Module):
    """A ResNet's C3, C4 and C5 maps (strides 8, 16, 32)."""

    def __init__(self, num_layers: int):
        super().__init__()
        from sagestack.algorithms.vision.backbones import ResNetFeatures

        self.body = ResNetFeatures(num_layers)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        return list(self.body(x))


def make_base(name: str) -> nn.Module:
    if name == "vgg-16":
        return VGGBase()
    return ResNetBase(int(name.split("-")[1]))


class SSD(nn.Module):
    def __init__(self, base_network: str, num_classes: int, image_shape: int):
        super().__init__()
        self.num_classes = num_classes
        self.base = make_base(base_network)
        with torch.no_grad():
            was = self.base.training
            self.base.eval()
            maps = self.base(torch.zeros(1, 3, image_shape, image_shape))
            self.base.train(was)
        channels = [m.shape[1] for m in maps]
        sizes = [m.shape[2] for m in maps]
        self.extras = nn.ModuleList()
        cin = channels[-1]
        while sizes[-1] > 1 and len(sizes) < MAX_LEVELS:
            self.extras.append(nn.Sequential(_conv(cin, 256, 1, 1, 0), _conv(256, 512, 3, 2, 1)))
            cin = 512
            channels.append(512)
            sizes.append((sizes[-1] - 1) // 2 + 1)
        self.classifiers = nn.ModuleList(
            nn.Conv2d(c, ANCHORS_PER_CELL * (num_classes + 1), 3, padding=1) for c in channels
        )
        self.regressors = nn.ModuleList(nn.Conv2d(c, ANCHORS_PER_CELL * 4, 3, padding=1) for c in channels)
        self.feature_sizes = sizes
        self.register_buffer("anchors", make_anchors(sizes), persistent=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(class logits (B, A, C+1), box offsets (B, A, 4))``."""
        maps = self.base(x)
        h = maps[-1]
        for extra in self.extras:
            h = extra(h)
            maps.append(h)
        batch = x.shape[0]
        logits = [
            c(m).permute(0, 2, 3, 1).reshape(batch, -1, self.num_classes + 1)
            for c, m in zip(self.classifiers, maps)
        ]
        offsets = [r(m).permute(0, 2, 3, 1).reshape(batch, -1, 4) for r, m in zip(self.regressors, maps)]
        return torch.cat(logits, 1), torch.cat(offsets, 1)


def multibox_loss(
    logits: torch.Tensor,
    offsets: torch.Tensor,
    labels: torch.Tensor,
    targets: torch.Tensor,
    neg_ratio: int = 3,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cross_entropy, smooth_l1)`` per positive anchor, with 3:1 hard negative mining."""
    from torch.nn import functional as F

    positive = labels > 0
    positives = positive.sum(1, keepdim=True)
    ce = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), reduction="none").view_as(
        labels
    )
    background = ce.detach().clone()
    background[positive] = -1.0
    rank = background.argsort(1, descending=True).argsort(1)
    negative = rank < (positives * neg_ratio).clamp(min=neg_ratio)
    count = positives.sum().clamp(min=1).float()
    cls_loss = ce[positive | negative].sum() / count
    loc_loss = F.smooth_l1_loss(offsets[positive], targets[positive], reduction="sum") / count
    return cls_loss, loc_loss
