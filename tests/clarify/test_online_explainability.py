"""Online explainability: an endpoint config with a ClarifyExplainerConfig makes InvokeEndpoint answer
Clarify's JSON — the model's predictions plus Kernel SHAP attributions per record, computed against the
variant's model — with EnableExplanations (config and request header) choosing the records."""

from __future__ import annotations

import io
import json
import time
import uuid

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from clarify_support import FEATURES, create_model, dataset, scores

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("clarify", "online explainability (boto3)")]


def _csv(frame: pd.DataFrame) -> str:
    out = io.StringIO()
    frame.to_csv(out, index=False, header=False)
    return out.getvalue()


@pytest.fixture(scope="module")
def explained(server):
    sm, s3, rt = server.client("sagemaker"), server.client("s3"), server.client("sagemaker-runtime")
    bucket = f"explainer-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    frame = dataset(50)
    baseline = frame[FEATURES].mean().round(3).to_frame().T
    model = create_model(sm, s3, bucket)
    name = f"explained-{uuid.uuid4().hex[:6]}"
    explainer = {
        "ClarifyExplainerConfig": {
            "EnableExplanations": "[0]>`0.5`",
            "InferenceConfig": {"FeatureHeaders": FEATURES},
            "ShapConfig": {
                "ShapBaselineConfig": {"MimeType": "text/csv", "ShapBaseline": _csv(baseline).strip()}
            },
        }
    }
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        ExplainerConfig=explainer,
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.time() + 120
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating" and time.time() < deadline:
        time.sleep(0.3)
    assert sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService"
    yield {
        "sm": sm,
        "rt": rt,
        "name": name,
        "frame": frame,
        "baseline": baseline,
        "config": explainer,
        "model": model,
    }
    sm.delete_endpoint(EndpointName=name)


def test_describe_echoes_the_explainer_config(explained):
    desc = explained["sm"].describe_endpoint_config(EndpointConfigName=explained["name"])
    assert desc["ExplainerConfig"] == explained["config"]


def test_explanations_satisfy_efficiency(explained):
    frame = explained["frame"].head(6)
    expected_scores = scores(frame)
    response = explained["rt"].invoke_endpoint(
        EndpointName=explained["name"],
        Body=_csv(frame[FEATURES]),
        ContentType="text/csv",
        Accept="text/csv",
        EnableExplanations="`true`",
    )
    assert response["ContentType"] == "application/json"
    body = json.loads(response["Body"].read())
    assert body["version"] == "1.0"
    assert body["predictions"]["content_type"].startswith("text/csv")
    predicted = [float(x) for x in body["predictions"]["data"].split()]
    assert predicted == pytest.approx(expected_scores)
    records = body["explanations"]["kernel_shap"]
    assert len(records) == len(frame)
    base = scores(explained["baseline"])[0]
    for record, score in zip(records, expected_scores, strict=True):
        assert [f["feature_header"] for f in record] == FEATURES
        total = sum(f["attributions"][0]["attribution"][0] for f in record)
        assert total + base == pytest.approx(score, abs=1e-6)
    # the same attributions as shap called directly on the same model and baseline
    import shap

    explainer = shap.KernelExplainer(
        lambda x: scores(pd.DataFrame(x, columns=FEATURES)), explained["baseline"].to_numpy(dtype=float)
    )
    direct = explainer.shap_values(frame[FEATURES].to_numpy(dtype=float), nsamples=14, silent=True)
    ours = np.array([[f["attributions"][0]["attribution"][0] for f in r] for r in records])
    assert ours == pytest.approx(np.asarray(direct), abs=1e-9)


def test_enable_explanations_chooses_records(explained):
    frame = explained["frame"].head(10)
    expected_scores = scores(frame)
    body = json.loads(
        explained["rt"]
        .invoke_endpoint(
            EndpointName=explained["name"],
            Body=_csv(frame[FEATURES]),
            ContentType="text/csv",
            Accept="text/csv",
        )["Body"]
        .read()
    )
    records = body["explanations"]["kernel_shap"]
    assert [r is not None for r in records] == list(expected_scores > 0.5)
    off = json.loads(
        explained["rt"]
        .invoke_endpoint(
            EndpointName=explained["name"],
            Body=_csv(frame[FEATURES]),
            ContentType="text/csv",
            Accept="text/csv",
            EnableExplanations="`false`",
        )["Body"]
        .read()
    )
    assert off["explanations"] == {}
    assert [float(x) for x in off["predictions"]["data"].split()] == pytest.approx(expected_scores)


def test_bad_enable_explanations(explained):
    sm, rt = explained["sm"], explained["rt"]
    with pytest.raises(ClientError) as error:
        rt.invoke_endpoint(
            EndpointName=explained["name"],
            Body=_csv(explained["frame"].head(1)[FEATURES]),
            ContentType="text/csv",
            Accept="text/csv",
            EnableExplanations="[0]",  # not a boolean
        )
    assert "boolean" in str(error.value)
    name = f"bad-explainer-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ClientError) as error:
        sm.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[
                {
                    "VariantName": "AllTraffic",
                    "ModelName": explained["model"],
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ],
            ExplainerConfig={
                "ClarifyExplainerConfig": {
                    "EnableExplanations": "[0]>>",
                    "ShapConfig": {"ShapBaselineConfig": {"ShapBaseline": "1,2,3,4"}},
                }
            },
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "EnableExplanations" in error.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sm.describe_endpoint_config(EndpointConfigName=name)  # nothing stored


def test_sdk_deploy_with_explainer_config_xgboost(server, sdk_env, tmp_path):
    """As the SDK's own integration test: Model.deploy(explainer_config=...) of an XGBoost model."""
    import tarfile

    import sagemaker
    import xgboost as xgb
    from sagemaker import image_uris
    from sagemaker.explainer import (
        ClarifyExplainerConfig,
        ClarifyShapBaselineConfig,
        ClarifyShapConfig,
        ExplainerConfig,
    )
    from sagemaker.model import Model

    from helpers import ROLE

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 7))
    y = (x[:, 0] + 2 * x[:, 3] > 0).astype(float)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 3}, xgb.DMatrix(x, label=y), 20)
    booster.save_model(str(tmp_path / "xgboost-model.json"))
    (tmp_path / "xgboost-model.json").rename(tmp_path / "xgboost-model")
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "xgboost-model", arcname="xgboost-model")
    session = sagemaker.Session()
    data = session.upload_data(str(tmp_path / "model.tar.gz"), key_prefix="explainer/xgb")
    config = ExplainerConfig(
        clarify_explainer_config=ClarifyExplainerConfig(
            shap_config=ClarifyShapConfig(
                shap_baseline_config=ClarifyShapBaselineConfig(shap_baseline="1,2,3,4,5,6,7")
            ),
            enable_explanations="`true`",
        )
    )
    name = f"xgb-explained-{uuid.uuid4().hex[:6]}"
    image = image_uris.retrieve("xgboost", session.boto_region_name, version="1.7-1")
    model = Model(model_data=data, image_uri=image, name=name, role=ROLE, sagemaker_session=session)
    model.deploy(1, "ml.m5.large", endpoint_name=name, explainer_config=config)
    try:
        sm = session.sagemaker_client
        desc = sm.describe_endpoint_config(
            EndpointConfigName=sm.describe_endpoint(EndpointName=name)["EndpointConfigName"]
        )
        assert desc["ExplainerConfig"] == config._to_request_dict()
        runtime = session.sagemaker_runtime_client
        response = runtime.invoke_endpoint(
            EndpointName=name, Body="42,42,42,42,42,42,42", ContentType="text/csv", Accept="text/csv"
        )
        assert response["ContentType"] == "application/json"
        body = json.loads(response["Body"].read())
        score = float(body["predictions"]["data"].split()[0])
        assert score == pytest.approx(float(booster.predict(xgb.DMatrix(np.full((1, 7), 42.0)))[0]), rel=1e-5)
        (record,) = body["explanations"]["kernel_shap"]
        base = float(booster.predict(xgb.DMatrix(np.arange(1, 8, dtype=float).reshape(1, 7)))[0])
        total = sum(f["attributions"][0]["attribution"][0] for f in record)
        assert total + base == pytest.approx(score, abs=1e-5)
        off = runtime.invoke_endpoint(
            EndpointName=name,
            EnableExplanations="`false`",
            Body="42,42,42,42,42,42,42",
            ContentType="text/csv",
            Accept="text/csv",
        )
        off_body = json.loads(off["Body"].read())
        assert off_body["explanations"] == {} and off_body["predictions"]
    finally:
        session.delete_endpoint(name)


def test_jsonlines_requests_and_answers(explained):
    """JSON Lines in and out: FeaturesAttribute locates the features, ContentTemplate rebuilds records
    for the synthetic samples, ProbabilityAttribute reads the score, LabelHeaders name the output."""
    sm, rt = explained["sm"], explained["rt"]
    name = f"explained-jsonl-{uuid.uuid4().hex[:6]}"
    baseline = explained["baseline"]
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": explained["model"],
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
        ExplainerConfig={
            "ClarifyExplainerConfig": {
                "EnableExplanations": "predicted_label==`1`",
                "InferenceConfig": {
                    "FeaturesAttribute": "features",
                    "ContentTemplate": '{"features":$features}',
                    "ProbabilityAttribute": "score",
                    "LabelHeaders": ["approved"],
                },
                "ShapConfig": {
                    "ShapBaselineConfig": {
                        "MimeType": "application/jsonlines",
                        "ShapBaseline": json.dumps({"features": baseline.iloc[0].tolist()}),
                    },
                    "NumberOfSamples": 14,
                },
            }
        },
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.time() + 120
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating" and time.time() < deadline:
        time.sleep(0.3)
    try:
        frame = explained["frame"].head(8)
        body = "".join(json.dumps({"features": row}) + "\n" for row in frame[FEATURES].to_numpy().tolist())
        response = rt.invoke_endpoint(
            EndpointName=name, Body=body, ContentType="application/jsonlines", Accept="application/jsonlines"
        )
        answer = json.loads(response["Body"].read())
        assert answer["label_headers"] == ["approved"]
        assert answer["predictions"]["content_type"].startswith("application/jsonlines")
        expected = scores(frame)
        records = answer["explanations"]["kernel_shap"]
        assert [r is not None for r in records] == list(expected > 0.5)
        base = scores(baseline)[0]
        for record, score in zip(records, expected, strict=True):
            if record is not None:
                assert "feature_header" not in record[0]
                assert sum(f["attributions"][0]["attribution"][0] for f in record) + base == pytest.approx(
                    score
                )
    finally:
        sm.delete_endpoint(EndpointName=name)


def test_baseline_from_s3_and_unsupported_text_features(explained, server):
    sm, rt, s3 = explained["sm"], explained["rt"], server.client("s3")
    bucket = f"baseline-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="baseline.csv", Body=_csv(explained["baseline"]).encode())
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": explained["model"],
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    name = f"explained-s3-{uuid.uuid4().hex[:6]}"
    sm.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[variant],
        ExplainerConfig={
            "ClarifyExplainerConfig": {
                "ShapConfig": {"ShapBaselineConfig": {"ShapBaselineUri": f"s3://{bucket}/baseline.csv"}}
            }
        },
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=name)
    deadline = time.time() + 120
    while sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "Creating" and time.time() < deadline:
        time.sleep(0.3)
    try:
        frame = explained["frame"].head(2)
        answer = json.loads(
            rt.invoke_endpoint(
                EndpointName=name, Body=_csv(frame[FEATURES]), ContentType="text/csv", Accept="text/csv"
            )["Body"].read()
        )
        base = scores(explained["baseline"])[0]
        for record, score in zip(answer["explanations"]["kernel_shap"], scores(frame), strict=True):
            assert sum(f["attributions"][0]["attribution"][0] for f in record) + base == pytest.approx(score)
    finally:
        sm.delete_endpoint(EndpointName=name)
    with pytest.raises(ClientError) as error:
        sm.create_endpoint_config(
            EndpointConfigName=f"text-{uuid.uuid4().hex[:6]}",
            ProductionVariants=[variant],
            ExplainerConfig={
                "ClarifyExplainerConfig": {
                    "InferenceConfig": {"FeatureTypes": ["text", "numerical", "numerical", "numerical"]},
                    "ShapConfig": {
                        "ShapBaselineConfig": {"ShapBaseline": "good,1,2,3"},
                        "TextConfig": {"Language": "en", "Granularity": "token"},
                    },
                }
            },
        )
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "text features" in error.value.response["Error"]["Message"]
