"""Search over experiments, trials, trial components and training jobs.

The candidates come from the store (narrowed in SQL where the expression pins a parent trial or
experiment, or a name); the SearchExpression — Filters, NestedFilters, SubExpressions, And/Or, the
operators Equals … In — is evaluated against each SearchRecord, property names being dotted paths
(``Parents.ExperimentName``, ``Tags.<key>``, ``Parameters.<name>``, ``Metrics.<name>[.<stat>]``,
``HyperParameters.<name>``); then sorted by ``SortBy`` and cut into pages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import Any

from ...domain.experiments import EXPERIMENT, TRIAL, TRIAL_COMPONENT, store_of
from ...protocol.errors import ServiceError
from ...store import tokens
from ...store.resources import ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from .common import strip_empty
from .experiments import public
from .trial_components import describe as describe_component

ops = OperationTable("sagemaker")

#: Search resource → (store type, SearchRecord key).
RESOURCES = {
    "ExperimentTrialComponent": (TRIAL_COMPONENT, "TrialComponent"),
    "Experiment": (EXPERIMENT, "Experiment"),
    "ExperimentTrial": (TRIAL, "Trial"),
    "TrainingJob": ("training-job", "TrainingJob"),
    "ModelPackageGroup": ("model-package-group", "ModelPackageGroup"),
    "ModelPackage": ("model-package", "ModelPackage"),
}
CONTAINS_ANYWHERE = {
    "displayname",
    "experimentname",
    "trialname",
    "trialcomponentname",
    "tags",
    "inputartifacts",
    "outputartifacts",
}
_MISSING = object()


def _ci_get(mapping: dict, key: str):
    if key in mapping:
        return mapping[key]
    lower = key.lower()
    for name, value in mapping.items():
        if name.lower() == lower:
            return value
    return _MISSING


def resolve(value: Any, path: list[str]) -> list[Any]:
    """The values at a dotted path (a list on the way fans out: any element may match)."""
    if not path:
        if (
            isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in ("NumberValue", "StringValue")
        ):
            return [next(iter(value.values()))]
        if isinstance(value, dict) and "Value" in value and set(value) <= {"Value", "MediaType"}:
            return [value["Value"]]
        return [value]
    if isinstance(value, list):
        if value and all(isinstance(v, dict) and "Key" in v and "Value" in v for v in value):
            return resolve({v["Key"]: v["Value"] for v in value}, path)  # Tags
        if value and all(isinstance(v, dict) and "MetricName" in v for v in value):  # Metrics
            named = {v["MetricName"]: v for v in value}
            for size in range(len(path), 0, -1):  # metric names may hold dots
                key = ".".join(path[:size])
                if key in named:
                    metric = named[key]
                    rest = path[size:]
                    if not rest:
                        return [metric.get("Value", metric.get("Last"))]
                    return resolve(metric, rest)
            return []
        out = []
        for item in value:
            out.extend(resolve(item, path))
        return out
    if isinstance(value, dict):
        for size in range(len(path), 0, -1):  # keys may hold dots (parameter names)
            found = _ci_get(value, ".".join(path[:size]))
            if found is not _MISSING:
                return resolve(found, path[size:])
        return []
    return []


def _number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


def _timestamp(value) -> float | None:
    if isinstance(value, dt.datetime):
        return value.timestamp()
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        number = _number(value)
        return number
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def _compare(found, wanted: str) -> int | None:
    if isinstance(found, dt.datetime):
        other = _timestamp(wanted)
        return None if other is None else (found.timestamp() > other) - (found.timestamp() < other)
    a, b = _number(found), _number(wanted)
    if a is not None and b is not None:
        return (a > b) - (a < b)
    return None


def _matches(found, operator: str, wanted: str | None) -> bool:
    if operator in ("Equals", "NotEquals"):
        cmp = _compare(found, wanted)
        same = cmp == 0 if cmp is not None else str(found) == wanted
        return same if operator == "Equals" else not same
    if operator == "Contains":
        return (
            isinstance(found, str)
            and (wanted or "").lower() in found.lower()
            or (isinstance(found, dict) and any(wanted == k for k in found))
        )
    if operator == "In":
        return str(found) in [v.strip() for v in (wanted or "").split(",")]
    cmp = _compare(found, wanted)
    if cmp is None:
        return False
    return {
        "GreaterThan": cmp > 0,
        "GreaterThanOrEqualTo": cmp >= 0,
        "LessThan": cmp < 0,
        "LessThanOrEqualTo": cmp <= 0,
    }.get(operator, False)


def filter_matches(record: dict, flt: dict) -> bool:
    operator = flt.get("Operator", "Equals")
    values = resolve(record, flt["Name"].split("."))
    if operator == "Exists":
        return bool(values)
    if operator == "NotExists":
        return not values
    wanted = flt.get("Value")
    if operator == "Equals" and wanted and "," in wanted and flt["Name"].lower().endswith("arn"):
        operator = "In"  # the SDK's lineage helper joins ARNs with commas
    if operator == "NotEquals":
        return all(_matches(v, operator, wanted) for v in values) if values else True
    return any(_matches(v, operator, wanted) for v in values)


def expression_matches(record: dict, expression: dict) -> bool:
    results = [filter_matches(record, f) for f in expression.get("Filters") or []]
    for nested in expression.get("NestedFilters") or []:
        items = resolve(record, nested["NestedPropertyName"].split("."))
        results.append(
            any(
                isinstance(item, dict) and all(filter_matches(item, f) for f in nested["Filters"])
                for item in items
            )
        )
    results.extend(expression_matches(record, sub) for sub in expression.get("SubExpressions") or [])
    if expression.get("Operator", "And") == "Or":
        return any(results)
    return all(results)


def check_expression(expression: dict) -> None:
    parts = sum(len(expression.get(k) or []) for k in ("Filters", "NestedFilters", "SubExpressions"))
    if parts == 0:
        raise ServiceError(
            "ValidationException",
            "A SearchExpression must contain at least one of Filters, NestedFilters or SubExpressions.",
        )
    if parts > 20:
        raise ServiceError("ValidationException", "A SearchExpression can contain at most 20 elements.")
    contains = [
        f
        for f in expression.get("Filters") or []
        if f.get("Operator") == "Contains"
        and f["Name"].split(".")[-1].lower() not in CONTAINS_ANYWHERE
        and f["Name"].split(".")[0].lower() not in CONTAINS_ANYWHERE
    ]
    if len(contains) > 1:
        raise ServiceError("ValidationException", "'CONTAINS' operator usage limit of 1 exceeded.")
    for flt in expression.get("Filters") or []:
        if flt.get("Operator", "Equals") not in ("Exists", "NotExists") and flt.get("Value") is None:
            raise ServiceError(
                "ValidationException",
                f"Filter on {flt['Name']} with operator {flt.get('Operator', 'Equals')} requires a Value.",
            )
    for sub in expression.get("SubExpressions") or []:
        check_expression(sub)


def _pinned(expression: dict, name: str) -> str | None:
    """An Equals value the whole expression requires for ``name`` (top-level, And)."""
    if expression.get("Operator", "And") != "And":
        return None
    for flt in expression.get("Filters") or []:
        if (
            flt["Name"].lower() == name.lower()
            and flt.get("Operator", "Equals") == "Equals"
            and "," not in (flt.get("Value") or "")
        ):
            return flt.get("Value")
    return None


def _candidates(ctx: RequestContext, resource_type: str, expression: dict) -> Iterable:
    resources = ctx.platform.resources
    store = store_of(resources)
    conditions = []
    if resource_type == TRIAL_COMPONENT:
        name = _pinned(expression, "TrialComponentName")
        if name is not None:
            row = resources.get(ctx.account_id, ctx.region, resource_type, name)
            return [row] if row else []
        for key, condition in (
            ("Parents.ExperimentName", store.in_experiment),
            ("Parents.TrialName", store.in_trial),
        ):
            value = _pinned(expression, key)
            if value is not None:
                conditions.append(condition(value))
    parent = _pinned(expression, "ExperimentName") if resource_type == TRIAL else None
    return _all(
        ctx,
        resource_type,
        ListQuery(
            conditions=tuple(conditions), parent=parent, sort_by="CreationTime", sort_order="Ascending"
        ),
    )


def _all(ctx: RequestContext, resource_type: str, query: ListQuery):
    token = None
    while True:
        rows, token = ctx.platform.resources.list(
            ctx.account_id,
            ctx.region,
            resource_type,
            ListQuery(**{**query.__dict__, "max_results": 1000, "next_token": token}),
        )
        yield from rows
        if not token:
            return


def _record(ctx: RequestContext, resource_type: str) -> Callable:
    resources = ctx.platform.resources
    store = store_of(resources)

    def experiment(row) -> dict:
        return strip_empty(dict(public(row.data), Tags=resources.list_tags(row.arn)))

    def trial(row) -> dict:
        components = []
        for name in store.components_of(ctx.account_id, ctx.region, row.name):
            component = resources.get(ctx.account_id, ctx.region, TRIAL_COMPONENT, name)
            if component is not None:
                components.append(
                    {
                        "TrialComponentName": name,
                        "TrialComponentArn": component.arn,
                        "TrialComponentSource": component.data.get("Source"),
                        "CreationTime": component.data.get("CreationTime"),
                        "CreatedBy": component.data.get("CreatedBy"),
                    }
                )
        return strip_empty(
            dict(public(row.data), Tags=resources.list_tags(row.arn), TrialComponentSummaries=components)
        )

    def training_job(row) -> dict:
        data = {k: v for k, v in row.data.items() if not k.startswith("_")}
        data["Tags"] = resources.list_tags(row.arn)
        data["Metrics"] = [
            {"MetricName": m["MetricName"], "Value": m["Value"]}
            for m in data.get("FinalMetricDataList") or []
        ]
        return data

    return {
        TRIAL_COMPONENT: lambda row: describe_component(ctx, row, search=True),
        EXPERIMENT: experiment,
        TRIAL: trial,
        "training-job": training_job,
        "model-package-group": experiment,
        "model-package": experiment,
    }[resource_type]


def _sort_key(record: dict, path: str):
    values = resolve(record, path.split("."))
    if not values:
        return (1, 0, "")
    value = values[0]
    if isinstance(value, dt.datetime):
        return (0, value.timestamp(), "")
    number = _number(value)
    return (0, number, "") if number is not None else (0, 0, str(value))


@ops.handler("Search")
def search(ctx: RequestContext, params: dict) -> dict:
    resource = params["Resource"]
    if resource not in RESOURCES:
        raise ServiceError(
            "ValidationException",
            f"Search over {resource} is not supported by sagestack; it "
            f"searches {', '.join(sorted(RESOURCES))}.",
        )
    resource_type, key = RESOURCES[resource]
    expression = params.get("SearchExpression") or {}
    if expression:
        check_expression(expression)
    build = _record(ctx, resource_type)
    records = []
    for row in _candidates(ctx, resource_type, expression):
        record = build(row)
        if not expression or expression_matches(record, expression):
            records.append(record)
    sort_by = params.get("SortBy") or "CreationTime"
    descending = params.get("SortOrder", "Descending") == "Descending"
    present = [r for r in records if resolve(r, sort_by.split("."))]
    missing = [r for r in records if not resolve(r, sort_by.split("."))]
    present.sort(key=lambda r: _sort_key(r, sort_by), reverse=descending)
    records = present + missing
    offset = tokens.decode_offset(params.get("NextToken"))["o"]
    limit = params.get("MaxResults") or 10
    result: dict = {
        "Results": [{key: r} for r in records[offset : offset + limit]],
        "TotalHits": {"Value": len(records), "Relation": "EqualTo"},
    }
    if offset + limit < len(records):
        result["NextToken"] = tokens.encode_offset(offset + limit)
    return result


def _property_names(record: dict, prefix: str = "") -> Iterable[str]:
    for key, value in record.items():
        name = f"{prefix}{key}"
        if key in ("Parameters", "HyperParameters", "InputArtifacts", "OutputArtifacts") and isinstance(
            value, dict
        ):
            yield from (f"{name}.{k}" for k in value)
        elif key == "Tags" and isinstance(value, list):
            yield from (f"{name}.{t['Key']}" for t in value if isinstance(t, dict) and "Key" in t)
        elif key == "Metrics" and isinstance(value, list):
            yield from (
                f"{name}.{m['MetricName']}" for m in value if isinstance(m, dict) and "MetricName" in m
            )
        elif isinstance(value, dict) and not prefix:
            yield from _property_names(value, f"{name}.")
        else:
            yield name


@ops.handler("GetSearchSuggestions")
def get_search_suggestions(ctx: RequestContext, params: dict) -> dict:
    """Property names of the resource's records that start with the hint (case-insensitive), from the
    account's first 200 records."""
    resource = params["Resource"]
    if resource not in RESOURCES:
        raise ServiceError("ValidationException", f"Search over {resource} is not supported by sagestack.")
    resource_type, _ = RESOURCES[resource]
    hint = (
        ((params.get("SuggestionQuery") or {}).get("PropertyNameQuery") or {}).get("PropertyNameHint") or ""
    ).lower()
    build = _record(ctx, resource_type)
    names: set[str] = set()
    for count, row in enumerate(_all(ctx, resource_type, ListQuery(sort_by="CreationTime"))):
        if count >= 200:
            break
        names.update(n for n in _property_names(build(row)) if n.lower().startswith(hint))
    return {"PropertyNameSuggestions": [{"PropertyName": n} for n in sorted(names)]}
