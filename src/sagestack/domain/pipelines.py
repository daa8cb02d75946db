"""SageMaker Pipelines: pipelines, their versions, and the parsed, validated definition (the step graph).

A pipeline is one ``pipeline`` resource (named after the pipeline); its versions live in its description
(``_Versions``: id, definition text, times, display name and description). An execution is a
``pipeline-execution`` resource (named by its 12-character id, parent = the pipeline name): see
:mod:`.pipeline_executions`.

:func:`parse` validates a definition as CreatePipeline does (unknown step references in DependsOn or Get,
undefined parameters, cycles, duplicate step names, bad types) and raises :class:`DefinitionError` with a
message naming the problem.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .pipeline_expressions import EXECUTION_VARIABLES, references
from .state import StateMachine

PIPELINE = "pipeline"

PIPELINE_STATUS = StateMachine(
    "PipelineStatus", {"Active": {"Deleting"}, "Deleting": set()}, field="PipelineStatus"
)

VERSION = "2020-12-01"
NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,255}$")
STEP_NAME_PATTERN = re.compile(r"^[A-Za-z0-9\-_]{1,64}$")
PARAMETER_NAME_PATTERN = re.compile(r"^[A-Za-z0-9\-_]{1,256}$")
PARAMETER_TYPES = {"String": (str,), "Integer": (int,), "Float": (int, float), "Boolean": (bool,)}

#: Step types the service knows (those this sagestack cannot run fail clearly when they start).
STEP_TYPES = (
    "Processing",
    "Training",
    "Transform",
    "Tuning",
    "AutoML",
    "Model",
    "RegisterModel",
    "Condition",
    "Fail",
    "Callback",
    "Lambda",
    "QualityCheck",
    "ClarifyCheck",
    "EMR",
    "EndpointConfig",
    "Endpoint",
    "InferenceComponent",
    "Lineage",
    "BedrockCustomModel",
    "BedrockCustomModelDeployment",
    "BedrockModelImport",
    "BedrockProvisionedModelThroughput",
)
RETRY_STEP_TYPES = {
    "Processing",
    "Training",
    "Transform",
    "Tuning",
    "AutoML",
    "Model",
    "RegisterModel",
    "EMR",
    "EndpointConfig",
}
STEP_EXCEPTIONS = {"Step.SERVICE_FAULT", "Step.THROTTLING"}
JOB_EXCEPTIONS = {"SageMaker.JOB_INTERNAL_ERROR", "SageMaker.CAPACITY_ERROR", "SageMaker.RESOURCE_LIMIT"}
OTHER_EXCEPTIONS = {"Emr.RESOURCE_LIMIT"}


class DefinitionError(Exception):
    """The definition is not one SageMaker accepts (a ValidationException at the edge)."""


def pipeline_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account_id}:pipeline/{name}"


def name_from(name_or_arn: str) -> str:
    """PipelineNameOrArn → the name."""
    if name_or_arn.startswith("arn:") and ":pipeline/" in name_or_arn:
        return name_or_arn.split(":pipeline/", 1)[1].split("/", 1)[0]
    return name_or_arn


# -- definition ------------------------------------------------------------------------------


@dataclass
class StepDef:
    name: str
    type: str
    raw: dict
    #: Steps this one waits for (data references, DependsOn, the Condition it is a branch of).
    depends: list[str] = field(default_factory=list)
    #: (condition step, True for IfSteps / False for ElseSteps) when the step is inside a branch.
    branch: tuple[str, bool] | None = None

    @property
    def arguments(self) -> Any:
        return self.raw.get("Arguments")


@dataclass
class Definition:
    parameters: dict[str, dict]
    steps: dict[str, StepDef]  # definition order, branches after their Condition
    experiment_config: dict | None
    text: str = ""

    def dependants(self, name: str) -> set[str]:
        """Every step that (transitively) waits for ``name``."""
        out: set[str] = set()
        frontier = [name]
        while frontier:
            current = frontier.pop()
            for step in self.steps.values():
                if current in step.depends and step.name not in out:
                    out.add(step.name)
                    frontier.append(step.name)
        return out


def _fail(message: str) -> DefinitionError:
    return DefinitionError(message)


def parse(text: str) -> Definition:
    try:
        document = json.loads(text)
    except (TypeError, ValueError) as exc:
        raise _fail(f"The pipeline definition is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise _fail("The pipeline definition must be a JSON object.")
    if document.get("Version") != VERSION:
        raise _fail(f"Invalid pipeline definition Version {document.get('Version')!r}: expected '{VERSION}'.")
    steps_raw = document.get("Steps")
    if not isinstance(steps_raw, list):
        raise _fail("The pipeline definition must contain a Steps list.")
    parameters = _parameters(document.get("Parameters") or [])
    steps: dict[str, StepDef] = {}
    _collect(steps_raw, steps, None)
    experiment = document.get("PipelineExperimentConfig")
    if experiment is not None and not isinstance(experiment, dict):
        raise _fail("PipelineExperimentConfig must be an object or null.")
    definition = Definition(parameters, steps, experiment, text)
    for step in steps.values():
        _check_step(step, definition)
    for reference in references(experiment or {}):
        _check_reference(reference, "PipelineExperimentConfig", definition, allow_steps=False)
    _check_acyclic(definition)
    return definition


def _parameters(items: Any) -> dict[str, dict]:
    if not isinstance(items, list):
        raise _fail("Parameters must be a list.")
    out: dict[str, dict] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            raise _fail(f"Every parameter needs a Name: {item!r}.")
        name = item["Name"]
        if not PARAMETER_NAME_PATTERN.match(name):
            raise _fail(f"Invalid parameter name '{name}'.")
        if name in out:
            raise _fail(f"Parameter names must be unique: '{name}' is declared more than once.")
        kind = item.get("Type", "String")
        if kind not in PARAMETER_TYPES:
            raise _fail(
                f"Parameter '{name}' has an invalid Type '{kind}' (expected String, Integer, Float or Boolean)."
            )
        if "DefaultValue" in item and item["DefaultValue"] is not None:
            default = item["DefaultValue"]
            ok = isinstance(default, PARAMETER_TYPES[kind]) and not (
                kind in ("Integer", "Float") and isinstance(default, bool)
            )
            if not ok:
                raise _fail(
                    f"Parameter '{name}' of type {kind} has a DefaultValue of the wrong type: {default!r}."
                )
            enum = item.get("EnumValues")
            if enum and default not in enum:
                raise _fail(f"Parameter '{name}' DefaultValue '{default}' is not one of its EnumValues.")
        out[name] = dict(item, Type=kind)
    return out


def _collect(items: Any, steps: dict[str, StepDef], branch: tuple[str, bool] | None) -> None:
    if not isinstance(items, list):
        raise _fail("Steps (and Condition IfSteps/ElseSteps) must be lists of steps.")
    for raw in items:
        if not isinstance(raw, dict):
            raise _fail(f"Every step must be an object: {raw!r}.")
        name, kind = raw.get("Name"), raw.get("Type")
        if not isinstance(name, str) or not STEP_NAME_PATTERN.match(name):
            raise _fail(f"Invalid step Name {name!r}: it must match [A-Za-z0-9\\-_]{{1,64}}.")
        if kind not in STEP_TYPES:
            raise _fail(f"Step {name} has an unknown Type {kind!r}.")
        if name in steps:
            raise _fail(f"Pipeline steps cannot have duplicate names: step {name} is defined more than once.")
        step = StepDef(name, kind, raw, branch=branch)
        steps[name] = step
        if kind == "Condition":
            arguments = raw.get("Arguments")
            if not isinstance(arguments, dict) or not isinstance(arguments.get("Conditions"), list):
                raise _fail(f"Condition step {name} needs Arguments.Conditions (a list).")
            _collect(arguments.get("IfSteps") or [], steps, (name, True))
            _collect(arguments.get("ElseSteps") or [], steps, (name, False))


def _own_arguments(step: StepDef) -> Any:
    """What of a step may reference other steps (a Condition: only its Conditions)."""
    if step.type == "Condition":
        return step.raw["Arguments"]["Conditions"]
    return {k: v for k, v in step.raw.items() if k not in ("Name", "Type", "DependsOn")}


def _check_reference(
    reference: str, owner: str, definition: Definition, allow_steps: bool = True
) -> str | None:
    if reference.startswith("Parameters."):
        name = reference[len("Parameters.") :]
        if name not in definition.parameters:
            raise _fail(f"Step {owner} references an undefined parameter: Parameters.{name}.")
        return None
    if reference.startswith("Execution."):
        name = reference[len("Execution.") :]
        if name not in EXECUTION_VARIABLES:
            raise _fail(f"Step {owner} references an unknown execution variable: Execution.{name}.")
        return None
    if reference.startswith("PipelineExperimentConfig."):
        if reference not in ("PipelineExperimentConfig.ExperimentName", "PipelineExperimentConfig.TrialName"):
            raise _fail(f"Step {owner} references an unknown variable: {reference}.")
        return None
    if reference.startswith("Steps.") and allow_steps:
        target = reference[len("Steps.") :].split(".", 1)[0]
        if target not in definition.steps:
            raise _fail(f"Step {owner} references an undefined step: {target} (in {reference}).")
        if definition.steps[target].type == "Fail":
            raise _fail(f"{owner} can not depends on {target}: other steps cannot reference a Fail step.")
        rest = reference[len("Steps.") + len(target) + 1 :]
        if rest.startswith("PropertyFiles."):
            source = definition.steps[target]
            if source.type != "Processing":
                raise _fail(
                    f"Step {owner} uses a property file of step {target}, which is not a Processing step."
                )
            file_name = rest[len("PropertyFiles.") :]
            declared = {p.get("PropertyFileName") for p in source.raw.get("PropertyFiles") or []}
            if file_name not in declared:
                raise _fail(
                    f"Step {owner} references an undeclared property file {file_name} of step {target}."
                )
        if target == owner:
            raise _fail(f"Step {owner} cannot reference itself.")
        return target
    raise _fail(f"Step {owner} has an invalid reference '{reference}'.")


def _check_step(step: StepDef, definition: Definition) -> None:
    raw = step.raw
    depends: list[str] = []
    for reference in references(_own_arguments(step)):
        target = _check_reference(reference, step.name, definition)
        if target is not None and target not in depends:
            depends.append(target)
    explicit = raw.get("DependsOn") or []
    if not isinstance(explicit, list) or not all(isinstance(n, str) for n in explicit):
        raise _fail(f"Step {step.name}: DependsOn must be a list of step names.")
    for target in explicit:
        if target not in definition.steps:
            raise _fail(f"Step {step.name} DependsOn an undefined step: {target}.")
        if definition.steps[target].type == "Fail":
            raise _fail(f"{step.name} can not depends on {target}")
        if target == step.name:
            raise _fail(f"Step {step.name} cannot depend on itself.")
        if target not in depends:
            depends.append(target)
    if step.branch is not None and step.branch[0] not in depends:
        depends.append(step.branch[0])
    step.depends = depends
    if step.type == "Processing":
        outputs = {
            o.get("OutputName")
            for o in ((step.arguments or {}).get("ProcessingOutputConfig") or {}).get("Outputs") or []
            if isinstance(o, dict)
        }
        for item in raw.get("PropertyFiles") or []:
            if not isinstance(item, dict) or not item.get("PropertyFileName") or not item.get("OutputName"):
                raise _fail(
                    f"Step {step.name}: every PropertyFile needs PropertyFileName, OutputName and FilePath."
                )
            if item["OutputName"] not in outputs:
                raise _fail(
                    f"Step {step.name}: property file {item['PropertyFileName']} names output "
                    f"{item['OutputName']}, which is not an output of the step."
                )
    elif raw.get("PropertyFiles"):
        raise _fail(f"Step {step.name}: PropertyFiles are only allowed on Processing steps.")
    if step.type == "Fail" and not isinstance(step.arguments or {}, dict):
        raise _fail(f"Fail step {step.name}: Arguments must be an object.")
    if step.type == "EMR":
        arguments = step.arguments or {}
        if ("ClusterId" in arguments) == ("ClusterConfig" in arguments):
            raise _fail(f"EMR step {step.name} needs exactly one of ClusterId and ClusterConfig.")
    _check_retry_policies(step)
    cache = raw.get("CacheConfig")
    if cache is not None:
        if not isinstance(cache, dict):
            raise _fail(f"Step {step.name}: CacheConfig must be an object.")
        if cache.get("ExpireAfter") is not None:
            try:
                parse_duration(cache["ExpireAfter"])
            except ValueError:
                raise _fail(
                    f"Step {step.name}: CacheConfig.ExpireAfter {cache['ExpireAfter']!r} is not an ISO 8601 duration."
                ) from None


def _check_retry_policies(step: StepDef) -> None:
    policies = step.raw.get("RetryPolicies")
    if policies is None:
        return
    if not isinstance(policies, list):
        raise _fail(f"Step {step.name}: RetryPolicies must be a list.")
    if policies and step.type not in RETRY_STEP_TYPES:
        raise _fail(f"Step {step.name}: a {step.type} step does not support RetryPolicies.")
    for policy in policies:
        if not isinstance(policy, dict):
            raise _fail(f"Step {step.name}: every retry policy must be an object.")
        types = policy.get("ExceptionType")
        types = [types] if isinstance(types, str) else types
        if not types or not isinstance(types, list):
            raise _fail(f"Step {step.name}: a retry policy needs ExceptionType.")
        for kind in types:
            if kind not in STEP_EXCEPTIONS | JOB_EXCEPTIONS | OTHER_EXCEPTIONS:
                raise _fail(f"Step {step.name}: unknown retry ExceptionType {kind!r}.")
            if kind in JOB_EXCEPTIONS and step.type in ("Model", "RegisterModel"):
                raise _fail(
                    f"Step {step.name}: SageMaker job retry policies ({kind}) are not allowed on a "
                    f"{step.type} step."
                )
        if policy.get("MaxAttempts") is not None and policy.get("ExpireAfterMin") is not None:
            raise _fail(f"Step {step.name}: a retry policy takes MaxAttempts or ExpireAfterMin, not both.")
        for key, low, high in (
            ("MaxAttempts", 0, 20),
            ("ExpireAfterMin", 0, 14400),
            ("IntervalSeconds", 1, 43200),
        ):
            value = policy.get(key)
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high
            ):
                raise _fail(f"Step {step.name}: retry policy {key} must be an integer from {low} to {high}.")
        rate = policy.get("BackoffRate")
        if rate is not None and (not isinstance(rate, (int, float)) or isinstance(rate, bool) or rate < 1):
            raise _fail(f"Step {step.name}: retry policy BackoffRate must be a number ≥ 1.")


def _check_acyclic(definition: Definition) -> None:
    """Kahn's algorithm (no recursion: definitions may chain thousands of steps)."""
    waiting = {name: len(set(step.depends)) for name, step in definition.steps.items()}
    users: dict[str, list[str]] = {name: [] for name in definition.steps}
    for step in definition.steps.values():
        for target in set(step.depends):
            users[target].append(step.name)
    ready = [name for name, count in waiting.items() if count == 0]
    while ready:
        name = ready.pop()
        for user in users[name]:
            waiting[user] -= 1
            if waiting[user] == 0:
                ready.append(user)
    stuck = [name for name, count in waiting.items() if count > 0]
    if stuck:
        # walk back along unresolved dependencies from one stuck step until a step repeats
        path, seen, current = [], {}, stuck[0]
        while current not in seen:
            seen[current] = len(path)
            path.append(current)
            current = next(d for d in definition.steps[current].depends if waiting.get(d, 0) > 0)
        cycle = path[seen[current] :] + [current]
        raise _fail(f"Cycle detected in pipeline step graph: {' -> '.join(reversed(cycle))}.")


# -- ISO 8601 durations (CacheConfig.ExpireAfter), leniently as the service reads them ---------------

_DATE_UNITS = {"Y": 365 * 86400, "M": 30 * 86400, "W": 7 * 86400, "D": 86400}
_TIME_UNITS = {"H": 3600, "M": 60, "S": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([A-Za-z])")


def parse_duration(text: Any) -> float:
    """Seconds in ``PT1H``, ``p30d``, ``T30m``, ``30dT5h``, ``P30M`` (months)…; ValueError otherwise."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(text)
    value = text.strip().upper()
    if value.startswith("P"):
        value = value[1:]
    date_part, _, time_part = value.partition("T")
    total = 0.0
    matched = False
    for part, units in ((date_part, _DATE_UNITS), (time_part, _TIME_UNITS)):
        pos = 0
        while pos < len(part):
            match = _PART.match(part, pos)
            if match is None or match.group(2) not in units:
                raise ValueError(text)
            total += float(match.group(1)) * units[match.group(2)]
            matched = True
            pos = match.end()
    if not matched:
        raise ValueError(text)
    return total
