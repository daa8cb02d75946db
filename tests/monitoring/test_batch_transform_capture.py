"""Batch transform data capture (``CreateTransformJob.DataCaptureConfig``): the job writes manifests of
the objects it read and wrote under ``<DestinationS3Uri>/input|output/yyyy/mm/dd/hh/``, and a Model
Monitor schedule over ``BatchTransformInput`` analyses what they list."""

from __future__ import annotations

import datetime as dt
import json
import textwrap
import time
import uuid

import pytest

from helpers import tar_gz
from monitor_support import ROLE, SKLEARN_IMAGE, SUM_MODEL


@pytest.mark.slow
def test_transform_capture_manifests_feed_a_batch_monitor(monitor):
    sm, s3, bucket = monitor.sm, monitor.s3, monitor.bucket
    url = monitor.put(
        "models/tx-capture/model.tar.gz", tar_gz({"code/inference.py": textwrap.dedent(SUM_MODEL).encode()})
    )
    sm.create_model(
        ModelName="tx-capture",
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": url,
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    monitor.put("tx-in/a.csv", "1.0,2.0\n-3.0,1.0\n0.5,0.5\n")
    monitor.put("tx-in/more/b.csv", "4.0,-1.0\n-2.0,-2.0\n")
    sm.create_transform_job(
        TransformJobName="tx-capture",
        ModelName="tx-capture",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/tx-in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/tx-out", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        DataCaptureConfig={"DestinationS3Uri": f"s3://{bucket}/tx-capture", "GenerateInferenceId": True},
    )
    deadline = time.time() + 180
    while (job := sm.describe_transform_job(TransformJobName="tx-capture"))[
        "TransformJobStatus"
    ] == "InProgress":
        assert time.time() < deadline, "transform did not finish"
        time.sleep(0.5)
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert job["DataCaptureConfig"] == {
        "DestinationS3Uri": f"s3://{bucket}/tx-capture",
        "GenerateInferenceId": True,
    }
    hour = job["TransformStartTime"].astimezone(dt.timezone.utc).strftime("%Y/%m/%d/%H")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="tx-capture/")["Contents"]]
    assert sorted(keys) == [
        f"tx-capture/input/{hour}/tx-capture.json",
        f"tx-capture/output/{hour}/tx-capture.json",
    ]
    inputs = monitor.get_json(f"s3://{bucket}/tx-capture/input/{hour}/tx-capture.json")
    assert inputs == [{"prefix": f"s3://{bucket}/tx-in/"}, "a.csv", "more/b.csv"]
    outputs = monitor.get_json(f"s3://{bucket}/tx-capture/output/{hour}/tx-capture.json")
    assert outputs == [{"prefix": f"s3://{bucket}/tx-out/"}, "a.csv.out", "more/b.csv.out"]
    answer = s3.get_object(Bucket=bucket, Key="tx-out/a.csv.out")["Body"].read().decode()
    # every listed output exists; GenerateInferenceId: an inference id and the start time after each answer
    rows = [line.split(",") for line in answer.split()]
    assert [r[0] for r in rows] == ["1", "0", "1"]
    started = job["TransformStartTime"].astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all(len(r) == 3 and uuid.UUID(r[1]) and r[2] == started for r in rows)
    assert len({r[1] for r in rows}) == 3

    sm.create_data_quality_job_definition(
        JobDefinitionName="tx-capture-def",
        DataQualityAppSpecification={
            "ImageUri": "156813124566.dkr.ecr.us-east-1.amazonaws.com/sagemaker-model-monitor-analyzer"
        },
        DataQualityJobInput={
            "BatchTransformInput": {
                "DataCapturedDestinationS3Uri": f"s3://{bucket}/tx-capture",
                "DatasetFormat": {"Csv": {"Header": False}},
                "LocalPath": "/opt/ml/processing/input/batch",
            }
        },
        DataQualityJobOutputConfig={
            "MonitoringOutputs": [
                {"S3Output": {"S3Uri": f"s3://{bucket}/tx-reports", "LocalPath": "/opt/ml/processing/output"}}
            ]
        },
        JobResources={
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 20}
        },
        RoleArn=ROLE,
    )
    sm.create_monitoring_schedule(
        MonitoringScheduleName="tx-capture-now",
        MonitoringScheduleConfig={
            "ScheduleConfig": {
                "ScheduleExpression": "NOW",
                "DataAnalysisStartTime": "-PT1H",
                "DataAnalysisEndTime": "-PT0H",
            },
            "MonitoringJobDefinitionName": "tx-capture-def",
            "MonitoringType": "DataQuality",
        },
    )
    execution = monitor.wait_execution("tx-capture-now")
    assert execution["MonitoringExecutionStatus"] == "Completed", execution
    processing = sm.describe_processing_job(ProcessingJobName=execution["ProcessingJobArn"].split("/", 1)[1])
    staged = sorted(
        i["S3Input"]["S3Uri"] for i in processing["ProcessingInputs"] if i["InputName"].startswith("batch-")
    )
    assert staged == [f"s3://{bucket}/tx-in/a.csv", f"s3://{bucket}/tx-in/more/b.csv"]
    out = processing["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    stats = monitor.get_json(f"{out}/statistics.json")
    assert stats["dataset"]["item_count"] == 5  # the five rows the transform read
    sm.delete_monitoring_schedule(MonitoringScheduleName="tx-capture-now")


def test_capture_manifest_shape():
    from sagestack.domain import transform_jobs

    body = transform_jobs.capture_manifest(["s3://b/in/x/1.csv", "s3://b/in/y.csv"])
    assert json.loads(body) == [{"prefix": "s3://b/in/"}, "x/1.csv", "y.csv"]
    assert json.loads(transform_jobs.capture_manifest(["s3://b/only.csv"])) == [
        {"prefix": "s3://b/"},
        "only.csv",
    ]


def test_generated_inference_ids():
    from sagestack.execution.transform_records import with_inference_ids

    ids = iter(["a", "b", "c"])
    stamp = "2026-12-07T10:00:00Z"
    assert with_inference_ids(b"1\n0\n", "text/csv", stamp, lambda: next(ids)) == (
        b"1,a,2026-12-07T10:00:00Z\n0,b,2026-12-07T10:00:00Z\n"
    )
    lines = with_inference_ids(b'{"s": 1}\n{"s": 2}\n', "application/jsonlines", stamp, lambda: "x")
    assert [json.loads(line) for line in lines.splitlines()] == [
        {"s": v, "SageMakerInferenceId": "x", "SageMakerInferenceTime": stamp} for v in (1, 2)
    ]
    assert with_inference_ids(b"[1, 2]", "application/json", stamp, lambda: "x") == b"[1, 2]"
    assert with_inference_ids(b"\x00\x01", "application/x-recordio", stamp, lambda: "x") == b"\x00\x01"
