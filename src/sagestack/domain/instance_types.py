"""ML instance types → the vCPUs, memory and GPUs a job or worker gets here."""

from __future__ import annotations

import re
from dataclasses import dataclass

_SIZE = re.compile(r"^ml\.(?P<family>[a-z0-9-]+)\.(?P<size>[0-9]*x?large|medium|small|metal[-a-z0-9]*)$")
_MEMORY_PER_VCPU = {
    "c": 2,
    "m": 4,
    "r": 8,
    "t": 2,
    "x": 16,
    "z": 8,
    "p": 7.6,
    "g": 4,
    "i": 8,
    "inf": 2,
    "trn": 16,
    "dl": 16,
}


@dataclass(frozen=True)
class InstanceSpec:
    instance_type: str
    vcpus: int
    memory_mb: int
    gpus: int


def _vcpus(size: str) -> int:
    if size == "medium" or size == "small" or size == "large":
        return 2
    if size == "xlarge":
        return 4
    if size.startswith("metal"):
        return 96
    return int(size[: -len("xlarge")]) * 4


def _gpus(family: str, vcpus: int) -> int:
    if family.startswith("p"):
        return max(1, vcpus // 8)
    if family.startswith("g"):
        return 1 if vcpus <= 32 else (4 if vcpus <= 48 else 8)
    return 0


def spec(instance_type: str | None) -> InstanceSpec:
    if not instance_type:
        return InstanceSpec("ml.m5.large", 2, 8192, 0)
    match = _SIZE.match(instance_type)
    if not match:
        return InstanceSpec(instance_type, 2, 8192, 0)
    family, size = match.group("family"), match.group("size")
    vcpus = _vcpus(size)
    letter = re.match(r"[a-z]+", family).group(0)
    per = _MEMORY_PER_VCPU.get(letter, _MEMORY_PER_VCPU.get(letter[:1], 4))
    memory = 4096 if (letter == "t" and size == "medium") else int(vcpus * per * 1024)
    return InstanceSpec(instance_type, vcpus, memory, _gpus(family, vcpus))
