"""sagemaker-core's resource classes, with their strict pydantic parsing of every response: create, get,
get_all, refresh, wait, invoke and delete on TrainingJob, Model, EndpointConfig, Endpoint, TransformJob,
ProcessingJob and HyperParameterTuningJob (plus the lineage and experiment types those create); then
get_all (which describes each item it lists) of every resource type whose List operation the server
implements (argv[1]: a JSON file of the implemented SageMaker operations)."""

import inspect
import json
import re
import sys
import uuid
from pathlib import Path

import boto3
from sagemaker.core import resources
from sagemaker.core.resources import (
    Endpoint,
    EndpointConfig,
    Experiment,
    HyperParameterTuningJob,
    Model,
    ModelPackage,
    ModelPackageGroup,
    ProcessingJob,
    Tag,
    TrainingJob,
    TransformJob,
    Trial,
)
from sagemaker.core.shapes import (
    AlgorithmSpecification,
    AppSpecification,
    Channel,
    ContainerDefinition,
    DataSource,
    HyperParameterTrainingJobDefinition,
    HyperParameterTuningJobConfig,
    HyperParameterTuningJobObjective,
    IntegerParameterRange,
    OutputDataConfig,
    ParameterRanges,
    ProcessingClusterConfig,
    ProcessingOutput,
    ProcessingOutputConfig,
    ProcessingResources,
    ProcessingS3Output,
    ProductionVariant,
    ResourceConfig,
    ResourceLimits,
    S3DataSource,
    StoppingCondition,
    TransformDataSource,
    TransformInput,
    TransformOutput,
    TransformResources,
    TransformS3DataSource,
)

from common import ROLE, SKLEARN_IMAGE, XGBOOST_IMAGE, result, write_csv

implemented = set(json.loads(Path(sys.argv[1]).read_text()))
s3 = boto3.client("s3")
suffix = uuid.uuid4().hex[:8]
bucket = f"v3-core-{suffix}"
s3.create_bucket(Bucket=bucket)
s3.upload_file(str(write_csv(Path("train.csv"))), bucket, "train/train.csv")
s3.upload_file(str(write_csv(Path("validation.csv"), rows=20, seed=1)), bucket, "validation/v.csv")
s3.put_object(Bucket=bucket, Key="batch/in.csv", Body=b"0.1,0.2,0.3\n0.9,0.8,0.7\n")
out: dict = {}


def channel(name: str) -> Channel:
    source = S3DataSource(
        s3_data_type="S3Prefix", s3_uri=f"s3://{bucket}/{name}/", s3_data_distribution_type="FullyReplicated"
    )
    return Channel(channel_name=name, content_type="text/csv", data_source=DataSource(s3_data_source=source))


# -- TrainingJob ---------------------------------------------------------------------------------
job = TrainingJob.create(
    training_job_name=f"core-train-{suffix}",
    role_arn=ROLE,
    algorithm_specification=AlgorithmSpecification(training_image=XGBOOST_IMAGE, training_input_mode="File"),
    hyper_parameters={"objective": "binary:logistic", "num_round": "3"},
    input_data_config=[channel("train"), channel("validation")],
    output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/output"),
    resource_config=ResourceConfig(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=1),
    stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
    tags=[{"key": "suite", "value": "sdk-v3"}],
)
job.wait(poll=1, timeout=300)
job.refresh()
out["training"] = {
    "status": job.training_job_status,
    "role": job.role_arn,
    "got": TrainingJob.get(job.training_job_name).training_job_arn == job.training_job_arn,
    "listed": [j.training_job_name for j in TrainingJob.get_all(name_contains=suffix)],
    "tags": {t.key: t.value for t in Tag.get_all(resource_arn=job.training_job_arn)},
}

# -- Model, EndpointConfig, Endpoint ------------------------------------------------------------
model = Model.create(
    model_name=f"core-model-{suffix}",
    execution_role_arn=ROLE,
    primary_container=ContainerDefinition(
        image=XGBOOST_IMAGE, model_data_url=job.model_artifacts.s3_model_artifacts
    ),
)
config = EndpointConfig.create(
    endpoint_config_name=f"core-config-{suffix}",
    production_variants=[
        ProductionVariant(
            variant_name="AllTraffic",
            model_name=model.model_name,
            instance_type="ml.m5.large",
            initial_instance_count=1,
        )
    ],
)
endpoint = Endpoint.create(
    endpoint_name=f"core-endpoint-{suffix}", endpoint_config_name=config.endpoint_config_name
)
endpoint.wait_for_status("InService", poll=1, timeout=300)
answer = endpoint.invoke(body=b"0.1,0.2,0.3\n0.9,0.8,0.7", content_type="text/csv", accept="text/csv")
out["hosting"] = {
    "model_role": Model.get(model.model_name).execution_role_arn,
    "config_variants": [
        v.variant_name for v in EndpointConfig.get(config.endpoint_config_name).production_variants
    ],
    "endpoint_status": Endpoint.get(endpoint.endpoint_name).endpoint_status,
    "predictions": [float(v) for v in answer.body.read().decode().split()],
    "listed": [
        [e.endpoint_name for e in Endpoint.get_all(name_contains=suffix)],
        [c.endpoint_config_name for c in EndpointConfig.get_all(name_contains=suffix)],
        [m.model_name for m in Model.get_all(name_contains=suffix)],
    ],
}

# -- TransformJob -------------------------------------------------------------------------------
transform = TransformJob.create(
    transform_job_name=f"core-transform-{suffix}",
    model_name=model.model_name,
    transform_input=TransformInput(
        content_type="text/csv",
        split_type="Line",
        data_source=TransformDataSource(
            s3_data_source=TransformS3DataSource(s3_data_type="S3Prefix", s3_uri=f"s3://{bucket}/batch/")
        ),
    ),
    transform_output=TransformOutput(s3_output_path=f"s3://{bucket}/batch-out"),
    transform_resources=TransformResources(instance_type="ml.m5.large", instance_count=1),
)
transform.wait(poll=1, timeout=300)
lines = s3.get_object(Bucket=bucket, Key="batch-out/in.csv.out")["Body"].read().decode().split()
out["transform"] = {
    "status": TransformJob.get(transform.transform_job_name).transform_job_status,
    "rows": len(lines),
    "listed": [t.transform_job_name for t in TransformJob.get_all(name_contains=suffix)],
}

# -- ProcessingJob ------------------------------------------------------------------------------
processing = ProcessingJob.create(
    processing_job_name=f"core-processing-{suffix}",
    role_arn=ROLE,
    processing_resources=ProcessingResources(
        cluster_config=ProcessingClusterConfig(
            instance_count=1, instance_type="ml.m5.large", volume_size_in_gb=1
        )
    ),
    app_specification=AppSpecification(
        image_uri=SKLEARN_IMAGE,
        container_entrypoint=[
            "python3",
            "-c",
            "import os; os.makedirs('/opt/ml/processing/out', exist_ok=True); "
            "open('/opt/ml/processing/out/done.txt', 'w').write('processed')",
        ],
    ),
    processing_output_config=ProcessingOutputConfig(
        outputs=[
            ProcessingOutput(
                output_name="out",
                s3_output=ProcessingS3Output(
                    s3_uri=f"s3://{bucket}/processing-out",
                    local_path="/opt/ml/processing/out",
                    s3_upload_mode="EndOfJob",
                ),
            )
        ]
    ),
)
processing.wait(poll=1, timeout=300)
out["processing"] = {
    "status": ProcessingJob.get(processing.processing_job_name).processing_job_status,
    "role": processing.role_arn,
    "output": s3.get_object(Bucket=bucket, Key="processing-out/done.txt")["Body"].read().decode(),
    "listed": [p.processing_job_name for p in ProcessingJob.get_all(name_contains=suffix)],
}

# -- HyperParameterTuningJob --------------------------------------------------------------------
tuning = HyperParameterTuningJob.create(
    hyper_parameter_tuning_job_name=f"core-tune-{suffix}",
    hyper_parameter_tuning_job_config=HyperParameterTuningJobConfig(
        strategy="Random",
        hyper_parameter_tuning_job_objective=HyperParameterTuningJobObjective(
            type="Minimize", metric_name="validation:logloss"
        ),
        resource_limits=ResourceLimits(max_number_of_training_jobs=1, max_parallel_training_jobs=1),
        parameter_ranges=ParameterRanges(
            integer_parameter_ranges=[IntegerParameterRange(name="max_depth", min_value="2", max_value="3")]
        ),
    ),
    training_job_definition=HyperParameterTrainingJobDefinition(
        algorithm_specification={"training_image": XGBOOST_IMAGE, "training_input_mode": "File"},
        role_arn=ROLE,
        static_hyper_parameters={"objective": "binary:logistic", "num_round": "2"},
        input_data_config=[channel("train"), channel("validation")],
        output_data_config=OutputDataConfig(s3_output_path=f"s3://{bucket}/tuning"),
        resource_config=ResourceConfig(instance_type="ml.m5.large", instance_count=1, volume_size_in_gb=1),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
    ),
)
tuning.wait(poll=1, timeout=300)
tuning.refresh()
out["tuning"] = {
    "status": tuning.hyper_parameter_tuning_job_status,
    "best": tuning.best_training_job.training_job_name if tuning.best_training_job else None,
    "listed": [
        t.hyper_parameter_tuning_job_name for t in HyperParameterTuningJob.get_all(name_contains=suffix)
    ],
}

# -- a few more types, so that get_all below has something to describe --------------------------
group = ModelPackageGroup.create(model_package_group_name=f"core-group-{suffix}")
# ModelPackage.create reads a ModelPackageName that CreateModelPackage does not return (an SDK bug, as on
# AWS): the package is made with boto3 and read back with sagemaker-core.
package_arn = boto3.client("sagemaker").create_model_package(
    ModelPackageGroupName=group.model_package_group_name,
    ModelApprovalStatus="Approved",
    InferenceSpecification={
        "Containers": [{"Image": XGBOOST_IMAGE, "ModelDataUrl": job.model_artifacts.s3_model_artifacts}],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": ["text/csv"],
    },
)["ModelPackageArn"]
package = ModelPackage.get(package_arn)
experiment = Experiment.create(experiment_name=f"core-experiment-{suffix}")
Trial.create(trial_name=f"core-trial-{suffix}", experiment_name=experiment.experiment_name)
out["registry"] = {
    "package_status": package.model_approval_status,
    "packages": [
        p.model_package_arn
        for p in ModelPackage.get_all(model_package_group_name=group.model_package_group_name)
    ]
    == [package_arn],
    "group": ModelPackageGroup.get(group.model_package_group_name).model_package_group_status,
}


# -- get_all of every type the server lists -----------------------------------------------------
def pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


listed, failures = {}, {}
for name, cls in sorted(vars(resources).items()):
    if not (inspect.isclass(cls) and issubclass(cls, resources.Base) and "get_all" in vars(cls)):
        continue
    match = re.search(r'list_method="(\w+)"', inspect.getsource(cls.get_all))
    if not match or pascal(match.group(1)) not in implemented or cls is Tag:
        continue
    # Types listed under a parent (MonitoringAlert under a schedule, …) need its name: not listable alone.
    params = inspect.signature(cls.get_all).parameters.values()
    if any(p.default is inspect.Parameter.empty and p.name not in ("cls", "self") for p in params):
        continue
    try:
        listed[name] = sum(1 for _ in zip(range(5), cls.get_all()))  # each item is described (refresh)
    except Exception as exc:  # noqa: BLE001 - reported, the test fails on it
        failures[name] = f"{type(exc).__name__}: {exc}"[:800]
out["get_all"] = {"listed": listed, "failures": failures}

# -- delete -------------------------------------------------------------------------------------
endpoint.delete()
endpoint.wait_for_delete(poll=1, timeout=120)
config.delete()
model.delete()
out["deleted"] = [
    [e.endpoint_name for e in Endpoint.get_all(name_contains=suffix)],
    [c.endpoint_config_name for c in EndpointConfig.get_all(name_contains=suffix)],
    [m.model_name for m in Model.get_all(name_contains=suffix)],
]
out["suffix"] = suffix
result(**out)
