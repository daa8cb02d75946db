"""ResNets in plain torch (no torchvision) for the vision algorithms (spec algorithms.md §2.15–2.17).

``num_layers`` takes SageMaker Image Classification's values: the ImageNet depths 18, 34 (basic blocks)
and 50, 101, 152, 200 (bottleneck blocks), four stages of 64/128/256/512 base channels after a 7×7
stride-2 stem and a max-pool; and the CIFAR-style depths 20, 32, 44, 56, 110: three stages of
``(num_layers - 2) / 6`` basic blocks with 16/32/64 channels after a 3×3 stem.

:func:`resnet` is the classifier; :class:`ResNetFeatures` returns the C3/C4/C5 feature maps (strides 8,
16, 32 for the ImageNet depths; 1, 2, 4 for the CIFAR depths) that detection and segmentation heads build
on. Torch is imported lazily by the helpers that need it; the module itself needs torch at import.
"""

from __future__ import annotations

import torch
from torch import nn

IMAGENET_DEPTHS: dict[int, tuple[str, tuple[int, ...]]] = {
    18: ("basic", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}
CIFAR_DEPTHS: tuple[int, ...] = (20, 32, 44, 56, 110)
NUM_LAYERS: tuple[int, ...] = (*IMAGENET_DEPTHS, *CIFAR_DEPTHS)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        nn.init.zeros_(self.bn2.weight)  # each block starts as the identity: trains well from scratch
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        nn.init.zeros_(self.bn3.weight)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _shortcut(inplanes, planes * self.expansion, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _shortcut(inplanes: int, outplanes: int, stride: int) -> nn.Module | None:
    if stride == 1 and inplanes == outplanes:
        return None
    return nn.Sequential(nn.Conv2d(inplanes, outplanes, 1, stride, bias=False), nn.BatchNorm2d(outplanes))


def _check_depth(num_layers: int) -> None:
    if num_layers not in NUM_LAYERS:
        allowed = ", ".join(str(n) for n in NUM_LAYERS)
        raise ValueError(f"num_layers must be one of {allowed}, got {num_layers}")


class ResNetFeatures(nn.Module):
    """The ResNet trunk; ``forward`` returns ``[C3, C4, C5]``. ``channels`` / ``strides`` describe them.

    ``dilate_last``: run the last stage (ImageNet depths: the last two) with dilation instead of stride,
    keeping C5 at stride 16 (or 8), as DeepLab/PSP heads want."""

    def __init__(self, num_layers: int, in_channels: int = 3, dilate_last: int = 0) -> None:
        super().__init__()
        _check_depth(num_layers)
        self.num_layers = num_layers
        self.cifar = num_layers in CIFAR_DEPTHS
        if self.cifar:
            block: type[BasicBlock] | type[Bottleneck] = BasicBlock
            counts: tuple[int, ...] = ((num_layers - 2) // 6,) * 3
            widths: tuple[int, ...] = (16, 32, 64)
            strides: tuple[int, ...] = (1, 2, 2)
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(inplace=True)
            )
            inplanes, base_stride = 16, 1
        else:
            kind, counts = IMAGENET_DEPTHS[num_layers]
            block = BasicBlock if kind == "basic" else Bottleneck
            widths, strides = (64, 128, 256, 512), (1, 2, 2, 2)
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False),
                nn.BatchNorm2d(64),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(3, 2, 1),
            )
            inplanes, base_stride = 64, 4
        stages = []
        out_strides = []
        current, dilation = base_stride, 1
        n_stages = len(counts)
        for index, (count, width, stride) in enumerate(zip(counts, widths, strides)):
            if index >= n_stages - dilate_last and stride > 1:
                dilation *= stride
                stride = 1
            current *= stride
            layers = [block(inplanes, width, stride, dilation if stride == 1 else 1)]
            inplanes = width * block.expansion
            layers += [block(inplanes, width, 1, dilation) for _ in range(count - 1)]
            stages.append(nn.Sequential(*layers))
            out_strides.append(current)
        self.stages = nn.ModuleList(stages)
        widths_out = [w * block.expansion for w in widths]
        self.channels: tuple[int, ...] = tuple(widths_out[-3:])
        self.strides: tuple[int, ...] = tuple(out_strides[-3:])
        self.out_channels = widths_out[-1]
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stem(x)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs[-3:]


class ResNetClassifier(nn.Module):
    """Trunk, global average pool, fully connected layer to ``num_classes`` logits."""

    def __init__(self, num_layers: int, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        self.features = ResNetFeatures(num_layers, in_channels)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.features.out_channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c5 = self.features(x)[-1]
        return self.fc(torch.flatten(self.pool(c5), 1))


def resnet(num_layers: int, num_classes: int, in_channels: int = 3) -> ResNetClassifier:
    """A ResNet classifier of SageMaker's ``num_layers`` depth (see the module docstring)."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be positive, got {num_classes}")
    return ResNetClassifier(num_layers, num_classes, in_channels)
