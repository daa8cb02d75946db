"""S3 manifest files and augmented manifests (spec algorithms.md §1.1 "RecordSet upload", §1.3.5).

* A manifest (``S3DataType="ManifestFile"``) is a JSON array whose first element is
  ``{"prefix": "s3://bucket/prefix/"}`` and whose other elements are keys relative to it.
* An augmented manifest (``S3DataType="AugmentedManifestFile"``) is JSON Lines; ``AttributeNames``
  selects and orders the attributes of each line; names ending in ``-ref`` hold S3 URIs whose object
  bytes are streamed instead of the value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from sagestack.formats.recordio import FormatError


def parse_manifest(body: bytes | str) -> list[str]:
    """The full S3 URIs listed by a manifest file, in order."""
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FormatError(f"Manifest file is not valid JSON: {exc}") from None
    if not isinstance(doc, list) or not doc:
        raise FormatError("Manifest file must be a non-empty JSON array")
    head = doc[0]
    if not isinstance(head, dict) or not isinstance(head.get("prefix"), str):
        raise FormatError('The first element of a manifest file must be {"prefix": "s3://bucket/prefix/"}')
    prefix = head["prefix"]
    if not prefix.startswith("s3://"):
        raise FormatError(f"Manifest prefix {prefix!r} is not an S3 URI")
    uris = []
    for item in doc[1:]:
        if not isinstance(item, str):
            raise FormatError(f"Manifest entries after the prefix must be strings, got {item!r}")
        uris.append(prefix + item)
    return uris


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``"s3://bucket/a/b"`` → ``("bucket", "a/b")``."""
    if not uri.startswith("s3://"):
        raise FormatError(f"{uri!r} is not an S3 URI")
    bucket, _, key = uri[5:].partition("/")
    if not bucket:
        raise FormatError(f"{uri!r} has no bucket")
    return bucket, key


def is_ref(attribute: str) -> bool:
    """Whether an augmented-manifest attribute holds an S3 URI to stream (name ends in ``-ref``)."""
    return attribute.endswith("-ref")


def _lines(source: bytes | str | os.PathLike | Iterable[bytes | str]) -> Iterator[tuple[int, bytes | str]]:
    if isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and os.path.exists(source)
    ):
        with open(source, "rb") as fh:
            yield from enumerate(fh, 1)
        return
    if isinstance(source, (bytes, str)):
        yield from enumerate(source.splitlines(), 1)
        return
    yield from enumerate(source, 1)


def iter_augmented_manifest(
    source: bytes | str | os.PathLike | Iterable[bytes | str], attribute_names: Sequence[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Each JSON line as a dict; with ``attribute_names`` only those keys, in that order (a line
    missing one of them is an error). Blank lines are skipped. ``source``: a path, the text, or lines."""
    for number, line in _lines(source):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FormatError(f"Augmented manifest line {number} is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise FormatError(f"Augmented manifest line {number} is not a JSON object")
        if attribute_names is None:
            yield doc
            continue
        missing = [name for name in attribute_names if name not in doc]
        if missing:
            raise FormatError(f"Augmented manifest line {number} has no attribute(s) {', '.join(missing)}")
        yield {name: doc[name] for name in attribute_names}


def attribute_payload(name: str, value: Any, read_ref: Callable[[str], bytes]) -> bytes:
    """The bytes SageMaker streams for one attribute: the object behind a ``-ref`` URI, a string's
    UTF-8 text, or the JSON text of any other value (numbers, objects, lists)."""
    if is_ref(name):
        if not isinstance(value, str):
            raise FormatError(f"Attribute {name!r} must hold an S3 URI, got {value!r}")
        return read_ref(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    return json.dumps(value, separators=(",", ":")).encode("utf-8")


def iter_augmented_payloads(
    source: bytes | str | os.PathLike | Iterable[bytes | str],
    attribute_names: Sequence[str],
    read_ref: Callable[[str], bytes],
) -> Iterator[list[bytes]]:
    """Per manifest line, the payloads of its selected attributes in ``AttributeNames`` order (with
    ``RecordWrapperType="RecordIO"`` each becomes one RecordIO record)."""
    for doc in iter_augmented_manifest(source, attribute_names):
        yield [attribute_payload(name, doc[name], read_ref) for name in attribute_names]
