"""Lambda functions: create (from a zip or an S3 object), read, update code and configuration,
publish versions, delete, list, tags."""

from __future__ import annotations

import copy
import re
import shutil
import uuid

from ...domain import functions
from ...domain.functions import FunctionError
from ...domain.state import mutate
from ...objects import object_store
from ...objects.errors import ObjectError
from ...store import tokens
from ...store.errors import AlreadyExists
from ...store.resources import ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from ..tags import tag_list, tag_map
from .common import errors, function_of, lambda_error

OPERATIONS = OperationTable("lambda", errors)
NAME = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
#: Runtimes Lambda no longer creates or updates functions with (deprecated and blocked).
DEPRECATED_RUNTIMES = ("python2.7", "python3.6", "python3.7", "python3.8")
CONFIG_MEMBERS = ("Role", "Handler", "Description", "Timeout", "MemorySize", "Environment", "Runtime")


def _package(ctx: RequestContext, params: dict, name: str) -> dict:
    """The package a request carries (ZipFile) or names (S3Bucket/S3Key), stored."""
    zip_file = params.get("ZipFile")
    bucket, key = params.get("S3Bucket"), params.get("S3Key")
    if params.get("ImageUri"):
        raise FunctionError("InvalidParameter", "sagestack runs Zip packages only: ImageUri is not supported")
    if zip_file is not None and (bucket or key):
        raise FunctionError(
            "InvalidParameter",
            "Please provide a source for function code (ZipFile or S3Bucket/S3Key), not both.",
        )
    if zip_file is None:
        if not bucket or not key:
            raise FunctionError(
                "InvalidParameter",
                "Please do not provide other FunctionCode parameters when providing a ZipFile."
                if bucket or key
                else "Please provide a source for function code.",
            )
        try:
            zip_file = object_store(ctx.platform).get_bytes(bucket, key)
        except ObjectError:
            raise FunctionError(
                "InvalidParameter",
                f"Error occurred while GetObject. S3 Error Code: NoSuchKey. S3 Error Message: "
                f"The specified key does not exist. (s3://{bucket}/{key})",
            ) from None
    return functions.store_package(ctx.platform.settings.data_dir, ctx.account_id, ctx.region, name, zip_file)


def _check_config(params: dict) -> None:
    runtime = params.get("Runtime")
    if runtime in DEPRECATED_RUNTIMES:
        raise FunctionError(
            "InvalidParameter",
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            "functions. We recommend you use a supported runtime while creating or updating functions.",
        )
    if runtime is not None and runtime not in functions.PYTHON_RUNTIMES:
        raise FunctionError(
            "InvalidParameter",
            f"The runtime parameter of {runtime} is not supported by sagestack: it runs Python functions "
            f"({', '.join(functions.PYTHON_RUNTIMES)})",
        )
    timeout = params.get("Timeout")
    if timeout is not None and not 1 <= timeout <= 900:
        raise FunctionError(
            "InvalidParameter",
            f"1 validation error detected: Value '{timeout}' at 'timeout' failed to "
            "satisfy constraint: Member must have value less than or equal to 900",
        )
    memory = params.get("MemorySize")
    if memory is not None and not 128 <= memory <= 10240:
        raise FunctionError(
            "InvalidParameter",
            "'MemorySize' value failed to satisfy constraint: Member must have value "
            "greater than or equal to 128 and less than or equal to 10240",
        )
    handler_name = params.get("Handler")
    if handler_name is not None and "." not in handler_name:
        raise FunctionError(
            "InvalidParameter",
            f"Value '{handler_name}' at 'handler' failed to satisfy constraint: "
            "a Python handler is module.function",
        )


def _publish(data: dict, account: str, region: str, name: str, description: str | None = None) -> str:
    versions = data.setdefault("Versions", {})
    number = str(data.get("_NextVersion", 1))
    data["_NextVersion"] = int(number) + 1
    snapshot = {k: copy.deepcopy(v) for k, v in data.items() if k not in ("Versions", "_NextVersion")}
    snapshot.update(Version=number, FunctionArn=functions.function_arn(account, region, name, number))
    if description is not None:
        snapshot["Description"] = description
    versions[number] = snapshot
    return number


@OPERATIONS.handler("CreateFunction")
def create_function(ctx: RequestContext, params: dict) -> dict:
    name = params["FunctionName"]
    if not NAME.match(name):
        raise FunctionError(
            "InvalidParameter",
            f"1 validation error detected: Value '{name}' at 'functionName' failed "
            "to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+",
        )
    if params.get("PackageType", "Zip") != "Zip":
        raise FunctionError(
            "InvalidParameter", "sagestack runs Zip packages only: PackageType Image is not supported"
        )
    if not params.get("Runtime") or not params.get("Handler"):
        raise FunctionError(
            "InvalidParameter",
            "Runtime and Handler are mandatory parameters for functions created with Zip packages.",
        )
    _check_config(params)
    if ctx.platform.resources.get(ctx.account_id, ctx.region, functions.TYPE, name) is not None:
        raise FunctionError("Exists", f"Function already exist: {name}")
    package = _package(ctx, params.get("Code") or {}, name)
    arn = functions.function_arn(ctx.account_id, ctx.region, name)
    data = {
        "FunctionName": name,
        "FunctionArn": arn,
        "Runtime": params["Runtime"],
        "Role": params["Role"],
        "Handler": params["Handler"],
        "Description": params.get("Description", ""),
        "Timeout": params.get("Timeout", 3),
        "MemorySize": params.get("MemorySize", 128),
        "LastModified": functions.timestamp(),
        "Version": "$LATEST",
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": str(uuid.uuid4()),
        "State": "Pending",
        "StateReason": "The function is being created.",
        "StateReasonCode": "Creating",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": params.get("Architectures") or ["x86_64"],
        "EphemeralStorage": params.get("EphemeralStorage") or {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        **package,
    }
    if params.get("Environment") is not None:
        data["Environment"] = {"Variables": (params["Environment"] or {}).get("Variables") or {}}
    if params.get("Publish"):
        _publish(data, ctx.account_id, ctx.region, name)
    tags = tag_list(params.get("Tags"))
    try:
        row = ctx.platform.resources.create(
            ctx.account_id, ctx.region, functions.TYPE, name, arn, data, status="Pending", tag_list=tags
        )
    except AlreadyExists:
        raise FunctionError("Exists", f"Function already exist: {name}") from None
    _wake(ctx)
    return functions.configuration(row, "1" if params.get("Publish") else None)


def _wake(ctx: RequestContext) -> None:
    reconciler = ctx.platform.get_component("functions-reconciler")
    if reconciler is not None:
        reconciler.wake()


@OPERATIONS.handler("GetFunction")
def get_function(ctx: RequestContext, params: dict) -> dict:
    row, qualifier = function_of(ctx, params["FunctionName"])
    qualifier = params.get("Qualifier") or qualifier
    config = functions.configuration(row, qualifier)
    code = (
        row.data["_Code"]
        if not qualifier or qualifier == "$LATEST"
        else row.data["Versions"][qualifier]["_Code"]
    )
    location = (
        f"{ctx.platform.settings.endpoint_url}/_sagestack/lambda-code/{row.account_id}/{row.region}/{row.name}/"
        f"{code['Token']}"
    )
    out = {"Configuration": config, "Code": {"RepositoryType": "S3", "Location": location}}
    tags = tag_map(ctx.platform.resources.list_tags(row.arn))
    if tags:
        out["Tags"] = tags
    return out


@OPERATIONS.handler("GetFunctionConfiguration")
def get_function_configuration(ctx: RequestContext, params: dict) -> dict:
    row, qualifier = function_of(ctx, params["FunctionName"])
    return functions.configuration(row, params.get("Qualifier") or qualifier)


def _change(ctx: RequestContext, params: dict, edit) -> dict:
    row, _ = function_of(ctx, params["FunctionName"])
    if row.data.get("LastUpdateStatus") == "InProgress" or row.data.get("State") == "Pending":
        raise FunctionError(
            "Conflict",
            f"The operation cannot be performed at this time. An update is in progress for resource: {row.arn}",
        )
    if params.get("RevisionId") and params["RevisionId"] != row.data.get("RevisionId"):
        raise FunctionError(
            "PreconditionFailed",
            "The Revision Id provided does not match the latest Revision Id. "
            "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        )
    published: list[str] = []

    def change(resource) -> None:
        edit(resource.data)
        functions.start_update(resource.data)
        if params.get("Publish"):
            published.append(_publish(resource.data, resource.account_id, resource.region, resource.name))

    updated = mutate(ctx.platform.resources, row.account_id, row.region, functions.TYPE, row.name, change)
    _wake(ctx)
    return functions.configuration(updated, published[0] if published else None)


@OPERATIONS.handler("UpdateFunctionCode")
def update_function_code(ctx: RequestContext, params: dict) -> dict:
    row, _ = function_of(ctx, params["FunctionName"])
    package = _package(ctx, params, row.name)
    if params.get("DryRun"):
        config = functions.configuration(row)
        config.update({k: v for k, v in package.items() if not k.startswith("_")})
        return config
    return _change(ctx, params, lambda data: data.update(package))


@OPERATIONS.handler("UpdateFunctionConfiguration")
def update_function_configuration(ctx: RequestContext, params: dict) -> dict:
    _check_config(params)

    def edit(data: dict) -> None:
        for member in CONFIG_MEMBERS:
            if member in params:
                if member == "Environment":
                    data["Environment"] = {"Variables": (params["Environment"] or {}).get("Variables") or {}}
                else:
                    data[member] = params[member]

    return _change(ctx, params, edit)


@OPERATIONS.handler("PublishVersion")
def publish_version(ctx: RequestContext, params: dict) -> dict:
    row, _ = function_of(ctx, params["FunctionName"])
    if row.data.get("State") != "Active":
        raise FunctionError(
            "Conflict",
            "The operation cannot be performed at this time. The function is currently in "
            f"the following state: {row.data.get('State')}",
        )
    if params.get("CodeSha256") and params["CodeSha256"] != row.data.get("CodeSha256"):
        raise FunctionError("InvalidParameter", "CodeSha256 does not match the function's code")
    published: list[str] = []

    def change(resource) -> None:
        latest = resource.data.get("Versions", {})
        for number, version in latest.items():  # an unchanged function is not published again
            if version.get("CodeSha256") == resource.data.get("CodeSha256") and all(
                version.get(m) == resource.data.get(m) for m in CONFIG_MEMBERS if m != "Description"
            ):
                published.append(number)
                return
        published.append(
            _publish(
                resource.data, resource.account_id, resource.region, resource.name, params.get("Description")
            )
        )

    updated = mutate(ctx.platform.resources, row.account_id, row.region, functions.TYPE, row.name, change)
    return functions.configuration(updated, published[0])


@OPERATIONS.handler("DeleteFunction")
def delete_function(ctx: RequestContext, params: dict) -> dict:
    row, qualifier = function_of(ctx, params["FunctionName"])
    qualifier = params.get("Qualifier") or qualifier
    if qualifier == "$LATEST":
        raise FunctionError(
            "InvalidParameter", "$LATEST version cannot be deleted without deleting the function."
        )
    if qualifier:
        mutate(
            ctx.platform.resources,
            row.account_id,
            row.region,
            functions.TYPE,
            row.name,
            lambda resource: resource.data.get("Versions", {}).pop(qualifier, None) and None,
        )
        return {}
    ctx.platform.resources.delete(row.account_id, row.region, functions.TYPE, row.name)
    shutil.rmtree(
        functions.code_dir(ctx.platform.settings.data_dir, row.account_id, row.region, row.name),
        ignore_errors=True,
    )
    return {}


@OPERATIONS.handler("ListFunctions")
def list_functions(ctx: RequestContext, params: dict) -> dict:
    limit = params.get("MaxItems") or 50
    if not 1 <= limit <= 10000:
        raise FunctionError("InvalidParameter", "MaxItems must be between 1 and 10000")
    rows, token = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        functions.TYPE,
        ListQuery(sort_by="Name", sort_order="Ascending", max_results=limit, next_token=params.get("Marker")),
    )
    listed = []
    for row in rows:
        listed.append(functions.configuration(row))
        if params.get("FunctionVersion") == "ALL":
            listed.extend(functions.configuration(row, v) for v in row.data.get("Versions", {}))
    out: dict = {"Functions": listed}
    if token:
        out["NextMarker"] = token
    return out


@OPERATIONS.handler("ListVersionsByFunction")
def list_versions_by_function(ctx: RequestContext, params: dict) -> dict:
    row, _ = function_of(ctx, params["FunctionName"])
    limit = params.get("MaxItems") or 50
    if not 1 <= limit <= 10000:
        raise FunctionError("InvalidParameter", "MaxItems must be between 1 and 10000")
    numbers = sorted(row.data.get("Versions", {}), key=int)
    everything = [functions.configuration(row)] + [functions.configuration(row, n) for n in numbers]
    offset = tokens.decode_offset(params.get("Marker"))["o"]
    out: dict = {"Versions": everything[offset : offset + limit]}
    if offset + limit < len(everything):
        out["NextMarker"] = tokens.encode_offset(offset + limit)
    return out


def _tagged(ctx: RequestContext, arn: str):
    row, _ = function_of(ctx, arn)
    return row


@OPERATIONS.handler("TagResource")
def tag_resource(ctx: RequestContext, params: dict) -> dict:
    row = _tagged(ctx, params["Resource"])
    ctx.platform.resources.add_tags(row.arn, tag_list(params.get("Tags")))
    return {}


@OPERATIONS.handler("UntagResource")
def untag_resource(ctx: RequestContext, params: dict) -> dict:
    row = _tagged(ctx, params["Resource"])
    ctx.platform.resources.delete_tags(row.arn, params.get("TagKeys") or [])
    return {}


@OPERATIONS.handler("ListTags")
def list_tags(ctx: RequestContext, params: dict) -> dict:
    row = _tagged(ctx, params["Resource"])
    return {"Tags": tag_map(ctx.platform.resources.list_tags(row.arn))}


__all__ = ["OPERATIONS", "lambda_error"]
