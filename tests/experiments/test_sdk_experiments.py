"""The unchanged SageMaker SDK v2's ``sagemaker.experiments.Run``, ``load_run`` and
``ExperimentAnalytics`` against sagestack; a training job inside a run logs into it via ``load_run()``."""

from __future__ import annotations

import math
import textwrap
import uuid

import numpy as np
import pytest

from helpers import ROLE


def _names():
    suffix = uuid.uuid4().hex[:6]
    return f"sdk-exp-{suffix}", f"run-{suffix}"


@pytest.mark.sdk_flow("flow10", "with Run(...) as run: log_parameters, log_metric x20, log_file, charts")
def test_run_logs_parameters_metrics_and_artifacts(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker.analytics import ExperimentAnalytics
    from sagemaker.experiments import Run, list_runs, load_run
    from sagemaker.experiments.experiment import Experiment

    session = sagemaker.Session()
    experiment, run_name = _names()
    losses = [1.0 / (i + 1) + 0.01 * math.sin(i) for i in range(20)]
    (tmp_path / "notes.txt").write_text("hello")
    with Run(experiment_name=experiment, run_name=run_name, sagemaker_session=session) as run:
        run.log_parameters({"lr": 0.1, "optimizer": "adam", "epochs": 20})
        run.log_parameter("bad", float("nan"))  # the SDK drops it
        for step, loss in enumerate(losses):
            run.log_metric(name="loss", value=loss, step=step)
        run.log_confusion_matrix([0, 1, 1, 0], [0, 1, 0, 0], title="cm")
        run.log_roc_curve([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.3], title="roc")
        run.log_precision_recall([0, 1, 1, 0], [0.1, 0.9, 0.6, 0.3], title="pr")
        run.log_file(str(tmp_path / "notes.txt"), name="notes")

    sm = server.client("sagemaker")
    tc_name = f"{experiment}-{run_name}"
    desc = sm.describe_trial_component(TrialComponentName=tc_name)
    assert desc["Status"]["PrimaryStatus"] == "Completed"
    assert desc["Parameters"] == {
        "lr": {"NumberValue": 0.1},
        "optimizer": {"StringValue": "adam"},
        "epochs": {"NumberValue": 20.0},
    }
    loss = {m["MetricName"]: m for m in desc["Metrics"]}["loss"]
    values = np.array(losses)
    assert loss["Count"] == 20
    assert math.isclose(loss["Min"], values.min()) and math.isclose(loss["Max"], values.max())
    assert math.isclose(loss["Avg"], values.mean()) and math.isclose(loss["StdDev"], values.std(ddof=1))
    assert math.isclose(loss["Last"], values[-1])
    notes = desc["OutputArtifacts"]["notes"]
    assert notes["MediaType"] == "text/plain"
    bucket, key = notes["Value"][5:].split("/", 1)
    assert server.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == b"hello"
    produced = sm.list_associations(SourceArn=desc["TrialComponentArn"])["AssociationSummaries"]
    types = sorted(sm.describe_artifact(ArtifactArn=a["DestinationArn"])["ArtifactType"] for a in produced)
    assert types == ["ConfusionMatrix", "PrecisionRecallCurve", "ROCCurve"]
    cm = [a for a in produced if a["DestinationName"] == "cm"][0]
    uri = sm.describe_artifact(ArtifactArn=cm["DestinationArn"])["Source"]["SourceUri"]
    body = server.client("s3").get_object(Bucket=uri[5:].split("/", 1)[0], Key=uri[5:].split("/", 1)[1])
    assert b'"ConfusionMatrix"' in body["Body"].read()

    with load_run(experiment_name=experiment, run_name=run_name, sagemaker_session=session) as run:
        run.log_metric(name="loss", value=0.0, step=20)
    summaries = sm.describe_trial_component(TrialComponentName=tc_name)["Metrics"]
    loss = {m["MetricName"]: m for m in summaries}["loss"]
    assert loss["Count"] == 21 and loss["Min"] == 0.0

    frame = ExperimentAnalytics(experiment_name=experiment, sagemaker_session=session).dataframe()
    assert list(frame["TrialComponentName"]) == [tc_name]
    row = frame.iloc[0]
    assert row["lr"] == 0.1 and row["optimizer"] == "adam"
    assert math.isclose(row["loss - Max"], values.max()) and row["loss - Count"] == 21
    assert row["Experiments"] == [experiment]

    runs = list_runs(experiment_name=experiment, sagemaker_session=session)
    assert [r.run_name for r in runs] == [run_name]

    # The SDK's clean-up: disassociate and delete every run, then the run group, then the experiment.
    Experiment.load(experiment_name=experiment, sagemaker_session=session)._delete_all(action="--force")
    assert sm.list_trial_components(ExperimentName=experiment)["TrialComponentSummaries"] == []
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_experiment(ExperimentName=experiment)


TRAIN = textwrap.dedent("""
    import os
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    import joblib
    from sagemaker.session import Session
    from sagemaker.experiments import load_run

    data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
    X, y = data[:, 1:], data[:, 0]
    with load_run(sagemaker_session=Session()) as run:
        run.log_parameter("C", 0.5)
        for step in range(3):
            model = LogisticRegression(C=0.5, max_iter=50 * (step + 1)).fit(X, y)
            run.log_metric(name="train:accuracy", value=model.score(X, y), step=step)
    print(f"train-accuracy: {model.score(X, y):.4f}", flush=True)
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
""")


@pytest.mark.slow
@pytest.mark.sdk_flow("flow10", "estimator.fit() inside a Run: the job's load_run() logs into the run")
def test_training_job_inside_run_logs_into_it(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker.experiments import Run
    from sagemaker.sklearn import SKLearn
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    np.savetxt(tmp_path / "train.csv", np.column_stack([y, X[:, :5]]), delimiter=",", fmt="%.6g")
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    session = sagemaker.Session()
    train_uri = session.upload_data(str(tmp_path / "train.csv"), key_prefix="experiments-e2e/train")
    experiment, run_name = _names()
    with Run(experiment_name=experiment, run_name=run_name, sagemaker_session=session) as run:
        estimator = SKLearn(
            entry_point="train.py",
            source_dir=str(src),
            framework_version="1.2-1",
            py_version="py3",
            instance_type="ml.m5.large",
            instance_count=1,
            role=ROLE,
            hyperparameters={"C": 0.5},
            metric_definitions=[{"Name": "train:accuracy", "Regex": "train-accuracy: ([0-9.]+)"}],
        )
        estimator.fit({"train": train_uri}, wait=True, logs=False)
        config = run.experiment_config
    job = estimator.latest_training_job.describe()
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["ExperimentConfig"]["RunName"] == config["RunName"]

    sm = server.client("sagemaker")
    run_tc = sm.describe_trial_component(TrialComponentName=config["RunName"])
    assert run_tc["Parameters"]["C"] == {"NumberValue": 0.5}
    accuracy = {m["MetricName"]: m for m in run_tc["Metrics"]}["train:accuracy"]
    assert accuracy["Count"] == 3 and accuracy["Max"] > 0.8

    job_tc_name = f"{job['TrainingJobName']}-aws-training-job"
    job_tc = sm.describe_trial_component(TrialComponentName=job_tc_name)
    assert job_tc["Source"] == {"SourceArn": job["TrainingJobArn"], "SourceType": "SageMakerTrainingJob"}
    assert job_tc["Status"]["PrimaryStatus"] == "Completed"
    assert job_tc["Parameters"]["C"] == {"NumberValue": 0.5}
    model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert job_tc["OutputArtifacts"]["SageMaker.ModelArtifact"]["Value"] == model_uri
    assert {m["MetricName"] for m in job_tc["Metrics"]} == {"train:accuracy"}
    in_trial = [
        s["TrialComponentName"]
        for s in sm.list_trial_components(TrialName=config["TrialName"])["TrialComponentSummaries"]
    ]
    assert sorted(in_trial) == sorted([config["RunName"], job_tc_name])
    assert [
        s["TrialComponentName"]
        for s in sm.list_trial_components(SourceArn=job["TrainingJobArn"])["TrialComponentSummaries"]
    ] == [job_tc_name]
    assert {"SourceArn": job["TrainingJobArn"], "SourceType": "SageMakerTrainingJob"} in run_tc["Sources"]

    # The lineage SageMaker records for a job: image and data → job → model.
    up = sm.query_lineage(StartArns=[job_tc["TrialComponentArn"]], Direction="Ascendants", MaxDepth=1)
    assert sorted(v["Type"] for v in up["Vertices"]) == ["DataSet", "Image"]
    down = sm.query_lineage(StartArns=[job_tc["TrialComponentArn"]], Direction="Descendants", MaxDepth=1)
    model = [v["Arn"] for v in down["Vertices"] if v["Type"] == "Model"]
    assert (
        sm.describe_artifact(ArtifactArn=model[0])["Source"]["SourceUri"]
        == job["ModelArtifacts"]["S3ModelArtifacts"]
    )


@pytest.mark.sdk_flow("flow10", "the store keeps experiments, runs and metrics across a restart")
def test_restart_keeps_everything(fresh_server, monkeypatch):
    env = fresh_server.client_env()
    for key, value in env.items():
        if key == "PYTHONPATH":  # (the env var stays: the restarted server imports sagestack through it)
            monkeypatch.syspath_prepend(value)
        else:
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    import boto3
    import sagemaker
    from sagemaker.experiments import Run

    experiment, run_name = _names()
    session = sagemaker.Session(boto_session=boto3.Session())  # not boto3's default session: other keys
    with Run(experiment_name=experiment, run_name=run_name, sagemaker_session=session) as run:
        run.log_parameter("p", 1)
        for step in range(5):
            run.log_metric(name="m", value=float(step), step=step)
    sm = fresh_server.client("sagemaker")
    before = sm.describe_trial_component(TrialComponentName=f"{experiment}-{run_name}")
    sm.create_model_package_group(ModelPackageGroupName=f"{experiment}-group")
    package = sm.create_model_package(
        ModelPackageGroupName=f"{experiment}-group",
        InferenceSpecification={
            "Containers": [
                {
                    "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                    "ModelDataUrl": "s3://b/model.tar.gz",
                }
            ]
        },
    )["ModelPackageArn"]
    fresh_server.restart()
    sm = fresh_server.client("sagemaker")
    after = sm.describe_trial_component(TrialComponentName=f"{experiment}-{run_name}")
    for key in ("Parameters", "Metrics", "Status", "StartTime", "EndTime"):
        assert after[key] == before[key]
    assert (
        sm.list_trial_components(ExperimentName=experiment)["TrialComponentSummaries"][0][
            "TrialComponentName"
        ]
        == f"{experiment}-{run_name}"
    )
    assert sm.describe_model_package(ModelPackageName=package)["ModelPackageVersion"] == 1
    second = sm.create_model_package(
        ModelPackageGroupName=f"{experiment}-group",
        InferenceSpecification={
            "Containers": [{"Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"}]
        },
    )
    assert second["ModelPackageArn"].endswith("/2")  # the version counter survived too
    artifact = sm.list_artifacts(SourceUri=package)["ArtifactSummaries"][0]["ArtifactArn"]
    assert sm.list_associations(SourceArn=artifact)["AssociationSummaries"]


PROCESS = textwrap.dedent("""
    from sagemaker.session import Session
    from sagemaker.experiments import load_run

    with load_run(sagemaker_session=Session()) as run:
        run.log_parameter("rows", 200)
        run.log_metric(name="processing:rows", value=200.0)
    print("logged", flush=True)
""")


@pytest.mark.slow
@pytest.mark.sdk_flow("flow10", "SKLearnProcessor.run() inside a Run: the job's load_run() logs into the run")
def test_processing_job_inside_run_logs_into_it(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker.experiments import Run
    from sagemaker.sklearn.processing import SKLearnProcessor

    session = sagemaker.Session()
    (tmp_path / "process.py").write_text(PROCESS)
    experiment, run_name = _names()
    with Run(experiment_name=experiment, run_name=run_name, sagemaker_session=session) as run:
        processor = SKLearnProcessor(
            framework_version="1.2-1",
            role=ROLE,
            instance_type="ml.m5.xlarge",
            instance_count=1,
            base_job_name="exp-proc",
        )
        processor.run(code=str(tmp_path / "process.py"), wait=True, logs=False)
        config = run.experiment_config
    job = processor.latest_job.describe()
    assert job["ProcessingJobStatus"] == "Completed", job.get("FailureReason")
    sm = server.client("sagemaker")
    run_tc = sm.describe_trial_component(TrialComponentName=config["RunName"])
    assert run_tc["Parameters"]["rows"] == {"NumberValue": 200.0}
    assert {m["MetricName"] for m in run_tc["Metrics"]} == {"processing:rows"}
    job_tc = sm.describe_trial_component(TrialComponentName=f"{job['ProcessingJobName']}-aws-processing-job")
    assert job_tc["Source"] == {"SourceArn": job["ProcessingJobArn"], "SourceType": "SageMakerProcessingJob"}
    assert job_tc["Status"]["PrimaryStatus"] == "Completed"
    in_trial = [
        s["TrialComponentName"]
        for s in sm.list_trial_components(TrialName=config["TrialName"])["TrialComponentSummaries"]
    ]
    assert job_tc["TrialComponentName"] in in_trial
