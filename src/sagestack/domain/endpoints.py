"""Endpoints: the status machine, the deployment plan an endpoint keeps, and what DescribeEndpoint derives
from it.

    Creating  → InService (fleet ready, traffic on) | Failed (FailureReason quotes the model's error)
    InService → Updating (UpdateEndpoint / UpdateEndpointWeightsAndCapacities) | Deleting
    Updating  → InService (new fleet ready, traffic moved, old fleet drained; or, if the new fleet
                failed, the old one still serving and FailureReason set) | Failed (update of a failed
                endpoint that failed again) | RollingBack (a guarded update's alarm fired)
    Failed    → Updating | Deleting
    RollingBack → InService (old configuration, FailureReason set) | Deleting
    Deleting  → (row removed once the workers are stopped)

A *plan* (``_plan``; an update's in ``_pending``) is the endpoint config with its models resolved::

    {"EndpointConfigName": ..., "DataCaptureConfig": {...} | None, "AsyncInferenceConfig": {...}?,
     "Variants": [{"VariantName", "ModelName", "Containers", "Mode", "InstanceType", "InstanceCount",
                   "Weight", "Serverless"}], "ShadowVariants": [...]?}

so the endpoint keeps serving — and comes back after a restart — even if the config or models are
deleted later, as on SageMaker. Internal members start with ``_`` and are never returned.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable

from ..store.resources import Resource
from .models import model_containers
from .state import StateMachine, utcnow, write_status

TYPE = "endpoint"

ENDPOINT = StateMachine(
    "EndpointStatus",
    {
        "Creating": {"InService", "Failed", "Deleting"},
        "InService": {"Updating", "Deleting", "Failed"},
        "Updating": {"InService", "Failed", "Deleting", "RollingBack"},
        "RollingBack": {"InService", "Failed", "Deleting"},
        "Failed": {"Updating", "Deleting"},
        "Deleting": set(),
    },
)

#: The statuses the endpoint reconciler acts on.
WATCHED = ("Creating", "InService", "Updating", "RollingBack", "Deleting")


def build_plan(config: dict, model_of: Callable[[str], dict]) -> dict:
    """Resolve an endpoint config and its models (``model_of(name)``: the model's description, or raise)
    into the plan the serving controller deploys."""
    plan = {
        "EndpointConfigName": config["EndpointConfigName"],
        "Variants": plan_variants(config["ProductionVariants"], model_of),
        "DataCaptureConfig": config.get("DataCaptureConfig"),
    }
    if config.get("ShadowProductionVariants"):  # shadow tests: mirrored traffic (serving/shadow.py)
        plan["ShadowVariants"] = plan_variants(config["ShadowProductionVariants"], model_of)
    if config.get("AsyncInferenceConfig"):  # asynchronous inference (serving/async_inference.py)
        plan["AsyncInferenceConfig"] = config["AsyncInferenceConfig"]
    if config.get("ExplainerConfig"):  # online explainability (serving/explainer.py)
        plan["ExplainerConfig"] = config["ExplainerConfig"]
    return plan


def plan_variants(production_variants: list[dict], model_of: Callable[[str], dict]) -> list[dict]:
    variants = []
    for pv in production_variants:
        model = model_of(pv["ModelName"])
        serverless = pv.get("ServerlessConfig")
        variants.append(
            {
                "VariantName": pv["VariantName"],
                "ModelName": pv["ModelName"],
                # isolated models' containers are marked (serving/modeldir.py: the worker enters its own
                # network namespace; serving/containers.py: an internal network)
                "Containers": model_containers(model),
                "Mode": (model.get("InferenceExecutionConfig") or {}).get("Mode", "Serial"),
                "InstanceType": pv.get("InstanceType") or "ml.m5.large",
                "InstanceCount": 1 if serverless else int(pv.get("InitialInstanceCount") or 1),
                "Weight": float(pv.get("InitialVariantWeight", 1.0)),
                "Serverless": serverless,
            }
        )
    return variants


def write(resources, row: Resource, status: str, **changes) -> Resource:
    """Move the endpoint to ``status`` (checked), setting ``changes`` (None removes a member) and
    LastModifiedTime; ConcurrentModification when someone wrote it first."""
    return write_status(resources, ENDPOINT, row, status, "LastModifiedTime", utcnow(), **changes)


def start_update(
    resources, row: Resource, plan: dict, in_place: bool, deployment: dict | None = None
) -> None:
    """Record an update of the endpoint to ``plan`` (UpdateEndpoint, autoscaling, inference experiments);
    raises ConcurrentModification when someone else wrote the endpoint first."""
    ENDPOINT.check(row.status, "Updating")
    data = dict(row.data)
    when = utcnow()
    data["_pending"] = {
        "plan": plan,
        "generation": int(data.get("_generation", 1)) + 1,
        "in_place": in_place,
        "from_failed": row.status == "Failed",
        "start": when,
    }
    if deployment:
        data["_pending"]["deployment"] = deployment
    data["LastModifiedTime"] = when
    data.pop("FailureReason", None)
    resources.update(row, data, status="Updating", expect_version=True)


def retain(current: dict, new: dict, excluded: set[str]) -> dict:
    """RetainAllVariantProperties: keep the running weights/counts/capture unless excluded."""
    running = {v["VariantName"]: v for v in current["Variants"]}
    variants = []
    for variant in new["Variants"]:
        old = running.get(variant["VariantName"])
        variant = dict(variant)
        if old is not None:
            if "DesiredWeight" not in excluded:
                variant["Weight"] = old["Weight"]
            if "DesiredInstanceCount" not in excluded:
                variant["InstanceCount"] = old["InstanceCount"]
        variants.append(variant)
    plan = dict(new, Variants=variants)
    if "DataCaptureConfig" not in excluded:
        plan["DataCaptureConfig"] = current.get("DataCaptureConfig")
    return plan


def without_shadows(plan: dict) -> dict:
    return {k: v for k, v in plan.items() if k != "ShadowVariants"}


def resolved_image(image: str) -> str:
    """A stable digest form of an image URI, as DescribeEndpoint's DeployedImages reports it."""
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def variant_summaries(
    plan: dict, counts: dict[str, int] | None = None, when: dt.datetime | None = None
) -> list[dict]:
    when = when or utcnow()
    out = []
    for variant in plan["Variants"]:
        images = [
            {
                "SpecifiedImage": c.get("Image", ""),
                "ResolvedImage": resolved_image(c.get("Image", "")),
                "ResolutionTime": when,
            }
            for c in variant["Containers"]
            if c.get("Image")
        ]
        count = variant["InstanceCount"] if counts is None else counts.get(variant["VariantName"], 0)
        summary = {
            "VariantName": variant["VariantName"],
            "DeployedImages": images,
            "CurrentWeight": variant["Weight"],
            "DesiredWeight": variant["Weight"],
            "CurrentInstanceCount": count,
            "DesiredInstanceCount": variant["InstanceCount"],
        }
        if variant.get("Serverless"):
            summary.pop("CurrentInstanceCount")
            summary.pop("DesiredInstanceCount")
            summary["CurrentServerlessConfig"] = variant["Serverless"]
            summary["DesiredServerlessConfig"] = variant["Serverless"]
        out.append(summary)
    return out


def variant_fields(plan: dict, counts: dict[str, int]) -> dict:
    """ProductionVariants / ShadowProductionVariants as the running fleet has them."""
    shadows = plan.get("ShadowVariants")
    return {
        "ProductionVariants": variant_summaries(plan, counts),
        "ShadowProductionVariants": variant_summaries({"Variants": shadows}, counts) if shadows else None,
    }


def capture_summary(plan: dict) -> dict | None:
    config = plan.get("DataCaptureConfig")
    if not config:
        return None
    enabled = bool(config.get("EnableCapture", True))
    return {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": int(config.get("InitialSamplingPercentage", 100)),
        "DestinationS3Uri": config["DestinationS3Uri"],
        "KmsKeyId": config.get("KmsKeyId", ""),
    }
