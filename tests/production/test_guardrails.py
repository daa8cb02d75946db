"""Deployment guardrails on UpdateEndpoint: a canary of a model that fails trips an alarm and rolls back
while a client loop runs throughout; a healthy linear update completes step by step."""

from __future__ import annotations

import time

from support import ClientLoop
from test_shadow import BROKEN_MODEL


def _watch(sm, endpoint: str, timeout: float) -> list[tuple[float, str]]:
    """(time, status) at every status change until the endpoint settles InService/Failed."""
    seen: list[tuple[float, str]] = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        status = sm.describe_endpoint(EndpointName=endpoint)["EndpointStatus"]
        if not seen or seen[-1][1] != status:
            seen.append((time.time(), status))
        if status in ("InService", "Failed") and len(seen) > 1:
            break
        time.sleep(0.2)
    return seen


def test_canary_with_failing_model_rolls_back_on_alarm(hosting, production_server):
    sm, cw = hosting.sm, production_server.client("cloudwatch")
    hosting.script_model("gr-blue", tag="blue")
    hosting.script_model("gr-bad", code=BROKEN_MODEL)
    hosting.config("gr-blue-config", [("AllTraffic", "gr-blue", 1.0, 2)])
    hosting.config("gr-bad-config", [("AllTraffic", "gr-bad", 1.0, 2)])
    assert hosting.endpoint("gr-canary", "gr-blue-config")["EndpointStatus"] == "InService"
    cw.put_metric_alarm(
        AlarmName="gr-canary-5xx",
        Namespace="AWS/SageMaker",
        MetricName="Invocation5XXErrors",
        Dimensions=[
            {"Name": "EndpointName", "Value": "gr-canary"},
            {"Name": "VariantName", "Value": "AllTraffic"},
        ],
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        TreatMissingData="notBreaching",
    )
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "WaitIntervalInSeconds": 120,
                "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1},
            },
            "TerminationWaitInSeconds": 0,
            "MaximumExecutionTimeoutInSeconds": 600,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "gr-canary-5xx"}]},
    }
    load = ClientLoop(hosting, "gr-canary", rate=10, threads=2).start()
    try:
        time.sleep(1.5)
        updated = time.time()
        sm.update_endpoint(
            EndpointName="gr-canary", EndpointConfigName="gr-bad-config", DeploymentConfig=deployment
        )
        pending = sm.describe_endpoint(EndpointName="gr-canary")
        assert pending["EndpointStatus"] == "Updating"
        assert pending["PendingDeploymentSummary"]["EndpointConfigName"] == "gr-bad-config"
        statuses = _watch(sm, "gr-canary", 90)
        time.sleep(2)
    finally:
        results = load.stop()
        hosting.delete("gr-canary")
    names = [s for _, s in statuses]
    assert names == ["Updating", "RollingBack", "InService"], statuses
    rolled_back = statuses[1][0]
    desc_status = statuses[-1]
    assert desc_status[1] == "InService"
    before = [r for r in results if r.at < updated]
    failures = [r for r in results if not r.ok]
    assert before and all(r.ok and r.answer.startswith("blue:") for r in before)
    assert failures, "the canary never took traffic"
    baking = [r for r in results if failures[0].at <= r.at < rolled_back - 0.5]
    share = sum(not r.ok for r in baking) / max(1, len(baking))
    assert 0.2 <= share <= 0.8, (share, len(baking))  # the canary's share: 1 instance of 2
    after = [r for r in results if r.at > rolled_back + 0.5]
    assert after and all(r.ok for r in after), [r.answer for r in after if not r.ok][:3]
    assert all(r.answer.startswith("blue:") for r in results if r.ok)
    assert all("ModelError" in r.answer for r in failures)


def test_rollback_leaves_endpoint_on_old_config(hosting, production_server):
    """What DescribeEndpoint shows after the rollback above (kept separate so the timing test stays lean)."""
    sm, cw = hosting.sm, production_server.client("cloudwatch")
    hosting.script_model("gr2-blue", tag="blue")
    hosting.config("gr2-blue-config", [("AllTraffic", "gr2-blue", 1.0, 1)])
    hosting.config("gr2-bad-config", [("AllTraffic", "gr-bad", 1.0, 1)])
    assert hosting.endpoint("gr-manual", "gr2-blue-config")["EndpointStatus"] == "InService"
    cw.put_metric_alarm(
        AlarmName="gr-manual-alarm",
        Namespace="Custom",
        MetricName="Whatever",
        Statistic="Sum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 120,
        },
        "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "gr-manual-alarm"}]},
    }
    try:
        sm.update_endpoint(
            EndpointName="gr-manual", EndpointConfigName="gr2-bad-config", DeploymentConfig=deployment
        )
        deadline = time.time() + 60
        while (
            time.time() < deadline
        ):  # wait until the new fleet takes the traffic, then trip the alarm by hand
            try:
                hosting.invoke("gr-manual")
            except Exception:  # noqa: BLE001 - the broken model answering: traffic is on the new fleet
                break
            time.sleep(0.2)
        cw.set_alarm_state(AlarmName="gr-manual-alarm", StateValue="ALARM", StateReason="manual trip")
        statuses = _watch(sm, "gr-manual", 60)
        desc = sm.describe_endpoint(EndpointName="gr-manual")
        assert [s for _, s in statuses][-2:] == ["RollingBack", "InService"], statuses
        assert desc["EndpointConfigName"] == "gr2-blue-config"
        assert "gr-manual-alarm" in desc["FailureReason"]
        assert (
            desc["LastDeploymentConfig"]["AutoRollbackConfiguration"]
            == deployment["AutoRollbackConfiguration"]
        )
        assert "PendingDeploymentSummary" not in desc
        assert hosting.invoke("gr-manual", "1,1")[0] == "blue:2"
    finally:
        hosting.delete("gr-manual")


def test_linear_update_shifts_step_by_step(hosting):
    sm = hosting.sm
    hosting.script_model("gr-v1", tag="v1")
    hosting.script_model("gr-v2", tag="v2")
    hosting.config("gr-v1-config", [("AllTraffic", "gr-v1", 1.0, 2)])
    hosting.config("gr-v2-config", [("AllTraffic", "gr-v2", 1.0, 2)])
    assert hosting.endpoint("gr-linear", "gr-v1-config")["EndpointStatus"] == "InService"
    deployment = {
        "BlueGreenUpdatePolicy": {
            "TrafficRoutingConfiguration": {
                "Type": "LINEAR",
                "WaitIntervalInSeconds": 6,
                "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 50},
            },
            "TerminationWaitInSeconds": 2,
        }
    }
    load = ClientLoop(hosting, "gr-linear", rate=10, threads=2).start()
    try:
        sm.update_endpoint(
            EndpointName="gr-linear", EndpointConfigName="gr-v2-config", DeploymentConfig=deployment
        )
        statuses = _watch(sm, "gr-linear", 90)
        done = time.time()
        time.sleep(1)
        desc = sm.describe_endpoint(EndpointName="gr-linear")
    finally:
        results = load.stop()
        hosting.delete("gr-linear")
    assert [s for _, s in statuses] == ["Updating", "InService"], statuses
    assert desc["EndpointConfigName"] == "gr-v2-config" and "FailureReason" not in desc
    assert (
        desc["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"]
        == "LINEAR"
    )
    assert results and all(r.ok for r in results), [r.answer for r in results if not r.ok][:3]
    first_v2 = min(r.at for r in results if r.answer.startswith("v2:"))
    # Step 1 (half the traffic) lasts WaitIntervalInSeconds: both models answer in it.
    step = [r for r in results if first_v2 <= r.at < first_v2 + 5]
    share = sum(r.answer.startswith("v2:") for r in step) / len(step)
    assert 0.2 <= share <= 0.8, (share, len(step))
    # Step 2 (all of it) bakes TerminationWaitInSeconds before the update completes; then only v2.
    assert done - first_v2 >= 6 + 2 - 1
    assert all(r.answer.startswith("v2:") for r in results if r.at > done)
