"""CreateEndpoint / DescribeEndpoint / ListEndpoints / DeleteEndpoint / UpdateEndpoint /
UpdateEndpointWeightsAndCapacities.

Handlers validate and record desired state; the endpoint reconciler (``reconcilers/endpoints.py``) and
the serving controller do the work. At Create/Update time the endpoint config and its models are
resolved into a *plan* stored with the endpoint (the status machine and the plan: ``domain/endpoints.py``).
"""

from __future__ import annotations

from ...domain import endpoints, lineage
from ...domain.endpoints import ENDPOINT, TYPE, capture_summary, retain, start_update, variant_summaries
from ...protocol.errors import ServiceError
from ...store.resources import ConcurrentModification
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import arn, check_name, list_page, not_found, now, strip_empty
from .endpoint_configs import KIND as CONFIG_KIND
from .endpoint_configs import config_arn, get_config
from .models import get_model

ops = OperationTable("sagemaker")


def endpoint_arn(ctx: RequestContext, name: str) -> str:
    return arn(ctx, TYPE, name)


def _get(ctx: RequestContext, name: str):
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if row is None:
        raise not_found("endpoint", endpoint_arn(ctx, name))
    return row


def _model_of(ctx: RequestContext):
    """The model lookup a plan is built with: the model's description, or the error SageMaker gives."""

    def lookup(name: str) -> dict:
        try:
            return get_model(ctx, name)
        except ServiceError:
            raise ServiceError(
                "ValidationException", f'Could not find model "{arn(ctx, "model", name)}".'
            ) from None

    return lookup


def build_plan(ctx: RequestContext, config: dict) -> dict:
    """Resolve an endpoint config and its models into what the controller deploys."""
    return endpoints.build_plan(config, _model_of(ctx))


def _plan_variants(ctx: RequestContext, production_variants: list[dict]) -> list[dict]:
    return endpoints.plan_variants(production_variants, _model_of(ctx))


@ops.handler("CreateEndpoint")
def create_endpoint(ctx: RequestContext, params: dict) -> dict:
    name = params["EndpointName"]
    check_name(name, "endpointName")
    config_name = params["EndpointConfigName"]
    config = get_config(ctx, config_name)
    plan = build_plan(ctx, config)
    resource_arn = endpoint_arn(ctx, name)
    when = now()
    data = {
        "EndpointName": name,
        "EndpointArn": resource_arn,
        "EndpointConfigName": config_name,
        "CreationTime": when,
        "LastModifiedTime": when,
        "_plan": plan,
        "_generation": 1,
    }
    if params.get("DeploymentConfig"):
        data["_deployment_config"] = params["DeploymentConfig"]
    with in_use_if_exists(f'Cannot create already existing endpoint "{resource_arn}".'):
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            TYPE,
            name,
            resource_arn,
            data,
            status="Creating",
            tag_list=params.get("Tags"),
        )
    lineage.endpoint_deployed(
        ctx.platform.resources, ctx.account_id, ctx.region, name, resource_arn, plan["Variants"]
    )
    return {"EndpointArn": resource_arn}


@ops.handler("DescribeEndpoint")
def describe_endpoint(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["EndpointName"])
    return describe(row)


def describe(row) -> dict:
    data = row.data
    out = {k: v for k, v in data.items() if not k.startswith("_")}
    out["EndpointStatus"] = row.status
    plan = data["_plan"]
    if row.status != "Creating" and "ProductionVariants" not in out and row.status != "Failed":
        out["ProductionVariants"] = variant_summaries(plan)
    capture = capture_summary(plan)
    if capture:
        out["DataCaptureConfig"] = capture
    pending = data.get("_pending")
    if pending and row.status == "Updating":
        pending_plan = pending["plan"]
        out["PendingDeploymentSummary"] = {
            "EndpointConfigName": pending_plan["EndpointConfigName"],
            "ProductionVariants": [
                dict(
                    s,
                    VariantStatus=[{"Status": "Creating", "StartTime": pending["start"]}],
                    InstanceType=v["InstanceType"],
                )
                for s, v in zip(variant_summaries(pending_plan, {}), pending_plan["Variants"])
            ],
            "StartTime": pending["start"],
        }
    return strip_empty(out)


@ops.handler("ListEndpoints")
def list_endpoints(ctx: RequestContext, params: dict) -> dict:
    return list_page(
        ctx,
        TYPE,
        params,
        "Endpoints",
        lambda r: {
            "EndpointName": r.name,
            "EndpointArn": r.arn,
            "CreationTime": r.data["CreationTime"],
            "LastModifiedTime": r.data.get("LastModifiedTime", r.data["CreationTime"]),
            "EndpointStatus": r.status,
        },
    )


@ops.handler("DeleteEndpoint")
def delete_endpoint(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["EndpointName"])
    if row.status != "Deleting":
        ENDPOINT.check(row.status, "Deleting")
        ctx.platform.resources.update(row, dict(row.data, LastModifiedTime=now()), status="Deleting")
    return {}


@ops.handler("UpdateEndpoint")
def update_endpoint(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["EndpointName"])
    if row.status not in ("InService", "Failed"):
        raise ServiceError("ValidationException", f'Cannot update in-progress endpoint "{row.arn}".')
    config_name = params["EndpointConfigName"]
    try:
        config = get_config(ctx, config_name)
    except ServiceError:
        raise ServiceError(
            "ValidationException", f'Could not find {CONFIG_KIND} "{config_arn(ctx, config_name)}".'
        ) from None
    plan = build_plan(ctx, config)
    excluded = {p["VariantPropertyType"] for p in params.get("ExcludeRetainedVariantProperties") or []}
    if params.get("RetainAllVariantProperties"):
        plan = retain(row.data["_plan"], plan, excluded)
    deployment = params.get("DeploymentConfig") or row.data.get("_deployment_config")
    if deployment:  # guardrails: traffic shifting, rolling batches, alarm rollback (serving/rollout.py)
        from ...serving.rollout import check_deployment_config

        check_deployment_config(deployment, plan)
    _start_update(ctx, row, plan, in_place=False, deployment=deployment)
    return {"EndpointArn": row.arn}


@ops.handler("UpdateEndpointWeightsAndCapacities")
def update_weights_and_capacities(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["EndpointName"])
    if row.status != "InService":
        raise ServiceError("ValidationException", f'Cannot update in-progress endpoint "{row.arn}".')
    plan = row.data["_plan"]
    variants = {v["VariantName"]: dict(v) for v in plan["Variants"]}
    unknown = [
        d["VariantName"] for d in params["DesiredWeightsAndCapacities"] if d["VariantName"] not in variants
    ]
    if unknown:
        raise ServiceError(
            "ValidationException",
            f'The variant name(s) [{", ".join(unknown)}] is/are not present in endpoint "{row.arn}".',
        )
    for desired in params["DesiredWeightsAndCapacities"]:
        variant = variants[desired["VariantName"]]
        if desired.get("DesiredWeight") is not None:
            variant["Weight"] = float(desired["DesiredWeight"])
        if desired.get("DesiredInstanceCount") is not None:
            if (
                desired["DesiredInstanceCount"] < 1
                and not variant.get("Serverless")
                and not plan.get("AsyncInferenceConfig")
            ):  # async endpoints scale to zero
                raise ServiceError("ValidationException", "DesiredInstanceCount must be at least 1.")
            variant["InstanceCount"] = int(desired["DesiredInstanceCount"])
    new_plan = dict(plan, Variants=[variants[v["VariantName"]] for v in plan["Variants"]])
    _start_update(ctx, row, new_plan, in_place=True)
    return {"EndpointArn": row.arn}


def _start_update(
    ctx: RequestContext, row, plan: dict, in_place: bool, deployment: dict | None = None
) -> None:
    try:
        start_update(ctx.platform.resources, row, plan, in_place, deployment)
    except ConcurrentModification:
        raise ServiceError(
            "ValidationException", f'Cannot update in-progress endpoint "{row.arn}".'
        ) from None
