"""Bring your own container: the BYOC image trained with the generic Estimator, deployed (``serve``,
GET /ping, POST /invocations on port 8080 inside) and used for batch transform, run by podman."""

from __future__ import annotations

import uuid

import pytest

from helpers import ROLE, wait_for

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def trained(podman_server, byoc_image):
    """A trained BYOC model in S3 (its model adds 6.5, the sum of its training data): the bucket and the
    model.tar.gz URI."""
    from helpers import wait_training
    from test_byoc_training import _job

    bucket = f"byoc-serve-{uuid.uuid4().hex[:8]}"
    podman_server.client("s3").create_bucket(Bucket=bucket)
    name = _job(podman_server, bucket, byoc_image)
    desc = wait_training(podman_server.client("sagemaker"), name, 120)
    assert desc["TrainingJobStatus"] == "Completed", desc.get("FailureReason")
    return bucket, desc["ModelArtifacts"]["S3ModelArtifacts"]


@pytest.mark.sdk_flow("byoc", "Model(image_uri=BYOC image).deploy, predict (CSV), delete_endpoint")
def test_deploy_and_invoke_the_byoc_image(podman_server, podman_sdk_env, trained, byoc_image):
    import sagemaker
    from sagemaker.model import Model
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    _, model_data = trained
    session = sagemaker.Session()
    name = f"byoc-ep-{uuid.uuid4().hex[:8]}"
    model = Model(
        image_uri=byoc_image,
        model_data=model_data,
        role=ROLE,
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=name)
    try:
        predictor.serializer = CSVSerializer()
        assert predictor.predict("1\n2.5\n").decode() == "7.5\n9.0\n"
        runtime = podman_server.client("sagemaker-runtime")
        with pytest.raises(runtime.exceptions.ModelError) as info:  # the container's 400
            runtime.invoke_endpoint(EndpointName=name, Body=b"x\n", ContentType="text/csv")
        assert "bad input" in str(info.value)
        assert podman_server.client("sagemaker").describe_endpoint(EndpointName=name)["EndpointStatus"] == (
            "InService"
        )
        wait_for(
            lambda: "byoc serve: model total=6.5" in _endpoint_log(podman_server, name),
            30,
            message="the container's log in CloudWatch Logs",
        )
    finally:
        predictor.delete_endpoint()


@pytest.mark.sdk_flow("byoc", "Model(image_uri=BYOC image).transformer().transform")
def test_batch_transform_with_the_byoc_image(podman_server, podman_sdk_env, trained, byoc_image):
    import sagemaker
    from sagemaker.model import Model

    bucket, model_data = trained
    s3 = podman_server.client("s3")
    s3.put_object(Bucket=bucket, Key="batch/in/a.csv", Body=b"1\n2\n")
    s3.put_object(Bucket=bucket, Key="batch/in/b.csv", Body=b"10\n")
    model = Model(
        image_uri=byoc_image,
        model_data=model_data,
        role=ROLE,
        sagemaker_session=sagemaker.Session(),
        name=f"byoc-model-{uuid.uuid4().hex[:8]}",
    )
    transformer = model.transformer(
        instance_count=1, instance_type="ml.m5.large", output_path=f"s3://{bucket}/batch/out"
    )
    transformer.transform(
        f"s3://{bucket}/batch/in", content_type="text/csv", split_type="Line", wait=True, logs=False
    )
    desc = transformer.sagemaker_session.describe_transform_job(transformer.latest_transform_job.name)
    assert desc["TransformJobStatus"] == "Completed", desc.get("FailureReason")
    out = {
        key: s3.get_object(Bucket=bucket, Key=f"batch/out/{key}")["Body"].read().decode()
        for key in ("a.csv.out", "b.csv.out")
    }
    assert out["a.csv.out"].split() == ["7.5", "8.5"]
    assert out["b.csv.out"].split() == ["16.5"]


def test_endpoint_with_a_missing_image_fails_clearly(podman_server):
    sm = podman_server.client("sagemaker")
    name = f"byoc-missing-{uuid.uuid4().hex[:8]}"
    image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/not-built:1"
    sm.create_model(ModelName=name, PrimaryContainer={"Image": image}, ExecutionRoleArn=ROLE)
    _create_endpoint(sm, name)
    wait_for(
        lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Failed", 60, message="Failed"
    )
    reason = sm.describe_endpoint(EndpointName=name)["FailureReason"]
    assert f"Image {image} was not found in the local container engine (podman)" in reason
    assert "Build or tag it" in reason
    sm.delete_endpoint(EndpointName=name)


def test_isolated_model_serves_from_an_internal_network(podman_server, trained, byoc_image):
    import json
    import os
    import subprocess

    import images

    _, model_data = trained
    sm = podman_server.client("sagemaker")
    name = f"byoc-iso-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        PrimaryContainer={"Image": byoc_image, "ModelDataUrl": model_data},
        ExecutionRoleArn=ROLE,
        EnableNetworkIsolation=True,
    )
    _create_endpoint(sm, name)
    try:
        wait_for(
            lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] in ("InService", "Failed"), 120
        )
        desc = sm.describe_endpoint(EndpointName=name)
        assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
        runtime = podman_server.client("sagemaker-runtime")
        body = runtime.invoke_endpoint(EndpointName=name, Body=b"1\n", ContentType="text/csv")["Body"].read()
        assert body == b"7.5\n"

        def podman(*args):
            return subprocess.run(
                ["podman", *args],
                capture_output=True,
                text=True,
                check=True,
                env={**os.environ, **images.engine_env()},
            ).stdout

        running = podman(
            "ps", "--filter", f"label=sagestack.endpoint={name}", "--format", "{{.Names}}"
        ).split()
        assert len(running) == 1
        networks = json.loads(podman("inspect", running[0]))[0]["NetworkSettings"]["Networks"]
        assert list(networks) == ["sagestack-isolated"]
        assert json.loads(podman("network", "inspect", "sagestack-isolated"))[0]["internal"] is True
    finally:
        sm.delete_endpoint(EndpointName=name)


def test_inference_pipeline_of_byoc_containers(podman_server, trained, byoc_image):
    """Two containers of the image (each told SAGEMAKER_BIND_TO_PORT): Serial chains them, Direct picks."""
    _, model_data = trained
    sm, runtime = podman_server.client("sagemaker"), podman_server.client("sagemaker-runtime")
    endpoints = []
    try:
        for mode in ("Serial", "Direct"):
            name = f"byoc-pipe-{mode.lower()}-{uuid.uuid4().hex[:6]}"
            containers = [
                {"Image": byoc_image, "ModelDataUrl": model_data, "ContainerHostname": host}
                for host in ("first", "second")
            ]
            sm.create_model(
                ModelName=name,
                Containers=containers,
                InferenceExecutionConfig={"Mode": mode},
                ExecutionRoleArn=ROLE,
            )
            _create_endpoint(sm, name)
            endpoints.append(name)
        for name in endpoints:
            wait_for(
                lambda name=name: (
                    sm.describe_endpoint(EndpointName=name)["EndpointStatus"] in ("InService", "Failed")
                ),
                120,
            )
            desc = sm.describe_endpoint(EndpointName=name)
            assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
        serial, direct = endpoints
        out = runtime.invoke_endpoint(EndpointName=serial, Body=b"1\n", ContentType="text/csv")["Body"].read()
        assert out == b"14.0\n"  # 1 + 6.5 in the first container, + 6.5 in the second
        out = runtime.invoke_endpoint(
            EndpointName=direct, Body=b"1\n", ContentType="text/csv", TargetContainerHostname="second"
        )["Body"].read()
        assert out == b"7.5\n"
        with pytest.raises(runtime.exceptions.ModelError) as info:
            runtime.invoke_endpoint(EndpointName=serial, Body=b"x\n", ContentType="text/csv")
        assert "container-1" in str(info.value) or "first" in str(info.value)
    finally:
        for name in endpoints:
            sm.delete_endpoint(EndpointName=name)


def _mme_endpoint(server, bucket: str, image: str, environment: dict, cache: str = "Enabled") -> str:
    sm = server.client("sagemaker")
    name = f"byoc-mme-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": image,
            "Mode": "MultiModel",
            "ModelDataUrl": f"s3://{bucket}/mme/",
            "Environment": environment,
            "MultiModelConfig": {"ModelCacheSetting": cache},
        },
        ExecutionRoleArn=ROLE,
    )
    _create_endpoint(sm, name)
    wait_for(
        lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] in ("InService", "Failed"), 120
    )
    desc = sm.describe_endpoint(EndpointName=name)
    assert desc["EndpointStatus"] == "InService", desc.get("FailureReason")
    return name


def _create_endpoint(sm, name: str) -> None:
    """An endpoint ``name`` (and its config) serving the model ``name`` on one instance."""
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {"VariantName": "v", "ModelName": name, "InstanceType": "ml.m5.large", "InitialInstanceCount": 1}
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)


def _endpoint_log(server, name: str) -> str:
    from helpers import log_text

    return log_text(server.client("logs"), f"/aws/sagemaker/Endpoints/{name}")


def _put_models(server, bucket: str, offsets: dict[str, float]) -> None:
    import json

    from helpers import tar_gz

    for key, offset in offsets.items():
        body = tar_gz({"model.json": json.dumps({"offset": offset}).encode()})
        server.client("s3").put_object(Bucket=bucket, Key=f"mme/{key}", Body=body)


@pytest.mark.sdk_flow(
    "byoc", "MultiDataModel with a BYOC multi-model image: deploy, predict(target_model=...)"
)
def test_multi_model_endpoint_of_your_own_container(podman_server, podman_sdk_env, podman_bucket, mme_image):
    """The container's model API: POST /models loads (the model under /opt/ml/models/<name>/model),
    POST /models/<name>/invoke answers, a 507 (the container is full) unloads the least recently used
    model and the load is asked again; TargetModel selects the model."""
    import sagemaker
    from sagemaker.multidatamodel import MultiDataModel
    from sagemaker.predictor import Predictor
    from sagemaker.serializers import CSVSerializer

    _put_models(podman_server, podman_bucket, {"a.tar.gz": 1, "b.tar.gz": 2, "sub/c.tar.gz": 3})
    session = sagemaker.Session()
    name = f"byoc-mdm-{uuid.uuid4().hex[:8]}"
    model = MultiDataModel(
        name=name,
        model_data_prefix=f"s3://{podman_bucket}/mme/",
        image_uri=mme_image,
        role=ROLE,
        env={"MME_CAPACITY": "2"},
        sagemaker_session=session,
        predictor_cls=Predictor,
    )
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large", endpoint_name=name)
    try:
        predictor.serializer = CSVSerializer()
        assert predictor.predict("1\n", target_model="a.tar.gz").decode() == "2.0\n"
        assert predictor.predict("1\n2\n", target_model="b.tar.gz").decode() == "3.0\n4.0\n"
        assert predictor.predict("1\n", target_model="sub/c.tar.gz").decode() == "4.0\n"  # a unloaded (507)
        assert predictor.predict("10\n", target_model="a.tar.gz").decode() == "11.0\n"  # loaded again
        assert sorted(model.list_models()) == ["a.tar.gz", "b.tar.gz", "sub/c.tar.gz"]
        runtime = podman_server.client("sagemaker-runtime")
        with pytest.raises(runtime.exceptions.ModelError) as info:  # the container's 400
            runtime.invoke_endpoint(
                EndpointName=name, Body=b"x\n", ContentType="text/csv", TargetModel="b.tar.gz"
            )
        assert "bad input" in str(info.value)
        with pytest.raises(runtime.exceptions.ClientError) as info:
            runtime.invoke_endpoint(EndpointName=name, Body=b"1\n", ContentType="text/csv")
        assert "specify TargetModel" in str(info.value)
        with pytest.raises(runtime.exceptions.ClientError) as info:
            runtime.invoke_endpoint(
                EndpointName=name, Body=b"1\n", ContentType="text/csv", TargetModel="missing.tar.gz"
            )
        assert "Failed to download model data" in str(info.value)
        wait_for(lambda: "mme serve: unloaded" in _endpoint_log(podman_server, name), 30, message="the log")
        text = _endpoint_log(podman_server, name)
        assert "(a.tar.gz) from /opt/ml/models/" in text and "(sub/c.tar.gz) from /opt/ml/models/" in text
        assert "mme serve: unloaded" in text and "(a.tar.gz)" in text.split("mme serve: unloaded", 1)[1]
    finally:
        predictor.delete_endpoint()


def test_multi_model_container_with_the_cache_disabled_unloads_after_each_request(
    podman_server, podman_bucket, mme_image
):
    _put_models(podman_server, podman_bucket, {"one.tar.gz": 0.5})
    name = _mme_endpoint(podman_server, podman_bucket, mme_image, {}, cache="Disabled")
    sm, runtime = podman_server.client("sagemaker"), podman_server.client("sagemaker-runtime")
    try:
        for value in (1, 2):
            out = runtime.invoke_endpoint(
                EndpointName=name,
                Body=f"{value}\n".encode(),
                ContentType="text/csv",
                TargetModel="one.tar.gz",
            )["Body"].read()
            assert out == f"{value + 0.5}\n".encode()
        wait_for(
            lambda: _endpoint_log(podman_server, name).count("mme serve: unloaded") == 2,
            30,
            message="2 unloads",
        )
        assert _endpoint_log(podman_server, name).count("mme serve: loaded") == 2
        # the proxy's report: the endpoint's multi-model metrics, as for the built-in servers
        cloudwatch = podman_server.client("cloudwatch")

        def statistic(metric: str, kind: str):
            import datetime as dt

            now = dt.datetime.now(dt.timezone.utc)
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/SageMaker",
                MetricName=metric,
                StartTime=now - dt.timedelta(minutes=10),
                EndTime=now + dt.timedelta(minutes=1),
                Period=600,
                Statistics=[kind],
                Dimensions=[{"Name": "EndpointName", "Value": name}, {"Name": "VariantName", "Value": "v"}],
            )["Datapoints"]
            return points[0][kind] if points else None

        wait_for(lambda: statistic("ModelCacheHit", "SampleCount") == 2, 30, message="ModelCacheHit samples")
        assert statistic("ModelCacheHit", "Sum") == 0  # each request loaded its model again
        assert statistic("ModelLoadingTime", "SampleCount") == 2
        assert statistic("ModelUnloadingTime", "SampleCount") == 2
    finally:
        sm.delete_endpoint(EndpointName=name)


def test_multi_model_container_in_an_inference_pipeline_fails_clearly(
    podman_server, podman_bucket, mme_image
):
    _put_models(podman_server, podman_bucket, {"one.tar.gz": 0.5})
    sm = podman_server.client("sagemaker")
    name = f"byoc-mme-pipe-{uuid.uuid4().hex[:8]}"
    sm.create_model(
        ModelName=name,
        Containers=[
            {"Image": mme_image, "Mode": "MultiModel", "ModelDataUrl": f"s3://{podman_bucket}/mme/"},
            {"Image": mme_image, "ModelDataUrl": f"s3://{podman_bucket}/mme/one.tar.gz"},
        ],
        ExecutionRoleArn=ROLE,
    )
    _create_endpoint(sm, name)
    wait_for(
        lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Failed", 60, message="Failed"
    )
    reason = sm.describe_endpoint(EndpointName=name)["FailureReason"]
    assert "must be the model's only container" in reason
    sm.delete_endpoint(EndpointName=name)
