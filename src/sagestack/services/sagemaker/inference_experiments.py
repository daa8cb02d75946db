"""CreateInferenceExperiment / DescribeInferenceExperiment / ListInferenceExperiments /
StopInferenceExperiment / UpdateInferenceExperiment (shadow tests, ``Type="ShadowMode"``).

An experiment is an in-place update of its endpoint: the production variant keeps serving on its own
instances, and the shadow variants named in ShadowModeConfig start beside it and receive their
SamplingPercentage of the live requests as mirrored copies (``serving/shadow.py``). Stopping it updates
the endpoint again: ``Promote`` makes a shadow the production variant (its instances take the traffic),
``Remove``/``Retain`` drop the shadow and keep production. The reconciler
(``reconcilers/inference_experiments.py``) moves the experiment's status along with its endpoint:
Creating → Running (→ Updating → Running) → Stopping → Completed | Cancelled (the status machine:
``domain/inference_experiments.py``).
"""

from __future__ import annotations

import datetime as dt

from ...domain.endpoints import TYPE as ENDPOINT_TYPE
from ...domain.endpoints import start_update, without_shadows
from ...domain.inference_experiments import EXPERIMENT, KIND, STOPPABLE, TYPE, UPDATABLE, variant_status
from ...protocol.errors import ServiceError
from ...store.resources import ConcurrentModification
from ..context import RequestContext
from ..registry import OperationTable
from .common import arn, check_name, list_page, not_found, now, strip_empty
from .endpoints import _plan_variants, endpoint_arn

ops = OperationTable("sagemaker")
MAX_DURATION = dt.timedelta(days=30)


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def _get(ctx: RequestContext, name: str):
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if row is None:
        raise not_found(KIND, arn(ctx, TYPE, name))
    return row


def _endpoint(ctx: RequestContext, name: str):
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, ENDPOINT_TYPE, name)
    if row is None:
        raise not_found("endpoint", endpoint_arn(ctx, name))
    return row


def _shadow_plan(ctx: RequestContext, plan: dict, variants: list[dict], shadow_config: dict) -> dict:
    """The endpoint plan with the experiment's shadow variants added (production untouched)."""
    by_name = {v["VariantName"]: v for v in variants}
    source = shadow_config["SourceModelVariantName"]
    if source not in {v["VariantName"] for v in plan["Variants"]}:
        raise _invalid(f"SourceModelVariantName {source} is not a production variant of the endpoint.")
    shadows = []
    for shadow in shadow_config["ShadowModelVariants"]:
        name = shadow["ShadowModelVariantName"]
        if name not in by_name:
            raise _invalid(f"Shadow variant {name} must be listed in ModelVariants.")
        if name in {v["VariantName"] for v in plan["Variants"]}:
            raise _invalid(f"Shadow variant {name} has the name of a production variant.")
        percentage = int(shadow["SamplingPercentage"])
        if not 0 < percentage <= 100:
            raise _invalid("SamplingPercentage must be between 1 and 100.")
        infra = by_name[name]["InfrastructureConfig"]["RealTimeInferenceConfig"]
        variant = _plan_variants(
            ctx,
            [
                {
                    "VariantName": name,
                    "ModelName": by_name[name]["ModelName"],
                    "InstanceType": infra["InstanceType"],
                    "InitialInstanceCount": int(infra["InstanceCount"]),
                    "InitialVariantWeight": 1.0,
                }
            ],
        )[0]
        variant["SamplingPercentage"] = percentage
        shadows.append(variant)
    return dict(plan, ShadowVariants=shadows)


def _update_endpoint(ctx: RequestContext, endpoint, plan: dict) -> int:
    if endpoint.status != "InService" or endpoint.data.get("_pending"):
        raise _invalid(f'Cannot update in-progress endpoint "{endpoint.arn}".')
    try:
        start_update(ctx.platform.resources, endpoint, plan, in_place=True)
    except ConcurrentModification:
        raise _invalid(f'Cannot update in-progress endpoint "{endpoint.arn}".') from None
    return int(endpoint.data["_pending"]["generation"])


@ops.handler("CreateInferenceExperiment")
def create_inference_experiment(ctx: RequestContext, params: dict) -> dict:
    name = params["Name"]
    check_name(name, "name")
    if params["Type"] != "ShadowMode":
        raise _invalid(f"Unsupported inference experiment type {params['Type']}.")
    resources = ctx.platform.resources
    resource_arn = arn(ctx, TYPE, name)
    if resources.get(ctx.account_id, ctx.region, TYPE, name) is not None:
        raise ServiceError(
            "ResourceInUse", f'Cannot create already existing inference experiment "{resource_arn}".'
        )
    endpoint = _endpoint(ctx, params["EndpointName"])
    plan = endpoint.data["_plan"]
    if plan.get("ShadowVariants"):
        raise _invalid(f"Endpoint {params['EndpointName']} already has shadow variants.")
    shadow_config = params["ShadowModeConfig"]
    variants = params["ModelVariants"]
    if shadow_config["SourceModelVariantName"] not in {v["VariantName"] for v in variants}:
        raise _invalid("The SourceModelVariantName must be listed in ModelVariants.")
    new_plan = _shadow_plan(ctx, plan, variants, shadow_config)
    when = now()
    schedule = dict(params.get("Schedule") or {})
    schedule.setdefault("StartTime", when)
    schedule.setdefault("EndTime", schedule["StartTime"] + MAX_DURATION)
    if schedule["EndTime"] <= schedule["StartTime"]:
        raise _invalid("The schedule's EndTime must be after its StartTime.")
    generation = _update_endpoint(ctx, endpoint, new_plan)
    data = strip_empty(
        {
            "Arn": resource_arn,
            "Name": name,
            "Type": "ShadowMode",
            "Schedule": schedule,
            "Description": params.get("Description"),
            "CreationTime": when,
            "LastModifiedTime": when,
            "RoleArn": params["RoleArn"],
            "EndpointName": params["EndpointName"],
            "ModelVariants": variants,
            "DataStorageConfig": params.get("DataStorageConfig"),
            "ShadowModeConfig": shadow_config,
            "KmsKey": params.get("KmsKey"),
            "_generation": generation,
        }
    )
    resources.create(
        ctx.account_id,
        ctx.region,
        TYPE,
        name,
        resource_arn,
        data,
        status="Creating",
        tag_list=params.get("Tags"),
    )
    return {"InferenceExperimentArn": resource_arn}


@ops.handler("DescribeInferenceExperiment")
def describe_inference_experiment(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["Name"])
    data = row.data
    out = {k: v for k, v in data.items() if not k.startswith("_") and k != "EndpointName"}
    out["Status"] = row.status
    endpoint = ctx.platform.resources.get(ctx.account_id, ctx.region, ENDPOINT_TYPE, data["EndpointName"])
    metadata = {"EndpointName": data["EndpointName"]}
    if endpoint is not None:
        metadata.update(
            EndpointConfigName=endpoint.data.get("EndpointConfigName"),
            EndpointStatus=endpoint.status,
            FailureReason=endpoint.data.get("FailureReason"),
        )
    out["EndpointMetadata"] = metadata
    out["ModelVariants"] = [
        dict(v, Status=variant_status(row.status, data, v["VariantName"])) for v in data["ModelVariants"]
    ]
    return strip_empty(out)


@ops.handler("ListInferenceExperiments")
def list_inference_experiments(ctx: RequestContext, params: dict) -> dict:
    if params.get("Type") not in (None, "ShadowMode"):  # the only experiment type there is
        return {"InferenceExperiments": []}

    def summary(row) -> dict:
        data = row.data
        return strip_empty(
            {
                "Name": row.name,
                "Type": data["Type"],
                "Schedule": data.get("Schedule"),
                "Status": row.status,
                "StatusReason": data.get("StatusReason"),
                "Description": data.get("Description"),
                "CreationTime": data["CreationTime"],
                "CompletionTime": data.get("CompletionTime"),
                "LastModifiedTime": data.get("LastModifiedTime", data["CreationTime"]),
                "RoleArn": data.get("RoleArn"),
            }
        )

    return list_page(ctx, TYPE, params, "InferenceExperiments", summary)


@ops.handler("StopInferenceExperiment")
def stop_inference_experiment(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["Name"])
    if row.status not in STOPPABLE:
        raise _invalid(f'Cannot stop inference experiment "{row.arn}" in status {row.status}.')
    data = row.data
    actions = params["ModelVariantActions"]
    source = data["ShadowModeConfig"]["SourceModelVariantName"]
    shadows = [s["ShadowModelVariantName"] for s in data["ShadowModeConfig"]["ShadowModelVariants"]]
    unknown = set(actions) - {source, *shadows}
    if unknown:
        raise _invalid(f"ModelVariantActions names unknown variants: {', '.join(sorted(unknown))}.")
    promoted = [name for name, action in actions.items() if action == "Promote"]
    if len(promoted) > 1 or source in promoted:
        raise _invalid("Only one shadow variant can be promoted.")
    if promoted and actions.get(source) != "Remove":
        raise _invalid("Promoting a shadow variant requires the action Remove for the production variant.")
    endpoint = _endpoint(ctx, data["EndpointName"])
    plan = endpoint.data["_plan"]
    production = plan["Variants"]
    if promoted:
        shadow = next(v for v in plan.get("ShadowVariants", []) if v["VariantName"] == promoted[0])
        variant = {k: v for k, v in shadow.items() if k != "SamplingPercentage"}
        desired = {v["VariantName"]: v for v in params.get("DesiredModelVariants") or []}
        if promoted[0] in desired:
            infra = desired[promoted[0]]["InfrastructureConfig"]["RealTimeInferenceConfig"]
            variant.update(InstanceType=infra["InstanceType"], InstanceCount=int(infra["InstanceCount"]))
        variant["Weight"] = sum(float(v.get("Weight", 1.0)) for v in production) or 1.0
        production = [variant] + [v for v in production if v["VariantName"] != source]
    new_plan = without_shadows(plan)
    new_plan["Variants"] = production
    generation = _update_endpoint(ctx, endpoint, new_plan)
    full_actions = {source: "Retain", **{s: "Remove" for s in shadows}, **actions}
    when = now()
    EXPERIMENT.check(row.status, "Stopping")
    ctx.platform.resources.update(
        row,
        dict(
            data,
            _generation=generation,
            _actions=full_actions,
            _desired=params.get("DesiredState") or "Completed",
            StatusReason=params.get("Reason"),
            LastModifiedTime=when,
        ),
        status="Stopping",
    )
    return {"InferenceExperimentArn": row.arn}


@ops.handler("UpdateInferenceExperiment")
def update_inference_experiment(ctx: RequestContext, params: dict) -> dict:
    row = _get(ctx, params["Name"])
    if row.status not in UPDATABLE:
        raise _invalid(f'Cannot update inference experiment "{row.arn}" in status {row.status}.')
    data = dict(row.data)
    status = row.status
    for key in ("Description", "DataStorageConfig"):
        if params.get(key) is not None:
            data[key] = params[key]
    if params.get("Schedule"):
        data["Schedule"] = dict(data.get("Schedule") or {}, **params["Schedule"])
    if params.get("ShadowModeConfig") or params.get("ModelVariants"):
        variants = params.get("ModelVariants") or data["ModelVariants"]
        shadow_config = params.get("ShadowModeConfig") or data["ShadowModeConfig"]
        endpoint = _endpoint(ctx, data["EndpointName"])
        plan = without_shadows(endpoint.data["_plan"])
        data["_generation"] = _update_endpoint(
            ctx, endpoint, _shadow_plan(ctx, plan, variants, shadow_config)
        )
        data.update(ModelVariants=variants, ShadowModeConfig=shadow_config)
        status = "Updating"
    data["LastModifiedTime"] = now()
    EXPERIMENT.check(row.status, status)
    ctx.platform.resources.update(row, data, status=status)
    return {"InferenceExperimentArn": row.arn}
