"""Segmentation label masks: single-channel 8-bit PNGs (indexed ``P`` mode or greyscale), one class id
per pixel, 255 = ignore; the ``label_map`` channel's ``{"scale": "3"}`` or ``{"map": {"0": 5, …}}``."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError

IGNORE = 255


def decode_mask(data: bytes, where: str) -> np.ndarray:
    """The class-id array ``(H, W)`` uint8 of an annotation image (palette indices, not colours)."""
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError) as exc:
        raise AlgorithmClientError(f"{where}: the annotation is not a readable image ({exc})") from None
    if image.mode in ("P", "L"):
        array = np.asarray(image)
    elif image.mode in ("I", "I;16", "F"):
        array = np.asarray(image).astype(np.int64).clip(0, 255)
    else:
        array = np.asarray(image)
        if array.ndim == 3:
            array = array[..., 0]
    return np.ascontiguousarray(array.astype(np.uint8))


def encode_mask(mask: np.ndarray) -> bytes:
    """An indexed (``P`` mode) PNG of a class-id array, with a distinct colour per class."""
    from PIL import Image

    image = Image.fromarray(np.asarray(mask, dtype=np.uint8), mode="P")
    palette = []
    for index in range(256):
        palette += [(index * 67) % 256, (index * 139) % 256, (index * 211) % 256]
    palette[:3] = [0, 0, 0]
    image.putpalette(palette)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class LabelMap:
    """A ``label_map`` JSON: ``scale`` divides pixel values (floor); ``map`` renames them."""

    def __init__(self, doc: Any = None, where: str = "label_map"):
        doc = {"scale": "1"} if doc is None else doc
        if not isinstance(doc, dict) or not ({"scale", "map"} & set(doc)):
            raise AlgorithmClientError(f'{where}: expected {{"scale": "<n>"}} or {{"map": {{…}}}}')
        self.table: np.ndarray | None = None
        self.scale = 1
        if "map" in doc:
            table = np.full(256, IGNORE, dtype=np.uint8)
            try:
                for key, value in dict(doc["map"]).items():
                    table[int(key)] = int(value)
            except (TypeError, ValueError, IndexError, OverflowError):
                raise AlgorithmClientError(
                    f"{where}: 'map' must map pixel values 0-255 to class ids"
                ) from None
            table[IGNORE] = IGNORE
            self.table = table
        else:
            try:
                self.scale = int(float(doc["scale"]))
            except (TypeError, ValueError):
                self.scale = 0
            if self.scale < 1:
                raise AlgorithmClientError(f"{where}: 'scale' must be a positive integer")

    @classmethod
    def parse(cls, data: bytes, where: str) -> LabelMap:
        try:
            return cls(json.loads(data), where)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AlgorithmClientError(f"{where} is not valid JSON ({exc})") from None

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        if self.table is not None:
            return self.table[mask]
        if self.scale == 1:
            return mask
        out = mask // self.scale
        out[mask == IGNORE] = IGNORE
        return out


def check_classes(mask: np.ndarray, num_classes: int, where: str) -> None:
    values = np.unique(mask)
    bad = values[(values >= num_classes) & (values != IGNORE)]
    if bad.size:
        raise AlgorithmClientError(
            f"{where}: pixel value {int(bad[0])} is not a class id in [0, num_classes={num_classes}) "
            f"nor {IGNORE} (ignore); use the label_map channel to map values"
        )
