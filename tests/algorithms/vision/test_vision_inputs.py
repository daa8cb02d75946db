"""The shared vision layer's readers: image RecordIO, .lst files, augmented manifests, decoding."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from vision_images import shape_dataset

from sagestack.algorithms.base import AlgorithmClientError, Channel
from sagestack.algorithms.vision.augment import augment_batch, prepare, to_tensor_batch
from sagestack.algorithms.vision.inputs import (
    IR_SIZE,
    ImageRecord,
    channel_records,
    decode_image,
    encode_image,
    iter_lst,
    iter_manifest,
    iter_rec,
    pack_rec,
    ref_path,
    unpack_rec,
    write_rec,
)
from sagestack.formats import recordio


def _records(count=6, fmt="PNG"):
    images, labels = shape_dataset(count, size=16)
    return [
        ImageRecord(key=str(i), image=encode_image(img, fmt), labels=(float(lab),))
        for i, (img, lab) in enumerate(zip(images, labels))
    ], images


def test_rec_round_trip_single_and_multi_labels(tmp_path):
    records, images = _records()
    multi = ImageRecord(key="x", image=records[0].image, labels=(1.0, 0.0, 1.0))
    path = tmp_path / "train.rec"
    assert write_rec(path, [*records, multi]) == 7
    back = list(iter_rec(path))
    assert [r.labels for r in back] == [r.labels for r in records] + [(1.0, 0.0, 1.0)]
    assert [r.image for r in back] == [r.image for r in records] + [records[0].image]
    assert np.array_equal(decode_image(back[2].image), images[2])  # PNG is lossless


def test_rec_header_layout_matches_im2rec():
    payload = pack_rec(ImageRecord("k", b"IMG", (2.0,)), index=5)
    flag, label, ident, id2 = struct.unpack_from("<IfQQ", payload)
    assert (flag, label, ident, id2) == (0, 2.0, 5, 0) and payload[IR_SIZE:] == b"IMG"
    payload = pack_rec(ImageRecord("k", b"IMG", (3.0, 0.1, 0.2, 0.5, 0.6)), index=1)
    assert struct.unpack_from("<I", payload)[0] == 5
    assert unpack_rec(payload).labels == pytest.approx((3.0, 0.1, 0.2, 0.5, 0.6))
    assert unpack_rec(payload).image == b"IMG"


def test_rec_rejects_bad_framing(tmp_path):
    path = tmp_path / "bad.rec"
    path.write_bytes(b"not a recordio file at all")
    with pytest.raises(AlgorithmClientError, match="bad.rec is not a valid RecordIO file"):
        list(iter_rec(path))


def test_rec_stream_of_augmented_manifest_records(tmp_path):
    records, _ = _records(2)
    payloads = [records[0].image, b"1", records[1].image, b'{"annotations": [], "image_size": []}']
    path = tmp_path / "train_0"
    path.write_bytes(recordio.frame(payloads))
    back = list(iter_rec(path))
    assert back[0].labels == (1.0,) and back[0].annotation == 1
    assert back[1].labels == () and back[1].annotation == {"annotations": [], "image_size": []}


def test_lst_reader(tmp_path):
    records, _ = _records(4, "JPEG")
    (tmp_path / "img" / "sub").mkdir(parents=True)
    lines = []
    for i, rec in enumerate(records):
        (tmp_path / "img" / "sub" / f"{i}.jpg").write_bytes(rec.image)
        lines.append(f"{i}\t{rec.labels[0]:g}\tsub/{i}.jpg")
    (tmp_path / "train.lst").write_text("\n".join(lines) + "\n")
    back = list(iter_lst(tmp_path / "img", tmp_path / "train.lst"))
    assert [r.labels for r in back] == [r.labels for r in records]
    assert decode_image(back[0].image).shape == (16, 16, 3)
    (tmp_path / "bad.lst").write_text("0\t1\tmissing.jpg\n")
    with pytest.raises(AlgorithmClientError, match="missing.jpg"):
        list(iter_lst(tmp_path / "img", tmp_path / "bad.lst"))
    (tmp_path / "bad2.lst").write_text("0 1 a.jpg\n")
    with pytest.raises(AlgorithmClientError, match="tab-separated"):
        list(iter_lst(tmp_path / "img", tmp_path / "bad2.lst"))


def _manifest(tmp_path: Path, records) -> Path:
    lines = []
    for i, rec in enumerate(records):
        uri = f"s3://bucket/images/{i}.png"
        target = ref_path(tmp_path, uri)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(rec.image)
        lines.append(
            json.dumps(
                {"source-ref": uri, "class": int(rec.labels[0]), "class-metadata": {"class-name": "x"}}
            )
        )
    path = tmp_path / "train.manifest"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_manifest_reader(tmp_path):
    records, _ = _records(3)
    path = _manifest(tmp_path, records)
    back = list(iter_manifest(path, ["source-ref", "class"]))
    assert [r.labels for r in back] == [r.labels for r in records]
    assert back[0].annotation == 0 and back[0].image == records[0].image
    # without AttributeNames: the -ref attribute, then the non-metadata attributes
    assert [r.labels for r in iter_manifest(path)] == [r.labels for r in records]
    with pytest.raises(AlgorithmClientError, match="has no attribute"):
        list(iter_manifest(path, ["source-ref", "label"]))


def test_channel_records_picks_reader(tmp_path):
    records, _ = _records(3)
    rec_dir = tmp_path / "rec" / "train"
    rec_dir.mkdir(parents=True)
    write_rec(rec_dir / "train.rec", records)
    channel = Channel("train", rec_dir, content_type="application/x-recordio")
    assert len(list(channel_records(channel))) == 3
    img_dir, lst_dir = tmp_path / "img" / "train", tmp_path / "img" / "train_lst"
    img_dir.mkdir(parents=True)
    lst_dir.mkdir(parents=True)
    for i, rec in enumerate(records):
        (img_dir / f"{i}.png").write_bytes(rec.image)
    (lst_dir / "train.lst").write_text(
        "".join(f"{i}\t{r.labels[0]:g}\t{i}.png\n" for i, r in enumerate(records))
    )
    image_channel = Channel("train", img_dir, content_type="image/png")
    lst_channel = Channel("train_lst", lst_dir, content_type="application/x-image")
    assert [r.labels for r in channel_records(image_channel, lst_channel)] == [r.labels for r in records]
    with pytest.raises(AlgorithmClientError, match="no .lst file"):
        list(channel_records(image_channel))
    man_dir = tmp_path / "man" / "train"
    man_dir.mkdir(parents=True)
    _manifest(man_dir, records)
    manifest_channel = Channel("train", man_dir, content_type="application/x-recordio")
    got = list(channel_records(manifest_channel, attribute_names=["source-ref", "class"]))
    assert [r.labels for r in got] == [r.labels for r in records]
    pipe = Channel("train", tmp_path / "pipe" / "train", content_type="image/png", input_mode="Pipe")
    with pytest.raises(AlgorithmClientError, match="Pipe mode needs RecordIO"):
        list(channel_records(pipe))


def test_decode_rejects_garbage():
    with pytest.raises(AlgorithmClientError, match="cannot decode image"):
        decode_image(b"garbage")


def test_augment_shapes_and_normalisation():
    images, _ = shape_dataset(4, size=20)
    stored = [prepare(img, 24, 24, resize=28) for img in images]
    assert stored[0].shape == (28, 28, 3)
    rng = np.random.default_rng(0)
    for aug in (None, "crop", "crop_color", "crop_color_transform"):
        batch = augment_batch(stored, 24, 24, aug, rng)
        assert batch.shape == (4, 24, 24, 3)
    tensor = to_tensor_batch(augment_batch(stored, 24, 24, None, None))
    assert tensor.shape == (4, 3, 24, 24) and tensor.dtype == np.float32 and tensor.flags.c_contiguous


def test_sharded_images_channel_reads_only_its_share_of_the_lst(tmp_path):
    records, _ = _records(4)
    img_dir, lst_dir = tmp_path / "train", tmp_path / "train_lst"
    img_dir.mkdir()
    lst_dir.mkdir()
    for i, rec in enumerate(records[:2]):  # this host's share: images 0 and 1
        (img_dir / f"{i}.png").write_bytes(rec.image)
    (lst_dir / "all.lst").write_text(
        "".join(f"{i}\t{r.labels[0]:g}\t{i}.png\n" for i, r in enumerate(records))
    )
    sharded = Channel("train", img_dir, "image/png", s3_distribution_type="ShardedByS3Key")
    lst = Channel("train_lst", lst_dir, "application/x-image")
    assert [r.key for r in channel_records(sharded, lst)] == ["0", "1"]
    with pytest.raises(AlgorithmClientError, match="2.png"):
        list(channel_records(Channel("train", img_dir, "image/png"), lst))
