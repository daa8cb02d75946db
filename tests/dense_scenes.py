"""Synthetic images for the Object Detection and Semantic Segmentation tests: 64×64 noisy backgrounds
with one or two shapes — class 0 a red rectangle, class 1 a blue ellipse (the segmentation mask adds
background as class 0 and shifts the shapes to 1 and 2)."""

from __future__ import annotations

import io
import json

import numpy as np

SIZE = 64
COLOURS = ((220, 40, 40), (40, 60, 220))


def _png(array: np.ndarray, mode: str | None = None) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(array, mode=mode).save(out, format="PNG")
    return out.getvalue()


def scene(rng: np.random.Generator, size: int = SIZE):
    """``(png bytes, objects [[class, xmin, ymin, xmax, ymax] normalised], mask (H, W) uint8)``."""
    image = rng.integers(90, 150, (size, size, 3)).astype(np.float32)
    mask = np.zeros((size, size), dtype=np.uint8)
    objects = []
    count = int(rng.integers(1, 3))
    taken = np.zeros((size, size), dtype=bool)
    for _ in range(count):
        for _attempt in range(20):
            w, h = (int(v) for v in rng.integers(size // 5, size // 2, 2))
            x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            if not taken[y0 : y0 + h, x0 : x0 + w].any():
                break
        else:
            continue
        taken[y0 : y0 + h, x0 : x0 + w] = True
        cls = int(rng.integers(0, 2))
        yy, xx = np.mgrid[0:size, 0:size]
        if cls == 0:
            inside = (xx >= x0) & (xx < x0 + w) & (yy >= y0) & (yy < y0 + h)
        else:
            cx, cy = x0 + w / 2 - 0.5, y0 + h / 2 - 0.5
            inside = ((xx - cx) / (w / 2)) ** 2 + ((yy - cy) / (h / 2)) ** 2 <= 1.0
        image[inside] = np.asarray(COLOURS[cls]) + rng.normal(0, 12, (int(inside.sum()), 3))
        mask[inside] = cls + 1
        objects.append([cls, x0 / size, y0 / size, (x0 + w) / size, (y0 + h) / size])
    png = _png(image.clip(0, 255).astype(np.uint8))
    return png, np.asarray(objects, dtype=np.float32), mask


def scenes(n: int, seed: int, size: int = SIZE):
    rng = np.random.default_rng(seed)
    return [scene(rng, size) for _ in range(n)]


def mask_png(mask: np.ndarray) -> bytes:
    return _png(mask, "L")


def annotation_json(name: str, objects: np.ndarray, size: int = SIZE) -> bytes:
    """The image-mode annotation JSON (pixels) of one image."""
    return json.dumps(
        {
            "file": name,
            "image_size": [{"width": size, "height": size, "depth": 3}],
            "annotations": [
                {
                    "class_id": int(o[0]),
                    "left": float(o[1] * size),
                    "top": float(o[2] * size),
                    "width": float((o[3] - o[1]) * size),
                    "height": float((o[4] - o[2]) * size),
                }
                for o in objects
            ],
            "categories": [{"class_id": 0, "name": "rectangle"}, {"class_id": 1, "name": "ellipse"}],
        }
    ).encode()


def box_iou(a, b) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def detection_hits(predictions: list, objects: np.ndarray, threshold: float = 0.5) -> int:
    """How many ground-truth objects the best-scoring detections of their class cover at IoU ≥ 0.5
    (each object is matched against the top detections, as many as there are objects, plus two)."""
    top = sorted(predictions, key=lambda row: -row[1])[: len(objects) + 2]
    hits = 0
    for obj in objects:
        if any(int(row[0]) == int(obj[0]) and box_iou(row[2:6], obj[1:5]) >= threshold for row in top):
            hits += 1
    return hits


def mean_iou(pred: np.ndarray, truth: np.ndarray, classes: int) -> float:
    ious = []
    for c in range(classes):
        inter = np.sum((pred == c) & (truth == c))
        union = np.sum((pred == c) | (truth == c))
        if union:
            ious.append(inter / union)
    return float(np.mean(ious))
