"""The pure alarm evaluation function: M out of N, missing data treatments, operators, reasons."""

from __future__ import annotations

import json

import pytest

from sagestack.domain.alarms import evaluate, evaluate_alarm, evaluation_range

NOW = 1_800_000_005.0  # 5 s into a 10 s period: the last complete period starts at NOW - 15


def alarm(**overrides) -> dict:
    base = {
        "AlarmName": "a",
        "Period": 10,
        "EvaluationPeriods": 3,
        "Threshold": 10.0,
        "ComparisonOperator": "GreaterThanThreshold",
        "Statistic": "Average",
        "StateValue": "INSUFFICIENT_DATA",
        "StateReason": "Unchecked: Initial alarm creation",
    }
    base.update(overrides)
    return base


def points(*values) -> list[tuple[float, float]]:
    """Values for the evaluation range, oldest first; None = no data for that period."""
    start, _ = evaluation_range(10, len(values), NOW)
    return [(start + 10 * i, v) for i, v in enumerate(values) if v is not None]


def test_range_is_complete_periods():
    assert evaluation_range(10, 3, NOW) == (NOW - 5 - 30, NOW - 5)
    assert evaluation_range(60, 1, 120.0) == (60.0, 120.0)


def test_all_breaching_alarms_with_aws_reason():
    state, reason = evaluate_alarm(alarm(), points(11, 12, 13), NOW)
    assert state == "ALARM"
    assert reason.startswith("Threshold Crossed: 3 datapoints [13.0 (")
    assert reason.endswith("] were greater than the threshold (10.0).")


def test_single_period_reason_wording():
    state, reason = evaluate_alarm(
        alarm(EvaluationPeriods=1, ComparisonOperator="GreaterThanOrEqualToThreshold"), points(10), NOW
    )
    assert state == "ALARM"
    assert reason.startswith("Threshold Crossed: 1 datapoint [10.0 (")
    assert "(15/01/27 07:59:50)" in reason  # dd/mm/yy HH:MM:SS of the period start (UTC)
    assert reason.endswith("was greater than or equal to the threshold (10.0).")
    state, reason = evaluate_alarm(alarm(EvaluationPeriods=1), points(3), NOW)
    assert state == "OK" and "was not greater than the threshold (10.0)." in reason


def test_m_out_of_n():
    cfg = alarm(DatapointsToAlarm=2)
    assert evaluate_alarm(cfg, points(11, 1, 12), NOW)[0] == "ALARM"
    assert evaluate_alarm(cfg, points(11, 1, 1), NOW)[0] == "OK"
    alarm_reason = evaluate_alarm(cfg, points(11, 1, 12), NOW)[1]
    assert "2 out of the last 3 datapoints" in alarm_reason
    assert "(minimum 2 datapoints for OK -> ALARM transition)" in alarm_reason


@pytest.mark.parametrize(
    "operator,value,expected",
    [
        ("GreaterThanThreshold", 10.0, "OK"),
        ("GreaterThanOrEqualToThreshold", 10.0, "ALARM"),
        ("LessThanThreshold", 9.99, "ALARM"),
        ("LessThanThreshold", 10.0, "OK"),
        ("LessThanOrEqualToThreshold", 10.0, "ALARM"),
    ],
)
def test_operators(operator, value, expected):
    cfg = alarm(EvaluationPeriods=1, ComparisonOperator=operator)
    assert evaluate_alarm(cfg, points(value), NOW)[0] == expected


def test_missing_data_treatments():
    none = points(None, None, None)
    assert evaluate_alarm(alarm(), none, NOW) == (
        "INSUFFICIENT_DATA",
        "Insufficient Data: 3 datapoints were unknown.",
    )
    assert evaluate_alarm(alarm(TreatMissingData="breaching"), none, NOW)[0] == "ALARM"
    assert evaluate_alarm(alarm(TreatMissingData="notBreaching"), none, NOW)[0] == "OK"
    kept = alarm(TreatMissingData="ignore", StateValue="ALARM", StateReason="earlier")
    assert evaluate_alarm(kept, none, NOW) == ("ALARM", "earlier")
    # missing periods are left out: two breaching points are not 3 of 3, but nothing says OK either
    partial = points(None, 11, 12)
    assert evaluate_alarm(alarm(), partial, NOW)[0] == "OK"
    assert evaluate_alarm(alarm(TreatMissingData="breaching"), partial, NOW)[0] == "ALARM"
    reason = evaluate_alarm(alarm(TreatMissingData="breaching"), partial, NOW)[1]
    assert "1 missing datapoint was treated as [Breaching]" in reason
    assert evaluate_alarm(alarm(DatapointsToAlarm=2), partial, NOW)[0] == "ALARM"


def test_points_outside_the_range_are_ignored():
    start, end = evaluation_range(10, 3, NOW)
    stale = [(start - 10, 100.0), (end, 100.0)]  # before the range, and the running period
    assert evaluate_alarm(alarm(), stale, NOW)[0] == "INSUFFICIENT_DATA"


def test_reason_data_is_aws_shaped_json():
    result = evaluate(alarm(EvaluationPeriods=2), points(11, 12), NOW)
    data = result.reason_data
    assert data["version"] == "1.0" and data["period"] == 10 and data["threshold"] == 10.0
    assert data["recentDatapoints"] == [11.0, 12.0]
    assert [p["value"] for p in data["evaluatedDatapoints"]] == [12.0, 11.0]
    assert data["queryDate"].endswith("+0000")
    json.dumps(data)


def test_anomaly_band_operator_is_insufficient_data():
    cfg = alarm(ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold")
    assert evaluate_alarm(cfg, points(1, 2, 3), NOW)[0] == "INSUFFICIENT_DATA"
