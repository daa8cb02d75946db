"""The router and worker without a server: variant choice, the model timeout, event stream framing."""

from __future__ import annotations

import asyncio
import textwrap
import time
from collections import Counter

import pytest

from hosting_support import ECHO_MODEL, SKLEARN_IMAGE
from sagestack.protocol.errors import ServiceError
from sagestack.serving import eventstream
from sagestack.serving.instances import Instance, WorkerSpec
from sagestack.serving.router import EndpointRoute, Router, VariantRoute


class _Stub:
    state = "ready"

    def __init__(self):
        self.inflight = 0


def test_weighted_choice_and_target_variant():
    route = EndpointRoute(
        "ep",
        "000000000000",
        "us-east-1",
        [
            VariantRoute("A", 3.0, [_Stub()]),
            VariantRoute("B", 1.0, [_Stub()]),
            VariantRoute("C", 0.0, [_Stub()]),
        ],
    )
    counts = Counter(route.pick_variant(None).name for _ in range(20000))
    assert abs(counts["A"] / 20000 - 0.75) < 0.02 and counts["C"] == 0
    assert route.pick_variant("C").name == "C"
    with pytest.raises(ServiceError) as err:
        route.pick_variant("D")
    assert err.value.code == "ValidationError"


def test_least_loaded_healthy_instance():
    busy, idle, down = _Stub(), _Stub(), _Stub()
    busy.inflight, down.state = 5, "starting"
    variant = VariantRoute("A", 1.0, [busy, idle, down])
    assert {variant.pick() for _ in range(50)} == {idle}


def test_event_stream_frames_parse_with_botocore():
    from botocore.eventstream import EventStreamBuffer

    buffer = EventStreamBuffer()
    buffer.add_data(eventstream.payload_part(b"hello") + eventstream.payload_part(b" world"))
    messages = list(buffer)
    assert [m.payload for m in messages] == [b"hello", b" world"]
    assert messages[0].headers[":event-type"] == "PayloadPart"


def test_model_timeout_is_a_model_error(tmp_path):
    model_dir = tmp_path / "model"
    (model_dir / "code").mkdir(parents=True)
    (model_dir / "tag.txt").write_text("slow")
    (model_dir / "code" / "inference.py").write_text(textwrap.dedent(ECHO_MODEL))
    spec = WorkerSpec(
        [
            {
                "hostname": "primary",
                "image": SKLEARN_IMAGE,
                "model_dir": str(model_dir),
                "code_dir": str(model_dir / "code"),
                "environment": {"SAGEMAKER_PROGRAM": "inference.py"},
            }
        ]
    )
    instance = Instance(spec, tmp_path).start()
    try:
        assert instance.wait(60), instance.failure

        class _Platform:
            class settings:
                region = "us-east-1"

        router = Router(_Platform(), timeout=0.5)
        route = EndpointRoute(
            "slow-ep", "000000000000", "us-east-1", [VariantRoute("AllTraffic", 1.0, [instance])]
        )

        async def scenario():
            started = time.perf_counter()
            with pytest.raises(ServiceError) as err:
                await router.forward(route, b"sleep:1", "text/csv", None, None, None, None, None, started)
            assert err.value.status == 424 and err.value.code == "ModelError"
            assert "timed out while waiting for a response from container primary" in err.value.message
            assert time.perf_counter() - started < 0.9
            await asyncio.sleep(0.8)  # one serving process: it finishes the slow request first
            _, response, _ = await router.forward(
                route, b"1,2", "text/csv", None, None, None, None, None, time.perf_counter()
            )
            assert response.body == b"slow:3"
            assert instance.inflight == 0

        asyncio.run(scenario())
    finally:
        instance.stop()


# -- Router.start: InvokeEndpoint from callbacks ------------------------------------------------------


class _FakeWorker:
    """A model server on loopback speaking the container contract: ``ok`` answers, ``fail`` is a 500,
    ``slow`` answers after a second, ``hangup`` closes the connection without answering."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(
                    next(
                        line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
                    ).split(b":")[1]
                )
                body = await reader.readexactly(length)
                if body == b"hangup":
                    break
                if body == b"slow":
                    await asyncio.sleep(1.0)
                status, answer = (
                    (b"500 Internal Server Error", b"bad input")
                    if body == b"fail"
                    else (b"200 OK", b"answer:" + body)
                )
                writer.write(
                    b"HTTP/1.1 %s\r\nContent-Type: text/csv\r\nX-Amzn-SageMaker-Custom-Attributes: c=1\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (status, len(answer), answer)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


class _Instance(_Stub):
    def __init__(self, port: int):
        super().__init__()
        self.host, self.port, self.pool, self.served = "127.0.0.1", port, None, 0


def test_start_answers_from_callbacks_and_declines_what_needs_handle():
    from types import SimpleNamespace

    from sagestack.protocol.http import Headers, HttpRequest

    class _Platform:
        class settings:
            region = "us-east-1"

    auth = SimpleNamespace(credentials=SimpleNamespace(account_id="000000000000"), region="us-east-1")

    def request(body: bytes, **headers: str) -> HttpRequest:
        return HttpRequest(
            "POST",
            "/endpoints/ep/invocations",
            "",
            Headers([("content-type", "text/csv")] + [(k.replace("_", "-"), v) for k, v in headers.items()]),
            body=body,
        )

    async def scenario() -> None:
        server = await asyncio.start_server(_FakeWorker().handle, "127.0.0.1", 0)
        instance = _Instance(server.sockets[0].getsockname()[1])
        router = Router(_Platform(), timeout=0.5)
        router.publish(
            ("000000000000", "us-east-1", "ep"),
            EndpointRoute("ep", "000000000000", "us-east-1", [VariantRoute("AllTraffic", 1.0, [instance])]),
        )

        async def start(body: bytes, **headers: str):
            answered = asyncio.get_running_loop().create_future()
            assert router.start(request(body, **headers), auth, lambda *result: answered.set_result(result))
            return await answered

        # no kept-alive connection yet: handle's path (it makes one, kept for the next request)
        assert not router.start(request(b"1"), auth, lambda *result: None)
        await router.handle(request(b"1"), auth, None)
        response, error = await start(b"2")
        assert error is None and response.status == 200 and response.body == b"answer:2"
        headers = dict(response.headers)
        assert headers["content-type"] == "text/csv"
        assert headers["x-amzn-invoked-production-variant"] == "AllTraffic"
        assert headers["x-amzn-sagemaker-custom-attributes"] == "c=1"
        assert instance.inflight == 0 and instance.served == 2 and len(instance.pool.idle) == 1

        response, error = await start(b"fail")  # the model's error: ModelError, connection kept
        assert response is None and (error.code, error.status) == ("ModelError", 424)
        assert error.fields["OriginalStatusCode"] == 500 and error.fields["OriginalMessage"] == "bad input"
        assert len(instance.pool.idle) == 1

        started = time.perf_counter()
        response, error = await start(b"slow")  # no answer within the router's timeout
        assert response is None and error.code == "ModelError" and "timed out" in error.message
        assert time.perf_counter() - started < 0.9 and instance.inflight == 0
        assert not router.start(request(b"3"), auth, lambda *result: None)  # that connection was dropped

        await router.handle(request(b"3"), auth, None)
        assert await start(b"hangup") == (None, None)  # closed before answering: handle retries it
        assert instance.inflight == 0 and not instance.pool.idle

        # what start leaves to handle: an unknown endpoint, an unknown target variant, a target model
        await router.handle(request(b"4"), auth, None)
        assert not router.start(request(b"5", x_amzn_sagemaker_target_variant="Nope"), auth, lambda *r: None)
        assert not router.start(
            request(b"5", x_amzn_sagemaker_target_model="m.tar.gz"), auth, lambda *r: None
        )
        other = HttpRequest("POST", "/endpoints/other/invocations", "", Headers([]), body=b"5")
        assert not router.start(other, auth, lambda *result: None)
        response, error = await start(b"5", x_amzn_sagemaker_target_variant="AllTraffic")
        assert response.body == b"answer:5"
        instance.pool.close()
        server.close()

    asyncio.run(scenario())
