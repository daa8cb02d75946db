"""Pipelines over boto3 with hand-written definitions: the pipeline API (versions, listing, tags,
delete), definition validation (nothing stored on a bad definition), and executions of steps that run
no job (Condition, Fail, Callback, Lambda, EMR): parameters, expressions, statuses, FailureReason,
ListPipelineExecutionSteps metadata, Retry and idempotency."""

from __future__ import annotations

import json
import uuid

import botocore.exceptions
import pytest

from helpers import ROLE, wait_for


@pytest.fixture(scope="module")
def sm(server):
    return server.client("sagemaker")


def _name(prefix: str = "pipe") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _definition(steps, parameters=None, **extra) -> str:
    return json.dumps(
        {"Version": "2020-12-01", "Metadata": {}, "Parameters": parameters or [], "Steps": steps, **extra}
    )


THRESHOLD = [
    {"Name": "Threshold", "Type": "Float", "DefaultValue": 6.0},
    {"Name": "Observed", "Type": "Integer", "DefaultValue": 3},
    {"Name": "Label", "Type": "String", "DefaultValue": "run"},
    {"Name": "Strict", "Type": "Boolean", "DefaultValue": False},
]

CONDITION_STEPS = [
    {
        "Name": "Check",
        "Type": "Condition",
        "Arguments": {
            "Conditions": [
                {
                    "Type": "LessThanOrEqualTo",
                    "LeftValue": {"Get": "Parameters.Observed"},
                    "RightValue": {"Get": "Parameters.Threshold"},
                }
            ],
            "IfSteps": [
                {
                    "Name": "Fine",
                    "Type": "Fail",
                    "Arguments": {
                        "ErrorMessage": {
                            "Std:Join": {
                                "On": " ",
                                "Values": [
                                    "ok",
                                    {"Get": "Parameters.Observed"},
                                    {"Get": "Parameters.Strict"},
                                ],
                            }
                        }
                    },
                }
            ],
            "ElseSteps": [
                {
                    "Name": "TooHigh",
                    "Type": "Fail",
                    "Arguments": {
                        "ErrorMessage": {
                            "Std:Join": {"On": " ", "Values": ["above", {"Get": "Parameters.Threshold"}]}
                        }
                    },
                }
            ],
        },
    }
]


def _create(sm, steps, parameters=None, **kwargs) -> str:
    name = _name()
    sm.create_pipeline(
        PipelineName=name, RoleArn=ROLE, PipelineDefinition=_definition(steps, parameters), **kwargs
    )
    return name


def _wait(sm, arn: str, timeout: float = 60) -> dict:
    def done():
        desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
        return desc if desc["PipelineExecutionStatus"] in ("Succeeded", "Failed", "Stopped") else None

    return wait_for(done, timeout, 0.2, f"pipeline execution {arn}")


def _steps(sm, arn: str) -> list[dict]:
    return sm.list_pipeline_execution_steps(PipelineExecutionArn=arn)["PipelineExecutionSteps"]


def _error(call) -> tuple[str, str]:
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_create_describe_update_versions_tags_list_delete(sm):
    name = _name()
    created = sm.create_pipeline(
        PipelineName=name,
        RoleArn=ROLE,
        PipelineDefinition=_definition(CONDITION_STEPS, THRESHOLD),
        PipelineDescription="first",
        Tags=[{"Key": "team", "Value": "ml"}],
        ParallelismConfiguration={"MaxParallelExecutionSteps": 50},
    )
    arn = created["PipelineArn"]
    assert arn.endswith(f":pipeline/{name}") and arn.startswith("arn:aws:sagemaker:")
    desc = sm.describe_pipeline(PipelineName=name)
    assert desc["PipelineStatus"] == "Active"
    assert json.loads(desc["PipelineDefinition"])["Steps"][0]["Name"] == "Check"
    assert desc["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 50}
    assert sm.describe_pipeline(PipelineName=arn)["PipelineName"] == name  # the ARN works too
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "ml"}]

    code, message = _error(
        lambda: sm.create_pipeline(
            PipelineName=name, RoleArn=ROLE, PipelineDefinition=_definition(CONDITION_STEPS, THRESHOLD)
        )
    )
    assert code == "ValidationException" and "already exists" in message

    updated = sm.update_pipeline(
        PipelineName=name,
        PipelineDefinition=_definition(
            CONDITION_STEPS[:0] + [{"Name": "Only", "Type": "Fail", "Arguments": {}}]
        ),
        ParallelismConfiguration={"MaxParallelExecutionSteps": 55},
    )
    assert updated == {
        "PipelineArn": arn,
        "PipelineVersionId": 2,
        "ResponseMetadata": updated["ResponseMetadata"],
    }
    latest = sm.describe_pipeline(PipelineName=name)
    assert json.loads(latest["PipelineDefinition"])["Steps"][0]["Name"] == "Only"
    assert latest["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 55}
    assert latest["PipelineDescription"] == "first"  # kept
    first = sm.describe_pipeline(PipelineName=name, PipelineVersionId=1)
    assert json.loads(first["PipelineDefinition"])["Steps"][0]["Name"] == "Check"
    versions = sm.list_pipeline_versions(PipelineName=name, MaxResults=1)["PipelineVersionSummaries"]
    assert [v["PipelineVersionId"] for v in versions] == [2]  # newest first
    sm.update_pipeline_version(PipelineArn=arn, PipelineVersionId=1, PipelineVersionDisplayName="v-one")
    assert (
        sm.describe_pipeline(PipelineName=name, PipelineVersionId=1)["PipelineVersionDisplayName"] == "v-one"
    )

    listed = sm.list_pipelines(PipelineNamePrefix=name)["PipelineSummaries"]
    assert [p["PipelineName"] for p in listed] == [name]

    assert sm.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex)["PipelineArn"] == arn
    code, _ = _error(lambda: sm.describe_pipeline(PipelineName=name))
    assert code == "ResourceNotFound"
    code, _ = _error(lambda: sm.delete_pipeline(PipelineName=name, ClientRequestToken=uuid.uuid4().hex))
    assert code == "ResourceNotFound"


def test_definition_from_s3(server, sm):
    s3 = server.client("s3")
    bucket = _name("pipedefs")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="defs/p.json", Body=_definition(CONDITION_STEPS, THRESHOLD).encode())
    name = _name()
    sm.create_pipeline(
        PipelineName=name,
        RoleArn=ROLE,
        PipelineDefinitionS3Location={"Bucket": bucket, "ObjectKey": "defs/p.json"},
    )
    assert (
        json.loads(sm.describe_pipeline(PipelineName=name)["PipelineDefinition"])["Steps"][0]["Name"]
        == "Check"
    )
    code, message = _error(lambda: sm.create_pipeline(PipelineName=_name(), RoleArn=ROLE))
    assert code == "ValidationException" and "should be provided" in message


FAIL = {"Name": "Stop", "Type": "Fail", "Arguments": {"ErrorMessage": "x"}}


@pytest.mark.parametrize(
    ("steps", "parameters", "expected"),
    [
        ([dict(FAIL, DependsOn=["Nowhere"])], None, "undefined step: Nowhere"),
        (
            [{"Name": "A", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Parameters.Missing"}}}],
            None,
            "undefined parameter",
        ),
        (
            [{"Name": "A", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Steps.Ghost.Outcome"}}}],
            None,
            "undefined step: Ghost",
        ),
        (
            [{"Name": "A", "Type": "Fail", "Arguments": {"ErrorMessage": {"Get": "Execution.Nope"}}}],
            None,
            "unknown execution variable",
        ),
        ([FAIL, FAIL], None, "duplicate names"),
        ([{"Name": "A", "Type": "Teleport"}], None, "unknown Type"),
        ([FAIL], [{"Name": "P", "Type": "Integer", "DefaultValue": "three"}], "wrong type"),
        ([FAIL], [{"Name": "P", "Type": "Decimal"}], "invalid Type"),
        (
            [
                {
                    "Name": "A",
                    "Type": "Condition",
                    "Arguments": {
                        "Conditions": [
                            {"Type": "Equals", "LeftValue": {"Get": "Steps.B.Outcome"}, "RightValue": True}
                        ]
                    },
                },
                {
                    "Name": "B",
                    "Type": "Condition",
                    "Arguments": {
                        "Conditions": [
                            {"Type": "Equals", "LeftValue": {"Get": "Steps.A.Outcome"}, "RightValue": True}
                        ]
                    },
                },
            ],
            None,
            "Cycle detected",
        ),
        (
            [
                FAIL,
                {
                    "Name": "CondStep",
                    "Type": "Condition",
                    "DependsOn": ["Stop"],
                    "Arguments": {"Conditions": []},
                },
            ],
            None,
            "CondStep can not depends on Stop",
        ),
        (
            [
                {
                    "Name": "T",
                    "Type": "Training",
                    "Arguments": {},
                    "RetryPolicies": [
                        {"ExceptionType": ["Step.THROTTLING"], "MaxAttempts": 2, "ExpireAfterMin": 5}
                    ],
                }
            ],
            None,
            "not both",
        ),
        (
            [
                {
                    "Name": "T",
                    "Type": "Training",
                    "Arguments": {},
                    "CacheConfig": {"Enabled": True, "ExpireAfter": "soon"},
                }
            ],
            None,
            "ISO 8601",
        ),
    ],
)
def test_bad_definitions_are_refused_and_nothing_is_stored(sm, steps, parameters, expected):
    name = _name("bad")
    code, message = _error(
        lambda: sm.create_pipeline(
            PipelineName=name, RoleArn=ROLE, PipelineDefinition=_definition(steps, parameters)
        )
    )
    assert code == "ValidationException"
    assert expected in message
    code, _ = _error(lambda: sm.describe_pipeline(PipelineName=name))
    assert code == "ResourceNotFound"


def test_bad_update_keeps_the_current_version(sm):
    name = _create(sm, CONDITION_STEPS, THRESHOLD)
    code, _ = _error(lambda: sm.update_pipeline(PipelineName=name, PipelineDefinition="{not json"))
    assert code == "ValidationException"
    versions = sm.list_pipeline_versions(PipelineName=name)["PipelineVersionSummaries"]
    assert [v["PipelineVersionId"] for v in versions] == [1]


def test_condition_branches_fail_step_message_and_parameters(sm):
    name = _create(sm, CONDITION_STEPS, THRESHOLD)
    pipeline_arn = sm.describe_pipeline(PipelineName=name)["PipelineArn"]
    # Observed 7 > Threshold 6.5: the Else branch's Fail step
    arn = sm.start_pipeline_execution(
        PipelineName=name,
        PipelineParameters=[{"Name": "Observed", "Value": "7"}, {"Name": "Threshold", "Value": "6.5"}],
    )["PipelineExecutionArn"]
    assert arn.startswith(f"{pipeline_arn}/execution/") and len(arn.rsplit("/", 1)[-1]) == 12
    desc = _wait(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Failed"
    assert desc["FailureReason"] == "Step failure: One or multiple steps failed."
    assert desc["PipelineArn"] == pipeline_arn
    assert desc["PipelineExecutionDisplayName"].startswith("execution-")
    assert desc["PipelineExperimentConfig"] == {"ExperimentName": name, "TrialName": arn.rsplit("/", 1)[-1]}
    steps = _steps(sm, arn)
    assert [s["StepName"] for s in steps] == ["TooHigh", "Check"]  # newest first, Fine never listed
    assert steps[0]["StepStatus"] == "Failed" and steps[0]["FailureReason"] == "above 6.5"
    assert steps[0]["Metadata"] == {"Fail": {"ErrorMessage": "above 6.5"}}
    assert steps[1]["StepStatus"] == "Succeeded" and steps[1]["Metadata"] == {
        "Condition": {"Outcome": "False"}
    }
    assert "FailureReason" not in steps[1]
    summary = sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"][0]
    assert "Step failure: One or multiple steps failed" in summary["PipelineExecutionFailureReason"]
    params = {
        p["Name"]: p["Value"]
        for p in sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=arn)["PipelineParameters"]
    }
    assert params == {"Threshold": "6.5", "Observed": "7", "Label": "run", "Strict": "false"}
    definition = sm.describe_pipeline_definition_for_execution(PipelineExecutionArn=arn)["PipelineDefinition"]
    assert json.loads(definition)["Steps"][0]["Name"] == "Check"
    code, message = _error(
        lambda: sm.retry_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    )
    assert code == "ValidationException" and "Fail step" in message

    # defaults (3 <= 6.0): the If branch; booleans and integers rendered as the service does
    arn = sm.start_pipeline_execution(
        PipelineName=name, PipelineParameters=[{"Name": "Strict", "Value": "True"}]
    )["PipelineExecutionArn"]
    _wait(sm, arn)
    steps = _steps(sm, arn)
    assert [s["StepName"] for s in steps] == ["Fine", "Check"]
    assert steps[0]["FailureReason"] == "ok 3 true"
    assert steps[1]["Metadata"] == {"Condition": {"Outcome": "True"}}
    latest = sm.list_pipeline_executions(
        PipelineName=name, SortBy="CreationTime", SortOrder="Descending", MaxResults=1
    )
    assert [s["PipelineExecutionArn"] for s in latest["PipelineExecutionSummaries"]] == [arn]


def test_start_validates_parameters_and_is_idempotent(sm):
    name = _create(sm, CONDITION_STEPS, THRESHOLD)
    for params, expected in (
        ([{"Name": "Nope", "Value": "1"}], "Unknown parameter 'Nope'"),
        ([{"Name": "Observed", "Value": "many"}], "not a valid Integer"),
        ([{"Name": "Strict", "Value": "maybe"}], "not a valid Boolean"),
    ):
        code, message = _error(
            lambda params=params: sm.start_pipeline_execution(PipelineName=name, PipelineParameters=params)
        )
        assert code == "ValidationException" and expected in message
    assert sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"] == []
    token = uuid.uuid4().hex
    first = sm.start_pipeline_execution(PipelineName=name, ClientRequestToken=token)["PipelineExecutionArn"]
    again = sm.start_pipeline_execution(PipelineName=name, ClientRequestToken=token)["PipelineExecutionArn"]
    assert first == again
    assert len(sm.list_pipeline_executions(PipelineName=name)["PipelineExecutionSummaries"]) == 1
    code, _ = _error(lambda: sm.start_pipeline_execution(PipelineName=_name("ghost")))
    assert code == "ResourceNotFound"


def test_missing_queue_function_and_emr_fail_clearly(sm):
    steps = [
        {
            "Name": "Wait",
            "Type": "Callback",
            "SqsQueueUrl": "https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue",
            "OutputParameters": [{"OutputName": "out", "OutputType": "String"}],
            "Arguments": {"a": {"Get": "Parameters.Label"}},
        },
        {
            "Name": "Fn",
            "Type": "Lambda",
            "FunctionArn": "arn:aws:lambda:us-west-2:123456789012:function:fake",
            "Arguments": {"a": 1},
        },
        {
            "Name": "Emr",
            "Type": "EMR",
            "Arguments": {"ClusterId": "j-123", "StepConfig": {"HadoopJarStep": {"Jar": "s3://b/x.jar"}}},
        },
    ]
    name = _create(sm, steps, THRESHOLD)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert _wait(sm, arn)["PipelineExecutionStatus"] == "Failed"
    by_name = {s["StepName"]: s for s in _steps(sm, arn)}
    assert by_name["Wait"]["FailureReason"] == (
        "ClientError: Failed to send message to https://sqs.us-east-2.amazonaws.com/123456789012/MyQueue: "
        "AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist."
    )
    assert len(by_name["Wait"]["Metadata"]["Callback"]["CallbackToken"]) == 10
    assert by_name["Fn"]["FailureReason"] == (
        "ClientError: Failed to invoke Lambda function arn:aws:lambda:us-west-2:123456789012:function:fake: "
        "ResourceNotFoundException: Function not found: arn:aws:lambda:us-west-2:123456789012:function:fake"
    )
    assert by_name["Fn"]["Metadata"] == {
        "Lambda": {"Arn": "arn:aws:lambda:us-west-2:123456789012:function:fake"}
    }
    assert "Step type EMR is not supported" in by_name["Emr"]["FailureReason"]
    code, _ = _error(lambda: sm.send_pipeline_execution_step_success(CallbackToken="abcdefghij"))
    assert code == "ResourceNotFound"
    code, _ = _error(
        lambda: sm.send_pipeline_execution_step_success(
            CallbackToken=by_name["Wait"]["Metadata"]["Callback"]["CallbackToken"]
        )
    )
    assert code == "ConflictException"


def test_parallelism_and_update_execution(sm):
    steps = [
        {
            "Name": f"C{i}",
            "Type": "Condition",
            "Arguments": {"Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 1}]},
        }
        for i in range(4)
    ]
    name = _create(sm, steps, ParallelismConfiguration={"MaxParallelExecutionSteps": 1})
    arn = sm.start_pipeline_execution(PipelineName=name, PipelineExecutionDescription="d1")[
        "PipelineExecutionArn"
    ]
    desc = _wait(sm, arn)
    assert desc["PipelineExecutionStatus"] == "Succeeded" and "FailureReason" not in desc
    assert desc["ParallelismConfiguration"] == {"MaxParallelExecutionSteps": 1}
    assert [s["StepName"] for s in _steps(sm, arn)] == ["C3", "C2", "C1", "C0"]
    sm.update_pipeline_execution(
        PipelineExecutionArn=arn, PipelineExecutionDescription="d2", PipelineExecutionDisplayName="renamed"
    )
    desc = sm.describe_pipeline_execution(PipelineExecutionArn=arn)
    assert desc["PipelineExecutionDescription"] == "d2" and desc["PipelineExecutionDisplayName"] == "renamed"
    code, _ = _error(
        lambda: sm.stop_pipeline_execution(PipelineExecutionArn=arn, ClientRequestToken=uuid.uuid4().hex)
    )
    assert code == "ValidationException"


def test_rejected_create_and_unresolvable_expression_fail_their_steps(sm):
    steps = [
        {
            "Name": "BadTrain",
            "Type": "Training",
            "Arguments": {
                "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
                "OutputDataConfig": {"S3OutputPath": "s3://nowhere/out"},
                "ResourceConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 1},
                "StoppingCondition": {"MaxRuntimeInSeconds": 60},
            },
        },
        {
            "Name": "ReadMissing",
            "Type": "Fail",
            "Arguments": {
                "ErrorMessage": {
                    "Std:JsonGet": {"S3Uri": "s3://no-such-bucket-pipelines/x.json", "Path": "a.b"}
                }
            },
        },
    ]
    name = _create(sm, steps)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    assert _wait(sm, arn)["PipelineExecutionStatus"] == "Failed"
    by_name = {s["StepName"]: s for s in _steps(sm, arn)}
    train = by_name["BadTrain"]
    assert train["StepStatus"] == "Failed" and train["Metadata"] == {} and train["AttemptCount"] == 1
    assert train["FailureReason"].startswith(
        "ClientError: Failed to invoke sagemaker:CreateTrainingJob. Error Details: 1 validation error detected"
    )
    assert "roleArn" in train["FailureReason"]
    read = by_name["ReadMissing"]
    assert read["StepStatus"] == "Failed"
    assert (
        "Received an error while reading file s3://no-such-bucket-pipelines/x.json from S3"
        in read["FailureReason"]
    )
    assert sm.list_training_jobs(NameContains=arn.rsplit("/", 1)[-1])["TrainingJobSummaries"] == []


def test_model_and_register_model_steps(sm):
    group = _name("grp")
    sm.create_model_package_group(ModelPackageGroupName=group)
    container = {
        "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
        "ModelDataUrl": "s3://models/model.tar.gz",
    }
    inference = {
        "Containers": [container],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    steps = [
        {
            "Name": "Make",
            "Type": "Model",
            "Arguments": {"ExecutionRoleArn": ROLE, "PrimaryContainer": container},
        },
        {
            "Name": "Versioned",
            "Type": "RegisterModel",
            "Arguments": {
                "ModelPackageGroupName": group,
                "InferenceSpecification": inference,
                "ModelApprovalStatus": "PendingManualApproval",
            },
        },
        {
            "Name": "Loose",
            "Type": "RegisterModel",
            "Arguments": {"InferenceSpecification": inference, "ModelPackageDescription": "unversioned"},
        },
        {
            "Name": "Report",
            "Type": "Fail",
            "Arguments": {
                "ErrorMessage": {
                    "Std:Join": {
                        "On": " ",
                        "Values": [
                            {"Get": "Steps.Make.ModelName"},
                            {"Get": "Steps.Versioned.ModelPackageVersion"},
                            {"Get": "Steps.Loose.ModelPackageName"},
                        ],
                    }
                }
            },
        },
    ]
    name = _create(sm, steps)
    arn = sm.start_pipeline_execution(PipelineName=name)["PipelineExecutionArn"]
    _wait(sm, arn)
    by_name = {s["StepName"]: s for s in _steps(sm, arn)}
    model_arn = by_name["Make"]["Metadata"]["Model"]["Arn"]
    model_name = model_arn.rsplit("/", 1)[-1]
    assert (
        sm.describe_model(ModelName=model_name)["PrimaryContainer"]["ModelDataUrl"]
        == "s3://models/model.tar.gz"
    )
    versioned = sm.describe_model_package(
        ModelPackageName=by_name["Versioned"]["Metadata"]["RegisterModel"]["Arn"]
    )
    assert versioned["ModelPackageGroupName"] == group and versioned["ModelPackageVersion"] == 1
    assert versioned["ModelApprovalStatus"] == "PendingManualApproval"
    loose = sm.describe_model_package(ModelPackageName=by_name["Loose"]["Metadata"]["RegisterModel"]["Arn"])
    assert "loose" in loose["ModelPackageName"] and loose["ModelPackageDescription"] == "unversioned"
    assert by_name["Report"]["FailureReason"] == f"{model_name} 1 {loose['ModelPackageName']}"


def test_a_large_chained_definition_from_s3(server, sm):
    steps = [{"Name": "S0", "Type": "Condition", "Arguments": {"Conditions": []}}] + [
        {"Name": f"S{i}", "Type": "Condition", "DependsOn": [f"S{i - 1}"], "Arguments": {"Conditions": []}}
        for i in range(1, 2000)
    ]
    text = _definition(steps)
    assert len(text.encode()) > 100 * 1024  # the size at which the SDK switches to the S3 form
    s3 = server.client("s3")
    bucket = _name("pipedefs")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="big.json", Body=text.encode())
    name = _name("big")
    sm.create_pipeline(
        PipelineName=name,
        RoleArn=ROLE,
        PipelineDefinitionS3Location={"Bucket": bucket, "ObjectKey": "big.json"},
    )
    assert len(json.loads(sm.describe_pipeline(PipelineName=name)["PipelineDefinition"])["Steps"]) == 2000
    steps[0]["DependsOn"] = ["S1999"]  # closes the chain into a cycle
    code, message = _error(
        lambda: sm.update_pipeline(PipelineName=name, PipelineDefinition=_definition(steps))
    )
    assert code == "ValidationException" and "Cycle detected" in message
