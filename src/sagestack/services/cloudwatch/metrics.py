"""Metric data: PutMetricData, GetMetricStatistics, GetMetricData, ListMetrics."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time

from ...domain.metric_math import align_start, run_queries
from ...store.metrics import MetricId, Point, percentile_names
from ..context import RequestContext
from ..registry import OperationTable
from .common import (
    UTC,
    check_number,
    check_period,
    check_statistic,
    epoch,
    invalid_combination,
    invalid_token,
    invalid_value,
    missing,
    store,
)
from .queries import check_queries

OPERATIONS = OperationTable("cloudwatch")

MAX_STATISTICS_DATAPOINTS = 1440


def _points(namespace: str, data: list[dict], now: float) -> list[Point]:
    points: list[Point] = []
    for index, datum in enumerate(data, 1):
        where = f"MetricData.member.{index}"
        has_value, has_values = datum.get("Value") is not None, datum.get("Values") is not None
        has_stats = datum.get("StatisticValues") is not None
        if has_value and has_values:
            raise invalid_combination(
                f"The parameters {where}.Value and {where}.Values are mutually "
                "exclusive and you have specified both."
            )
        if has_stats and (has_value or has_values):
            raise invalid_combination(
                f"The parameters {where}.StatisticValues and "
                f"{where}.{'Value' if has_value else 'Values'} are mutually "
                "exclusive and you have specified both."
            )
        if not (has_value or has_values or has_stats):
            raise missing(
                f"At least one of the parameters {where}.Value, {where}.Values or "
                f"{where}.StatisticValues must be specified."
            )
        if datum.get("Counts") is not None and not has_values:
            raise invalid_combination(f"The parameter {where}.Counts requires {where}.Values.")
        resolution = datum.get("StorageResolution")
        if resolution is not None and resolution not in (1, 60):
            raise invalid_value(
                f"The value {resolution} for parameter {where}.StorageResolution is "
                "invalid. Valid values are 1 and 60."
            )
        names = [d["Name"] for d in datum.get("Dimensions") or []]
        if len(set(names)) != len(names):
            raise invalid_value(f"The dimension names in {where}.Dimensions must be unique.")
        ts = epoch(datum["Timestamp"]) if datum.get("Timestamp") is not None else now
        if ts > now + 2 * 3600:
            raise invalid_value(
                f"The parameter {where}.Timestamp must specify a time no more than two hours in the future."
            )
        if ts < now - 14 * 86400:
            raise invalid_value(
                f"The parameter {where}.Timestamp must specify a time no more than two weeks in the past."
            )
        metric = MetricId.of(namespace, datum["MetricName"], datum.get("Dimensions"))
        unit = datum.get("Unit") or "None"
        if has_value:
            check_number(datum["Value"], f"{where}.Value")
            points.append(Point.value(metric, ts, float(datum["Value"]), 1.0, unit))
        elif has_values:
            values, counts = datum["Values"], datum.get("Counts")
            if counts is not None and len(counts) != len(values):
                raise invalid_value(
                    f"The parameters {where}.Values and {where}.Counts must be of the same size."
                )
            for position, value in enumerate(values):
                check_number(value, f"{where}.Values.member.{position + 1}")
                count = 1.0 if counts is None else float(counts[position])
                if count <= 0:
                    continue
                points.append(Point.value(metric, ts, float(value), count, unit))
        else:
            stats = datum["StatisticValues"]
            for key in ("SampleCount", "Sum", "Minimum", "Maximum"):
                check_number(stats[key], f"{where}.StatisticValues.{key}")
            if stats["SampleCount"] <= 0 or stats["Minimum"] > stats["Maximum"]:
                raise invalid_value(
                    f"The parameter {where}.StatisticValues is invalid: SampleCount "
                    "must be positive and Minimum must not exceed Maximum."
                )
            points.append(
                Point(
                    metric,
                    ts,
                    float(stats["SampleCount"]),
                    float(stats["Sum"]),
                    float(stats["Minimum"]),
                    float(stats["Maximum"]),
                    unit,
                    False,
                )
            )
    return points


@OPERATIONS.handler("PutMetricData")
def put_metric_data(ctx: RequestContext, params: dict) -> dict:
    namespace = params["Namespace"]
    if namespace.startswith("AWS/"):
        raise invalid_value(f"The value {namespace} for parameter Namespace is invalid.")
    data = params.get("MetricData") or []
    if not data and not params.get("EntityMetricData"):
        raise missing("The parameter MetricData is required.")
    points = _points(namespace, data, time.time())
    for entity in params.get("EntityMetricData") or []:
        points += _points(namespace, entity.get("MetricData") or [], time.time())
    store(ctx).put_points(ctx.account_id, ctx.region, points)
    return {}


def _time_range(params: dict) -> tuple[float, float]:
    start, end = epoch(params["StartTime"]), epoch(params["EndTime"])
    if start >= end:
        raise invalid_value("The parameter StartTime must be less than the parameter EndTime.")
    return start, end


@OPERATIONS.handler("GetMetricStatistics")
def get_metric_statistics(ctx: RequestContext, params: dict) -> dict:
    statistics = params.get("Statistics") or []
    extended = params.get("ExtendedStatistics") or []
    if not statistics and not extended:
        raise missing("Must specify either Statistics or ExtendedStatistics.")
    if statistics and extended:
        raise invalid_combination(
            "The parameters Statistics and ExtendedStatistics are mutually "
            "exclusive and you have specified both."
        )
    for stat in extended:
        check_statistic(stat, "ExtendedStatistics")
    period = params["Period"]
    check_period(period)
    start, end = _time_range(params)
    start = align_start(start, period)
    requested = int((end - start + period - 1) // period)
    if requested > MAX_STATISTICS_DATAPOINTS:
        raise invalid_combination(
            f"You have requested up to {requested} datapoints, which exceeds the limit of "
            f"{MAX_STATISTICS_DATAPOINTS}. You may reduce the datapoints requested by increasing "
            "Period, or decreasing the time range."
        )
    metric = MetricId.of(params["Namespace"], params["MetricName"], params.get("Dimensions"))
    buckets = store(ctx).aggregate(
        ctx.account_id,
        ctx.region,
        metric,
        start,
        end,
        period,
        percentiles=percentile_names(extended),
        unit=params.get("Unit"),
    )
    datapoints = []
    for bucket in buckets:
        point: dict = {"Timestamp": dt.datetime.fromtimestamp(bucket.start, UTC), "Unit": bucket.unit}
        for stat in statistics:
            point[stat] = bucket.statistic(stat)
        if extended:
            values = {p: bucket.percentiles[p] for p in extended if p in bucket.percentiles}
            if not values:
                continue  # percentiles need single values (not StatisticValues)
            point["ExtendedStatistics"] = values
        datapoints.append(point)
    return {"Label": params["MetricName"], "Datapoints": datapoints}


@OPERATIONS.handler("GetMetricData")
def get_metric_data(ctx: RequestContext, params: dict) -> dict:
    queries = params["MetricDataQueries"]
    check_queries(queries)
    start, end = _time_range(params)
    descending = (params.get("ScanBy") or "TimestampDescending") == "TimestampDescending"
    offset = _decode_offset(params.get("NextToken"))
    results = [
        r for r in run_queries(store(ctx), ctx.account_id, ctx.region, queries, start, end) if r.return_data
    ]
    budget = max(1, int(params.get("MaxDatapoints") or 100800) // max(1, len(results)))
    more = False
    out = []
    for result in results:
        stamps = sorted(result.series, reverse=descending)
        page = stamps[offset : offset + budget]
        more = more or offset + budget < len(stamps)
        out.append(
            {
                "Id": result.id,
                "Label": result.label,
                "Timestamps": [dt.datetime.fromtimestamp(t, UTC) for t in page],
                "Values": [result.series[t] for t in page],
                "StatusCode": "PartialData" if offset + budget < len(stamps) else "Complete",
            }
        )
    response: dict = {"MetricDataResults": out, "Messages": []}
    if more:
        response["NextToken"] = _encode_offset(offset + budget)
    return response


@OPERATIONS.handler("ListMetrics")
def list_metrics(ctx: RequestContext, params: dict) -> dict:
    token = None
    if params.get("NextToken"):
        token = _decode_offset(params["NextToken"])
    now = time.time()
    active_since = now - 3 * 3600 if params.get("RecentlyActive") == "PT3H" else now - 14 * 86400
    found, last_id = store(ctx).list_metrics(
        ctx.account_id,
        ctx.region,
        namespace=params.get("Namespace"),
        name=params.get("MetricName"),
        dimension_filters=params.get("Dimensions") or [],
        active_since=active_since,
        token=token,
    )
    response: dict = {
        "Metrics": [
            {"Namespace": m.namespace, "MetricName": m.name, "Dimensions": m.dimension_list} for m in found
        ]
    }
    if last_id is not None:
        response["NextToken"] = _encode_offset(last_id)
    return response


def _encode_offset(value: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": value}).encode()).decode()


def _decode_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        value = json.loads(base64.urlsafe_b64decode(token.encode()))["o"]
        if not isinstance(value, int) or value < 0:
            raise ValueError
        return value
    except (ValueError, TypeError, KeyError):
        raise invalid_token() from None
