"""SQS's query protocol (form-encoded ``Action=...``, XML answers), as SDKs made before SQS moved to JSON
send it: the requests are built and SigV4-signed by hand here, the way those clients build them."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

NS = {"sqs": "http://queue.amazonaws.com/doc/2012-11-05/"}


def call(server, form: dict[str, str], path: str = "/") -> tuple[int, ET.Element]:
    body = urllib.parse.urlencode({"Version": "2012-11-05", **form})
    url = server.url + path
    request = AWSRequest(
        method="POST", url=url, data=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    SigV4Auth(Credentials(*server.credentials()), "sqs", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, data=body.encode(), headers=dict(request.headers), method="POST")
    try:
        with urllib.request.urlopen(prepared) as answer:
            return answer.status, ET.fromstring(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, ET.fromstring(exc.read())


def text(root: ET.Element, path: str) -> str | None:
    found = root.find(path, NS)
    return None if found is None else found.text


def test_queue_and_message_round_trip(server):
    name = f"query-{uuid.uuid4().hex[:8]}"
    status, root = call(
        server,
        {
            "Action": "CreateQueue",
            "QueueName": name,
            "Attribute.1.Name": "VisibilityTimeout",
            "Attribute.1.Value": "7",
        },
    )
    assert status == 200, ET.tostring(root)
    url = text(root, "sqs:CreateQueueResult/sqs:QueueUrl")
    assert url.endswith(f"/{name}")
    status, root = call(server, {"Action": "GetQueueAttributes", "QueueUrl": url, "AttributeName.1": "All"})
    attributes = {
        a.find("sqs:Name", NS).text: a.find("sqs:Value", NS).text
        for a in root.findall("sqs:GetQueueAttributesResult/sqs:Attribute", NS)
    }
    assert attributes["VisibilityTimeout"] == "7" and attributes["ApproximateNumberOfMessages"] == "0"
    status, root = call(
        server,
        {
            "Action": "SendMessage",
            "QueueUrl": url,
            "MessageBody": "hello query",
            "MessageAttribute.1.Name": "colour",
            "MessageAttribute.1.Value.DataType": "String",
            "MessageAttribute.1.Value.StringValue": "red",
        },
    )
    assert text(root, "sqs:SendMessageResult/sqs:MD5OfMessageBody") == hashlib.md5(b"hello query").hexdigest()
    # sent to the queue's own URL, without QueueUrl in the form (as some clients do)
    status, root = call(
        server,
        {"Action": "ReceiveMessage", "AttributeName.1": "All", "MessageAttributeName.1": "All"},
        path=urllib.parse.urlparse(url).path,
    )
    message = root.find("sqs:ReceiveMessageResult/sqs:Message", NS)
    assert text(message, "sqs:Body") == "hello query"
    attrs = {
        a.find("sqs:Name", NS).text: a.find("sqs:Value", NS).text
        for a in message.findall("sqs:Attribute", NS)
    }
    assert attrs["ApproximateReceiveCount"] == "1"
    colour = message.find("sqs:MessageAttribute", NS)
    assert text(colour, "sqs:Name") == "colour" and text(colour, "sqs:Value/sqs:StringValue") == "red"
    handle = text(message, "sqs:ReceiptHandle")
    status, root = call(
        server,
        {
            "Action": "DeleteMessageBatch",
            "QueueUrl": url,
            "DeleteMessageBatchRequestEntry.1.Id": "a",
            "DeleteMessageBatchRequestEntry.1.ReceiptHandle": handle,
            "DeleteMessageBatchRequestEntry.2.Id": "b",
            "DeleteMessageBatchRequestEntry.2.ReceiptHandle": "junk",
        },
    )
    assert text(root, "sqs:DeleteMessageBatchResult/sqs:DeleteMessageBatchResultEntry/sqs:Id") == "a"
    assert (
        text(root, "sqs:DeleteMessageBatchResult/sqs:BatchResultErrorEntry/sqs:Code")
        == "ReceiptHandleIsInvalid"
    )
    status, root = call(server, {"Action": "ListQueues", "QueueNamePrefix": name})
    assert [u.text for u in root.findall("sqs:ListQueuesResult/sqs:QueueUrl", NS)] == [url]


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"Action": "GetQueueUrl", "QueueName": "no-such-queue"}, "AWS.SimpleQueueService.NonExistentQueue"),
        ({"Action": "NoSuchAction"}, "InvalidAction"),
        (
            {
                "Action": "CreateQueue",
                "QueueName": "q",
                "Attribute.1.Name": "Colour",
                "Attribute.1.Value": "x",
            },
            "InvalidAttributeName",
        ),
    ],
)
def test_errors_carry_the_query_codes(server, form, code):
    status, root = call(server, form)
    assert status == 400
    assert text(root, "sqs:Error/sqs:Code") == code and text(root, "sqs:Error/sqs:Type") == "Sender"
