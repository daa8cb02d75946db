"""Errors and small checks shared by the CloudWatch handlers (AWS's query-compatible codes)."""

from __future__ import annotations

import datetime as dt
import math

from ...protocol.errors import ServiceError
from ...store.metrics import STANDARD_STATISTICS, MetricStore, metric_store, parse_percentile
from ..context import RequestContext

UTC = dt.timezone.utc


def invalid_value(message: str) -> ServiceError:
    return ServiceError("InvalidParameterValue", message, 400)


def invalid_combination(message: str) -> ServiceError:
    return ServiceError("InvalidParameterCombination", message, 400)


def missing(message: str) -> ServiceError:
    return ServiceError("MissingParameter", message, 400)


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message, 404)


def invalid_token() -> ServiceError:
    return ServiceError("InvalidNextToken", "The service cannot return the NextToken provided.", 400)


def store(ctx: RequestContext) -> MetricStore:
    return metric_store(ctx.platform)


def epoch(value) -> float:
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def check_period(period: int, name: str = "Period") -> None:
    if period in (1, 5, 10, 20, 30) or (period >= 60 and period % 60 == 0):
        return
    raise invalid_value(f"The parameter {name} must be 1, 5, 10, 20, 30, 60, or any multiple of 60.")


def check_statistic(stat: str, name: str = "Statistic") -> None:
    if stat in STANDARD_STATISTICS or parse_percentile(stat) is not None:
        return
    raise invalid_value(f"The value {stat} for parameter {name} is not supported.")


def check_number(value: float, name: str) -> None:
    if math.isnan(value) or math.isinf(value):
        raise invalid_value(f"The value {value} for parameter {name} is invalid.")
