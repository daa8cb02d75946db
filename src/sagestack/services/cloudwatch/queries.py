"""GetMetricData's query checks (the engine that runs them: ``domain/metric_math.py``)."""

from __future__ import annotations

from .common import check_period, check_statistic, validation


def check_queries(queries: list[dict]) -> None:
    ids = [q["Id"] for q in queries]
    if len(set(ids)) != len(ids):
        raise validation("The values for parameter id in MetricDataQueries are not unique.")
    for query in queries:
        stat, expression = query.get("MetricStat"), query.get("Expression")
        if (stat is None) == (expression is None):
            raise validation(
                f"Exactly one of MetricStat and Expression must be specified for the query "
                f"with id {query['Id']}."
            )
        if stat is not None:
            check_period(stat["Period"], "MetricStat.Period")
            check_statistic(stat["Stat"], "MetricStat.Stat")
        elif query.get("Period") is not None:
            check_period(query["Period"])
    if not any(q.get("ReturnData", True) for q in queries):
        raise validation("At least one query must have ReturnData set to true.")
