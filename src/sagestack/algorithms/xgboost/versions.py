"""Which SageMaker XGBoost image a job or endpoint runs, and what that version implies.

Every version runs the installed xgboost library; the tag only selects the container behaviour that
differs between images (accepted hyperparameters, model file format, legacy 0.72 quirks).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

IMAGE_TAG_ENV = "SAGESTACK_IMAGE_TAG"

# Newest image the contract describes (algorithms.md §1.6); used when no tag is known.
DEFAULT_VERSION = (3, 0)
LEGACY_VERSION = (0, 72)

_TAG = re.compile(r"^(?P<major>\d+)\.(?P<minor>\d+)(?:-\d+)?(?:-.*)?$")


@dataclass(frozen=True)
class ImageVersion:
    """``(major, minor)`` of the XGBoost the image ships; ``(0, 72)`` is the legacy ``xgboost:1``."""

    major: int
    minor: int
    tag: str = ""

    @property
    def key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def legacy(self) -> bool:
        return self.key == LEGACY_VERSION

    @property
    def model_format(self) -> str:
        """``"pickle"`` before 1.3-1; ``"json"`` for 1.3-1 … 1.7-1; ``"ubj"`` from 2.x on.

        Images 1.3-1 … 1.7-1 wrote XGBoost's legacy binary format, which xgboost ≥ 3 can no longer
        write; JSON is the portable format every xgboost ≥ 1.0 loads, so those tags get JSON.
        """
        if self.key < (1, 3):
            return "pickle"
        if self.key < (2, 0):
            return "json"
        return "ubj"

    def at_least(self, major: int, minor: int) -> bool:
        return self.key >= (major, minor)

    def __str__(self) -> str:
        return self.tag or f"{self.major}.{self.minor}"


def parse_tag(tag: str | None) -> ImageVersion:
    """``"1.7-1"``, ``"1.0-1-cpu-py3"``, ``"0.90-2"``, ``"3.0-5"`` → their version; ``"1"``/``"latest"``
    (legacy ``xgboost`` repository) → 0.72; empty → the newest known image."""
    text = (tag or "").strip()
    if not text:
        return ImageVersion(*DEFAULT_VERSION, tag="")
    if text in ("1", "latest") or text.startswith("0.72"):
        return ImageVersion(*LEGACY_VERSION, tag=text)
    match = _TAG.match(text)
    if match is None:
        return ImageVersion(*DEFAULT_VERSION, tag=text)
    return ImageVersion(int(match.group("major")), int(match.group("minor")), tag=text)


def current_version() -> ImageVersion:
    """The version selected by ``SAGESTACK_IMAGE_TAG`` (set by the job runner / serving worker)."""
    return parse_tag(os.environ.get(IMAGE_TAG_ENV))
