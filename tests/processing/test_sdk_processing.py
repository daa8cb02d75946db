"""The unchanged SageMaker Python SDK v2 runs processing jobs through sagestack."""

from __future__ import annotations

import io
import json
import textwrap

import pytest

from helpers import ROLE

SPLIT = textwrap.dedent("""
    import argparse, os
    import pandas as pd
    from sklearn.model_selection import train_test_split

    parser = argparse.ArgumentParser()
    parser.add_argument("--test-size", type=float, default=0.25)
    args = parser.parse_args()
    df = pd.read_csv("/opt/ml/processing/input/raw/data.csv")
    train, test = train_test_split(df, test_size=args.test_size, random_state=0)
    os.makedirs("/opt/ml/processing/train", exist_ok=True)
    os.makedirs("/opt/ml/processing/test", exist_ok=True)
    train.to_csv("/opt/ml/processing/train/train.csv", index=False)
    test.to_csv("/opt/ml/processing/test/test.csv", index=False)
    print(f"split {len(df)} rows into {len(train)} train and {len(test)} test", flush=True)
""")


def _read_csv(s3, uri: str):
    import pandas as pd

    bucket, key = uri[5:].split("/", 1)
    return pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))


@pytest.mark.slow
@pytest.mark.sdk_flow("flow04", "SKLearnProcessor.run(code, inputs, outputs, arguments) wait=True logs=True")
def test_sklearn_processor_splits_a_csv(server, sdk_env, tmp_path, capsys):
    import numpy as np
    import pandas as pd
    import sagemaker
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor

    session = sagemaker.Session()
    df = pd.DataFrame({"id": np.arange(200), "x": np.random.default_rng(0).normal(size=200)})
    df.to_csv(tmp_path / "data.csv", index=False)
    raw = session.upload_data(str(tmp_path / "data.csv"), key_prefix="proc/raw")
    (tmp_path / "preprocess.py").write_text(SPLIT)
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        base_job_name="sk-split",
    )
    processor.run(
        code=str(tmp_path / "preprocess.py"),
        inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input/raw")],
        outputs=[
            ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
            ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
        ],
        arguments=["--test-size", "0.3"],
        wait=True,
        logs=True,
    )
    assert "split 200 rows into 140 train and 60 test" in capsys.readouterr().out  # logs streamed
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Completed"
    assert desc["AppSpecification"]["ContainerEntrypoint"] == [
        "python3",
        "/opt/ml/processing/input/code/preprocess.py",
    ]
    assert desc["AppSpecification"]["ContainerArguments"] == ["--test-size", "0.3"]
    assert [i["InputName"] for i in desc["ProcessingInputs"]] == ["input-1", "code"]
    assert desc["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    outputs = {o["OutputName"]: o["S3Output"]["S3Uri"] for o in desc["ProcessingOutputConfig"]["Outputs"]}
    s3 = session.boto_session.client("s3", endpoint_url=sdk_env.get("AWS_ENDPOINT_URL"))
    train = _read_csv(s3, outputs["train"] + "/train.csv")
    test = _read_csv(s3, outputs["test"] + "/test.csv")
    assert len(train) == 140 and len(test) == 60
    # The outputs partition the input exactly.
    assert sorted(train["id"].tolist() + test["id"].tolist()) == list(range(200))
    assert not set(train["id"]) & set(test["id"])


CONFIG_READER = textwrap.dedent("""
    import json, os
    config = json.load(open("/opt/ml/config/processingjobconfig.json"))
    os.makedirs("/opt/ml/processing/output", exist_ok=True)
    json.dump({"name": config["ProcessingJobName"], "image": config["AppSpecification"]["ImageUri"],
               "instance_type": config["ProcessingResources"]["ClusterConfig"]["InstanceType"],
               "inputs": [i["InputName"] for i in config["ProcessingInputs"]],
               "env": os.environ.get("STAGE")},
              open("/opt/ml/processing/output/config-summary.json", "w"))
""")


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow04", "ScriptProcessor(command=['python3'], image_uri).run(code) wait=False, then wait()"
)
def test_script_processor_reads_its_job_config(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker import image_uris
    from sagemaker.processing import ProcessingOutput, ScriptProcessor

    session = sagemaker.Session()
    image = image_uris.retrieve("sklearn", session.boto_region_name, version="1.2-1")
    (tmp_path / "read_config.py").write_text(CONFIG_READER)
    processor = ScriptProcessor(
        command=["python3"],
        image_uri=image,
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        env={"STAGE": "test"},
        max_runtime_in_seconds=600,
    )
    processor.run(
        code=str(tmp_path / "read_config.py"),
        outputs=[ProcessingOutput(source="/opt/ml/processing/output")],
        wait=False,
        logs=False,
    )
    processor.latest_job.wait(logs=False)
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Completed"
    assert desc["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    uri = desc["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, key = uri[5:].split("/", 1)
    s3 = session.boto_session.client("s3", endpoint_url=sdk_env.get("AWS_ENDPOINT_URL"))
    summary = json.loads(s3.get_object(Bucket=bucket, Key=key + "/config-summary.json")["Body"].read())
    assert summary == {
        "name": desc["ProcessingJobName"],
        "image": image,
        "instance_type": "ml.m5.large",
        "inputs": ["code"],
        "env": "test",
    }
    # The SDK rebuilds the job from DescribeProcessingJob.
    from sagemaker.processing import ProcessingJob

    again = ProcessingJob.from_processing_name(session, desc["ProcessingJobName"])
    assert [i.input_name for i in again.inputs] == ["code"]
    assert [o.destination for o in again.outputs] == [uri]
    assert again.describe()["ProcessingJobArn"] == desc["ProcessingJobArn"]


ENTRY = textwrap.dedent("""
    import argparse, os, sys
    from helpers_mod import double
    import demohelper  # installed from requirements.txt by runproc.sh
    assert demohelper.VALUE == "from a wheel", demohelper.VALUE
    parser = argparse.ArgumentParser()
    parser.add_argument("--value", type=int)
    args = parser.parse_args()
    os.makedirs("/opt/ml/processing/result", exist_ok=True)
    with open("/opt/ml/processing/result/answer.txt", "w") as f:
        f.write(f"{double(args.value)} {sys.executable}")
""")


def _wheel(path) -> None:
    """A minimal pure-Python wheel (module ``demohelper``)."""
    import zipfile

    files = {
        "demohelper.py": 'VALUE = "from a wheel"\n',
        "demohelper-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: demohelper\nVersion: 1.0\n",
        "demohelper-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    files["demohelper-1.0.dist-info/RECORD"] = (
        "".join(f"{name},,\n" for name in files) + "demohelper-1.0.dist-info/RECORD,,\n"
    )
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow04", "FrameworkProcessor(estimator_cls=SKLearn).run(code, source_dir) via runproc.sh"
)
def test_framework_processor_with_source_dir(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker.processing import FrameworkProcessor, ProcessingOutput
    from sagemaker.sklearn.estimator import SKLearn

    session = sagemaker.Session()
    src = tmp_path / "src"
    src.mkdir()
    (src / "entry.py").write_text(ENTRY)
    (src / "helpers_mod.py").write_text("def double(x):\n    return 2 * x\n")
    _wheel(src / "demohelper-1.0-py3-none-any.whl")
    # Offline: the wheel ships in source_dir (runproc.sh runs pip in /opt/ml/processing/input/code).
    (src / "requirements.txt").write_text("--no-index\n--find-links .\ndemohelper==1.0\n")
    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
    )
    processor.run(
        code="entry.py",
        source_dir=str(src),
        arguments=["--value", "21"],
        outputs=[ProcessingOutput(output_name="result", source="/opt/ml/processing/result")],
        wait=True,
        logs=False,
    )
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["AppSpecification"]["ContainerEntrypoint"] == [
        "/bin/bash",
        "/opt/ml/processing/input/entrypoint/runproc.sh",
    ]
    uri = desc["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    bucket, key = uri[5:].split("/", 1)
    s3 = session.boto_session.client("s3", endpoint_url=sdk_env.get("AWS_ENDPOINT_URL"))
    answer, python = (
        s3.get_object(Bucket=bucket, Key=key + "/answer.txt")["Body"].read().decode().split(" ", 1)
    )
    assert answer == "42"
    assert "python" in python  # the job's `python` is the server's interpreter
    import importlib.util

    assert importlib.util.find_spec("demohelper") is None  # installed for the job, not into the server


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow04", "SKLearnProcessor.run(...) of a failing script raises UnexpectedStatusException"
)
def test_failing_processor_raises_with_reason(server, sdk_env, tmp_path):
    import sagemaker.exceptions
    from sagemaker.sklearn.processing import SKLearnProcessor

    (tmp_path / "fail.py").write_text("import sys\nsys.exit('cannot parse the input: bad header')\n")
    processor = SKLearnProcessor(
        framework_version="1.2-1", role=ROLE, instance_type="ml.m5.large", instance_count=1
    )
    with pytest.raises(sagemaker.exceptions.UnexpectedStatusException) as err:
        processor.run(code=str(tmp_path / "fail.py"), wait=True, logs=False)
    assert "cannot parse the input: bad header" in str(err.value)
    assert processor.latest_job.describe()["ProcessingJobStatus"] == "Failed"


def _pyspark_site() -> str | None:
    """Where pyspark is installed for the Spark tests: ``SAGESTACK_TEST_PYSPARK_PATH`` (a pip --target
    directory) or this environment's own; None when there is none (or no java)."""
    import importlib.util
    import os
    import shutil

    if shutil.which("java") is None:
        return None
    path = os.environ.get("SAGESTACK_TEST_PYSPARK_PATH")
    if path:
        return path if os.path.isdir(os.path.join(path, "pyspark")) else None
    spec = importlib.util.find_spec("pyspark")
    return os.path.dirname(next(iter(spec.submodule_search_locations))) if spec else None


@pytest.mark.slow
@pytest.mark.skipif(
    _pyspark_site() is not None and not __import__("os").environ.get("SAGESTACK_TEST_PYSPARK_PATH"),
    reason="pyspark and java are installed here: Spark processing runs (see the test below)",
)
@pytest.mark.sdk_flow("flow04", "PySparkProcessor.run fails clearly (no pyspark / Java runtime)")
def test_pyspark_processor_fails_with_a_clear_reason(server, sdk_env, tmp_path):
    import sagemaker.exceptions
    from sagemaker.spark.processing import PySparkProcessor

    (tmp_path / "job.py").write_text("from pyspark.sql import SparkSession\n")
    processor = PySparkProcessor(
        framework_version="3.3",
        role=ROLE,
        instance_type="ml.m5.large",
        instance_count=1,
        max_runtime_in_seconds=600,
    )
    with pytest.raises(sagemaker.exceptions.UnexpectedStatusException) as err:
        processor.run(submit_app=str(tmp_path / "job.py"), wait=True, logs=False)
    assert "Spark processing images need pyspark and a Java runtime" in str(err.value)
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Failed"
    assert desc["AppSpecification"]["ContainerEntrypoint"][0] == "smspark-submit"


@pytest.fixture
def spark_server(tmp_path, monkeypatch):
    """A server whose jobs find pyspark, with this process's SDK pointed at it (as `sagestack env` does)."""
    import os
    import sys

    import boto3

    from sagestack.local_server import ServerProcess

    site = _pyspark_site()
    server = ServerProcess(
        tmp_path / "data",
        extra_env={"PYTHONPATH": os.pathsep.join(p for p in (site, os.environ.get("PYTHONPATH")) if p)},
    ).start()
    try:
        for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
            monkeypatch.delenv(key, raising=False)
        for key, value in server.client_env().items():
            if key == "PYTHONPATH":
                if value not in sys.path:
                    monkeypatch.syspath_prepend(value)
            monkeypatch.setenv(key, value)
        # sagemaker.Session() takes boto3's default session when an earlier test made one: this server's
        # credentials are not that one's.
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
        yield server
    finally:
        server.stop()


SPARK_APP = textwrap.dedent("""
    import sys
    from pyspark.sql import SparkSession, functions as F
    spark = SparkSession.builder.appName("sagestack-test").getOrCreate()
    df = spark.read.csv("/opt/ml/processing/input/raw", header=True, inferSchema=True)
    out = df.groupBy("group").agg(F.sum("value").alias("total")).orderBy("group")
    out.coalesce(1).write.mode("overwrite").csv("/opt/ml/processing/output/totals", header=True)
    print("groups:", out.count(), "arg:", sys.argv[1:], flush=True)
    spark.stop()
""")


@pytest.mark.slow
@pytest.mark.skipif(
    _pyspark_site() is None, reason="needs pyspark (SAGESTACK_TEST_PYSPARK_PATH or installed) and java"
)
@pytest.mark.sdk_flow(
    "flow04", "PySparkProcessor.run(submit_app, spark_event_logs_s3_uri) in Spark local mode"
)
def test_pyspark_processor_runs_in_local_mode(tmp_path, spark_server):
    import sagemaker
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.spark.processing import PySparkProcessor

    session = sagemaker.Session()
    bucket = session.default_bucket()
    (tmp_path / "rows.csv").write_text("group,value\na,1\nb,2\na,3\nb,4\nc,5\n")
    raw = session.upload_data(str(tmp_path / "rows.csv"), key_prefix="spark/raw")
    (tmp_path / "app.py").write_text(SPARK_APP)
    processor = PySparkProcessor(
        framework_version="3.3",
        role=ROLE,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        max_runtime_in_seconds=600,
    )
    events = f"s3://{bucket}/spark/events"
    processor.run(
        submit_app=str(tmp_path / "app.py"),
        arguments=["--flag", "x"],
        inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input/raw")],
        outputs=[ProcessingOutput(output_name="totals", source="/opt/ml/processing/output/totals")],
        spark_event_logs_s3_uri=events,
        wait=True,
        logs=False,
    )
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    s3 = spark_server.client("s3")
    uri = desc["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    out_bucket, prefix = uri[5:].split("/", 1)
    parts = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=out_bucket, Prefix=prefix)["Contents"]
        if o["Key"].endswith(".csv")
    ]
    assert len(parts) == 1
    body = s3.get_object(Bucket=out_bucket, Key=parts[0])["Body"].read().decode().split()
    assert body == ["group,total", "a,4", "b,6", "c,5"]
    assert s3.list_objects_v2(Bucket=bucket, Prefix="spark/events/")["KeyCount"] >= 1  # event logs


SPARK_CLUSTER_APP = textwrap.dedent("""
    import json, os, time
    from pyspark.sql import SparkSession, functions as F
    spark = SparkSession.builder.appName("sagestack-cluster").getOrCreate()
    sc = spark.sparkContext
    tracker = sc._jsc.sc().statusTracker()
    deadline = time.time() + 60
    while len(tracker.getExecutorInfos()) < 3 and time.time() < deadline:  # the driver and 2 executors
        time.sleep(0.5)
    df = spark.read.csv("/opt/ml/processing/input/raw", header=True, inferSchema=True).repartition(4)
    rows = df.groupBy("group").agg(F.sum("value").alias("total")).collect()
    result = {"master": sc.master, "totals": {r["group"]: r["total"] for r in rows},
              "executors": len(tracker.getExecutorInfos()) - 1}
    os.makedirs("/opt/ml/processing/output/result", exist_ok=True)
    json.dump(result, open("/opt/ml/processing/output/result/result.json", "w"))
    spark.stop()
""")


@pytest.mark.slow
@pytest.mark.skipif(
    _pyspark_site() is None, reason="needs pyspark (SAGESTACK_TEST_PYSPARK_PATH or installed) and java"
)
@pytest.mark.sdk_flow("flow04", "PySparkProcessor.run with instance_count=2: a Spark standalone cluster")
def test_pyspark_processor_two_instances_form_a_standalone_cluster(tmp_path, spark_server):
    import pandas as pd
    import sagemaker
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.spark.processing import PySparkProcessor

    session = sagemaker.Session()
    rows = "group,value\n" + "".join(f"{'abcd'[i % 4]},{i}\n" for i in range(200))
    (tmp_path / "rows.csv").write_text(rows)
    raw = session.upload_data(str(tmp_path / "rows.csv"), key_prefix="spark2/raw")
    (tmp_path / "app.py").write_text(SPARK_CLUSTER_APP)
    processor = PySparkProcessor(
        framework_version="3.3",
        role=ROLE,
        instance_type="ml.m5.xlarge",
        instance_count=2,
        max_runtime_in_seconds=600,
    )
    processor.run(
        submit_app=str(tmp_path / "app.py"),
        inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input/raw")],
        outputs=[ProcessingOutput(output_name="result", source="/opt/ml/processing/output/result")],
        wait=True,
        logs=False,
    )
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Completed", desc.get("FailureReason")
    s3 = spark_server.client("s3")
    uri = desc["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]
    out_bucket, prefix = uri[5:].split("/", 1)
    result = json.loads(
        s3.get_object(Bucket=out_bucket, Key=f"{prefix.rstrip('/')}/result.json")["Body"].read()
    )
    frame = pd.read_csv(tmp_path / "rows.csv")
    assert result["totals"] == {k: int(v) for k, v in frame.groupby("group")["value"].sum().items()}
    assert result["master"].startswith("spark://algo-1:")
    assert result["executors"] == 2  # one per instance
    logs = spark_server.client("logs")
    name = desc["ProcessingJobName"]
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/algo-1-"
    )["logStreams"]
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamName=streams[0]["logStreamName"]
    )["events"]
    assert any("2 Spark workers registered" in e["message"] for e in events)
