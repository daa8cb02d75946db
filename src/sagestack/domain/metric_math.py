"""Metric math — GetMetricData's engine, also what alarms on metric queries evaluate: ``MetricStat``
queries aggregated by the store, and simple metric math
(``m1 + m2``, ``m1 * 100``, ``-m1``, ``ABS``, ``SUM``/``AVG``/``MIN``/``MAX`` over ``[m1, m2]`` or
``METRICS()``). Series are maps from period start (epoch seconds) to value; binary operations keep
the timestamps both sides have, as CloudWatch does."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field

from ..protocol.errors import ServiceError
from ..store.metrics import MetricId, MetricStore, percentile_names

Series = dict[float, float]
Value = float | Series | list

FUNCTIONS = ("SUM", "AVG", "MIN", "MAX", "ABS", "METRICS")


@dataclass
class QueryResult:
    id: str
    label: str
    series: Series
    return_data: bool
    messages: list = field(default_factory=list)


def validation(message: str) -> ServiceError:
    """A query GetMetricData (or an alarm) cannot run, as CloudWatch words it."""
    return ServiceError("ValidationError", message, 400)


def align_start(start: float, period: int) -> float:
    """Round a query's start down the way CloudWatch does: to the period for high-resolution
    periods, to the minute otherwise."""
    grain = min(60, period)
    return math.floor(start / grain) * grain


def run_queries(
    store: MetricStore, account: str, region: str, queries: list[dict], start: float, end: float
) -> list[QueryResult]:
    """Every query's series over ``[start, end)``; expressions see the series of the others."""
    series: dict[str, Series] = {}
    stat_ids: list[str] = []
    for query in queries:
        stat = query.get("MetricStat")
        if stat is None:
            continue
        metric = stat["Metric"]
        period = stat["Period"]
        aligned = align_start(start, period)
        name = stat["Stat"]
        buckets = store.aggregate(
            account,
            region,
            MetricId.of(metric["Namespace"], metric["MetricName"], metric.get("Dimensions")),
            aligned,
            end,
            period,
            percentiles=percentile_names([name]),
            unit=stat.get("Unit"),
        )
        values = {b.start: b.statistic(name) for b in buckets}
        series[query["Id"]] = {t: v for t, v in values.items() if v is not None}
        stat_ids.append(query["Id"])
    pending = [q for q in queries if q.get("Expression") is not None]
    for _ in range(len(pending) + 1):  # expressions may refer to each other, in any order
        progressed = False
        for query in list(pending):
            try:
                value = evaluate_expression(query["Expression"], series, stat_ids)
            except _Unresolved:
                continue
            series[query["Id"]] = as_series(value, series, stat_ids)
            pending.remove(query)
            progressed = True
        if not progressed:
            break
    if pending:
        raise validation(
            f"Error in expression {pending[0]['Id']}: Unrecognized metric id or circular reference."
        )
    results = []
    for query in queries:
        stat = query.get("MetricStat")
        default_label = stat["Metric"]["MetricName"] if stat else query["Id"]
        results.append(
            QueryResult(
                query["Id"],
                query.get("Label") or default_label,
                series.get(query["Id"], {}),
                query.get("ReturnData", True),
            )
        )
    return results


class _Unresolved(Exception):
    pass


def as_series(value: Value, series: dict[str, Series], stat_ids: list[str]) -> Series:
    if isinstance(value, dict):
        return {t: v for t, v in value.items() if not math.isnan(v)}
    if isinstance(value, list):
        raise validation("An expression must return a single time series.")
    # A scalar: drawn at every timestamp the metric queries have.
    stamps = sorted({t for i in stat_ids for t in series.get(i, {})})
    return {t: float(value) for t in stamps}


def evaluate_expression(text: str, series: dict[str, Series], stat_ids: list[str]) -> Value:
    try:
        tree = ast.parse(text.strip().replace("^", "**"), mode="eval")
    except SyntaxError:
        raise validation(f"Error in expression: {text!r} is not a valid metric math expression.") from None
    return _eval(tree.body, series, stat_ids, text)


def _eval(node: ast.AST, series: dict[str, Series], stat_ids: list[str], text: str) -> Value:
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, (int, float))
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id in series:
            return series[node.id]
        raise _Unresolved(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand, series, stat_ids, text)
        return _apply(lambda a: -a if isinstance(node.op, ast.USub) else a, value)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)):
        left = _eval(node.left, series, stat_ids, text)
        right = _eval(node.right, series, stat_ids, text)
        return _binary(node.op, left, right)
    if isinstance(node, ast.List):
        items = [_eval(e, series, stat_ids, text) for e in node.elts]
        return [i for i in items if isinstance(i, dict)]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS:
        name = node.func.id
        if name == "METRICS":
            return [series[i] for i in stat_ids if i in series]
        if len(node.args) != 1:
            raise validation(f"Error in expression: {name} takes one argument.")
        arg = _eval(node.args[0], series, stat_ids, text)
        if name == "ABS":
            return _apply(abs, arg)
        return _reduce(name, arg)
    raise validation(
        f"Error in expression: {text!r} uses syntax sagestack's metric math does not "
        f"support (use ids, numbers, + - * / ^, ABS, SUM, AVG, MIN, MAX, METRICS())."
    )


def _apply(func, value: Value) -> Value:
    if isinstance(value, dict):
        return {t: func(v) for t, v in value.items()}
    if isinstance(value, list):
        return [_apply(func, s) for s in value]
    return func(value)


def _binary(op: ast.operator, left: Value, right: Value) -> Value:
    def calc(a: float, b: float) -> float:
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Pow):
            return a**b
        return a / b if b != 0 else math.nan

    if isinstance(left, list) or isinstance(right, list):
        raise validation("Error in expression: arithmetic on arrays of time series is not supported.")
    if isinstance(left, dict) and isinstance(right, dict):
        return {t: calc(v, right[t]) for t, v in left.items() if t in right}
    if isinstance(left, dict):
        return {t: calc(v, right) for t, v in left.items()}
    if isinstance(right, dict):
        return {t: calc(left, v) for t, v in right.items()}
    return calc(left, right)


def _reduce(name: str, value: Value) -> Value:
    pick = {"SUM": sum, "AVG": lambda xs: sum(xs) / len(xs), "MIN": min, "MAX": max}[name]
    if isinstance(value, list):  # across series, per timestamp
        stamps = sorted({t for s in value for t in s})
        return {t: pick([s[t] for s in value if t in s]) for t in stamps}
    if isinstance(value, dict):  # one series → one number
        return pick(list(value.values())) if value else math.nan
    return value
