"""Image preparation for the vision algorithms: resizing, SageMaker's ``augmentation_type`` values and
normalisation to the network's input tensor (numpy; no torchvision).

* ``resize``: the shorter side is scaled to ``resize`` pixels before cropping (Image Classification's
  ``resize`` hyperparameter);
* training crops a random ``H×W`` window (images smaller than it are first scaled up) and mirrors it
  half of the time; evaluation and inference take the centre window;
* ``crop``: random crop and mirror only; ``crop_color``: plus random brightness / contrast / saturation
  and hue-like channel jitter; ``crop_color_transform``: plus a random aspect-ratio / scale change of
  the crop window (MXNet's random-resized crop, without rotation or shear), as ``crop_color`` otherwise.
  No ``augmentation_type``: training still mirrors and crops at random as MXNet's image iterator does
  when the image is larger than the crop.
* :func:`to_tensor_batch` stacks ``H×W×3`` uint8 crops into ``N×3×H×W`` float32 scaled by the ImageNet
  RGB mean and standard deviation (what MXNet's ImageRecordIter subtracts).
"""

from __future__ import annotations

import numpy as np

AUGMENTATIONS: tuple[str, ...] = ("crop", "crop_color", "crop_color_transform")
MEAN_RGB = np.array([123.68, 116.779, 103.939], dtype=np.float32)
STD_RGB = np.array([58.393, 57.12, 57.375], dtype=np.float32)


def resize_array(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of an ``H×W×C`` uint8 array (Pillow)."""
    if image.shape[0] == height and image.shape[1] == width:
        return image
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((width, height), Image.BILINEAR))


def resize_shorter(image: np.ndarray, size: int) -> np.ndarray:
    """Scale so the shorter side is ``size`` pixels (aspect ratio kept)."""
    h, w = image.shape[:2]
    if min(h, w) == size:
        return image
    if h <= w:
        return resize_array(image, size, max(1, round(w * size / h)))
    return resize_array(image, max(1, round(h * size / w)), size)


def fit_at_least(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Scale up (aspect kept) so the image covers ``height×width``."""
    h, w = image.shape[:2]
    if h >= height and w >= width:
        return image
    scale = max(height / h, width / w)
    return resize_array(image, max(height, round(h * scale)), max(width, round(w * scale)))


def prepare(image: np.ndarray, height: int, width: int, resize: int | None = None) -> np.ndarray:
    """The stored form of one decoded image: ``resize`` applied, at least ``height×width``."""
    if resize:
        image = resize_shorter(image, resize)
    return fit_at_least(image, height, width)


def center_crop(image: np.ndarray, height: int, width: int) -> np.ndarray:
    image = fit_at_least(image, height, width)
    h, w = image.shape[:2]
    top, left = (h - height) // 2, (w - width) // 2
    return image[top : top + height, left : left + width]


def random_crop(image: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    image = fit_at_least(image, height, width)
    h, w = image.shape[:2]
    top = int(rng.integers(0, h - height + 1))
    left = int(rng.integers(0, w - width + 1))
    return image[top : top + height, left : left + width]


def random_resized_crop(image: np.ndarray, height: int, width: int, rng: np.random.Generator) -> np.ndarray:
    """A window of 50–100 % of the area and 3/4–4/3 aspect ratio, scaled to ``height×width``."""
    h, w = image.shape[:2]
    for _ in range(10):
        area = h * w * rng.uniform(0.5, 1.0)
        ratio = float(np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3))))
        cw, ch = round(np.sqrt(area * ratio)), round(np.sqrt(area / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            return resize_array(np.ascontiguousarray(image[top : top + ch, left : left + cw]), height, width)
    return center_crop(image, height, width)


def color_jitter(batch: np.ndarray, rng: np.random.Generator, strength: float = 0.3) -> np.ndarray:
    """Random brightness, contrast, saturation and per-channel gain on an ``N×H×W×3`` float batch."""
    n = batch.shape[0]
    brightness = rng.uniform(1 - strength, 1 + strength, size=(n, 1, 1, 1)).astype(np.float32)
    contrast = rng.uniform(1 - strength, 1 + strength, size=(n, 1, 1, 1)).astype(np.float32)
    saturation = rng.uniform(1 - strength, 1 + strength, size=(n, 1, 1, 1)).astype(np.float32)
    gains = rng.uniform(1 - strength / 3, 1 + strength / 3, size=(n, 1, 1, 3)).astype(np.float32)
    out = batch * brightness
    mean = out.mean(axis=(1, 2, 3), keepdims=True)
    out = (out - mean) * contrast + mean
    gray = out.mean(axis=3, keepdims=True)
    out = (out - gray) * saturation + gray
    out = out * gains
    return np.clip(out, 0.0, 255.0, out=out)


def augment_batch(
    images: list[np.ndarray],
    height: int,
    width: int,
    augmentation: str | None,
    rng: np.random.Generator | None,
) -> np.ndarray:
    """``N×H×W×3`` float32 crops of stored images: random (training, ``rng`` given) or centred."""
    crops = []
    for image in images:
        if rng is None:
            crop = center_crop(image, height, width)
        else:
            if augmentation == "crop_color_transform":
                crop = random_resized_crop(image, height, width, rng)
            else:
                crop = random_crop(image, height, width, rng)
            if rng.random() < 0.5:
                crop = crop[:, ::-1]
        crops.append(crop)
    batch = np.stack(crops).astype(np.float32)
    if rng is not None and augmentation in ("crop_color", "crop_color_transform"):
        batch = color_jitter(batch, rng)
    return batch


def to_tensor_batch(batch: np.ndarray) -> np.ndarray:
    """``N×H×W×3`` (uint8 or float) → normalised ``N×3×H×W`` float32, C-contiguous."""
    out = (np.asarray(batch, dtype=np.float32) - MEAN_RGB) / STD_RGB
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))
