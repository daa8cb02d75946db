"""Conformance cases of Object Detection and Semantic Segmentation (``test_conformance.CASES`` takes
these as Case arguments): a handful of synthetic 32×32 scenes, one image per request, and the response
reduced to N_QUERY rows for the format-consistency checks — detection's top rows, segmentation's first
pixels' class ids (from the PNG mask or the argmax of the RecordIO-protobuf probabilities)."""

from __future__ import annotations

import io
import json

import numpy as np

from conformance_iv import Requests
from dense_scenes import annotation_json, mask_png, scenes

N_QUERY = 7  # as test_conformance
SIZE = 32


def _image_channels(split: str, seed: int, count: int, masks: bool) -> dict[str, dict[str, bytes]]:
    images, notes = {}, {}
    for i, (png, objects, mask) in enumerate(scenes(count, seed, SIZE)):
        images[f"{split}{i}.png"] = png
        if masks:
            notes[f"{split}{i}.png"] = mask_png(mask)
        else:
            notes[f"{split}{i}.json"] = annotation_json(f"{split}{i}.png", objects, SIZE)
    return {split: images, f"{split}_annotation": notes}


def _query() -> bytes:
    return scenes(1, 99, SIZE)[0][0]


def _detection_rows(body: bytes, accept: str) -> list[dict[str, list[float]]]:
    doc = json.loads(body.decode().splitlines()[0])
    return [{"row": [float(v) for v in row]} for row in doc["prediction"][:N_QUERY]]


def _segmentation_rows(body: bytes, accept: str) -> list[dict[str, list[float]]]:
    if accept == "image/png":
        from PIL import Image

        classes = np.asarray(Image.open(io.BytesIO(body))).reshape(-1)
    else:
        from sagemaker.amazon.common import read_records

        (record,) = read_records(io.BytesIO(body))
        shape = list(record.features["shape"].int32_tensor.values)
        probs = np.asarray(record.features["target"].float32_tensor.values).reshape(shape)
        classes = probs[0].argmax(0).reshape(-1)
    return [{"class": [float(c)]} for c in classes[:N_QUERY]]


OBJECT_DETECTION = {
    "hyperparameters": {
        "num_classes": "2",
        "num_training_samples": "12",
        "use_pretrained_model": "0",
        "base_network": "resnet-18",
        "image_shape": "32",
        "epochs": "1",
        "mini_batch_size": "6",
    },
    "channels": lambda X, y: {
        **_image_channels("train", 1, 12, masks=False),
        **_image_channels("validation", 2, 4, masks=False),
    },
    "content_types": {
        "train": "image/png",
        "validation": "image/png",
        "train_annotation": "application/json",
        "validation_annotation": "application/json",
    },
    "tuning_metric": "validation:mAP",
    "expected_metrics": ("validation:mAP", "train:cross_entropy", "train:smooth_l1"),
    "query": lambda X: Requests.of({t: _query() for t in ("image/jpeg", "image/png", "application/x-image")}),
    "rows": _detection_rows,
}

SEMANTIC_SEGMENTATION = {
    "hyperparameters": {
        "num_classes": "3",
        "num_training_samples": "12",
        "use_pretrained_model": "False",
        "backbone": "resnet-18",
        "crop_size": "32",
        "epochs": "1",
        "mini_batch_size": "6",
    },
    "channels": lambda X, y: {
        **_image_channels("train", 1, 12, masks=True),
        **_image_channels("validation", 2, 4, masks=True),
    },
    "content_types": {
        "train": "image/png",
        "validation": "image/png",
        "train_annotation": "image/png",
        "validation_annotation": "image/png",
    },
    "tuning_metric": "validation:mIOU",
    "expected_metrics": ("validation:mIOU", "validation:pixel_accuracy", "train:loss"),
    "query": lambda X: Requests.of({t: _query() for t in ("image/jpeg", "image/png", "application/x-image")}),
    "rows": _segmentation_rows,
}

CASE_ARGUMENTS = {"object_detection": OBJECT_DETECTION, "semantic_segmentation": SEMANTIC_SEGMENTATION}
