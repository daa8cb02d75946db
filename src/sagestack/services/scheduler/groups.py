"""Schedule groups (the ``default`` group always exists) and their tags."""

from __future__ import annotations

from ...domain import schedules
from ...domain.schedules import ScheduleError
from ...store.errors import AlreadyExists
from ...store.resources import ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from .common import errors, group_row, now

OPERATIONS = OperationTable("scheduler", errors)


def _describe(ctx: RequestContext, name: str) -> dict:
    row = group_row(ctx, name)
    if row is None:
        return {
            "Arn": schedules.group_arn(ctx.account_id, ctx.region, schedules.DEFAULT_GROUP),
            "Name": schedules.DEFAULT_GROUP,
            "State": "ACTIVE",
        }
    return row.data


@OPERATIONS.handler("CreateScheduleGroup")
def create_schedule_group(ctx: RequestContext, params: dict) -> dict:
    name = params["Name"]
    arn = schedules.group_arn(ctx.account_id, ctx.region, name)
    if name == schedules.DEFAULT_GROUP:
        raise ScheduleError("Conflict", f"Schedule group {name} already exists.")
    stamp = now()
    data = {"Arn": arn, "Name": name, "State": "ACTIVE", "CreationDate": stamp, "LastModificationDate": stamp}
    tags = [{"Key": t["Key"], "Value": t["Value"]} for t in params.get("Tags") or []]
    try:
        ctx.platform.resources.create(
            ctx.account_id, ctx.region, schedules.GROUP_TYPE, name, arn, data, tag_list=tags
        )
    except AlreadyExists:
        raise ScheduleError("Conflict", f"Schedule group {name} already exists.") from None
    return {"ScheduleGroupArn": arn}


@OPERATIONS.handler("GetScheduleGroup")
def get_schedule_group(ctx: RequestContext, params: dict) -> dict:
    return _describe(ctx, params["Name"])


@OPERATIONS.handler("DeleteScheduleGroup")
def delete_schedule_group(ctx: RequestContext, params: dict) -> dict:
    name = params["Name"]
    if name == schedules.DEFAULT_GROUP:
        raise ScheduleError("Invalid", "You cannot delete the default group.")
    group_row(ctx, name)  # NotFound for a group that does not exist
    resources = ctx.platform.resources
    members, _ = resources.list(
        ctx.account_id, ctx.region, schedules.TYPE, ListQuery(parent=name, max_results=10000)
    )
    for member in members:  # Scheduler deletes a group's schedules with it
        resources.delete(member.account_id, member.region, schedules.TYPE, member.name)
    resources.delete(ctx.account_id, ctx.region, schedules.GROUP_TYPE, name)
    return {}


@OPERATIONS.handler("ListScheduleGroups")
def list_schedule_groups(ctx: RequestContext, params: dict) -> dict:
    prefix = params.get("NamePrefix") or ""
    limit = params.get("MaxResults") or 100
    # the default group first, then the stored ones by name; the token is an offset into that order
    rows, _ = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        schedules.GROUP_TYPE,
        ListQuery(sort_by="Name", sort_order="Ascending", max_results=10000),
    )
    everything = [_describe(ctx, schedules.DEFAULT_GROUP)] + [r.data for r in rows]
    everything = [g for g in everything if g["Name"].startswith(prefix)]
    from ...store import tokens

    offset = tokens.decode_offset(params.get("NextToken"))["o"]
    page = everything[offset : offset + limit]
    out: dict = {"ScheduleGroups": page}
    if offset + limit < len(everything):
        out["NextToken"] = tokens.encode_offset(offset + limit)
    return out


def _tagged(ctx: RequestContext, arn: str):
    name = arn.rsplit("schedule-group/", 1)[-1] if "schedule-group/" in arn else None
    if name is None:
        raise ScheduleError("NotFound", f"Resource {arn} does not exist.")
    row = group_row(ctx, name)
    if row is None:
        raise ScheduleError("Invalid", "The default schedule group cannot be tagged.")
    return row


@OPERATIONS.handler("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    row = _tagged(ctx, params["ResourceArn"])
    ctx.platform.resources.add_tags(row.arn, params.get("Tags") or [])
    return {}


@OPERATIONS.handler("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    row = _tagged(ctx, params["ResourceArn"])
    ctx.platform.resources.delete_tags(row.arn, params.get("TagKeys") or [])
    return {}


@OPERATIONS.handler("ListTagsForResource")
def list_tags_for_resource(ctx: RequestContext, params: dict) -> dict:
    row = _tagged(ctx, params["ResourceArn"])
    return {"Tags": ctx.platform.resources.list_tags(row.arn)}
