"""Bad hyperparameters make the training job end ``Failed`` with a ``FailureReason`` naming the culprit,
and the SDK's ``wait()`` raises it as ``UnexpectedStatusException``.

Two jobs go through the SDK's generic ``Estimator`` (XGBoost ``max_depth=-1``; K-Means, a 1P algorithm,
with an unknown name — the SDK's ``KMeans`` class only sends declared names); two more go through
boto3's ``CreateTrainingJob`` with the same request shape (an unknown XGBoost name; an out-of-range
K-Means value), which keeps the module fast: every SDK estimator costs seconds of SDK-side config
validation. All four start before any is waited for.
"""

from __future__ import annotations

import io
import uuid

import numpy as np
import pytest

from e2e_support import INSTANCE_TYPE, ROLE

pytestmark = pytest.mark.slow

CASES = {
    # name: (algorithm, launched by, bad hyperparameters, text the FailureReason must contain)
    "xgb-negative-depth": ("xgboost", "sdk", {"max_depth": "-1"}, "max_depth"),
    "kmeans-unknown-name": ("kmeans", "sdk", {"bogus_setting": "1"}, "bogus_setting"),
    "xgb-unknown-name": ("xgboost", "boto3", {"not_a_real_parameter": "3"}, "not_a_real_parameter"),
    "kmeans-bad-value": ("kmeans", "boto3", {"init_method": "telepathy"}, "init_method"),
}


@pytest.fixture(scope="module")
def failed(e2e) -> dict:
    from sagemaker import image_uris
    from sagemaker.amazon.amazon_estimator import RecordSet, upload_numpy_to_s3_shards
    from sagemaker.estimator import Estimator
    from sagemaker.inputs import TrainingInput

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    buf = io.StringIO()
    np.savetxt(buf, np.column_stack([y, X]), delimiter=",", fmt="%.6g")
    e2e.server.client("s3").put_object(
        Bucket=e2e.bucket, Key="bad-hps/train/data.csv", Body=buf.getvalue().encode()
    )
    # What KMeans.record_set() uploads: RecordIO-protobuf shards plus an .amazon.manifest.
    manifest = upload_numpy_to_s3_shards(
        1,
        e2e.session.boto_session.resource("s3"),
        e2e.bucket,
        "bad-hps/records",
        X,
        sagemaker_session=e2e.session,
    )
    channels = {
        "xgboost": {"train": TrainingInput(f"s3://{e2e.bucket}/bad-hps/train/", content_type="text/csv")},
        "kmeans": {
            "train": RecordSet(manifest, len(X), X.shape[1], s3_data_type="ManifestFile").records_s3_input()
        },
    }
    good = {
        "xgboost": {"num_round": "3", "objective": "binary:logistic"},
        "kmeans": {"k": "2", "feature_dim": "3", "force_dense": "True"},
    }
    images = {
        "xgboost": image_uris.retrieve("xgboost", e2e.region, "1.7-1"),
        "kmeans": image_uris.retrieve("kmeans", e2e.region),
    }
    output = f"s3://{e2e.bucket}/bad-hps/output"
    estimators, names = {}, {}
    for case, (algorithm, via, bad, _) in CASES.items():
        hyperparameters = {**good[algorithm], **bad}
        if via == "sdk":
            estimator = Estimator(
                image_uri=images[algorithm],
                role=ROLE,
                instance_count=1,
                instance_type=INSTANCE_TYPE,
                sagemaker_session=e2e.session,
                output_path=output,
                hyperparameters=hyperparameters,
            )
            estimator.fit(channels[algorithm], wait=False, logs=False)
            estimators[case] = estimator
            names[case] = estimator.latest_training_job.name
            continue
        names[case] = f"bad-hps-{case}-{uuid.uuid4().hex[:6]}"
        source = channels[algorithm]["train"].config
        e2e.sm.create_training_job(
            TrainingJobName=names[case],
            RoleArn=ROLE,
            HyperParameters=hyperparameters,
            AlgorithmSpecification={"TrainingImage": images[algorithm], "TrainingInputMode": "File"},
            InputDataConfig=[{"ChannelName": "train", **source}],
            OutputDataConfig={"S3OutputPath": output},
            ResourceConfig={"InstanceCount": 1, "InstanceType": INSTANCE_TYPE, "VolumeSizeInGB": 30},
            StoppingCondition={"MaxRuntimeInSeconds": 3600},
        )
    descriptions = e2e.wait_jobs(names.values())
    return {
        "descriptions": {case: descriptions[name] for case, name in names.items()},
        "estimators": estimators,
    }


@pytest.mark.parametrize("case", sorted(CASES))
def test_job_fails_with_a_reason_naming_the_hyperparameter(failed, case):
    desc = failed["descriptions"][case]
    assert desc["TrainingJobStatus"] == "Failed"
    reason = desc.get("FailureReason", "")
    assert reason.startswith("ClientError"), reason
    assert CASES[case][3] in reason, reason


@pytest.mark.sdk_flow(
    "flow01", "a failing job: wait() raises UnexpectedStatusException with the FailureReason"
)
def test_sdk_wait_raises_the_failure_reason(failed):
    from sagemaker.exceptions import UnexpectedStatusException

    estimator = failed["estimators"]["xgb-negative-depth"]
    with pytest.raises(UnexpectedStatusException, match="max_depth"):
        estimator.latest_training_job.wait(logs=False)  # one 5 s SDK poll: the job has already ended
