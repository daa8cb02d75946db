"""IP Insights data: ``entity,IPv4`` CSV rows (training and requests) and JSON request instances."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.ip_insights.network import parse_ip


class PairError(ValueError):
    """A row that is not an (entity, IPv4 address) pair."""


def parse_pairs(rows: Iterable[list[str]], where: str) -> tuple[list[str], np.ndarray]:
    """``(entities, ips as uint64)`` of rows with exactly two fields."""
    entities: list[str] = []
    ips: list[int] = []
    for number, row in enumerate(rows, start=1):
        fields = [field.strip() for field in row]
        if not fields or (len(fields) == 1 and not fields[0]):
            continue
        if len(fields) != 2:
            raise PairError(
                f"{where} row {number} has {len(fields)} columns; expected 2 (entity, IPv4 address)"
            )
        try:
            ips.append(parse_ip(fields[1]))
        except ValueError:
            raise PairError(f"{where} row {number}: {fields[1]!r} is not an IPv4 address") from None
        entities.append(fields[0])
    return entities, np.asarray(ips, dtype=np.uint64)


def read_channel(path: Path, name: str) -> tuple[list[str], np.ndarray]:
    """Every ``entity,IP`` row of a channel directory's CSV files."""
    from sagestack.formats.dataset import files_in

    entities: list[str] = []
    ips = []
    for file in files_in(path):
        try:
            with open(file, encoding="utf-8", newline="") as handle:
                ents, addrs = parse_pairs(csv.reader(handle), f"{name} channel file {file.name}")
        except PairError as exc:
            raise AlgorithmClientError(str(exc)) from None
        except UnicodeDecodeError:
            raise AlgorithmClientError(f"{name} channel file {file.name} is not UTF-8 CSV") from None
        entities += ents
        ips.append(addrs)
    return entities, (np.concatenate(ips) if ips else np.zeros(0, dtype=np.uint64))


def _instance_pair(instance: Any) -> list[str]:
    if isinstance(instance, dict):
        if "features" in instance:
            values = instance["features"]
        else:
            values = instance.get("data", {}).get("features", {}).get("values")
    else:
        values = instance
    if not isinstance(values, list):
        raise PairError(f"instance {json.dumps(instance)[:100]} holds no [entity, IPv4 address] values")
    return [str(v) for v in values]


def request_pairs(body: bytes, kind: str) -> tuple[list[str], np.ndarray]:
    """The (entity, IP) pairs of a CSV, JSON or JSON Lines request body."""
    from sagestack.formats import content_types as ct

    text = body.decode("utf-8")
    if kind == ct.CSV:
        return parse_pairs(csv.reader(io.StringIO(text)), "request")
    if kind == ct.JSON:
        doc = json.loads(text)
        instances = doc.get("instances") if isinstance(doc, dict) else doc
        if not isinstance(instances, list):
            raise PairError('a JSON request must be {"instances": [...]}')
        return parse_pairs([_instance_pair(i) for i in instances], "request")
    return parse_pairs(
        [_instance_pair(json.loads(line)) for line in text.splitlines() if line.strip()], "request"
    )
