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
