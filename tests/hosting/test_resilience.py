"""Updates under load, crashed workers and server restarts."""

from __future__ import annotations

import threading
import time

import pytest
from botocore.exceptions import ClientError

from hosting_support import Hosting, kill, serving_children, supervisors


@pytest.mark.sdk_flow("flow07b", "boto3: UpdateEndpoint under load")
def test_update_endpoint_under_load_loses_no_request(hosting):
    hosting.script_model("blue-model", tag="blue")
    hosting.script_model("green-model", tag="green")
    hosting.config("blue-config", [("AllTraffic", "blue-model", 1.0)])
    hosting.config("green-config", [("AllTraffic", "green-model", 1.0)])
    assert hosting.endpoint("bg-ep", "blue-config")["EndpointStatus"] == "InService"
    answers: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def load():
        while not stop.is_set():
            try:
                answers.append(hosting.invoke("bg-ep", "1")[0])
            except Exception as exc:  # noqa: BLE001 - counted
                failures.append(repr(exc))

    threads = [threading.Thread(target=load) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    hosting.sm.update_endpoint(EndpointName="bg-ep", EndpointConfigName="green-config")
    assert hosting.sm.describe_endpoint(EndpointName="bg-ep")["EndpointStatus"] == "Updating"
    desc = hosting.wait("bg-ep")
    time.sleep(1.5)  # keep sending while the old fleet drains and stops
    stop.set()
    for thread in threads:
        thread.join()
    assert desc["EndpointStatus"] == "InService" and desc["EndpointConfigName"] == "green-config"
    assert failures == []
    assert answers[0] == "blue:1" and answers[-1] == "green:1"
    assert hosting.invoke("bg-ep", "1")[0] == "green:1"


def test_failed_update_rolls_back(hosting):
    hosting.script_model(
        "bad-green", code="def model_fn(model_dir):\n    raise ImportError('missing dependency')\n"
    )
    hosting.config("bad-green-config", [("AllTraffic", "bad-green", 1.0)])
    hosting.sm.update_endpoint(EndpointName="bg-ep", EndpointConfigName="bad-green-config")
    desc = hosting.wait("bg-ep")
    assert desc["EndpointStatus"] == "InService"
    assert desc["EndpointConfigName"] == "green-config"
    assert "missing dependency" in desc["FailureReason"]
    assert hosting.invoke("bg-ep", "2")[0] == "green:2"


def test_retain_variant_properties(hosting):
    hosting.sm.update_endpoint_weights_and_capacities(
        EndpointName="bg-ep",
        DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredWeight": 3.0}],
    )
    assert hosting.wait("bg-ep")["ProductionVariants"][0]["CurrentWeight"] == 3.0
    hosting.sm.update_endpoint(
        EndpointName="bg-ep", EndpointConfigName="blue-config", RetainAllVariantProperties=True
    )
    desc = hosting.wait("bg-ep")
    assert desc["EndpointConfigName"] == "blue-config"
    assert desc["ProductionVariants"][0]["CurrentWeight"] == 3.0  # retained
    hosting.sm.update_endpoint(
        EndpointName="bg-ep",
        EndpointConfigName="green-config",
        RetainAllVariantProperties=True,
        ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DesiredWeight"}],
    )
    desc = hosting.wait("bg-ep")
    assert desc["ProductionVariants"][0]["CurrentWeight"] == 1.0  # taken from the new config
    assert hosting.invoke("bg-ep", "1")[0] == "green:1"
    hosting.delete("bg-ep")


def _answer_within(hosting, endpoint: str, seconds: float) -> float:
    started = time.monotonic()
    while True:
        try:
            hosting.invoke(endpoint, "1")
            return time.monotonic() - started
        except ClientError:
            if time.monotonic() - started > seconds:
                raise
            time.sleep(0.05)


def test_killed_worker_is_replaced(hosting):
    hosting.script_model("crash-model", tag="crash")
    hosting.config("crash-config", [("AllTraffic", "crash-model", 1.0)])
    assert hosting.endpoint("crash-ep", "crash-config")["EndpointStatus"] == "InService"
    assert hosting.invoke("crash-ep", "1")[0] == "crash:1"

    children = serving_children("crash-ep")
    assert len(children) == 1
    kill(children[0])
    assert _answer_within(hosting, "crash-ep", 2.0) < 2.0
    assert serving_children("crash-ep") != children

    # The whole instance (supervisor and server) dies: the controller starts it again on the same port.
    [supervisor] = supervisors("crash-ep")
    for pid in serving_children("crash-ep"):
        kill(pid)
    kill(supervisor)
    assert _answer_within(hosting, "crash-ep", 30.0) < 30.0
    assert supervisors("crash-ep") != [supervisor]
    hosting.delete("crash-ep")


def test_endpoints_come_back_after_restart(fresh_server):
    hosting = Hosting(fresh_server)
    hosting.script_model("durable-model", tag="durable")
    hosting.config("durable-config", [("AllTraffic", "durable-model", 1.0)])
    assert hosting.endpoint("durable-ep", "durable-config")["EndpointStatus"] == "InService"
    fresh_server.restart(sig="KILL")
    hosting = Hosting.__new__(Hosting)
    hosting.server = fresh_server
    hosting.sm, hosting.rt = fresh_server.client("sagemaker"), fresh_server.client("sagemaker-runtime")
    assert hosting.sm.describe_endpoint(EndpointName="durable-ep")["EndpointStatus"] == "InService"
    assert _answer_within(hosting, "durable-ep", 30.0) < 30.0
    assert hosting.invoke("durable-ep", "4")[0] == "durable:4"
