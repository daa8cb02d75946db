"""The console's HTTP side: sign-in, sessions, CSRF, and operations run through the API's own handlers."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid

from console_support import CONSOLE, ConsoleClient
from sagestack.console import sessions


def test_health_links_the_console_and_the_page_is_served(server):
    assert f"web console: {server.url}/_sagestack/console/" in server.log_path.read_text()  # printed at start
    with urllib.request.urlopen(server.url + "/_sagestack/health") as resp:
        assert json.loads(resp.read())["console"] == CONSOLE + "/"
    client = ConsoleClient(server)
    status, headers, body = client.request("GET", "/")
    assert status == 200 and b"Sign in" in body
    assert headers["Content-Type"].startswith("text/html")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    # every asset the page names is served by the server itself (nothing from a CDN)
    for asset in ("static/js/main.js", "static/console.css", "static/vendor/uplot/uPlot.iife.min.js"):
        assert asset.encode() in body or asset.endswith(".iife.min.js")
        status, headers, content = client.request("GET", "/" + asset)
        assert status == 200 and content
        etag = headers["ETag"]
        assert client.request("GET", "/" + asset, headers={"If-None-Match": etag})[0] == 304
    assert b"http://" not in body and b"https://" not in body
    assert client.request("GET", "/static/../__init__.py")[0] == 404
    assert client.request("GET", "/static/nope.js")[0] == 404


def test_nothing_readable_without_signing_in(server):
    client = ConsoleClient(server)
    assert client.request("GET", "/session")[0] == 401
    status, body = client.call("sagemaker", "ListTrainingJobs")
    assert status == 401 and body["__type"] == "NotSignedIn"
    status, _, _ = client.request("GET", "/api/s3/GetObject?Bucket=x&Key=y")
    assert status == 401
    # a forged or expired cookie is no session
    client.jar.clear()
    for forged in ("abc.def", "e30.x", ""):
        status, _, _ = client.request(
            "POST", "/api/sagemaker/ListTrainingJobs", {}, {"cookie": f"{sessions.COOKIE}={forged}"}
        )
        assert status == 401


def test_sign_in_with_the_client_key_pair(server):
    key, secret = server.credentials()
    client = ConsoleClient(server)
    status, _, body = client.request(
        "POST", "/session", {"accessKeyId": key, "secretAccessKey": secret + "x"}
    )
    assert status == 401 and json.loads(body)["__type"] == "InvalidClientTokenId"
    assert (
        client.request("POST", "/session", {"accessKeyId": "AKIANOPE", "secretAccessKey": secret})[0] == 401
    )
    assert client.request("POST", "/session", b"accessKeyId=x", {"content-type": "text/plain"})[0] == 415
    status, headers, body = client.request(
        "POST", "/session", {"accessKeyId": key, "secretAccessKey": secret}
    )
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Path={CONSOLE}" in cookie
    document = json.loads(body)
    assert document["accessKeyId"] == key and document["csrfToken"]
    assert document["expiresAt"] > time.time() + 3600
    client.csrf = document["csrfToken"]
    status, who = client.request("GET", "/session")[0], json.loads(client.request("GET", "/session")[2])
    assert status == 200 and who["principalArn"] == document["principalArn"]
    # signing out is a state change too: refused without the CSRF token
    assert client.request("DELETE", "/session")[0] == 403
    assert client.call("sagemaker", "ListTrainingJobs")[0] == 200
    # a body that is not JSON is the client's fault, worded as AWS does
    status, _, body = client.request(
        "POST", "/api/sagemaker/ListTrainingJobs", b"{nope", {"x-sagestack-csrf": client.csrf}
    )
    assert status == 400 and json.loads(body)["__type"] == "SerializationException"
    # sign out: the cookie is cleared
    status, headers, _ = client.request("DELETE", "/session", headers={"x-sagestack-csrf": client.csrf})
    assert status == 200 and "Max-Age=0" in headers["Set-Cookie"]
    assert client.call("sagemaker", "ListTrainingJobs")[0] == 401


def test_sessions_expire_and_die_with_their_key():
    row = {
        "access_key_id": "AKIATEST",
        "secret_access_key": "s3cret",
        "account_id": "1",
        "principal_arn": "a",
    }
    token, session = sessions.issue(row, now=1000.0, lifetime=60)
    assert sessions.verify(token, lambda k: row if k == "AKIATEST" else None, now=1030.0) == session
    assert sessions.verify(token, lambda k: row, now=1061.0) is None  # expired
    assert sessions.verify(token, lambda k: None, now=1030.0) is None  # key deleted
    rotated = dict(row, secret_access_key="other")
    assert sessions.verify(token, lambda k: rotated, now=1030.0) is None  # signed with another secret
    body, mac = token.rsplit(".", 1)
    assert sessions.verify(body[:-2] + "xx." + mac, lambda k: row, now=1030.0) is None
    # temporary credentials: the session never outlives them
    temp = dict(row, expires_at=1010.0, session_token="tok")
    _, short = sessions.issue(temp, now=1000.0)
    assert short.expires_at == 1010.0
    assert sessions.secret_matches(temp, "s3cret", "tok") and not sessions.secret_matches(
        temp, "s3cret", None
    )


def test_csrf_token_required_for_state_changes(server):
    key, secret = server.credentials()
    client = ConsoleClient(server)
    client.sign_in(key, secret)
    bucket = f"console-{uuid.uuid4().hex[:8]}"
    status, body = client.call("s3", "CreateBucket", {"Bucket": bucket}, csrf=False)
    assert status == 403 and body["__type"] == "InvalidCsrfToken"
    status, _, _ = client.request(
        "POST", "/api/s3/CreateBucket", {"Bucket": bucket}, {"x-sagestack-csrf": "nope"}
    )
    assert status == 403
    names = [b["Name"] for b in server.client("s3").list_buckets()["Buckets"]]
    assert bucket not in names  # refused: nothing was created
    # a token from another session is refused too
    other = ConsoleClient(server)
    other.sign_in(key, secret)
    status, _, _ = client.request(
        "POST", "/api/s3/CreateBucket", {"Bucket": bucket}, {"x-sagestack-csrf": other.csrf}
    )
    assert status == 403
    assert client.call("s3", "CreateBucket", {"Bucket": bucket})[0] == 200
    assert bucket in [b["Name"] for b in server.client("s3").list_buckets()["Buckets"]]


def test_operations_are_the_api_operations(server):
    """What the console reads is what boto3 reads; its errors are the operation's AWS errors."""
    key, secret = server.credentials()
    client = ConsoleClient(server)
    client.sign_in(key, secret)
    sm = server.client("sagemaker")
    group = f"console-group-{uuid.uuid4().hex[:6]}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    status, body = client.call("sagemaker", "DescribeModelPackageGroup", {"ModelPackageGroupName": group})
    assert status == 200
    assert (
        body["ModelPackageGroupArn"]
        == sm.describe_model_package_group(ModelPackageGroupName=group)["ModelPackageGroupArn"]
    )
    assert body["CreationTime"].endswith("+00:00")  # timestamps travel as ISO-8601
    # the operation's own errors, as a client would receive them
    status, body = client.call("sagemaker", "DescribeTrainingJob", {"TrainingJobName": "never-was"})
    assert status == 400 and body["__type"] == "ValidationException"
    try:
        sm.describe_training_job(TrainingJobName="never-was")
    except sm.exceptions.ClientError as exc:
        assert exc.response["Error"] == {"Code": body["__type"], "Message": body["message"]}
    else:  # pragma: no cover
        raise AssertionError("DescribeTrainingJob found a job that never was")
    status, body = client.call("sagemaker", "CreateModelPackageGroup", {"ModelPackageGroupName": "bad name!"})
    assert status == 400 and body["__type"] == "ValidationException"
    status, body = client.call("sagemaker", "ListTrainingJobs", {"MaxResults": "lots"})
    assert status == 400 and body["__type"] == "ValidationException"
    status, body = client.call("sagemaker", "TeleportModel", {})
    assert status == 400 and body["__type"] == "InvalidAction"
    status, body = client.call("ec2", "DescribeVpcs", {})
    assert status == 400 and body["__type"] == "UnknownService"
    # timestamps in: ISO strings reach the operation as timestamps
    status, body = client.call(
        "sagemaker",
        "ListModelPackageGroups",
        {"CreationTimeAfter": "2000-01-01T00:00:00Z", "MaxResults": 100},
    )
    assert status == 200 and group in [
        g["ModelPackageGroupName"] for g in body["ModelPackageGroupSummaryList"]
    ]


def test_s3_upload_preview_download(server):
    key, secret = server.credentials()
    client = ConsoleClient(server)
    client.sign_in(key, secret)
    s3 = server.client("s3")
    bucket = f"console-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    data = b"a,b\n1,2\n" * 1000
    path = f"/api/s3/PutObject?Bucket={bucket}&Key=data/train.csv"
    assert client.request("PUT", path, data, {"content-type": "text/csv"})[0] == 403  # no CSRF token
    status, _, body = client.request(
        "PUT", path, data, {"content-type": "text/csv", "x-sagestack-csrf": client.csrf}
    )
    assert status == 200 and json.loads(body)["ETag"]
    assert s3.get_object(Bucket=bucket, Key="data/train.csv")["Body"].read() == data
    status, headers, body = client.request(
        "GET", f"/api/s3/GetObject?Bucket={bucket}&Key=data/train.csv&download=1"
    )
    assert status == 200 and body == data and "attachment" in headers["Content-Disposition"]
    status, _, body = client.request(
        "GET", f"/api/s3/GetObject?Bucket={bucket}&Key=data/train.csv&Range=bytes=0-7"
    )
    assert status == 206 and body == b"a,b\n1,2\n"
    status, _, body = client.request("GET", f"/api/s3/GetObject?Bucket={bucket}&Key=missing")
    assert status == 404 and b"NoSuchKey" in body
    status, listing = client.call(
        "s3", "ListObjectsV2", {"Bucket": bucket, "Prefix": "data/", "Delimiter": "/"}
    )
    assert status == 200 and [o["Key"] for o in listing["Contents"]] == ["data/train.csv"]


def test_an_expired_session_cookie_is_refused(server):
    key, secret = server.credentials()
    row = {
        "access_key_id": key,
        "secret_access_key": secret,
        "account_id": "000000000000",
        "principal_arn": "x",
    }
    client = ConsoleClient(server)
    for issued, lifetime, expected in ((time.time() - 7200, 3600, 401), (time.time(), 3600, 200)):
        token, session = sessions.issue(row, now=issued, lifetime=lifetime)
        status, _, _ = client.request(
            "POST",
            "/api/sagemaker/ListTrainingJobs",
            {},
            {"cookie": f"{sessions.COOKIE}={token}", "x-sagestack-csrf": session.csrf},
        )
        assert status == expected
