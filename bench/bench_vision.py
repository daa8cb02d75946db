"""Image Classification through sagestack vs the same torch ResNet trained / called directly: images/s.

Usage: ``python -m bench.bench_vision [--images 256] [--epochs 3] [--layers 18] [--size 32]
[--requests 100]``

Data: ``--images`` ``size×size`` PNG images of three shapes (plus a quarter as many for validation),
written as im2rec ``.rec`` files. Measured in the same run on the same machine:

* training, sagestack: a real training job (``sagestack serve``, ``CreateTrainingJob`` with the
  ``image-classification`` image, ``.rec`` channels, ``mini_batch_size`` 32, SGD, ``crop`` augmentation).
  Two figures: the epochs' images/s from the job's own ``Epoch[e] Time cost=`` log lines (forward,
  backward, update, augmentation), and images/s over the whole job (``TrainingStartTime`` to
  ``TrainingEndTime``: staging, decoding, per-epoch validation, artifact upload included);
* training, direct: the same network (:func:`sagestack.algorithms.vision.backbones.resnet`) trained in
  this process on the pre-decoded, pre-normalised tensors, same batch size, optimizer and thread count
  as the job logged — no augmentation, no validation: the floor of the work;
* inference, sagestack: ``InvokeEndpoint`` (SigV4, router, worker) on the job's model, one PNG per
  request, sequential;
* inference, direct: the same model loaded in this process, ``probabilities([png])`` per image (decode,
  resize, forward) in a loop.
"""

from __future__ import annotations

import argparse
import re
import time

import numpy as np

from bench.common import running_server, table

IMAGE = "811284229777.dkr.ecr.us-east-1.amazonaws.com/image-classification:1"
ROLE = "arn:aws:iam::000000000000:role/SageStackExecutionRole"


def shapes(count: int, size: int, seed: int) -> tuple[list[np.ndarray], list[int]]:
    """``count`` images of a filled square, circle or cross on a noisy background; their class ids."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(count):
        label = i % 3
        image = rng.integers(0, 40, size=(size, size, 3), dtype=np.uint8)
        radius = int(rng.integers(size // 4, size // 3 + 1))
        cy, cx = (int(v) for v in rng.integers(radius, size - radius, size=2))
        if label == 0:
            mask = (abs(yy - cy) <= radius) & (abs(xx - cx) <= radius)
        elif label == 1:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2
        else:
            width = max(1, radius // 3)
            mask = ((abs(yy - cy) <= width) & (abs(xx - cx) <= radius)) | (
                (abs(xx - cx) <= width) & (abs(yy - cy) <= radius)
            )
        image[mask] = rng.integers(150, 256, size=3, dtype=np.uint8)
        images.append(image)
        labels.append(label)
    return images, labels


def _rec(images, labels) -> bytes:
    from sagestack.algorithms.vision.inputs import ImageRecord, encode_image, pack_rec
    from sagestack.formats.recordio import frame

    return frame(
        pack_rec(ImageRecord(str(i), encode_image(im), (float(lab),)), i)
        for i, (im, lab) in enumerate(zip(images, labels))
    )


def _job_log(server, name: str) -> str:
    logs = server.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    lines = []
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=name)["logStreams"]
    for stream in streams:
        kwargs = {"logGroupName": group, "logStreamName": stream["logStreamName"], "startFromHead": True}
        while True:
            page = logs.get_log_events(**kwargs)
            lines += [event["message"] for event in page["events"]]
            if not page["events"] or page["nextForwardToken"] == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextForwardToken"]
    return "\n".join(lines)


def direct_training(images, labels, args, threads: int) -> float:
    """Images/s of the plain torch loop (see the module docstring)."""
    import torch

    from sagestack.algorithms.vision.augment import to_tensor_batch
    from sagestack.algorithms.vision.backbones import resnet

    torch.manual_seed(0)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x = torch.from_numpy(to_tensor_batch(np.stack(images)))
        y = torch.tensor(labels)
        model = resnet(args.layers, 3)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()
        started = time.perf_counter()
        for _ in range(args.epochs):
            order = torch.randperm(len(x))
            for start in range(0, len(x), 32):
                index = order[start : start + 32]
                loss = loss_fn(model(x[index]), y[index])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        return args.epochs * len(x) / (time.perf_counter() - started)
    finally:
        torch.set_num_threads(previous)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--layers", type=int, default=18)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args(argv)
    from sagestack.algorithms.vision.inputs import encode_image

    train_images, train_labels = shapes(args.images, args.size, 1)
    valid_images, valid_labels = shapes(max(3, args.images // 4), args.size, 2)
    test_images, _ = shapes(args.requests, args.size, 3)
    pngs = [encode_image(im) for im in test_images]
    rows = []
    with running_server() as server:
        s3, sm = server.client("s3"), server.client("sagemaker")
        s3.create_bucket(Bucket="bench-vision")
        s3.put_object(Bucket="bench-vision", Key="train/train.rec", Body=_rec(train_images, train_labels))
        s3.put_object(Bucket="bench-vision", Key="validation/val.rec", Body=_rec(valid_images, valid_labels))
        name = f"bench-vision-{int(time.time())}"
        hps = {
            "num_classes": "3", "num_training_samples": str(args.images), "num_layers": str(args.layers),
            "image_shape": f"3,{args.size},{args.size}", "epochs": str(args.epochs), "mini_batch_size": "32",
            "learning_rate": "0.05", "augmentation_type": "crop",
        }  # fmt: skip
        sm.create_training_job(
            TrainingJobName=name,
            RoleArn=ROLE,
            HyperParameters=hps,
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            InputDataConfig=[
                {
                    "ChannelName": channel,
                    "ContentType": "application/x-recordio",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://bench-vision/{channel}/"}
                    },
                }
                for channel in ("train", "validation")
            ],
            OutputDataConfig={"S3OutputPath": "s3://bench-vision/output"},
            ResourceConfig={"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
        while (desc := sm.describe_training_job(TrainingJobName=name))["TrainingJobStatus"] == "InProgress":
            time.sleep(0.5)
        if desc["TrainingJobStatus"] != "Completed":
            raise SystemExit(f"training job {name}: {desc['TrainingJobStatus']} {desc.get('FailureReason')}")
        log = _job_log(server, name)
        epoch_seconds = [float(v) for v in re.findall(r"Epoch\[\d+\] Time cost=([0-9.]+)", log)]
        threads_found = re.search(r"\((\d+) threads\)", log)
        threads = int(threads_found.group(1)) if threads_found else 1
        job_seconds = (desc["TrainingEndTime"] - desc["TrainingStartTime"]).total_seconds()
        ours_epochs = args.epochs * args.images / sum(epoch_seconds)
        ours_job = args.epochs * args.images / job_seconds
        direct = direct_training(train_images, train_labels, args, threads)
        rows.append(
            [
                "training: epochs (job log)",
                f"{ours_epochs:.1f}",
                f"{direct:.1f}",
                f"{ours_epochs / direct:.2f}",
            ]
        )
        rows.append(["training: whole job", f"{ours_job:.1f}", f"{direct:.1f}", f"{ours_job / direct:.2f}"])
        # inference
        model_url = desc["ModelArtifacts"]["S3ModelArtifacts"]
        sm.create_model(
            ModelName=name,
            ExecutionRoleArn=ROLE,
            PrimaryContainer={"Image": IMAGE, "ModelDataUrl": model_url},
        )
        variant = {
            "VariantName": "AllTraffic",
            "ModelName": name,
            "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large",
        }
        sm.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
        sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
        while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating":
            time.sleep(0.2)
        runtime = server.client("sagemaker-runtime")
        runtime.invoke_endpoint(EndpointName=name, Body=pngs[0], ContentType="image/png")  # warm
        started = time.perf_counter()
        for body in pngs:
            runtime.invoke_endpoint(
                EndpointName=name, Body=body, ContentType="image/png", Accept="application/json"
            )
        ours_inference = len(pngs) / (time.perf_counter() - started)
        direct_inference = _direct_inference(s3, model_url, pngs)
        rows.append(
            [
                "inference: 1 PNG per call",
                f"{ours_inference:.1f}",
                f"{direct_inference:.1f}",
                f"{ours_inference / direct_inference:.2f}",
            ]
        )
        sm.delete_endpoint(EndpointName=name)
    print(
        table(
            f"Image Classification, ResNet-{args.layers}, {args.images} {args.size}x{args.size} images, "
            f"{args.epochs} epochs, batch 32, {threads} torch thread(s)",
            ["images/s", "sagestack", "direct torch", "ratio"],
            rows,
        )
    )
    return 0


def _direct_inference(s3, model_url: str, pngs: list[bytes]) -> float:
    import io
    import tarfile
    import tempfile

    import torch

    from sagestack.algorithms.image_classification import load_model

    bucket, key = model_url[5:].split("/", 1)
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    previous = torch.get_num_threads()
    with tempfile.TemporaryDirectory() as folder:
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            tar.extractall(folder, filter="data")
        model = load_model(folder)  # one thread, as a serving worker
    try:
        model.probabilities([pngs[0]])
        started = time.perf_counter()
        for body in pngs:
            model.probabilities([body])
        return len(pngs) / (time.perf_counter() - started)
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    raise SystemExit(main())
