"""The request log: one line per call at INFO (service, operation, status, duration, error code, request
id), unimplemented operations as a WARNING, and ``--log-level`` / ``SAGESTACK_LOG_LEVEL`` honoured."""

from __future__ import annotations

import asyncio
import logging
import re
import time

import botocore.exceptions
import pytest
from botocore.config import Config

from sagestack.local_server import ServerProcess

LINE = re.compile(
    r" INFO sagestack\.requests: (?P<service>[\w-]+):(?P<operation>\S+) status=(?P<status>\d+) "
    r"duration_ms=(?P<ms>[\d.]+) error=(?P<error>\S+) request_id=(?P<id>\S+)$"
)


def _wait_for_lines(path, count: int, pattern=LINE, timeout: float = 10.0) -> list[re.Match]:
    """The log is written after the answer is sent: give the server a moment."""
    deadline = time.time() + timeout
    while True:
        found = [m for m in map(pattern.search, path.read_text().splitlines()) if m]
        if len(found) >= count or time.time() > deadline:
            return found
        time.sleep(0.05)


def test_one_line_per_call_with_its_fields(fresh_server):
    sts = fresh_server.client("sts")
    ok = sts.get_caller_identity()["ResponseMetadata"]["RequestId"]
    sagemaker = fresh_server.client("sagemaker")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.describe_training_job(TrainingJobName="no-such-job")
    failed = info.value.response["ResponseMetadata"]["RequestId"]
    s3 = fresh_server.client("s3")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        s3.head_bucket(Bucket="no-such-bucket")
    runtime = fresh_server.client("sagemaker-runtime")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1", ContentType="text/csv")
    missing = info.value.response["ResponseMetadata"]["RequestId"]

    lines = {m["id"]: m for m in _wait_for_lines(fresh_server.log_path, 4)}
    assert lines[ok]["service"] == "sts" and lines[ok]["operation"] == "GetCallerIdentity"
    assert lines[ok]["status"] == "200" and lines[ok]["error"] == "-" and float(lines[ok]["ms"]) > 0
    assert (
        lines[failed]["service"],
        lines[failed]["operation"],
        lines[failed]["status"],
        lines[failed]["error"],
    ) == ("sagemaker", "DescribeTrainingJob", "400", "ValidationException")
    assert (
        lines[missing]["service"],
        lines[missing]["operation"],
        lines[missing]["status"],
        lines[missing]["error"],
    ) == ("sagemaker-runtime", "InvokeEndpoint", "400", "ValidationError")
    head = [m for m in lines.values() if m["operation"] == "HeadBucket"]
    assert len(head) == 1 and head[0]["status"] == "404" and head[0]["error"] == "NoSuchBucket"
    # one line per call: no uvicorn access log besides ours
    assert 'HTTP/1.1" 200' not in fresh_server.log_path.read_text()


def test_unimplemented_operations_are_a_warning(fresh_server):
    sagemaker = fresh_server.client("sagemaker", config=Config(retries={"max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sagemaker.list_devices()
    assert info.value.response["Error"]["Code"] == "NotImplemented"
    request_id = info.value.response["ResponseMetadata"]["RequestId"]
    lines = [m for m in _wait_for_lines(fresh_server.log_path, 1) if m["id"] == request_id]
    assert lines and lines[0]["status"] == "501" and lines[0]["error"] == "NotImplemented"
    text = fresh_server.log_path.read_text()
    assert "WARNING sagestack.gateway: sagemaker:ListDevices is not implemented" in text


@pytest.mark.parametrize("how", ["flag", "env"])
def test_log_level_warning_drops_the_request_lines(tmp_path, how):
    env = {"SAGESTACK_LOG_LEVEL": "WARNING"} if how == "env" else {}
    server = ServerProcess(tmp_path / "data", extra_env=env)
    if how == "flag":
        server.extra_args = ["--log-level", "warning"]
    server.start()
    try:
        server.client("sts").get_caller_identity()
        with pytest.raises(botocore.exceptions.ClientError):
            server.client("sagemaker", config=Config(retries={"max_attempts": 1})).list_devices()
        _wait_for_lines(server.log_path, 1, re.compile("is not implemented"))
    finally:
        server.stop()
    text = server.log_path.read_text()
    assert "sagemaker:ListDevices is not implemented" in text
    assert "sagestack.requests" not in text and "uvicorn.error: Started server process" not in text


def test_invocation_fast_path_is_logged_without_the_store(tmp_path, caplog):
    """The router's fast path logs its line too; checked in-process with a stand-in router."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from sagestack.protocol.http import HttpResponse
    from sagestack.server import build_app
    from sagestack.settings import Settings

    gateway = build_app(Settings.from_env({}, data_dir=tmp_path / "data"))
    calls = []

    async def router(request, auth, protocol):
        calls.append(request.raw_path)
        return HttpResponse(200, [("content-type", "text/csv")], b"0.5")

    gateway.invocation_handler = router
    creds = gateway.platform.default_credentials
    signed = AWSRequest(
        "POST",
        "http://127.0.0.1:5066/endpoints/ep/invocations",
        data=b"1,2",
        headers={"Content-Type": "text/csv"},
    )
    SigV4Auth(
        Credentials(creds["access_key_id"], creds["secret_access_key"]), "sagemaker", "us-east-1"
    ).add_auth(signed)
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/endpoints/ep/invocations",
        "raw_path": b"/endpoints/ep/invocations",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in signed.headers.items()]
        + [(b"host", b"127.0.0.1:5066"), (b"content-length", b"3")],
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"1,2", "more_body": False}

    async def send(message):
        sent.append(message)

    with caplog.at_level(logging.INFO, logger="sagestack.requests"):
        asyncio.run(gateway(scope, receive, send))
    gateway.platform.stop()
    assert calls == ["/endpoints/ep/invocations"] and sent[0]["status"] == 200
    records = [r for r in caplog.records if r.name == "sagestack.requests"]
    assert len(records) == 1
    assert re.match(
        r"sagemaker-runtime:InvokeEndpoint status=200 duration_ms=[\d.]+ error=- request_id=\S+$",
        records[0].getMessage(),
    )
