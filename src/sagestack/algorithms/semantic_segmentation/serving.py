"""Semantic Segmentation inference (§2.17): one image (``image/jpeg``, ``image/png``,
``application/x-image``) per request, resized so its shorter side is ``crop_size`` (aspect kept), the
per-pixel probabilities resized back to the image's size.

* ``image/png`` (default): an indexed (``P`` mode) PNG mask, one class id per pixel, the image's size.
* ``application/x-protobuf`` / ``application/x-recordio-protobuf``: one RecordIO-framed Record whose
  ``features`` hold ``target`` (Float32, the probabilities flattened) and ``shape`` (Int32,
  ``[1, num_classes, H, W]``).
"""

from __future__ import annotations

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.dense_vision import load_rgb
from sagestack.algorithms.object_detection.training import to_tensor
from sagestack.algorithms.semantic_segmentation.masks import encode_mask
from sagestack.algorithms.semantic_segmentation.model import SegmentationModel
from sagestack.algorithms.semantic_segmentation.model import load_model as load_model  # noqa: PLC0414
from sagestack.algorithms.semantic_segmentation.spec import PROTOBUF, SPEC
from sagestack.formats import content_types as ct
from sagestack.formats.inference import request_kind, response_kind

PNG = "image/png"


def probabilities(model: SegmentationModel, data: bytes) -> np.ndarray:
    """``(num_classes, H, W)`` float32 class probabilities at the image's own size."""
    import torch
    from PIL import Image
    from torch.nn import functional as F

    try:
        image = load_rgb(data, "The request body")
    except AlgorithmClientError as exc:
        raise InferenceError(str(exc), 400) from None
    width, height = image.size
    size = model.hp["crop_size"]
    scale = size / min(width, height)
    shape = (max(8, round(width * scale)), max(8, round(height * scale)))
    resized = image.resize(shape, Image.BILINEAR) if shape != image.size else image
    x = to_tensor(np.asarray(resized, dtype=np.uint8)[None], "cpu")
    with torch.no_grad():
        logits = model.network(x)
        if logits.shape[2:] != (height, width):
            logits = F.interpolate(logits, (height, width), mode="bilinear", align_corners=False)
        return torch.softmax(logits, 1)[0].numpy().astype(np.float32)


def predict(model: SegmentationModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    request_kind(content_type, SPEC.request_content_types)
    answer = response_kind(accept, SPEC.response_accept_types, default=PNG)
    probs = probabilities(model, body)
    if answer == PNG:
        return encode_mask(probs.argmax(0).astype(np.uint8)), PNG
    return probability_record(probs), PROTOBUF if answer == PROTOBUF else ct.RECORDIO_PROTOBUF


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def probability_record(probs: np.ndarray) -> bytes:
    """One RecordIO-framed Record: ``features["target"]`` Float32Tensor (Value field 2, packed values)
    and ``features["shape"]`` Int32Tensor (Value field 7) ``[1, C, H, W]``."""
    from sagestack.formats import recordio

    target = _field(2, _field(1, np.ascontiguousarray(probs, dtype="<f4").tobytes()))
    shape = b"".join(_varint(v) for v in (1, *probs.shape))
    entries = [
        _field(1, _field(1, b"target") + _field(2, target)),
        _field(1, _field(1, b"shape") + _field(2, _field(7, _field(1, shape)))),
    ]
    return recordio.frame([b"".join(entries)])
