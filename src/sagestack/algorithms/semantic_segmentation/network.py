"""Segmentation networks in plain torch: a ResNet encoder (C3, C4, C5) and one of three decoders on C5,
as ``algorithm`` says — ``fcn`` (Long et al. 2015: a 3×3 conv head), ``psp`` (Zhao et al. 2017: pyramid
pooling over 1, 2, 3 and 6 bins) or ``deeplab`` (DeepLab-V3, Chen et al. 2017: atrous spatial pyramid
pooling with image-level pooling). The head's output is upsampled to the stride-8 C3 map and joined with
a projection of it (a skip connection, as FCN-8s does), classified per pixel and upsampled to the input.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

MID = 128
SKIP = 48
ASPP_RATES = (2, 4, 6)
PSP_BINS = (1, 2, 3, 6)


def _cbr(cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> nn.Sequential:
    padding = dilation * (kernel // 2)
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, padding=padding, dilation=dilation, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class FCNHead(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.block = nn.Sequential(_cbr(cin, MID), nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.block(x)


class PSPHead(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        branch = max(cin // len(PSP_BINS), 16)
        self.stages = nn.ModuleList(
            nn.Sequential(nn.AdaptiveAvgPool2d(b), _cbr(cin, branch, 1)) for b in PSP_BINS
        )
        self.project = nn.Sequential(_cbr(cin + branch * len(PSP_BINS), MID), nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        pooled = [F.interpolate(s(x), size, mode="bilinear", align_corners=False) for s in self.stages]
        return self.project(torch.cat([x, *pooled], 1))


class ASPPHead(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branches = nn.ModuleList([_cbr(cin, MID, 1), *(_cbr(cin, MID, 3, r) for r in ASPP_RATES)])
        self.pool = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(cin, MID, 1, bias=False), nn.ReLU(inplace=True)
        )
        self.project = nn.Sequential(_cbr(MID * (len(ASPP_RATES) + 2), MID, 1), nn.Dropout(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        outs = [b(x) for b in self.branches]
        outs.append(F.interpolate(self.pool(x), size, mode="bilinear", align_corners=False))
        return self.project(torch.cat(outs, 1))


HEADS = {"fcn": FCNHead, "psp": PSPHead, "deeplab": ASPPHead}


class SegmentationNetwork(nn.Module):
    def __init__(self, backbone: str, algorithm: str, num_classes: int):
        super().__init__()
        from sagestack.algorithms.vision.backbones import ResNetFeatures

        # PSP and DeepLab run the last stage dilated (C5 at stride 16), as GluonCV's dilated ResNets
        self.encoder = ResNetFeatures(int(backbone.split("-")[1]), dilate_last=0 if algorithm == "fcn" else 1)
        with torch.no_grad():
            was = self.encoder.training
            self.encoder.eval()
            c3, _c4, c5 = self.encoder(torch.zeros(1, 3, 64, 64))
            self.encoder.train(was)
        self.head = HEADS[algorithm](c5.shape[1])
        self.skip = _cbr(c3.shape[1], SKIP, 1)
        self.fuse = _cbr(MID + SKIP, MID)
        self.classifier = nn.Conv2d(MID, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-pixel class logits ``(B, num_classes, H, W)``."""
        c3, _c4, c5 = self.encoder(x)
        h = F.interpolate(self.head(c5), c3.shape[2:], mode="bilinear", align_corners=False)
        h = self.fuse(torch.cat([h, self.skip(c3)], 1))
        return F.interpolate(self.classifier(h), x.shape[2:], mode="bilinear", align_corners=False)
