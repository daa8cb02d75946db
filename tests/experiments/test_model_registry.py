"""Model registry: package groups, versioned packages, approval, and deploying a package (SDK v2
``estimator.register`` / ``ModelPackage(...).deploy``) through boto3 and the unchanged SDK."""

from __future__ import annotations

import json
import textwrap
import time
import uuid

import numpy as np
import pytest
from botocore.exceptions import ClientError

from helpers import ROLE, SKLEARN_IMAGE


def _code(exc) -> str:
    return exc.value.response["Error"]["Code"]


def test_groups_versions_approval_and_errors(server):
    sm = server.client("sagemaker")
    group = f"pg-{uuid.uuid4().hex[:8]}"
    group_arn = sm.create_model_package_group(
        ModelPackageGroupName=group, ModelPackageGroupDescription="d", Tags=[{"Key": "team", "Value": "ml"}]
    )["ModelPackageGroupArn"]
    assert group_arn.endswith(f":model-package-group/{group}")
    with pytest.raises(ClientError) as exc:
        sm.create_model_package_group(ModelPackageGroupName=group)
    assert "already exists" in exc.value.response["Error"]["Message"]
    spec = {
        "Containers": [
            {"Image": SKLEARN_IMAGE, "ModelDataUrl": "s3://b/model.tar.gz", "Environment": {"A": "1"}}
        ],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    }
    arns = [
        sm.create_model_package(
            ModelPackageGroupName=group,
            InferenceSpecification=spec,
            CustomerMetadataProperties={"k": "v"},
            ModelMetrics={
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": "s3://b/stats.json"}
                }
            },
        )["ModelPackageArn"]
        for _ in range(2)
    ]
    assert [a.rsplit("/", 2)[-2:] for a in arns] == [[group, "1"], [group, "2"]]
    desc = sm.describe_model_package(ModelPackageName=arns[1])
    assert desc["ModelPackageVersion"] == 2 and desc["ModelApprovalStatus"] == "PendingManualApproval"
    assert desc["ModelPackageStatus"] == "Completed" and desc["ModelPackageGroupName"] == group
    assert desc["InferenceSpecification"]["Containers"][0]["Image"] == SKLEARN_IMAGE
    assert sm.describe_model_package(ModelPackageName=f"{group}/1")["ModelPackageArn"] == arns[0]
    # Lineage: the package's artifact, its model data and image contribute to it; it belongs to the group.
    package_artifact = sm.list_artifacts(SourceUri=arns[0])["ArtifactSummaries"]
    assert len(package_artifact) == 1
    graph = sm.query_lineage(StartArns=[package_artifact[0]["ArtifactArn"]], Direction="Both", MaxDepth=1)
    assert {v["Type"] for v in graph["Vertices"]} >= {"ModelData", "Image", "ModelGroup"}

    with pytest.raises(ClientError) as exc:  # a versioned package must be approved before it is deployed
        sm.create_model(
            ModelName=f"{group}-m", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arns[1]}]
        )
    assert _code(exc) == "ValidationException"
    sm.update_model_package(
        ModelPackageArn=arns[1],
        ModelApprovalStatus="Approved",
        ApprovalDescription="ok",
        CustomerMetadataProperties={"k2": "v2"},
        CustomerMetadataPropertiesToRemove=["k"],
    )
    desc = sm.describe_model_package(ModelPackageName=arns[1])
    assert desc["ModelApprovalStatus"] == "Approved" and desc["ApprovalDescription"] == "ok"
    assert desc["CustomerMetadataProperties"] == {"k2": "v2"}
    approved = sm.list_model_packages(ModelPackageGroupName=group, ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [arns[1]]
    assert [
        p["ModelPackageVersion"]
        for p in sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    ] == [1, 2]
    batch = sm.batch_describe_model_package(ModelPackageArnList=arns + [arns[0] + "9"])
    assert set(batch["ModelPackageSummaries"]) == set(arns)
    assert list(batch["BatchDescribeModelPackageErrorMap"]) == [arns[0] + "9"]

    sm.create_model(
        ModelName=f"{group}-m",
        ExecutionRoleArn=ROLE,
        Containers=[{"ModelPackageName": arns[1], "Environment": {"B": "2"}}],
    )
    container = sm.describe_model(ModelName=f"{group}-m")["PrimaryContainer"]
    assert container["Image"] == SKLEARN_IMAGE and container["ModelDataUrl"] == "s3://b/model.tar.gz"
    assert container["Environment"] == {"A": "1", "B": "2"}

    # Deploying records lineage: endpoint context → ModelDeployment action → the model's data (the SDK's
    # EndpointContext.models() walk).
    sm.create_endpoint_config(
        EndpointConfigName=f"{group}-c",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{group}-m",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    endpoint_arn = sm.create_endpoint(EndpointName=f"{group}-e", EndpointConfigName=f"{group}-c")[
        "EndpointArn"
    ]
    contexts = sm.list_contexts(SourceUri=endpoint_arn)["ContextSummaries"]
    assert [c["ContextType"] for c in contexts] == ["Endpoint"]
    actions = sm.list_associations(SourceArn=contexts[0]["ContextArn"], DestinationType="ModelDeployment")[
        "AssociationSummaries"
    ]
    models = sm.list_associations(SourceArn=actions[0]["DestinationArn"], DestinationType="Model")[
        "AssociationSummaries"
    ]
    uris = [sm.describe_artifact(ArtifactArn=m["DestinationArn"])["Source"]["SourceUri"] for m in models]
    assert uris == ["s3://b/model.tar.gz"]
    sm.delete_endpoint(EndpointName=f"{group}-e")

    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    sm.put_model_package_group_policy(ModelPackageGroupName=group, ResourcePolicy=policy)
    assert sm.get_model_package_group_policy(ModelPackageGroupName=group)["ResourcePolicy"] == policy
    sm.delete_model_package_group_policy(ModelPackageGroupName=group)
    with pytest.raises(ClientError):
        sm.get_model_package_group_policy(ModelPackageGroupName=group)

    found = sm.search(
        Resource="ModelPackageGroup",
        SearchExpression={
            "Filters": [{"Name": "ModelPackageGroupName", "Operator": "Equals", "Value": group}]
        },
    )["Results"]
    assert found[0]["ModelPackageGroup"]["Tags"] == [{"Key": "team", "Value": "ml"}]
    with pytest.raises(ClientError) as exc:
        sm.delete_model_package_group(ModelPackageGroupName=group)
    assert _code(exc) == "ConflictException"
    with pytest.raises(ClientError) as exc:
        sm.create_model_package(
            ModelPackageGroupName=group, ModelPackageName="x", InferenceSpecification=spec
        )
    assert _code(exc) == "ValidationException"
    for package in arns:
        sm.delete_model_package(ModelPackageName=package)
    sm.delete_model_package_group(ModelPackageGroupName=group)
    with pytest.raises(ClientError):
        sm.describe_model_package_group(ModelPackageGroupName=group)


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


@pytest.mark.slow
@pytest.mark.sdk_flow("flow03", "estimator.register x2, approve, ModelPackage(role, arn).deploy, predict")
def test_register_and_deploy_a_model_package(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker.model import ModelPackage
    from sagemaker.sklearn import SKLearn
    from sagemaker.sklearn.model import SKLearnPredictor

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 2))
    y = x @ np.array([2.0, -1.0]) + 0.5
    np.savetxt(tmp_path / "train.csv", np.column_stack([y, x]), delimiter=",")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    session = sagemaker.Session()
    train_uri = session.upload_data(str(tmp_path / "train.csv"), key_prefix="registry-e2e/train")
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
    group = f"registry-{uuid.uuid4().hex[:6]}"
    packages = [
        estimator.register(
            content_types=["application/x-npy"],
            response_types=["application/x-npy"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
        )
        for _ in range(2)
    ]
    sm = server.client("sagemaker")
    versions = sm.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
    assert [(v["ModelPackageVersion"], v["ModelApprovalStatus"]) for v in versions] == [
        (1, "PendingManualApproval"),
        (2, "PendingManualApproval"),
    ]
    arn = packages[1].model_package_arn
    sm.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")

    package = ModelPackage(
        role=ROLE, model_package_arn=arn, sagemaker_session=session, predictor_cls=SKLearnPredictor
    )
    predictor = package.deploy(initial_instance_count=1, instance_type="ml.m5.large", wait=False)
    name = predictor.endpoint_name
    deadline = time.time() + 240
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating" and time.time() < deadline:
        time.sleep(1)
    desc = sm.describe_endpoint(EndpointName=name)
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    query = np.array([[1.0, 1.0], [0.0, 2.0]])
    np.testing.assert_allclose(predictor.predict(query), query @ np.array([2.0, -1.0]) + 0.5, atol=1e-6)
    predictor.delete_endpoint()
