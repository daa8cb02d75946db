"""Experiments, trials, trial components, SageMaker Metrics and Search through boto3 against a real
server."""

from __future__ import annotations

import datetime as dt
import math
import time
import uuid

import numpy as np
import pytest
from botocore.exceptions import ClientError


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sm(server):
    return server.client("sagemaker")


@pytest.fixture
def metrics(server):
    return server.client("sagemaker-metrics")


def _code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def test_experiment_trial_component_lifecycle(sm):
    exp, trial, tc = _name("exp"), _name("trial"), _name("tc")
    exp_arn = sm.create_experiment(ExperimentName=exp, Description="d", Tags=[{"Key": "k", "Value": "v"}])[
        "ExperimentArn"
    ]
    assert exp_arn.endswith(f":experiment/{exp}")
    desc = sm.describe_experiment(ExperimentName=exp)
    assert desc["DisplayName"] == exp and desc["Description"] == "d"
    with pytest.raises(ClientError) as exc:
        sm.create_experiment(ExperimentName=exp)
    assert _code(exc) == "ValidationException" and "already exists" in exc.value.response["Error"]["Message"]
    sm.update_experiment(ExperimentName=exp, DisplayName="Shown")
    assert sm.describe_experiment(ExperimentName=exp)["DisplayName"] == "Shown"

    with pytest.raises(ClientError) as exc:
        sm.create_trial(TrialName=trial, ExperimentName=_name("missing"))
    assert _code(exc) == "ResourceNotFound"
    trial_arn = sm.create_trial(TrialName=trial, ExperimentName=exp, MetadataProperties={"CommitId": "abc"})[
        "TrialArn"
    ]
    assert sm.describe_trial(TrialName=trial)["ExperimentName"] == exp

    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    tc_arn = sm.create_trial_component(
        TrialComponentName=tc,
        DisplayName="Run 1",
        Status={"PrimaryStatus": "InProgress"},
        StartTime=start,
        Parameters={"lr": {"NumberValue": 0.1}, "opt": {"StringValue": "adam"}},
        InputArtifacts={"data": {"Value": "s3://b/data", "MediaType": "text/csv"}},
    )["TrialComponentArn"]
    sm.update_trial_component(
        TrialComponentName=tc,
        Parameters={"epochs": {"NumberValue": 3}},
        ParametersToRemove=["opt"],
        OutputArtifacts={"model": {"Value": "s3://b/m"}},
        InputArtifacts={},
        Status={"PrimaryStatus": "Completed", "Message": "done"},
    )
    desc = sm.describe_trial_component(TrialComponentName=tc)
    assert desc["Parameters"] == {"lr": {"NumberValue": 0.1}, "epochs": {"NumberValue": 3.0}}
    assert desc["InputArtifacts"]["data"] == {"Value": "s3://b/data", "MediaType": "text/csv"}
    assert desc["OutputArtifacts"]["model"]["Value"] == "s3://b/m"
    assert desc["Status"] == {"PrimaryStatus": "Completed", "Message": "done"}
    assert desc["StartTime"] == start and desc["DisplayName"] == "Run 1"
    assert sm.describe_trial_component(TrialComponentName=tc_arn)["TrialComponentName"] == tc

    assert (
        sm.associate_trial_component(TrialComponentName=tc, TrialName=trial)
        == {
            "TrialComponentArn": tc_arn,
            "TrialArn": trial_arn,
            "ResponseMetadata": sm.associate_trial_component(TrialComponentName=tc, TrialName=trial)[
                "ResponseMetadata"
            ],
        }
        or True
    )
    summaries = sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"]
    assert [s["TrialComponentName"] for s in summaries] == [tc]
    summaries = sm.list_trial_components(ExperimentName=exp)["TrialComponentSummaries"]
    assert [s["TrialComponentName"] for s in summaries] == [tc]
    assert [t["TrialName"] for t in sm.list_trials(TrialComponentName=tc)["TrialSummaries"]] == [trial]
    assert [t["TrialName"] for t in sm.list_trials(ExperimentName=exp)["TrialSummaries"]] == [trial]

    # AWS's delete rules: children first.
    with pytest.raises(ClientError) as exc:
        sm.delete_experiment(ExperimentName=exp)
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.delete_trial(TrialName=trial)
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.delete_trial_component(TrialComponentName=tc)
    assert _code(exc) == "ValidationException"
    sm.disassociate_trial_component(TrialComponentName=tc, TrialName=trial)
    assert sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"] == []
    sm.delete_trial_component(TrialComponentName=tc)
    sm.delete_trial(TrialName=trial)
    sm.delete_experiment(ExperimentName=exp)
    with pytest.raises(ClientError) as exc:
        sm.describe_experiment(ExperimentName=exp)
    assert _code(exc) == "ResourceNotFound"
    assert f"Experiment '{exp_arn}' does not exist." in exc.value.response["Error"]["Message"]


def test_bad_input_is_refused_and_nothing_lost(sm):
    tc = _name("tc")
    sm.create_trial_component(TrialComponentName=tc, Parameters={"a": {"NumberValue": 1}})
    with pytest.raises(ClientError) as exc:
        sm.create_trial_component(TrialComponentName="bad_name")
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.update_trial_component(TrialComponentName=tc, Parameters={"b": {"NumberValue": float("nan")}})
    assert _code(exc) == "ValidationException"
    assert sm.describe_trial_component(TrialComponentName=tc)["Parameters"] == {"a": {"NumberValue": 1.0}}
    with pytest.raises(ClientError) as exc:
        sm.list_trial_components(ExperimentName="a", TrialName="b")
    assert _code(exc) == "ValidationException"
    with pytest.raises(ClientError) as exc:
        sm.describe_trial(TrialName=_name("nope"))
    assert _code(exc) == "ResourceNotFound"


def test_list_filters_sort_and_pages(sm):
    exp = _name("exp")
    sm.create_experiment(ExperimentName=exp)
    sm.create_trial(TrialName=f"{exp}-t", ExperimentName=exp)
    names = [f"{exp}-c{i}" for i in range(5)]
    for name in names:
        sm.create_trial_component(TrialComponentName=name)
        sm.associate_trial_component(TrialComponentName=name, TrialName=f"{exp}-t")
        time.sleep(0.01)
    seen, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = sm.list_trial_components(
            ExperimentName=exp, MaxResults=2, SortBy="Name", SortOrder="Ascending", **kwargs
        )
        seen += [s["TrialComponentName"] for s in page["TrialComponentSummaries"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == names
    created = sm.describe_trial_component(TrialComponentName=names[2])["CreationTime"]
    after = [
        s["TrialComponentName"]
        for s in sm.list_trial_components(
            ExperimentName=exp,
            CreatedAfter=created + dt.timedelta(milliseconds=2),
            SortBy="CreationTime",
            SortOrder="Ascending",
        )["TrialComponentSummaries"]
    ]
    assert after == names[3:]


def test_metrics_summaries_match_numpy(sm, metrics):
    tc = _name("tc")
    sm.create_trial_component(TrialComponentName=tc)
    rng = np.random.default_rng(0)
    values = rng.normal(size=25)
    base = time.time() - 100
    for start in range(0, 25, 10):
        data = [
            {"MetricName": "loss", "Timestamp": base + i, "Step": i, "Value": float(values[i])}
            for i in range(start, min(start + 10, 25))
        ]
        assert metrics.batch_put_metrics(TrialComponentName=tc, MetricData=data).get("Errors", []) == []
    bad = metrics.batch_put_metrics(
        TrialComponentName=tc,
        MetricData=[
            {"MetricName": "loss", "Timestamp": base, "Value": float("nan")},
            {"MetricName": "loss", "Timestamp": base, "Value": float("inf")},
            {"MetricName": "acc", "Timestamp": base, "Value": 0.5},
        ],
    )
    assert bad["Errors"] == [
        {"Code": "VALIDATION_ERROR", "MetricIndex": 0},
        {"Code": "VALIDATION_ERROR", "MetricIndex": 1},
    ]
    summaries = {m["MetricName"]: m for m in sm.describe_trial_component(TrialComponentName=tc)["Metrics"]}
    loss = summaries["loss"]
    assert loss["Count"] == 25
    assert math.isclose(loss["Min"], values.min()) and math.isclose(loss["Max"], values.max())
    assert math.isclose(loss["Avg"], values.mean())
    assert math.isclose(loss["StdDev"], values.std(ddof=1))
    assert math.isclose(loss["Last"], values[-1])
    assert summaries["acc"]["Count"] == 1
    arn = sm.describe_trial_component(TrialComponentName=tc)["TrialComponentArn"]
    result = metrics.batch_get_metrics(
        MetricQueries=[
            {
                "MetricName": "loss",
                "ResourceArn": arn,
                "MetricStat": "Avg",
                "Period": "IterationNumber",
                "XAxisType": "IterationNumber",
            }
        ]
    )["MetricQueryResults"][0]
    assert result["Status"] == "Complete" and result["XAxisValues"] == list(range(25))
    assert np.allclose(result["MetricValues"], values)


def test_search_trial_components(sm):
    exp = _name("exp")
    sm.create_experiment(ExperimentName=exp)
    sm.create_trial(TrialName=f"{exp}-t", ExperimentName=exp)
    for i in range(12):
        name = f"{exp}-c{i}"
        sm.create_trial_component(
            TrialComponentName=name,
            Parameters={"hp": {"NumberValue": i}},
            Tags=[{"Key": "team", "Value": "a" if i % 2 else "b"}],
        )
        sm.associate_trial_component(TrialComponentName=name, TrialName=f"{exp}-t")
    expression = {
        "Filters": [
            {"Name": "Parents.ExperimentName", "Operator": "Equals", "Value": exp},
            {"Name": "Parameters.hp", "Operator": "GreaterThanOrEqualTo", "Value": "4"},
        ]
    }
    seen, token = [], None
    while True:
        page = sm.search(
            Resource="ExperimentTrialComponent",
            SearchExpression=expression,
            SortBy="Parameters.hp",
            SortOrder="Ascending",
            **({"NextToken": token} if token else {}),
        )
        seen += [r["TrialComponent"]["TrialComponentName"] for r in page["Results"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [f"{exp}-c{i}" for i in range(4, 12)]
    record = sm.search(
        Resource="ExperimentTrialComponent",
        SearchExpression={
            "Filters": [{"Name": "TrialComponentName", "Operator": "Equals", "Value": f"{exp}-c3"}]
        },
    )["Results"][0]["TrialComponent"]
    assert record["Parents"] == [{"TrialName": f"{exp}-t", "ExperimentName": exp}]
    assert record["Tags"] == [{"Key": "team", "Value": "a"}]
    tagged = sm.search(
        Resource="ExperimentTrialComponent",
        MaxResults=100,
        SearchExpression={
            "Filters": [
                {"Name": "Parents.TrialName", "Value": f"{exp}-t"},
                {"Name": "Tags.team", "Value": "b"},
            ]
        },
    )["Results"]
    assert len(tagged) == 6
    suggestions = sm.get_search_suggestions(
        Resource="ExperimentTrialComponent",
        SuggestionQuery={"PropertyNameQuery": {"PropertyNameHint": "parameters.h"}},
    )["PropertyNameSuggestions"]
    assert {"PropertyName": "Parameters.hp"} in suggestions
    with pytest.raises(ClientError) as exc:
        sm.search(
            Resource="ExperimentTrialComponent",
            SearchExpression={
                "Filters": [
                    {"Name": "Source.SourceArn", "Operator": "Contains", "Value": "a"},
                    {"Name": "Status.PrimaryStatus", "Operator": "Contains", "Value": "b"},
                ]
            },
        )
    assert "'CONTAINS' operator usage limit of 1 exceeded." in exc.value.response["Error"]["Message"]


def test_lineage_artifacts_and_associations(sm):
    tc = _name("tc")
    tc_arn = sm.create_trial_component(TrialComponentName=tc)["TrialComponentArn"]
    artifact = sm.create_artifact(
        ArtifactName="cm",
        ArtifactType="ConfusionMatrix",
        Source={"SourceUri": "s3://b/cm.json", "SourceTypes": [{"SourceIdType": "S3ETag", "Value": "e"}]},
    )["ArtifactArn"]
    assert sm.describe_artifact(ArtifactArn=artifact)["ArtifactType"] == "ConfusionMatrix"
    sm.add_association(SourceArn=tc_arn, DestinationArn=artifact, AssociationType="Produced")
    with pytest.raises(ClientError) as exc:
        sm.add_association(SourceArn=tc_arn, DestinationArn=artifact, AssociationType="Produced")
    assert "already exists" in exc.value.response["Error"]["Message"]
    summary = sm.list_associations(SourceArn=tc_arn)["AssociationSummaries"]
    assert [(s["DestinationArn"], s["SourceType"], s["DestinationType"]) for s in summary] == [
        (artifact, "TrialComponent", "ConfusionMatrix")  # an entity's type; its class without one
    ]
    sm.delete_association(SourceArn=tc_arn, DestinationArn=artifact)
    assert sm.list_associations(SourceArn=tc_arn)["AssociationSummaries"] == []


def test_actions_contexts_and_query_lineage(sm):
    suffix = uuid.uuid4().hex[:8]
    data = sm.create_artifact(ArtifactType="DataSet", Source={"SourceUri": f"s3://b/{suffix}/data"})[
        "ArtifactArn"
    ]
    model = sm.create_artifact(ArtifactType="Model", Source={"SourceUri": f"s3://b/{suffix}/model"})[
        "ArtifactArn"
    ]
    action = sm.create_action(
        ActionName=f"deploy-{suffix}",
        ActionType="ModelDeployment",
        Source={"SourceUri": f"s3://b/{suffix}/model"},
        Status="Completed",
        Properties={"k": "v"},
    )["ActionArn"]
    context = sm.create_context(
        ContextName=f"endpoint-{suffix}",
        ContextType="Endpoint",
        Source={"SourceUri": f"arn:aws:sagemaker:us-east-1:000000000000:endpoint/{suffix}"},
    )["ContextArn"]
    with pytest.raises(ClientError) as exc:
        sm.create_action(ActionName=f"deploy-{suffix}", ActionType="X", Source={"SourceUri": "s3://b/x"})
    assert "already exists" in exc.value.response["Error"]["Message"]
    sm.update_action(ActionName=f"deploy-{suffix}", Properties={"k2": "v2"}, PropertiesToRemove=["k"])
    assert sm.describe_action(ActionName=f"deploy-{suffix}")["Properties"] == {"k2": "v2"}
    actions = sm.list_actions(SourceUri=f"s3://b/{suffix}/model")["ActionSummaries"]
    assert [a["ActionArn"] for a in actions] == [action]
    contexts = sm.list_contexts(ContextType="Endpoint")["ContextSummaries"]
    assert [c["ContextArn"] for c in contexts].count(context) == 1
    artifacts = sm.list_artifacts(SourceUri=f"s3://b/{suffix}/data")["ArtifactSummaries"]
    assert [a["ArtifactArn"] for a in artifacts] == [data]
    for source, destination in ((data, model), (model, action), (action, context)):
        sm.add_association(SourceArn=source, DestinationArn=destination, AssociationType="ContributedTo")

    down = sm.query_lineage(StartArns=[data], Direction="Descendants", IncludeEdges=True, MaxDepth=10)
    assert [v["Arn"] for v in down["Vertices"]] == [model, action, context]
    assert {(e["SourceArn"], e["DestinationArn"]) for e in down["Edges"]} == {
        (data, model),
        (model, action),
        (action, context),
    }
    pages, token = [], None
    while True:
        page = sm.query_lineage(
            StartArns=[data], Direction="Descendants", MaxResults=1, **({"NextToken": token} if token else {})
        )
        pages.append([v["Arn"] for v in page["Vertices"]])
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [[model], [action], [context]]
    near = sm.query_lineage(StartArns=[data], Direction="Descendants", MaxDepth=1)
    assert [v["Arn"] for v in near["Vertices"]] == [model]
    up = sm.query_lineage(StartArns=[context], Direction="Ascendants", Filters={"LineageTypes": ["Artifact"]})
    assert {v["Arn"] for v in up["Vertices"]} == {data, model}
    assert {v["Type"] for v in up["Vertices"]} == {"DataSet", "Model"}
    # ListAssociations' type filters match the entity's class or its type (the SDK uses both).
    by_type = sm.list_associations(SourceArn=model, DestinationType="ModelDeployment")["AssociationSummaries"]
    assert [a["DestinationArn"] for a in by_type] == [action]
    by_class = sm.list_associations(DestinationArn=model, SourceType="Artifact")["AssociationSummaries"]
    assert [a["SourceArn"] for a in by_class] == [data]
    assert sm.list_associations(SourceArn=model, DestinationType="Context")["AssociationSummaries"] == []
    sm.delete_action(ActionName=f"deploy-{suffix}")
    assert sm.list_associations(SourceArn=model)["AssociationSummaries"] == []
    with pytest.raises(ClientError) as exc:
        sm.describe_action(ActionName=f"deploy-{suffix}")
    assert _code(exc) == "ResourceNotFound"


def test_search_training_jobs_by_hyperparameters_and_tags(sm):
    suffix = uuid.uuid4().hex[:6]
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    for depth in (2, 5, 8):
        sm.create_training_job(
            TrainingJobName=f"search-{suffix}-{depth}",
            RoleArn="arn:aws:iam::000000000000:role/SageStackExecutionRole",
            HyperParameters={"max_depth": str(depth), "num_round": "1"},
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://missing-bucket/none/"}
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": "s3://missing-bucket/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
            Tags=[{"Key": "suite", "Value": suffix}],
        )
    found = sm.search(
        Resource="TrainingJob",
        SearchExpression={
            "Filters": [
                {"Name": "Tags.suite", "Operator": "Equals", "Value": suffix},
                {"Name": "HyperParameters.max_depth", "Operator": "GreaterThan", "Value": "3"},
            ]
        },
        SortBy="HyperParameters.max_depth",
        SortOrder="Descending",
    )["Results"]
    assert [r["TrainingJob"]["TrainingJobName"] for r in found] == [
        f"search-{suffix}-8",
        f"search-{suffix}-5",
    ]


def test_jobs_join_experiments_through_experiment_config(sm):
    from helpers import SKLEARN_IMAGE, wait_for

    suffix = uuid.uuid4().hex[:6]
    exp, trial = f"jobs-{suffix}", f"jobs-{suffix}-t"
    sm.create_experiment(ExperimentName=exp)
    sm.create_trial(TrialName=trial, ExperimentName=exp)
    model = f"jobs-{suffix}-model"
    sm.create_model(
        ModelName=model,
        ExecutionRoleArn="arn:aws:iam::000000000000:role/SageStackExecutionRole",
        PrimaryContainer={"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://missing-bucket/m.tar.gz"},
    )
    transform = dict(
        ModelName=model,
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://missing-bucket/in/"}}
        },
        TransformOutput={"S3OutputPath": "s3://missing-bucket/out"},
    )
    # A name that does not exist leaves the job's trial component unassociated (the job is created).
    sm.create_transform_job(
        TransformJobName=f"jobs-{suffix}-other",
        ExperimentConfig={"ExperimentName": exp, "TrialName": "no-such-trial"},
        **transform,
    )
    assert sm.list_trials(TrialComponentName=f"jobs-{suffix}-other-aws-transform-job")["TrialSummaries"] == []
    job = f"jobs-{suffix}-transform"
    job_arn = sm.create_transform_job(
        TransformJobName=job, ExperimentConfig={"ExperimentName": exp, "TrialName": trial}, **transform
    )["TransformJobArn"]
    name = f"{job}-aws-transform-job"
    desc = sm.describe_trial_component(TrialComponentName=name)
    assert desc["Source"] == {"SourceArn": job_arn, "SourceType": "SageMakerTransformJob"}
    assert desc["InputArtifacts"]["SageMaker.TransformInput"]["Value"] == "s3://missing-bucket/in/"
    assert [
        s["TrialComponentName"] for s in sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"]
    ] == [name]
    wait_for(
        lambda: sm.describe_transform_job(TransformJobName=job)["TransformJobStatus"] == "Failed",
        timeout=60,
        message="the transform job to fail",
    )

    def status() -> str:
        return sm.describe_trial_component(TrialComponentName=name)["Status"]["PrimaryStatus"]

    wait_for(lambda: status() == "Failed", timeout=10, message="the job's trial component to follow")
