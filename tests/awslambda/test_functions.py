"""Lambda through boto3: functions from a zip or S3, states, code download, configuration updates,
versions, and invocations that really run the handler (result, error, timeout, logs, boto3 inside)."""

from __future__ import annotations

import base64
import io
import json
import time
import urllib.request
import uuid
import zipfile

import botocore.exceptions
import pytest

from helpers import ROLE, wait_for


def zip_of(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


HANDLER = """
import os, time

def lambda_handler(event, context):
    if event.get("fail"):
        raise ValueError("boom: " + event["fail"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    print("got", event)
    return {
        "echo": event,
        "name": context.function_name,
        "version": context.function_version,
        "arn": context.invoked_function_arn,
        "memory": context.memory_limit_in_mb,
        "request_id": context.aws_request_id,
        "remaining": context.get_remaining_time_in_millis(),
        "group": context.log_group_name,
        "colour": os.environ.get("COLOUR"),
        "env_name": os.environ["AWS_LAMBDA_FUNCTION_NAME"],
    }
"""


@pytest.fixture
def lam(server):
    return server.client("lambda")


def make_function(lam, source: str = HANDLER, **kwargs) -> str:
    name = f"fn-{uuid.uuid4().hex[:10]}"
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="app.lambda_handler",
        Code={"ZipFile": zip_of({"app.py": source})},
        **kwargs,
    )
    assert created["State"] == "Pending" and created["Version"] == "$LATEST"
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return name


def test_create_get_download_list_delete(lam):
    name = make_function(lam, Environment={"Variables": {"COLOUR": "red"}}, Timeout=10, Tags={"team": "ml"})
    got = lam.get_function(FunctionName=name)
    config = got["Configuration"]
    assert config["State"] == "Active" and config["LastUpdateStatus"] == "Successful"
    assert config["FunctionArn"].endswith(f":function:{name}") and config["Timeout"] == 10
    assert config["Environment"] == {"Variables": {"COLOUR": "red"}} and config["MemorySize"] == 128
    assert got["Tags"] == {"team": "ml"}
    package = urllib.request.urlopen(got["Code"]["Location"]).read()
    assert zipfile.ZipFile(io.BytesIO(package)).read("app.py").decode() == HANDLER
    import hashlib

    assert base64.b64encode(hashlib.sha256(package).digest()).decode() == config["CodeSha256"]
    assert lam.get_function_configuration(FunctionName=config["FunctionArn"])["FunctionName"] == name
    names = [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate()
        for f in page["Functions"]
    ]
    assert name in names
    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.get_function(FunctionName=name)
    assert "Function not found" in str(info.value)


def test_invoke_returns_the_handlers_result_with_context(lam):
    name = make_function(lam, Environment={"Variables": {"COLOUR": "blue"}}, MemorySize=256)
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"x": 1}), LogType="Tail")
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert answer["ExecutedVersion"] == "$LATEST"
    result = json.loads(answer["Payload"].read())
    assert result["echo"] == {"x": 1} and result["name"] == name and result["version"] == "$LATEST"
    assert result["memory"] == "256" and result["colour"] == "blue" and result["env_name"] == name
    assert result["arn"].endswith(f":function:{name}") and result["group"] == f"/aws/lambda/{name}"
    assert 0 < result["remaining"] <= 3000
    tail = base64.b64decode(answer["LogResult"]).decode()
    assert f"START RequestId: {result['request_id']}" in tail and "got {'x': 1}" in tail
    assert f"END RequestId: {result['request_id']}" in tail and "REPORT RequestId:" in tail


def test_handler_exception_is_an_unhandled_function_error(lam):
    name = make_function(lam)
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": "bad"}))
    assert answer["StatusCode"] == 200 and answer["FunctionError"] == "Unhandled"
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "ValueError" and error["errorMessage"] == "boom: bad"
    assert any("raise ValueError" in frame for frame in error["stackTrace"])


def test_timeout_kills_the_run(lam):
    name = make_function(lam, Timeout=1)
    started = time.monotonic()
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": 30}), LogType="Tail")
    assert time.monotonic() - started < 10
    assert answer["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in json.loads(answer["Payload"].read())["errorMessage"]
    assert "Task timed out after 1.00 seconds" in base64.b64decode(answer["LogResult"]).decode()


def test_logs_go_to_the_functions_log_group(server, lam):
    name = make_function(lam)
    lam.invoke(FunctionName=name, Payload=b'{"hello": "logs"}')
    logs = server.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]
    messages = [
        e["message"]
        for e in logs.get_log_events(
            logGroupName=f"/aws/lambda/{name}", logStreamName=streams[0]["logStreamName"], startFromHead=True
        )["events"]
    ]
    assert messages[0].startswith("START RequestId:") and messages[-1].startswith("REPORT RequestId:")
    assert any("hello" in m for m in messages)


def test_boto3_inside_the_handler_reaches_the_server(server, lam):
    s3 = server.client("s3")
    bucket = f"lambda-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    source = (
        "import boto3\n"
        "def handler(event, context):\n"
        "    boto3.client('s3').put_object(Bucket=event['bucket'], Key='from-lambda.txt', Body=b'hi')\n"
        "    return boto3.client('sts').get_caller_identity()['Arn']\n"
    )
    name = f"fn-{uuid.uuid4().hex[:10]}"
    s3.put_object(Bucket=bucket, Key="code.zip", Body=zip_of({"writer.py": source}))
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="writer.handler",
        Code={"S3Bucket": bucket, "S3Key": "code.zip"},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    answer = lam.invoke(FunctionName=name, Payload=json.dumps({"bucket": bucket}))
    assert "FunctionError" not in answer, answer["Payload"].read()
    assert ":assumed-role/" in json.loads(answer["Payload"].read())
    assert s3.get_object(Bucket=bucket, Key="from-lambda.txt")["Body"].read() == b"hi"


def test_update_code_and_configuration_then_publish(lam):
    name = make_function(lam)
    new_source = "def lambda_handler(event, context):\n    return 'v2'\n"
    updated = lam.update_function_code(FunctionName=name, ZipFile=zip_of({"app.py": new_source}))
    assert updated["LastUpdateStatus"] == "InProgress"
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2"
    lam.update_function_configuration(
        FunctionName=name,
        Timeout=7,
        MemorySize=512,
        Environment={"Variables": {"AB": "b"}},
        Handler="app.lambda_handler",
    )
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    config = lam.get_function_configuration(FunctionName=name)
    assert (config["Timeout"], config["MemorySize"], config["Environment"]) == (
        7,
        512,
        {"Variables": {"AB": "b"}},
    )
    version = lam.publish_version(FunctionName=name)
    assert version["Version"] == "1" and version["FunctionArn"].endswith(f"{name}:1")
    answer = lam.invoke(FunctionName=name, Qualifier="1")
    assert answer["ExecutedVersion"] == "1" and json.loads(answer["Payload"].read()) == "v2"
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName=name, Qualifier="9")


def test_event_and_dry_run_invocations(server, lam):
    s3 = server.client("s3")
    bucket = f"lambda-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    source = (
        "import boto3\n"
        "def lambda_handler(event, context):\n"
        "    boto3.client('s3').put_object(Bucket=event['bucket'], Key='event.txt', Body=b'async')\n"
    )
    name = make_function(lam, source=source, Timeout=30)
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    answer = lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"bucket": bucket}))
    assert answer["StatusCode"] == 202

    def written():
        try:
            return s3.get_object(Bucket=bucket, Key="event.txt")["Body"].read() == b"async"
        except botocore.exceptions.ClientError:
            return False

    wait_for(written, timeout=30, message="the event invocation's object")


def test_bad_input(lam):
    name = f"fn-{uuid.uuid4().hex[:10]}"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.create_function(
            FunctionName=name,
            Runtime="nodejs20.x",
            Role=ROLE,
            Handler="index.handler",
            Code={"ZipFile": zip_of({"index.js": ""})},
        )
    assert "nodejs20.x" in str(info.value) and "Python" in str(info.value)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.handler",
            Code={"ZipFile": b"not a zip"},
        )
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(
            FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={}
        )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)  # nothing stored
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="no-such-function")
    existing = make_function(lam)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        lam.create_function(
            FunctionName=existing,
            Runtime="python3.12",
            Role=ROLE,
            Handler="app.lambda_handler",
            Code={"ZipFile": zip_of({"app.py": HANDLER})},
        )
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=existing, Payload=b"{not json")
    missing = lam.create_function(
        FunctionName=f"fn-{uuid.uuid4().hex[:10]}",
        Runtime="python3.12",
        Role=ROLE,
        Handler="nomodule.handler",
        Code={"ZipFile": zip_of({"app.py": HANDLER})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=missing["FunctionName"], WaiterConfig={"Delay": 1})
    answer = lam.invoke(FunctionName=missing["FunctionName"])
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorType"] == "Runtime.ImportModuleError"


def test_invoke_entry_point_for_other_parts_of_the_server(server, lam):
    """execution.functions.invoke, what a pipeline's Lambda step calls, on a platform over the server's
    own store (as a reconciler of that server would): by name or ARN, synchronously."""
    from sagestack.domain.functions import FunctionError
    from sagestack.execution.functions import invoke
    from sagestack.platform import Platform
    from sagestack.settings import Settings

    name = make_function(lam)
    arn = lam.get_function_configuration(FunctionName=name)["FunctionArn"]
    account = arn.split(":")[4]
    store = {"SAGESTACK_DATABASE_URL": server.database_url} if server.database_url else {}
    platform = Platform(Settings.from_env({"SAGESTACK_DATA_DIR": str(server.data_dir), **store}))
    try:
        outcome = invoke(platform, account=account, region="us-east-1", function=arn, payload=b'{"step": 1}')
        assert outcome.status_code == 200 and outcome.function_error is None
        assert json.loads(outcome.payload)["echo"] == {"step": 1}
        failed = invoke(
            platform, account=account, region="us-east-1", function=name, payload=b'{"fail": "x"}'
        )
        assert (
            failed.function_error == "Unhandled" and json.loads(failed.payload)["errorType"] == "ValueError"
        )
        with pytest.raises(FunctionError) as info:
            invoke(platform, account=account, region="us-east-1", function="no-such-fn", payload=b"{}")
        assert info.value.kind == "NotFound"
    finally:
        platform.db.dispose()


@pytest.mark.slow
def test_a_server_stop_ends_running_invocations(fresh_server, tmp_path):
    import os
    import threading

    lam = fresh_server.client("lambda")
    source = (
        "import os, time\n"
        "def lambda_handler(event, context):\n"
        "    open(event['pidfile'], 'w').write(str(os.getpid()))\n"
        "    time.sleep(120)\n"
    )
    name = make_function(lam, source=source, Timeout=300)
    pidfile = tmp_path / "pid"
    caller = threading.Thread(
        target=lambda: _ignore(
            lambda: lam.invoke(FunctionName=name, Payload=json.dumps({"pidfile": str(pidfile)}))
        ),
        daemon=True,
    )
    caller.start()
    wait_for(lambda: pidfile.exists() and pidfile.read_text(), timeout=30, message="the handler running")
    pid = int(pidfile.read_text())
    started = time.monotonic()
    fresh_server.stop()
    assert time.monotonic() - started < 20

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_for(gone, timeout=10, message="the handler's process ended")


def _ignore(call) -> None:
    try:
        call()
    except Exception:  # the server went away mid-call: what this test does
        pass


def test_list_versions(lam):
    name = make_function(lam)
    lam.publish_version(FunctionName=name, Description="first")
    assert lam.publish_version(FunctionName=name)["Version"] == "1"  # unchanged: not published again
    lam.update_function_configuration(FunctionName=name, Timeout=9)
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    assert lam.publish_version(FunctionName=name)["Version"] == "2"
    versions = lam.list_versions_by_function(FunctionName=name)["Versions"]
    assert [(v["Version"], v["Timeout"]) for v in versions] == [("$LATEST", 9), ("1", 3), ("2", 9)]
    assert versions[1]["Description"] == "first"
    lam.delete_function(FunctionName=name, Qualifier="1")
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]] == [
        "$LATEST",
        "2",
    ]
