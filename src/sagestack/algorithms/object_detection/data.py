"""A detection channel as decoded samples: each image resized to ``image_shape`` × ``image_shape``
(uint8, kept small in memory) with its objects ``[class, xmin, ymin, xmax, ymax]`` (normalised, so the
resize does not change them).

Inputs (§2.16): ``.rec`` files whose records carry a packed label row; images listed by a ``.lst``
file in the ``<split>_lst`` channel (packed label row per line); images with a same-named annotation
JSON in the ``<split>_annotation`` channel; an augmented manifest (``source-ref`` then Ground Truth's
bounding-box attribute), read through :mod:`sagestack.algorithms.vision.inputs`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, TrainingEnv, channel_content_type
from sagestack.algorithms.dense_vision import load_rgb
from sagestack.algorithms.object_detection import labels as L
from sagestack.algorithms.object_detection.spec import SPEC
from sagestack.formats import content_types as ct
from sagestack.formats.dataset import files_in

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class Samples:
    images: np.ndarray  # (N, H, W, 3) uint8
    objects: list[np.ndarray]  # per image (n, 5)
    keys: list[str]

    def __len__(self) -> int:
        return len(self.keys)


def _resized(data: bytes, where: str, size: int) -> np.ndarray:
    from PIL import Image

    image = load_rgb(data, where)
    if image.size != (size, size):
        image = image.resize((size, size), Image.BILINEAR)
    return np.asarray(image, dtype=np.uint8)


def _from_annotations(env: TrainingEnv, split: str, hp: dict) -> Samples:
    images_dir, notes_dir = env.channels[split].path, env.channels[f"{split}_annotation"].path
    notes = {p.stem: p for p in files_in(notes_dir) if p.suffix.lower() == ".json"}
    arrays, objects, keys = [], [], []
    for path in sorted(files_in(images_dir)):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        note = notes.get(path.stem)
        if note is None:
            raise AlgorithmClientError(
                f"Channel {split!r}: image {path.name} has no annotation {path.stem}.json in the "
                f"{split}_annotation channel"
            )
        data = path.read_bytes()
        where = f"Channel {split}_annotation, {note.name}"
        try:
            doc = json.loads(note.read_bytes())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AlgorithmClientError(f"{where}: not valid JSON ({exc})") from None
        size = load_rgb(data, f"Channel {split!r}, {path.name}").size
        objects.append(L.from_annotation(doc, where, hp["num_classes"], size))
        arrays.append(_resized(data, f"Channel {split!r}, {path.name}", hp["image_shape"]))
        keys.append(path.name)
    return _samples(arrays, objects, keys, split)


def _from_records(env: TrainingEnv, split: str, hp: dict) -> Samples:
    from sagestack.algorithms.vision import inputs

    arrays, objects, keys = [], [], []
    for record in _records(env, split, inputs):
        where = f"Channel {split!r}, {record.key}"
        if record.annotation is not None:
            doc = _bounding_boxes(record.annotation, where)
            size = load_rgb(record.image, where).size
            found = L.from_annotation(doc, where, hp["num_classes"], size)
        else:
            found = L.from_packed(record.labels, where, hp["num_classes"])
        objects.append(found)
        arrays.append(_resized(record.image, where, hp["image_shape"]))
        keys.append(record.key)
    return _samples(arrays, objects, keys, split)


def _records(env: TrainingEnv, split: str, inputs):
    channel = env.channels[split]
    lst = env.channels.get(f"{split}_lst")
    kind = channel_content_type(SPEC, channel)
    if kind == ct.RECORDIO:
        return inputs.channel_records(channel, None)
    return inputs.channel_records(channel, lst)


def _bounding_boxes(annotation, where: str):
    """The Ground Truth bounding-box object among a manifest line's label attribute values."""
    values = annotation if isinstance(annotation, (list, tuple)) else [annotation]
    for value in values:
        if isinstance(value, (bytes, str)):
            try:
                value = json.loads(value)
            except (UnicodeDecodeError, json.JSONDecodeError):
                continue
        if isinstance(value, dict) and "annotations" in value:
            return value
    raise AlgorithmClientError(
        f"{where}: the manifest line has no bounding-box attribute (an object with 'annotations' and "
        f"'image_size', as Ground Truth writes it)"
    )


def _samples(arrays, objects, keys, split: str) -> Samples:
    if not arrays:
        raise AlgorithmClientError(f"Channel {split!r} holds no images")
    return Samples(np.stack(arrays), objects, keys)


def read_split(env: TrainingEnv, split: str, hp: dict) -> Samples:
    if f"{split}_annotation" in env.channels:
        return _from_annotations(env, split, hp)
    kind = channel_content_type(SPEC, env.channels[split])
    if kind != ct.RECORDIO and f"{split}_lst" not in env.channels:
        raise AlgorithmClientError(
            f"Channel {split!r} holds images ({kind}); it needs a {split}_annotation channel (one JSON "
            f"per image) or a {split}_lst channel (a .lst file)"
        )
    return _from_records(env, split, hp)


def files(path: Path) -> list[Path]:
    return sorted(files_in(path))
