"""Object Detection and Semantic Segmentation: images/s in training and inference through the
algorithms' entry points vs the same torch network trained/called directly in one process.

Usage: ``python -m bench.bench_vision_dense [--images N] [--epochs E] [--size S]``.

* Training: ``train(env)`` on an ``/opt/ml``-style job (PNG images with annotation JSON / PNG masks;
  decoding, the per-epoch validation pass on a 16-image channel and writing the model included) vs a
  loop over the same network, optimizer, batches and loss on tensors decoded beforehand (no
  validation). images/s = epochs × training images / wall time.
* Inference: ``predict(model, png, …)`` per image (PNG decode, resize, forward, NMS or the PNG mask
  encode, the JSON/PNG response) vs the network's forward (+ NMS / argmax) on a ready tensor.

* ``--server``: the same through a running ``sagestack serve``: a real training job (images/s over
  ``TrainingStartTime``→``TrainingEndTime``: staging, decoding, validation and the artifact upload
  included) and ``InvokeEndpoint`` with one PNG per call (SigV4, router, worker), against the in-process
  direct figures.

Both sides run torch on one thread (``SM_NUM_CPUS=1``), ResNet-18 base/backbone. torch's one-time
import of ``torch._dynamo`` at the first optimizer is paid before either side is timed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from bench.bench_algorithms import make_job


def _scenes(n: int, size: int, seed: int):
    from PIL import Image

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = rng.integers(90, 150, (size, size, 3)).astype(np.uint8)
        mask = np.zeros((size, size), np.uint8)
        objects = []
        for cls in range(int(rng.integers(1, 3))):
            w, h = (int(v) for v in rng.integers(size // 5, size // 2, 2))
            x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
            image[y0 : y0 + h, x0 : x0 + w] = (220, 40, 40) if cls == 0 else (40, 60, 220)
            mask[y0 : y0 + h, x0 : x0 + w] = cls + 1
            objects.append([cls, x0 / size, y0 / size, (x0 + w) / size, (y0 + h) / size])
        buf, mbuf = io.BytesIO(), io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        Image.fromarray(mask, mode="L").save(mbuf, format="PNG")
        out.append((buf.getvalue(), np.asarray(objects, np.float32), mbuf.getvalue(), image, mask))
    return out


def _files(root: Path, channels: dict[str, dict[str, bytes]]):
    for channel, files in channels.items():
        folder = root / "input" / "data" / channel
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)


def _annotation(objects: np.ndarray, size: int) -> bytes:
    notes = [
        {"class_id": int(o[0]), "left": o[1] * size, "top": o[2] * size,
         "width": (o[3] - o[1]) * size, "height": (o[4] - o[2]) * size}
        for o in objects.tolist()
    ]  # fmt: skip
    return json.dumps(
        {"image_size": [{"width": size, "height": size, "depth": 3}], "annotations": notes}
    ).encode()


def _job(tmp: Path, name: str, hps: dict, train, valid, masks: bool, size: int):
    root = tmp / name
    content = {"train": "image/png", "validation": "image/png"}
    note_type = "image/png" if masks else "application/json"
    env = make_job(
        root,
        hps,
        {"train": ("keep", b""), "validation": ("keep", b""), "train_annotation": ("keep", b""),
         "validation_annotation": ("keep", b"")},
        {**content, "train_annotation": note_type, "validation_annotation": note_type},
    )  # fmt: skip
    for split, items in (("train", train), ("validation", valid)):
        images, notes = {}, {}
        for i, (png, objects, mask_png, _, _) in enumerate(items):
            images[f"{split}{i}.png"] = png
            if masks:
                notes[f"{split}{i}.png"] = mask_png
            else:
                notes[f"{split}{i}.json"] = _annotation(objects, size)
        _files(root, {split: images, f"{split}_annotation": notes})
        for channel in (split, f"{split}_annotation"):
            (root / "input" / "data" / channel / "keep").unlink()
    return env


def _rate(images: int, seconds: float) -> float:
    return images / seconds if seconds else float("nan")


def _direct_train(network, loss_fn, batches, epochs: int, lr: float) -> float:
    import torch

    optimizer = torch.optim.Adam(network.parameters(), lr=lr, weight_decay=0.0005)
    network.train()
    started = time.perf_counter()
    for _ in range(epochs):
        for batch in batches:
            loss = loss_fn(network, *batch)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return time.perf_counter() - started


def bench_detection(tmp: Path, n: int, epochs: int, size: int) -> list[tuple]:
    import torch

    from sagestack.algorithms import object_detection as od
    from sagestack.algorithms.object_detection import boxes
    from sagestack.algorithms.object_detection.network import SSD, multibox_loss
    from sagestack.algorithms.object_detection.training import to_tensor

    train, valid, test = _scenes(n, size, 0), _scenes(16, size, 1), _scenes(32, size, 2)
    hps = {"num_classes": 2, "num_training_samples": n, "use_pretrained_model": 0, "base_network": "resnet-18",
           "image_shape": size, "epochs": epochs, "mini_batch_size": 16, "optimizer": "adam",
           "learning_rate": 0.003}  # fmt: skip
    env = _job(tmp, "det", hps, train, valid, False, size)
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        od.train(env)
        ours = time.perf_counter() - started
    torch.manual_seed(0)
    network = SSD("resnet-18", 2, size)
    batches = []
    for start in range(0, n, 16):
        chunk = train[start : start + 16]
        x = to_tensor(np.stack([item[3] for item in chunk]), "cpu")
        labels, targets = zip(*(boxes.match(torch.from_numpy(o[:, 1:]), torch.from_numpy(o[:, 0]).long(),
                                            network.anchors, 0.5) for _, o, _, _, _ in chunk))  # fmt: skip
        batches.append((x, torch.stack(labels), torch.stack(targets)))

    def loss(net, x, labels, targets):
        ce, l1 = multibox_loss(*net(x), labels, targets)
        return ce + l1

    direct = _direct_train(network, loss, batches, epochs, 0.003)
    model = od.load_model(env.model_dir)
    started = time.perf_counter()
    for png, *_ in test:
        od.predict(model, png, "image/png", "application/json")
    ours_inf = time.perf_counter() - started
    network.eval()
    tensors = [to_tensor(item[3][None], "cpu") for item in test]
    started = time.perf_counter()
    with torch.no_grad():
        for x in tensors:
            boxes.detect(*network(x), network.anchors, 0.45)
    direct_inf = time.perf_counter() - started
    return [
        (f"Object Detection SSD training ({n} images {size}², {epochs} epochs)", _rate(n * epochs, ours),
         _rate(n * epochs, direct)),
        (f"Object Detection inference ({len(test)} PNG requests)", _rate(len(test), ours_inf),
         _rate(len(test), direct_inf)),
    ]  # fmt: skip


def bench_segmentation(tmp: Path, n: int, epochs: int, size: int) -> list[tuple]:
    import torch
    from torch.nn import functional as F

    from sagestack.algorithms import semantic_segmentation as ss
    from sagestack.algorithms.object_detection.training import to_tensor
    from sagestack.algorithms.semantic_segmentation.network import SegmentationNetwork

    train, valid, test = _scenes(n, size, 3), _scenes(16, size, 4), _scenes(32, size, 5)
    hps = {"num_classes": 3, "num_training_samples": n, "use_pretrained_model": "False", "backbone": "resnet-18",
           "algorithm": "fcn", "crop_size": size, "epochs": epochs, "mini_batch_size": 16, "optimizer": "adam",
           "learning_rate": 0.005}  # fmt: skip
    env = _job(tmp, "seg", hps, train, valid, True, size)
    with contextlib.redirect_stdout(io.StringIO()):
        started = time.perf_counter()
        ss.train(env)
        ours = time.perf_counter() - started
    torch.manual_seed(0)
    network = SegmentationNetwork("resnet-18", "fcn", 3)
    batches = []
    for start in range(0, n, 16):
        chunk = train[start : start + 16]
        x = to_tensor(np.stack([item[3] for item in chunk]), "cpu")
        y = torch.from_numpy(np.stack([item[4] for item in chunk]).astype(np.int64))
        batches.append((x, y))
    direct = _direct_train(network, lambda net, x, y: F.cross_entropy(net(x), y, ignore_index=255), batches,
                           epochs, 0.005)  # fmt: skip
    model = ss.load_model(env.model_dir)
    started = time.perf_counter()
    for png, *_ in test:
        ss.predict(model, png, "image/png", "image/png")
    ours_inf = time.perf_counter() - started
    network.eval()
    tensors = [to_tensor(item[3][None], "cpu") for item in test]
    started = time.perf_counter()
    with torch.no_grad():
        for x in tensors:
            network(x).softmax(1).argmax(1)
    direct_inf = time.perf_counter() - started
    return [
        (f"Semantic Segmentation FCN training ({n} images {size}², {epochs} epochs)", _rate(n * epochs, ours),
         _rate(n * epochs, direct)),
        (f"Semantic Segmentation inference ({len(test)} PNG requests → PNG mask)", _rate(len(test), ours_inf),
         _rate(len(test), direct_inf)),
    ]  # fmt: skip


IMAGES = {
    "detection": "811284229777.dkr.ecr.us-east-1.amazonaws.com/object-detection:1",
    "segmentation": "811284229777.dkr.ecr.us-east-1.amazonaws.com/semantic-segmentation:1",
}
ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"


def bench_server(kind: str, n: int, epochs: int, size: int) -> list[tuple]:
    """A real training job and endpoint (see the module docstring); the direct figures come from
    the in-process benchmark of the same size (callers pair them)."""
    from bench.common import running_server

    masks = kind == "segmentation"
    train, valid, test = _scenes(n, size, 0), _scenes(16, size, 1), _scenes(32, size, 2)
    if masks:
        hps = {"num_classes": "3", "use_pretrained_model": "False", "backbone": "resnet-18", "algorithm": "fcn",
               "crop_size": str(size), "learning_rate": "0.005"}  # fmt: skip
    else:
        hps = {"num_classes": "2", "use_pretrained_model": "0", "base_network": "resnet-18",
               "image_shape": str(size), "learning_rate": "0.003"}  # fmt: skip
    hps.update(num_training_samples=str(n), epochs=str(epochs), mini_batch_size="16", optimizer="adam")
    note_type = "image/png" if masks else "application/json"
    with running_server() as server:
        s3, sm = server.client("s3"), server.client("sagemaker")
        bucket = "bench-vision-dense"
        s3.create_bucket(Bucket=bucket)
        for split, items in (("train", train), ("validation", valid)):
            for i, (png, objects, mask_png, _, _) in enumerate(items):
                s3.put_object(Bucket=bucket, Key=f"{split}/im{i}.png", Body=png)
                note = mask_png if masks else _annotation(objects, size)
                suffix = "png" if masks else "json"
                s3.put_object(Bucket=bucket, Key=f"{split}_annotation/im{i}.{suffix}", Body=note)
        name = f"bench-{kind}-{int(time.time())}"
        channels = [
            {"ChannelName": c, "ContentType": note_type if c.endswith("annotation") else "image/png",
             "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{c}/"}}}
            for c in ("train", "validation", "train_annotation", "validation_annotation")
        ]  # fmt: skip
        sm.create_training_job(
            TrainingJobName=name,
            RoleArn=ROLE,
            HyperParameters=hps,
            AlgorithmSpecification={"TrainingImage": IMAGES[kind], "TrainingInputMode": "File"},
            InputDataConfig=channels,
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
            ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
        while (desc := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
            time.sleep(0.5)
        if desc["TrainingJobStatus"] != "Completed":
            raise SystemExit(f"training job {name}: {desc['TrainingJobStatus']} {desc.get('FailureReason')}")
        job_seconds = (desc["TrainingEndTime"] - desc["TrainingStartTime"]).total_seconds()
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={
                "Image": IMAGES[kind],
                "ModelDataUrl": desc["ModelArtifacts"]["S3ModelArtifacts"],
            },
        )
        variant = {"VariantName": "AllTraffic", "ModelName": name, "InitialInstanceCount": 1,
                   "InstanceType": "ml.m5.large"}  # fmt: skip
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
            time.sleep(0.2)
        runtime = server.client("sagemaker-runtime")
        accept = "image/png" if masks else "application/json"
        runtime.invoke_endpoint(EndpointName=name, Body=test[0][0], ContentType="image/png", Accept=accept)
        started = time.perf_counter()
        for png, *_ in test:
            runtime.invoke_endpoint(EndpointName=name, Body=png, ContentType="image/png", Accept=accept)
        seconds = time.perf_counter() - started
        sm.delete_endpoint(EndpointName=name)
    return [
        (f"{kind}: training job through the server (whole job)", _rate(n * epochs, job_seconds)),
        (f"{kind}: InvokeEndpoint, 1 PNG per call", _rate(len(test), seconds)),
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument(
        "--only", default="detection,segmentation", help="comma-separated: detection, segmentation"
    )
    parser.add_argument(
        "--server", action="store_true", help="also through a running server (jobs, endpoints)"
    )
    args = parser.parse_args(argv)
    os.environ["SM_NUM_CPUS"] = "1"
    import torch

    torch.set_num_threads(1)
    # the first optimizer imports torch._dynamo (seconds): paid here, outside both timings
    torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    rows = []
    chosen = {"detection": bench_detection, "segmentation": bench_segmentation}
    with tempfile.TemporaryDirectory(prefix="bench-vision-dense-") as tmp:
        for kind in (name.strip() for name in args.only.split(",") if name.strip()):
            results = chosen[kind](Path(tmp), args.images, args.epochs, args.size)
            if args.server:
                served = bench_server(kind, args.images, args.epochs, args.size)
                results += [(name, ours, direct) for (name, ours), (_, _, direct) in zip(served, results)]
            for name, ours, direct in results:
                print(f"{name}: sagestack {ours:.1f} images/s, direct {direct:.1f} images/s ({ours / direct:.2f}x)",
                      flush=True)  # fmt: skip
                rows.append((name, ours, direct))
    print()
    print("| benchmark | sagestack images/s | direct torch images/s | ratio |")
    print("|---|---|---|---|")
    for name, ours, direct in rows:
        print(f"| {name} | {ours:.1f} | {direct:.1f} | {ours / direct:.2f}x |")


if __name__ == "__main__":
    main()
