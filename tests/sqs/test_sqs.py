"""SQS through boto3: queues, attributes, send/receive, visibility and redelivery, long polling,
batches, FIFO, tags, and SQS's error codes (which boto3 maps to its modeled exceptions)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid

import botocore.exceptions
import pytest

from helpers import error_code


@pytest.fixture
def sqs(server):
    return server.client("sqs")


def _name(prefix: str = "q") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_create_get_list_delete_queue(sqs):
    name = _name("life")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"]
    assert url.endswith(f"/{name}")
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"] == url
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "5"
    assert attrs["MessageRetentionPeriod"] == "345600"
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["QueueArn"].startswith("arn:aws:sqs:us-east-1:") and attrs["QueueArn"].endswith(":" + name)
    assert name in " ".join(sqs.list_queues(QueueNamePrefix="life-")["QueueUrls"])
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"DelaySeconds": "2", "ReceiveMessageWaitTimeSeconds": "1"}
    )
    got = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["DelaySeconds", "ReceiveMessageWaitTimeSeconds"]
    )
    assert got["Attributes"] == {"DelaySeconds": "2", "ReceiveMessageWaitTimeSeconds": "1"}
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"})
    assert error_code(info) == "QueueAlreadyExists"
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as info:
        sqs.get_queue_url(QueueName=name)
    assert error_code(info) == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=url, MessageBody="x")


def test_bad_queue_input_stores_nothing(sqs):
    name = _name("bad")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "99999"})
    assert error_code(info) == "InvalidAttributeValue"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.create_queue(QueueName=name, Attributes={"Colour": "blue"})
    assert error_code(info) == "InvalidAttributeName" and "Colour" in str(info.value)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.create_queue(QueueName="bad name!")
    assert error_code(info) == "InvalidParameterValue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)


def test_send_receive_delete_with_checksums(sqs):
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    body = "héllo wörld"
    attributes = {
        "colour": {"DataType": "String", "StringValue": "blue"},
        "count": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    # the known value for these attributes (as AWS computes it: the SDKs of other languages check it)
    assert len(sent["MD5OfMessageAttributes"]) == 32
    got = sqs.receive_message(
        QueueUrl=url,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
        MaxNumberOfMessages=10,
    )["Messages"]
    assert len(got) == 1
    message = got[0]
    assert message["MessageId"] == sent["MessageId"] and message["Body"] == body
    assert message["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    assert message["MessageAttributes"]["colour"] == {"DataType": "String", "StringValue": "blue"}
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert abs(int(message["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 60
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])[
        "Attributes"
    ]
    assert attrs == {"ApproximateNumberOfMessages": "0"}


def test_md5_of_message_attributes_matches_the_known_aws_value(sqs):
    # Reference: an attribute {"a": String "b"}: md5 of (len "a")"a"(len "String")"String"\x01(len "b")"b"
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    sent = sqs.send_message(
        QueueUrl=url, MessageBody="x", MessageAttributes={"a": {"DataType": "String", "StringValue": "b"}}
    )
    expected = hashlib.md5(
        b"\x00\x00\x00\x01a" + b"\x00\x00\x00\x06String" + b"\x01" + b"\x00\x00\x00\x01b"
    ).hexdigest()
    assert sent["MD5OfMessageAttributes"] == expected


def test_visibility_timeout_redelivery_and_change(sqs):
    url = sqs.create_queue(QueueName=_name(), Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url)["Messages"][0]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    time.sleep(1.3)
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert second["MessageId"] == first["MessageId"] and second["ReceiptHandle"] != first["ReceiptHandle"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"], VisibilityTimeout=0)
    third = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    assert third["MessageId"] == first["MessageId"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=5)
    assert error_code(info) == "AWS.SimpleQueueService.MessageNotInflight"


def test_bad_receipt_handle_and_parameters(sqs):
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11)
    assert error_code(info) == "InvalidParameterValue"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.send_message(
            QueueUrl=url,
            MessageBody="x",
            MessageAttributes={"n": {"DataType": "Number", "StringValue": "abc"}},
        )
    assert error_code(info) == "InvalidParameterValue"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_long_poll_returns_when_a_message_arrives(server, sqs):
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    other = server.client("sqs")

    def later():
        time.sleep(1.0)
        other.send_message(QueueUrl=url, MessageBody="late")

    thread = threading.Thread(target=later)
    started = time.monotonic()
    thread.start()
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)["Messages"]
    elapsed = time.monotonic() - started
    thread.join()
    assert got[0]["Body"] == "late"
    assert 0.8 < elapsed < 8
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert time.monotonic() - started >= 0.9


def test_long_polls_do_not_block_the_server(server, sqs):
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    results = []

    def poll():
        results.append(server.client("sqs").receive_message(QueueUrl=url, WaitTimeSeconds=3))

    threads = [threading.Thread(target=poll) for _ in range(12)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    sqs.list_queues()  # answered at once although 12 polls are waiting
    assert time.monotonic() - started < 2
    for thread in threads:
        thread.join()
    assert len(results) == 12


def test_batches(sqs):
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    sent = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(5)]
        + [{"Id": "bad", "MessageBody": "x", "DelaySeconds": 901}],
    )
    assert sorted(e["Id"] for e in sent["Successful"]) == [f"m{i}" for i in range(5)]
    assert [(f["Id"], f["SenderFault"]) for f in sent["Failed"]] == [("bad", True)]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == [f"body {i}" for i in range(5)]
    deleted = sqs.delete_message_batch(
        QueueUrl=url,
        Entries=[{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        + [{"Id": "junk", "ReceiptHandle": "junk"}],
    )
    assert len(deleted["Successful"]) == 5 and deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "1"}, {"Id": "a", "MessageBody": "2"}]
        )
    assert error_code(info) == "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": f"e{i}", "MessageBody": "1"} for i in range(11)])
    assert error_code(info) == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_delay_and_purge(sqs):
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=1)
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)["Messages"][0]["Body"] == "later"
    sqs.send_message(QueueUrl=url, MessageBody="gone")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)


def test_fifo_order_groups_and_deduplication(sqs):
    name = _name("fifo") + ".fifo"
    url = sqs.create_queue(
        QueueName=name, Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    first = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    again = sqs.send_message(QueueUrl=url, MessageBody="one", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]  # deduplicated
    sqs.send_message(QueueUrl=url, MessageBody="two", MessageGroupId="g")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, AttributeNames=["All"])["Messages"]
    assert got[0]["Body"] == "one" and got[0]["Attributes"]["MessageGroupId"] == "g"
    assert int(got[0]["Attributes"]["SequenceNumber"]) < int(
        sqs.send_message(QueueUrl=url, MessageBody="three", MessageGroupId="g")["SequenceNumber"]
    )
    # the group is blocked while "one" is in flight
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["two", "three"]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.send_message(QueueUrl=url, MessageBody="no group")
    assert error_code(info) == "MissingParameter"


def test_tags(sqs):
    url = sqs.create_queue(QueueName=_name(), tags={"team": "ml"})["QueueUrl"]
    sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "ml", "env": "dev"}
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}


def test_list_queues_pages(sqs):
    prefix = _name("page")
    for i in range(3):
        sqs.create_queue(QueueName=f"{prefix}-{i}")
    pages = list(
        sqs.get_paginator("list_queues").paginate(QueueNamePrefix=prefix, PaginationConfig={"PageSize": 2})
    )
    urls = [u for page in pages for u in page.get("QueueUrls", [])]
    assert [u.rsplit("/", 1)[1] for u in urls] == [f"{prefix}-{i}" for i in range(3)]
    assert len(pages) == 2


@pytest.mark.slow
def test_messages_survive_a_restart(fresh_server):
    sqs = fresh_server.client("sqs")
    url = sqs.create_queue(QueueName="durable", Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="kept")
    fresh_server.restart()
    sqs = fresh_server.client("sqs")
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"] == {
        "VisibilityTimeout": "45"
    }
    assert sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "kept"


def test_queue_urls_and_arns_as_aws_writes_them():
    from sagestack.domain.queues import QueueError, parse_queue_ref, url_region

    assert parse_queue_ref("https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue") == (
        "123456789012",
        "MyQueue",
    )
    assert url_region("https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue") == "us-east-2"
    assert url_region("http://127.0.0.1:5066/000000000000/q") is None
    assert parse_queue_ref("arn:aws:sqs:us-east-1:000000000000:q") == ("000000000000", "q")
    assert url_region("arn:aws:sqs:eu-west-1:000000000000:q") == "eu-west-1"
    with pytest.raises(QueueError):
        parse_queue_ref("https://sqs.us-east-2.amazonaws.com/only-one-part")


def test_send_message_entry_point_for_other_parts_of_the_server(server, sqs):
    """domain.queues.send_message, what scheduler targets and pipeline callback steps call, on a
    platform over the server's own store (as a reconciler of that server would)."""
    from sagestack.domain.queues import QueueError, send_message
    from sagestack.platform import Platform
    from sagestack.settings import Settings

    name = _name("internal")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    account = url.rstrip("/").split("/")[-2]
    store = {"SAGESTACK_DATABASE_URL": server.database_url} if server.database_url else {}
    platform = Platform(Settings.from_env({"SAGESTACK_DATA_DIR": str(server.data_dir), **store}))
    try:
        attrs = {"kind": {"DataType": "String", "StringValue": "callback"}}
        aws_style = f"https://sqs.us-east-1.amazonaws.com/{account}/{name}"
        message_id = send_message(
            platform,
            account=account,
            region="us-east-1",
            queue_url=aws_style,
            body='{"token": "abc"}',
            attributes=attrs,
        )
        with pytest.raises(QueueError) as info:
            send_message(platform, account=account, region="us-east-1", queue_url=url + "-missing", body="x")
        assert info.value.kind == "NotFound"
    finally:
        platform.db.dispose()
    got = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"][0]
    assert got["MessageId"] == message_id and got["Body"] == '{"token": "abc"}'
    assert got["MessageAttributes"]["kind"]["StringValue"] == "callback"


@pytest.mark.sdk_flow("aws-cli", "aws sqs create-queue/send-message/receive-message")
def test_aws_cli_sends_and_receives(server):
    import os
    import shutil
    import subprocess
    import sys

    aws = shutil.which("aws", path=os.path.dirname(sys.executable)) or shutil.which("aws")
    if aws is None:
        pytest.skip("the AWS CLI is not installed")
    env = dict(os.environ, **server.client_env())

    def run(*args: str) -> dict:
        # AWS CLI v1 pins SQS to https://queue.amazonaws.com unless --endpoint-url is given
        command = [aws, "sqs", "--endpoint-url", server.url, *args]
        out = subprocess.run(command, env=env, check=True, capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout) if out.stdout.strip() else {}

    url = run("create-queue", "--queue-name", _name("cli"))["QueueUrl"]
    run("send-message", "--queue-url", url, "--message-body", "from the cli")
    got = run("receive-message", "--queue-url", url, "--wait-time-seconds", "1")
    assert got["Messages"][0]["Body"] == "from the cli"


@pytest.mark.slow
def test_a_waiting_long_poll_does_not_hold_a_server_stop(fresh_server):
    sqs = fresh_server.client("sqs")
    url = sqs.create_queue(QueueName="waiting")["QueueUrl"]
    answers: list = []

    def poll():
        try:
            answers.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20))
        except Exception as exc:  # the server may close the connection as it stops
            answers.append(exc)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    time.sleep(1.0)
    started = time.monotonic()
    fresh_server.stop()
    assert time.monotonic() - started < 10
    thread.join(5)
    assert answers and not (isinstance(answers[0], dict) and answers[0].get("Messages"))


def test_redrive_policy_moves_exhausted_messages_to_the_dead_letter_queue(sqs):
    dlq_url = sqs.create_queue(QueueName=_name("dlq"))["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url = sqs.create_queue(QueueName=_name("src"), Attributes={"RedrivePolicy": policy})["QueueUrl"]
    stored = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    assert stored == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    sent = sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)  # a third receive: moved instead
    moved = sqs.receive_message(QueueUrl=dlq_url, AttributeNames=["All"])["Messages"][0]
    assert moved["MessageId"] == sent["MessageId"] and moved["Body"] == "poison"
    with pytest.raises(botocore.exceptions.ClientError) as info:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"RedrivePolicy": "{not json"})
    assert error_code(info) == "InvalidAttributeValue"


def test_concurrent_receivers_never_get_the_same_message(server, sqs):
    url = sqs.create_queue(QueueName=_name("race"))["QueueUrl"]
    for start in range(0, 40, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)]
        )
    seen: list[str] = []
    lock = threading.Lock()

    def consume():
        client = server.client("sqs")
        while True:
            got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=60).get(
                "Messages", []
            )
            if not got:
                return
            with lock:
                seen.extend(m["MessageId"] for m in got)

    threads = [threading.Thread(target=consume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seen) == 40 and len(set(seen)) == 40
