"""Models, endpoint configs, endpoints and InvokeEndpoint through boto3 against a real server."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from hosting_support import ROLE, SKLEARN_IMAGE, tar_bytes


@pytest.fixture(scope="module")
def echo(hosting):
    """One endpoint shared by the invocation tests."""
    hosting.script_model("echo-model", tag="echo")
    hosting.config("echo-config", [("AllTraffic", "echo-model", 1.0)])
    desc = hosting.endpoint("echo-ep", "echo-config")
    assert desc["EndpointStatus"] == "InService", desc
    yield "echo-ep"
    hosting.delete("echo-ep")


def test_model_and_config_records(hosting):
    sm = hosting.sm
    arn = sm.create_model(
        ModelName="rec-model",
        ExecutionRoleArn=ROLE,
        EnableNetworkIsolation=True,
        VpcConfig={"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": "s3://x/model.tar.gz",
            "Environment": {"A": "1"},
        },
    )["ModelArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:000000000000:model/rec-model"
    desc = sm.describe_model(ModelName="rec-model")
    assert desc["PrimaryContainer"]["Environment"] == {"A": "1"}
    assert desc["VpcConfig"]["Subnets"] == ["subnet-1"] and desc["EnableNetworkIsolation"] is True
    assert desc["ExecutionRoleArn"] == ROLE
    with pytest.raises(ClientError) as err:
        sm.create_model(ModelName="rec-model", PrimaryContainer={"Image": SKLEARN_IMAGE})
    assert "Cannot create already existing model" in err.value.response["Error"]["Message"]
    names = [m["ModelName"] for m in sm.list_models(NameContains="rec-")["Models"]]
    assert names == ["rec-model"]

    with pytest.raises(ClientError) as err:
        sm.create_endpoint_config(
            EndpointConfigName="rec-config",
            ProductionVariants=[
                {
                    "VariantName": "A",
                    "ModelName": "missing-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
        )
    assert "Could not find model" in err.value.response["Error"]["Message"]
    key_id = hosting.server.client("kms").create_key()["KeyMetadata"]["KeyId"]
    sm.create_endpoint_config(
        EndpointConfigName="rec-config",
        KmsKeyId=key_id,
        ProductionVariants=[
            {
                "VariantName": "A",
                "ModelName": "rec-model",
                "InitialInstanceCount": 2,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 0.5,
            }
        ],
    )
    config = sm.describe_endpoint_config(EndpointConfigName="rec-config")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert config["KmsKeyId"] == key_id and "DataCaptureConfig" not in config  # absent, not {}
    assert [
        c["EndpointConfigName"] for c in sm.list_endpoint_configs(NameContains="rec-")["EndpointConfigs"]
    ] == ["rec-config"]
    sm.delete_endpoint_config(EndpointConfigName="rec-config")
    sm.delete_model(ModelName="rec-model")
    for call, kwargs in (
        (sm.describe_model, {"ModelName": "rec-model"}),
        (sm.describe_endpoint_config, {"EndpointConfigName": "rec-config"}),
        (sm.describe_endpoint, {"EndpointName": "never-created"}),
    ):
        with pytest.raises(ClientError) as err:
            call(**kwargs)
        assert err.value.response["Error"]["Code"] == "ValidationException"
        assert "Could not find" in err.value.response["Error"]["Message"]


def test_invoke_and_describe(hosting, echo):
    desc = hosting.sm.describe_endpoint(EndpointName=echo)
    variant = desc["ProductionVariants"][0]
    assert variant["CurrentInstanceCount"] == variant["DesiredInstanceCount"] == 1
    assert variant["CurrentWeight"] == 1.0 and variant["DeployedImages"][0]["SpecifiedImage"] == SKLEARN_IMAGE
    body, response = hosting.invoke(echo, "1,2,3.5", CustomAttributes="c=1", InferenceId="abc")
    assert body == "echo:6.5"
    assert response["ContentType"] == "text/plain"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert [e["EndpointName"] for e in hosting.sm.list_endpoints(NameContains="echo")["Endpoints"]] == [echo]


def test_model_error_is_424(hosting, echo):
    with pytest.raises(ClientError) as err:
        hosting.invoke(echo, "boom")
    response = err.value.response
    assert response["Error"]["Code"] == "ModelError"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert response["OriginalStatusCode"] == 500
    assert "the model refused: boom" in response["OriginalMessage"]
    assert "Received server error (500) from primary" in response["Error"]["Message"]
    assert response["LogStreamArn"].endswith(":log-group:/aws/sagemaker/Endpoints/echo-ep")


def test_unknown_endpoint_and_payload_limit(hosting, echo):
    with pytest.raises(ClientError) as err:
        hosting.invoke("no-such-endpoint")
    assert err.value.response["Error"]["Code"] == "ValidationError"
    assert (
        err.value.response["Error"]["Message"]
        == "Endpoint no-such-endpoint of account 000000000000 not found."
    )
    with pytest.raises(ClientError) as err:
        hosting.rt.invoke_endpoint(
            EndpointName=echo, Body=b"1" * (6 * 1024 * 1024 + 1), ContentType="text/csv"
        )
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert "HTTP content length exceeded 6291456 bytes" in str(err.value)


def test_response_stream(hosting, echo):
    response = hosting.rt.invoke_endpoint_with_response_stream(
        EndpointName=echo, Body="2,2", ContentType="text/csv"
    )
    parts = [event["PayloadPart"]["Bytes"] for event in response["Body"] if "PayloadPart" in event]
    assert b"".join(parts) == b"echo:4"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    assert response["ContentType"] == "text/plain"


def test_endpoint_logs_and_metrics(hosting, echo):
    hosting.invoke(echo, "1")
    logs = hosting.server.client("logs")
    deadline = time.time() + 15
    streams = []
    while time.time() < deadline and not streams:
        try:
            streams = logs.describe_log_streams(logGroupName=f"/aws/sagemaker/Endpoints/{echo}")["logStreams"]
        except ClientError:
            pass
        time.sleep(0.3)
    assert streams and streams[0]["logStreamName"].startswith("AllTraffic/i-")
    events = logs.get_log_events(
        logGroupName=f"/aws/sagemaker/Endpoints/{echo}",
        logStreamName=streams[0]["logStreamName"],
        startFromHead=True,
    )["events"]
    assert any("Model loaded" in e["message"] for e in events)
    cloudwatch = hosting.server.client("cloudwatch")
    deadline = time.time() + 15
    names: set[str] = set()
    while time.time() < deadline and not {"Invocations", "ModelLatency", "OverheadLatency"} <= names:
        metrics = cloudwatch.list_metrics(
            Namespace="AWS/SageMaker", Dimensions=[{"Name": "EndpointName", "Value": echo}]
        )["Metrics"]
        names = {m["MetricName"] for m in metrics}
        time.sleep(0.5)
    assert {
        "Invocations",
        "Invocation4XXErrors",
        "Invocation5XXErrors",
        "ModelLatency",
        "OverheadLatency",
        "InvocationsPerInstance",
        "ModelSetupTime",
    } <= names


def test_model_that_cannot_load_fails_the_endpoint(hosting):
    hosting.script_model(
        "broken-model", code="def model_fn(model_dir):\n    raise RuntimeError('weights are corrupt')\n"
    )
    hosting.config("broken-config", [("AllTraffic", "broken-model", 1.0)])
    desc = hosting.endpoint("broken-ep", "broken-config")
    assert desc["EndpointStatus"] == "Failed"
    assert "RuntimeError: weights are corrupt" in desc["FailureReason"]
    assert "AllTraffic" in desc["FailureReason"]
    hosting.delete("broken-ep")


@pytest.mark.parametrize(
    "image,words",
    [
        ("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-sparkml-serving:3.3", "SparkML Serving"),
        ("763104351884.dkr.ecr.us-east-1.amazonaws.com/mxnet-inference:1.9.0-cpu-py38", "Apache MXNet 1.9.0"),
        ("520713654638.dkr.ecr.us-east-1.amazonaws.com/sagemaker-chainer:5.0.0-cpu-py3", "Chainer 5.0.0"),
    ],
)
def test_image_that_cannot_run_fails_the_endpoint_with_its_name(hosting, image, words):
    """SparkML Serving, MXNet and Chainer images: the endpoint fails with a reason naming the image,
    the framework and its version — it never hangs in Creating."""
    name = f"unrunnable-{uuid.uuid4().hex[:6]}"
    url = hosting.upload(f"models/{name}/model.tar.gz", tar_bytes({"model.bin": b"x"}))
    hosting.sm.create_model(
        ModelName=name, ExecutionRoleArn=ROLE, PrimaryContainer={"Image": image, "ModelDataUrl": url}
    )
    hosting.config(name, [("AllTraffic", name, 1.0)])
    desc = hosting.endpoint(name, name)
    assert desc["EndpointStatus"] == "Failed"
    assert words in desc["FailureReason"] and image in desc["FailureReason"]
    hosting.delete(name)


@pytest.mark.sdk_flow(
    "flow07c", "boto3: two weighted variants, TargetVariant, UpdateEndpointWeightsAndCapacities"
)
def test_two_variants_split_and_target_variant(hosting):
    hosting.script_model("split-a", tag="a")
    hosting.script_model("split-b", tag="b")
    hosting.config("split-config", [("VariantA", "split-a", 0.8), ("VariantB", "split-b", 0.2)])
    assert hosting.endpoint("split-ep", "split-config")["EndpointStatus"] == "InService"

    def one(_):
        body, response = hosting.invoke("split-ep", "1")
        assert body[0] == response["InvokedProductionVariant"][-1].lower()
        return response["InvokedProductionVariant"]

    with ThreadPoolExecutor(4) as pool:
        variants = list(pool.map(one, range(2000)))
    share = variants.count("VariantA") / len(variants)
    assert abs(share - 0.8) <= 0.05, share
    for _ in range(20):
        body, response = hosting.invoke("split-ep", "1", TargetVariant="VariantB")
        assert body == "b:1" and response["InvokedProductionVariant"] == "VariantB"
    with pytest.raises(ClientError) as err:
        hosting.invoke("split-ep", "1", TargetVariant="Nope")
    assert err.value.response["Error"]["Code"] == "ValidationError"

    hosting.sm.update_endpoint_weights_and_capacities(
        EndpointName="split-ep",
        DesiredWeightsAndCapacities=[
            {"VariantName": "VariantA", "DesiredWeight": 0.0},
            {"VariantName": "VariantB", "DesiredInstanceCount": 2},
        ],
    )
    desc = hosting.wait("split-ep")
    assert desc["EndpointStatus"] == "InService"
    by_name = {v["VariantName"]: v for v in desc["ProductionVariants"]}
    assert by_name["VariantA"]["CurrentWeight"] == 0.0
    assert by_name["VariantB"]["CurrentInstanceCount"] == 2
    assert {hosting.invoke("split-ep", "1")[1]["InvokedProductionVariant"] for _ in range(30)} == {"VariantB"}
    hosting.delete("split-ep")


@pytest.mark.sdk_flow("flow07a", "boto3: DataCaptureConfig (the request the SDK sends)")
def test_data_capture(hosting):
    hosting.script_model("capture-model", tag="cap")
    destination = f"s3://{hosting.bucket}/capture"
    hosting.config(
        "capture-config",
        [("AllTraffic", "capture-model", 1.0)],
        DataCaptureConfig={
            "EnableCapture": True,
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": destination,
            "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        },
    )
    desc = hosting.endpoint("capture-ep", "capture-config")
    assert desc["DataCaptureConfig"]["CaptureStatus"] == "Started"
    assert desc["DataCaptureConfig"]["CurrentSamplingPercentage"] == 100
    for i in range(3):
        hosting.invoke("capture-ep", f"{i},1", InferenceId=f"id-{i}")
    deadline = time.time() + 15
    keys: list[str] = []
    records: list[dict] = []
    while time.time() < deadline and len(records) < 3:  # a flush may fall between two invocations
        listing = hosting.s3.list_objects_v2(Bucket=hosting.bucket, Prefix="capture/capture-ep/AllTraffic/")
        keys = [o["Key"] for o in listing.get("Contents", [])]
        records = []
        for key in keys:
            text = hosting.s3.get_object(Bucket=hosting.bucket, Key=key)["Body"].read().decode()
            records += [json.loads(line) for line in text.splitlines() if line]
        time.sleep(0.3)
    assert keys, "no capture file appeared"
    parts = keys[0].split("/")
    assert len(parts) == 8 and len(parts[3]) == 4 and parts[-1].endswith(".jsonl")  # yyyy/mm/dd/hh/file
    assert len(records) == 3
    record = sorted(records, key=lambda r: r["eventMetadata"]["inferenceId"])[1]
    assert record["eventVersion"] == "0"
    assert record["eventMetadata"]["inferenceId"] == "id-1" and record["eventMetadata"]["eventId"]
    assert record["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": "1,1",
        "encoding": "CSV",
    }
    output = record["captureData"]["endpointOutput"]
    assert output["mode"] == "OUTPUT" and output["encoding"] == "BASE64"  # text/plain is not listed
    hosting.delete("capture-ep")
