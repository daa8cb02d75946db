"""The vision algorithms' training inputs (spec algorithms.md §2.15–2.17, §1.3.5, §3.1) as one record type.

Three layouts reach a channel:

* MXNet image RecordIO (``.rec``, ``application/x-recordio``): RecordIO framing (our reader in
  :mod:`sagestack.formats.recordio`), each payload an ``IRHeader`` (``struct 'IfQQ'``: flag, label, id,
  id2) followed — when ``flag > 0`` — by ``flag`` float32 labels, then the encoded image;
* image files (``application/x-image``, ``image/png``, ``image/jpeg``) listed by a ``.lst`` file
  (``index<TAB>label(s)…<TAB>relative/path``) in the matching ``*_lst`` channel;
* augmented manifests (JSON Lines, ``AttributeNames`` = [``source-ref``, label attribute(s)]): in File
  mode the platform stages the manifest and every ``-ref`` object below the channel's ``.s3/<bucket>/<key>``
  (:func:`ref_path`); in Pipe mode with ``RecordWrapperType=RecordIO`` each attribute is one RecordIO
  record (image bytes, then the label's JSON), which :func:`iter_rec` tells apart from im2rec payloads.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError, Channel
from sagestack.formats import content_types as ct
from sagestack.formats import recordio
from sagestack.formats.dataset import files_in
from sagestack.formats.manifest import is_ref, iter_augmented_manifest, split_s3_uri

IR_FORMAT = "<IfQQ"
IR_SIZE = struct.calcsize(IR_FORMAT)  # 24
IMAGE_TYPES = (ct.IMAGE, "image/png", "image/jpeg")
MANIFEST_SUFFIXES = (".manifest", ".jsonl")
REFS_DIR = ".s3"  # where File-mode staging puts an augmented manifest's ``-ref`` objects


@dataclass(frozen=True)
class ImageRecord:
    """One training example: the encoded image and its labels.

    ``labels``: the ``.lst`` / ``.rec`` header labels (class id(s), or detection's packed label row), or
    for a manifest the numbers of a numeric label attribute; ``annotation``: the augmented-manifest label
    attribute value (parsed JSON; a tuple when there are several label attributes), else ``None``."""

    key: str
    image: bytes
    labels: tuple[float, ...] = ()
    annotation: Any = None


def is_image_bytes(data: bytes) -> bool:
    """PNG, JPEG, GIF, BMP or WebP magic at the start of ``data``."""
    return (
        data[:8] == b"\x89PNG\r\n\x1a\n"
        or data[:3] == b"\xff\xd8\xff"
        or data[:4] in (b"GIF8",)
        or data[:2] == b"BM"
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


# ---------------------------------------------------------------- image RecordIO


def pack_rec(record: ImageRecord, index: int = 0) -> bytes:
    """One im2rec payload: the IRHeader (a single label inline, several after the header), the image."""
    labels = tuple(float(v) for v in record.labels)
    if len(labels) == 1:
        header = struct.pack(IR_FORMAT, 0, labels[0], index, 0)
        return header + record.image
    header = struct.pack(IR_FORMAT, len(labels), 0.0, index, 0)
    return header + np.asarray(labels, dtype="<f4").tobytes() + record.image


def unpack_rec(payload: bytes, key: str = "") -> ImageRecord:
    """An im2rec payload → :class:`ImageRecord` (the key is the header's id when none is given)."""
    if len(payload) < IR_SIZE:
        raise AlgorithmClientError(f"RecordIO image record {key or '?'} is shorter than its header")
    flag, label, ident, _ = struct.unpack_from(IR_FORMAT, payload, 0)
    offset = IR_SIZE
    if flag > 0:
        end = offset + 4 * flag
        if end > len(payload):
            raise AlgorithmClientError(f"RecordIO image record {key or ident}: {flag} labels do not fit")
        labels = tuple(float(v) for v in np.frombuffer(payload, dtype="<f4", count=flag, offset=offset))
        offset = end
    else:
        labels = (float(label),)
    return ImageRecord(key=key or str(ident), image=bytes(payload[offset:]), labels=labels)


def write_rec(path: str | Path, records: Iterable[ImageRecord]) -> int:
    """Write an image ``.rec`` file (as MXNet's im2rec does); returns the number of records."""
    payloads = [pack_rec(record, index) for index, record in enumerate(records)]
    Path(path).write_bytes(recordio.frame(payloads))
    return len(payloads)


def _parse_label_payload(data: bytes, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise AlgorithmClientError(f"{where}: the label record is not JSON") from None


def _looks_like_json(payload: bytes) -> bool:
    head = payload[:1]
    return bool(head) and head in b'{["-0123456789tfn \t\r\n'


def iter_rec(path: str | Path) -> Iterator[ImageRecord]:
    """The records of an image RecordIO file (or Pipe FIFO): im2rec payloads, or — when a payload is a
    bare encoded image — an augmented-manifest stream: the image, then one JSON record per label
    attribute (an im2rec payload starts with its header's small ``flag``, never a printable byte)."""
    name = Path(path).name
    pending: tuple[str, bytes, list[Any]] | None = None
    try:
        for number, payload in enumerate(recordio.iter_payloads(path), 1):
            if is_image_bytes(payload):
                if pending is not None:
                    yield manifest_record(*pending)
                pending = (f"{name}:{number}", payload, [])
                continue
            if pending is not None and _looks_like_json(payload):
                pending[2].append(_parse_label_payload(payload, f"{name} record {number}"))
                continue
            if pending is not None:
                yield manifest_record(*pending)
                pending = None
            yield unpack_rec(payload, f"{name}:{number}")
        if pending is not None:
            yield manifest_record(*pending)
    except recordio.FormatError as exc:
        raise AlgorithmClientError(f"{name} is not a valid RecordIO file: {exc}") from None


# ---------------------------------------------------------------- .lst + image files


def parse_lst_line(line: str, where: str) -> tuple[str, tuple[float, ...], str]:
    parts = line.rstrip("\r\n").split("\t")
    if len(parts) < 3:
        raise AlgorithmClientError(
            f"{where}: a .lst line needs index<TAB>label<TAB>path (tab-separated), got {line.strip()!r}"
        )
    try:
        labels = tuple(float(v) for v in parts[1:-1])
    except ValueError:
        raise AlgorithmClientError(f"{where}: labels must be numbers, got {parts[1:-1]!r}") from None
    return parts[0].strip(), labels, parts[-1].strip()


def iter_lst(
    images_dir: str | Path, lst_path: str | Path, skip_missing: bool = False
) -> Iterator[ImageRecord]:
    """The images a ``.lst`` file lists (paths relative to ``images_dir``), with its labels; with
    ``skip_missing`` (a ``ShardedByS3Key`` images channel: this host holds only its share) the lines
    whose image is not there are skipped, else they are an error."""
    images_dir, lst_path = Path(images_dir), Path(lst_path)
    with open(lst_path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"{lst_path.name} line {number}"
            index, labels, rel = parse_lst_line(line, where)
            image_path = images_dir / rel
            try:
                data = image_path.read_bytes()
            except OSError:
                if skip_missing:
                    continue
                raise AlgorithmClientError(
                    f"{where}: image {rel!r} is not in the {images_dir.name} channel"
                ) from None
            yield ImageRecord(key=index, image=data, labels=labels)


# ---------------------------------------------------------------- augmented manifests


def ref_path(channel_dir: str | Path, uri: str) -> Path:
    """Where File-mode staging puts the object behind an augmented manifest's ``-ref`` URI."""
    bucket, key = split_s3_uri(uri)
    return Path(channel_dir) / REFS_DIR / bucket / key


def _numeric_labels(value: Any) -> tuple[float, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return ()
    if isinstance(value, bool):
        return ()
    if isinstance(value, (int, float)):
        return (float(value),)
    if isinstance(value, list) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        return tuple(float(v) for v in value)
    return ()


def manifest_record(key: str, image: bytes, label_values: Sequence[Any]) -> ImageRecord:
    annotation = label_values[0] if len(label_values) == 1 else tuple(label_values)
    labels = _numeric_labels(label_values[0]) if label_values else ()
    return ImageRecord(key=key, image=image, labels=labels, annotation=annotation)


def iter_manifest(
    manifest_path: str | Path,
    attribute_names: Sequence[str] | None = None,
    channel_dir: str | Path | None = None,
) -> Iterator[ImageRecord]:
    """An augmented manifest's lines: the image behind the first attribute (``source-ref``, read from
    :func:`ref_path` below ``channel_dir``, by default the manifest's folder) and the others' values.

    Without ``attribute_names``: the first ``-ref`` attribute and every attribute not ending in
    ``-metadata`` (Ground Truth's bookkeeping), in line order."""
    manifest_path = Path(manifest_path)
    root = Path(channel_dir) if channel_dir is not None else manifest_path.parent
    try:
        for number, doc in enumerate(iter_augmented_manifest(manifest_path, attribute_names), 1):
            names = (
                list(attribute_names) if attribute_names else _default_attributes(doc, manifest_path, number)
            )
            source, label_names = names[0], names[1:]
            uri = doc[source]
            where = f"{manifest_path.name} line {number}"
            if not is_ref(source):
                raise AlgorithmClientError(
                    f"{where}: the first attribute {source!r} must be the image's S3 URI (e.g. 'source-ref')"
                )
            if not isinstance(uri, str):
                raise AlgorithmClientError(f"{where}: {source!r} must hold an S3 URI")
            try:
                data = ref_path(root, uri).read_bytes()
            except (OSError, ValueError):
                raise AlgorithmClientError(
                    f"{where}: the image {uri} was not staged with the channel"
                ) from None
            yield manifest_record(uri, data, [doc[name] for name in label_names])
    except recordio.FormatError as exc:
        raise AlgorithmClientError(str(exc)) from None


def _default_attributes(doc: dict, path: Path, number: int) -> list[str]:
    refs = [name for name in doc if is_ref(name)]
    if not refs:
        raise AlgorithmClientError(f"{path.name} line {number}: no '-ref' attribute holds the image")
    rest = [name for name in doc if name != refs[0] and not name.endswith("-metadata")]
    return [refs[0], *rest]


# ---------------------------------------------------------------- decoding


def decode_image(data: bytes) -> np.ndarray:
    """An encoded image as ``H×W×3`` uint8 RGB (Pillow)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            return np.asarray(image.convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise AlgorithmClientError(f"cannot decode image: {exc}") from None


def encode_image(array: np.ndarray, fmt: str = "PNG") -> bytes:
    """``H×W×3`` (or ``H×W``) uint8 → PNG/JPEG bytes (tests, benchmarks)."""
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(out, format=fmt)
    return out.getvalue()


# ---------------------------------------------------------------- channels


def pipe_path(channel: Channel, epoch: int = 0) -> Path:
    """The FIFO of a Pipe-mode channel for one epoch (``input/data/<name>_<epoch>``)."""
    return channel.path.with_name(f"{channel.name}_{epoch}")


def channel_records(
    channel: Channel,
    lst_channel: Channel | None = None,
    *,
    content_type: str | None = None,
    attribute_names: Sequence[str] | None = None,
    epoch: int = 0,
) -> Iterator[ImageRecord]:
    """The records of a training/validation channel, the reader picked from its content type (§3.1):

    * ``application/x-recordio``: every ``.rec`` file (any non-manifest file) as image RecordIO — in
      Pipe mode the epoch's FIFO, im2rec or a RecordIO-wrapped augmented manifest; manifests
      (``*.manifest`` / ``*.jsonl``) staged in File mode as augmented manifests;
    * ``application/x-image`` / ``image/png`` / ``image/jpeg``: with ``lst_channel`` the ``.lst`` files
      there (or ``.lst`` files inside the channel itself); else augmented manifests in the channel.
    """
    ctype = ct.normalize(content_type if content_type is not None else channel.content_type) or ct.RECORDIO
    if channel.input_mode == "Pipe":
        if ctype not in (ct.RECORDIO, *IMAGE_TYPES):
            raise AlgorithmClientError(
                f"Content type {ctype!r} is not supported for channel {channel.name!r}"
            )
        if ctype != ct.RECORDIO:
            raise AlgorithmClientError(
                f"Channel {channel.name!r}: Pipe mode needs RecordIO input (application/x-recordio: "
                f".rec files or an augmented manifest with RecordWrapperType RecordIO); image files with "
                f".lst files need File mode"
            )
        yield from iter_rec(pipe_path(channel, epoch))
        return
    files = [p for p in files_in(channel.path) if p.suffix not in MANIFEST_SUFFIXES]
    manifests = _manifests(channel.path)
    if ctype == ct.RECORDIO:
        if not files and not manifests:
            raise AlgorithmClientError(f"Channel {channel.name!r} holds no .rec file")
        for path in files:
            yield from iter_rec(path)
        for path in manifests:
            yield from iter_manifest(path, attribute_names, channel.path)
        return
    if ctype not in IMAGE_TYPES:
        raise AlgorithmClientError(f"Content type {ctype!r} is not supported for channel {channel.name!r}")
    lst_files = [p for p in files_in(lst_channel.path) if p.suffix == ".lst"] if lst_channel else []
    if not lst_files:
        lst_files = [p for p in files if p.suffix == ".lst"]
    if lst_files:
        sharded = channel.s3_distribution_type == "ShardedByS3Key"
        for lst in lst_files:
            yield from iter_lst(channel.path, lst, skip_missing=sharded)
        return
    if manifests:
        for path in manifests:
            yield from iter_manifest(path, attribute_names, channel.path)
        return
    wanted = (
        f"the {channel.name}_lst channel" if channel.name in ("train", "validation") else "a .lst channel"
    )
    raise AlgorithmClientError(
        f"Channel {channel.name!r} holds images ({ctype}) but no .lst file was found in {wanted}"
    )


def _manifests(channel_dir: Path) -> list[Path]:
    if not channel_dir.is_dir():
        return []
    return sorted(
        p
        for p in channel_dir.iterdir()
        if p.is_file() and p.suffix in MANIFEST_SUFFIXES and not p.name.startswith(".")
    )
