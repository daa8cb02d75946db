"""Object Detection inference (§2.16): one image (``image/jpeg``, ``image/png``,
``application/x-image``) per request, resized to ``image_shape``.

* ``application/json`` (default): ``{"prediction": [[class_id, score, xmin, ymin, xmax, ymax], …]}``,
  coordinates normalised by the image's width and height, class id a float, by decreasing score, after
  NMS at ``nms_threshold`` (no score threshold: clients filter).
* ``application/json;annotation=1``: ``{"image_size": [{"width", "height", "depth"}], "annotations":
  [{"class_id", "score", "left", "top", "width", "height"}, …]}`` in pixels.
* ``application/jsonlines`` (batch transform): the default object on one line.
"""

from __future__ import annotations

import json

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.dense_vision import load_rgb
from sagestack.algorithms.object_detection import boxes
from sagestack.algorithms.object_detection.model import DetectionModel
from sagestack.algorithms.object_detection.model import load_model as load_model  # noqa: PLC0414
from sagestack.algorithms.object_detection.spec import SPEC
from sagestack.algorithms.object_detection.training import to_tensor
from sagestack.formats import content_types as ct
from sagestack.formats.inference import request_kind, response_kind


def detect_image(model: DetectionModel, data: bytes) -> tuple[np.ndarray, tuple[int, int]]:
    """Rows ``[class, score, xmin, ymin, xmax, ymax]`` of one encoded image, and its ``(width, height)``."""
    import torch
    from PIL import Image

    try:
        image = load_rgb(data, "The request body")
    except AlgorithmClientError as exc:
        raise InferenceError(str(exc), 400) from None
    size = model.hp["image_shape"]
    resized = image.resize((size, size), Image.BILINEAR) if image.size != (size, size) else image
    x = to_tensor(np.asarray(resized, dtype=np.uint8)[None], "cpu")
    with torch.no_grad():
        logits, offsets = model.network(x)
    rows = boxes.detect(logits, offsets, model.network.anchors, model.hp["nms_threshold"])[0]
    return rows.numpy(), image.size


def predict(model: DetectionModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    request_kind(content_type, SPEC.request_content_types)
    answer = response_kind(accept, SPEC.response_accept_types, default=ct.JSON)
    rows, (width, height) = detect_image(model, body)
    if answer == ct.JSON and ct.parameters(accept).get("annotation") == "1":
        doc = {
            "image_size": [{"width": width, "height": height, "depth": 3}],
            "annotations": [
                {
                    "class_id": int(r[0]),
                    "score": float(r[1]),
                    "left": round(float(r[2]) * width, 2),
                    "top": round(float(r[3]) * height, 2),
                    "width": round(float(r[4] - r[2]) * width, 2),
                    "height": round(float(r[5] - r[3]) * height, 2),
                }
                for r in rows
            ],
        }
        return json.dumps(doc).encode(), ct.JSON
    doc = {"prediction": [[float(v) for v in r] for r in rows]}
    if answer == ct.JSONLINES:
        return (json.dumps(doc) + "\n").encode(), ct.JSONLINES
    return json.dumps(doc).encode(), ct.JSON
