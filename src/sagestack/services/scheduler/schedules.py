"""EventBridge Scheduler schedules: create, get, update (a whole replacement, as Scheduler's is),
delete, list. Firing is the schedules reconciler's."""

from __future__ import annotations

import time

from ...domain import schedules
from ...domain.schedules import ScheduleError
from ...domain.state import mutate
from ...store.errors import AlreadyExists
from ...store.resources import FieldFilter, ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from .common import errors, group_row, now

OPERATIONS = OperationTable("scheduler", errors)
SETTABLE = (
    "ScheduleExpression",
    "ScheduleExpressionTimezone",
    "StartDate",
    "EndDate",
    "Description",
    "State",
    "Target",
    "FlexibleTimeWindow",
    "KmsKeyArn",
    "ActionAfterCompletion",
)


def _checked(params: dict) -> dict:
    """The schedule's settable members from a Create/UpdateSchedule request (ScheduleError Invalid)."""
    expression = params["ScheduleExpression"].strip()
    schedules.check_expression(expression, params.get("ScheduleExpressionTimezone"))
    window = params.get("FlexibleTimeWindow") or {}
    if window.get("Mode") == "FLEXIBLE" and not window.get("MaximumWindowInMinutes"):
        raise ScheduleError(
            "Invalid", "MaximumWindowInMinutes is required when the FlexibleTimeWindow mode is FLEXIBLE."
        )
    target = dict(params["Target"])
    arn = target.get("Arn", "")
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise ScheduleError("Invalid", f"Invalid target ARN {arn}.")
    if parts[2] == "sagemaker" and not parts[5].startswith("pipeline/"):
        raise ScheduleError("Invalid", f"Invalid target ARN {arn}: a SageMaker target is a pipeline.")
    if parts[2] == "sagemaker" and "SageMakerPipelineParameters" not in target:
        raise ScheduleError(
            "Invalid", "SageMakerPipelineParameters is required for SageMaker pipeline targets."
        )
    start, end = params.get("StartDate"), params.get("EndDate")
    if start and end and end <= start:
        raise ScheduleError("Invalid", "The EndDate must be after the StartDate.")
    if end and end.timestamp() <= time.time():
        raise ScheduleError("Invalid", "The EndDate you specify cannot be earlier than the current time.")
    if params.get("State", "ENABLED") not in schedules.STATES:
        raise ScheduleError("Invalid", f"Invalid State {params.get('State')}.")
    if target.get("RetryPolicy") is None:
        target["RetryPolicy"] = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    out = {m: params[m] for m in SETTABLE if params.get(m) is not None}
    out.update(ScheduleExpression=expression, Target=target, State=params.get("State", "ENABLED"))
    out.setdefault("ScheduleExpressionTimezone", "UTC")
    out.setdefault("ActionAfterCompletion", "NONE")
    return out


def _plan(data: dict) -> None:
    data["_NextFire"] = schedules.plan(data, time.time()) if data["State"] == "ENABLED" else None
    if data["_NextFire"] is None and schedules.one_time(data["ScheduleExpression"]):
        # an at() time already past fires once at once (Scheduler runs a one-time schedule set in the
        # past right away) unless it has fired already
        if not data.get("_LastFire") and data["State"] == "ENABLED":
            data["_NextFire"] = time.time()


def _wake(ctx: RequestContext) -> None:
    reconciler = ctx.platform.get_component("schedules-reconciler")
    if reconciler is not None:
        reconciler.wake()


@OPERATIONS.handler("CreateSchedule")
def create_schedule(ctx: RequestContext, params: dict) -> dict:
    name, group = params["Name"], params.get("GroupName") or schedules.DEFAULT_GROUP
    group_row(ctx, group)
    settings = _checked(params)
    arn = schedules.schedule_arn(ctx.account_id, ctx.region, group, name)
    stamp = now()
    data = {
        "Arn": arn,
        "Name": name,
        "GroupName": group,
        **settings,
        "CreationDate": stamp,
        "LastModificationDate": stamp,
    }
    _plan(data)
    try:
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            schedules.TYPE,
            schedules.key(group, name),
            arn,
            data,
            status=data["State"],
            parent=group,
        )
    except AlreadyExists:
        raise ScheduleError("Conflict", f"Schedule {name} already exists.") from None
    _wake(ctx)
    return {"ScheduleArn": arn}


def _get(ctx: RequestContext, name: str, group: str | None):
    group_row(ctx, group)
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, schedules.TYPE, schedules.key(group, name))
    if row is None:
        raise ScheduleError("NotFound", f"Schedule {name} does not exist.")
    return row


@OPERATIONS.handler("GetSchedule")
def get_schedule(ctx: RequestContext, params: dict) -> dict:
    return schedules.public(_get(ctx, params["Name"], params.get("GroupName")).data)


@OPERATIONS.handler("UpdateSchedule")
def update_schedule(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["Name"], params.get("GroupName"))
    settings = _checked(params)

    def change(resource) -> str:
        kept = {
            k: v
            for k, v in resource.data.items()
            if k in ("Arn", "Name", "GroupName", "CreationDate", "_Fires", "_LastResult")
        }
        resource.data.clear()
        resource.data.update(kept, **settings, LastModificationDate=now())
        _plan(resource.data)
        return resource.data["State"]

    mutate(ctx.platform.resources, row.account_id, row.region, schedules.TYPE, row.name, change)
    _wake(ctx)
    return {"ScheduleArn": row.arn}


@OPERATIONS.handler("DeleteSchedule")
def delete_schedule(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["Name"], params.get("GroupName"))
    ctx.platform.resources.delete(row.account_id, row.region, schedules.TYPE, row.name)
    return {}


@OPERATIONS.handler("ListSchedules")
def list_schedules(ctx: RequestContext, params: dict) -> dict:
    fields = []
    if params.get("GroupName"):
        fields.append(FieldFilter.equals("GroupName", params["GroupName"]))
    if params.get("State"):
        fields.append(FieldFilter.equals("State", params["State"]))
    if params.get("NamePrefix"):
        fields.append(FieldFilter.starts_with("Name", params["NamePrefix"]))
    rows, token = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        schedules.TYPE,
        ListQuery(
            fields=tuple(fields),
            sort_by="Name",
            sort_order="Ascending",
            max_results=params.get("MaxResults") or 100,
            next_token=params.get("NextToken"),
        ),
    )
    listed = [
        {
            "Arn": r.arn,
            "Name": r.data["Name"],
            "GroupName": r.data["GroupName"],
            "State": r.data["State"],
            "CreationDate": r.data["CreationDate"],
            "LastModificationDate": r.data["LastModificationDate"],
            "Target": {"Arn": r.data["Target"]["Arn"]},
        }
        for r in rows
    ]
    out: dict = {"Schedules": listed}
    if token:
        out["NextToken"] = token
    return out
