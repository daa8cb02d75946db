"""SageMaker Pipelines: the handlers validate, record desired state and return; the engine
(reconcilers.pipelines) runs executions (domain: ``domain/pipelines.py``, ``domain/pipeline_executions.py``)."""

from __future__ import annotations

import json

from ...domain import pipeline_executions as executions
from ...domain.pipeline_executions import ACTIVE, EXECUTION, set_step
from ...domain.pipeline_expressions import ExpressionError, Scope, evaluate, parse_parameter, to_string
from ...domain.pipelines import PIPELINE, DefinitionError, name_from, parse, pipeline_arn
from ...domain.state import mutate
from ...execution.storage import JobStorage
from ...protocol.errors import ServiceError
from ...store.db import decode_token, encode_token
from ...store.errors import AlreadyExists
from ...store.resources import ListQuery
from ..context import RequestContext
from ..registry import OperationTable
from .common import now, wake

ops = OperationTable("sagemaker")


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def _not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFound", message)


def _pipeline(ctx: RequestContext, name_or_arn: str):
    name = name_from(name_or_arn)
    row = ctx.platform.resources.get(ctx.account_id, ctx.region, PIPELINE, name)
    if row is None:
        raise _not_found(f"Pipeline '{pipeline_arn(ctx.region, ctx.account_id, name)}' does not exist.")
    return row


def _execution(ctx: RequestContext, arn: str):
    row = ctx.platform.resources.get_by_arn(arn)
    if row is None or row.resource_type != EXECUTION or row.account_id != ctx.account_id:
        raise _not_found(f"Pipeline execution '{arn}' does not exist.")
    return row


def _definition_text(ctx: RequestContext, params: dict) -> str | None:
    text, location = params.get("PipelineDefinition"), params.get("PipelineDefinitionS3Location")
    if text is not None and location is not None:
        raise _invalid("Both Pipeline Definition and Pipeline Definition S3 Location shouldn't be present")
    if location is not None:
        try:
            raw = JobStorage(ctx.platform, ctx.account_id, ctx.region).read_bytes(
                location["Bucket"], location["ObjectKey"]
            )
        except Exception as exc:
            raise _invalid(
                f"Could not read the pipeline definition from s3://{location['Bucket']}/{location['ObjectKey']}: {exc}"
            ) from None
        return raw.decode("utf-8", errors="replace")
    return text


def _parse(text: str):
    try:
        return parse(text)
    except DefinitionError as exc:
        raise _invalid(f"Invalid pipeline definition: {exc}") from None


def _public(data: dict) -> dict:
    return {k: v for k, v in data.items() if not k.startswith("_") and v is not None}


def _page(items: list, params: dict, key: str, default_max: int = 100) -> dict:
    offset = decode_token(params.get("NextToken"))["o"]
    limit = params.get("MaxResults") or default_max
    result: dict = {key: items[offset : offset + limit]}
    if offset + limit < len(items):
        result["NextToken"] = encode_token(offset + limit)
    return result


# -- pipelines -------------------------------------------------------------------------------


@ops.handler("CreatePipeline")
def create_pipeline(ctx: RequestContext, params: dict) -> dict:
    name = params["PipelineName"]
    text = _definition_text(ctx, params)
    if text is None:
        raise _invalid("Either Pipeline Definition or Pipeline Definition S3 location should be provided")
    arn = pipeline_arn(ctx.region, ctx.account_id, name)
    if ctx.platform.resources.get(ctx.account_id, ctx.region, PIPELINE, name) is not None:
        raise _invalid(
            f"Pipeline names must be unique within an AWS account and region. Pipeline with name ({name}) already exists."
        )
    _parse(text)
    created = now()
    who = {"IamIdentity": {"Arn": ctx.principal_arn}} if ctx.principal_arn else {}
    version = {
        "PipelineVersionId": 1,
        "CreationTime": created,
        "_Definition": text,
        "RoleArn": params["RoleArn"],
        "PipelineDisplayName": params.get("PipelineDisplayName") or name,
        "PipelineDescription": params.get("PipelineDescription"),
        "ParallelismConfiguration": params.get("ParallelismConfiguration"),
    }
    data = {
        "PipelineArn": arn,
        "PipelineName": name,
        "PipelineDisplayName": params.get("PipelineDisplayName") or name,
        "PipelineDescription": params.get("PipelineDescription"),
        "RoleArn": params["RoleArn"],
        "PipelineStatus": "Active",
        "CreationTime": created,
        "LastModifiedTime": created,
        "CreatedBy": who,
        "LastModifiedBy": who,
        "ParallelismConfiguration": params.get("ParallelismConfiguration"),
        "_Versions": [version],
    }
    try:
        ctx.platform.resources.create(
            ctx.account_id,
            ctx.region,
            PIPELINE,
            name,
            arn,
            data,
            status="Active",
            tag_list=params.get("Tags"),
        )
    except AlreadyExists:
        raise _invalid(
            f"Pipeline names must be unique within an AWS account and region. Pipeline with name ({name}) already exists."
        ) from None
    return {"PipelineArn": arn}


@ops.handler("UpdatePipeline")
def update_pipeline(ctx: RequestContext, params: dict) -> dict:
    row = _pipeline(ctx, params["PipelineName"])
    text = _definition_text(ctx, params)
    if text is not None:
        _parse(text)
    result = {}

    def change(pipeline) -> None:
        data = pipeline.data
        versions = data["_Versions"]
        stamp = now()
        for key in ("PipelineDisplayName", "PipelineDescription", "RoleArn", "ParallelismConfiguration"):
            if params.get(key) is not None:
                data[key] = params[key]
        version = {
            "PipelineVersionId": versions[-1]["PipelineVersionId"] + 1,
            "CreationTime": stamp,
            "_Definition": text if text is not None else versions[-1]["_Definition"],
            "RoleArn": data["RoleArn"],
            "PipelineDisplayName": data.get("PipelineDisplayName"),
            "PipelineDescription": data.get("PipelineDescription"),
            "ParallelismConfiguration": data.get("ParallelismConfiguration"),
        }
        versions.append(version)
        data["LastModifiedTime"] = stamp
        result["PipelineVersionId"] = version["PipelineVersionId"]

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, PIPELINE, row.name, change)
    return {"PipelineArn": row.data["PipelineArn"], "PipelineVersionId": result["PipelineVersionId"]}


def _version(row, version_id: int | None) -> dict:
    versions = row.data["_Versions"]
    if version_id is None:
        return versions[-1]
    for version in versions:
        if version["PipelineVersionId"] == version_id:
            return version
    raise _not_found(f"Pipeline version {version_id} of pipeline '{row.data['PipelineArn']}' does not exist.")


@ops.handler("DescribePipeline")
def describe_pipeline(ctx: RequestContext, params: dict) -> dict:
    row = _pipeline(ctx, params["PipelineName"])
    version = _version(row, params.get("PipelineVersionId"))
    out = _public(row.data)
    out["PipelineDefinition"] = version["_Definition"]
    out["PipelineVersionId"] = version["PipelineVersionId"]
    if params.get("PipelineVersionId") is not None:
        for key in ("RoleArn", "PipelineDisplayName", "PipelineDescription", "ParallelismConfiguration"):
            if version.get(key) is not None:
                out[key] = version[key]
    for key in ("PipelineVersionDisplayName", "PipelineVersionDescription"):
        if version.get(key) is not None:
            out[key] = version[key]
    return out


@ops.handler("DeletePipeline")
def delete_pipeline(ctx: RequestContext, params: dict) -> dict:
    row = _pipeline(ctx, params["PipelineName"])
    resources = ctx.platform.resources
    runs = _executions_of(ctx, row.name)
    busy = [r for r in runs if r.status in ACTIVE]
    if busy:
        raise ServiceError(
            "ConflictException",
            f"Pipeline '{row.data['PipelineArn']}' has {len(busy)} running execution(s); stop them before deleting it.",
        )
    for run in runs:
        resources.delete(ctx.account_id, ctx.region, EXECUTION, run.name)
    resources.delete(ctx.account_id, ctx.region, PIPELINE, row.name)
    return {"PipelineArn": row.data["PipelineArn"]}


def _executions_of(ctx: RequestContext, pipeline: str) -> list:
    out, token = [], None
    while True:
        rows, token = ctx.platform.resources.list(
            ctx.account_id,
            ctx.region,
            EXECUTION,
            ListQuery(
                parent=pipeline,
                sort_by="CreationTime",
                sort_order="Descending",
                max_results=100,
                next_token=token,
            ),
        )
        out.extend(rows)
        if not token:
            return out


@ops.handler("ListPipelines")
def list_pipelines(ctx: RequestContext, params: dict) -> dict:
    prefix = params.get("PipelineNamePrefix")
    rows, token = [], None
    while True:
        page, token = ctx.platform.resources.list(
            ctx.account_id,
            ctx.region,
            PIPELINE,
            ListQuery(
                name_contains=prefix,
                created_after=params.get("CreatedAfter"),
                created_before=params.get("CreatedBefore"),
                sort_by=params.get("SortBy", "CreationTime"),
                sort_order=params.get("SortOrder", "Descending"),
                max_results=100,
                next_token=token,
            ),
        )
        rows.extend(page)
        if not token:
            break
    if prefix:
        rows = [r for r in rows if r.name.lower().startswith(prefix.lower())]
    summaries = [
        {
            k: v
            for k, v in {
                "PipelineArn": r.data["PipelineArn"],
                "PipelineName": r.data["PipelineName"],
                "PipelineDisplayName": r.data.get("PipelineDisplayName"),
                "PipelineDescription": r.data.get("PipelineDescription"),
                "RoleArn": r.data.get("RoleArn"),
                "CreationTime": r.data["CreationTime"],
                "LastModifiedTime": r.data.get("LastModifiedTime"),
                "LastExecutionTime": r.data.get("LastRunTime"),
            }.items()
            if v is not None
        }
        for r in rows
    ]
    return _page(summaries, params, "PipelineSummaries", 10)


@ops.handler("ListPipelineVersions")
def list_pipeline_versions(ctx: RequestContext, params: dict) -> dict:
    row = _pipeline(ctx, params["PipelineName"])
    versions = list(row.data["_Versions"])
    after, before = params.get("CreatedAfter"), params.get("CreatedBefore")
    versions = [
        v
        for v in versions
        if (after is None or v["CreationTime"] > after) and (before is None or v["CreationTime"] < before)
    ]
    if params.get("SortOrder", "Descending") == "Descending":
        versions.reverse()
    summaries = [
        {
            k: v
            for k, v in {
                "PipelineArn": row.data["PipelineArn"],
                "PipelineVersionId": item["PipelineVersionId"],
                "CreationTime": item["CreationTime"],
                "PipelineVersionDescription": item.get("PipelineVersionDescription"),
                "PipelineVersionDisplayName": item.get("PipelineVersionDisplayName"),
                "LastExecutionPipelineExecutionArn": item.get("LastExecutionPipelineExecutionArn"),
            }.items()
            if v is not None
        }
        for item in versions
    ]
    return _page(summaries, params, "PipelineVersionSummaries", 10)


@ops.handler("UpdatePipelineVersion")
def update_pipeline_version(ctx: RequestContext, params: dict) -> dict:
    row = _pipeline(ctx, params["PipelineArn"])
    wanted = params["PipelineVersionId"]
    _version(row, wanted)

    def change(pipeline) -> None:
        for version in pipeline.data["_Versions"]:
            if version["PipelineVersionId"] == wanted:
                for key in ("PipelineVersionDisplayName", "PipelineVersionDescription"):
                    if params.get(key) is not None:
                        version[key] = params[key]

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, PIPELINE, row.name, change)
    return {"PipelineArn": row.data["PipelineArn"], "PipelineVersionId": wanted}


# -- executions ------------------------------------------------------------------------------


def _effective_parameters(definition, supplied: list[dict]) -> dict:
    values: dict = {}
    given: dict[str, str] = {}
    for item in supplied:
        if item["Name"] not in definition.parameters:
            raise _invalid(f"Unknown parameter '{item['Name']}'")
        if item["Name"] in given:
            raise _invalid(f"Parameter '{item['Name']}' is given more than once.")
        given[item["Name"]] = item["Value"]
    for name, declared in definition.parameters.items():
        if name in given:
            try:
                value = parse_parameter(name, declared["Type"], given[name])
            except ExpressionError as exc:
                raise _invalid(str(exc)) from None
            enum = declared.get("EnumValues")
            if enum and value not in enum:
                raise _invalid(f"Parameter '{name}' value '{given[name]}' is not one of {enum}.")
        elif declared.get("DefaultValue") is not None:
            value = declared["DefaultValue"]
            if declared["Type"] == "Float":
                value = float(value)
        else:
            raise _invalid(f"Parameter '{name}' is undefined.")
        values[name] = value
    return values


def _selective(ctx: RequestContext, definition, config: dict | None, pipeline_name: str) -> tuple[dict, list]:
    """(records reused from the source execution, steps skipped) for a SelectiveExecutionConfig."""
    if not config:
        return {}, []
    selected = [s["StepName"] for s in config.get("SelectedSteps") or []]
    for name in selected:
        if name not in definition.steps:
            raise _invalid(f"Selected step {name} is not a step of the pipeline.")
    chosen = set(selected)
    ancestors: set[str] = set()
    frontier = list(chosen)
    while frontier:
        for dep in definition.steps[frontier.pop()].depends:
            if dep not in ancestors:
                ancestors.add(dep)
                frontier.append(dep)
    descendants: set[str] = set()
    for name in chosen:
        descendants |= definition.dependants(name)
    between = sorted((ancestors & descendants) - chosen)
    if between:
        raise _invalid(
            f"All step(s) in all path(s) between two selected steps should be included in the selection; "
            f"missing: {between}."
        )
    needed = sorted(ancestors - chosen)
    reused: dict = {}
    if needed:
        source_arn = config.get("SourcePipelineExecutionArn")
        if not source_arn:
            raise _invalid(
                f"Invalid SourcePipelineExecutionArn: null. The selected steps {selected} have dependencies on {needed}"
            )
        source = ctx.platform.resources.get_by_arn(source_arn)
        if source is None or source.resource_type != EXECUTION or source.parent != pipeline_name:
            raise _invalid(
                f"Invalid SourcePipelineExecutionArn: {source_arn} is not an execution of this pipeline."
            )
        if source.status not in ("Succeeded", "Failed", "Stopped"):
            raise _invalid(f"Invalid SourcePipelineExecutionArn: {source_arn} is {source.status}.")
        steps = source.data.get("_Steps") or {}
        for name in needed:
            record = steps.get(name)
            if record is None or record.get("StepStatus") != "Succeeded":
                raise _invalid(
                    f"Invalid SourcePipelineExecutionArn: step {name} did not succeed in execution {source_arn}."
                )
            copy = {k: v for k, v in record.items() if k not in ("_RetryAt", "_StopSent")}
            copy["SelectiveExecutionResult"] = {"SourcePipelineExecutionArn": source_arn}
            reused[name] = copy
    skipped = sorted(set(definition.steps) - chosen - set(reused))
    return reused, skipped


@ops.handler("StartPipelineExecution")
def start_pipeline_execution(ctx: RequestContext, params: dict) -> dict:
    row = _pipeline(ctx, params["PipelineName"])
    token = params.get("ClientRequestToken")
    if token:
        for run in _executions_of(ctx, row.name)[:100]:
            if run.data.get("_ClientToken") == token:
                return {"PipelineExecutionArn": run.data["PipelineExecutionArn"]}
    version = _version(row, params.get("PipelineVersionId"))
    definition = _parse(version["_Definition"])
    values = _effective_parameters(definition, params.get("PipelineParameters") or [])
    reused, skipped = _selective(ctx, definition, params.get("SelectiveExecutionConfig"), row.name)
    execution_id = executions.new_id()
    arn = executions.execution_arn(row.data["PipelineArn"], execution_id)
    created = now()
    start_text = to_string(created)
    experiment = None
    config = definition.experiment_config
    raw_definition = json.loads(version["_Definition"])
    if "PipelineExperimentConfig" not in raw_definition:
        config = {
            "ExperimentName": {"Get": "Execution.PipelineName"},
            "TrialName": {"Get": "Execution.PipelineExecutionId"},
        }
    if config:
        scope = Scope(
            parameters=values,
            execution={
                "PipelineExecutionId": execution_id,
                "PipelineExecutionArn": arn,
                "PipelineName": row.name,
                "PipelineArn": row.data["PipelineArn"],
                "StartDateTime": start_text,
            },
        )
        try:
            experiment = {
                "ExperimentName": to_string(evaluate(config.get("ExperimentName"), scope)),
                "TrialName": to_string(evaluate(config.get("TrialName"), scope)),
            }
        except ExpressionError as exc:
            raise _invalid(f"PipelineExperimentConfig: {exc}") from None
    who = {"IamIdentity": {"Arn": ctx.principal_arn}} if ctx.principal_arn else {}
    data = {
        "PipelineArn": row.data["PipelineArn"],
        "PipelineExecutionArn": arn,
        "PipelineExecutionDisplayName": params.get("PipelineExecutionDisplayName")
        or f"execution-{int(created.timestamp() * 1000)}",
        "PipelineExecutionStatus": "Executing",
        "PipelineExecutionDescription": params.get("PipelineExecutionDescription"),
        "PipelineExperimentConfig": experiment,
        "CreationTime": created,
        "LastModifiedTime": created,
        "CreatedBy": who,
        "LastModifiedBy": who,
        "ParallelismConfiguration": params.get("ParallelismConfiguration")
        or version.get("ParallelismConfiguration")
        or row.data.get("ParallelismConfiguration"),
        "SelectiveExecutionConfig": params.get("SelectiveExecutionConfig"),
        "PipelineVersionId": version["PipelineVersionId"],
        "_PipelineName": row.name,
        "_Definition": version["_Definition"],
        "_Parameters": values,
        "_Supplied": params.get("PipelineParameters") or [],
        "_ClientToken": token,
        "_Principal": ctx.principal_arn,
        "RoleArn": version.get("RoleArn") or row.data.get("RoleArn"),
        "_StartDateTime": start_text,
        "_Steps": {},
        "_Skipped": skipped,
    }
    for name, record in reused.items():
        set_step(data, name)
        data["_Steps"][name].update(record)
    ctx.platform.resources.create(
        ctx.account_id, ctx.region, EXECUTION, execution_id, arn, data, status="Executing", parent=row.name
    )

    def note(pipeline) -> None:
        pipeline.data["LastRunTime"] = created
        for item in pipeline.data["_Versions"]:
            if item["PipelineVersionId"] == version["PipelineVersionId"]:
                item["LastExecutionPipelineExecutionArn"] = arn

    mutate(ctx.platform.resources, ctx.account_id, ctx.region, PIPELINE, row.name, note)
    wake(ctx, "pipelines")
    return {"PipelineExecutionArn": arn}


@ops.handler("DescribePipelineExecution")
def describe_pipeline_execution(ctx: RequestContext, params: dict) -> dict:
    return _public(_execution(ctx, params["PipelineExecutionArn"]).data)


@ops.handler("ListPipelineExecutions")
def list_pipeline_executions(ctx: RequestContext, params: dict) -> dict:
    row = _pipeline(ctx, params["PipelineName"])
    sort_by = "Name" if params.get("SortBy") == "PipelineExecutionArn" else "CreationTime"
    rows, token = ctx.platform.resources.list(
        ctx.account_id,
        ctx.region,
        EXECUTION,
        ListQuery(
            parent=row.name,
            created_after=params.get("CreatedAfter"),
            created_before=params.get("CreatedBefore"),
            sort_by=sort_by,
            sort_order=params.get("SortOrder", "Descending"),
            max_results=params.get("MaxResults", 10),
            next_token=params.get("NextToken"),
        ),
    )
    result: dict = {"PipelineExecutionSummaries": [executions.summary(r) for r in rows]}
    if token:
        result["NextToken"] = token
    return result


@ops.handler("ListPipelineExecutionSteps")
def list_pipeline_execution_steps(ctx: RequestContext, params: dict) -> dict:
    row = _execution(ctx, params["PipelineExecutionArn"])
    records = list((row.data.get("_Steps") or {}).values())
    records.sort(key=lambda r: (r.get("StartTime") or row.data["CreationTime"], r.get("_Seq", 0)))
    if params.get("SortOrder", "Descending") == "Descending":
        records.reverse()
    return _page([executions.public_step(r) for r in records], params, "PipelineExecutionSteps")


@ops.handler("ListPipelineParametersForExecution")
def list_pipeline_parameters_for_execution(ctx: RequestContext, params: dict) -> dict:
    row = _execution(ctx, params["PipelineExecutionArn"])
    items = [{"Name": k, "Value": to_string(v)} for k, v in (row.data.get("_Parameters") or {}).items()]
    return _page(items, params, "PipelineParameters", 50)


@ops.handler("DescribePipelineDefinitionForExecution")
def describe_pipeline_definition_for_execution(ctx: RequestContext, params: dict) -> dict:
    row = _execution(ctx, params["PipelineExecutionArn"])
    return {"PipelineDefinition": row.data["_Definition"], "CreationTime": row.data["CreationTime"]}


def _write_execution(ctx: RequestContext, row, change):
    result = executions.update(ctx.platform.resources, row, change)
    wake(ctx, "pipelines")
    return result


@ops.handler("StopPipelineExecution")
def stop_pipeline_execution(ctx: RequestContext, params: dict) -> dict:
    row = _execution(ctx, params["PipelineExecutionArn"])

    def change(data: dict) -> str | None:
        status = data["PipelineExecutionStatus"]
        if status == "Stopping":
            return None
        if status != "Executing":
            raise _invalid(
                f"Pipeline execution '{data['PipelineExecutionArn']}' is {status}; only an Executing execution can be stopped."
            )
        return "Stopping"

    _write_execution(ctx, row, change)
    return {"PipelineExecutionArn": row.data["PipelineExecutionArn"]}


@ops.handler("RetryPipelineExecution")
def retry_pipeline_execution(ctx: RequestContext, params: dict) -> dict:
    row = _execution(ctx, params["PipelineExecutionArn"])

    def change(data: dict) -> str:
        status = data["PipelineExecutionStatus"]
        if status not in ("Failed", "Stopped"):
            raise _invalid(
                f"Pipeline execution '{data['PipelineExecutionArn']}' is {status}; only a Failed or Stopped execution can be retried."
            )
        steps = data.get("_Steps") or {}
        if any(r.get("_FailStep") for r in steps.values()):
            raise _invalid("You cannot retry a pipeline execution that ended with a Fail step.")
        stamp = now()
        for name, record in steps.items():
            if record.get("StepStatus") in ("Failed", "Stopped"):
                set_step(
                    data,
                    name,
                    "Starting",
                    StartTime=stamp,
                    AttemptCount=int(record.get("AttemptCount") or 1) + 1,
                    FailureReason=None,
                    Metadata={},
                    _Job=None,
                    _Launched=None,
                    _StopSent=None,
                    _RetryAt=None,
                    _PackageArn=None,
                    _Callback=None,
                    _Token=None,
                )
        if params.get("ParallelismConfiguration"):
            data["ParallelismConfiguration"] = params["ParallelismConfiguration"]
        data.pop("FailureReason", None)
        return "Executing"

    _write_execution(ctx, row, change)
    return {"PipelineExecutionArn": row.data["PipelineExecutionArn"]}


@ops.handler("UpdatePipelineExecution")
def update_pipeline_execution(ctx: RequestContext, params: dict) -> dict:
    row = _execution(ctx, params["PipelineExecutionArn"])

    def change(data: dict) -> None:
        for key in (
            "PipelineExecutionDescription",
            "PipelineExecutionDisplayName",
            "ParallelismConfiguration",
        ):
            if params.get(key) is not None:
                data[key] = params[key]

    _write_execution(ctx, row, change)
    return {"PipelineExecutionArn": row.data["PipelineExecutionArn"]}


def _callback_step(ctx: RequestContext, token: str):
    for row in ctx.platform.resources.in_states(
        EXECUTION, ["Executing", "Stopping", "Failed", "Stopped", "Succeeded"]
    ):
        if row.account_id != ctx.account_id:
            continue
        for name, record in (row.data.get("_Steps") or {}).items():
            if record.get("_Token") == token:
                return row, name
    raise _not_found(f"Callback token '{token}' does not belong to a pipeline execution step.")


def _answer(ctx: RequestContext, token: str, answer: dict) -> dict:
    row, name = _callback_step(ctx, token)

    def change(data: dict) -> None:
        record = data["_Steps"][name]
        if record.get("StepStatus") not in ("Executing", "Stopping") or record.get("_Callback") is not None:
            raise ServiceError(
                "ConflictException",
                f"The step {name} of pipeline execution '{data['PipelineExecutionArn']}' is not waiting for a callback "
                f"(status {record.get('StepStatus')}).",
            )
        record["_Callback"] = answer

    _write_execution(ctx, row, change)
    return {"PipelineExecutionArn": row.data["PipelineExecutionArn"]}


@ops.handler("SendPipelineExecutionStepSuccess")
def send_pipeline_execution_step_success(ctx: RequestContext, params: dict) -> dict:
    return _answer(
        ctx,
        params["CallbackToken"],
        {"Status": "Success", "OutputParameters": params.get("OutputParameters") or []},
    )


@ops.handler("SendPipelineExecutionStepFailure")
def send_pipeline_execution_step_failure(ctx: RequestContext, params: dict) -> dict:
    return _answer(
        ctx, params["CallbackToken"], {"Status": "Failure", "FailureReason": params.get("FailureReason")}
    )
