"""A segmentation channel pair as decoded samples: images and label masks, each resized so that the
shorter side is ``crop_size`` and centre-cropped square (masks with nearest-neighbour sampling).

* Image mode (§2.17): ``train``/``validation`` hold JPG/PNG images, ``train_annotation`` /
  ``validation_annotation`` a PNG mask per image with the same base name; the optional ``label_map``
  channel's ``train_label_map.json`` / ``validation_label_map.json`` remap the pixel values.
* Augmented manifest (``application/x-recordio``): ``AttributeNames`` = [``source-ref``,
  ``<mask>-ref``]. In Pipe mode with ``RecordWrapperType=RecordIO`` the stream alternates image and
  mask records; in File mode both objects are staged below the channel's ``.s3/`` folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, Channel, TrainingEnv, channel_content_type
from sagestack.algorithms.dense_vision import load_rgb
from sagestack.algorithms.semantic_segmentation.masks import IGNORE, LabelMap, check_classes, decode_mask
from sagestack.algorithms.semantic_segmentation.spec import SPEC
from sagestack.formats import content_types as ct
from sagestack.formats.dataset import files_in

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class Samples:
    images: np.ndarray  # (N, S, S, 3) uint8
    masks: np.ndarray  # (N, S, S) uint8, 255 = ignore
    keys: list[str]

    def __len__(self) -> int:
        return len(self.keys)


def square(image, size: int, nearest: bool = False):
    """Resize a PIL image so its shorter side is ``size`` and centre-crop it to ``size`` × ``size``."""
    from PIL import Image

    width, height = image.size
    scale = size / min(width, height)
    new = (max(size, round(width * scale)), max(size, round(height * scale)))
    if new != image.size:
        image = image.resize(new, Image.NEAREST if nearest else Image.BILINEAR)
    left, top = (new[0] - size) // 2, (new[1] - size) // 2
    return image.crop((left, top, left + size, top + size))


def _pair(image_bytes: bytes, mask_bytes: bytes, where: str, hp: dict, label_map: LabelMap):
    from PIL import Image

    image = load_rgb(image_bytes, where)
    mask = label_map(decode_mask(mask_bytes, where))
    check_classes(mask, hp["num_classes"], where)
    if mask.shape != (image.size[1], image.size[0]):
        raise AlgorithmClientError(
            f"{where}: the mask is {mask.shape[1]}x{mask.shape[0]} but the image is "
            f"{image.size[0]}x{image.size[1]}"
        )
    size = hp["crop_size"]
    image = np.asarray(square(image, size), dtype=np.uint8)
    mask = np.asarray(square(Image.fromarray(mask), size, nearest=True), dtype=np.uint8)
    return image, mask


def _label_map(env: TrainingEnv, split: str) -> LabelMap:
    channel = env.channels.get("label_map")
    if channel is None:
        return LabelMap()
    name = f"{split}_label_map.json"
    found = [p for p in files_in(channel.path) if p.name == name]
    if not found:
        return LabelMap()
    return LabelMap.parse(found[0].read_bytes(), f"Channel label_map, {name}")


def _image_mode(env: TrainingEnv, split: str, hp: dict, label_map: LabelMap):
    notes_name = f"{split}_annotation"
    if notes_name not in env.channels:
        raise AlgorithmClientError(
            f"Channel {split!r} holds images; the {notes_name} channel (a PNG mask per image) is required"
        )
    masks = {p.stem: p for p in files_in(env.channels[notes_name].path) if p.suffix.lower() == ".png"}
    for path in sorted(files_in(env.channels[split].path)):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        mask = masks.get(path.stem)
        if mask is None:
            raise AlgorithmClientError(
                f"Channel {split!r}: image {path.name} has no mask {path.stem}.png in the {notes_name} channel"
            )
        yield path.name, path.read_bytes(), mask.read_bytes()


def _pipe_pairs(channel: Channel):
    from sagestack.algorithms.vision.inputs import pipe_path
    from sagestack.formats import recordio

    payloads = recordio.iter_payloads(pipe_path(channel, 0))
    for number, image in enumerate(payloads):
        mask = next(payloads, None)
        if mask is None:
            raise AlgorithmClientError(
                f"Channel {channel.name!r}: record {2 * number + 1} (an image) has no mask record after it; "
                f"AttributeNames must be [source-ref, <mask>-ref]"
            )
        yield f"{channel.name}:{number}", image, mask


def _manifest_pairs(channel: Channel):
    from sagestack.algorithms.vision.inputs import MANIFEST_SUFFIXES, ref_path
    from sagestack.formats.manifest import is_ref, iter_augmented_manifest
    from sagestack.formats.recordio import FormatError

    manifests = [
        p for p in sorted(Path(channel.path).glob("*")) if p.is_file() and p.suffix in MANIFEST_SUFFIXES
    ]
    if not manifests:
        raise AlgorithmClientError(
            f"Channel {channel.name!r} (application/x-recordio) holds no augmented manifest"
        )
    for manifest in manifests:
        try:
            for number, doc in enumerate(iter_augmented_manifest(manifest), 1):
                refs = [k for k in doc if is_ref(k) and isinstance(doc[k], str)]
                where = f"{manifest.name} line {number}"
                if len(refs) < 2:
                    raise AlgorithmClientError(
                        f"{where}: needs the image's and the mask's S3 URIs (source-ref, <mask>-ref)"
                    )
                try:
                    image, mask = (ref_path(channel.path, doc[k]).read_bytes() for k in refs[:2])
                except OSError:
                    raise AlgorithmClientError(f"{where}: an object it names was not staged") from None
                yield doc[refs[0]], image, mask
        except FormatError as exc:
            raise AlgorithmClientError(str(exc)) from None


def read_split(env: TrainingEnv, split: str, hp: dict) -> Samples:
    channel = env.channels[split]
    kind = channel_content_type(SPEC, channel)
    label_map = _label_map(env, split)
    if kind == ct.RECORDIO:
        pairs = _pipe_pairs(channel) if channel.input_mode == "Pipe" else _manifest_pairs(channel)
    else:
        pairs = _image_mode(env, split, hp, label_map)
    images, masks, keys = [], [], []
    for key, image, mask in pairs:
        a, m = _pair(image, mask, f"Channel {split!r}, {key}", hp, label_map)
        images.append(a)
        masks.append(m)
        keys.append(key)
    if not images:
        raise AlgorithmClientError(f"Channel {split!r} holds no images")
    out = Samples(np.stack(images), np.stack(masks), keys)
    if np.all(out.masks == IGNORE):
        raise AlgorithmClientError(f"Channel {split!r}: every mask pixel is 255 (ignore)")
    return out
