"""The unchanged SageMaker Python SDK v2 runs Clarify jobs (SageMakerClarifyProcessor) through sagestack:
bias metrics equal an independent pandas/numpy computation on this data set, SHAP values satisfy
efficiency and rank features like ``shap`` called directly, bad input fails the job naming it."""

from __future__ import annotations

import io
import json
import uuid

import numpy as np
import pandas as pd
import pytest

from clarify_support import FEATURES, HEADERS, create_model, dataset, read_json, read_text, scores
from helpers import ROLE

pytestmark = [pytest.mark.slow, pytest.mark.sdk_flow("clarify", "SageMakerClarifyProcessor run_* methods")]


@pytest.fixture(scope="module")
def assets(server, tmp_path_factory):
    """The data set uploaded (CSV without a header row) and a served model's name, made once."""
    s3 = server.client("s3")
    bucket = f"clarify-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    frame = dataset()
    body = io.StringIO()
    frame.to_csv(body, index=False, header=False)
    s3.put_object(Bucket=bucket, Key="data/train.csv", Body=body.getvalue().encode())
    model = create_model(server.client("sagemaker"), s3, bucket)
    return {"bucket": bucket, "frame": frame, "data": f"s3://{bucket}/data/train.csv", "model": model}


@pytest.fixture
def clarify(assets, sdk_env):
    import sagemaker

    return {**assets, "session": sagemaker.Session()}


def _processor(session):
    from sagemaker.clarify import SageMakerClarifyProcessor

    return SageMakerClarifyProcessor(
        role=ROLE, instance_count=1, instance_type="ml.m5.xlarge", sagemaker_session=session
    )


def _data_config(ctx, **extra):
    from sagemaker.clarify import DataConfig

    output = f"s3://{ctx['bucket']}/clarify-test/out-{uuid.uuid4().hex[:8]}"
    return DataConfig(
        s3_data_input_path=ctx["data"],
        s3_output_path=output,
        label="Label",
        headers=HEADERS,
        dataset_type="text/csv",
        **extra,
    )


def _metrics(section: dict, facet: str) -> dict:
    (entry,) = section["facets"][facet]
    return {m["name"]: m["value"] for m in entry["metrics"]}


# -- an independent computation of the metrics (plain pandas/numpy, written for this test) -------------


def expected_pre(frame: pd.DataFrame, d: pd.Series, y: pd.Series, group: pd.Series) -> dict:
    a = ~d
    qa, qd = y[a].mean(), y[d].mean()
    pa, pd_ = np.array([qa, 1 - qa]), np.array([qd, 1 - qd])
    mid = (pa + pd_) / 2
    cdd_terms, sizes = [], []
    for _, rows in frame.groupby(group):
        idx = rows.index
        pos, neg = y[idx], ~y[idx]
        share_pos = (d[idx] & pos).sum() / pos.sum() if pos.sum() else 0
        share_neg = (d[idx] & neg).sum() / neg.sum() if neg.sum() else 0
        cdd_terms.append(share_neg - share_pos)
        sizes.append(len(idx))
    return {
        "CI": (a.sum() - d.sum()) / len(frame),
        "DPL": qa - qd,
        "KL": float(np.sum(pa * np.log(pa / pd_))),
        "JS": float(0.5 * (np.sum(pa * np.log(pa / mid)) + np.sum(pd_ * np.log(pd_ / mid)))),
        "LP": float(np.sqrt(np.sum((pa - pd_) ** 2))),
        "TVD": float(0.5 * np.sum(np.abs(pa - pd_))),
        "KS": float(np.max(np.abs(pa - pd_))),
        "CDDL": float(np.average(cdd_terms, weights=sizes)),
    }


def expected_post(frame: pd.DataFrame, d: pd.Series, y: pd.Series, p: pd.Series, group: pd.Series) -> dict:
    from sklearn.metrics import confusion_matrix
    from sklearn.neighbors import KNeighborsClassifier

    a = ~d

    def cm(mask):
        tn, fp, fn, tp = confusion_matrix(y[mask], p[mask], labels=[False, True]).ravel()
        return tp, fp, fn, tn

    tp_a, fp_a, fn_a, tn_a = cm(a)
    tp_d, fp_d, fn_d, tn_d = cm(d)
    cdd_terms, sizes = [], []
    for _, rows in frame.groupby(group):
        idx = rows.index
        pos, neg = p[idx], ~p[idx]
        share_pos = (d[idx] & pos).sum() / pos.sum() if pos.sum() else 0
        share_neg = (d[idx] & neg).sum() / neg.sum() if neg.sum() else 0
        cdd_terms.append(share_neg - share_pos)
        sizes.append(len(idx))
    knn = KNeighborsClassifier(n_neighbors=5).fit(frame.loc[a, ["Age", "Income", "Dept"]], p[a])
    flipped = knn.predict(frame.loc[d, ["Age", "Income", "Dept"]])
    model_d = p[d].to_numpy()
    benefit = p.astype(int) - y.astype(int) + 1
    return {
        "DPPL": p[a].mean() - p[d].mean(),
        "DI": p[d].mean() / p[a].mean(),
        "DCA": y[a].sum() / p[a].sum() - y[d].sum() / p[d].sum(),
        "DCR": (~y[d]).sum() / (~p[d]).sum() - (~y[a]).sum() / (~p[a]).sum(),
        "RD": tp_a / (tp_a + fn_a) - tp_d / (tp_d + fn_d),
        "SD": tn_d / (tn_d + fp_d) - tn_a / (tn_a + fp_a),
        "DAR": tp_a / (tp_a + fp_a) - tp_d / (tp_d + fp_d),
        "DRR": tn_d / (tn_d + fn_d) - tn_a / (tn_a + fn_a),
        "AD": (tp_a + tn_a) / a.sum() - (tp_d + tn_d) / d.sum(),
        "TE": fn_d / fp_d - fn_a / fp_a,
        "CDDPL": float(np.average(cdd_terms, weights=sizes)),
        "FT": ((model_d & ~flipped).sum() - (~model_d & flipped).sum()) / d.sum(),
        "GE": float((((benefit / benefit.mean()) ** 2) - 1).sum() / (2 * len(frame))),
    }


# -- the tests ---------------------------------------------------------------------------------------


def test_pre_training_bias_equals_an_independent_computation(clarify):
    from sagemaker.clarify import BiasConfig

    data_config = _data_config(clarify)
    bias = BiasConfig(
        label_values_or_threshold=[1], facet_name="Gender", facet_values_or_threshold=[1], group_name="Dept"
    )
    processor = _processor(clarify["session"])
    processor.run_pre_training_bias(data_config, bias, methods="all", wait=True, logs=False)
    assert processor.latest_job.describe()["ProcessingJobStatus"] == "Completed"
    s3 = clarify["session"].boto_session.client("s3")
    analysis = read_json(s3, data_config.s3_output_path + "/analysis.json")
    section = analysis["pre_training_bias_metrics"]
    assert section["label"] == "Label"
    assert section["label_value_or_threshold"] == "1"
    assert section["facets"]["Gender"][0]["value_or_threshold"] == "1"
    names = [m["name"] for m in section["facets"]["Gender"][0]["metrics"]]
    assert names == sorted(["CDDL", "CI", "DPL", "JS", "KL", "KS", "LP", "TVD"])
    frame = clarify["frame"]
    expected = expected_pre(frame, frame.Gender == 1, frame.Label == 1, frame.Dept)
    assert _metrics(section, "Gender") == pytest.approx(expected, abs=1e-12)
    assert "post_training_bias_metrics" not in analysis
    assert "Class Imbalance (CI)" in read_text(s3, data_config.s3_output_path + "/report.html")
    notebook = read_json(s3, data_config.s3_output_path + "/report.ipynb")
    assert notebook["nbformat"] == 4


def test_continuous_facet_uses_the_threshold_interval(clarify):
    from sagemaker.clarify import BiasConfig

    data_config = _data_config(clarify)
    bias = BiasConfig(label_values_or_threshold=[1], facet_name="Age", facet_values_or_threshold=[40])
    processor = _processor(clarify["session"])
    processor.run_pre_training_bias(data_config, bias, methods=["CI", "DPL"], wait=True, logs=False)
    s3 = clarify["session"].boto_session.client("s3")
    section = read_json(s3, data_config.s3_output_path + "/analysis.json")["pre_training_bias_metrics"]
    frame = clarify["frame"]
    (entry,) = section["facets"]["Age"]
    assert entry["value_or_threshold"] == f"(40.0, {frame.Age.max()}]"
    d = frame.Age > 40
    assert _metrics(section, "Age") == pytest.approx(
        {"CI": (len(frame) - 2 * d.sum()) / len(frame), "DPL": frame.Label[~d].mean() - frame.Label[d].mean()}
    )


def test_post_training_bias_through_a_shadow_endpoint(clarify):
    from sagemaker.clarify import BiasConfig, ModelConfig, ModelPredictedLabelConfig

    data_config = _data_config(clarify)
    bias = BiasConfig(
        label_values_or_threshold=[1], facet_name="Gender", facet_values_or_threshold=[1], group_name="Dept"
    )
    model_config = ModelConfig(
        model_name=clarify["model"], instance_type="ml.m5.large", instance_count=1, accept_type="text/csv"
    )
    processor = _processor(clarify["session"])
    processor.run_post_training_bias(
        data_config,
        bias,
        model_config,
        ModelPredictedLabelConfig(probability_threshold=0.6),
        methods="all",
        wait=True,
        logs=False,
    )
    assert processor.latest_job.describe()["ProcessingJobStatus"] == "Completed"
    s3 = clarify["session"].boto_session.client("s3")
    section = read_json(s3, data_config.s3_output_path + "/analysis.json")["post_training_bias_metrics"]
    frame = clarify["frame"]
    predicted = pd.Series(scores(frame) > 0.6)
    expected = expected_post(frame, frame.Gender == 1, frame.Label == 1, predicted, frame.Dept)
    got = _metrics(section, "Gender")
    assert set(got) == set(expected)
    assert got == pytest.approx(expected, abs=1e-9)
    # the shadow endpoint was deleted afterwards
    sm = clarify["session"].sagemaker_client
    names = [e["EndpointName"] for e in sm.list_endpoints()["Endpoints"]]
    assert not [n for n in names if n.startswith("sm-clarify")]


def test_explainability_shap_efficiency_and_ranking(clarify):
    import shap
    from sagemaker.clarify import ModelConfig, SHAPConfig

    data_config = _data_config(clarify)
    frame = clarify["frame"].head(40).reset_index(drop=True)
    baseline = frame[FEATURES].mean().round(3).tolist()
    model_config = ModelConfig(
        model_name=clarify["model"], instance_type="ml.m5.large", instance_count=1, accept_type="text/csv"
    )
    shap_config = SHAPConfig(
        baseline=[baseline], num_samples=14, agg_method="mean_abs", save_local_shap_values=True
    )
    # a smaller data set for SHAP
    small = io.StringIO()
    frame.to_csv(small, index=False, header=False)
    s3 = clarify["session"].boto_session.client("s3")
    key = f"clarify-test/small-{uuid.uuid4().hex[:6]}.csv"
    s3.put_object(Bucket=clarify["bucket"], Key=key, Body=small.getvalue().encode())
    data_config = _data_config({**clarify, "data": f"s3://{clarify['bucket']}/{key}"})
    processor = _processor(clarify["session"])
    processor.run_explainability(data_config, model_config, shap_config, wait=True, logs=False)
    analysis = read_json(s3, data_config.s3_output_path + "/analysis.json")
    result = analysis["explanations"]["kernel_shap"]["label0"]
    local = pd.read_csv(io.StringIO(read_text(s3, data_config.s3_output_path + "/explanations_shap/out.csv")))
    assert list(local.columns) == FEATURES
    assert len(local) == len(frame)
    # efficiency: expected value + sum of a row's SHAP values == the model's score for the row
    assert local.sum(axis=1).to_numpy() + result["expected_value"] == pytest.approx(scores(frame), abs=1e-6)
    assert result["expected_value"] == pytest.approx(scores(pd.DataFrame([baseline], columns=FEATURES))[0])
    # the same ranking as shap called directly on the same model and baseline
    explainer = shap.KernelExplainer(
        lambda x: scores(pd.DataFrame(x, columns=FEATURES)), np.array([baseline], dtype=float)
    )
    direct = np.abs(
        explainer.shap_values(frame[FEATURES].to_numpy(dtype=float), nsamples=14, silent=True)
    ).mean(0)
    ours = np.array([result["global_shap_values"][f] for f in FEATURES])
    assert list(np.argsort(-ours)) == list(np.argsort(-direct))
    assert ours == pytest.approx(direct, rel=1e-6)


def test_bad_facet_name_fails_the_job_naming_it(clarify):
    from sagemaker.clarify import BiasConfig

    data_config = _data_config(clarify)
    bias = BiasConfig(label_values_or_threshold=[1], facet_name="Gendr", facet_values_or_threshold=[1])
    from sagemaker.exceptions import UnexpectedStatusException

    processor = _processor(clarify["session"])
    with pytest.raises(UnexpectedStatusException) as failure:
        processor.run_pre_training_bias(data_config, bias, wait=True, logs=False)
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError:")
    assert "'Gendr'" in desc["FailureReason"]
    assert "Gendr" in str(failure.value)
    s3 = clarify["session"].boto_session.client("s3")
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(
            Bucket=clarify["bucket"], Key=data_config.s3_output_path.split("/", 3)[3] + "/analysis.json"
        )


def test_run_bias_pre_and_post_training_in_one_job(clarify):
    from sagemaker.clarify import BiasConfig, ModelConfig, ModelPredictedLabelConfig

    data_config = _data_config(clarify)
    bias = BiasConfig(label_values_or_threshold=[1], facet_name="Gender", facet_values_or_threshold=[0])
    model_config = ModelConfig(
        model_name=clarify["model"],
        instance_type="ml.m5.large",
        instance_count=1,
        accept_type="text/csv",
        endpoint_name_prefix="mybias",
    )
    processor = _processor(clarify["session"])
    processor.run_bias(
        data_config,
        bias,
        model_config,
        ModelPredictedLabelConfig(probability_threshold=0.5),
        pre_training_methods=["CI", "DPL"],
        post_training_methods=["DPPL", "DI", "AD"],
        wait=True,
        logs=False,
    )
    s3 = clarify["session"].boto_session.client("s3")
    analysis = read_json(s3, data_config.s3_output_path + "/analysis.json")
    frame = clarify["frame"]
    d, y, p = frame.Gender == 0, frame.Label == 1, pd.Series(scores(frame) > 0.5)
    assert analysis["pre_training_bias_metrics"]["facets"]["Gender"][0]["value_or_threshold"] == "0"
    assert _metrics(analysis["pre_training_bias_metrics"], "Gender") == pytest.approx(
        {"CI": (len(frame) - 2 * d.sum()) / len(frame), "DPL": y[~d].mean() - y[d].mean()}
    )
    expected = expected_post(frame, d, y, p, frame.Dept)
    assert _metrics(analysis["post_training_bias_metrics"], "Gender") == pytest.approx(
        {k: expected[k] for k in ("AD", "DI", "DPPL")}
    )
    # the job's log names the shadow endpoint with the prefix, and it is gone
    sm = clarify["session"].sagemaker_client
    assert not [e for e in sm.list_endpoints()["Endpoints"] if e["EndpointName"].startswith("mybias")]


def test_jsonlines_shap_with_computed_baseline_and_pdp(clarify):
    from sagemaker.clarify import DataConfig, ModelConfig, PDPConfig, SHAPConfig

    frame = clarify["frame"].head(30).reset_index(drop=True)
    lines = "".join(
        json.dumps({"features": [float(v) for v in row[FEATURES]], "label": int(row.Label)}) + "\n"
        for _, row in frame.iterrows()
    )
    s3 = clarify["session"].boto_session.client("s3")
    key = f"clarify-test/jsonl-{uuid.uuid4().hex[:6]}/data.jsonl"
    s3.put_object(Bucket=clarify["bucket"], Key=key, Body=lines.encode())
    output = f"s3://{clarify['bucket']}/clarify-test/out-{uuid.uuid4().hex[:8]}"
    data_config = DataConfig(
        s3_data_input_path=f"s3://{clarify['bucket']}/{key}",
        s3_output_path=output,
        features="features",
        label="label",
        headers=[*FEATURES, "Label"],
        dataset_type="application/jsonlines",
    )
    model_config = ModelConfig(
        model_name=clarify["model"],
        instance_type="ml.m5.large",
        instance_count=1,
        content_type="application/jsonlines",
        accept_type="application/jsonlines",
        content_template='{"features":$features}',
    )
    shap_config = SHAPConfig(num_clusters=1, num_samples=14, agg_method="median", save_local_shap_values=True)
    pdp_config = PDPConfig(features=["Income"], grid_resolution=5)
    processor = _processor(clarify["session"])
    processor.run_explainability(
        data_config, model_config, [shap_config, pdp_config], model_scores="score", wait=True, logs=False
    )
    analysis = read_json(s3, output + "/analysis.json")
    result = analysis["explanations"]["kernel_shap"]["label0"]
    # one k-means cluster: the baseline is the data's mean
    mean = frame[FEATURES].mean().to_frame().T
    assert result["expected_value"] == pytest.approx(scores(mean)[0])
    local = pd.read_csv(io.StringIO(read_text(s3, output + "/explanations_shap/out.csv")))
    assert local.sum(axis=1).to_numpy() + result["expected_value"] == pytest.approx(scores(frame), abs=1e-6)
    assert [result["global_shap_values"][f] for f in FEATURES] == pytest.approx(local.median().tolist())
    (pdp,) = analysis["pdp"]
    assert pdp["feature_name"] == "Income" and pdp["data_type"] == "numerical"
    edges = np.linspace(frame.Income.min(), frame.Income.max(), 6)
    assert pdp["feature_values"] == pytest.approx(((edges[:-1] + edges[1:]) / 2).tolist())
    assert sum(pdp["data_distribution"]) == pytest.approx(1.0)
    expected = []
    for value in pdp["feature_values"]:
        varied = frame[FEATURES].copy()
        varied["Income"] = value
        expected.append(scores(varied).mean())
    assert pdp["model_predictions"] == [pytest.approx(expected)]
    assert pdp["label_headers"] == ["label0"]


def test_missing_predictor_and_bad_config_fail_as_client_errors(clarify):
    from sagemaker.clarify import SHAPConfig
    from sagemaker.exceptions import UnexpectedStatusException

    processor = _processor(clarify["session"])
    processor.skip_early_validation = True
    data_config = _data_config(clarify)
    with pytest.raises(UnexpectedStatusException):
        processor._run(
            data_config,
            {
                "dataset_type": "text/csv",
                "headers": HEADERS,
                "label": "Label",
                "methods": {"shap": SHAPConfig(baseline=[[0, 0, 0, 0]]).get_explainability_config()},
            },
            True,
            False,
            None,
            None,
            None,
        )
    desc = processor.latest_job.describe()
    assert desc["ProcessingJobStatus"] == "Failed"
    assert desc["FailureReason"].startswith("ClientError: predictor")


def test_facets_and_predicted_labels_in_separate_datasets(clarify):
    """facet_dataset_uri (joined on the join source) and predicted_label_dataset_uri (row by row): no
    model calls, the facet is not a feature."""
    from sagemaker.clarify import BiasConfig, DataConfig

    frame = clarify["frame"].copy()
    frame["Id"] = np.arange(len(frame))
    predicted = (scores(clarify["frame"]) > 0.5).astype(int)
    s3 = clarify["session"].boto_session.client("s3")
    base = f"clarify-test/split-{uuid.uuid4().hex[:6]}"

    def put(key: str, table: pd.DataFrame) -> str:
        body = io.StringIO()
        table.to_csv(body, index=False, header=False)
        s3.put_object(Bucket=clarify["bucket"], Key=f"{base}/{key}", Body=body.getvalue().encode())
        return f"s3://{clarify['bucket']}/{base}/{key}"

    main = put("main/data.csv", frame[["Label", "Age", "Income", "Dept", "Id"]])
    facets = put("facets/f.csv", frame[["Gender", "Id"]].iloc[::-1])  # other order: joined on Id
    preds = put("pred/p.csv", pd.DataFrame({"PredictedLabel": predicted}))
    data_config = DataConfig(
        s3_data_input_path=main,
        s3_output_path=f"s3://{clarify['bucket']}/{base}/out",
        label="Label",
        headers=["Label", "Age", "Income", "Dept", "Id"],
        dataset_type="text/csv",
        joinsource="Id",
        facet_dataset_uri=facets,
        facet_headers=["Gender", "Id"],
        predicted_label_dataset_uri=preds,
        predicted_label_headers=["PredictedLabel"],
        predicted_label="PredictedLabel",
    )
    bias = BiasConfig(label_values_or_threshold=[1], facet_name="Gender", facet_values_or_threshold=[1])
    processor = _processor(clarify["session"])
    processor.run_post_training_bias(data_config, bias, methods=["DPPL", "DI", "FT"], wait=True, logs=False)
    section = read_json(s3, data_config.s3_output_path + "/analysis.json")["post_training_bias_metrics"]
    d, p = frame.Gender == 1, pd.Series(predicted == 1)
    got = _metrics(section, "Gender")
    assert got["DPPL"] == pytest.approx(p[~d].mean() - p[d].mean())
    assert got["DI"] == pytest.approx(p[d].mean() / p[~d].mean())
    # FT sees the model's features (Age, Income, Dept): neither the facet nor the join source
    from sklearn.neighbors import KNeighborsClassifier

    knn = KNeighborsClassifier(n_neighbors=5).fit(frame.loc[~d, ["Age", "Income", "Dept"]], p[~d])
    flipped = knn.predict(frame.loc[d, ["Age", "Income", "Dept"]])
    model_d = p[d].to_numpy()
    assert got["FT"] == pytest.approx(((model_d & ~flipped).sum() - (~model_d & flipped).sum()) / d.sum())


def test_clarify_monitors_suggest_baselines(clarify):
    """ModelBiasMonitor / ModelExplainabilityMonitor.suggest_baseline are Clarify jobs; their
    suggested constraints are the analysis.json the job wrote."""
    from sagemaker.clarify import BiasConfig, ModelConfig, ModelPredictedLabelConfig, SHAPConfig
    from sagemaker.model_monitor import ModelBiasMonitor, ModelExplainabilityMonitor

    session = clarify["session"]
    model_config = ModelConfig(
        model_name=clarify["model"], instance_type="ml.m5.large", instance_count=1, accept_type="text/csv"
    )
    bias_monitor = ModelBiasMonitor(role=ROLE, sagemaker_session=session, max_runtime_in_seconds=1800)
    bias_monitor.suggest_baseline(
        data_config=_data_config(clarify),
        bias_config=BiasConfig(
            label_values_or_threshold=[1], facet_name="Gender", facet_values_or_threshold=[1]
        ),
        model_config=model_config,
        model_predicted_label_config=ModelPredictedLabelConfig(probability_threshold=0.5),
        wait=True,
        logs=False,
    )
    constraints = bias_monitor.latest_baselining_job.suggested_constraints().body_dict
    names = {m["name"] for m in constraints["post_training_bias_metrics"]["facets"]["Gender"][0]["metrics"]}
    assert {"DPPL", "DI", "GE"} <= names
    explainability_monitor = ModelExplainabilityMonitor(role=ROLE, sagemaker_session=session)
    frame = clarify["frame"]
    explainability_monitor.suggest_baseline(
        data_config=_data_config(clarify),
        model_config=model_config,
        explainability_config=SHAPConfig(baseline=[frame[FEATURES].mean().round(2).tolist()], num_samples=14),
        wait=True,
        logs=False,
    )
    constraints = explainability_monitor.latest_baselining_job.suggested_constraints().body_dict
    assert set(constraints["explanations"]["kernel_shap"]["label0"]["global_shap_values"]) == set(FEATURES)


def test_stopping_the_job_deletes_its_shadow_endpoint(clarify, server):
    """StopProcessingJob while the job asks its shadow endpoint: the job ends Stopped and the endpoint
    and its config are deleted."""
    import time

    from sagemaker.clarify import ModelConfig, SHAPConfig

    sm = server.client("sagemaker")
    slow = create_model(sm, server.client("s3"), clarify["bucket"], delay=0.5)
    prefix = f"stop{uuid.uuid4().hex[:6]}"
    model_config = ModelConfig(
        model_name=slow,
        instance_type="ml.m5.large",
        instance_count=1,
        accept_type="text/csv",
        endpoint_name_prefix=prefix,
    )
    processor = _processor(clarify["session"])
    processor.run_explainability(
        _data_config(clarify),
        model_config,
        SHAPConfig(baseline=[[40, 1, 0, 1]], num_samples=14),
        wait=False,
        logs=False,
    )
    job = processor.latest_job.job_name

    def shadow() -> list[str]:
        return [
            e["EndpointName"]
            for e in sm.list_endpoints()["Endpoints"]
            if e["EndpointName"].startswith(prefix)
        ]

    deadline = time.time() + 120
    while not (shadow() and sm.describe_endpoint(EndpointName=shadow()[0])["EndpointStatus"] == "InService"):
        assert time.time() < deadline, "the shadow endpoint never came up"
        time.sleep(0.2)
    time.sleep(1.0)  # the job is asking the model now
    sm.stop_processing_job(ProcessingJobName=job)
    deadline = time.time() + 60
    while sm.describe_processing_job(ProcessingJobName=job)["ProcessingJobStatus"] not in (
        "Stopped",
        "Failed",
        "Completed",
    ):
        assert time.time() < deadline
        time.sleep(0.2)
    assert sm.describe_processing_job(ProcessingJobName=job)["ProcessingJobStatus"] == "Stopped"
    deadline = time.time() + 30
    while shadow():
        assert time.time() < deadline, f"shadow endpoint left behind: {shadow()}"
        time.sleep(0.2)
    assert not [
        c for c in sm.list_endpoint_configs()["EndpointConfigs"] if c["EndpointConfigName"].startswith(prefix)
    ]


def test_bias_and_explainability_in_one_job(clarify):
    from sagemaker.clarify import BiasConfig, ModelConfig, SHAPConfig

    data_config = _data_config(clarify)
    model_config = ModelConfig(
        model_name=clarify["model"], instance_type="ml.m5.large", instance_count=1, accept_type="text/csv"
    )
    processor = _processor(clarify["session"])
    processor.run_bias_and_explainability(
        data_config,
        model_config,
        SHAPConfig(baseline=[[40, 1, 0, 1]], num_samples=14),
        BiasConfig(label_values_or_threshold=[1], facet_name="Gender", facet_values_or_threshold=[1]),
        pre_training_methods=["CI"],
        post_training_methods=["DPPL"],
        wait=True,
        logs=False,
    )
    s3 = clarify["session"].boto_session.client("s3")
    analysis = read_json(s3, data_config.s3_output_path + "/analysis.json")
    frame = clarify["frame"]
    d, p = frame.Gender == 1, pd.Series(scores(frame) > 0.5)
    assert _metrics(analysis["pre_training_bias_metrics"], "Gender") == pytest.approx(
        {"CI": (len(frame) - 2 * d.sum()) / len(frame)}
    )
    assert _metrics(analysis["post_training_bias_metrics"], "Gender") == pytest.approx(
        {"DPPL": p[~d].mean() - p[d].mean()}
    )
    result = analysis["explanations"]["kernel_shap"]["label0"]
    assert result["expected_value"] == pytest.approx(
        scores(pd.DataFrame([[40, 1, 0, 1]], columns=FEATURES))[0]
    )
    assert abs(result["global_shap_values"]["Income"]) > abs(result["global_shap_values"]["Dept"])
