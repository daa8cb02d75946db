"""Hyperparameter tuning jobs: the status machine, CreateHyperParameterTuningJob's checks, how a child
training job is derived from the tuning job, and the summaries (counters, best job) a tuning job reports.

Who changes a tuning job's status: ``CreateHyperParameterTuningJob`` records it ``InProgress``;
``StopHyperParameterTuningJob`` moves it to ``Stopping``; the tuning reconciler (``reconcilers/tuning.py``)
launches children, writes what they report, and ends the job (``Completed`` | ``Failed`` | ``Stopped``).
Children are ordinary training jobs (``domain.training_jobs.create``) whose store ``parent`` is the tuning
job's ``_ChildKey`` and whose description carries ``TuningJobArn`` and ``_Tuning``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import secrets

from ..protocol.errors import ServiceError
from ..store.resources import ListQuery, Resource
from . import training_jobs
from .state import StateMachine, mutate, utcnow
from .tuning_search import parse_ranges

TYPE = "hyper-parameter-tuning-job"

TUNING = StateMachine(
    "HyperParameterTuningJobStatus",
    {
        "InProgress": {"Completed", "Failed", "Stopping", "Stopped"},
        "Stopping": {"Stopped", "Failed", "Completed"},
        "Completed": set(),
        "Failed": set(),
        "Stopped": set(),
    },
    field="HyperParameterTuningJobStatus",
)

OBJECTIVE_KEY = "_tuning_objective_metric"
HYPERBAND_EPOCH_NAMES = ("epochs", "numepochs", "n-epochs", "n_epochs", "num_epochs")
DEFAULT_RANDOM_SEED = 0
#: The tuning job ends ``Failed`` when this many children failed and none reported the objective.
FAILURES_BEFORE_GIVING_UP = 3


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def job_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:hyper-parameter-tuning-job/{name.lower()}"


# -- definitions --------------------------------------------------------------------------------


def definitions(data: dict) -> list[dict]:
    """The job's training definitions, each with ``TuningObjective`` and ``HyperParameterRanges`` filled
    (the single-definition form takes them from ``HyperParameterTuningJobConfig``)."""
    if data.get("TrainingJobDefinitions"):
        return data["TrainingJobDefinitions"]
    config = data["HyperParameterTuningJobConfig"]
    single = dict(data["TrainingJobDefinition"])
    single["TuningObjective"] = config["HyperParameterTuningJobObjective"]
    single["HyperParameterRanges"] = config.get("ParameterRanges") or {}
    return [single]


def _resource_config(definition: dict) -> dict:
    if definition.get("ResourceConfig"):
        return definition["ResourceConfig"]
    tuning = definition.get("HyperParameterTuningResourceConfig") or {}
    first = (tuning.get("InstanceConfigs") or [{}])[0]
    config = {
        "InstanceType": tuning.get("InstanceType") or first.get("InstanceType"),
        "InstanceCount": tuning.get("InstanceCount") or first.get("InstanceCount") or 1,
        "VolumeSizeInGB": tuning.get("VolumeSizeInGB") or first.get("VolumeSizeInGB") or 30,
    }
    if tuning.get("VolumeKmsKeyId"):
        config["VolumeKmsKeyId"] = tuning["VolumeKmsKeyId"]
    return {k: v for k, v in config.items() if v is not None}


def _quoted_objective(static: dict) -> bool:
    """Framework estimators JSON-quote every hyperparameter; the objective name is quoted the same way."""
    for key in ("sagemaker_program", "sagemaker_estimator_class_name"):
        value = static.get(key)
        if isinstance(value, str) and value.startswith('"'):
            return True
    return False


def child_request(definition: dict, name: str, tuned: dict[str, str], tags: list | None) -> dict:
    """The CreateTrainingJob request of a child (``tuned``: its tuned hyperparameter values)."""
    algorithm = {
        k: v
        for k, v in definition["AlgorithmSpecification"].items()
        if k in ("TrainingImage", "AlgorithmName", "TrainingInputMode", "MetricDefinitions")
    }
    if not algorithm.get("MetricDefinitions"):
        algorithm.pop("MetricDefinitions", None)
    request = {
        "TrainingJobName": name,
        "HyperParameters": {**(definition.get("StaticHyperParameters") or {}), **tuned},
        "AlgorithmSpecification": algorithm,
        "RoleArn": definition["RoleArn"],
        "OutputDataConfig": definition["OutputDataConfig"],
        "ResourceConfig": _resource_config(definition),
        "StoppingCondition": definition["StoppingCondition"],
    }
    for key in (
        "InputDataConfig",
        "VpcConfig",
        "CheckpointConfig",
        "EnableNetworkIsolation",
        "EnableInterContainerTrafficEncryption",
        "EnableManagedSpotTraining",
        "RetryStrategy",
        "Environment",
    ):
        if definition.get(key) is not None:
            request[key] = definition[key]
    if tags:
        request["Tags"] = tags
    return request


def child_name(tuning_name: str, index: int) -> str:
    width = 3 if index < 1000 else len(str(index))
    return f"{tuning_name}-{index:0{width}d}-{secrets.token_hex(4)}"


# -- CreateHyperParameterTuningJob ---------------------------------------------------------------


def _objective_known(definition: dict, metric: str) -> None:
    algorithm = definition["AlgorithmSpecification"]
    names = [m["Name"] for m in algorithm.get("MetricDefinitions") or []]
    if names:
        if metric not in names:
            raise _invalid(
                f"The objective metric {metric} is not defined in MetricDefinitions "
                f"({', '.join(names)}). Add a metric definition named {metric} with the regex that "
                "finds it in the training logs."
            )
        return
    builtin = _builtin_metrics(algorithm.get("TrainingImage") or "")
    if builtin is not None and metric not in builtin:
        raise _invalid(
            f"The objective metric {metric} is not a metric the algorithm of "
            f"{algorithm.get('TrainingImage')} emits; choose one of: {', '.join(sorted(builtin))}."
        )
    if builtin is None:
        raise _invalid(
            f"The objective metric {metric} needs a metric definition: set "
            "AlgorithmSpecification.MetricDefinitions with a regex that finds it in the training logs."
        )


def _builtin_metrics(image: str) -> set[str] | None:
    """The metric names a built-in algorithm image emits (None: not a built-in algorithm image)."""
    from ..algorithms import registry
    from .images import parse_image

    try:
        info = parse_image(image)
        if not info.algorithm_known or not info.algorithm_available:
            return None
        module = registry.load(info.repository)
    except Exception:
        return None
    if module is None:
        return None
    return {m["Name"] for m in getattr(module.SPEC, "metric_definitions", ())}


def _check_definition(definition: dict, config: dict, tuning_name: str) -> None:
    strategy = config["Strategy"]
    params = parse_ranges(definition.get("HyperParameterRanges"), strategy)
    static = definition.get("StaticHyperParameters") or {}
    both = sorted({p.name for p in params} & set(static))
    if both:
        raise _invalid(
            f"Hyperparameters {', '.join(both)} are both static and tuned; remove them from "
            "StaticHyperParameters or from the ranges."
        )
    if len(static) + len(params) + 1 > 100:
        raise _invalid(
            "A training definition can have at most 100 hyperparameters (static, tuned and "
            f"{OBJECTIVE_KEY} together)."
        )
    _objective_known(definition, definition["TuningObjective"]["MetricName"])
    if definition.get("ResourceConfig") and definition.get("HyperParameterTuningResourceConfig"):
        raise _invalid("Specify either ResourceConfig or HyperParameterTuningResourceConfig, not both.")
    if not definition.get("ResourceConfig") and not definition.get("HyperParameterTuningResourceConfig"):
        raise _invalid(
            "The training job definition needs ResourceConfig or HyperParameterTuningResourceConfig."
        )
    if strategy == "Hyperband":
        hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
        if "MaxResource" not in hyperband and not any(k in static for k in HYPERBAND_EPOCH_NAMES):
            raise _invalid(
                "MaxResource parameter is not provided and could not be inferred from provided static "
                "hyperparameters of TrainingJobDefinition."
            )
    # The child request must be one CreateTrainingJob accepts (nothing is created when it is not).
    sample = child_request(definition, f"{tuning_name}-001-00000000", {p.name: "0" for p in params}, None)
    training_jobs.validate(sample)


def validate(params: dict) -> dict:
    """CreateHyperParameterTuningJob's checks; returns the job's description (nothing is recorded here)."""
    config = copy.deepcopy(params["HyperParameterTuningJobConfig"])
    single = params.get("TrainingJobDefinition")
    multi = params.get("TrainingJobDefinitions")
    if bool(single) == bool(multi):
        raise _invalid("Specify exactly one of TrainingJobDefinition or TrainingJobDefinitions.")
    strategy = config["Strategy"]
    limits = config["ResourceLimits"]
    if single:
        if not config.get("HyperParameterTuningJobObjective"):
            raise _invalid(
                "HyperParameterTuningJobConfig.HyperParameterTuningJobObjective is required with "
                "TrainingJobDefinition."
            )
        ranges = config.setdefault("ParameterRanges", {})
        for key in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges"):
            ranges.setdefault(key, [])
    else:
        names = [d.get("DefinitionName") for d in multi]
        if None in names or len(set(names)) != len(names):
            raise _invalid("Every entry of TrainingJobDefinitions needs a unique DefinitionName.")
        for d in multi:
            if not d.get("TuningObjective") or d.get("HyperParameterRanges") is None:
                raise _invalid(
                    f"Training job definition {d['DefinitionName']} needs a TuningObjective and "
                    "HyperParameterRanges."
                )
        if config.get("TrainingJobEarlyStoppingType", "Off") == "Auto" or params.get("WarmStartConfig"):
            raise _invalid(
                "Early stopping and warm start are supported only for single-algorithm tuning jobs."
            )
    if config.get("StrategyConfig") and strategy != "Hyperband":
        raise _invalid("StrategyConfig can be specified only with the Hyperband strategy.")
    if strategy == "Hyperband":
        if config.get("TrainingJobEarlyStoppingType", "Off") != "Off":
            raise _invalid(
                "TrainingJobEarlyStoppingType must be Off with the Hyperband strategy (Hyperband has "
                "its own early stopping)."
            )
        hyperband = (config.get("StrategyConfig") or {}).get("HyperbandStrategyConfig") or {}
        low, high = hyperband.get("MinResource", 1), hyperband.get("MaxResource")
        if high is not None and (high > 20000 or low > high):
            raise _invalid(
                "HyperbandStrategyConfig: MinResource must be at most MaxResource, and MaxResource at "
                "most 20000."
            )
    config.setdefault("TrainingJobEarlyStoppingType", "Off")
    description = {"HyperParameterTuningJobConfig": config}
    defs = copy.deepcopy(multi) if multi else None
    if single:
        description["TrainingJobDefinition"] = copy.deepcopy(single)
    else:
        description["TrainingJobDefinitions"] = defs
    for definition in definitions(description):
        _check_definition(definition, config, params["HyperParameterTuningJobName"])
    if strategy == "Grid":
        from .tuning_search import grid_size

        size = sum(
            grid_size(parse_ranges(d["HyperParameterRanges"], "Grid")) for d in definitions(description)
        )
        if size == 0:
            raise _invalid("The Grid search strategy needs at least one categorical hyperparameter range.")
        given = limits.get("MaxNumberOfTrainingJobs")
        if given is not None and given != size:
            raise _invalid(
                f"For the Grid search strategy MaxNumberOfTrainingJobs ({given}) must equal the number "
                f"of distinct hyperparameter combinations ({size}), or be left out."
            )
        limits["MaxNumberOfTrainingJobs"] = size
    elif limits.get("MaxNumberOfTrainingJobs") is None:
        raise _invalid(f"ResourceLimits.MaxNumberOfTrainingJobs is required for the {strategy} strategy.")
    # What Describe echoes (the SDK's attach() reads these with []).
    echo = [description["TrainingJobDefinition"]] if single else description["TrainingJobDefinitions"]
    for definition in echo:
        metric = (definition.get("TuningObjective") or config["HyperParameterTuningJobObjective"])[
            "MetricName"
        ]
        static = definition.setdefault("StaticHyperParameters", {})
        static[OBJECTIVE_KEY] = json.dumps(metric) if _quoted_objective(static) else metric
        definition["AlgorithmSpecification"].setdefault("MetricDefinitions", [])
        definition.setdefault("ResourceConfig", _resource_config(definition))
        if definition.get("HyperParameterRanges") is not None:
            for key in ("IntegerParameterRanges", "ContinuousParameterRanges", "CategoricalParameterRanges"):
                definition["HyperParameterRanges"].setdefault(key, [])
    return description


def validate_warm_start(resources, account_id: str, region: str, warm_start: dict) -> None:
    for parent in warm_start["ParentHyperParameterTuningJobs"]:
        name = parent["HyperParameterTuningJobName"]
        row = resources.get(account_id, region, TYPE, name)
        if row is None:
            raise ServiceError(
                "ResourceNotFound",
                f"Amazon SageMaker can't find a tuning job called {name}. Type another name.",
            )
        if not TUNING.terminal(row.status):
            raise _invalid(
                f"The parent tuning job {name} is {row.status}; warm start needs parent tuning jobs "
                "that are Completed, Stopped or Failed."
            )


def new_description(params: dict, validated: dict, name: str, arn: str, created: dt.datetime) -> dict:
    description = {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobArn": arn,
        **validated,
        "HyperParameterTuningJobStatus": "InProgress",
        "CreationTime": created,
        "LastModifiedTime": created,
        "TrainingJobStatusCounters": counters([])[0],
        "ObjectiveStatusCounters": counters([])[1],
        "_ChildKey": f"{name}/{secrets.token_hex(6)}",
    }
    for key in ("WarmStartConfig", "Autotune"):
        if params.get(key):
            description[key] = params[key]
    if params.get("Tags"):
        description["_Tags"] = params["Tags"]
    return description


# -- children -----------------------------------------------------------------------------------


def children(resources, job: Resource) -> list[Resource]:
    """Every child of the tuning job, oldest first (the store is the truth, never memory)."""
    out: list[Resource] = []
    token = None
    while True:
        rows, token = resources.list(
            job.account_id,
            job.region,
            training_jobs.TYPE,
            ListQuery(
                parent=job.data["_ChildKey"],
                sort_by="CreationTime",
                sort_order="Ascending",
                max_results=1000,
                next_token=token,
            ),
        )
        out.extend(rows)
        if not token:
            return out


def objective_status(child: Resource) -> str:
    if not training_jobs.TRAINING.terminal(child.status):
        return "Pending"
    return "Succeeded" if child.data.get("_ObjectiveValue") is not None else "Failed"


def child_summary(child: Resource) -> dict:
    """A ``HyperParameterTrainingJobSummary``."""
    data = child.data
    tuning = data["_Tuning"]
    summary = {
        "TrainingJobDefinitionName": tuning.get("DefinitionName"),
        "TrainingJobName": data["TrainingJobName"],
        "TrainingJobArn": data["TrainingJobArn"],
        "TuningJobName": tuning["TuningJobName"],
        "CreationTime": data["CreationTime"],
        "TrainingStartTime": data.get("TrainingStartTime"),
        "TrainingEndTime": data.get("TrainingEndTime"),
        "TrainingJobStatus": data["TrainingJobStatus"],
        "TunedHyperParameters": tuning["TunedHyperParameters"],
        "FailureReason": data.get("FailureReason"),
        "ObjectiveStatus": objective_status(child),
    }
    if data.get("_ObjectiveValue") is not None:
        summary["FinalHyperParameterTuningJobObjectiveMetric"] = {
            "Type": tuning["Objective"]["Type"],
            "MetricName": tuning["Objective"]["MetricName"],
            "Value": data["_ObjectiveValue"],
        }
    return {k: v for k, v in summary.items() if v is not None}


def _retryable(child: Resource) -> bool:
    return (child.data.get("FailureReason") or "").startswith("InternalServerError")


def counters(kids: list[Resource]) -> tuple[dict, dict]:
    """``TrainingJobStatusCounters`` and ``ObjectiveStatusCounters`` (every key, 0 when none)."""
    status = {"Completed": 0, "InProgress": 0, "RetryableError": 0, "NonRetryableError": 0, "Stopped": 0}
    objective = {"Succeeded": 0, "Pending": 0, "Failed": 0}
    for child in kids:
        if child.status == "Failed":
            status["RetryableError" if _retryable(child) else "NonRetryableError"] += 1
        elif child.status in ("InProgress", "Stopping"):
            status["InProgress"] += 1
        else:
            status[child.status] += 1
        objective[objective_status(child)] += 1
    return status, objective


def better(a: float, b: float, maximize: bool) -> bool:
    return a > b if maximize else a < b


def best_child(kids: list[Resource]) -> Resource | None:
    best = None
    for child in kids:
        value = child.data.get("_ObjectiveValue")
        if value is None or not training_jobs.TRAINING.terminal(child.status):
            continue
        maximize = child.data["_Tuning"]["Objective"]["Type"] == "Maximize"
        if best is None or better(value, best.data["_ObjectiveValue"], maximize):
            best = child
    return best


def not_improving(kids: list[Resource], maximize: bool) -> int:
    """How many finished children in a row (by end time) did not improve the best so far by ≥ 1 %."""
    finished = sorted(
        (
            c
            for c in kids
            if c.data.get("_ObjectiveValue") is not None and training_jobs.TRAINING.terminal(c.status)
        ),
        key=lambda c: c.data.get("TrainingEndTime") or c.data["CreationTime"],
    )
    best = None
    streak = 0
    for child in finished:
        value = child.data["_ObjectiveValue"]
        if best is None or (better(value, best, maximize) and abs(value - best) >= 0.01 * abs(best)):
            best, streak = value, 0
        else:
            streak += 1
            if better(value, best, maximize):
                best = value
    return streak


def report(data: dict, kids: list[Resource]) -> dict:
    """The members a tuning job reports about its children (what Describe shows)."""
    status, objective = counters(kids)
    out = {"TrainingJobStatusCounters": status, "ObjectiveStatusCounters": objective}
    best = best_child(kids)
    if best is not None:
        out["BestTrainingJob"] = child_summary(best)
    warm = data.get("WarmStartConfig") or {}
    if warm.get("WarmStartType") == "IdenticalDataAndAlgorithm":
        candidates = [data.get("_ParentBest")] if data.get("_ParentBest") else []
        if best is not None:
            candidates.append(out["BestTrainingJob"])
        maximize = definitions(data)[0]["TuningObjective"]["Type"] == "Maximize"
        overall = None
        for summary in candidates:
            if overall is None or better(
                summary["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                overall["FinalHyperParameterTuningJobObjectiveMetric"]["Value"],
                maximize,
            ):
                overall = summary
        if overall is not None:
            out["OverallBestTrainingJob"] = overall
    criteria = data["HyperParameterTuningJobConfig"].get("TuningJobCompletionCriteria") or {}
    if criteria.get("BestObjectiveNotImproving") or criteria.get("ConvergenceDetected"):
        maximize = definitions(data)[0]["TuningObjective"]["Type"] == "Maximize"
        details = dict(data.get("TuningJobCompletionDetails") or {})
        details["NumberOfTrainingJobsObjectiveNotImproving"] = not_improving(kids, maximize)
        out["TuningJobCompletionDetails"] = details
    return out


def runtime_seconds(data: dict, now: dt.datetime | None = None) -> int:
    end = data.get("HyperParameterTuningEndTime") or now or utcnow()
    return max(0, int((end - data["CreationTime"]).total_seconds()))


def write_report(
    resources, job: Resource, kids: list[Resource], status: str | None = None, extra: dict | None = None
) -> Resource | None:
    """Write the children's summary (and, given ``status``, move the job there) when anything changed."""
    fresh = report(job.data, kids)

    def change(row: Resource) -> str | None:
        data = row.data
        if TUNING.terminal(row.status):
            return None
        changed = any(data.get(k) != v for k, v in fresh.items()) or status is not None or bool(extra)
        if not changed:
            return None
        data.update(fresh)
        if extra:
            data.update(extra)
        stamp = utcnow()
        data["LastModifiedTime"] = stamp
        if status is not None and TUNING.terminal(status):
            data["HyperParameterTuningEndTime"] = stamp
            data["ConsumedResources"] = {"RuntimeInSeconds": runtime_seconds(data)}
            data.pop("_Ending", None)
        return status

    return mutate(resources, job.account_id, job.region, TYPE, job.name, change, TUNING)


def request_stop(resources, account_id: str, region: str, name: str) -> Resource | None:
    def change(row: Resource) -> str | None:
        status = row.status
        if status != "InProgress":
            raise _invalid(
                f"The hyperparameter tuning job {name} is not in progress (status {status}) and "
                "cannot be stopped."
            )
        row.data["LastModifiedTime"] = utcnow()
        return "Stopping"

    return mutate(resources, account_id, region, TYPE, name, change, TUNING)
