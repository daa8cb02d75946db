"""Detection labels in the three shapes SageMaker takes, as ``(N, 5)`` float32 arrays of
``[class, xmin, ymin, xmax, ymax]`` normalised to [0, 1].

* The packed label row of ``.rec``/``.lst`` files (MXNet's detection format): ``A`` (header width,
  usually 2), ``B`` (numbers per object, at least 5), ``A - 2`` more header numbers, then objects of ``B``
  numbers each, ``[class, xmin, ymin, xmax, ymax, …]`` normalised; rows of class -1 are padding.
* The annotation JSON of image mode (one per image in ``train_annotation``): ``{"file": …,
  "image_size": [{"width", "height", "depth"}], "annotations": [{"class_id", "left", "top", "width",
  "height"}, …]}`` in pixels.
* Ground Truth's bounding-box attribute of an augmented manifest: the same ``image_size`` +
  ``annotations`` object.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError

EMPTY = np.zeros((0, 5), dtype=np.float32)


def from_packed(labels: Sequence[float], where: str, num_classes: int) -> np.ndarray:
    """Objects of a packed detection label row."""
    row = np.asarray(labels, dtype=np.float32)
    if row.size < 2:
        raise AlgorithmClientError(
            f"{where}: the label is not a detection label row (header width, object width, objects…)"
        )
    header, width = int(row[0]), int(row[1])
    whole = (row.size - header) // width * width if header >= 2 and width >= 5 else -1
    if whole < 0 or np.any(row[header + whole :] != -1):
        raise AlgorithmClientError(
            f"{where}: bad detection label header (header width {header}, object width {width}, "
            f"{row.size} numbers); expected header width >= 2, object width >= 5 and whole objects "
            f"(then -1 padding)"
        )
    objects = row[header : header + whole].reshape(-1, width)[:, :5]
    objects = objects[objects[:, 0] >= 0]
    return _checked(objects, where, num_classes)


def from_annotation(doc: Any, where: str, num_classes: int, image_size: tuple[int, int] | None = None):
    """Objects of an annotation JSON / Ground Truth bounding-box attribute (pixels → normalised);
    ``image_size`` ``(width, height)`` stands in when the document has none."""
    if isinstance(doc, (bytes, str)):
        try:
            doc = json.loads(doc)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AlgorithmClientError(f"{where}: the annotation is not valid JSON ({exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list):
        raise AlgorithmClientError(
            f"{where}: the annotation must be a JSON object with an 'annotations' list"
        )
    width, height = image_size or (0, 0)
    sizes = doc.get("image_size")
    if isinstance(sizes, list) and sizes and isinstance(sizes[0], dict):
        width, height = sizes[0].get("width", width), sizes[0].get("height", height)
    try:
        width, height = float(width), float(height)
    except (TypeError, ValueError):
        width = height = 0.0
    if width <= 0 or height <= 0:
        raise AlgorithmClientError(f"{where}: the annotation has no usable image_size (width, height)")
    rows = []
    for number, item in enumerate(doc["annotations"]):
        try:
            left, top = float(item["left"]), float(item["top"])
            w, h = float(item["width"]), float(item["height"])
            rows.append(
                [float(item["class_id"]), left / width, top / height, (left + w) / width, (top + h) / height]
            )
        except (KeyError, TypeError, ValueError):
            raise AlgorithmClientError(
                f"{where}: annotations[{number}] needs numeric class_id, left, top, width and height"
            ) from None
    objects = np.asarray(rows, dtype=np.float32).reshape(-1, 5)
    return _checked(objects, where, num_classes)


def _checked(objects: np.ndarray, where: str, num_classes: int) -> np.ndarray:
    if objects.size == 0:
        return EMPTY
    classes = objects[:, 0]
    if np.any(classes != np.round(classes)) or np.any(classes >= num_classes):
        bad = float(classes[(classes >= num_classes) | (classes != np.round(classes))][0])
        raise AlgorithmClientError(
            f"{where}: class id {bad:g} is not an integer in [0, num_classes={num_classes})"
        )
    objects = objects.copy()
    objects[:, 1:] = objects[:, 1:].clip(0.0, 1.0)
    valid = (objects[:, 3] > objects[:, 1]) & (objects[:, 4] > objects[:, 2])
    return objects[valid].astype(np.float32)


def pack(objects: np.ndarray, label_width: int | None = None) -> list[float]:
    """A packed label row (header ``[2, 5]``) for ``objects``, padded with -1 to ``label_width``."""
    row = [2.0, 5.0] + [float(v) for v in np.asarray(objects, dtype=np.float32).reshape(-1)]
    if label_width is not None and len(row) < label_width:
        row += [-1.0] * (label_width - len(row))
    return row
