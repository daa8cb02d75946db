"""Object Detection and Semantic Segmentation through the SDK's generic ``Estimator`` with
``image_uris.retrieve("object-detection" | "semantic-segmentation")``: fit → deploy → predict, and batch
transform, on synthetic 48×48 scenes of red rectangles and blue ellipses made here.

* Detection, trained twice — images with ``.lst`` files (``train_lst``/``validation_lst``) and
  ``.rec`` files: on held-out images most objects are found (right class, IoU ≥ 0.5); ``validation:mAP``
  is reported.
* Segmentation, trained twice — images with PNG masks and a Pipe-mode augmented manifest
  (``source-ref``, ``mask-ref``, RecordIO-wrapped): held-out mean IoU far above a constant mask's; the
  probability tensor (``application/x-protobuf``) matches the PNG mask.
* Bad hyperparameters → ``Failed`` with a ``ClientError`` naming them.

Small documented settings keep each fit short on one CPU: ``base_network``/``backbone`` ``resnet-18``,
48-pixel inputs, a few epochs.
"""

from __future__ import annotations

import io
import json
import time
import uuid

import numpy as np
import pytest

from dense_scenes import detection_hits, mask_png, mean_iou, scenes
from e2e_support import INSTANCE_TYPE, ROLE

# the four trainings run one after another on a 2-CPU machine (each takes its instance's 2 vCPUs)
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

SIZE = 48
DETECTION = {
    "num_classes": "2",
    "num_training_samples": "60",
    "use_pretrained_model": "0",
    "base_network": "resnet-18",
    "image_shape": str(SIZE),
    "epochs": "7",
    "mini_batch_size": "16",
    "optimizer": "adam",
    "learning_rate": "0.003",
}
SEGMENTATION = {
    "num_classes": "3",
    "num_training_samples": "60",
    "use_pretrained_model": "False",
    "backbone": "resnet-18",
    "algorithm": "fcn",
    "crop_size": str(SIZE),
    "epochs": "6",
    "mini_batch_size": "16",
    "optimizer": "adam",
    "learning_rate": "0.005",
}
#: job → (algorithm, hyperparameters)
JOBS = {
    "det-lst": ("object-detection", DETECTION),
    "det-rec": ("object-detection", DETECTION),
    "seg-png": ("semantic-segmentation", SEGMENTATION),
    "seg-manifest": ("semantic-segmentation", {**SEGMENTATION, "algorithm": "deeplab"}),
}
#: bad job → (algorithm, hyperparameters, the name the FailureReason must contain)
BAD = {
    "nms": ("object-detection", {**DETECTION, "nms_threshold": "0"}, "nms_threshold"),
    "pretrained": (
        "object-detection",
        {k: v for k, v in DETECTION.items() if k != "use_pretrained_model"},
        "use_pretrained_model",
    ),
    "seg-algorithm": ("semantic-segmentation", {**SEGMENTATION, "algorithm": "unet"}, "algorithm"),
}


def _packed(objects: np.ndarray) -> list[float]:
    return [2.0, 5.0, *(float(v) for v in objects.reshape(-1))]


@pytest.fixture(scope="module")
def data():
    return {"train": scenes(60, 0, SIZE), "validation": scenes(20, 1, SIZE), "test": scenes(12, 2, SIZE)}


@pytest.fixture(scope="module")
def trained(e2e, data, tmp_path_factory):
    from sagemaker import image_uris
    from sagemaker.deserializers import BytesDeserializer, JSONDeserializer
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import IdentitySerializer

    from sagestack.algorithms.vision.inputs import ImageRecord, write_rec

    s3 = e2e.server.client("s3")
    bucket, prefix = e2e.bucket, f"vdense-{uuid.uuid4().hex[:6]}"

    def put(key: str, body: bytes) -> str:
        s3.put_object(Bucket=bucket, Key=f"{prefix}/{key}", Body=body)
        return f"s3://{bucket}/{prefix}/{key}"

    def folder(key: str) -> str:
        return f"s3://{bucket}/{prefix}/{key}/"

    image, rec = "application/x-image", "application/x-recordio"
    scratch = tmp_path_factory.mktemp("vdense")
    channels: dict[str, dict] = {name: {} for name in JOBS}
    for split in ("train", "validation"):
        lst, records, manifest = [], [], []
        for i, (png, objects, mask) in enumerate(data[split]):
            name = f"{split}{i}.png"
            put(f"det/{split}/{name}", png)
            lst.append("\t".join([str(i), *(f"{v:.6f}" for v in _packed(objects)), name]))
            records.append(ImageRecord(key=str(i), image=png, labels=tuple(_packed(objects))))
            put(f"seg/{split}/{name}", png)
            put(f"seg/{split}_annotation/{name}", mask_png(mask))
            manifest.append(
                {
                    "source-ref": f"s3://{bucket}/{prefix}/seg/{split}/{name}",
                    "mask-ref": f"s3://{bucket}/{prefix}/seg/{split}_annotation/{name}",
                    "mask-ref-metadata": {
                        "job-name": "label-shapes",
                        "type": "groundtruth/semantic-segmentation",
                    },
                }
            )
        put(f"det/{split}_lst/{split}.lst", ("\n".join(lst) + "\n").encode())
        rec_path = scratch / f"{split}.rec"
        write_rec(rec_path, records)
        put(f"det-rec/{split}/{split}.rec", rec_path.read_bytes())
        manifest_uri = put(
            f"seg-manifest/{split}.manifest", "".join(json.dumps(line) + "\n" for line in manifest).encode()
        )
        channels["det-lst"][split] = TrainingInput(folder(f"det/{split}"), content_type=image)
        channels["det-lst"][f"{split}_lst"] = TrainingInput(folder(f"det/{split}_lst"), content_type=image)
        channels["det-rec"][split] = TrainingInput(folder(f"det-rec/{split}"), content_type=rec)
        channels["seg-png"][split] = TrainingInput(folder(f"seg/{split}"), content_type="image/png")
        channels["seg-png"][f"{split}_annotation"] = TrainingInput(
            folder(f"seg/{split}_annotation"), content_type="image/png"
        )
        channels["seg-manifest"][split] = TrainingInput(
            manifest_uri,
            content_type=rec,
            s3_data_type="AugmentedManifestFile",
            attribute_names=["source-ref", "mask-ref"],
            record_wrapping="RecordIO",
            input_mode="Pipe",
        )
    output = f"s3://{bucket}/{prefix}/output"
    estimators, bad_names = {}, {}
    # the bad jobs first: they fail at once, while the trainings queue for the machine's CPUs
    for name, (algorithm, hyperparameters, _) in BAD.items():
        bad_names[name] = f"vdense-bad-{name}-{uuid.uuid4().hex[:6]}"
        source = "det-lst" if algorithm == "object-detection" else "seg-png"
        e2e.sm.create_training_job(
            TrainingJobName=bad_names[name],
            RoleArn=ROLE,
            HyperParameters=hyperparameters,
            AlgorithmSpecification={
                "TrainingImage": image_uris.retrieve(algorithm, e2e.region),
                "TrainingInputMode": "File",
            },
            InputDataConfig=[{"ChannelName": c, **i.config} for c, i in channels[source].items()],
            OutputDataConfig={"S3OutputPath": output},
            ResourceConfig={"InstanceCount": 1, "InstanceType": INSTANCE_TYPE, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
    for name, (algorithm, hyperparameters) in JOBS.items():
        estimator = Estimator(
            image_uri=image_uris.retrieve(algorithm, e2e.region),
            role=ROLE,
            instance_count=1,
            instance_type=INSTANCE_TYPE,
            sagemaker_session=e2e.session,
            output_path=output,
            hyperparameters=hyperparameters,
        )
        estimator.fit(channels[name], wait=False, logs=False)
        estimators[name] = estimator
    bad = e2e.wait_jobs(bad_names.values(), timeout=300)
    e2e.wait_estimators(estimators.values(), timeout=1800)
    predictors = {}
    for name, estimator in estimators.items():
        if name.startswith("det"):
            kwargs = {"serializer": IdentitySerializer("image/png"), "deserializer": JSONDeserializer()}
        else:
            kwargs = {
                "serializer": IdentitySerializer("image/png"),
                "deserializer": BytesDeserializer("image/png"),
            }
        predictors[name] = e2e.deploy(estimator, **kwargs)
    e2e.wait_endpoints(predictors.values(), timeout=300)
    return {
        "estimators": estimators,
        "predictors": predictors,
        "bad": {name: bad[job] for name, job in bad_names.items()},
        "put": put,
        "prefix": prefix,
    }


def _metrics(e2e, estimator) -> dict[str, float]:
    desc = e2e.sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    return {m["MetricName"]: m["Value"] for m in desc.get("FinalMetricDataList", [])}


def _transform(e2e, trained, estimator: str, accept: str, images: list[bytes]) -> dict[str, bytes]:
    """Batch transform of one PNG per object; each output object's bytes by input name."""
    folder = f"{trained['prefix']}/batch-{estimator}"
    for i, png in enumerate(images):
        trained["put"](f"batch-{estimator}/in/img{i}.png", png)
    transformer = trained["estimators"][estimator].transformer(
        instance_count=1,
        instance_type=INSTANCE_TYPE,
        accept=accept,
        output_path=f"s3://{e2e.bucket}/{folder}/out",
        strategy="SingleRecord",
    )
    transformer.transform(
        f"s3://{e2e.bucket}/{folder}/in/", content_type="image/png", split_type="None", wait=False, logs=False
    )
    name = transformer.latest_transform_job.name
    deadline = time.time() + 300
    while True:
        desc = e2e.sm.describe_transform_job(TransformJobName=name)
        if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        assert time.time() < deadline, f"transform job {name} still running"
        time.sleep(0.5)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    s3 = e2e.server.client("s3")
    return {
        f"img{i}.png": s3.get_object(Bucket=e2e.bucket, Key=f"{folder}/out/img{i}.png.out")["Body"].read()
        for i in range(len(images))
    }


# ------------------------------------------------------------------------------------------------
# Object Detection


@pytest.mark.parametrize("job", ["det-lst", "det-rec"])
def test_detection_finds_most_held_out_objects(trained, data, e2e, job):
    predictor = trained["predictors"][job]
    hits = total = 0
    for png, objects, _ in data["test"]:
        prediction = predictor.predict(png)["prediction"]
        assert all(len(row) == 6 and 0.0 <= min(row[2:]) and max(row[2:]) <= 1.0 for row in prediction)
        hits += detection_hits(prediction, objects)
        total += len(objects)
    assert hits >= 0.7 * total, (hits, total)
    assert _metrics(e2e, trained["estimators"][job])["validation:mAP"] > 0.5


def test_detection_annotation_format_is_in_pixels(trained, data, e2e):
    runtime = e2e.server.client("sagemaker-runtime")
    png, objects, _ = data["test"][0]
    answer = runtime.invoke_endpoint(
        EndpointName=trained["predictors"]["det-lst"].endpoint_name,
        Body=png,
        ContentType="image/jpeg",
        Accept="application/json;annotation=1",
    )
    doc = json.loads(answer["Body"].read())
    assert doc["image_size"] == [{"width": SIZE, "height": SIZE, "depth": 3}]
    best = max(doc["annotations"], key=lambda a: a["score"])
    assert set(best) == {"class_id", "score", "left", "top", "width", "height"}
    assert 0 <= best["left"] < SIZE and 0 < best["width"] <= SIZE


def test_detection_batch_transform(trained, data, e2e):
    images = [png for png, _, _ in data["test"][:4]]
    outputs = _transform(e2e, trained, "det-rec", "application/json", images)
    hits = total = 0
    for i, (_, objects, _) in enumerate(data["test"][:4]):
        hits += detection_hits(json.loads(outputs[f"img{i}.png"])["prediction"], objects)
        total += len(objects)
    assert hits >= 0.5 * total, (hits, total)


# ------------------------------------------------------------------------------------------------
# Semantic Segmentation


def _mask(body: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(body)))


@pytest.mark.parametrize("job", ["seg-png", "seg-manifest"])
def test_segmentation_beats_a_constant_mask(trained, data, e2e, job):
    predictor = trained["predictors"][job]
    ious, constant = [], []
    for png, _, truth in data["test"]:
        mask = _mask(predictor.predict(png))
        assert mask.shape == truth.shape
        ious.append(mean_iou(mask, truth, 3))
        constant.append(mean_iou(np.zeros_like(truth), truth, 3))
    assert np.mean(ious) > np.mean(constant) + 0.2, (np.mean(ious), np.mean(constant))
    metrics = _metrics(e2e, trained["estimators"][job])
    assert metrics["validation:mIOU"] > 0.4 and metrics["validation:pixel_accuracy"] > 0.7


def test_segmentation_probabilities_match_the_mask(trained, data, e2e):
    from sagemaker.amazon.common import read_records

    runtime = e2e.server.client("sagemaker-runtime")
    png = data["test"][1][0]
    name = trained["predictors"]["seg-png"].endpoint_name
    answer = runtime.invoke_endpoint(
        EndpointName=name, Body=png, ContentType="image/jpeg", Accept="application/x-protobuf"
    )
    (record,) = read_records(io.BytesIO(answer["Body"].read()))
    shape = list(record.features["shape"].int32_tensor.values)
    assert shape == [1, 3, SIZE, SIZE]
    probs = np.asarray(record.features["target"].float32_tensor.values).reshape(shape)
    assert np.allclose(probs.sum(1), 1.0, atol=1e-4)
    mask = _mask(
        runtime.invoke_endpoint(EndpointName=name, Body=png, ContentType="image/png", Accept="image/png")[
            "Body"
        ].read()
    )
    assert np.array_equal(probs[0].argmax(0), mask)


def test_segmentation_batch_transform(trained, data, e2e):
    images = [png for png, _, _ in data["test"][:3]]
    outputs = _transform(e2e, trained, "seg-png", "image/png", images)
    for i, (_, _, truth) in enumerate(data["test"][:3]):
        assert _mask(outputs[f"img{i}.png"]).shape == truth.shape


# ------------------------------------------------------------------------------------------------
# Bad hyperparameters


@pytest.mark.parametrize("name", sorted(BAD))
def test_bad_hyperparameters_fail_naming_them(trained, name):
    desc = trained["bad"][name]
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc.get("FailureReason", "")
    assert reason.startswith("ClientError") and BAD[name][2] in reason, reason
