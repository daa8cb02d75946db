"""Conformance case of Image Classification (``test_conformance.CASES``): a tiny ``.rec`` data set of
16×16 PNG images, and inference requests of one image each (the algorithm's request is one image, so a
request answers one row: ``query_rows=1``)."""

from __future__ import annotations

import json

import numpy as np

from conformance_iv import Requests


def _images(count: int, seed: int) -> tuple[list[bytes], list[int]]:
    from sagestack.algorithms.vision.inputs import encode_image

    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(count):
        label = i % 3
        image = rng.integers(0, 60, size=(16, 16, 3), dtype=np.uint8)
        image[4:12, 4:12, label] = 230  # the class is the colour of the centre square
        images.append(encode_image(image))
        labels.append(label)
    return images, labels


def _rec(count: int, seed: int) -> bytes:
    from sagestack.algorithms.vision.inputs import ImageRecord, pack_rec
    from sagestack.formats.recordio import frame

    images, labels = _images(count, seed)
    return frame(
        pack_rec(ImageRecord(str(i), im, (float(lab),)), i) for i, (im, lab) in enumerate(zip(images, labels))
    )


def _requests(X: np.ndarray) -> Requests:
    png = _images(1, 9)[0][0]  # the same bytes under every image type, so the answers must agree
    return Requests.of({"image/jpeg": png, "image/png": png, "application/x-image": png})


def _rows(body: bytes, accept: str) -> list[dict[str, list[float]]]:
    if accept == "application/json":
        values = json.loads(body)
        assert isinstance(values, list), values
        return [{"prediction": [float(v) for v in values]}]
    return [
        {"prediction": [float(v) for v in json.loads(line)["prediction"]]}
        for line in body.decode().splitlines()
    ]


CASE_ARGUMENTS: dict[str, dict] = {
    "image_classification": {
        "hyperparameters": {
            "num_classes": "3",
            "num_training_samples": "24",
            "num_layers": "20",
            "image_shape": "3,16,16",
            "epochs": "1",
            "mini_batch_size": "8",
        },
        "channels": lambda X, y: {
            "train": {"train.rec": _rec(24, 1)},
            "validation": {"validation.rec": _rec(9, 2)},
        },
        "content_types": {"train": "application/x-recordio", "validation": "application/x-recordio"},
        "tuning_metric": "validation:accuracy",
        "expected_metrics": ("train:accuracy", "validation:accuracy"),
        "query": _requests,
        "rows": _rows,
        "query_rows": 1,
    },
}
