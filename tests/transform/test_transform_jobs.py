"""Batch transform through the real API and the SDK: join/filter, parallel instances, memory, errors."""

from __future__ import annotations

import io
import threading
import time
import uuid

import botocore.exceptions
import numpy as np
import psutil
import pytest

from helpers import wait_for


def wait_transform(sm, name, timeout=300):
    def done():
        desc = sm.describe_transform_job(TransformJobName=name)
        return desc if desc["TransformJobStatus"] in ("Completed", "Failed", "Stopped") else None

    return wait_for(done, timeout, 0.3, f"transform job {name}")


def _csv(rows: np.ndarray) -> bytes:
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%.6f")
    return buffer.getvalue().encode()


@pytest.mark.sdk_flow("flow01", "Transformer.transform with join_source and input/output filters")
def test_sdk_transformer_join_and_filters(server, sdk_env, xgb_model):
    import sagemaker
    from sagemaker.transformer import Transformer

    bucket, model_name, booster, features = xgb_model
    rng = np.random.default_rng(1)
    X = rng.normal(size=(250, features))
    ids = np.arange(1000, 1250)
    s3 = server.client("s3")
    body = b"".join(f"id{i},".encode() + _csv(row[None, :]) for i, row in zip(ids, X))
    s3.put_object(Bucket=bucket, Key="tx-input/data.csv", Body=body)
    transformer = Transformer(
        model_name=model_name,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/tx-output/",
        accept="text/csv",
        assemble_with="Line",
        strategy="MultiRecord",
        sagemaker_session=sagemaker.Session(),
    )
    transformer.transform(
        f"s3://{bucket}/tx-input/",
        content_type="text/csv",
        split_type="Line",
        join_source="Input",
        input_filter="$[1:]",
        output_filter="$[0,-1]",
        wait=False,
        logs=False,
    )
    sm = server.client("sagemaker")
    desc = wait_transform(sm, transformer.latest_transform_job.name)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    out = s3.get_object(Bucket=bucket, Key="tx-output/data.csv.out")["Body"].read().decode().splitlines()

    X32 = np.loadtxt(io.BytesIO(body), delimiter=",", usecols=range(1, features + 1), dtype=np.float32)
    expected = booster.inplace_predict(X32)
    assert len(out) == 250
    for line, ident, score in zip(out, ids, expected):
        got_id, got_score = line.split(",")
        assert got_id == f"id{ident}"
        assert float(got_score) == pytest.approx(float(score), rel=1e-5, abs=1e-6)


@pytest.mark.sdk_flow("flow01", "Transformer.transform over a prefix without a trailing slash")
def test_sdk_prefix_without_slash_writes_keys_relative_to_prefix(server, sdk_env, xgb_model):
    """SageMaker names each output after the input key relative to the input prefix (the SDK's
    test_transformer.py reads ``<output_path>/data.csv.out``), keeping sub-folders below it."""
    import sagemaker
    from sagemaker.transformer import Transformer

    bucket, model_name, booster, features = xgb_model
    s3 = server.client("s3")
    rng = np.random.default_rng(3)
    inputs = {"rel/multi/part0.csv": 20, "rel/multi/sub/part1.csv": 30}
    for key, rows in inputs.items():
        s3.put_object(Bucket=bucket, Key=key, Body=_csv(rng.normal(size=(rows, features))))
    s3.put_object(Bucket=bucket, Key="rel/multiple.csv", Body=_csv(rng.normal(size=(5, features))))
    transformer = Transformer(
        model_name=model_name,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/rel-out",
        accept="text/csv",
        assemble_with="Line",
        sagemaker_session=sagemaker.Session(),
    )
    transformer.transform(
        f"s3://{bucket}/rel/multi", content_type="text/csv", split_type="Line", wait=False, logs=False
    )
    desc = wait_transform(server.client("sagemaker"), transformer.latest_transform_job.name)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="rel-out/")["Contents"])
    # rel/multiple.csv also matches the prefix "rel/multi": named relative to the prefix's folder.
    assert keys == ["rel-out/multiple.csv.out", "rel-out/part0.csv.out", "rel-out/sub/part1.csv.out"]
    lines = s3.get_object(Bucket=bucket, Key="rel-out/sub/part1.csv.out")["Body"].read().split()
    assert len(lines) == 30


def test_multi_file_two_instances(server, xgb_model):
    bucket, model_name, booster, features = xgb_model
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    rng = np.random.default_rng(2)
    expected = {}
    for i in range(6):
        X = rng.normal(size=(300 + 50 * i, features)).astype(np.float32)
        s3.put_object(Bucket=bucket, Key=f"multi/in/part-{i}.csv", Body=_csv(X))
        expected[f"part-{i}.csv"] = booster.inplace_predict(
            np.loadtxt(io.BytesIO(_csv(X)), delimiter=",", dtype=np.float32)
        )
    name = f"multi-{uuid.uuid4().hex[:8]}"
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model_name,
        MaxConcurrentTransforms=4,
        MaxPayloadInMB=1,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/multi/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={
            "S3OutputPath": f"s3://{bucket}/multi/out/",
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    desc = wait_transform(sm, name)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="multi/out/")["Contents"])
    assert keys == sorted(f"multi/out/part-{i}.csv.out" for i in range(6))
    for name_, scores in expected.items():
        lines = s3.get_object(Bucket=bucket, Key=f"multi/out/{name_}.out")["Body"].read().decode().split()
        np.testing.assert_allclose(np.array(lines, dtype=np.float64), scores, rtol=1e-5, atol=1e-6)
    listed = sm.list_transform_jobs(NameContains=name)["TransformJobSummaries"]
    assert [s["TransformJobName"] for s in listed] == [name]


def test_malformed_record_fails_with_reason(server, xgb_model):
    bucket, model_name, _booster, features = xgb_model
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    good = ",".join(["0.5"] * features)
    s3.put_object(
        Bucket=bucket,
        Key="bad/in/broken.csv",
        Body=f"{good}\n{good}\nnot,a,number{',x' * (features - 3)}\n{good}\n".encode(),
    )
    name = f"bad-{uuid.uuid4().hex[:8]}"
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model_name,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/bad/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/bad/out/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    desc = wait_transform(sm, name)
    assert desc["TransformJobStatus"] == "Failed"
    assert "broken.csv" in desc["FailureReason"] and "record 3" in desc["FailureReason"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sm.create_transform_job(
            TransformJobName=f"x-{uuid.uuid4().hex[:6]}",
            ModelName="no-such-model",
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/bad/in/"}}
            },
            TransformOutput={"S3OutputPath": f"s3://{bucket}/bad/out/"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    assert info.value.response["Error"]["Code"] == "ValidationException"


PEAKS = {}


def _tree_rss(pid: int) -> int:
    try:
        proc = psutil.Process(pid)
        procs = [proc] + proc.children(recursive=True)
    except psutil.Error:
        return 0
    total = 0
    for p in procs:
        try:
            rss = p.memory_info().rss
            total += rss
            key = " ".join(p.cmdline()[-3:])[-60:]
            PEAKS[key] = max(PEAKS.get(key, 0), rss // 1000000)
        except psutil.Error:
            pass
    return total


def _peak_during_job(server, sm, bucket, model_name, prefix) -> tuple[int, int]:
    """Peak RSS of the server's process tree (gateway, workers) and of the server process alone while
    one transform job runs."""
    root = psutil.Process(server.proc.pid)
    peak = [_tree_rss(server.proc.pid), root.memory_info().rss]
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _tree_rss(server.proc.pid))
            peak[1] = max(peak[1], root.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    name = f"mem-{uuid.uuid4().hex[:8]}"
    try:
        sm.create_transform_job(
            TransformJobName=name,
            ModelName=model_name,
            MaxConcurrentTransforms=2,
            TransformInput={
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{prefix}/in/"}
                },
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            TransformOutput={"S3OutputPath": f"s3://{bucket}/{prefix}/out/", "AssembleWith": "Line"},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
        desc = wait_transform(sm, name, 600)
    finally:
        stop.set()
        sampler.join()
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    return peak[0], peak[1]


def test_million_rows_bounded_memory(server, xgb_model, tmp_path):
    bucket, model_name, booster, features = xgb_model
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    rng = np.random.default_rng(3)
    block = _csv(rng.normal(size=(100_000, features)).astype(np.float32))
    path = tmp_path / "big.csv"
    with open(path, "wb") as handle:
        for _ in range(10):
            handle.write(block)
    size = path.stat().st_size
    s3.upload_file(str(path), bucket, "big/in/big.csv")
    s3.put_object(Bucket=bucket, Key="medium/in/medium.csv", Body=block)
    server_baseline = psutil.Process(server.proc.pid).memory_info().rss
    # A 100,000-row job loads everything a 1,000,000-row job needs (workers, libraries, buffers):
    medium_peak, _ = _peak_during_job(server, sm, bucket, model_name, "medium")
    big_peak, server_peak = _peak_during_job(server, sm, bucket, model_name, "big")
    body = s3.get_object(Bucket=bucket, Key="big/out/big.csv.out")["Body"].read()
    assert body.count(b"\n") == 1_000_000
    # Memory does not grow with the input: ten times the rows, (almost) no more memory …
    assert big_peak - medium_peak < size / 4, (
        f"{(big_peak - medium_peak) / 1e6:.0f} MB more for 10× the rows; {PEAKS}"
    )
    # … and the server, which streams the file through the workers, holds a small part of it at most.
    assert server_peak - server_baseline < size / 4, (
        f"the server grew {(server_peak - server_baseline) / 1e6:.0f} MB for a {size / 1e6:.0f} MB file"
    )


def test_stop_transform_job(server, xgb_model):
    bucket, model_name, _booster, features = xgb_model
    s3 = server.client("s3")
    sm = server.client("sagemaker")
    row = ",".join(["0.1"] * features) + "\n"
    s3.put_object(Bucket=bucket, Key="stop/in/rows.csv", Body=(row * 20000).encode())
    name = f"stop-{uuid.uuid4().hex[:8]}"
    sm.create_transform_job(
        TransformJobName=name,
        ModelName=model_name,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/stop/in/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/stop/out/"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    time.sleep(1.0)
    sm.stop_transform_job(TransformJobName=name)
    desc = wait_transform(sm, name, 60)
    assert desc["TransformJobStatus"] == "Stopped"
