"""SageMaker Metrics (``sagemaker-metrics``, rest-json): BatchPutMetrics stores trial-component metric
points; BatchGetMetrics reads them back aggregated per period or per step. DescribeTrialComponent's
``Metrics`` summaries are computed from the same points (``store.experiments``).

Points whose Value is NaN or ±Infinity are refused one by one (``Errors[{Code: VALIDATION_ERROR,
MetricIndex}]``, HTTP 200), as are points of a trial component that does not exist; the rest are kept.
"""

from __future__ import annotations

import datetime as dt
import math
import statistics

from ...domain.experiments import TRIAL_COMPONENT, arn, store_of
from ..context import RequestContext
from ..errors import resource_error
from ..registry import OperationTable

OPERATIONS = OperationTable("sagemaker-metrics", errors=resource_error)

PERIODS = {"OneMinute": 60, "FiveMinute": 300, "OneHour": 3600}


def _component(ctx: RequestContext, name_or_arn: str):
    resources = ctx.platform.resources
    if name_or_arn.startswith("arn:"):
        row = resources.get_by_arn(name_or_arn)
    else:
        row = resources.get(ctx.account_id, ctx.region, TRIAL_COMPONENT, name_or_arn) or resources.get_by_arn(
            arn(ctx.region, ctx.account_id, TRIAL_COMPONENT, name_or_arn)
        )
    return row if row is not None and row.resource_type == TRIAL_COMPONENT else None


def _epoch(value) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


@OPERATIONS.handler("BatchPutMetrics")
def batch_put_metrics(ctx: RequestContext, params: dict) -> dict:
    component = _component(ctx, params["TrialComponentName"])
    errors, points = [], []
    for index, item in enumerate(params["MetricData"]):
        value = item.get("Value")
        if component is None or not isinstance(value, (int, float)) or math.isnan(value) or math.isinf(value):
            errors.append({"Code": "VALIDATION_ERROR", "MetricIndex": index})
        else:
            points.append(
                {
                    "MetricName": item["MetricName"],
                    "Timestamp": _epoch(item["Timestamp"]),
                    "Step": item.get("Step"),
                    "Value": float(value),
                }
            )
    if points:
        store_of(ctx.platform.resources).put_points(ctx.account_id, ctx.region, component.name, points)
    return {"Errors": errors} if errors else {}


def _stat(values: list[float], stat: str) -> float:
    if stat == "Min":
        return min(values)
    if stat == "Max":
        return max(values)
    if stat == "Count":
        return float(len(values))
    if stat == "StdDev":
        return statistics.stdev(values) if len(values) > 1 else 0.0
    if stat == "Last":
        return values[-1]
    return sum(values) / len(values)


@OPERATIONS.handler("BatchGetMetrics")
def batch_get_metrics(ctx: RequestContext, params: dict) -> dict:
    results = []
    store = store_of(ctx.platform.resources)
    for query in params["MetricQueries"]:
        component = _component(ctx, query["ResourceArn"])
        if component is None:
            results.append(
                {
                    "Status": "ValidationError",
                    "Message": f"Resource '{query['ResourceArn']}' does not exist.",
                    "XAxisValues": [],
                    "MetricValues": [],
                }
            )
            continue
        start = _epoch(query["Start"]) if query.get("Start") is not None else None
        end = _epoch(query["End"]) if query.get("End") is not None else None
        series = store.series(ctx.account_id, ctx.region, component.name, query["MetricName"], start, end)
        buckets: dict[int, list[float]] = {}
        for timestamp, step, value in series:
            if query["Period"] == "IterationNumber":
                if step is None:
                    continue
                key = int(step)
            else:
                width = PERIODS[query["Period"]]
                key = int(timestamp // width * width)
            buckets.setdefault(key, []).append(value)
        keys = sorted(buckets)
        results.append(
            {
                "Status": "Complete",
                "XAxisValues": keys,
                "MetricValues": [_stat(buckets[k], query["MetricStat"]) for k in keys],
            }
        )
    return {"MetricQueryResults": results}
