"""Model Monitor: job definitions, monitoring schedules and their executions — types, status machines,
schedule expressions, analysis windows and the processing job an execution runs.

Who changes what:

* the handlers (``services/sagemaker/monitoring_*.py``) record definitions and schedules; a schedule is
  created, updated or started ``Pending``, stopped ``Stopped``;
* the monitoring reconciler moves ``Pending`` schedules to ``Scheduled`` (or ``Failed``), fires due
  executions (``Pending``; ``Failed`` "Job inputs had no data" without a processing job) by creating their
  processing job through :func:`domain.processing_jobs.create`, and follows that job to the execution's
  final status (``Completed`` | ``CompletedWithViolations`` | ``Failed`` | ``Stopped``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from .state import StateMachine, mutate, utcnow

SCHEDULE = "monitoring-schedule"
EXECUTION = "monitoring-execution"

DATA_QUALITY = "DataQuality"
MODEL_QUALITY = "ModelQuality"
MODEL_BIAS = "ModelBias"
MODEL_EXPLAINABILITY = "ModelExplainability"
MONITORING_TYPES = (DATA_QUALITY, MODEL_QUALITY, MODEL_BIAS, MODEL_EXPLAINABILITY)


@dataclass(frozen=True)
class Family:
    """One job-definition family: its resource type and the request members that differ."""

    monitoring_type: str
    resource_type: str
    prefix: str  # DataQuality, ModelQuality, ModelBias, ModelExplainability
    metrics: str  # the CloudWatch namespace's last segment

    @property
    def baseline(self) -> str:
        return f"{self.prefix}BaselineConfig"

    @property
    def app(self) -> str:
        return f"{self.prefix}AppSpecification"

    @property
    def job_input(self) -> str:
        return f"{self.prefix}JobInput"

    @property
    def output(self) -> str:
        return f"{self.prefix}JobOutputConfig"


FAMILIES = {
    DATA_QUALITY: Family(DATA_QUALITY, "data-quality-job-definition", "DataQuality", "data-metrics"),
    MODEL_QUALITY: Family(MODEL_QUALITY, "model-quality-job-definition", "ModelQuality", "model-metrics"),
    MODEL_BIAS: Family(MODEL_BIAS, "model-bias-job-definition", "ModelBias", "bias-metrics"),
    MODEL_EXPLAINABILITY: Family(
        MODEL_EXPLAINABILITY,
        "model-explainability-job-definition",
        "ModelExplainability",
        "explainability-metrics",
    ),
}
DEFINITION_TYPES = tuple(f.resource_type for f in FAMILIES.values())

SCHEDULES = StateMachine(
    "MonitoringScheduleStatus",
    {
        "Pending": {"Scheduled", "Failed", "Stopped"},
        "Scheduled": {"Pending", "Stopped"},
        "Stopped": {"Pending", "Scheduled"},
        "Failed": {"Pending"},
    },
    field="MonitoringScheduleStatus",
)

EXECUTIONS = StateMachine(
    "MonitoringExecutionStatus",
    {
        "Pending": {"InProgress", "Completed", "CompletedWithViolations", "Failed", "Stopping", "Stopped"},
        "InProgress": {"Completed", "CompletedWithViolations", "Failed", "Stopping", "Stopped"},
        "Stopping": {"Stopped", "Failed", "Completed", "CompletedWithViolations"},
        "Completed": set(),
        "CompletedWithViolations": set(),
        "Failed": set(),
        "Stopped": set(),
    },
    field="MonitoringExecutionStatus",
)

NO_DATA_REASON = "Job inputs had no data"

#: The alert every schedule has (the SDK's integration tests expect one per new schedule).
DEFAULT_ALERT = "ModelMonitorAlert"

# -- schedule expressions ----------------------------------------------------------------------------

NOW = "NOW"
_CRON = re.compile(r"^cron\((.*)\)$")
_HOURS = re.compile(r"^(\*|\d{1,2})(?:/(\d{1,2}))?$")


class ScheduleError(ValueError):
    """A schedule expression or window SageMaker does not accept (the message says why)."""


@dataclass(frozen=True)
class Cadence:
    """When a schedule fires: ``NOW`` (once), or at minute 0 of the listed UTC hours every day."""

    once: bool
    hours: tuple[int, ...] = ()

    @property
    def period(self) -> dt.timedelta:
        if self.once or len(self.hours) >= 24:
            return dt.timedelta(hours=1)
        if len(self.hours) == 1:
            return dt.timedelta(days=1)
        return dt.timedelta(hours=self.hours[1] - self.hours[0])

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        """The first firing time strictly after ``moment``."""
        base = moment.replace(minute=0, second=0, microsecond=0)
        for step in range(1, 49):
            candidate = base + dt.timedelta(hours=step)
            if candidate.hour in self.hours:
                return candidate
        raise ScheduleError("the schedule never fires")  # pragma: no cover - hours is never empty


def parse_expression(expression: str) -> Cadence:
    """``NOW``, ``cron(0 * ? * * *)`` (hourly; also ``cron(0 * * * ? *)``), ``cron(0 H ? * * *)`` (daily
    at H UTC) or ``cron(0 H/N ? * * *)`` (every N hours from H): minute 0, hourly rates of 1–24 hours."""
    text = expression.strip()
    if text == NOW:
        return Cadence(True)
    match = _CRON.match(text)
    fields = match.group(1).split() if match else []
    if len(fields) != 6:
        raise ScheduleError(
            f"Invalid ScheduleExpression {expression!r}: expected NOW or cron(Minutes Hours Day-of-month Month "
            f"Day-of-week Year), e.g. cron(0 * ? * * *) for hourly."
        )
    minute, hours, dom, month, dow, year = fields
    if minute != "0":
        raise ScheduleError(
            f"Invalid ScheduleExpression {expression!r}: the minutes field must be 0 (SageMaker only supports "
            f"hourly integer rates between 1 hour and 24 hours)."
        )
    if not ({dom, dow} <= {"*", "?"} and "?" in (dom, dow) and month == "*" and year == "*"):
        raise ScheduleError(
            f"Invalid ScheduleExpression {expression!r}: only hourly, every-N-hours and daily schedules are "
            f"supported (day-of-month, month, day-of-week and year must be * or ?)."
        )
    found = _HOURS.match(hours)
    if not found:
        raise ScheduleError(f"Invalid ScheduleExpression {expression!r}: unsupported hours field {hours!r}.")
    start_text, step_text = found.groups()
    start = 0 if start_text == "*" else int(start_text)
    step = int(step_text) if step_text else (1 if start_text == "*" else 24)
    if not 0 <= start <= 23 or not 1 <= step <= 24:
        raise ScheduleError(
            f"Invalid ScheduleExpression {expression!r}: hours must be 0-23 and the rate 1-24 hours."
        )
    return Cadence(False, tuple(range(start, 24, step)))


_DURATION = re.compile(r"^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")


def parse_offset(text: str, field: str) -> dt.timedelta:
    """An ISO-8601 duration offset (``-PT1H``, ``-P1D``, ``-PT0H``)."""
    match = _DURATION.match(text.strip()) if text else None
    if not match or text.strip() in ("P", "-P", "+P", "PT", "-PT"):
        raise ScheduleError(f"Invalid {field} {text!r}: expected an ISO-8601 duration such as -PT1H or -P1D.")
    sign, weeks, days, hours, minutes, seconds = match.groups()
    delta = dt.timedelta(
        weeks=int(weeks or 0),
        days=int(days or 0),
        hours=int(hours or 0),
        minutes=int(minutes or 0),
        seconds=int(seconds or 0),
    )
    return -delta if sign == "-" else delta


MAX_WINDOW = dt.timedelta(hours=24)


def check_schedule_config(config: dict | None) -> Cadence:
    """Validate ``ScheduleConfig`` (absent: daily); raises ScheduleError."""
    if not config:
        return Cadence(False, (0,))
    cadence = parse_expression(config["ScheduleExpression"])
    start, end = config.get("DataAnalysisStartTime"), config.get("DataAnalysisEndTime")
    if cadence.once and (start is None or end is None):
        raise ScheduleError(
            "DataAnalysisStartTime and DataAnalysisEndTime are required when ScheduleExpression is NOW."
        )
    if (start is None) != (end is None):
        raise ScheduleError("DataAnalysisStartTime and DataAnalysisEndTime must be given together.")
    if start is not None:
        first = parse_offset(start, "DataAnalysisStartTime")
        last = parse_offset(end, "DataAnalysisEndTime")
        if first >= last:
            raise ScheduleError(f"DataAnalysisStartTime {start} must be before DataAnalysisEndTime {end}.")
        if last - first > MAX_WINDOW:
            raise ScheduleError(
                f"The analysis window from {start} to {end} is longer than 24 hours; it may be at most 24 hours."
            )
    return cadence


def window(
    schedule_config: dict | None, job_input: dict, scheduled: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The analysis window of an execution scheduled at ``scheduled``: the schedule's
    DataAnalysisStart/EndTime, else the input's Start/EndTimeOffset, else the previous period."""
    config = schedule_config or {}
    cadence = check_schedule_config(config) if config else Cadence(False, (0,))
    if config.get("DataAnalysisStartTime"):
        return (
            scheduled + parse_offset(config["DataAnalysisStartTime"], "DataAnalysisStartTime"),
            scheduled + parse_offset(config["DataAnalysisEndTime"], "DataAnalysisEndTime"),
        )
    start = job_input.get("StartTimeOffset")
    end = job_input.get("EndTimeOffset")
    return (
        scheduled + parse_offset(start, "StartTimeOffset") if start else scheduled - cadence.period,
        scheduled + parse_offset(end, "EndTimeOffset") if end else scheduled,
    )


def hour_folders(start: dt.datetime, end: dt.datetime) -> list[str]:
    """``yyyy/mm/dd/hh`` of every capture hour that overlaps [start, end)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    folders = []
    while hour < end:
        folders.append(hour.strftime("%Y/%m/%d/%H"))
        hour += dt.timedelta(hours=1)
    return folders


# -- definitions in one shape ------------------------------------------------------------------------


def normalized(definition: dict, monitoring_type: str) -> dict:
    """A family definition or a schedule's inline definition as one shape: ``image``, ``entrypoint``,
    ``arguments``, ``environment``, ``config_uri``, ``preprocessor``, ``postprocessor``, ``problem_type``,
    ``baseline``, ``endpoint_input``, ``batch_input``, ``ground_truth``, ``output``, ``resources``,
    ``stopping``, ``network``, ``role``."""
    if "MonitoringInputs" in definition:  # inline (MonitoringJobDefinition)
        app = definition.get("MonitoringAppSpecification") or {}
        inputs = (definition.get("MonitoringInputs") or [{}])[0]
        return {
            "type": monitoring_type,
            "image": app.get("ImageUri"),
            "entrypoint": app.get("ContainerEntrypoint"),
            "arguments": app.get("ContainerArguments"),
            "environment": definition.get("Environment") or {},
            "preprocessor": app.get("RecordPreprocessorSourceUri"),
            "postprocessor": app.get("PostAnalyticsProcessorSourceUri"),
            "config_uri": None,
            "problem_type": None,
            "baseline": definition.get("BaselineConfig") or {},
            "endpoint_input": inputs.get("EndpointInput"),
            "batch_input": inputs.get("BatchTransformInput"),
            "ground_truth": None,
            "output": definition["MonitoringOutputConfig"],
            "resources": definition["MonitoringResources"],
            "stopping": definition.get("StoppingCondition"),
            "network": definition.get("NetworkConfig"),
            "role": definition["RoleArn"],
        }
    family = FAMILIES[monitoring_type]
    app = definition.get(family.app) or {}
    job_input = definition.get(family.job_input) or {}
    return {
        "type": monitoring_type,
        "image": app.get("ImageUri"),
        "entrypoint": app.get("ContainerEntrypoint"),
        "arguments": app.get("ContainerArguments"),
        "environment": app.get("Environment") or {},
        "preprocessor": app.get("RecordPreprocessorSourceUri"),
        "postprocessor": app.get("PostAnalyticsProcessorSourceUri"),
        "config_uri": app.get("ConfigUri"),
        "problem_type": app.get("ProblemType"),
        "baseline": definition.get(family.baseline) or {},
        "endpoint_input": job_input.get("EndpointInput"),
        "batch_input": job_input.get("BatchTransformInput"),
        "ground_truth": (job_input.get("GroundTruthS3Input") or {}).get("S3Uri"),
        "output": definition[family.output],
        "resources": definition["JobResources"],
        "stopping": definition.get("StoppingCondition"),
        "network": definition.get("NetworkConfig"),
        "role": definition["RoleArn"],
    }


# -- the processing job an execution runs ------------------------------------------------------------

ENDPOINT_PATH = "/opt/ml/processing/input/endpoint"
BATCH_PATH = "/opt/ml/processing/input/batch"
BASELINE_CONSTRAINTS = "/opt/ml/processing/baseline/constraints"
BASELINE_STATISTICS = "/opt/ml/processing/baseline/stats"
PREPROCESSOR = "/opt/ml/processing/code/preprocessing"
POSTPROCESSOR = "/opt/ml/processing/code/postprocessing"
GROUND_TRUTH = "/opt/ml/processing/groundtruth"
ANALYSIS_CONFIG = "/opt/ml/processing/input/config"


def processing_job_name(schedule_arn: str, scheduled: dt.datetime) -> str:
    digest = hashlib.sha1(f"{schedule_arn}@{scheduled.isoformat()}".encode()).hexdigest()[:24]
    return f"model-monitoring-{scheduled:%Y%m%d%H%M}-{digest}"


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _s3_input(name: str, uri: str, local: str, **extra) -> dict:
    return {
        "InputName": name,
        "S3Input": {
            "S3Uri": uri,
            "LocalPath": local,
            "S3DataType": "S3Prefix",
            "S3InputMode": extra.get("mode") or "File",
            "S3DataDistributionType": extra.get("distribution") or "FullyReplicated",
        },
    }


@dataclass
class Plan:
    """What one execution runs: its processing job request, the window it analyses, and (model quality,
    model bias) the ground-truth merge job that runs first — the analysis job's captured-data inputs are
    then the merged files, added when the merge is done (:func:`merged_inputs`)."""

    request: dict
    start: dt.datetime
    end: dt.datetime
    merge: dict | None = None


#: The Model Monitor analyzer's account per region (image_uris' model-monitor.json); the ground-truth merge
#: job runs this image.
ANALYZER_ACCOUNTS = {
    "af-south-1": "875698925577",
    "ap-east-1": "001633400207",
    "ap-northeast-1": "574779866223",
    "ap-northeast-2": "709848358524",
    "ap-northeast-3": "990339680094",
    "ap-south-1": "126357580389",
    "ap-southeast-1": "245545462676",
    "ap-southeast-2": "563025443158",
    "ap-southeast-3": "669540362728",
    "ca-central-1": "536280801234",
    "cn-north-1": "453000072557",
    "cn-northwest-1": "453252182341",
    "eu-central-1": "048819808253",
    "eu-central-2": "590183933784",
    "eu-north-1": "895015795356",
    "eu-south-1": "933208885752",
    "eu-south-2": "437450045455",
    "eu-west-1": "468650794304",
    "eu-west-2": "749857270468",
    "eu-west-3": "680080141114",
    "il-central-1": "843974653677",
    "me-central-1": "588750061953",
    "me-south-1": "607024016150",
    "sa-east-1": "539772159869",
    "us-east-1": "156813124566",
    "us-east-2": "777275614652",
    "us-west-1": "890145073186",
    "us-west-2": "159807026194",
}


def analyzer_image(region: str) -> str:
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    account = ANALYZER_ACCOUNTS.get(region, ANALYZER_ACCOUNTS["us-east-1"])
    return f"{account}.dkr.ecr.{region}.{domain}/sagemaker-model-monitor-analyzer"


MERGE_FAMILIES = (MODEL_QUALITY, MODEL_BIAS)
MERGE_OUTPUT = "/opt/ml/processing/output"


def merge_tag(job_name: str) -> str:
    return job_name.rsplit("-", 1)[-1]


def merge_prefix(definition: dict) -> str:
    """Where merge jobs write: ``<MonitoringOutputs[0].S3Uri>/merge``."""
    return definition["output"]["MonitoringOutputs"][0]["S3Output"]["S3Uri"].rstrip("/") + "/merge"


def merged_inputs(request: dict, files: list[tuple[str, str, str]], data_root: str) -> dict:
    """The analysis request with the merged files (bucket, key, ``endpoint/variant/yyyy/mm/dd/hh``) as
    its captured-data inputs."""
    inputs = [
        _s3_input(f"merged-{i}", f"s3://{bucket}/{key}", f"{data_root}/{folder}")
        for i, (bucket, key, folder) in enumerate(files, 1)
    ]
    return {**request, "ProcessingInputs": inputs + list(request.get("ProcessingInputs") or [])}


def plan(
    definition: dict,
    *,
    schedule_name: str,
    schedule_arn: str,
    scheduled: dt.datetime,
    start: dt.datetime,
    end: dt.datetime,
    data_inputs: list[tuple[str, str, str]],
    data_root: str,
    dataset_format: dict,
    endpoint_name: str | None,
    capture_prefix: str | None,
    folder: str,
) -> Plan:
    """The processing job request for one execution. ``data_inputs``: (input name, S3 URI, local path)
    of the captured data to stage; ``folder``: the output path segment naming the monitored resource."""
    mtype = definition["type"]
    source = definition["endpoint_input"] or definition["batch_input"] or {}
    output = definition["output"]["MonitoringOutputs"][0]["S3Output"]
    local_output = output["LocalPath"]
    name = processing_job_name(schedule_arn, scheduled)
    inputs = [
        _s3_input(
            n, uri, local, mode=source.get("S3InputMode"), distribution=source.get("S3DataDistributionType")
        )
        for n, uri, local in data_inputs
    ]
    env: dict[str, str] = {
        "dataset_format": _json(dataset_format),
        "dataset_source": data_root,
        "output_path": local_output,
        "publish_cloudwatch_metrics": "Enabled",
        "sagemaker_monitoring_schedule_name": schedule_name,
        "start_time": _iso(start),
        "end_time": _iso(end),
    }
    if endpoint_name:
        env["sagemaker_endpoint_name"] = endpoint_name
    if capture_prefix:
        env["sagemaker_endpoint_datacapture_prefix"] = capture_prefix
    baseline = definition["baseline"] or {}
    constraints = (baseline.get("ConstraintsResource") or {}).get("S3Uri")
    statistics = (baseline.get("StatisticsResource") or {}).get("S3Uri")
    if constraints:
        inputs.append(_s3_input("constraints", constraints, BASELINE_CONSTRAINTS))
        env["baseline_constraints"] = BASELINE_CONSTRAINTS
    if statistics:
        inputs.append(_s3_input("baseline", statistics, BASELINE_STATISTICS))
        env["baseline_statistics"] = BASELINE_STATISTICS
    if definition["preprocessor"]:
        inputs.append(_s3_input("pre_processor_script", definition["preprocessor"], PREPROCESSOR))
        env["record_preprocessor_script"] = PREPROCESSOR
    if definition["postprocessor"]:
        inputs.append(_s3_input("post_processor_script", definition["postprocessor"], POSTPROCESSOR))
        env["post_analytics_processor_script"] = POSTPROCESSOR
    two_jobs = (
        mtype in MERGE_FAMILIES and bool(definition["ground_truth"]) and bool(definition["endpoint_input"])
    )
    if definition["ground_truth"] and not two_jobs:
        inputs.append(_s3_input("groundtruth_input", definition["ground_truth"], GROUND_TRUTH))
        env["ground_truth_source"] = GROUND_TRUTH
    if definition["config_uri"]:
        inputs.append(_s3_input("analysis_config", definition["config_uri"], ANALYSIS_CONFIG))
        env["analysis_config"] = ANALYSIS_CONFIG
    for key, attribute in (
        ("features_attribute", "FeaturesAttribute"),
        ("inference_attribute", "InferenceAttribute"),
        ("probability_attribute", "ProbabilityAttribute"),
        ("probability_threshold_attribute", "ProbabilityThresholdAttribute"),
        ("exclude_features_attribute", "ExcludeFeaturesAttribute"),
    ):
        if source.get(attribute) is not None:
            env[key] = str(source[attribute])
    if mtype == MODEL_QUALITY:
        env["analysis_type"] = "MODEL_QUALITY"
        if definition["problem_type"]:
            env["problem_type"] = definition["problem_type"]
    env.update(definition["environment"] or {})
    base = output["S3Uri"].rstrip("/")
    request = {
        "ProcessingJobName": name,
        "ProcessingInputs": inputs,
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "monitoring_output",
                    "S3Output": {
                        "S3Uri": f"{base}/{folder}/{schedule_name}/{scheduled:%Y/%m/%d/%H}",
                        "LocalPath": local_output,
                        "S3UploadMode": output.get("S3UploadMode") or "EndOfJob",
                    },
                }
            ],
            **(
                {"KmsKeyId": definition["output"]["KmsKeyId"]} if definition["output"].get("KmsKeyId") else {}
            ),
        },
        "ProcessingResources": definition["resources"],
        "AppSpecification": {
            "ImageUri": definition["image"],
            **({"ContainerEntrypoint": definition["entrypoint"]} if definition["entrypoint"] else {}),
            **({"ContainerArguments": definition["arguments"]} if definition["arguments"] else {}),
        },
        "Environment": env,
        "StoppingCondition": definition["stopping"] or {"MaxRuntimeInSeconds": 3600},
        "RoleArn": definition["role"],
    }
    if definition["network"]:
        request["NetworkConfig"] = definition["network"]
    if not two_jobs:
        return Plan(request, start, end)
    # Model quality / model bias: a merge job joins the capture with the ground truth first; the two jobs
    # split the runtime. The analysis job's captured-data inputs are the merged files (added later).
    runtime = int(request["StoppingCondition"].get("MaxRuntimeInSeconds", 3600))
    half = {"MaxRuntimeInSeconds": max(1, runtime // 2)}
    merge_name = "groundtruth-merge-" + name[len("model-monitoring-") :]
    env["dataset_format"] = _json(
        {"sagemakerMergeJson": {"captureIndexNames": ["endpointInput", "endpointOutput", "groundTruthData"]}}
    )
    request["StoppingCondition"] = half
    request["ProcessingInputs"] = [
        i for i in inputs if not i["InputName"].startswith(("endpoint-", "batch-"))
    ]
    merge = {
        "ProcessingJobName": merge_name,
        "ProcessingInputs": [
            *[i for i in inputs if i["InputName"].startswith(("endpoint-", "batch-"))],
            _s3_input("groundtruth_input", definition["ground_truth"], GROUND_TRUTH),
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "merge_output",
                    "S3Output": {
                        "S3Uri": merge_prefix(definition),
                        "LocalPath": MERGE_OUTPUT,
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": definition["resources"],
        "AppSpecification": {"ImageUri": analyzer_image(schedule_arn.split(":")[3])},
        "Environment": {
            "analysis_type": "GROUND_TRUTH_MERGE",
            "dataset_format": _json(dataset_format),
            "dataset_source": data_root,
            "ground_truth_source": GROUND_TRUTH,
            "output_path": MERGE_OUTPUT,
            "merge_tag": merge_tag(merge_name),
            "start_time": _iso(start),
            "end_time": _iso(end),
            "sagemaker_monitoring_schedule_name": schedule_name,
        },
        "StoppingCondition": half,
        "RoleArn": definition["role"],
    }
    return Plan(request, start, end, merge)


def with_baselining_output(definition: dict, job: dict) -> dict:
    """The definition with the baseline files of its ``BaseliningJobName`` (the SDK names the baseline job
    instead of the files when no constraints are given): that job's output ``analysis.json`` (Clarify
    monitors) or ``constraints.json`` + ``statistics.json`` (the analyzer's)."""
    outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    uri = ((outputs[0] if outputs else {}).get("S3Output") or {}).get("S3Uri")
    if not uri:
        raise ValueError(f"The baselining job {job.get('ProcessingJobName')} has no S3 output.")
    base = uri.rstrip("/")
    baseline = dict(definition["baseline"] or {})
    if definition["type"] in (MODEL_BIAS, MODEL_EXPLAINABILITY):
        baseline["ConstraintsResource"] = {"S3Uri": f"{base}/analysis.json"}
    else:
        baseline["ConstraintsResource"] = {"S3Uri": f"{base}/constraints.json"}
        baseline.setdefault("StatisticsResource", {"S3Uri": f"{base}/statistics.json"})
    return {**definition, "baseline": baseline}


def metrics_namespace(monitoring_type: str, batch: bool) -> str:
    scope = "ModelMonitoring" if batch else "Endpoints"
    return f"aws/sagemaker/{scope}/{FAMILIES[monitoring_type].metrics}"


def _json(value) -> str:
    import json

    return json.dumps(value)


# -- executions --------------------------------------------------------------------------------------


def execution_name(schedule_name: str, scheduled: dt.datetime) -> str:
    return f"{schedule_name}@{int(scheduled.timestamp())}"


def execution_status(processing_status: str, exit_message: str | None) -> str | None:
    """An execution's status from its processing job's (None: still running)."""
    if processing_status == "Completed":
        if (exit_message or "").startswith("CompletedWithViolations"):
            return "CompletedWithViolations"
        return "Completed"
    if processing_status in ("Failed", "Stopped"):
        return processing_status
    if processing_status == "Stopping":
        return "Stopping"
    return "InProgress"


def summary(execution) -> dict:
    data = execution.data
    keys = (
        "MonitoringScheduleName",
        "ScheduledTime",
        "CreationTime",
        "LastModifiedTime",
        "MonitoringExecutionStatus",
        "ProcessingJobArn",
        "EndpointName",
        "FailureReason",
        "MonitoringJobDefinitionName",
        "MonitoringType",
    )
    return {k: data[k] for k in keys if data.get(k) is not None}


def set_execution(resources, execution, status: str, **changes) -> None:
    def change(row) -> str | None:
        if EXECUTIONS.terminal(row.status):
            return None
        for key, value in changes.items():
            if value is not None:
                row.data[key] = value
        row.data["LastModifiedTime"] = utcnow()
        return status

    mutate(resources, execution.account_id, execution.region, EXECUTION, execution.name, change, EXECUTIONS)
