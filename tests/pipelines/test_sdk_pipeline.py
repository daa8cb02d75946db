"""The unchanged SageMaker Python SDK v2 (``sagemaker.workflow``) builds and runs a pipeline on sagestack:
process → train (built-in XGBoost) → evaluate (a PropertyFile) → condition (JsonGet) → register + create
model + batch transform, with parameters overridden at start; then a second execution that reuses the
cached steps and takes the failing branch."""

from __future__ import annotations

import io
import json
import textwrap
import uuid

import pytest

from helpers import ROLE, wait_pipeline_execution

XGB_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

PREPROCESS = textwrap.dedent("""
    import os
    import pandas as pd
    df = pd.read_csv("/opt/ml/processing/input/raw.csv")
    train, test = df.iloc[:150], df.iloc[150:]
    for name, part in (("train", train), ("test", test)):
        os.makedirs(f"/opt/ml/processing/{name}", exist_ok=True)
        part.to_csv(f"/opt/ml/processing/{name}/{name}.csv", header=False, index=False)
    os.makedirs("/opt/ml/processing/batch", exist_ok=True)
    test.iloc[:, 1:].to_csv("/opt/ml/processing/batch/batch.csv", header=False, index=False)
""")

EVALUATE = textwrap.dedent("""
    import json, os, tarfile
    import numpy as np
    import pandas as pd
    import xgboost
    with tarfile.open("/opt/ml/processing/model/model.tar.gz") as tar:
        tar.extractall("/opt/ml/processing/model")
    booster = xgboost.Booster()
    booster.load_model("/opt/ml/processing/model/xgboost-model")
    test = pd.read_csv("/opt/ml/processing/test/test.csv", header=None)
    predictions = booster.predict(xgboost.DMatrix(test.iloc[:, 1:].values))
    mse = float(np.mean((test.iloc[:, 0].values - predictions) ** 2))
    os.makedirs("/opt/ml/processing/evaluation", exist_ok=True)
    with open("/opt/ml/processing/evaluation/evaluation.json", "w") as f:
        json.dump({"regression_metrics": {"mse": {"value": mse}}}, f)
    print("mse", mse, flush=True)
""")


def _build(tmp_path, name: str, bucket: str, group: str):
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.processing import ProcessingInput, ProcessingOutput
    from sagemaker.sklearn.processing import SKLearnProcessor
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TransformStep

    session = PipelineSession(default_bucket=bucket)
    rounds = ParameterInteger(name="TrainingRounds", default_value=5)
    threshold = ParameterFloat(name="MseThreshold", default_value=1e9)
    raw = ParameterString(name="InputData", default_value=f"s3://{bucket}/raw/raw.csv")
    cache = CacheConfig(enable_caching=True, expire_after="PT1H")
    (tmp_path / "preprocess.py").write_text(PREPROCESS)
    (tmp_path / "evaluate.py").write_text(EVALUATE)

    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=ROLE,
        instance_type="ml.m5.xlarge",
        instance_count=1,
        sagemaker_session=session,
    )
    preprocess = ProcessingStep(
        name="Preprocess",
        step_args=processor.run(
            code=str(tmp_path / "preprocess.py"),
            inputs=[ProcessingInput(source=raw, destination="/opt/ml/processing/input")],
            outputs=[
                ProcessingOutput(output_name="train", source="/opt/ml/processing/train"),
                ProcessingOutput(output_name="test", source="/opt/ml/processing/test"),
                ProcessingOutput(output_name="batch", source="/opt/ml/processing/batch"),
            ],
        ),
        cache_config=cache,
    )
    estimator = Estimator(
        image_uri=XGB_IMAGE,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/models",
        sagemaker_session=session,
        hyperparameters={"objective": "reg:squarederror", "num_round": rounds, "max_depth": 3},
    )
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(
            {
                "train": TrainingInput(
                    preprocess.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri,
                    content_type="text/csv",
                )
            }
        ),
        cache_config=cache,
    )
    report = PropertyFile(name="EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        name="Evaluate",
        step_args=processor.run(
            code=str(tmp_path / "evaluate.py"),
            inputs=[
                ProcessingInput(
                    source=train.properties.ModelArtifacts.S3ModelArtifacts,
                    destination="/opt/ml/processing/model",
                ),
                ProcessingInput(
                    source=preprocess.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri,
                    destination="/opt/ml/processing/test",
                ),
            ],
            outputs=[ProcessingOutput(output_name="evaluation", source="/opt/ml/processing/evaluation")],
        ),
        property_files=[report],
    )
    model = Model(
        image_uri=XGB_IMAGE,
        model_data=train.properties.ModelArtifacts.S3ModelArtifacts,
        role=ROLE,
        sagemaker_session=session,
    )
    register = ModelStep(
        name="Register",
        step_args=model.register(
            content_types=["text/csv"],
            response_types=["text/csv"],
            inference_instances=["ml.m5.large"],
            transform_instances=["ml.m5.large"],
            model_package_group_name=group,
            approval_status="Approved",
        ),
    )
    create_model = ModelStep(name="CreateModel", step_args=model.create(instance_type="ml.m5.large"))
    transformer = Transformer(
        model_name=create_model.properties.ModelName,
        instance_type="ml.m5.large",
        instance_count=1,
        output_path=f"s3://{bucket}/batch-out",
        sagemaker_session=session,
    )
    transform = TransformStep(
        name="Score",
        step_args=transformer.transform(
            data=preprocess.properties.ProcessingOutputConfig.Outputs["batch"].S3Output.S3Uri,
            content_type="text/csv",
            split_type="Line",
        ),
    )
    too_high = FailStep(name="MseTooHigh", error_message=Join(on=" ", values=["MSE above", threshold]))
    check = ConditionStep(
        name="CheckMSE",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step_name=evaluate.name, property_file=report, json_path="regression_metrics.mse.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[register, create_model, transform],
        else_steps=[too_high],
    )
    return Pipeline(
        name=name,
        parameters=[rounds, threshold, raw],
        steps=[preprocess, train, evaluate, check],
        sagemaker_session=session,
    )


def _job(sm, step: dict) -> dict:
    ((kind, value),) = step["Metadata"].items()
    name = value["Arn"].rsplit("/", 1)[-1]
    describe = {
        "ProcessingJob": lambda: sm.describe_processing_job(ProcessingJobName=name),
        "TrainingJob": lambda: sm.describe_training_job(TrainingJobName=name),
        "TransformJob": lambda: sm.describe_transform_job(TransformJobName=name),
        "Model": lambda: sm.describe_model(ModelName=name),
        "RegisterModel": lambda: sm.describe_model_package(ModelPackageName=value["Arn"]),
    }
    return describe[kind]()


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow06",
    "Pipeline.upsert (create, then update), start(parameters), list_steps: ProcessingStep, TrainingStep, "
    "PropertyFile + JsonGet ConditionStep, ModelStep register and create, TransformStep, FailStep, CacheConfig",
)
def test_sdk_pipeline_end_to_end_cache_and_failing_branch(server, sdk_env, tmp_path):
    import numpy as np
    import pandas as pd

    sm = server.client("sagemaker")
    s3 = server.client("s3")
    bucket = f"pipe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(scale=0.1, size=200)
    frame = pd.DataFrame(np.column_stack([y, X]), columns=["y", "a", "b", "c", "d"])
    s3.put_object(Bucket=bucket, Key="raw/raw.csv", Body=frame.to_csv(index=False).encode())
    group = f"grp-{uuid.uuid4().hex[:6]}"
    sm.create_model_package_group(ModelPackageGroupName=group)
    name = f"sdk-pipe-{uuid.uuid4().hex[:6]}"
    pipeline = _build(tmp_path, name, bucket, group)
    created = pipeline.upsert(role_arn=ROLE)
    assert created["PipelineArn"].endswith(f"pipeline/{name}")
    assert pipeline.upsert(role_arn=ROLE)["PipelineArn"] == created["PipelineArn"]  # the update path

    execution = pipeline.start(parameters={"TrainingRounds": 12})
    desc = wait_pipeline_execution(sm, execution.arn, 400)
    steps = execution.list_steps()
    failures = {s["StepName"]: s.get("FailureReason") for s in steps if s["StepStatus"] != "Succeeded"}
    assert desc["PipelineExecutionStatus"] == "Succeeded", failures
    names = [s["StepName"] for s in steps]
    assert names[-3:] == ["Evaluate", "Train", "Preprocess"] and names[-4] == "CheckMSE"
    assert set(names[:3]) == {"Register-RegisterModel", "CreateModel-CreateModel", "Score"}
    assert "MseTooHigh" not in names
    by_name = {s["StepName"]: s for s in steps}
    assert by_name["CheckMSE"]["Metadata"] == {"Condition": {"Outcome": "True"}}
    for step in steps:
        if step["StepName"] == "CheckMSE":
            continue
        described = _job(sm, step)
        status = (
            described.get("ProcessingJobStatus")
            or described.get("TrainingJobStatus")
            or described.get("TransformJobStatus")
            or described.get("ModelPackageStatus")
            or "Completed"
        )
        assert status == "Completed", (step["StepName"], described.get("FailureReason"))
    training = _job(sm, by_name["Train"])
    assert training["HyperParameters"]["num_round"] == "12"  # the override reached the job
    assert training["TrainingJobName"].startswith(f"pipelines-{execution.arn.rsplit('/', 1)[-1]}-train-")
    package = _job(sm, by_name["Register-RegisterModel"])
    assert package["ModelPackageGroupName"] == group and package["ModelApprovalStatus"] == "Approved"
    assert (
        package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
        == training["ModelArtifacts"]["S3ModelArtifacts"]
    )
    transform = _job(sm, by_name["Score"])
    out = transform["TransformOutput"]["S3OutputPath"].rstrip("/")
    _, prefix = out[5:].split("/", 1)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
    body = s3.get_object(Bucket=bucket, Key=[k for k in keys if k.endswith("batch.csv.out")][0])[
        "Body"
    ].read()
    assert len(body.decode().strip().splitlines()) == 50
    # the jobs' trial components are in the execution's trial, in an experiment named after the pipeline
    trial = execution.arn.rsplit("/", 1)[-1]
    assert sm.describe_trial(TrialName=trial)["ExperimentName"] == name
    components = sm.list_trial_components(TrialName=trial)["TrialComponentSummaries"]
    assert len(components) == 4  # two processing jobs, the training job, the transform job
    parameters = {
        p["Name"]: p["Value"]
        for p in sm.list_pipeline_parameters_for_execution(PipelineExecutionArn=execution.arn)[
            "PipelineParameters"
        ]
    }
    assert parameters["TrainingRounds"] == "12"

    # second execution: Preprocess and Train come from the cache; a threshold of 0 takes the Fail branch
    second = pipeline.start(parameters={"TrainingRounds": 12, "MseThreshold": 0.0})
    desc = wait_pipeline_execution(sm, second.arn, 400)
    assert desc["PipelineExecutionStatus"] == "Failed"
    steps = {s["StepName"]: s for s in second.list_steps()}
    assert set(steps) == {"Preprocess", "Train", "Evaluate", "CheckMSE", "MseTooHigh"}
    for cached in ("Preprocess", "Train"):
        assert steps[cached]["CacheHitResult"] == {"SourcePipelineExecutionArn": execution.arn}
        assert steps[cached]["Metadata"] == by_name[cached]["Metadata"]  # the earlier job
    assert "CacheHitResult" not in steps["Evaluate"]
    assert steps["MseTooHigh"]["FailureReason"] == "MSE above 0.0"
    assert steps["MseTooHigh"]["Metadata"] == {"Fail": {"ErrorMessage": "MSE above 0.0"}}
    assert steps["CheckMSE"]["Metadata"] == {"Condition": {"Outcome": "False"}}
    evaluation_uri = json.loads(json.dumps(_job(sm, steps["Evaluate"])["ProcessingOutputConfig"]))["Outputs"][
        0
    ]["S3Output"]["S3Uri"]
    b, k = evaluation_uri[5:].split("/", 1)
    report = json.load(io.BytesIO(s3.get_object(Bucket=b, Key=f"{k}/evaluation.json")["Body"].read()))
    assert report["regression_metrics"]["mse"]["value"] > 0.0


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow06",
    "(flow06b) TrainingStep and TuningStep in parallel, TuningStep.get_top_model_s3_uri into a ModelStep, "
    "depends_on, a StepRetryPolicy on the training step",
)
def test_sdk_pipeline_with_tuning_step(server, sdk_env, tmp_path):
    import numpy as np
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.model import Model
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession
    from sagemaker.workflow.retry import StepExceptionTypeEnum, StepRetryPolicy
    from sagemaker.workflow.steps import TrainingStep, TuningStep

    sm = server.client("sagemaker")
    s3 = server.client("s3")
    bucket = f"pipe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(float)
    rows = "\n".join(",".join(f"{v:.5f}" for v in [label, *x]) for label, x in zip(y, X)) + "\n"
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=rows.encode())
    s3.put_object(Bucket=bucket, Key="validation/validation.csv", Body=rows.encode())
    session = PipelineSession(default_bucket=bucket)
    estimator = Estimator(
        image_uri=XGB_IMAGE,
        role=ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{bucket}/tuning",
        sagemaker_session=session,
        hyperparameters={"objective": "binary:logistic", "num_round": 5},
    )
    inputs = {
        "train": TrainingInput(f"s3://{bucket}/train/", content_type="text/csv"),
        "validation": TrainingInput(f"s3://{bucket}/validation/", content_type="text/csv"),
    }
    train = TrainingStep(
        name="Train",
        step_args=estimator.fit(inputs),
        retry_policies=[
            StepRetryPolicy(
                exception_types=[StepExceptionTypeEnum.SERVICE_FAULT], max_attempts=3, interval_seconds=1
            )
        ],
    )
    tuner = HyperparameterTuner(
        estimator,
        "validation:auc",
        {"eta": ContinuousParameter(0.1, 0.5)},
        objective_type="Maximize",
        max_jobs=2,
        max_parallel_jobs=1,
        strategy="Random",
    )
    tune = TuningStep(name="Tune", step_args=tuner.fit(inputs))
    best = Model(
        image_uri=XGB_IMAGE,
        model_data=tune.get_top_model_s3_uri(top_k=0, s3_bucket=bucket, prefix="tuning"),
        role=ROLE,
        sagemaker_session=session,
    )
    best_model = ModelStep(
        name="BestModel", step_args=best.create(instance_type="ml.m5.large"), depends_on=[train]
    )
    name = f"sdk-tune-{uuid.uuid4().hex[:6]}"
    pipeline = Pipeline(name=name, steps=[train, tune, best_model], sagemaker_session=session)
    pipeline.upsert(role_arn=ROLE)
    definition = json.loads(sm.describe_pipeline(PipelineName=name)["PipelineDefinition"])
    assert {s["Type"] for s in definition["Steps"]} == {"Training", "Tuning", "Model"}
    execution = pipeline.start()
    desc = wait_pipeline_execution(sm, execution.arn, 400)
    steps = {s["StepName"]: s for s in execution.list_steps()}
    assert desc["PipelineExecutionStatus"] == "Succeeded", {
        n: s.get("FailureReason") for n, s in steps.items()
    }
    tuning_name = steps["Tune"]["Metadata"]["TuningJob"]["Arn"].rsplit("/", 1)[-1]
    tuning = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=tuning_name)
    assert tuning["HyperParameterTuningJobStatus"] == "Completed"
    best_job = tuning["BestTrainingJob"]["TrainingJobName"]
    model = sm.describe_model(
        ModelName=steps["BestModel-CreateModel"]["Metadata"]["Model"]["Arn"].rsplit("/", 1)[-1]
    )
    assert model["PrimaryContainer"]["ModelDataUrl"] == f"s3://{bucket}/tuning/{best_job}/output/model.tar.gz"
    assert steps["Train"]["AttemptCount"] == 1
    assert steps["BestModel-CreateModel"]["StartTime"] >= max(
        steps["Train"]["EndTime"], steps["Tune"]["EndTime"]
    )


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow06", "(flow06b) ModelStep, EndpointConfigStep and EndpointStep (create, then update)"
)
def test_sdk_pipeline_deploys_an_endpoint(server, sdk_env, tmp_path):
    import tarfile

    import numpy as np
    import xgboost
    from sagemaker.model import Model
    from sagemaker.workflow.endpoint_step import EndpointConfigStep, EndpointStep
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_context import PipelineSession

    sm = server.client("sagemaker")
    s3 = server.client("s3")
    runtime = server.client("sagemaker-runtime")
    bucket = f"pipe-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    booster = xgboost.train({"objective": "binary:logistic"}, xgboost.DMatrix(x, label=x[:, 0] > 0), 5)
    booster.save_model(str(tmp_path / "xgboost-model"))
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    s3.upload_file(str(tmp_path / "model.tar.gz"), bucket, "model/model.tar.gz")

    session = PipelineSession(default_bucket=bucket)
    config_name = ParameterString(name="ConfigName")
    endpoint_name = f"pipe-ep-{uuid.uuid4().hex[:6]}"
    model = Model(
        image_uri=XGB_IMAGE,
        model_data=f"s3://{bucket}/model/model.tar.gz",
        role=ROLE,
        sagemaker_session=session,
    )
    create_model = ModelStep(name="Make", step_args=model.create(instance_type="ml.m5.large"))
    config = EndpointConfigStep(
        name="Config",
        step_args=session.create_endpoint_config(
            name=config_name,
            model_name=create_model.properties.ModelName,
            initial_instance_count=1,
            instance_type="ml.m5.large",
        ),
    )
    endpoint = EndpointStep(
        name="Deploy",
        step_args=session.create_endpoint(
            endpoint_name=endpoint_name, config_name=config.properties.EndpointConfigName
        ),
    )
    pipeline = Pipeline(
        name=f"sdk-ep-{uuid.uuid4().hex[:6]}",
        parameters=[config_name],
        steps=[create_model, config, endpoint],
        sagemaker_session=session,
    )
    pipeline.upsert(role_arn=ROLE)
    try:
        for config_value in ("cfg-one-" + endpoint_name[-6:], "cfg-two-" + endpoint_name[-6:]):
            execution = pipeline.start(parameters={"ConfigName": config_value})
            desc = wait_pipeline_execution(sm, execution.arn, 400)
            steps = {s["StepName"]: s for s in execution.list_steps()}
            assert desc["PipelineExecutionStatus"] == "Succeeded", {
                n: s.get("FailureReason") for n, s in steps.items()
            }
            assert steps["Config"]["Metadata"]["EndpointConfig"]["Arn"].endswith(
                f"endpoint-config/{config_value}"
            )
            assert steps["Deploy"]["Metadata"]["Endpoint"]["Arn"].endswith(f"endpoint/{endpoint_name}")
            described = sm.describe_endpoint(EndpointName=endpoint_name)
            assert described["EndpointStatus"] == "InService"
            assert described["EndpointConfigName"] == config_value  # the second run updated it
        body = runtime.invoke_endpoint(
            EndpointName=endpoint_name, ContentType="text/csv", Body=",".join(str(v) for v in x[0])
        )["Body"].read()
        assert abs(float(body.decode().strip()) - float(booster.inplace_predict(x[:1])[0])) < 1e-5
    finally:
        sm.delete_endpoint(EndpointName=endpoint_name)
