"""Metric alarms over HTTP: configuration, the evaluation loop's transitions, history, errors."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest
from botocore.exceptions import ClientError

UTC = dt.timezone.utc


@pytest.fixture(scope="module")
def cw(server):
    return server.client("cloudwatch")


def names(prefix: str = "alarm") -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    return f"Test/{tag}", f"{prefix}-{tag}"


def recent(cw, ns: str, metric: str, value: float, seconds: int = 60) -> None:
    """One value per second over the last ``seconds``: every recent 10 s period has data."""
    now = dt.datetime.now(UTC)
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": metric,
                "Value": value,
                "StorageResolution": 1,
                "Timestamp": now - dt.timedelta(seconds=s),
            }
            for s in range(seconds)
        ],
    )


def wait_state(cw, name: str, state: str, timeout: float = 15.0) -> dict:
    deadline = time.time() + timeout
    while True:
        alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        if alarm["StateValue"] == state or time.time() > deadline:
            assert alarm["StateValue"] == state, alarm
            return alarm
        time.sleep(0.5)


def put_alarm(cw, ns: str, name: str, **overrides) -> None:
    params = dict(
        AlarmName=name,
        Namespace=ns,
        MetricName="Load",
        Statistic="Maximum",
        Period=10,
        EvaluationPeriods=1,
        Threshold=50.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    params.update(overrides)
    cw.put_metric_alarm(**params)


def test_alarm_lifecycle_and_transitions(cw):
    ns, name = names()
    put_alarm(
        cw, ns, name, AlarmDescription="load too high", AlarmActions=["arn:aws:sns:us-east-1:000000000000:t"]
    )
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["StateReason"] == "Unchecked: Initial alarm creation"
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:us-east-1:000000000000:alarm:{name}"
    assert alarm["Period"] == 10 and alarm["Threshold"] == 50.0 and alarm["ActionsEnabled"] is True
    created = alarm["StateUpdatedTimestamp"]

    recent(cw, ns, "Load", 90.0)
    alarm = wait_state(cw, name, "ALARM")
    assert alarm["StateReason"].startswith("Threshold Crossed: 1 datapoint [90.0 (")
    assert alarm["StateReason"].endswith("was greater than the threshold (50.0).")
    reason_data = json.loads(alarm["StateReasonData"])
    assert reason_data["threshold"] == 50.0 and reason_data["period"] == 10
    assert alarm["StateUpdatedTimestamp"] > created

    # SetAlarmState is applied, then the next evaluation puts the alarm back where the data says
    cw.set_alarm_state(
        AlarmName=name,
        StateValue="OK",
        StateReason="testing actions",
        StateReasonData=json.dumps({"by": "test"}),
    )
    wait_state(cw, name, "ALARM")
    history = cw.describe_alarm_history(AlarmName=name, HistoryItemType="StateUpdate")["AlarmHistoryItems"]
    summaries = [h["HistorySummary"] for h in history]  # newest first
    assert summaries[:3] == [
        "Alarm updated from OK to ALARM",
        "Alarm updated from ALARM to OK",
        "Alarm updated from INSUFFICIENT_DATA to ALARM",
    ]
    manual = json.loads(history[1]["HistoryData"])
    assert manual["newState"] == {
        "stateValue": "OK",
        "stateReason": "testing actions",
        "stateReasonData": {"by": "test"},
    }
    config = cw.describe_alarm_history(AlarmName=name, HistoryItemType="ConfigurationUpdate")
    assert config["AlarmHistoryItems"][0]["HistorySummary"] == f'Alarm "{name}" created'

    # an update keeps the state and records a configuration item
    put_alarm(cw, ns, name, Threshold=1000.0)
    alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
    assert alarm["Threshold"] == 1000.0
    alarm = wait_state(cw, name, "OK")
    assert "was not greater than the threshold (1000.0)" in alarm["StateReason"]

    assert cw.describe_alarms(AlarmNames=[name], StateValue="OK")["MetricAlarms"]
    assert not cw.describe_alarms(AlarmNames=[name], StateValue="ALARM")["MetricAlarms"]
    found = cw.describe_alarms_for_metric(Namespace=ns, MetricName="Load")["MetricAlarms"]
    assert [a["AlarmName"] for a in found] == [name]
    cw.disable_alarm_actions(AlarmNames=[name])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["ActionsEnabled"] is False
    cw.delete_alarms(AlarmNames=[name, "does-not-exist"])
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_missing_data_and_metric_math_alarms(cw):
    ns, name = names("missing")
    put_alarm(cw, ns, name, TreatMissingData="breaching", Threshold=1.0)
    alarm = wait_state(cw, name, "ALARM")
    assert "1 missing datapoint was treated as [Breaching]" in alarm["StateReason"]

    ns2, math_name = names("math")
    recent(cw, ns2, "Errors", 5.0)
    recent(cw, ns2, "Requests", 10.0)
    cw.put_metric_alarm(
        AlarmName=math_name,
        EvaluationPeriods=2,
        DatapointsToAlarm=2,
        Threshold=40.0,
        ComparisonOperator="GreaterThanOrEqualToThreshold",
        Metrics=[
            {
                "Id": "e",
                "MetricStat": {
                    "Metric": {"Namespace": ns2, "MetricName": "Errors"},
                    "Period": 10,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {
                "Id": "r",
                "MetricStat": {
                    "Metric": {"Namespace": ns2, "MetricName": "Requests"},
                    "Period": 10,
                    "Stat": "Sum",
                },
                "ReturnData": False,
            },
            {"Id": "rate", "Expression": "100 * e / r", "ReturnData": True},
        ],
    )
    alarm = wait_state(cw, math_name, "ALARM")
    assert alarm["StateReason"].startswith("Threshold Crossed: 2 datapoints [50.0 (")
    assert alarm["Metrics"][2]["Expression"] == "100 * e / r"
    cw.delete_alarms(AlarmNames=[name, math_name])


def test_describe_alarms_pages_and_prefix(cw):
    ns, base = names("page")
    for i in range(5):
        put_alarm(cw, ns, f"{base}-{i}")
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = cw.describe_alarms(AlarmNamePrefix=base, MaxRecords=2, **kwargs)
        seen += [a["AlarmName"] for a in page["MetricAlarms"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [f"{base}-{i}" for i in range(5)] and pages == 3
    assert cw.describe_alarms(AlarmNamePrefix=base, AlarmTypes=["CompositeAlarm"])["MetricAlarms"] == []
    cw.delete_alarms(AlarmNames=seen)
    assert cw.describe_alarms(AlarmNamePrefix=base)["MetricAlarms"] == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"Period": 15},
        {"EvaluationPeriods": 2, "DatapointsToAlarm": 3},
        {"Statistic": None},
        {"Statistic": "Average", "ExtendedStatistic": "p99"},
        {"Period": 3600, "EvaluationPeriods": 200},
        {"TreatMissingData": "sometimes"},
    ],
)
def test_put_metric_alarm_rejects_bad_input(cw, overrides):
    ns, name = names("bad")
    params = dict(
        AlarmName=name,
        Namespace=ns,
        MetricName="Load",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    with pytest.raises(ClientError) as info:
        cw.put_metric_alarm(**params)
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert cw.describe_alarms(AlarmNames=[name])["MetricAlarms"] == []


def test_set_alarm_state_errors(cw):
    ns, name = names("state")
    put_alarm(cw, ns, name)
    with pytest.raises(ClientError) as info:
        cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="x", StateReasonData="{bad")
    assert info.value.response["Error"]["Code"] == "InvalidFormat"
    with pytest.raises(ClientError) as info:
        cw.set_alarm_state(AlarmName=name + "-x", StateValue="ALARM", StateReason="x")
    assert info.value.response["Error"]["Code"] == "ResourceNotFound"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    cw.delete_alarms(AlarmNames=[name])
