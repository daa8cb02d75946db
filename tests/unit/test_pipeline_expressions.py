"""Pipeline definition expressions, durations, retry policies and definition parsing (pure functions)."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from sagestack.domain import pipeline_executions as executions
from sagestack.domain.pipeline_expressions import (
    ExpressionError,
    Scope,
    condition,
    evaluate,
    parse_parameter,
    parse_path,
    to_string,
)
from sagestack.domain.pipelines import DefinitionError, parse, parse_duration

PROPERTIES = {
    "Preprocess": {
        "ProcessingOutputConfig": {
            "Outputs": [
                {"OutputName": "train", "S3Output": {"S3Uri": "s3://b/train"}},
                {"OutputName": "test", "S3Output": {"S3Uri": "s3://b/test"}},
            ]
        }
    },
    "Train": {
        "FinalMetricDataList": [{"MetricName": "val:acc", "Value": 0.9}],
        "HyperParameters": {"batch-size": "32"},
    },
}


def _scope(**files) -> Scope:
    def props(name):
        if name not in PROPERTIES:
            raise ExpressionError(f"Steps.{name} is undefined.")
        return PROPERTIES[name]

    return Scope(
        parameters={"Threshold": 6.0, "Count": 3, "Flag": True, "Name": "x"},
        execution={"PipelineExecutionId": "abc123def456"},
        step_properties=props,
        property_file_uri=lambda step, name: f"s3://b/{step}/{name}.json",
        read_json=lambda uri: files[uri],
    )


def test_paths_keep_quoted_keys_whole():
    assert parse_path("Outputs['train'].S3Output.S3Uri") == ["Outputs", "train", "S3Output", "S3Uri"]
    assert parse_path("FinalMetricDataList['val:acc'].Value") == ["FinalMetricDataList", "val:acc", "Value"]
    assert parse_path('A[0]["b.c"]') == ["A", 0, "b.c"]


def test_get_join_and_stringification():
    scope = _scope()
    value = {
        "Std:Join": {
            "On": "/",
            "Values": [
                {"Get": "Steps.Preprocess.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"},
                {"Get": "Execution.PipelineExecutionId"},
                {"Get": "Parameters.Threshold"},
                {"Get": "Parameters.Count"},
                {"Get": "Parameters.Flag"},
            ],
        }
    }
    assert evaluate(value, scope) == "s3://b/test/abc123def456/6.0/3/true"
    assert evaluate({"Get": "Steps.Train.FinalMetricDataList['val:acc'].Value"}, scope) == 0.9
    assert evaluate({"Get": "Steps.Train.HyperParameters['batch-size']"}, scope) == "32"
    assert evaluate({"a": [{"Get": "Parameters.Name"}, 1]}, scope) == {"a": ["x", 1]}
    assert to_string(None) == "" and to_string(False) == "false" and to_string(0.25) == "0.25"
    with pytest.raises(ExpressionError, match="undefined"):
        evaluate({"Get": "Steps.Train.Nope"}, scope)


def test_json_get_on_a_property_file():
    scope = _scope(**{"s3://b/Evaluate/Report.json": {"metrics": {"mse": {"value": 2.5}}, "list": [1, 2]}})
    get = {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Report"},
            "Path": "metrics.mse.value",
        }
    }
    assert evaluate(get, scope) == 2.5
    get["Std:JsonGet"]["Path"] = "list[1]"
    assert evaluate(get, scope) == 2
    get["Std:JsonGet"]["Path"] = "metrics.nothing"
    with pytest.raises(ExpressionError, match="Invalid json path"):
        evaluate(get, scope)


def test_conditions_and_combinators():
    scope = _scope()
    le = {"Type": "LessThanOrEqualTo", "LeftValue": {"Get": "Parameters.Count"}, "RightValue": 6.0}
    assert condition(le, scope) is True
    assert condition({"Type": "Not", "Condition": le}, scope) is False
    assert condition({"Type": "Or", "Conditions": [{"Type": "Not", "Condition": le}, le]}, scope) is True
    assert condition({"Type": "In", "QueryValue": {"Get": "Parameters.Count"}, "Values": [1, 3.0]}, scope)
    assert condition({"Type": "Equals", "LeftValue": "1", "RightValue": "3"}, scope) is False
    with pytest.raises(ExpressionError, match="not of the same type"):
        condition({"Type": "Equals", "LeftValue": "3", "RightValue": 3}, scope)
    with pytest.raises(ExpressionError, match="not supported between"):
        condition({"Type": "GreaterThan", "LeftValue": "3", "RightValue": 3}, scope)


def test_parameters_parse_as_declared():
    assert parse_parameter("a", "Boolean", "True") is True
    assert parse_parameter("a", "Float", "7") == 7.0
    assert parse_parameter("a", "Integer", "3.0") == 3
    for kind, text in (("Integer", "x"), ("Float", "y"), ("Boolean", "yes")):
        with pytest.raises(ExpressionError):
            parse_parameter("a", kind, text)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("PT1H", 3600),
        ("p30d", 30 * 86400),
        ("T30m", 1800),
        ("30dT5h", 30 * 86400 + 5 * 3600),
        ("P30M", 30 * 30 * 86400),
        ("5y", 5 * 365 * 86400),
    ],
)
def test_expire_after_durations(text, seconds):
    assert parse_duration(text) == seconds


def test_bad_durations():
    for text in ("", "soon", "PT", "1H"):
        with pytest.raises(ValueError):
            parse_duration(text)


def test_retry_delays_and_limits():
    now = dt.datetime.now(dt.timezone.utc)
    policy = [
        {
            "ExceptionType": ["SageMaker.CAPACITY_ERROR"],
            "IntervalSeconds": 2,
            "BackoffRate": 3.0,
            "MaxAttempts": 2,
        }
    ]
    assert executions.retry_delay(policy, "SageMaker.CAPACITY_ERROR", {"AttemptCount": 1}, now) == 2
    assert executions.retry_delay(policy, "SageMaker.CAPACITY_ERROR", {"AttemptCount": 2}, now) == 6
    assert executions.retry_delay(policy, "SageMaker.CAPACITY_ERROR", {"AttemptCount": 3}, now) is None
    assert executions.retry_delay(policy, "SageMaker.JOB_INTERNAL_ERROR", {"AttemptCount": 1}, now) is None
    assert executions.retry_delay(None, "Step.THROTTLING", {"AttemptCount": 1}, now) == 1  # default policy
    expiring = [{"ExceptionType": ["Step.SERVICE_FAULT"], "ExpireAfterMin": 1}]
    old = {"AttemptCount": 1, "_FirstStart": now - dt.timedelta(minutes=2)}
    assert executions.retry_delay(expiring, "Step.SERVICE_FAULT", old, now) is None
    assert executions.classify_job_failure("InternalServerError: boom") == "SageMaker.JOB_INTERNAL_ERROR"
    assert executions.classify_job_failure("CapacityError: none left") == "SageMaker.CAPACITY_ERROR"
    assert executions.classify_job_failure("AlgorithmError: x") is None


def test_job_names_fit_and_are_lower_case():
    name = executions.job_name("abcdefghijkl", "A_Very_Long_Step_Name_" * 4)
    assert len(name) <= 63 and name == name.lower() and name.startswith("pipelines-abcdefghijkl-a-very")
    assert len(executions.job_name("abcdefghijkl", "Tune", 32)) <= 32


def test_graph_from_data_references_depends_on_and_branches():
    definition = parse(
        json.dumps(
            {
                "Version": "2020-12-01",
                "Parameters": [{"Name": "T", "Type": "Float", "DefaultValue": 1}],
                "Steps": [
                    {"Name": "A", "Type": "Processing", "Arguments": {}},
                    {
                        "Name": "B",
                        "Type": "Training",
                        "Arguments": {"X": {"Get": "Steps.A.ProcessingJobName"}},
                    },
                    {
                        "Name": "C",
                        "Type": "Condition",
                        "DependsOn": ["A"],
                        "Arguments": {
                            "Conditions": [
                                {
                                    "Type": "Equals",
                                    "LeftValue": {"Get": "Steps.B.TrainingJobName"},
                                    "RightValue": "x",
                                }
                            ],
                            "IfSteps": [{"Name": "D", "Type": "Model", "Arguments": {}}],
                            "ElseSteps": [
                                {
                                    "Name": "E",
                                    "Type": "Fail",
                                    "Arguments": {"ErrorMessage": {"Get": "Parameters.T"}},
                                }
                            ],
                        },
                    },
                ],
            }
        )
    )
    assert list(definition.steps) == ["A", "B", "C", "D", "E"]
    assert definition.steps["B"].depends == ["A"]
    assert definition.steps["C"].depends == ["B", "A"]
    assert definition.steps["D"].branch == ("C", True) and definition.steps["D"].depends == ["C"]
    assert definition.dependants("A") == {"B", "C", "D", "E"}
    with pytest.raises(DefinitionError, match="Version"):
        parse(json.dumps({"Version": "2019", "Steps": []}))


def test_definitions_the_sdk_produced_parse_into_their_graphs():
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "pipelines" / "definitions"
    flow06 = parse((here / "flow06.json").read_text())
    assert flow06.steps["Evaluate"].depends == ["Train", "Preprocess"]
    assert flow06.steps["MseTooHigh"].branch == ("CheckMSE", False)
    assert flow06.dependants("CheckMSE") == {
        "RegisterModel-RegisterModel",
        "CreateModel-CreateModel",
        "MseTooHigh",
    }
    flow06b = parse((here / "flow06b.json").read_text())
    assert flow06b.steps["Tune"].depends == [] and flow06b.steps["Train"].depends == []
    assert set(flow06b.steps["BatchScore"].depends) == {"BestModel-CreateModel", "Train"}
