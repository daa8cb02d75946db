"""CloudWatch Logs over HTTP with boto3: lifecycle, the SDK's paging traps, filters, errors."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def logs(server):
    return server.client("logs")


def unique(prefix: str = "/test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def error_of(info) -> tuple[str, str]:
    err = info.value.response["Error"]
    return err["Code"], err["Message"]


def test_lifecycle(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    with pytest.raises(ClientError) as info:
        logs.create_log_group(logGroupName=group)
    assert error_of(info)[0] == "ResourceAlreadyExistsException"
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    with pytest.raises(ClientError) as info:
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
    assert error_of(info)[0] == "ResourceAlreadyExistsException"
    t0 = now_ms()
    out = logs.put_log_events(
        logGroupName=group,
        logStreamName="s1",
        sequenceToken="bogus-is-ignored",
        logEvents=[{"timestamp": t0 + i, "message": f"line {i}"} for i in range(3)],
    )
    assert out["nextSequenceToken"] and "rejectedLogEventsInfo" not in out
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert stream["logStreamName"] == "s1"
    assert stream["firstEventTimestamp"] == t0 and stream["lastEventTimestamp"] == t0 + 2
    assert stream["arn"].endswith(f"log-group:{group}:log-stream:s1")
    events = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True)["events"]
    assert [e["message"] for e in events] == ["line 0", "line 1", "line 2"]
    described = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in described] == [group]
    assert described[0]["arn"].endswith(f":log-group:{group}:*") and described[0]["storedBytes"] > 0

    logs.delete_log_stream(logGroupName=group, logStreamName="s1")
    with pytest.raises(ClientError) as info:
        logs.get_log_events(logGroupName=group, logStreamName="s1")
    assert error_of(info) == ("ResourceNotFoundException", "The specified log stream does not exist.")
    logs.delete_log_group(logGroupName=group)
    for call in (
        lambda: logs.describe_log_streams(logGroupName=group),
        lambda: logs.delete_log_group(logGroupName=group),
        lambda: logs.create_log_stream(logGroupName=group, logStreamName="x"),
        lambda: logs.put_log_events(
            logGroupName=group, logStreamName="x", logEvents=[{"timestamp": now_ms(), "message": "m"}]
        ),
    ):
        with pytest.raises(ClientError) as info:
            call()
        assert error_of(info) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_describe_log_groups_prefix_and_pages(logs):
    base = unique("/paging")
    for i in range(5):
        logs.create_log_group(logGroupName=f"{base}/g{i}")
    logs.create_log_group(logGroupName=f"{base}-other")
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.describe_log_groups(logGroupNamePrefix=f"{base}/", limit=2, **kwargs)
        pages.append([g["logGroupName"] for g in page["logGroups"]])
        token = page.get("nextToken")
        if not token:
            break
    assert pages == [[f"{base}/g0", f"{base}/g1"], [f"{base}/g2", f"{base}/g3"], [f"{base}/g4"]]
    # the paginator agrees, and a pattern search is a case-insensitive substring match
    names = [
        g["logGroupName"]
        for p in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=base)
        for g in p["logGroups"]
    ]
    assert len(names) == 6
    found = logs.describe_log_groups(logGroupNamePattern=base.split("/")[-1].upper())["logGroups"]
    assert len(found) == 6
    with pytest.raises(ClientError) as info:
        logs.describe_log_groups(logGroupNamePrefix=base, logGroupNamePattern="x")
    assert error_of(info)[0] == "InvalidParameterException"


def test_describe_log_streams_sdk_v2_loop_terminates(logs):
    group, job = "/aws/sagemaker/TrainingJobs", f"job-{uuid.uuid4().hex[:8]}"
    try:
        logs.create_log_group(logGroupName=group)
    except ClientError:
        pass
    for n in (1, 2, 3):
        logs.create_log_stream(logGroupName=group, logStreamName=f"{job}/algo-{n}-1700000000")
    # sagemaker.session._flush_log_streams: re-calls with limit=50 and WITHOUT the token while
    # "nextToken" is in the response — it only terminates if the last page carries no token.
    instance_count = 3
    streams = logs.describe_log_streams(
        logGroupName=group,
        logStreamNamePrefix=job + "/",
        orderBy="LogStreamName",
        limit=min(instance_count, 50),
    )
    names = [s["logStreamName"] for s in streams["logStreams"]]
    calls = 1
    while "nextToken" in streams:
        streams = logs.describe_log_streams(
            logGroupName=group, logStreamNamePrefix=job + "/", orderBy="LogStreamName", limit=50
        )
        names.extend(s["logStreamName"] for s in streams["logStreams"])
        calls += 1
        assert calls < 5, "DescribeLogStreams returned nextToken on its last page"
    assert calls == 1 and names == [f"{job}/algo-{n}-1700000000" for n in (1, 2, 3)]

    # real paging: a token only while more pages exist
    first = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job + "/", limit=2)
    assert len(first["logStreams"]) == 2 and "nextToken" in first
    second = logs.describe_log_streams(
        logGroupName=group, logStreamNamePrefix=job + "/", limit=2, nextToken=first["nextToken"]
    )
    assert [s["logStreamName"] for s in second["logStreams"]] == [f"{job}/algo-3-1700000000"]
    assert "nextToken" not in second
    exact = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=job + "/", limit=3)
    assert "nextToken" not in exact
    # the SDK tolerates ResourceNotFoundException before the group exists
    with pytest.raises(ClientError) as info:
        logs.describe_log_streams(logGroupName=unique("/absent"), logStreamNamePrefix=job + "/")
    assert error_of(info)[0] == "ResourceNotFoundException"


def test_describe_log_streams_order_by_last_event_time(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    t = now_ms()
    for name, offset in (("a", 30), ("b", 10), ("c", 20)):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        logs.put_log_events(
            logGroupName=group, logStreamName=name, logEvents=[{"timestamp": t + offset, "message": name}]
        )
    newest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in newest["logStreams"]] == ["a", "c", "b"]
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        page = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", limit=1, **kwargs)
        pages += [s["logStreamName"] for s in page["logStreams"]]
        token = page.get("nextToken")
        if not token:
            break
    assert pages == ["b", "c", "a"]
    with pytest.raises(ClientError) as info:
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="a")
    assert error_of(info)[0] == "InvalidParameterException"


def _sdk_v2_log_stream(client, group, stream, start_time=0, skip=0):
    """sagemaker.logs.log_stream (SDK v2), verbatim in behaviour: loop until a page is empty."""
    next_token, event_count, calls = None, 1, 0
    while event_count > 0:
        token_arg = {"nextToken": next_token} if next_token is not None else {}
        response = client.get_log_events(
            logGroupName=group, logStreamName=stream, startTime=start_time, startFromHead=True, **token_arg
        )
        calls += 1
        assert calls < 50, "GetLogEvents never returned an empty page"
        next_token = response["nextForwardToken"]
        events = response["events"]
        event_count = len(events)
        if event_count > skip:
            events = events[skip:]
            skip = 0
        else:
            skip = skip - event_count
            events = []
        yield from events


def test_get_log_events_sdk_v2_loop_and_tokens(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="algo-1")
    t0 = now_ms() - 1000
    batch = [{"timestamp": t0 + i // 2, "message": f"event {i}"} for i in range(25)]  # equal stamps
    logs.put_log_events(logGroupName=group, logStreamName="algo-1", logEvents=batch)
    seen = [e["message"] for e in _sdk_v2_log_stream(logs, group, "algo-1")]
    assert seen == [f"event {i}" for i in range(25)]
    # resuming from the last timestamp with a skip count, as the SDK does
    last_ts = batch[-1]["timestamp"]
    resumed = [e["message"] for e in _sdk_v2_log_stream(logs, group, "algo-1", last_ts, skip=1)]
    assert resumed == []

    # paging forward with a limit; the empty page at the end repeats the forward token
    page = logs.get_log_events(logGroupName=group, logStreamName="algo-1", startFromHead=True, limit=10)
    collected = [e["message"] for e in page["events"]]
    token = page["nextForwardToken"]
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName="algo-1", nextToken=token, limit=10)
        assert page["nextForwardToken"] and page["nextBackwardToken"]
        if not page["events"]:
            assert page["nextForwardToken"] == token
            break
        collected += [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]
    assert collected == [f"event {i}" for i in range(25)]
    # a tail: events written later show up behind the same forward token
    logs.put_log_events(
        logGroupName=group, logStreamName="algo-1", logEvents=[{"timestamp": now_ms(), "message": "late"}]
    )
    later = logs.get_log_events(logGroupName=group, logStreamName="algo-1", nextToken=token)
    assert [e["message"] for e in later["events"]] == ["late"]

    # without startFromHead: the newest events; the backward token walks back
    tail = logs.get_log_events(logGroupName=group, logStreamName="algo-1", limit=5)
    assert [e["message"] for e in tail["events"]] == ["event 21", "event 22", "event 23", "event 24", "late"]
    back = logs.get_log_events(
        logGroupName=group, logStreamName="algo-1", limit=5, nextToken=tail["nextBackwardToken"]
    )
    assert [e["message"] for e in back["events"]] == [f"event {i}" for i in range(16, 21)]
    # time window: startTime inclusive, endTime exclusive
    window = logs.get_log_events(
        logGroupName=group, logStreamName="algo-1", startFromHead=True, startTime=t0 + 2, endTime=t0 + 4
    )
    assert [e["message"] for e in window["events"]] == ["event 4", "event 5", "event 6", "event 7"]
    with pytest.raises(ClientError) as info:
        logs.get_log_events(logGroupName=group, logStreamName="algo-1", nextToken="garbage")
    assert error_of(info)[0] == "InvalidParameterException"


def test_empty_stream_terminates(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="empty")
    assert list(_sdk_v2_log_stream(logs, group, "empty")) == []
    page = logs.get_log_events(logGroupName=group, logStreamName="empty", startFromHead=True)
    assert page["events"] == [] and page["nextForwardToken"].startswith("f/")
    assert page["nextBackwardToken"].startswith("b/")


def test_put_log_events_rejections_and_errors(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    now = now_ms()
    old = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": now - 15 * 86400 * 1000, "message": "old"}],
    )
    assert old["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 0}
    new = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now, "message": "ok"},
            {"timestamp": now + 3 * 3600 * 1000, "message": "new"},
        ],
    )
    assert new["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 1}
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    expired = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[
            {"timestamp": now - 25 * 3600 * 1000, "message": "expired"},
            {"timestamp": now - 2 * 3600 * 1000, "message": "kept"},
        ],
    )
    assert expired["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 0}
    stored = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in stored] == ["kept", "ok"]
    with pytest.raises(ClientError) as info:
        logs.put_log_events(
            logGroupName=group,
            logStreamName="s",
            logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 5, "message": "a"}],
        )
    assert error_of(info)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.put_log_events(
            logGroupName=group, logStreamName="missing", logEvents=[{"timestamp": now, "message": "m"}]
        )
    assert error_of(info) == ("ResourceNotFoundException", "The specified log stream does not exist.")


def test_retention_policy(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 14
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    with pytest.raises(ClientError) as info:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    assert error_of(info)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.put_retention_policy(logGroupName=unique(), retentionInDays=1)
    assert error_of(info)[0] == "ResourceNotFoundException"


def test_filter_log_events(logs):
    group = unique()
    logs.create_log_group(logGroupName=group)
    t0 = now_ms() - 10000
    lines = {
        "web/1": ["GET /index 200", "ERROR disk full", "error lowercase", 'said "hello world" loudly'],
        "web/2": ["ERROR timeout on /api", "WARN slow", "INFO hello there"],
        "db/1": ["ERROR deadlock", "INFO ok"],
    }
    for offset, (stream, messages) in enumerate(lines.items()):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": t0 + 10 * i + offset, "message": m} for i, m in enumerate(messages)],
        )

    def messages(**kwargs):
        out = logs.filter_log_events(logGroupName=group, **kwargs)
        return [e["message"] for e in out["events"]], out

    found, out = messages(filterPattern="ERROR")
    assert found == ["ERROR timeout on /api", "ERROR deadlock", "ERROR disk full"]  # time order
    assert {s["logStreamName"] for s in out["searchedLogStreams"]} == set(lines)
    assert all(e["eventId"] for e in out["events"]) and "nextToken" not in out
    assert messages(filterPattern="ERROR disk")[0] == ["ERROR disk full"]  # all terms
    assert messages(filterPattern='"hello world"')[0] == ['said "hello world" loudly']
    assert messages(filterPattern="?WARN ?deadlock")[0] == ["ERROR deadlock", "WARN slow"]
    assert messages(filterPattern="ERROR -timeout -deadlock")[0] == ["ERROR disk full"]
    assert messages(filterPattern="%ERR?OR [a-z]+ full%")[0] == ["ERROR disk full"]
    assert messages(filterPattern="ERROR", logStreamNamePrefix="web/")[0] == [
        "ERROR timeout on /api",
        "ERROR disk full",
    ]
    assert messages(filterPattern="INFO", logStreamNames=["db/1"])[0] == ["INFO ok"]
    assert messages(startTime=t0 + 10, endTime=t0 + 12)[0] == ["ERROR disk full", "WARN slow", "INFO ok"]
    # pagination: every event exactly once, in order
    collected, token, pages = [], None, 0
    while True:
        kwargs = {"nextToken": token} if token else {}
        found, out = messages(limit=2, **kwargs)
        collected += found
        pages += 1
        token = out.get("nextToken")
        if not token:
            break
    assert len(collected) == 9 and pages == 5
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName=group, logStreamNames=["a"], logStreamNamePrefix="a")
    assert error_of(info)[0] == "InvalidParameterException"
    with pytest.raises(ClientError) as info:
        logs.filter_log_events(logGroupName=unique())
    assert error_of(info)[0] == "ResourceNotFoundException"


def test_internal_append_visible_through_api(server, logs):
    """Subsystems write with ``LogStore.append`` (group and stream created on demand)."""
    from sagestack.store.db import Database
    from sagestack.store.logs import LogStore

    db = Database(f"sqlite:///{Path(server.data_dir) / 'metadata.db'}")
    try:
        store = LogStore(db)
        group, stream = unique("/aws/sagemaker/TrainingJobs"), "job/algo-1-1700000000"
        t0 = now_ms()
        assert (
            store.append(
                "000000000000", "us-east-1", group, stream, [(t0 + i, f"epoch {i}") for i in range(200)]
            )
            == 200
        )
        writer = store.writer("000000000000", "us-east-1", group, stream, max_events=1000, max_delay=3600)
        writer.write("buffered", t0 + 500)
        assert (
            logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=t0 + 500)["events"] == []
        )
        writer.close()
    finally:
        db.dispose()
    messages = [e["message"] for e in _sdk_v2_log_stream(logs, group, stream)]
    assert messages == [f"epoch {i}" for i in range(200)] + ["buffered"]


@pytest.mark.sdk_flow("aws-cli", "aws logs describe-log-groups")
def test_aws_cli_describe_log_groups(server, logs):
    group = unique("/cli")
    logs.create_log_group(logGroupName=group)
    env = {**server.client_env(), "HOME": str(Path(server.data_dir).parent)}
    import os

    env = {**os.environ, **env}
    env.pop("AWS_PROFILE", None)
    cli = Path(sys.executable).parent / "aws"  # the AWS CLI of the venv running the tests
    out = subprocess.run(
        [str(cli), "logs", "describe-log-groups", "--log-group-name-prefix", group, "--output", "json"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert [g["logGroupName"] for g in json.loads(out.stdout)["logGroups"]] == [group]
