"""The unchanged SageMaker SDK v2's lineage helpers against sagestack: from an endpoint back to the
training job and the data set its model came from (``EndpointContext``, ``LineageQuery``,
``LineageTableVisualizer``), over the entities SageMaker records by itself."""

from __future__ import annotations

import textwrap
import time

import numpy as np
import pytest

from helpers import ROLE

TRAIN = textwrap.dedent("""
    import os
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression


    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))


    if __name__ == "__main__":
        data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
        model = LinearRegression().fit(data[:, 1:], data[:, 0])
        joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
""")


def _short(uri: str) -> str:
    """How the visualizer names an unnamed artifact."""
    return uri if len(uri) <= 48 else uri[:5] + "..." + uri[-40:]


@pytest.mark.slow
@pytest.mark.sdk_flow("flow10", "EndpointContext lineage helpers, LineageQuery, LineageTableVisualizer")
def test_endpoint_lineage_back_to_training_job_and_data_set(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker.lineage.artifact import DatasetArtifact
    from sagemaker.lineage.context import EndpointContext
    from sagemaker.lineage.query import (
        LineageEntityEnum,
        LineageFilter,
        LineageQuery,
        LineageQueryDirectionEnum,
        LineageSourceEnum,
    )
    from sagemaker.lineage.visualizer import LineageTableVisualizer
    from sagemaker.sklearn import SKLearn

    rng = np.random.default_rng(5)
    x = rng.normal(size=(20, 2))
    np.savetxt(tmp_path / "train.csv", np.column_stack([x @ np.array([1.0, 2.0]), x]), delimiter=",")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    session = sagemaker.Session()
    train_uri = session.upload_data(str(tmp_path / "train.csv"), key_prefix="lineage-e2e/train")
    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(src),
        framework_version="1.2-1",
        py_version="py3",
        instance_type="ml.m5.large",
        instance_count=1,
        role=ROLE,
    )
    estimator.fit({"train": train_uri}, wait=True, logs=False)
    sm = server.client("sagemaker")
    job = sm.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]

    predictor = estimator.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
    name = predictor.endpoint_name
    deadline = time.time() + 240
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating" and time.time() < deadline:
        time.sleep(1)
    endpoint = sm.describe_endpoint(EndpointName=name)
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    endpoint_arn = endpoint["EndpointArn"]

    contexts = sm.list_contexts(SourceUri=endpoint_arn)["ContextSummaries"]
    assert [c["ContextType"] for c in contexts] == ["Endpoint"]
    context = EndpointContext.load(contexts[0]["ContextName"], sagemaker_session=session)
    assert context.context_arn == contexts[0]["ContextArn"]

    # Ascendants from the endpoint: the deployment, the model the job produced, the job, its inputs.
    datasets = context.dataset_artifacts()
    assert [type(d) for d in datasets] == [DatasetArtifact]
    assert [d.source.source_uri for d in datasets] == [train_uri]
    assert context.training_job_arns() == [job["TrainingJobArn"]]

    # Descendants: the deployment action and the model artifact (both the old and the query helper).
    models = context.models()
    assert len(models) == 1
    assert sm.describe_artifact(ArtifactArn=models[0].destination_arn)["Source"]["SourceUri"] == model_uri
    assert [m.source.source_uri for m in context.models_v2()] == [model_uri]
    assert [a.action_type for a in context.actions(LineageQueryDirectionEnum.ASCENDANTS)] == [
        "ModelDeployment"
    ]

    result = LineageQuery(session).query(
        start_arns=[context.context_arn],
        query_filter=LineageFilter(entities=[LineageEntityEnum.ARTIFACT, LineageEntityEnum.TRIAL_COMPONENT]),
        direction=LineageQueryDirectionEnum.ASCENDANTS,
        include_edges=True,
    )
    kinds = sorted((v.lineage_entity, v.lineage_source) for v in result.vertices)
    assert kinds == [
        ("Artifact", "DataSet"),
        ("Artifact", "Image"),
        ("Artifact", "Model"),
        ("TrialComponent", "TrainingJob"),
    ]
    by_source = {v.lineage_source: v.arn for v in result.vertices}
    job_tc = sm.describe_trial_component(TrialComponentName=f"{job['TrainingJobName']}-aws-training-job")
    assert by_source["TrainingJob"] == job_tc["TrialComponentArn"]
    edges = {(e.source_arn, e.destination_arn, e.association_type) for e in result.edges}
    assert (by_source["DataSet"], by_source["TrainingJob"], "ContributedTo") in edges
    assert (by_source["Image"], by_source["TrainingJob"], "ContributedTo") in edges
    assert (by_source["TrainingJob"], by_source["Model"], "Produced") in edges
    tc = result.vertices[[v.lineage_source for v in result.vertices].index("TrainingJob")].to_lineage_object()
    assert tc.trial_component_name == job_tc["TrialComponentName"]

    # One query with a type filter reaches the data set through the model the job produced.
    only_data = LineageQuery(session).query(
        start_arns=[context.context_arn],
        query_filter=LineageFilter(
            entities=[LineageEntityEnum.ARTIFACT], sources=[LineageSourceEnum.DATASET]
        ),
        direction=LineageQueryDirectionEnum.ASCENDANTS,
        include_edges=False,
    )
    assert [v.arn for v in only_data.vertices] == [by_source["DataSet"]]

    frame = LineageTableVisualizer(session).show(endpoint_arn=endpoint_arn)
    rows = {tuple(r) for r in frame[["Direction", "Type", "Association Type", "Lineage Type"]].values}
    assert ("Input", "ModelDeployment", "AssociatedWith", "action") in rows
    frame = LineageTableVisualizer(session).show(training_job_name=job["TrainingJobName"])
    rows = sorted(tuple(r) for r in frame.values)
    assert rows == sorted(
        [
            (
                _short(job["AlgorithmSpecification"]["TrainingImage"]),
                "Input",
                "Image",
                "ContributedTo",
                "artifact",
            ),
            ("train", "Input", "DataSet", "ContributedTo", "artifact"),
            (_short(model_uri), "Output", "Model", "Produced", "artifact"),
        ]
    )
    predictor.delete_endpoint()
