"""Metric alarms: PutMetricAlarm, DescribeAlarms(ForMetric), DeleteAlarms, SetAlarmState,
DescribeAlarmHistory, Enable/DisableAlarmActions. Evaluation runs in :mod:`.evaluation`."""

from __future__ import annotations

import json
import time

from ...domain.alarms import state_change
from ...protocol.errors import ServiceError
from ...store.metrics import canonical_dimensions
from ..context import RequestContext
from ..registry import OperationTable
from .common import check_statistic, epoch, invalid_combination, invalid_token, not_found, store, validation
from .queries import check_queries

OPERATIONS = OperationTable("cloudwatch")

TREAT_MISSING = ("breaching", "notBreaching", "ignore", "missing")
CONFIG_KEYS = (
    "AlarmDescription",
    "ActionsEnabled",
    "OKActions",
    "AlarmActions",
    "InsufficientDataActions",
    "MetricName",
    "Namespace",
    "Statistic",
    "ExtendedStatistic",
    "Dimensions",
    "Period",
    "Unit",
    "EvaluationPeriods",
    "DatapointsToAlarm",
    "Threshold",
    "ComparisonOperator",
    "TreatMissingData",
    "EvaluateLowSampleCountPercentile",
    "Metrics",
    "ThresholdMetricId",
)


def _check_alarm(params: dict) -> int:
    """AWS's PutMetricAlarm checks; returns the evaluation period."""
    metrics = params.get("Metrics")
    if metrics:
        for key in ("MetricName", "Namespace", "Statistic", "ExtendedStatistic", "Dimensions", "Period"):
            if params.get(key) is not None:
                raise validation(f"{key} must not be specified when Metrics is specified.")
        check_queries(metrics)
        returned = [q for q in metrics if q.get("ReturnData", True)]
        if len(returned) != 1:
            raise validation("Exactly one element of the metrics list should return data.")
        query = returned[0]
        period = (query.get("MetricStat") or {}).get("Period") or query.get("Period")
        if period is None:
            stats = [q["MetricStat"]["Period"] for q in metrics if q.get("MetricStat")]
            period = max(stats) if stats else 60
    else:
        if not params.get("MetricName") or not params.get("Namespace"):
            raise validation("Either Metrics or MetricName and Namespace must be specified.")
        if (params.get("Statistic") is None) == (params.get("ExtendedStatistic") is None):
            raise validation("Exactly one of Statistic and ExtendedStatistic must be specified.")
        if params.get("ExtendedStatistic"):
            check_statistic(params["ExtendedStatistic"], "ExtendedStatistic")
        period = params.get("Period")
        if period is None:
            raise validation("Period must be specified when MetricName is specified.")
    if not (period in (10, 20, 30) or (period >= 60 and period % 60 == 0)):
        raise validation("Period must be 10, 20, 30 or a multiple of 60.")
    periods = params["EvaluationPeriods"]
    limit = 7 * 86400 if period >= 3600 else 86400
    if period * periods > limit:
        raise validation(
            f"The evaluation range (Period × EvaluationPeriods) must not exceed {limit} seconds."
        )
    to_alarm = params.get("DatapointsToAlarm")
    if to_alarm is not None and to_alarm > periods:
        raise validation("DatapointsToAlarm must be less than or equal to EvaluationPeriods.")
    if params.get("Threshold") is None and not params.get("ThresholdMetricId"):
        raise validation("Comparisons with thresholds require a Threshold.")
    treat = params.get("TreatMissingData")
    if treat is not None and treat not in TREAT_MISSING:
        raise validation(f"TreatMissingData must be one of {', '.join(TREAT_MISSING)}.")
    return int(period)


@OPERATIONS.handler("PutMetricAlarm")
def put_metric_alarm(ctx: RequestContext, params: dict) -> dict:
    period = _check_alarm(params)
    metrics = store(ctx)
    name = params["AlarmName"]
    now = time.time()
    existing = metrics.get_alarm(ctx.account_id, ctx.region, name)
    alarm = {key: params[key] for key in CONFIG_KEYS if params.get(key) is not None}
    alarm.update(
        AlarmName=name,
        AlarmArn=ctx.arn("cloudwatch", f"alarm:{name}"),
        Period=period,
        AlarmConfigurationUpdatedTimestamp=now,
        ActionsEnabled=params.get("ActionsEnabled", True),
        OKActions=params.get("OKActions") or [],
        AlarmActions=params.get("AlarmActions") or [],
        InsufficientDataActions=params.get("InsufficientDataActions") or [],
        Dimensions=canonical_dimensions(params.get("Dimensions")) if not params.get("Metrics") else None,
    )
    if params.get("Tags"):
        alarm["Tags"] = params["Tags"]
    if existing is None:
        alarm.update(
            StateValue="INSUFFICIENT_DATA",
            StateReason="Unchecked: Initial alarm creation",
            StateUpdatedTimestamp=now,
            StateTransitionedTimestamp=now,
        )
        summary, kind = f'Alarm "{name}" created', "Create"
    else:
        for key in (
            "StateValue",
            "StateReason",
            "StateReasonData",
            "StateUpdatedTimestamp",
            "StateTransitionedTimestamp",
            "Tags",
        ):
            if existing.get(key) is not None and key not in alarm:
                alarm[key] = existing[key]
        summary, kind = f'Alarm "{name}" updated', "Update"
    history = {
        "AlarmName": name,
        "AlarmType": "MetricAlarm",
        "Timestamp": now,
        "HistoryItemType": "ConfigurationUpdate",
        "HistorySummary": summary,
        "HistoryData": json.dumps(
            {
                "version": "1.0",
                "type": kind,
                ("createdAlarm" if kind == "Create" else "updatedAlarm"): {
                    k: v for k, v in alarm.items() if k != "Tags"
                },
            },
            separators=(",", ":"),
            default=str,
        ),
    }
    metrics.save_alarm(ctx.account_id, ctx.region, alarm, [history])
    return {}


def _public(alarm: dict) -> dict:
    return {k: v for k, v in alarm.items() if k != "Tags" and v is not None}


@OPERATIONS.handler("DescribeAlarms")
def describe_alarms(ctx: RequestContext, params: dict) -> dict:
    names, prefix = params.get("AlarmNames"), params.get("AlarmNamePrefix")
    if names and prefix:
        raise invalid_combination("AlarmNames and AlarmNamePrefix cannot be specified together.")
    types = params.get("AlarmTypes") or ["MetricAlarm"]
    if params.get("ChildrenOfAlarmName") or params.get("ParentsOfAlarmName") or "MetricAlarm" not in types:
        return {"MetricAlarms": [], "CompositeAlarms": []}
    limit = params.get("MaxRecords") or 50
    after = _decode(params.get("NextToken"))
    action_prefix = params.get("ActionPrefix")
    alarms, last = store(ctx).list_alarms(
        ctx.account_id,
        ctx.region,
        names=names,
        prefix=prefix,
        state=params.get("StateValue"),
        limit=limit if not action_prefix else 100000,
        after=after,
    )
    if action_prefix:
        alarms = [
            a
            for a in alarms
            if any(
                x.startswith(action_prefix)
                for key in ("AlarmActions", "OKActions", "InsufficientDataActions")
                for x in a.get(key) or []
            )
        ]
        last = alarms[limit - 1]["AlarmName"] if len(alarms) > limit else None
        alarms = alarms[:limit]
    response: dict = {"MetricAlarms": [_public(a) for a in alarms], "CompositeAlarms": []}
    if last is not None:
        response["NextToken"] = _encode(last)
    return response


@OPERATIONS.handler("DescribeAlarmsForMetric")
def describe_alarms_for_metric(ctx: RequestContext, params: dict) -> dict:
    dims = canonical_dimensions(params.get("Dimensions"))
    found = []
    for account, region, alarm in store(ctx).all_alarms():
        if (account, region) != (ctx.account_id, ctx.region):
            continue
        if alarm.get("MetricName") != params["MetricName"] or alarm.get("Namespace") != params["Namespace"]:
            continue
        if params.get("Dimensions") is not None and alarm.get("Dimensions") != dims:
            continue
        if any(
            params.get(k) is not None and alarm.get(k) != params[k]
            for k in ("Statistic", "ExtendedStatistic", "Period", "Unit")
        ):
            continue
        found.append(_public(alarm))
    return {"MetricAlarms": found}


@OPERATIONS.handler("DeleteAlarms")
def delete_alarms(ctx: RequestContext, params: dict) -> dict:
    # As AWS: names that do not exist are skipped; the others are deleted.
    store(ctx).delete_alarms(ctx.account_id, ctx.region, params["AlarmNames"])
    return {}


@OPERATIONS.handler("SetAlarmState")
def set_alarm_state(ctx: RequestContext, params: dict) -> dict:
    metrics = store(ctx)
    name = params["AlarmName"]
    alarm = metrics.get_alarm(ctx.account_id, ctx.region, name)
    if alarm is None:
        raise not_found(f"Alarm {name} not found")
    data = params.get("StateReasonData")
    if data is not None:
        try:
            json.loads(data)
        except ValueError:
            raise ServiceError("InvalidFormat", "Invalid JSON in StateReasonData.", 400) from None
    changes, history = state_change(alarm, params["StateValue"], params["StateReason"], data, time.time())
    if params["StateValue"] == alarm.get("StateValue"):
        changes.pop("StateTransitionedTimestamp", None)
    metrics.transition_alarm(ctx.account_id, ctx.region, name, None, changes, [history])
    return {}


def _set_actions(ctx: RequestContext, names: list[str], enabled: bool) -> None:
    metrics = store(ctx)
    for name in names:
        metrics.transition_alarm(ctx.account_id, ctx.region, name, None, {"ActionsEnabled": enabled})


@OPERATIONS.handler("EnableAlarmActions")
def enable_alarm_actions(ctx: RequestContext, params: dict) -> dict:
    _set_actions(ctx, params["AlarmNames"], True)
    return {}


@OPERATIONS.handler("DisableAlarmActions")
def disable_alarm_actions(ctx: RequestContext, params: dict) -> dict:
    _set_actions(ctx, params["AlarmNames"], False)
    return {}


@OPERATIONS.handler("DescribeAlarmHistory")
def describe_alarm_history(ctx: RequestContext, params: dict) -> dict:
    types = params.get("AlarmTypes")
    if types and "MetricAlarm" not in types:
        return {"AlarmHistoryItems": []}
    after = _decode(params.get("NextToken"))
    items, last = store(ctx).history(
        ctx.account_id,
        ctx.region,
        name=params.get("AlarmName"),
        item_type=params.get("HistoryItemType"),
        start=epoch(params["StartDate"]) if params.get("StartDate") else None,
        end=epoch(params["EndDate"]) if params.get("EndDate") else None,
        newest_first=(params.get("ScanBy") or "TimestampDescending") == "TimestampDescending",
        limit=params.get("MaxRecords") or 100,
        after_id=int(after) if after is not None else None,
    )
    response: dict = {"AlarmHistoryItems": items}
    if last is not None:
        response["NextToken"] = _encode(str(last))
    return response


def _encode(value: str) -> str:
    return json.dumps({"after": value}).encode().hex()


def _decode(token: str | None) -> str | None:
    if not token:
        return None
    try:
        value = json.loads(bytes.fromhex(token))["after"]
        if not isinstance(value, str) or not value:
            raise ValueError
        return value
    except (ValueError, TypeError, KeyError):
        raise invalid_token() from None
