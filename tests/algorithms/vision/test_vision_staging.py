"""Staging augmented manifests for the vision algorithms: File mode copies the ``-ref`` objects beside
the manifest; Pipe mode with ``RecordWrapperType=RecordIO`` streams each attribute as one record."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
from vision_images import shape_dataset

from sagestack.algorithms.base import Channel
from sagestack.algorithms.vision.inputs import channel_records, encode_image
from sagestack.execution.storage import DataError
from sagestack.execution.training.job import JobFailed, StopRequest
from sagestack.execution.training.staging import check_manifests, stage_manifest_refs, start_pipe


class FakeStorage:
    """The part of JobStorage staging uses, over a dict of (bucket, key) → bytes."""

    def __init__(self, objects: dict[tuple[str, str], bytes]):
        self.objects = objects

    def read_bytes(self, bucket: str, key: str) -> bytes:
        try:
            return self.objects[(bucket, key)]
        except KeyError:
            raise DataError(f"Could not read s3://{bucket}/{key}: NoSuchKey") from None

    def open(self, bucket: str, key: str):
        return io.BytesIO(self.read_bytes(bucket, key))

    def fetch(self, bucket: str, key: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(self.read_bytes(bucket, key))


def _objects(count: int = 3):
    images, labels = shape_dataset(count, size=16)
    objects, lines = {}, []
    for i, (image, label) in enumerate(zip(images, labels)):
        objects[("data", f"img/{i}.png")] = encode_image(image)
        lines.append(
            json.dumps({"source-ref": f"s3://data/img/{i}.png", "category": label, "category-metadata": {}})
        )
    objects[("data", "train.manifest")] = ("\n".join(lines) + "\n").encode()
    return objects, labels


def test_file_mode_stages_ref_objects(tmp_path):
    objects, labels = _objects()
    storage = FakeStorage(objects)
    channel_dir = tmp_path / "train"
    storage.fetch("data", "train.manifest", channel_dir / "train.manifest")
    stage_manifest_refs(storage, channel_dir / "train.manifest", channel_dir, ["source-ref", "category"])
    assert (channel_dir / ".s3" / "data" / "img" / "2.png").read_bytes() == objects[("data", "img/2.png")]
    channel = Channel("train", channel_dir, content_type="application/x-recordio")
    assert [r.labels for r in channel_records(channel)] == [(float(v),) for v in labels]
    del objects[("data", "img/1.png")]
    with pytest.raises(JobFailed, match="Data download failed.*img/1.png"):
        stage_manifest_refs(storage, channel_dir / "train.manifest", tmp_path / "other", None)


def test_pipe_mode_streams_recordio_wrapped_attributes(tmp_path):
    objects, labels = _objects()
    storage = FakeStorage(objects)
    stem = tmp_path / "input" / "data" / "train"
    stop = StopRequest()
    end = start_pipe(
        storage,
        stem,
        [("data", "train.manifest", "train.manifest")],
        stop,
        "test",
        augmented_attributes=["source-ref", "category"],
    )
    got = []
    reader = threading.Thread(
        target=lambda: got.extend(channel_records(Channel("train", stem, "application/x-recordio", "Pipe")))
    )
    reader.start()
    reader.join(30)
    end()
    assert [r.labels for r in got] == [(float(v),) for v in labels]
    assert got[0].image == objects[("data", "img/0.png")]


def test_bad_pipe_manifest_fails_before_streaming():
    objects, _ = _objects()
    with pytest.raises(JobFailed, match="has no attribute"):
        check_manifests(FakeStorage(objects), [("data", "train.manifest", "")], ["source-ref", "label"])
