"""Lineage actions and contexts (Create/Describe/Update/Delete/List), and QueryLineage: a walk over the
associations from ``StartArns`` (Descendants: source → destination; Ascendants: the reverse; Both), to
``MaxDepth``, with the vertices (and edges) it reaches, filtered by type, lineage type and times."""

from __future__ import annotations

import datetime as dt

from ...domain.experiments import store_of
from ...domain.lineage import entity_kind
from ...protocol.errors import ServiceError
from ...store import tokens
from ...store.resources import FieldFilter
from ..context import RequestContext
from ..registry import OperationTable
from .common import arn, now, strip_empty
from .experiments import already_exists, page, public, touch, user_context

ops = OperationTable("sagemaker")

#: resource type → (Name member, Arn member, Type member, summary key)
KINDS = {
    "action": ("ActionName", "ActionArn", "ActionType", "ActionSummaries"),
    "context": ("ContextName", "ContextArn", "ContextType", "ContextSummaries"),
}


def _get(ctx: RequestContext, kind: str, name: str):
    row = (
        ctx.platform.resources.get_by_arn(name)
        if name.startswith("arn:")
        else ctx.platform.resources.get(ctx.account_id, ctx.region, kind, name)
    )
    if row is None or row.resource_type != kind:
        target = name if name.startswith("arn:") else arn(ctx, kind, name)
        raise ServiceError("ResourceNotFound", f"{kind.capitalize()} '{target}' does not exist.")
    return row


def _create(ctx: RequestContext, kind: str, params: dict) -> dict:
    name_key, arn_key, type_key, _ = KINDS[kind]
    name = params[name_key]
    resource_arn = arn(ctx, kind, name)
    stamp = now()
    data = {k: v for k, v in params.items() if k != "Tags"}
    data.update(
        {
            arn_key: resource_arn,
            "CreationTime": stamp,
            "LastModifiedTime": stamp,
            "CreatedBy": user_context(ctx),
            "LastModifiedBy": user_context(ctx),
            "_SourceUri": params["Source"]["SourceUri"],
        }
    )
    with already_exists(kind.capitalize(), name):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            kind,
            name,
            resource_arn,
            strip_empty(data),
            tag_list=params.get("Tags"),
        )
    return {arn_key: resource_arn}


def _update(ctx: RequestContext, kind: str, params: dict) -> dict:
    name_key, arn_key, _, _ = KINDS[kind]
    row = _get(ctx, kind, params[name_key])
    data = touch(ctx, row.data)
    for key in ("Description", "Status"):
        if params.get(key) is not None:
            data[key] = params[key]
    properties = dict(data.get("Properties") or {}, **(params.get("Properties") or {}))
    for key in params.get("PropertiesToRemove") or ():
        properties.pop(key, None)
    data["Properties"] = properties
    ctx.platform.resources.update(row, data)
    return {arn_key: row.arn}


def _delete(ctx: RequestContext, kind: str, params: dict) -> dict:
    name_key, arn_key, _, _ = KINDS[kind]
    row = _get(ctx, kind, params[name_key])
    ctx.platform.resources.delete(ctx.account_id, ctx.region, kind, row.name)
    store_of(ctx.platform.resources).delete_associations_of(row.arn)
    return {arn_key: row.arn}


def _list(ctx: RequestContext, kind: str, params: dict) -> dict:
    name_key, arn_key, type_key, key = KINDS[kind]
    fields = []
    if params.get("SourceUri"):
        fields.append(FieldFilter.equals("_SourceUri", params["SourceUri"]))
    if params.get(type_key):
        fields.append(FieldFilter.equals(type_key, params[type_key]))
    return page(
        ctx,
        kind,
        params,
        key,
        lambda r: {
            k: r.data.get(k)
            for k in (arn_key, name_key, "Source", type_key, "Status", "CreationTime", "LastModifiedTime")
        },
        fields=fields,
    )


@ops.handler("CreateAction")
def create_action(ctx, params):
    return _create(ctx, "action", params)


@ops.handler("CreateContext")
def create_context(ctx, params):
    return _create(ctx, "context", params)


@ops.handler("DescribeAction")
def describe_action(ctx, params):
    return public(_get(ctx, "action", params["ActionName"]).data)


@ops.handler("DescribeContext")
def describe_context(ctx, params):
    return public(_get(ctx, "context", params["ContextName"]).data)


@ops.handler("UpdateAction")
def update_action(ctx, params):
    return _update(ctx, "action", params)


@ops.handler("UpdateContext")
def update_context(ctx, params):
    return _update(ctx, "context", params)


@ops.handler("DeleteAction")
def delete_action(ctx, params):
    return _delete(ctx, "action", params)


@ops.handler("DeleteContext")
def delete_context(ctx, params):
    return _delete(ctx, "context", params)


@ops.handler("ListActions")
def list_actions(ctx, params):
    return _list(ctx, "action", params)


@ops.handler("ListContexts")
def list_contexts(ctx, params):
    return _list(ctx, "context", params)


# -- QueryLineage ---------------------------------------------------------------------------------


def _vertex(row) -> dict:
    lineage_class, kind_type = entity_kind(row)
    return strip_empty({"Arn": row.arn, "Type": kind_type, "LineageType": lineage_class, "_row": row})


def _passes(vertex: dict, filters: dict) -> bool:
    row = vertex["_row"]
    if filters.get("Types") and vertex.get("Type") not in filters["Types"]:
        return False
    if filters.get("LineageTypes") and vertex.get("LineageType") not in filters["LineageTypes"]:
        return False
    created, modified = row.created_at, row.modified_at
    for key, value, later in (
        ("CreatedAfter", created, True),
        ("CreatedBefore", created, False),
        ("ModifiedAfter", modified, True),
        ("ModifiedBefore", modified, False),
    ):
        if filters.get(key) is not None:
            bound = filters[key].timestamp() if isinstance(filters[key], dt.datetime) else float(filters[key])
            if (value <= bound) if later else (value >= bound):
                return False
    wanted = filters.get("Properties") or {}
    if wanted:  # any of the given pairs
        properties = row.data.get("Properties") or {}
        return any(properties.get(key) == value for key, value in wanted.items())
    return True


@ops.handler("QueryLineage")
def query_lineage(ctx: RequestContext, params: dict) -> dict:
    resources = ctx.platform.resources
    store = store_of(resources)
    direction = params.get("Direction", "Both")
    depth = params.get("MaxDepth", 10)
    filters = params.get("Filters") or {}
    starts = params.get("StartArns") or []
    for start in starts:
        if resources.get_by_arn(start) is None:
            raise ServiceError("ResourceNotFound", f"Entity '{start}' does not exist.")
    seen, edges, frontier = set(starts), {}, list(starts)
    order: list[str] = []
    for _ in range(depth):
        following = []
        for current in frontier:
            links = []
            if direction in ("Descendants", "Both"):
                links += [
                    (a, a["destination_arn"])
                    for a in store.associations(ctx.account_id, ctx.region, source=current, limit=10000)
                ]
            if direction in ("Ascendants", "Both"):
                links += [
                    (a, a["source_arn"])
                    for a in store.associations(ctx.account_id, ctx.region, destination=current, limit=10000)
                ]
            for association, other in links:
                pair = (association["source_arn"], association["destination_arn"])
                edges[pair] = association["association_type"]
                if other not in seen:
                    seen.add(other)
                    order.append(other)
                    following.append(other)
        frontier = following
        if not frontier:
            break
    arns = (list(starts) if params.get("IncludeSource") else []) + order
    vertices = []
    for vertex_arn in arns:
        row = resources.get_by_arn(vertex_arn)
        if row is None:
            continue
        vertex = _vertex(row)
        if _passes(vertex, filters):
            vertices.append(vertex)
    offset = tokens.decode_offset(params.get("NextToken"))["o"]
    limit = params.get("MaxResults") or 100
    shown = vertices[offset : offset + limit]
    result: dict = {"Vertices": [{k: v for k, v in vtx.items() if not k.startswith("_")} for vtx in shown]}
    result["Edges"] = []
    if params.get("IncludeEdges", True):
        kept = {v["Arn"] for v in vertices} | set(starts)
        result["Edges"] = [
            {"SourceArn": s, "DestinationArn": d, "AssociationType": t}
            if t
            else {"SourceArn": s, "DestinationArn": d}
            for (s, d), t in edges.items()
            if s in kept and d in kept
        ]
    if offset + limit < len(vertices):
        result["NextToken"] = tokens.encode_offset(offset + limit)
    return result
