"""EventBridge Scheduler through boto3: schedules and groups, expression checks, and real firing into
SQS and Lambda targets (at() a few seconds ahead), ActionAfterCompletion, DISABLED, dead letters for
a target that fails (a SageMaker pipeline target naming no pipeline)."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid
import zipfile

import botocore.exceptions
import pytest

from helpers import ROLE, wait_for

UTC = dt.timezone.utc


@pytest.fixture
def scheduler(server):
    return server.client("scheduler")


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def _name(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _code(info) -> str:
    return info.value.response["Error"]["Code"]


def _at(seconds: float) -> str:
    when = dt.datetime.now(UTC) + dt.timedelta(seconds=seconds)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})"


def _queue(sqs) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=_name("target"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _receive(sqs, url: str, timeout: float = 20) -> dict:
    got: list = []

    def arrived():
        got.extend(
            sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, MessageAttributeNames=["All"]).get(
                "Messages", []
            )
        )
        return bool(got)

    wait_for(arrived, timeout=timeout, interval=0.1, message="the scheduled message")
    return got[0]


def test_create_get_update_list_delete(scheduler):
    name = _name()
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:nowhere", "RoleArn": ROLE, "Input": "{}"}
    arn = scheduler.create_schedule(
        Name=name,
        ScheduleExpression="cron(0 12 ? * MON-FRI *)",
        ScheduleExpressionTimezone="Europe/Berlin",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        Description="weekdays",
    )["ScheduleArn"]
    assert arn.endswith(f":schedule/default/{name}")
    got = scheduler.get_schedule(Name=name)
    assert got["State"] == "ENABLED" and got["GroupName"] == "default" and got["Description"] == "weekdays"
    assert got["ScheduleExpressionTimezone"] == "Europe/Berlin" and got["Target"]["Arn"] == target["Arn"]
    assert got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert got["ActionAfterCompletion"] == "NONE" and isinstance(got["CreationDate"], dt.datetime)
    scheduler.update_schedule(
        Name=name,
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        State="DISABLED",
    )
    got = scheduler.get_schedule(Name=name)
    assert (
        got["ScheduleExpression"] == "rate(5 minutes)"
        and got["State"] == "DISABLED"
        and "Description" not in got
    )
    listed = scheduler.list_schedules(NamePrefix=name)["Schedules"]
    assert [(s["Name"], s["State"], s["Target"]["Arn"]) for s in listed] == [
        (name, "DISABLED", target["Arn"])
    ]
    assert name not in [
        s["Name"] for s in scheduler.list_schedules(State="ENABLED", NamePrefix=name)["Schedules"]
    ]
    with pytest.raises(scheduler.exceptions.ConflictException):
        scheduler.create_schedule(
            Name=name, ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"}, Target=target
        )
    scheduler.delete_schedule(Name=name)
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=name)


def test_groups(scheduler):
    assert scheduler.get_schedule_group(Name="default")["State"] == "ACTIVE"
    group = _name("grp")
    arn = scheduler.create_schedule_group(Name=group, Tags=[{"Key": "team", "Value": "ml"}])[
        "ScheduleGroupArn"
    ]
    assert arn.endswith(f":schedule-group/{group}")
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:nowhere", "RoleArn": ROLE}
    scheduler.create_schedule(
        Name="in-group",
        GroupName=group,
        ScheduleExpression="rate(1 hour)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
    )
    assert scheduler.get_schedule(Name="in-group", GroupName=group)["GroupName"] == group
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name="in-group")  # in the default group there is none
    assert [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]] == ["in-group"]
    names = [
        g["Name"]
        for p in scheduler.get_paginator("list_schedule_groups").paginate()
        for g in p["ScheduleGroups"]
    ]
    assert names[0] == "default" and group in names
    scheduler.delete_schedule_group(Name=group)
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name="in-group", GroupName=group)
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.create_schedule(
            Name="x",
            GroupName=group,
            ScheduleExpression="rate(1 hour)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )


@pytest.mark.parametrize(
    "expression",
    [
        "rate(0 minutes)",
        "rate(5 weeks)",
        "cron(0 12 * * MON *)",
        "cron(0 12 * *)",
        "cron(61 * * * ? *)",
        "at(2026-13-01T00:00:00)",
        "every day",
    ],
)
def test_bad_expressions_are_refused_and_nothing_is_stored(scheduler, expression):
    name = _name("bad")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        scheduler.create_schedule(
            Name=name,
            ScheduleExpression=expression,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE},
        )
    assert _code(info) == "ValidationException" and "Invalid Schedule Expression" in str(info.value)
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name=name)


def test_bad_timezone_and_dates(scheduler):
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE}
    with pytest.raises(scheduler.exceptions.ValidationException):
        scheduler.create_schedule(
            Name=_name(),
            ScheduleExpression="rate(1 hour)",
            ScheduleExpressionTimezone="Mars/Olympus",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )
    start = dt.datetime.now(UTC) + dt.timedelta(days=2)
    with pytest.raises(scheduler.exceptions.ValidationException):
        scheduler.create_schedule(
            Name=_name(),
            ScheduleExpression="rate(1 hour)",
            StartDate=start,
            EndDate=start - dt.timedelta(days=1),
            FlexibleTimeWindow={"Mode": "OFF"},
            Target=target,
        )


def test_at_schedule_delivers_to_sqs_and_deletes_itself(scheduler, sqs):
    url, arn = _queue(sqs)
    name = _name("at")
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression=_at(2),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": arn,
            "RoleArn": ROLE,
            "Input": '{"at": "<aws.scheduler.scheduled-time>", "arn": "<aws.scheduler.schedule-arn>"}',
        },
        ActionAfterCompletion="DELETE",
    )
    body = json.loads(_receive(sqs, url)["Body"])
    assert body["arn"].endswith(f"schedule/default/{name}") and body["at"].endswith("Z")
    wait_for(
        lambda: name not in [s["Name"] for s in scheduler.list_schedules(NamePrefix=name)["Schedules"]],
        timeout=10,
        message="the completed schedule deleted",
    )


def test_disabled_schedule_does_not_fire(scheduler, sqs):
    url, arn = _queue(sqs)
    name = _name("off")
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression=_at(1),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE, "Input": "x"},
        State="DISABLED",
    )
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)
    assert scheduler.get_schedule(Name=name)["State"] == "DISABLED"


def test_fifo_queue_target_with_message_group(scheduler, sqs):
    url = sqs.create_queue(QueueName=_name("fifo") + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    scheduler.create_schedule(
        Name=_name(),
        ScheduleExpression=_at(1),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE, "Input": "fifo!", "SqsParameters": {"MessageGroupId": "sched"}},
    )
    got = []
    wait_for(
        lambda: (
            got.extend(
                sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1, AttributeNames=["All"]).get(
                    "Messages", []
                )
            )
            or got
        ),
        timeout=20,
        message="the FIFO message",
    )
    assert got[0]["Body"] == "fifo!" and got[0]["Attributes"]["MessageGroupId"] == "sched"


def test_lambda_target(server, scheduler, sqs):
    lam = server.client("lambda")
    url, queue_arn = _queue(sqs)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "fn.py",
            "import boto3, json\ndef handler(event, context):\n"
            "    boto3.client('sqs').send_message(QueueUrl=event['url'], MessageBody=json.dumps(event))\n",
        )
    name = _name("fn")
    function_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=ROLE,
        Handler="fn.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1})
    scheduler.create_schedule(
        Name=_name(),
        ScheduleExpression=_at(1),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": function_arn, "RoleArn": ROLE, "Input": json.dumps({"url": url, "from": "scheduler"})},
    )
    assert json.loads(_receive(sqs, url, timeout=30)["Body"]) == {"url": url, "from": "scheduler"}


def test_pipeline_target_failure_goes_to_the_dead_letter_queue(scheduler, sqs):
    dlq_url, dlq_arn = _queue(sqs)
    scheduler.create_schedule(
        Name=_name("pipe"),
        ScheduleExpression=_at(1),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": "arn:aws:sagemaker:us-east-1:000000000000:pipeline/never-made",
            "RoleArn": ROLE,
            "SageMakerPipelineParameters": {
                "PipelineParameterList": [{"Name": "when", "Value": "<aws.scheduler.scheduled-time>"}]
            },
            "DeadLetterConfig": {"Arn": dlq_arn},
            "RetryPolicy": {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 60},
        },
    )
    message = _receive(sqs, dlq_url)
    assert message["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] == "1"
    assert "pipeline" in message["MessageAttributes"]["ERROR_MESSAGE"]["StringValue"]
    assert message["MessageAttributes"]["TARGET_ARN"]["StringValue"].endswith("pipeline/never-made")


@pytest.mark.sdk_flow("aws-cli", "aws scheduler create-schedule/get-schedule")
def test_aws_cli_creates_and_reads_a_schedule(server):
    import os
    import shutil
    import subprocess
    import sys

    aws = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    env = dict(os.environ, **server.client_env())
    name = _name("cli")
    subprocess.run(
        [
            aws,
            "scheduler",
            "create-schedule",
            "--name",
            name,
            "--schedule-expression",
            "rate(1 day)",
            "--flexible-time-window",
            "Mode=OFF",
            "--target",
            json.dumps({"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE}),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    out = subprocess.run(
        [aws, "scheduler", "get-schedule", "--name", name],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert json.loads(out)["ScheduleExpression"] == "rate(1 day)"


def test_rate_schedule_fires_at_its_start_date_then_each_period(scheduler, sqs):
    url, arn = _queue(sqs)
    name = _name("rate")
    start = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(seconds=2)
    scheduler.create_schedule(
        Name=name,
        ScheduleExpression="rate(1 minute)",
        StartDate=start,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": arn, "RoleArn": ROLE, "Input": "<aws.scheduler.scheduled-time>"},
    )
    first = _receive(sqs, url)
    assert first["Body"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2)  # next one a minute later
    scheduler.delete_schedule(Name=name)


def test_a_failed_firing_is_retried_under_the_retry_policy(scheduler, sqs):
    name = _name("late-queue")
    account = sqs.get_queue_attributes(QueueUrl=_queue(sqs)[0], AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ].split(":")[4]
    arn = f"arn:aws:sqs:us-east-1:{account}:{name}"
    schedule = _name("retry")
    scheduler.create_schedule(
        Name=schedule,
        ScheduleExpression=_at(1),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": arn,
            "RoleArn": ROLE,
            "Input": "second try",
            "RetryPolicy": {"MaximumRetryAttempts": 10},
        },
    )
    import time

    time.sleep(2.5)  # the first attempt fails: the queue does not exist yet
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    assert _receive(sqs, url, timeout=30)["Body"] == "second try"
