"""Experiments: experiment, trial and trial-component records, and the trial components SageMaker keeps
for jobs (``<job>-aws-training-job``: Source = the job, hyperparameters as Parameters, channels as
InputArtifacts, the model as an OutputArtifact, status and final metrics when the job ends).

Relations (component ↔ trial) and metric points live in ``store.experiments``.
"""

from __future__ import annotations

import datetime as dt

from ..store.errors import AlreadyExists
from ..store.experiments import ExperimentStore
from ..store.resources import Resource
from . import lineage
from .state import utcnow

EXPERIMENT = "experiment"
TRIAL = "experiment-trial"
TRIAL_COMPONENT = "experiment-trial-component"
FINISHED = ("Completed", "Failed", "Stopped")

#: Job resource type → (trial-component suffix, Source.SourceType, the job's status member).
JOB_SOURCES = {
    "training-job": ("aws-training-job", "SageMakerTrainingJob", "TrainingJobStatus"),
    "processing-job": ("aws-processing-job", "SageMakerProcessingJob", "ProcessingJobStatus"),
    "transform-job": ("aws-transform-job", "SageMakerTransformJob", "TransformJobStatus"),
}


def arn(region: str, account_id: str, resource_type: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:{resource_type}/{name.lower()}"


def store_of(resources) -> ExperimentStore:
    return ExperimentStore(resources.db)


def new_component(
    name: str, component_arn: str, stamp: dt.datetime, created_by: dict | None, **members
) -> dict:
    """A trial component's description (members that are None left out; DisplayName defaults to the
    name)."""
    data = {
        "TrialComponentName": name,
        "TrialComponentArn": component_arn,
        "DisplayName": name,
        "CreationTime": stamp,
        "LastModifiedTime": stamp,
        "CreatedBy": created_by or {},
        "LastModifiedBy": created_by or {},
        "Parameters": {},
        "InputArtifacts": {},
        "OutputArtifacts": {},
    }
    data.update({k: v for k, v in members.items() if v is not None})
    source = data.get("Source") or {}
    if source.get("SourceArn"):
        data["_SourceArn"] = source["SourceArn"]
    return data


def job_component_name(job_name: str, resource_type: str = "training-job") -> str:
    return f"{job_name}-{JOB_SOURCES[resource_type][0]}"


def _parameter(value) -> dict:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return {"NumberValue": float(value)}
    text = str(value)
    try:
        return (
            {"NumberValue": float(text)}
            if text.strip() and text.lower() not in ("nan", "inf", "-inf", "infinity")
            else {"StringValue": text}
        )
    except ValueError:
        return {"StringValue": text[:2500]}


def training_parameters(job: dict) -> dict:
    resource = job.get("ResourceConfig") or {}
    params = {
        "SageMaker.ImageUri": {
            "StringValue": (job.get("AlgorithmSpecification") or {}).get("TrainingImage", "")
        },
        "SageMaker.InstanceCount": {"NumberValue": float(resource.get("InstanceCount", 1))},
        "SageMaker.InstanceType": {"StringValue": resource.get("InstanceType", "")},
    }
    for key, value in (job.get("HyperParameters") or {}).items():
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params[key] = _parameter(value)
    return params


def processing_parameters(job: dict) -> dict:
    cluster = (job.get("ProcessingResources") or {}).get("ClusterConfig") or {}
    return {
        "SageMaker.ImageUri": {"StringValue": (job.get("AppSpecification") or {}).get("ImageUri", "")},
        "SageMaker.InstanceCount": {"NumberValue": float(cluster.get("InstanceCount", 1))},
        "SageMaker.InstanceType": {"StringValue": cluster.get("InstanceType", "")},
    }


def transform_parameters(job: dict) -> dict:
    resources = job.get("TransformResources") or {}
    if not resources:
        return {}
    return {
        "SageMaker.InstanceCount": {"NumberValue": float(resources.get("InstanceCount", 1))},
        "SageMaker.InstanceType": {"StringValue": resources.get("InstanceType", "")},
        "SageMaker.ModelName": {"StringValue": job.get("ModelName", "")},
    }


def create_job_component(
    resources,
    account_id: str,
    region: str,
    resource_type: str,
    job: dict,
    job_arn: str,
    created_by: dict | None = None,
) -> str:
    """The job's trial component, associated as its ExperimentConfig says (names that do not exist are
    left out: the job is created anyway); returns its name."""
    job_name = job.get("TrainingJobName") or job.get("ProcessingJobName") or job.get("TransformJobName")
    name = job_component_name(job_name, resource_type)
    component_arn = arn(region, account_id, TRIAL_COMPONENT, name)
    stamp = utcnow()
    inputs = {}
    transform_input = ((job.get("TransformInput") or {}).get("DataSource") or {}).get("S3DataSource") or {}
    if transform_input.get("S3Uri"):
        inputs["SageMaker.TransformInput"] = {"Value": transform_input["S3Uri"]}
    for item in job.get("ProcessingInputs") or []:
        uri = (item.get("S3Input") or {}).get("S3Uri")
        if uri:
            inputs[item["InputName"]] = {"Value": uri}
    for channel in job.get("InputDataConfig") or []:
        uri = ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3Uri")
        if uri:
            inputs[channel["ChannelName"]] = {"Value": uri}
            if channel.get("ContentType"):
                inputs[channel["ChannelName"]]["MediaType"] = channel["ContentType"]
    data = new_component(
        name,
        component_arn,
        stamp,
        created_by,
        Source={"SourceArn": job_arn.lower(), "SourceType": JOB_SOURCES[resource_type][1]},
        Status={"PrimaryStatus": "InProgress"},
        StartTime=stamp,
        Parameters=(
            training_parameters(job)
            if resource_type == "training-job"
            else processing_parameters(job)
            if resource_type == "processing-job"
            else transform_parameters(job)
        ),
        InputArtifacts=inputs,
    )
    try:
        resources.create(account_id, region, TRIAL_COMPONENT, name, component_arn, data)
    except AlreadyExists:
        return name
    if resource_type == "training-job":
        lineage.training_job_inputs(resources, account_id, region, job, component_arn)
    config = job.get("ExperimentConfig") or {}
    run = (
        resources.get(account_id, region, TRIAL_COMPONENT, config["RunName"])
        if config.get("RunName")
        else None
    )
    if run is not None:  # the run lists the jobs started in it among its Sources
        sources = [
            s for s in run.data.get("Sources") or [] if s.get("SourceArn") != data["Source"]["SourceArn"]
        ]
        resources.update(run, dict(run.data, Sources=[*sources, data["Source"]]))
    experiment = config.get("ExperimentName")
    trial = config.get("TrialName")
    store = store_of(resources)
    if experiment and resources.get(account_id, region, EXPERIMENT, experiment) is None:
        experiment = None
    if experiment and not trial:
        trial = name  # AWS: without TrialName, a new trial is created for the job
        trial_data = {
            "TrialName": trial,
            "TrialArn": arn(region, account_id, TRIAL, trial),
            "DisplayName": trial,
            "ExperimentName": experiment,
            "CreationTime": stamp,
            "LastModifiedTime": stamp,
            "CreatedBy": created_by or {},
            "LastModifiedBy": created_by or {},
            "Source": data["Source"],
        }
        try:
            resources.create(
                account_id, region, TRIAL, trial, trial_data["TrialArn"], trial_data, parent=experiment
            )
        except AlreadyExists:
            pass
    if trial:
        row = resources.get(account_id, region, TRIAL, trial)
        if row is not None:
            store.associate(account_id, region, name, trial, row.data["ExperimentName"])
    return name


def job_finished(resources, job: Resource) -> None:
    """Copy a finished job's status, end time, model and final metrics onto its trial component."""
    suffix, _, status_member = JOB_SOURCES.get(job.resource_type, (None, None, None))
    if suffix is None:
        return
    name = job_component_name(job.name, job.resource_type)
    row = resources.get(job.account_id, job.region, TRIAL_COMPONENT, name)
    if row is None or (row.data.get("Status") or {}).get("PrimaryStatus") in FINISHED:
        return
    data = job.data
    status = {"PrimaryStatus": data.get(status_member, job.status)}
    if data.get("FailureReason"):
        status["Message"] = data["FailureReason"][:1024]
    end = (
        data.get("TrainingEndTime")
        or data.get("ProcessingEndTime")
        or data.get("TransformEndTime")
        or utcnow()
    )
    component = dict(row.data, Status=status, EndTime=end, LastModifiedTime=utcnow())
    model = (data.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    if model and status["PrimaryStatus"] == "Completed":
        component["OutputArtifacts"] = dict(
            component.get("OutputArtifacts") or {}, **{"SageMaker.ModelArtifact": {"Value": model}}
        )
    if status["PrimaryStatus"] == "Completed":
        outputs = {
            o["OutputName"]: {"Value": o["S3Output"]["S3Uri"]}
            for o in (data.get("ProcessingOutputConfig") or {}).get("Outputs") or []
            if (o.get("S3Output") or {}).get("S3Uri")
        }
        if outputs:
            component["OutputArtifacts"] = dict(component.get("OutputArtifacts") or {}, **outputs)
    resources.update(row, component)
    if model and status["PrimaryStatus"] == "Completed":
        lineage.training_job_model(resources, job.account_id, job.region, model, row.arn)
    stamp = end.timestamp() if isinstance(end, dt.datetime) else float(end)
    points = [
        {"MetricName": m["MetricName"], "Timestamp": stamp, "Value": m["Value"]}
        for m in data.get("FinalMetricDataList") or []
        if m.get("Value") is not None
    ]
    if points:
        store_of(resources).put_points(job.account_id, job.region, name, points)
