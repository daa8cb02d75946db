"""The unchanged SageMaker Python SDK v2 ``HyperparameterTuner`` over built-in XGBoost (flow05)."""

from __future__ import annotations

import io
import os

import numpy as np
import pytest

from helpers import ROLE

os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")


def _csv(X, y) -> str:
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.sdk_flow(
    "flow05",
    "HyperparameterTuner(Estimator(xgboost), 'validation:auc', Bayesian, 6 jobs, 2 "
    "parallel).fit; best_training_job; analytics().dataframe(); best_estimator; deploy",
)
def test_bayesian_tuner_over_builtin_xgboost(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.serializers import CSVSerializer
    from sagemaker.tuner import (
        CategoricalParameter,
        ContinuousParameter,
        HyperparameterTuner,
        IntegerParameter,
    )
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    X, y = load_breast_cancer(return_X_y=True)
    Xtr, Xval, ytr, yval = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    (tmp_path / "train.csv").write_text(_csv(Xtr, ytr))
    (tmp_path / "validation.csv").write_text(_csv(Xval, yval))
    session = sagemaker.Session()
    train = session.upload_data(str(tmp_path / "train.csv"), key_prefix="hpo/train")
    validation = session.upload_data(str(tmp_path / "validation.csv"), key_prefix="hpo/validation")
    image = image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    estimator = Estimator(
        image,
        ROLE,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{session.default_bucket()}/hpo/output",
        sagemaker_session=session,
    )
    estimator.set_hyperparameters(objective="binary:logistic", num_round=8, seed=1)
    tuner = HyperparameterTuner(
        estimator,
        "validation:auc",
        {
            "eta": ContinuousParameter(0.05, 0.5),
            "max_depth": IntegerParameter(1, 6),
            "min_child_weight": ContinuousParameter(1, 20, scaling_type="Logarithmic"),
            "subsample": CategoricalParameter(["0.5", "1"]),
        },
        objective_type="Maximize",
        max_jobs=6,
        max_parallel_jobs=2,
        strategy="Bayesian",
        random_seed=11,
        base_tuning_job_name="hpo-bayes",
    )  # the SDK names tuning jobs to the minute: one base per test
    tuner.fit(
        {
            "train": TrainingInput(train, content_type="text/csv"),
            "validation": TrainingInput(validation, content_type="text/csv"),
        },
        wait=True,
    )
    sm = server.client("sagemaker")
    name = tuner.latest_tuning_job.name
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert desc["HyperParameterTuningJobStatus"] == "Completed", desc.get("FailureReason")
    assert desc["TrainingJobStatusCounters"]["Completed"] == 6
    assert desc["ObjectiveStatusCounters"]["Succeeded"] == 6

    # the best job really is the best child: compare every child's FinalMetricDataList
    kids = sm.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, MaxResults=100
    )["TrainingJobSummaries"]
    assert len(kids) == 6
    aucs = {}
    for kid in kids:
        job = sm.describe_training_job(TrainingJobName=kid["TrainingJobName"])
        assert job["TuningJobArn"] == desc["HyperParameterTuningJobArn"]
        assert job["HyperParameters"]["_tuning_objective_metric"] == "validation:auc"
        final = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
        aucs[kid["TrainingJobName"]] = final["validation:auc"]
        assert kid["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == pytest.approx(
            final["validation:auc"]
        )
        assert 0.05 <= float(kid["TunedHyperParameters"]["eta"]) <= 0.5
    best = tuner.best_training_job()
    assert aucs[best] == max(aucs.values())
    assert desc["BestTrainingJob"]["TrainingJobName"] == best

    frame = tuner.analytics().dataframe()
    assert len(frame) == 6
    assert set(frame["TrainingJobName"]) == set(aucs)
    assert frame["FinalObjectiveValue"].max() == pytest.approx(max(aucs.values()))

    best_estimator = tuner.best_estimator()
    assert best_estimator.latest_training_job.name == best
    predictor = tuner.deploy(1, "ml.m5.large", serializer=CSVSerializer())
    try:
        out = predictor.predict(Xval[:5]).decode()
        scores = [float(v) for v in out.replace("\n", ",").split(",") if v.strip()]
        assert len(scores) == 5 and all(0.0 <= s <= 1.0 for s in scores)
    finally:
        predictor.delete_endpoint()


@pytest.mark.sdk_flow("flow05", "HyperparameterTuner.stop_tuning_job(); attach(name) rebuilds the tuner")
def test_tuner_stop_and_attach(server, sdk_env, tmp_path):
    import sagemaker
    from sagemaker import image_uris
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput
    from sagemaker.tuner import ContinuousParameter, HyperparameterTuner

    session = sagemaker.Session()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    (tmp_path / "train.csv").write_text(_csv(X, X[:, 0] * 2 + 1))
    train = session.upload_data(str(tmp_path / "train.csv"), key_prefix="hpo-stop/train")
    image = image_uris.retrieve("xgboost", session.boto_region_name, "1.7-1")
    estimator = Estimator(
        image, ROLE, instance_count=1, instance_type="ml.m5.large", sagemaker_session=session
    )
    estimator.set_hyperparameters(objective="reg:squarederror", num_round=5)
    tuner = HyperparameterTuner(
        estimator,
        "validation:rmse",
        {"eta": ContinuousParameter(0.1, 0.5)},
        objective_type="Minimize",
        max_jobs=20,
        max_parallel_jobs=1,
        strategy="Random",
        early_stopping_type="Off",
        base_tuning_job_name="hpo-stop",
    )
    tuner.fit(
        {
            "train": TrainingInput(train, content_type="text/csv"),
            "validation": TrainingInput(train, content_type="text/csv"),
        },
        wait=False,
    )
    tuner.stop_tuning_job()
    name = tuner.latest_tuning_job.name
    sm = server.client("sagemaker")
    assert sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)[
        "HyperParameterTuningJobStatus"
    ] in ("Stopping", "Stopped")
    tuner.wait()
    attached = HyperparameterTuner.attach(name, sagemaker_session=session)
    assert attached.objective_metric_name == "validation:rmse"
    assert attached.strategy == "Random"
    assert attached.max_jobs == 20
    assert attached.early_stopping_type == "Off"
    ranges = attached.hyperparameter_ranges()
    assert [r["Name"] for r in ranges["ContinuousParameterRanges"]] == ["eta"]
    assert ranges["ContinuousParameterRanges"][0]["MinValue"] == "0.1"
    desc = sm.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert desc["HyperParameterTuningJobStatus"] == "Stopped"
    assert desc["TrainingJobStatusCounters"]["Completed"] + desc["TrainingJobStatusCounters"]["Stopped"] <= 1
