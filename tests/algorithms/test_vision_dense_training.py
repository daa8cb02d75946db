"""Object Detection and Semantic Segmentation ``train(env)`` on tiny job directories, for what the
end-to-end test does not cover: annotation-JSON input, incremental training and frozen layers, label
maps, data errors as client errors, and two hosts training data-parallel."""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import uuid

import numpy as np
import pytest

from dense_scenes import annotation_json, mask_png, scenes
from jobdir import make_job, metric_values
from sagestack.algorithms import object_detection, semantic_segmentation
from sagestack.algorithms.base import AlgorithmClientError

SIZE = 32
DET = {
    "num_classes": "2",
    "num_training_samples": "8",
    "use_pretrained_model": "0",
    "base_network": "resnet-18",
    "image_shape": str(SIZE),
    "epochs": "1",
    "mini_batch_size": "4",
}
SEG = {
    "num_classes": "3",
    "num_training_samples": "8",
    "use_pretrained_model": "False",
    "backbone": "resnet-18",
    "crop_size": str(SIZE),
    "epochs": "1",
    "mini_batch_size": "4",
}
DET_TYPES = {
    "train": "image/png",
    "validation": "image/png",
    "train_annotation": "application/json",
    "validation_annotation": "application/json",
}
SEG_TYPES = {k: "image/png" for k in DET_TYPES}


def _det_channels(n: int = 8) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    for split, seed, count in (("train", 1, n), ("validation", 2, 4)):
        out[split], out[f"{split}_annotation"] = {}, {}
        for i, (png, objects, _) in enumerate(scenes(count, seed, SIZE)):
            out[split][f"im{i}.png"] = png
            out[f"{split}_annotation"][f"im{i}.json"] = annotation_json(f"im{i}.png", objects, SIZE)
    return out


def _seg_channels(n: int = 8, scale: int = 1) -> dict[str, dict[str, bytes]]:
    out: dict[str, dict[str, bytes]] = {}
    for split, seed, count in (("train", 1, n), ("validation", 2, 4)):
        out[split], out[f"{split}_annotation"] = {}, {}
        for i, (png, _, mask) in enumerate(scenes(count, seed, SIZE)):
            out[split][f"im{i}.png"] = png
            out[f"{split}_annotation"][f"im{i}.png"] = mask_png((mask * scale).astype(np.uint8))
    return out


def _train(module, env) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        module.train(env)
    return out.getvalue()


def test_detection_incremental_training_with_frozen_base(tmp_path):
    first = make_job(tmp_path / "a", DET, _det_channels(), DET_TYPES)
    log = _train(object_detection, first)
    assert {"validation:mAP", "train:cross_entropy", "train:smooth_l1"} <= set(
        metric_values(log, object_detection.SPEC)
    )
    import tarfile

    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in first.model_dir.iterdir():
            tar.add(path, arcname=path.name)
    channels = {**_det_channels(), "model": {"model.tar.gz": archive.read_bytes()}}
    second = make_job(
        tmp_path / "b",
        {**DET, "freeze_layer_pattern": "^base\\.body\\.stem"},
        channels,
        {**DET_TYPES, "model": "application/x-sagemaker-model"},
    )
    log = _train(object_detection, second)
    assert "Initialised from the model channel's model" in log and "Froze" in log
    old = object_detection.load_model(first.model_dir).network.state_dict()
    new = object_detection.load_model(second.model_dir).network.state_dict()
    assert all(
        np.array_equal(old[k], new[k]) for k in old if k.startswith("base.body.stem") and "weight" in k
    )
    mismatch = make_job(
        tmp_path / "c",
        {**DET, "num_classes": "3"},
        channels,
        {**DET_TYPES, "model": "application/x-sagemaker-model"},
    )
    with pytest.raises(AlgorithmClientError, match="num_classes"):
        _train(object_detection, mismatch)


def test_detection_data_errors_name_the_file(tmp_path):
    channels = _det_channels()
    del channels["train_annotation"]["im3.json"]
    env = make_job(tmp_path / "a", DET, channels, DET_TYPES)
    with pytest.raises(AlgorithmClientError, match="im3.png has no annotation im3.json"):
        _train(object_detection, env)
    channels = _det_channels()
    doc = json.loads(channels["train_annotation"]["im0.json"])
    doc["annotations"][0]["class_id"] = 7
    channels["train_annotation"]["im0.json"] = json.dumps(doc).encode()
    env = make_job(tmp_path / "b", DET, channels, DET_TYPES)
    with pytest.raises(AlgorithmClientError, match="class id 7"):
        _train(object_detection, env)
    no_notes = {k: v for k, v in _det_channels().items() if not k.endswith("annotation")}
    env = make_job(tmp_path / "c", DET, no_notes, DET_TYPES)
    with pytest.raises(AlgorithmClientError, match="train_annotation channel"):
        _train(object_detection, env)


@pytest.mark.parametrize("algorithm", ["psp", "deeplab"])
def test_segmentation_label_map_scale_and_metrics(tmp_path, algorithm):
    channels = {
        **_seg_channels(scale=10),
        "label_map": {
            "train_label_map.json": b'{"scale": "10"}',
            "validation_label_map.json": b'{"scale": "10"}',
        },
    }
    env = make_job(
        tmp_path,
        {**SEG, "algorithm": algorithm, "lr_scheduler": "step", "lr_scheduler_step": "1", "epochs": "2"},
        channels,
        {**SEG_TYPES, "label_map": "application/json"},
    )
    metrics = metric_values(_train(semantic_segmentation, env), semantic_segmentation.SPEC)
    assert 0.0 <= metrics["validation:mIOU"] <= 1.0 and 0.0 <= metrics["validation:pixel_accuracy"] <= 1.0
    model = semantic_segmentation.load_model(env.model_dir)
    assert model.hp["algorithm"] == algorithm


def test_segmentation_mask_values_outside_the_classes_are_client_errors(tmp_path):
    env = make_job(tmp_path, SEG, _seg_channels(scale=10), SEG_TYPES)
    with pytest.raises(AlgorithmClientError, match="pixel value 10 is not a class id"):
        _train(semantic_segmentation, env)


def _host(root: str, host: str, job: str, queue) -> None:
    from pathlib import Path

    from jobdir import make_job as job_dir
    from sagestack.algorithms import semantic_segmentation as ss

    env = job_dir(Path(root) / host, SEG, _seg_channels(), SEG_TYPES)
    env.hosts, env.current_host, env.job_name = ["algo-1", "algo-2"], host, job
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ss.train(env)
    queue.put((host, out.getvalue(), sorted(p.name for p in env.model_dir.glob("*"))))


@pytest.mark.slow
def test_segmentation_trains_on_two_hosts(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    job = f"vdense-{uuid.uuid4().hex}"
    peers = [context.Process(target=_host, args=(str(tmp_path), h, job, queue)) for h in ("algo-1", "algo-2")]
    for peer in peers:
        peer.start()
    results = {}
    for _ in peers:
        host, log, files = queue.get(timeout=300)
        results[host] = (log, files)
    for peer in peers:
        peer.join(timeout=60)
        assert peer.exitcode == 0
    assert "validation:mIOU" in metric_values(results["algo-1"][0], semantic_segmentation.SPEC)
    assert results["algo-1"][1] == ["model_algo-1", "model_algo-1.json"]
    assert results["algo-2"][1] == []  # the leader writes the model


def test_detection_reads_rec_files_and_ground_truth_manifests(tmp_path):
    from sagestack.algorithms.object_detection.labels import pack
    from sagestack.algorithms.vision.inputs import ImageRecord, write_rec

    files: dict[str, dict[str, bytes]] = {}
    for split, seed, count in (("train", 1, 8), ("validation", 2, 4)):
        items = scenes(count, seed, SIZE)
        path = tmp_path / f"{split}.rec"
        write_rec(path, [ImageRecord(str(i), png, tuple(pack(o, 40))) for i, (png, o, _) in enumerate(items)])
        files[split] = {f"{split}.rec": path.read_bytes()}
    env = make_job(
        tmp_path / "rec",
        DET,
        files,
        {"train": "application/x-recordio", "validation": "application/x-recordio"},
    )
    assert "validation:mAP" in metric_values(_train(object_detection, env), object_detection.SPEC)

    manifests: dict[str, dict[str, bytes]] = {}
    for split, seed, count in (("train", 1, 8), ("validation", 2, 4)):
        lines, channel = [], {}
        for i, (png, objects, _) in enumerate(scenes(count, seed, SIZE)):
            channel[f".s3/bucket/{split}/im{i}.png"] = png
            boxes = json.loads(annotation_json(f"im{i}.png", objects, SIZE))
            lines.append(
                {
                    "source-ref": f"s3://bucket/{split}/im{i}.png",
                    "shapes": {"image_size": boxes["image_size"], "annotations": boxes["annotations"]},
                    "shapes-metadata": {"class-map": {"0": "rectangle", "1": "ellipse"}},
                }
            )
        channel[f"{split}.manifest"] = "".join(json.dumps(line) + "\n" for line in lines).encode()
        manifests[split] = channel
    env = make_job(
        tmp_path / "manifest",
        DET,
        manifests,
        {"train": "application/x-recordio", "validation": "application/x-recordio"},
    )
    assert "validation:mAP" in metric_values(_train(object_detection, env), object_detection.SPEC)
