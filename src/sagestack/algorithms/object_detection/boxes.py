"""SSD's box arithmetic in plain torch: anchors, IoU, matching, box coding, batched NMS and VOC mAP.

Boxes are ``(xmin, ymin, xmax, ymax)`` normalised to [0, 1]; anchors are generated as ``(cx, cy, w, h)``
and converted. Box coding is SSD's (Liu et al. 2016) with variances ``(0.1, 0.1, 0.2, 0.2)``.
"""

from __future__ import annotations

import math

import numpy as np
import torch

VARIANCES = (0.1, 0.2)


def anchor_sizes(levels: int, s_min: float = 0.2, s_max: float = 0.9) -> list[tuple[float, float]]:
    """Per feature level, (scale, next scale) spread linearly from ``s_min`` to ``s_max`` (SSD §2.2)."""
    if levels == 1:
        scales = [s_min, s_max]
    else:
        scales = [s_min + (s_max - s_min) * k / (levels - 1) for k in range(levels)] + [1.0]
    return [(scales[k], scales[k + 1]) for k in range(levels)]


RATIOS = (1.0, 2.0, 0.5)
ANCHORS_PER_CELL = len(RATIOS) + 1


def make_anchors(feature_sizes: list[int]) -> torch.Tensor:
    """Corner-form anchors ``(A, 4)`` for square feature maps of the given sizes, level by level, each
    cell's anchors together (the order the SSD heads' outputs are flattened in)."""
    out = []
    for (scale, following), size in zip(anchor_sizes(len(feature_sizes)), feature_sizes):
        shapes = [(scale * math.sqrt(r), scale / math.sqrt(r)) for r in RATIOS]
        extra = math.sqrt(scale * following)
        shapes.append((extra, extra))
        centers = (torch.arange(size, dtype=torch.float32) + 0.5) / size
        cy, cx = torch.meshgrid(centers, centers, indexing="ij")
        cells = torch.stack([cx.reshape(-1), cy.reshape(-1)], 1)  # (size*size, 2)
        wh = torch.tensor(shapes, dtype=torch.float32)  # (k, 2)
        centre = cells[:, None, :].expand(-1, len(shapes), -1)
        sizes = wh[None].expand(cells.shape[0], -1, -1)
        out.append(torch.cat([centre - sizes / 2, centre + sizes / 2], -1).reshape(-1, 4))
    return torch.cat(out).clamp(0.0, 1.0)


def iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of corner boxes ``a (N, 4)`` and ``b (M, 4)`` → ``(N, M)``."""
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).clamp(min=0).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).clamp(min=0).prod(-1)
    return inter / (area_a[:, None] + area_b[None, :] - inter).clamp(min=1e-12)


def _center(boxes: torch.Tensor) -> torch.Tensor:
    return torch.cat([(boxes[..., :2] + boxes[..., 2:]) / 2, boxes[..., 2:] - boxes[..., :2]], -1)


def encode(matched: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Regression targets of corner boxes ``matched`` against ``anchors`` (same shape)."""
    m, a = _center(matched), _center(anchors)
    xy = (m[..., :2] - a[..., :2]) / (a[..., 2:] * VARIANCES[0])
    wh = torch.log(m[..., 2:].clamp(min=1e-6) / a[..., 2:]) / VARIANCES[1]
    return torch.cat([xy, wh], -1)


def decode(offsets: torch.Tensor, anchors: torch.Tensor) -> torch.Tensor:
    """Corner boxes from regression outputs (the inverse of :func:`encode`)."""
    a = _center(anchors)
    xy = a[..., :2] + offsets[..., :2] * VARIANCES[0] * a[..., 2:]
    wh = a[..., 2:] * torch.exp((offsets[..., 2:] * VARIANCES[1]).clamp(max=8.0))
    return torch.cat([xy - wh / 2, xy + wh / 2], -1)


def match(
    gt_boxes: torch.Tensor, gt_classes: torch.Tensor, anchors: torch.Tensor, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """SSD matching of one image: each ground truth takes its best anchor, then every anchor whose best
    IoU reaches ``threshold``. Returns ``(labels (A,), targets (A, 4))``: label 0 is background, class
    ``c`` is ``c + 1``."""
    count = anchors.shape[0]
    if gt_boxes.numel() == 0:
        return torch.zeros(count, dtype=torch.long), torch.zeros(count, 4)
    overlaps = iou(gt_boxes, anchors)  # (G, A)
    best_gt_iou, best_gt = overlaps.max(0)
    best_anchor = overlaps.argmax(1)
    best_gt_iou[best_anchor] = 2.0
    best_gt[best_anchor] = torch.arange(gt_boxes.shape[0])
    labels = gt_classes[best_gt] + 1
    labels[best_gt_iou < threshold] = 0
    return labels, encode(gt_boxes[best_gt], anchors)


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression: indices kept, by decreasing score."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    order = scores.argsort(descending=True)
    overlaps = iou(boxes[order], boxes[order])
    suppressed = torch.zeros(order.numel(), dtype=torch.bool)
    keep = []
    for i in range(order.numel()):
        if suppressed[i]:
            continue
        keep.append(i)
        suppressed |= overlaps[i] > threshold
    return order[torch.tensor(keep, dtype=torch.long)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, classes: torch.Tensor, threshold: float):
    """NMS within each class at once: boxes of different classes are shifted apart so never overlap."""
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long)
    shifted = boxes + (classes.to(boxes.dtype) * 4.0)[:, None]
    return nms(shifted, scores, threshold)


def detect(
    class_logits: torch.Tensor,
    offsets: torch.Tensor,
    anchors: torch.Tensor,
    nms_threshold: float,
    score_floor: float = 0.01,
    pre_nms: int = 400,
    keep_top: int = 100,
) -> list[torch.Tensor]:
    """Per image, rows ``[class, score, xmin, ymin, xmax, ymax]`` (classes 0-based, by score)."""
    probs = torch.softmax(class_logits, -1)[..., 1:]  # (B, A, C) without background
    boxes = decode(offsets, anchors[None]).clamp(0.0, 1.0)
    results = []
    for b in range(probs.shape[0]):
        p = probs[b]
        flat = p.reshape(-1)
        candidates = (flat > score_floor).nonzero().squeeze(1)
        if candidates.numel() > pre_nms:
            candidates = candidates[flat[candidates].topk(pre_nms).indices]
        anchor_ids = candidates // p.shape[1]
        cls = candidates % p.shape[1]
        scores = flat[candidates]
        chosen = boxes[b][anchor_ids]
        kept = batched_nms(chosen, scores, cls, nms_threshold)[:keep_top]
        results.append(torch.cat([cls[kept, None].float(), scores[kept, None], chosen[kept]], 1))
    return results


def average_precision(recall: np.ndarray, precision: np.ndarray) -> float:
    """Area under the interpolated precision/recall curve (VOC 2010+ style)."""
    r = np.concatenate([[0.0], recall, [1.0]])
    p = np.concatenate([[0.0], precision, [0.0]])
    for i in range(p.size - 2, -1, -1):
        p[i] = max(p[i], p[i + 1])
    steps = np.where(r[1:] != r[:-1])[0]
    return float(np.sum((r[steps + 1] - r[steps]) * p[steps + 1]))


def mean_average_precision(
    detections: list[np.ndarray], truths: list[np.ndarray], num_classes: int, iou_threshold: float = 0.5
) -> float:
    """VOC mAP over images: ``detections[i]`` rows ``[class, score, box…]``, ``truths[i]`` rows
    ``[class, box…]``; classes without ground truth are left out of the mean."""
    aps = []
    for c in range(num_classes):
        scored: list[tuple[float, int, np.ndarray]] = []
        gts: dict[int, np.ndarray] = {}
        total = 0
        for i, (det, gt) in enumerate(zip(detections, truths)):
            g = gt[gt[:, 0] == c][:, 1:5] if len(gt) else np.zeros((0, 4))
            gts[i] = g
            total += len(g)
            for row in det[det[:, 0] == c] if len(det) else []:
                scored.append((float(row[1]), i, row[2:6]))
        if total == 0:
            continue
        scored.sort(key=lambda item: -item[0])
        used = {i: np.zeros(len(g), dtype=bool) for i, g in gts.items()}
        tp = np.zeros(len(scored))
        for k, (_, i, box) in enumerate(scored):
            g = gts[i]
            if len(g) == 0:
                continue
            overlaps = iou(
                torch.tensor(box[None], dtype=torch.float32), torch.tensor(g, dtype=torch.float32)
            )[0]
            j = int(overlaps.argmax())
            if float(overlaps[j]) >= iou_threshold and not used[i][j]:
                used[i][j] = True
                tp[k] = 1
        if not scored:
            aps.append(0.0)
            continue
        cum_tp = np.cumsum(tp)
        recall = cum_tp / total
        precision = cum_tp / np.arange(1, len(scored) + 1)
        aps.append(average_precision(recall, precision))
    return float(np.mean(aps)) if aps else 0.0
