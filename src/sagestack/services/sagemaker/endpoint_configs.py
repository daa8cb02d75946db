"""CreateEndpointConfig / DescribeEndpointConfig / ListEndpointConfigs / DeleteEndpointConfig."""

from __future__ import annotations

from ...protocol.errors import ServiceError
from ..context import RequestContext
from ..errors import in_use_if_exists
from ..registry import OperationTable
from .common import arn, check_kms_keys, check_name, list_query, not_found, now, strip_empty
from .models import TYPE as MODEL_TYPE
from .models import model_arn

ops = OperationTable("sagemaker")
TYPE = "endpoint-config"
KIND = "endpoint configuration"


def config_arn(ctx: RequestContext, name: str) -> str:
    return arn(ctx, TYPE, name)


def get_config(ctx: RequestContext, name: str) -> dict:
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, TYPE, name)
    if row is None:
        raise not_found(KIND, config_arn(ctx, name))
    return row.data


def _check_variants(ctx: RequestContext, variants: list[dict], field: str) -> list[dict]:
    names = [v["VariantName"] for v in variants]
    if len(set(names)) != len(names):
        raise ServiceError("ValidationException", f"{field}: variant names must be unique.")
    out = []
    for variant in variants:
        check_name(variant["VariantName"], "variantName")
        model = variant.get("ModelName")
        if not model:
            raise ServiceError(
                "ValidationException", f"{field}: ModelName is required for variant {variant['VariantName']}."
            )
        if ctx.platform.resources.get(ctx.account_id, ctx.region, MODEL_TYPE, model) is None:
            raise not_found("model", model_arn(ctx, model))
        serverless = variant.get("ServerlessConfig")
        if serverless and int(serverless.get("ProvisionedConcurrency") or 0) > int(
            serverless["MaxConcurrency"]
        ):
            raise ServiceError(
                "ValidationException",
                f"{field}: ProvisionedConcurrency must not exceed "
                f"MaxConcurrency for variant {variant['VariantName']}.",
            )
        if not serverless:
            if not variant.get("InstanceType"):
                raise ServiceError(
                    "ValidationException",
                    f"{field}: InstanceType is required for variant "
                    f"{variant['VariantName']} (or use ServerlessConfig).",
                )
            if int(variant.get("InitialInstanceCount") or 0) < 1:
                raise ServiceError(
                    "ValidationException",
                    f"{field}: InitialInstanceCount must be at least 1 for variant {variant['VariantName']}.",
                )
        value = dict(variant)
        value.setdefault("InitialVariantWeight", 1.0)
        out.append(value)
    return out


def _check_explainer(explainer: dict | None, variants: list[dict], asynchronous: dict | None) -> None:
    """ExplainerConfig: a ClarifyExplainerConfig with a SHAP baseline and a valid EnableExplanations."""
    if explainer is None:
        return
    from ...clarify.errors import ClarifyError
    from ...clarify.online import compile_expression

    clarify = explainer.get("ClarifyExplainerConfig")
    if not clarify:
        raise ServiceError("ValidationException", "ExplainerConfig must contain ClarifyExplainerConfig.")
    baseline = (clarify.get("ShapConfig") or {}).get("ShapBaselineConfig") or {}
    if not baseline.get("ShapBaseline") and not baseline.get("ShapBaselineUri"):
        raise ServiceError(
            "ValidationException",
            "ClarifyExplainerConfig.ShapConfig.ShapBaselineConfig must specify ShapBaseline or ShapBaselineUri.",
        )
    if baseline.get("ShapBaseline") and baseline.get("ShapBaselineUri"):
        raise ServiceError(
            "ValidationException",
            "ClarifyExplainerConfig.ShapConfig.ShapBaselineConfig: specify only one of ShapBaseline and "
            "ShapBaselineUri.",
        )
    if baseline.get("ShapBaselineUri") and not str(baseline["ShapBaselineUri"]).startswith("s3://"):
        raise ServiceError("ValidationException", "ShapBaselineConfig.ShapBaselineUri must be an s3:// URI.")
    shap_config = clarify.get("ShapConfig") or {}
    types = ((clarify.get("InferenceConfig") or {}).get("FeatureTypes")) or []
    if shap_config.get("TextConfig") or "text" in types:
        raise ServiceError(
            "ValidationException",
            "ClarifyExplainerConfig: text features (TextConfig, FeatureTypes 'text') are not supported by "
            "sagestack's online explainability; use numerical and categorical features.",
        )
    if clarify.get("EnableExplanations"):
        try:
            compile_expression(clarify["EnableExplanations"])
        except ClarifyError as exc:
            raise ServiceError("ValidationException", str(exc)) from None
    if asynchronous or any(v.get("ServerlessConfig") for v in variants):
        raise ServiceError(
            "ValidationException",
            "ExplainerConfig is supported for real-time endpoints with instance-based variants only.",
        )


@ops.handler("CreateEndpointConfig")
def create_endpoint_config(ctx: RequestContext, params: dict) -> dict:
    name = params["EndpointConfigName"]
    check_name(name, "endpointConfigName")
    check_kms_keys(
        ctx,
        params,
        ("KmsKeyId",),
        ("DataCaptureConfig", "KmsKeyId"),
        ("AsyncInferenceConfig", "OutputConfig", "KmsKeyId"),
    )
    variants = _check_variants(ctx, params["ProductionVariants"], "ProductionVariants")
    shadows = _check_variants(ctx, params.get("ShadowProductionVariants") or [], "ShadowProductionVariants")
    capture = params.get("DataCaptureConfig")
    if capture is not None:
        if not str(capture.get("DestinationS3Uri", "")).startswith("s3://"):
            raise ServiceError(
                "ValidationException", "DataCaptureConfig.DestinationS3Uri must be an s3:// URI."
            )
        capture = dict(capture)
        capture.setdefault("EnableCapture", True)
    asynchronous = params.get("AsyncInferenceConfig")
    output_path = str(((asynchronous or {}).get("OutputConfig") or {}).get("S3OutputPath", ""))
    if asynchronous and not output_path.startswith("s3://"):
        raise ServiceError(
            "ValidationException", "AsyncInferenceConfig.OutputConfig.S3OutputPath must be an s3:// URI."
        )
    if asynchronous and any(v.get("ServerlessConfig") for v in variants):
        raise ServiceError(
            "ValidationException",
            "AsyncInferenceConfig is not supported for serverless production "
            "variants; use instance-based variants.",
        )
    _check_explainer(params.get("ExplainerConfig"), variants, asynchronous)
    resource_arn = config_arn(ctx, name)
    data = strip_empty(
        {
            "EndpointConfigName": name,
            "EndpointConfigArn": resource_arn,
            "ProductionVariants": variants,
            "ShadowProductionVariants": shadows or None,
            "DataCaptureConfig": capture,
            "KmsKeyId": params.get("KmsKeyId"),
            "AsyncInferenceConfig": params.get("AsyncInferenceConfig"),
            "ExplainerConfig": params.get("ExplainerConfig"),
            "ExecutionRoleArn": params.get("ExecutionRoleArn"),
            "VpcConfig": params.get("VpcConfig"),
            "EnableNetworkIsolation": params.get("EnableNetworkIsolation"),
            "MetricsConfig": params.get("MetricsConfig"),
            "CreationTime": now(),
        }
    )
    with in_use_if_exists(f'Cannot create already existing endpoint configuration "{resource_arn}".'):
        ctx.platform.resources.create(
            ctx.account_id, ctx.region, TYPE, name, resource_arn, data, tag_list=params.get("Tags")
        )
    return {"EndpointConfigArn": resource_arn}


@ops.handler("DescribeEndpointConfig")
def describe_endpoint_config(ctx: RequestContext, params: dict) -> dict:
    return get_config(ctx, params["EndpointConfigName"])


@ops.handler("ListEndpointConfigs")
def list_endpoint_configs(ctx: RequestContext, params: dict) -> dict:
    rows, token = ctx.platform.resources.list(ctx.account_id, ctx.region, TYPE, list_query(params))
    result = {
        "EndpointConfigs": [
            {"EndpointConfigName": r.name, "EndpointConfigArn": r.arn, "CreationTime": r.data["CreationTime"]}
            for r in rows
        ]
    }
    if token:
        result["NextToken"] = token
    return result


@ops.handler("DeleteEndpointConfig")
def delete_endpoint_config(ctx: RequestContext, params: dict) -> dict:
    name = params["EndpointConfigName"]
    if not ctx.platform.resources.delete(ctx.account_id, ctx.region, TYPE, name):
        raise not_found(KIND, config_arn(ctx, name))
    return {}
