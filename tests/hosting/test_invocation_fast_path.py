"""InvokeEndpoint answered by the gateway's HTTP protocol without ASGI (gateway/http_protocol.py), over raw
sockets: the same answers as through the ASGI path (a chunked request takes that one), pipelined requests
answered in order on one connection, large bodies, errors."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from hosting_support import ECHO_MODEL


@pytest.fixture(scope="module")
def fast(hosting):
    hosting.script_model("fastpath-model", tag="fp", code=ECHO_MODEL)
    hosting.config("fastpath-config", [("AllTraffic", "fastpath-model", 1.0)])
    desc = hosting.endpoint("fastpath-ep", "fastpath-config")
    assert desc["EndpointStatus"] == "InService", desc
    yield "fastpath-ep"
    hosting.delete("fastpath-ep")


def signed(server, endpoint: str, body: bytes, chunked: bool = False, secret: str | None = None) -> bytes:
    """One signed InvokeEndpoint as raw bytes (with ``Transfer-Encoding: chunked`` it takes the ASGI path)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    key, real_secret = server.credentials()
    path = f"/endpoints/{endpoint}/invocations"
    request = AWSRequest("POST", server.url + path, data=body, headers={"Content-Type": "text/csv"})
    SigV4Auth(Credentials(key, secret or real_secret), "sagemaker", "us-east-1").add_auth(request)
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{server.port}"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() not in ("host", "content-length")]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_response(sock: socket.socket, buffer: bytearray) -> tuple[int, dict[str, str], bytes]:
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        buffer += chunk
    end = buffer.index(b"\r\n\r\n")
    head = bytes(buffer[:end]).decode("latin-1").split("\r\n")
    del buffer[: end + 4]
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers["content-length"])
    while len(buffer) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed"
        buffer += chunk
    body = bytes(buffer[:length])
    del buffer[:length]
    return int(head[0].split()[1]), headers, body


def exchange(server, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(raw)
        return read_response(sock, bytearray())


def same_answer(server, endpoint: str, body: bytes, **kwargs) -> tuple[int, dict[str, str], bytes]:
    """The answer through the protocol's path, checked against the ASGI path's answer to the same call."""
    status, headers, answer = exchange(server, signed(server, endpoint, body, **kwargs))
    status2, headers2, answer2 = exchange(server, signed(server, endpoint, body, chunked=True, **kwargs))
    assert status == status2
    request_id, request_id2 = headers["x-amzn-requestid"], headers2["x-amzn-requestid"]
    assert request_id != request_id2
    assert answer.replace(request_id.encode(), b"") == answer2.replace(request_id2.encode(), b"")
    skip = {"x-amzn-requestid", "date", "content-length"}
    assert {k: v for k, v in headers.items() if k not in skip} == {
        k: v for k, v in headers2.items() if k not in skip
    }
    return status, headers, answer


def test_invoke_answers_like_the_asgi_path(server, fast):
    status, headers, answer = same_answer(server, fast, b"1,2,3.5")
    assert (status, answer) == (200, b"fp:6.5")
    assert headers["x-amzn-invoked-production-variant"] == "AllTraffic"
    assert headers["content-type"] == "text/plain"


def test_pipelined_invocations_on_one_connection(server, fast):
    bodies = [b"1,1", b"2,2", b"3,3", b"4,4"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        raw = b"".join(signed(server, fast, body) for body in bodies)
        health = b"GET /_sagestack/health HTTP/1.1\r\nHost: localhost\r\n\r\n"
        sock.sendall(raw[: len(raw) // 2 + 7])  # a request split across two segments ...
        sock.sendall(raw[len(raw) // 2 + 7 :] + health)  # ... and an ASGI request behind them
        buffer = bytearray()
        answers = [read_response(sock, buffer) for _ in bodies]
        assert [(s, b) for s, _, b in answers] == [
            (200, b"fp:2"),
            (200, b"fp:4"),
            (200, b"fp:6"),
            (200, b"fp:8"),
        ]
        status, _, body = read_response(sock, buffer)
        assert status == 200 and b'"status": "running"' in body
        sock.sendall(signed(server, fast, b"5,5"))  # still kept alive
        assert read_response(sock, buffer)[2] == b"fp:10"


def test_bad_signature(server, fast):
    status, headers, answer = same_answer(server, fast, b"1", secret="not-the-secret")
    assert status == 400  # runtime.sagemaker's status for it, the JSON protocol's error shape
    assert headers["x-amzn-errortype"] == "InvalidSignatureException"
    assert json.loads(answer)["message"].startswith("The request signature we calculated does not match")


def test_unknown_endpoint(server, fast):
    status, headers, answer = same_answer(server, "fastpath-missing", b"1")
    assert status == 400 and headers["x-amzn-errortype"].startswith("ValidationError")
    assert json.loads(answer)["message"] == "Endpoint fastpath-missing of account 000000000000 not found."


def test_error_from_the_model(server, fast):
    status, headers, answer = same_answer(server, fast, b"boom")
    assert status == 424 and headers["x-amzn-errortype"].startswith("ModelError")
    document = json.loads(answer)
    assert document["OriginalStatusCode"] == 500 and "the model refused: boom" in document["OriginalMessage"]


def test_large_body_and_over_the_limit(server, fast):
    body = b",".join([b"1"] * 1_000_000)  # ≈ 2 MB
    status, _, answer = same_answer(server, fast, body)
    assert (status, answer) == (200, b"fp:1e+06")
    status, _, answer = exchange(server, signed(server, fast, b"1" * (6 * 1024 * 1024 + 1)))
    assert status == 413 and re.search(rb"HTTP content length exceeded 6291456 bytes", answer)


def test_kept_alive_calls_are_answered_and_logged(server, fast):
    """On one connection after the first call the gateway has a kept-alive connection to the worker, so
    these are answered from callbacks (Router.start): answers, model errors and request-log lines as
    the task's path gives them (checked against it above)."""
    log_line = re.compile(
        r"INFO sagestack\.requests: sagemaker-runtime:InvokeEndpoint status=(\d+) duration_ms=[\d.]+ "
        r"error=(\S+) request_id=(\S+)$"
    )
    bodies = [b"1,2", b"2,2", b"boom", b"4,2"]
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        buffer = bytearray()
        answers = []
        for body in bodies:  # one at a time: each is answered before the next is sent
            sock.sendall(signed(server, fast, body))
            answers.append(read_response(sock, buffer))
    assert [(s, b) for s, _, b in answers[:2]] == [(200, b"fp:3"), (200, b"fp:4")]
    assert answers[2][0] == 424 and answers[2][1]["x-amzn-errortype"].startswith("ModelError")
    assert answers[3][0] == 200 and answers[3][2] == b"fp:6"
    ids = [headers["x-amzn-requestid"] for _, headers, _ in answers]
    deadline = time.time() + 10
    while True:
        logged = {
            m[3]: (m[1], m[2]) for m in map(log_line.search, server.log_path.read_text().splitlines()) if m
        }
        if all(i in logged for i in ids) or time.time() > deadline:
            break
        time.sleep(0.05)
    assert [logged.get(i) for i in ids] == [("200", "-"), ("200", "-"), ("424", "ModelError"), ("200", "-")]
