"""Tiny synthetic image data sets for the vision tests: shapes drawn on noisy backgrounds."""

from __future__ import annotations

import numpy as np

SHAPES = ("square", "circle", "cross")


def shape_image(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """An ``size×size×3`` uint8 image of one filled shape at a random place, size and colour."""
    image = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
    radius = int(rng.integers(size // 4, size // 3 + 1))
    cy, cx = (int(v) for v in rng.integers(radius, size - radius, size=2))
    yy, xx = np.mgrid[0:size, 0:size]
    if kind == "square":
        mask = (abs(yy - cy) <= radius) & (abs(xx - cx) <= radius)
    elif kind == "circle":
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
    else:
        width = max(1, radius // 3)
        mask = ((abs(yy - cy) <= width) & (abs(xx - cx) <= radius)) | (
            (abs(xx - cx) <= width) & (abs(yy - cy) <= radius)
        )
    colour = rng.integers(150, 256, size=3, dtype=np.uint8)
    image[mask] = colour
    return image


def shape_dataset(
    count: int, size: int = 32, seed: int = 0, classes: int = 3
) -> tuple[list[np.ndarray], list[int]]:
    """``count`` images cycling through the first ``classes`` shapes, and their class ids."""
    rng = np.random.default_rng(seed)
    labels = [i % classes for i in range(count)]
    return [shape_image(SHAPES[label], size, rng) for label in labels], labels
