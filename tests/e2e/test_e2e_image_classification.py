"""Image Classification through the SDK's generic ``Estimator`` with
``image_uris.retrieve("image-classification", ...)`` on a real server: 32×32 images of three shapes
(square, circle, cross) drawn in the test.

* ``.lst`` run (image files + ``train_lst``/``validation_lst``, ResNet-18): deployed, the endpoint
  classifies held-out PNG/JPEG images far above chance (1/3); batch transform of a prefix of images
  with ``Accept: application/jsonlines`` writes ``{"prediction": [...]}`` per image.
* ``.rec`` run on two instances (data parallel): Completed, ``validation:accuracy`` above chance.
* Augmented-manifest run in Pipe mode (``RecordWrapperType=RecordIO``): Completed with metrics.
* Bad hyperparameters (``num_layers=19``, ``use_pretrained_model=1``) → Failed, naming them.

All jobs start before any is waited for.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "algorithms" / "vision"))
from vision_images import shape_dataset  # noqa: E402

pytestmark = pytest.mark.slow

HPS = {
    "num_classes": "3",
    "num_layers": "18",
    "image_shape": "3,32,32",
    "epochs": "6",
    "mini_batch_size": "16",
    "optimizer": "adam",
    "learning_rate": "0.001",
    "augmentation_type": "crop",
}
BAD = {
    "depth": ({"num_layers": "19"}, "num_layers"),
    "pretrained": ({"use_pretrained_model": "1"}, "use_pretrained_model"),
}


def _encode(image, fmt="PNG") -> bytes:
    from sagestack.algorithms.vision.inputs import encode_image

    return encode_image(image, fmt)


@pytest.fixture(scope="module")
def trained(e2e, tmp_path_factory):
    from sagemaker import image_uris
    from sagemaker.deserializers import JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import IdentitySerializer

    from sagestack.algorithms.vision.inputs import ImageRecord, write_rec

    s3 = e2e.server.client("s3")
    bucket, prefix = e2e.bucket, f"ic-{uuid.uuid4().hex[:6]}"

    def put(key: str, body: bytes) -> str:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)
        return f"s3://{bucket}/{prefix}/{key}"

    def uri(key: str) -> str:
        return f"s3://{bucket}/{prefix}/{key}"

    train_images, train_labels = shape_dataset(120, seed=1)
    valid_images, valid_labels = shape_dataset(45, seed=2)
    # .lst layout: images under train/ and validation/, one .lst file per *_lst channel
    for name, images, labels in (
        ("train", train_images, train_labels),
        ("validation", valid_images, valid_labels),
    ):
        for i, image in enumerate(images):
            put(f"lst/{name}/{labels[i]}/{i}.png", _encode(image))
        put(
            f"lst/{name}_lst/{name}.lst",
            "".join(f"{i}\t{lab}\t{lab}/{i}.png\n" for i, lab in enumerate(labels)).encode(),
        )
    image = "application/x-image"
    lst_channels = {
        name: TrainingInput(uri(f"lst/{name}/"), content_type=image)
        for name in ("train", "validation", "train_lst", "validation_lst")
    }
    # .rec layout: one im2rec file per channel
    tmp = tmp_path_factory.mktemp("ic-rec")
    for name, images, labels in (
        ("train", train_images, train_labels),
        ("validation", valid_images, valid_labels),
    ):
        write_rec(
            tmp / f"{name}.rec",
            [
                ImageRecord(str(i), _encode(im), (float(lab),))
                for i, (im, lab) in enumerate(zip(images, labels))
            ],
        )
        put(f"rec/{name}/{name}.rec", (tmp / f"{name}.rec").read_bytes())
    rec_channels = {
        name: TrainingInput(uri(f"rec/{name}/"), content_type="application/x-recordio")
        for name in ("train", "validation")
    }
    # augmented manifests (Ground Truth's shape) streamed in Pipe mode as RecordIO records
    for name, images, labels in (
        ("train", train_images[:48], train_labels),
        ("validation", valid_images[:24], valid_labels),
    ):
        lines = []
        for i, im in enumerate(images):
            ref = put(f"manifest/images/{name}-{i}.png", _encode(im))
            lines.append(
                json.dumps(
                    {"source-ref": ref, "shape": labels[i], "shape-metadata": {"class-name": str(labels[i])}}
                )
            )
        put(f"manifest/{name}.manifest", ("\n".join(lines) + "\n").encode())
    manifest_channels = {
        name: TrainingInput(
            uri(f"manifest/{name}.manifest"),
            content_type="application/x-recordio",
            s3_data_type="AugmentedManifestFile",
            attribute_names=["source-ref", "shape"],
            record_wrapping="RecordIO",
            input_mode="Pipe",
        )
        for name in ("train", "validation")
    }
    image_uri = image_uris.retrieve("image-classification", e2e.region)
    output = uri("output")

    def estimator(hyperparameters: dict, count: int = 1, **kwargs) -> Estimator:
        return Estimator(
            image_uri=image_uri,
            role=ROLE,
            instance_count=count,
            instance_type=INSTANCE_TYPE,
            sagemaker_session=e2e.session,
            output_path=output,
            hyperparameters=hyperparameters,
            **kwargs,
        )

    lst = estimator({**HPS, "num_training_samples": "120", "resize": "32"})
    lst.fit(lst_channels, wait=False, logs=False)
    rec = estimator({**HPS, "num_training_samples": "120", "epochs": "3", "num_layers": "20"}, count=2)
    rec.fit(rec_channels, wait=False, logs=False)
    manifest = estimator(
        {**HPS, "num_training_samples": "48", "epochs": "1", "num_layers": "20"}, input_mode="Pipe"
    )
    manifest.fit(manifest_channels, wait=False, logs=False)
    bad_names = {}
    for case, (changes, _) in BAD.items():
        bad_names[case] = f"ic-bad-{case}-{uuid.uuid4().hex[:6]}"
        e2e.sm.create_training_job(
            TrainingJobName=bad_names[case],
            RoleArn=ROLE,
            HyperParameters={**HPS, "num_training_samples": "120", **changes},
            AlgorithmSpecification={"TrainingImage": image_uri, "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": c, **i.config} for c, i in rec_channels.items()],
            OutputDataConfig={"S3OutputPath": output},
            ResourceConfig={"InstanceCount": 1, "InstanceType": INSTANCE_TYPE, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
    e2e.wait_estimators([lst, rec, manifest], timeout=900)
    bad = e2e.wait_jobs(bad_names.values(), timeout=300)
    predictor = e2e.deploy(lst, serializer=IdentitySerializer("image/png"), deserializer=JSONDeserializer())
    e2e.wait_endpoints([predictor], timeout=300)
    return {
        "estimators": {"lst": lst, "rec": rec, "manifest": manifest},
        "predictor": predictor,
        "bad": {case: bad[name] for case, name in bad_names.items()},
        "put": put,
        "prefix": prefix,
    }


def _metrics(e2e, estimator) -> dict[str, float]:
    desc = e2e.sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}


def test_endpoint_classifies_held_out_images(trained, e2e):
    test_images, test_labels = shape_dataset(45, seed=3)
    predictor = trained["predictor"]
    answers = [predictor.predict(_encode(im)) for im in test_images]
    assert all(isinstance(a, list) and len(a) == 3 and abs(sum(a) - 1) < 1e-3 for a in answers)
    accuracy = float(np.mean([int(np.argmax(a)) == lab for a, lab in zip(answers, test_labels)]))
    assert accuracy >= 0.6, accuracy  # chance: 1/3
    jpeg = predictor.predict(_encode(test_images[0], "JPEG"), initial_args={"ContentType": "image/jpeg"})
    assert len(jpeg) == 3
    metrics = _metrics(e2e, trained["estimators"]["lst"])
    assert {"train:accuracy", "validation:accuracy"} <= set(metrics), metrics
    assert metrics["validation:accuracy"] > 0.5


def test_endpoint_rejects_a_body_that_is_not_an_image(trained):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError, match="image"):
        trained["predictor"].predict(b"definitely not a png")


def test_batch_transform_writes_json_lines_per_image(trained, e2e):
    images, labels = shape_dataset(6, seed=4)
    for i, im in enumerate(images):
        trained["put"](f"batch/in/{i}.png", _encode(im))
    output = f"s3://{e2e.bucket}/{trained['prefix']}/batch/out"
    transformer = trained["estimators"]["lst"].transformer(
        instance_count=1, instance_type=INSTANCE_TYPE, accept="application/jsonlines", output_path=output,
        strategy="SingleRecord",
    )  # fmt: skip
    transformer.transform(
        f"s3://{e2e.bucket}/{trained['prefix']}/batch/in/",
        content_type="application/x-image",
        split_type="None",
        wait=False,
        logs=False,
    )
    name = transformer.latest_transform_job.name
    deadline = time.time() + 300
    while (desc := e2e.sm.describe_transform_job(TransformJobName=name))[
        "TransformJobStatus"
    ] == "InProgress":
        assert time.time() < deadline, "transform job still running"
        time.sleep(0.5)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    s3 = e2e.server.client("s3")
    for i in range(len(images)):
        body = s3.get_object(Bucket=e2e.bucket, Key=f"{trained['prefix']}/batch/out/{i}.png.out")[
            "Body"
        ].read()
        line = json.loads(body.decode().strip())
        assert set(line) == {"prediction"} and len(line["prediction"]) == 3


def test_two_instance_rec_job_trains_one_model(trained, e2e):
    estimator = trained["estimators"]["rec"]
    desc = e2e.sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    assert desc["ResourceConfig"]["InstanceCount"] == 2 and desc["TrainingJobStatus"] == "Completed"
    assert _metrics(e2e, estimator)["validation:accuracy"] > 0.4


def test_augmented_manifest_pipe_job_completes(trained, e2e):
    metrics = _metrics(e2e, trained["estimators"]["manifest"])
    assert "validation:accuracy" in metrics and "train:accuracy" in metrics


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_hyperparameters_fail_naming_them(trained, case):
    desc = trained["bad"][case]
    assert desc["TrainingJobStatus"] == "Failed"
    assert BAD[case][1] in desc["FailureReason"], desc["FailureReason"]
