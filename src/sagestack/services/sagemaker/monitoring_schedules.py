"""Monitoring schedules, their executions and alerts: Create/Describe/List/Update/Delete/Start/Stop
MonitoringSchedule, ListMonitoringExecutions, ListMonitoringAlerts, UpdateMonitoringAlert,
ListMonitoringAlertHistory. The handlers validate and record; the monitoring reconciler schedules and
fires executions (``domain/monitoring.py``, ``reconcilers/monitoring.py``)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from ...domain import monitoring
from ...domain.monitoring import FAMILIES, SCHEDULE, SCHEDULES
from ...domain.state import mutate
from ...protocol.errors import ServiceError
from ...store import tokens
from ...store.resources import FieldFilter, ListQuery
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import arn, list_query, now, wake
from .monitoring_job_definitions import check_inputs

ops = OperationTable("sagemaker")


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def _not_found(name: str) -> ServiceError:
    return ServiceError("ResourceNotFound", f"Monitoring Schedule {name} does not exist.")


def _get(ctx: RequestContext, name: str):
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, SCHEDULE, name)
    if row is None:
        raise _not_found(name)
    return row


def _resolve(ctx: RequestContext, config: dict) -> dict:
    """Validate a MonitoringScheduleConfig; the schedule's private members that follow from it."""
    inline = config.get("MonitoringJobDefinition")
    name = config.get("MonitoringJobDefinitionName")
    mtype = config.get("MonitoringType")
    if inline and name:
        raise _invalid(
            "MonitoringScheduleConfig must specify either MonitoringJobDefinition or "
            "MonitoringJobDefinitionName, not both."
        )
    if not inline and not name:
        raise _invalid(
            "MonitoringScheduleConfig must specify MonitoringJobDefinition or MonitoringJobDefinitionName."
        )
    try:
        monitoring.check_schedule_config(config.get("ScheduleConfig"))
    except monitoring.ScheduleError as exc:
        raise _invalid(str(exc)) from None
    if inline:
        if mtype not in (None, monitoring.DATA_QUALITY):
            raise _invalid(
                f"MonitoringType {mtype} cannot be used with an inline MonitoringJobDefinition; use a "
                f"{mtype} job definition (MonitoringJobDefinitionName)."
            )
        inputs = inline.get("MonitoringInputs") or []
        if len(inputs) != 1:
            raise _invalid("MonitoringJobDefinition.MonitoringInputs must hold exactly one input.")
        check_inputs(
            ctx,
            monitoring.DATA_QUALITY,
            inputs[0].get("EndpointInput"),
            inputs[0].get("BatchTransformInput"),
            "MonitoringScheduleConfig.MonitoringJobDefinition.MonitoringInputs",
        )
        endpoint = (inputs[0].get("EndpointInput") or {}).get("EndpointName")
        return {"MonitoringType": monitoring.DATA_QUALITY, "_EndpointName": endpoint, "_DefinitionKey": None}
    if mtype is None:
        raise _invalid("MonitoringType is required with MonitoringJobDefinitionName.")
    family = FAMILIES[mtype]
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, family.resource_type, name)
    if row is None:
        raise _invalid(
            f"Could not find {mtype} job definition {name} (MonitoringJobDefinitionName with MonitoringType "
            f"{mtype})."
        )
    endpoint = (row.data[family.job_input].get("EndpointInput") or {}).get("EndpointName")
    return {
        "MonitoringType": mtype,
        "_EndpointName": endpoint,
        "_DefinitionKey": f"{mtype}/{name}",
        "_DefinitionName": name,
    }


def _default_alert(stamp: dt.datetime) -> dict:
    return {
        "MonitoringAlertName": monitoring.DEFAULT_ALERT,
        "CreationTime": stamp,
        "LastModifiedTime": stamp,
        "AlertStatus": "OK",
        "DatapointsToAlert": 1,
        "EvaluationPeriod": 1,
        "Actions": {"ModelDashboardIndicator": {"Enabled": True}},
    }


@ops.handler("CreateMonitoringSchedule")
def create_monitoring_schedule(ctx: RequestContext, params: dict) -> dict:
    name = params["MonitoringScheduleName"]
    config = params["MonitoringScheduleConfig"]
    derived = _resolve(ctx, config)
    schedule_arn = arn(ctx, "monitoring-schedule", name)
    stamp = now()
    description = {
        "MonitoringScheduleArn": schedule_arn,
        "MonitoringScheduleName": name,
        "MonitoringScheduleStatus": "Pending",
        "CreationTime": stamp,
        "LastModifiedTime": stamp,
        "MonitoringScheduleConfig": config,
        "_Alerts": [_default_alert(stamp)],
        "_AlertHistory": [],
        **{k: v for k, v in derived.items() if v is not None},
    }
    if derived.get("_EndpointName"):
        description["EndpointName"] = derived["_EndpointName"]
    with in_use_if_exists(f"Monitoring Schedule {name} already exists ({schedule_arn})."):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            SCHEDULE,
            name,
            schedule_arn,
            description,
            status="Pending",
            tag_list=params.get("Tags"),
        )
    wake(ctx, "monitoring")
    return {"MonitoringScheduleArn": schedule_arn}


def _executions(ctx: RequestContext, schedule: str | None = None) -> list:
    fields = (FieldFilter.equals("MonitoringScheduleName", schedule),) if schedule else ()
    rows, token = [], None
    while True:
        page, token = ctx.platform.resources.list(
            ctx.account_id,
            ctx.region,
            monitoring.EXECUTION,
            ListQuery(fields=fields, max_results=1000, next_token=token),
        )
        rows.extend(page)
        if not token:
            return rows


@ops.handler("DescribeMonitoringSchedule")
def describe_monitoring_schedule(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["MonitoringScheduleName"])
    out = {k: v for k, v in row.data.items() if not k.startswith("_")}
    executions = _executions(ctx, row.name)
    if executions:
        latest = max(executions, key=lambda e: (e.data["ScheduledTime"], e.data["CreationTime"]))
        out["LastMonitoringExecutionSummary"] = monitoring.summary(latest)
    return out


@ops.handler("ListMonitoringSchedules")
def list_monitoring_schedules(ctx: RequestContext, params: dict) -> dict:
    fields = []
    for param, field in (
        ("EndpointName", "_EndpointName"),
        ("MonitoringJobDefinitionName", "_DefinitionName"),
        ("MonitoringTypeEquals", "MonitoringType"),
    ):
        if params.get(param):
            fields.append(FieldFilter.equals(field, params[param]))
    query = dataclasses.replace(list_query(params), fields=tuple(fields))
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, SCHEDULE, query)
    summaries = []
    for row in rows:
        data = row.data
        item = {
            "MonitoringScheduleName": row.name,
            "MonitoringScheduleArn": row.arn,
            "CreationTime": data["CreationTime"],
            "LastModifiedTime": data["LastModifiedTime"],
            "MonitoringScheduleStatus": row.status,
            "EndpointName": data.get("EndpointName"),
            "MonitoringJobDefinitionName": data.get("_DefinitionName"),
            "MonitoringType": data.get("MonitoringType"),
        }
        summaries.append({k: v for k, v in item.items() if v is not None})
    out: dict = {"MonitoringScheduleSummaries": summaries}
    if token:
        out["NextToken"] = token
    return out


@ops.handler("UpdateMonitoringSchedule")
def update_monitoring_schedule(ctx: RequestContext, params: dict) -> dict:
    name = params["MonitoringScheduleName"]
    row = _get(ctx, name)
    config = params["MonitoringScheduleConfig"]
    derived = _resolve(ctx, config)

    def change(schedule) -> str:
        data = schedule.data
        for key in (
            "_DefinitionKey",
            "_DefinitionName",
            "_EndpointName",
            "EndpointName",
            "_NextRun",
            "_NowFired",
        ):
            data.pop(key, None)
        data.pop("FailureReason", None)
        data.update({k: v for k, v in derived.items() if v is not None})
        if derived.get("_EndpointName"):
            data["EndpointName"] = derived["_EndpointName"]
        data["MonitoringScheduleConfig"] = config
        data["LastModifiedTime"] = now()
        return "Pending"

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, SCHEDULE, name, change, SCHEDULES)
    wake(ctx, "monitoring")
    return {"MonitoringScheduleArn": row.arn}


@ops.handler("StartMonitoringSchedule")
def start_monitoring_schedule(ctx: RequestContext, params: dict) -> dict:
    name = params["MonitoringScheduleName"]
    _get(ctx, name)

    def change(schedule) -> str | None:
        if schedule.status in ("Scheduled", "Pending"):
            return None
        if schedule.status == "Failed":
            raise _invalid(f"Monitoring Schedule {name} has failed; update it to start it again.")
        schedule.data["LastModifiedTime"] = now()
        schedule.data.pop("_NextRun", None)
        return "Pending"

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, SCHEDULE, name, change, SCHEDULES)
    wake(ctx, "monitoring")
    return {}


@ops.handler("StopMonitoringSchedule")
def stop_monitoring_schedule(ctx: RequestContext, params: dict) -> dict:
    name = params["MonitoringScheduleName"]
    _get(ctx, name)

    def change(schedule) -> str | None:
        if schedule.status == "Stopped":
            return None
        if schedule.status == "Failed":
            raise _invalid(f"Monitoring Schedule {name} has failed and is not running.")
        schedule.data["LastModifiedTime"] = now()
        return "Stopped"

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, SCHEDULE, name, change, SCHEDULES)
    return {}


@ops.handler("DeleteMonitoringSchedule")
def delete_monitoring_schedule(ctx: RequestContext, params: dict) -> dict:
    name = params["MonitoringScheduleName"]
    _get(ctx, name)
    ctx.platform.resources.delete(ctx.account_id, ctx.region, SCHEDULE, name)  # executions stay
    return {}


# -- executions ---------------------------------------------------------------------------------------


def _page(items: list, params: dict, default_max: int = 10) -> tuple[list, str | None]:
    offset = tokens.decode_offset(params.get("NextToken"))["o"]
    limit = int(params.get("MaxResults") or default_max)
    page = items[offset : offset + limit]
    token = tokens.encode_offset(offset + limit) if offset + limit < len(items) else None
    return page, token


def _between(value: dt.datetime | None, after, before) -> bool:
    if value is None:
        return after is None and before is None
    stamp = value.timestamp()
    if after is not None and stamp <= _epoch(after):
        return False
    return not (before is not None and stamp >= _epoch(before))


def _epoch(value) -> float:
    return value.timestamp() if isinstance(value, dt.datetime) else float(value)


@ops.handler("ListMonitoringExecutions")
def list_monitoring_executions(ctx: RequestContext, params: dict) -> dict:
    rows = _executions(ctx, params.get("MonitoringScheduleName"))
    selected = []
    for row in rows:
        data = row.data
        if params.get("EndpointName") and data.get("EndpointName") != params["EndpointName"]:
            continue
        if params.get("StatusEquals") and row.status != params["StatusEquals"]:
            continue
        if (
            params.get("MonitoringJobDefinitionName")
            and data.get("MonitoringJobDefinitionName") != params["MonitoringJobDefinitionName"]
        ):
            continue
        if (
            params.get("MonitoringTypeEquals")
            and data.get("MonitoringType") != params["MonitoringTypeEquals"]
        ):
            continue
        if not (
            _between(
                data["ScheduledTime"], params.get("ScheduledTimeAfter"), params.get("ScheduledTimeBefore")
            )
            and _between(
                data["CreationTime"], params.get("CreationTimeAfter"), params.get("CreationTimeBefore")
            )
            and _between(
                data["LastModifiedTime"],
                params.get("LastModifiedTimeAfter"),
                params.get("LastModifiedTimeBefore"),
            )
        ):
            continue
        selected.append(row)
    sort_by = params.get("SortBy", "CreationTime")
    keys = {
        "CreationTime": lambda r: (r.data["CreationTime"], r.name),
        "ScheduledTime": lambda r: (r.data["ScheduledTime"], r.data["CreationTime"]),
        "Status": lambda r: (r.status or "", r.data["CreationTime"]),
    }
    selected.sort(
        key=keys.get(sort_by, keys["CreationTime"]),
        reverse=params.get("SortOrder", "Descending") != "Ascending",
    )
    page, token = _page(selected, params)
    out: dict = {"MonitoringExecutionSummaries": [monitoring.summary(r) for r in page]}
    if token:
        out["NextToken"] = token
    return out


# -- alerts -------------------------------------------------------------------------------------------


@ops.handler("ListMonitoringAlerts")
def list_monitoring_alerts(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["MonitoringScheduleName"])
    page, token = _page(row.data.get("_Alerts") or [], params)
    out: dict = {"MonitoringAlertSummaries": page}
    if token:
        out["NextToken"] = token
    return out


@ops.handler("UpdateMonitoringAlert")
def update_monitoring_alert(ctx: RequestContext, params: dict) -> dict:
    name, alert = params["MonitoringScheduleName"], params["MonitoringAlertName"]
    row = _get(ctx, name)
    if params["DatapointsToAlert"] > params["EvaluationPeriod"]:
        raise _invalid(
            f"DatapointsToAlert ({params['DatapointsToAlert']}) must not be greater than EvaluationPeriod "
            f"({params['EvaluationPeriod']})."
        )
    if not any(a["MonitoringAlertName"] == alert for a in row.data.get("_Alerts") or []):
        raise ServiceError(
            "ResourceNotFound", f"Monitoring alert {alert} does not exist for schedule {name}."
        )

    def change(schedule) -> None:
        for item in schedule.data.get("_Alerts") or []:
            if item["MonitoringAlertName"] == alert:
                item.update(
                    DatapointsToAlert=params["DatapointsToAlert"],
                    EvaluationPeriod=params["EvaluationPeriod"],
                    LastModifiedTime=now(),
                )

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, SCHEDULE, name, change)
    return {"MonitoringScheduleArn": row.arn, "MonitoringAlertName": alert}


@ops.handler("ListMonitoringAlertHistory")
def list_monitoring_alert_history(ctx: RequestContext, params: dict) -> dict:
    rows = (
        [_get(ctx, params["MonitoringScheduleName"])]
        if params.get("MonitoringScheduleName")
        else ctx.platform.resources.list(ctx.account_id, ctx.region, SCHEDULE, ListQuery(max_results=1000))[0]
    )
    items = []
    for row in rows:
        for entry in row.data.get("_AlertHistory") or []:
            if (
                params.get("MonitoringAlertName")
                and entry["MonitoringAlertName"] != params["MonitoringAlertName"]
            ):
                continue
            if params.get("StatusEquals") and entry["AlertStatus"] != params["StatusEquals"]:
                continue
            if not _between(
                entry["CreationTime"], params.get("CreationTimeAfter"), params.get("CreationTimeBefore")
            ):
                continue
            items.append(entry)
    key = (
        (lambda e: (e["AlertStatus"], e["CreationTime"]))
        if params.get("SortBy") == "Status"
        else (lambda e: e["CreationTime"])
    )
    items.sort(key=key, reverse=params.get("SortOrder", "Descending") != "Ascending")
    page, token = _page(items, params)
    out: dict = {"MonitoringAlertHistory": page}
    if token:
        out["NextToken"] = token
    return out
