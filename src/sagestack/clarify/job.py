"""A Clarify processing job (the ``sagemaker-clarify-processing`` image): read
``analysis_config.json`` and the dataset, compute what ``methods`` asks (bias metrics, SHAP, partial
dependence) — asking the model through a shadow endpoint when needed — and write ``analysis.json``,
the report and ``explanations_shap/`` into the output folder.

A monitoring execution (ModelBias / ModelExplainability schedules) may also set ``baseline_constraints``
(the baseline job's analysis.json): drift against it goes to ``constraint_violations.json``
(:mod:`.monitor`); captured endpoint data is read as :mod:`.capture` describes.

Where things are read from, in order: the environment variables a monitoring schedule sets
(``analysis_config`` — a file or folder, ``dataset_source``, ``output_path``), the job's inputs named
``analysis_config`` / ``dataset`` and its single output, then the SDK's default paths
(``/opt/ml/processing/input/config``, ``/opt/ml/processing/input/data``, ``/opt/ml/processing/output``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from . import bias, capture, dataset, explain, monitor, pdp, predictor, report
from .errors import ClarifyError

OPT_ML = "/opt/ml"
CONFIG_DIR = "/opt/ml/processing/input/config"
DATA_DIR = "/opt/ml/processing/input/data"
OUTPUT_DIR = "/opt/ml/processing/output"
CONFIG_FILE = "analysis_config.json"
METHODS = ("pre_training_bias", "post_training_bias", "shap", "pdp", "report")


class Paths:
    """Where this job's config, data and output are, on disk (``/opt/ml/...`` mapped to ``root``)."""

    def __init__(self, root: Path, environ: dict):
        self.root = root
        job = {}
        job_file = root / "config" / "processingjobconfig.json"
        if job_file.is_file():
            job = json.loads(job_file.read_text())
        inputs = {i.get("InputName"): i for i in job.get("ProcessingInputs") or []}
        outputs = (job.get("ProcessingOutputConfig") or {}).get("Outputs") or []

        def local(name: str, default: str) -> str:
            item = inputs.get(name) or {}
            return (item.get("S3Input") or {}).get("LocalPath") or default

        self.config = self.on_disk(environ.get("analysis_config") or local("analysis_config", CONFIG_DIR))
        if self.config.is_dir():
            found = sorted(self.config.glob("*.json"))
            named = self.config / CONFIG_FILE
            # (a schedule stages its ConfigUri object, whatever its name, in the config folder)
            self.config = named if named.is_file() or len(found) != 1 else found[0]
        self.data = self.on_disk(environ.get("dataset_source") or local("dataset", DATA_DIR))
        output = (
            outputs[0]["S3Output"]["LocalPath"] if len(outputs) == 1 and outputs[0].get("S3Output") else None
        )
        self.output = self.on_disk(environ.get("output_path") or output or OUTPUT_DIR)

    def on_disk(self, path: str) -> Path:
        if path == OPT_ML or path.startswith(OPT_ML + "/"):
            return self.root.joinpath(*[p for p in path[len(OPT_ML) :].split("/") if p])
        return Path(path)


def _s3_client():
    import boto3

    return boto3.client("s3")


def download(uri: str, target: Path) -> list[Path]:
    """An S3 object, or every object under a prefix, copied under ``target``."""
    if not uri.startswith("s3://"):
        raise ClarifyError(f"{uri!r} is not an S3 URI")
    bucket, _, key = uri[5:].partition("/")
    s3 = _s3_client()
    files = []
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=key):
        for item in page.get("Contents") or []:
            name = item["Key"]
            if name.endswith("/") or (
                name != key and not (key == "" or key.endswith("/") or name.startswith(key + "/"))
            ):
                continue
            dest = target / (name[len(key) :].lstrip("/") or Path(name).name)
            dest.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(bucket, name, str(dest))
            files.append(dest)
    if not files:
        raise ClarifyError(f"No data found at {uri}")
    return sorted(files)


def load_config(path: Path, environ: dict | None = None) -> dict:
    if not path.is_file():
        raise ClarifyError(f"The analysis config {CONFIG_FILE} was not found (expected at {path})")
    try:
        config = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ClarifyError(f"{CONFIG_FILE} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ClarifyError(f"{CONFIG_FILE} must hold a JSON object")
    if not config.get("dataset_type") and capture.is_capture(config, environ or {}):
        config["dataset_type"] = capture.CAPTURE_TYPE
    if monitor.is_monitoring(environ or {}):
        config = monitor.complete_config(config, environ or {})
    if not config.get("dataset_type"):
        raise ClarifyError("dataset_type is required in the analysis config")
    methods = config.get("methods")
    if not isinstance(methods, dict) or not methods:
        raise ClarifyError(
            "methods is required in the analysis config (pre_training_bias, post_training_bias, shap, pdp)"
        )
    for method, what in (("asymmetric_shapley_value", "time-series explainability"),):
        if method in methods:
            raise ClarifyError(f"methods.{method} ({what}) is not supported by sagestack's Clarify")
    shap_options = methods.get("shap") or {}
    for key, what in (
        ("text_config", "NLP explainability"),
        ("image_config", "computer-vision explainability"),
    ):
        if key in shap_options:
            raise ClarifyError(f"methods.shap.{key} ({what}) is not supported by sagestack's Clarify")
    if config.get("time_series_data_config"):
        raise ClarifyError(
            "time_series_data_config (time-series explainability) is not supported by sagestack's Clarify"
        )
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise ClarifyError(f"Unknown analysis method(s) {unknown}; supported: {', '.join(METHODS)}")
    shap_config = methods.get("shap") or {}
    if (shap_config.get("agg_method") or "mean_abs") not in explain.AGG_METHODS:
        raise ClarifyError(
            f"agg_method {shap_config['agg_method']!r} is not one of {', '.join(explain.AGG_METHODS)}"
        )
    if "pdp" in methods and "shap" not in methods and not (methods["pdp"] or {}).get("features"):
        raise ClarifyError("pdp needs 'features' when no shap analysis ranks the features")
    if config.get("version") not in (None, "1.0"):
        raise ClarifyError(f"analysis config version {config['version']!r} is not supported; use 1.0")
    return config


def _read_baseline(config: dict, work: Path) -> Callable[[str], pd.DataFrame]:
    def read(uri: str) -> pd.DataFrame:
        files = download(uri, work / "baseline")
        kind = config["dataset_type"]
        if kind == dataset.CSV:
            frame = dataset.read_csv(files, None)
            return frame
        if kind == dataset.JSON_LINES:
            rows = [
                dataset.search(config["features"], json.loads(line), "features")
                for path in files
                for line in path.read_text().splitlines()
                if line.strip()
            ]
            return pd.DataFrame(rows)
        return pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)

    return read


def analyze(
    config: dict,
    data: dataset.Dataset,
    output: Path,
    connect: Callable[[dict], predictor.ShadowEndpoint],
    work: Path,
    environ: dict | None = None,
) -> dict:
    """Run every requested method; writes the result files into ``output``; returns analysis.json."""
    methods = config["methods"]
    environ = environ or {}
    analysis: dict = {"version": "1.0"}
    post = "post_training_bias" in methods
    needs_model = "shap" in methods or "pdp" in methods or (post and data.predicted_label is None)
    inputs = None
    if "pre_training_bias" in methods or post:
        inputs = bias.BiasInputs(config, data)
    if "pre_training_bias" in methods:
        print("Computing pre-training bias metrics", flush=True)
        analysis["pre_training_bias_metrics"] = inputs.pre_training(
            (methods["pre_training_bias"] or {}).get("methods")
        )
    endpoint = None
    if needs_model:
        settings = config.get("predictor")
        if not settings:
            raise ClarifyError(
                "predictor (model_name or endpoint_name) is required in the analysis config: "
                + (
                    "shap"
                    if "shap" in methods
                    else "pdp"
                    if "pdp" in methods
                    else "post_training_bias without predicted_label"
                )
                + " needs the model's predictions"
            )
        if environ.get("sagestack_network_isolation"):
            raise ClarifyError(
                "The job needs the model's predictions but runs with EnableNetworkIsolation: Clarify "
                "jobs that call a model must not isolate the network"
            )
        endpoint = connect(settings)
    try:
        model = None
        fmt = None
        if endpoint is not None:
            fmt = predictor.ModelFormat(config["predictor"], config["dataset_type"])
            endpoint.open()
            model = predictor.Model(endpoint.invoke, fmt)
        threshold = float(config.get("probability_threshold", 0.5))
        label_headers = (config.get("predictor") or {}).get("label_headers")
        if post:
            if data.predicted_label is not None:
                predicted = data.frame[data.predicted_label]
            else:
                print(f"Getting predictions for {len(data.frame)} records from the model", flush=True)
                answers = model.predict(data.feature_frame())
                predicted = predictor.predicted_labels(
                    answers, threshold, label_headers, "probability_threshold" in config
                )
            print("Computing post-training bias metrics", flush=True)
            analysis["post_training_bias_metrics"] = inputs.post_training(
                (methods["post_training_bias"] or {}).get("methods"), predicted
            )
        ranking = None
        columns = data.features

        def scores(rows) -> np.ndarray:
            if not (isinstance(rows, np.ndarray) and rows.dtype.kind in "fiu"):
                rows = pd.DataFrame(np.asarray(rows, dtype=object), columns=columns).infer_objects()
            result = model.predict(rows)
            if result.scores is not None:
                return result.scores
            try:
                return np.asarray(result.labels, dtype=float).reshape(-1, 1)
            except (TypeError, ValueError):
                raise ClarifyError(
                    "Explanations need numeric model output: set predictor probability to the score"
                ) from None

        if "shap" in methods:
            shap_config = methods["shap"] or {}
            features = data.feature_frame()
            baseline = explain.baseline_frame(shap_config, features, _read_baseline(config, work))
            print(f"Computing Kernel SHAP values for {len(features)} records", flush=True)
            explanation = explain.kernel_shap(scores, features, baseline, shap_config, label_headers)
            keep = shap_config.get("features_to_explain")
            if keep:
                names = [columns[k] if isinstance(k, int) else str(k) for k in keep]
                missing = [n for n in names if n not in columns]
                if missing:
                    raise ClarifyError(f"features_to_explain {missing} are not features of the model")
                idx = [columns.index(n) for n in names]
                explanation.local = explanation.local[:, idx, :]
                explanation.features = names
            agg = shap_config.get("agg_method") or "mean_abs"
            analysis["explanations"] = {"kernel_shap": explanation.section(agg)}
            folder = output / "explanations_shap"
            folder.mkdir(parents=True, exist_ok=True)
            baseline.to_csv(folder / "baseline.csv", index=False)
            if shap_config.get("save_local_shap_values", False):
                local = explanation.local_frame()
                join = config.get("joinsource_name_or_index")
                if join is not None:
                    name = data.frame.columns[join] if isinstance(join, int) else join
                    local.insert(0, str(name), data.frame[name].to_numpy())
                local.to_csv(folder / "out.csv", index=False)
            values = explanation.global_values(agg)[:, 0]
            ranking = [explanation.features[i] for i in np.argsort(-np.abs(values), kind="stable")]
        if "pdp" in methods:
            pdp_config = methods["pdp"] or {}
            names = pdp.features_to_plot(pdp_config, columns, ranking)
            print(f"Computing partial dependence for {', '.join(names)}", flush=True)
            outputs = scores(data.feature_frame().head(1).to_numpy()).shape[1]
            analysis["pdp"] = pdp.partial_dependence(
                lambda frame: scores(frame[columns].to_numpy()),
                data.feature_frame(),
                names,
                pdp_config.get("grid_resolution"),
                explain.label_names(outputs, label_headers),
            )
    finally:
        if endpoint is not None:
            endpoint.close()
    output.mkdir(parents=True, exist_ok=True)
    (output / "analysis.json").write_text(json.dumps(analysis, indent=2))
    if "report" in methods:
        report.write(output, methods["report"] or {}, analysis)
    return analysis


def run(root: Path, environ: dict | None = None) -> dict:
    """The job's work, given its ``/opt/ml`` root; raises :class:`ClarifyError` on the user's mistakes."""
    environ = dict(os.environ if environ is None else environ)
    paths = Paths(root, environ)
    config = load_config(paths.config, environ)
    print(f"Clarify analysis config: {json.dumps(config)}", flush=True)
    with tempfile.TemporaryDirectory(dir=root) as scratch:
        work = Path(scratch)
        if config.get("dataset_uri"):
            files = download(config["dataset_uri"], work / "dataset")
        else:
            files = dataset.data_files(paths.data) if paths.data.exists() else []
        join = config.get("joinsource_name_or_index")
        if join is not None and join not in (config.get("excluded_columns") or []):  # never a feature
            config = {**config, "excluded_columns": [*(config.get("excluded_columns") or []), join]}
        split_predictions = bool(config.get("predicted_label_dataset_uri"))
        if capture.is_capture(config, environ):
            data = capture.load(config, environ, files)
        else:
            data = dataset.load(
                {k: v for k, v in config.items() if not (split_predictions and k == "predicted_label")}, files
            )
        join = config.get("joinsource_name_or_index")
        join_name = data.frame.columns[join] if isinstance(join, int) else join
        if config.get("facet_dataset_uri"):
            extra = dataset.read_csv(
                download(config["facet_dataset_uri"], work / "facets"), config.get("facet_headers")
            )
            dataset.attach(data, extra, join_name, "facet")
        if split_predictions:
            extra = dataset.read_csv(
                download(config["predicted_label_dataset_uri"], work / "predictions"),
                config.get("predicted_label_headers"),
            )
            name = str(config.get("predicted_label") or "predicted_label")
            if name not in extra.columns:
                raise ClarifyError(
                    f"Predicted label {name!r} is not a column of the predicted label dataset: {list(extra.columns)}"
                )
            dataset.attach(
                data,
                extra[[c for c in extra.columns if c in (name, join_name)]],
                join_name,
                "predicted label",
            )
            data.predicted_label = name
        print(f"Read {len(data.frame)} records; features: {', '.join(data.features)}", flush=True)

        def connect(settings: dict) -> predictor.ShadowEndpoint:
            import boto3

            return predictor.ShadowEndpoint(
                settings,
                boto3.client("sagemaker"),
                boto3.client("sagemaker-runtime"),
                environ.get("job_name", ""),
            )

        analysis = analyze(config, data, paths.output, connect, work, environ)
    baseline = environ.get("baseline_constraints")
    violations: list[dict] = []
    if baseline:
        violations = monitor.check(analysis, paths.on_disk(baseline), paths.output)
        print(f"{len(violations)} violation(s) of the baseline constraints", flush=True)
    if monitor.is_monitoring(environ):
        message = paths.on_disk(f"{OPT_ML}/output/message")
        message.parent.mkdir(parents=True, exist_ok=True)
        message.write_text(monitor.message(len(violations)))
        if environ.get("publish_cloudwatch_metrics") == "Enabled":
            items = monitor.cloudwatch_metrics(analysis, environ)
            folder = paths.on_disk(f"{OPT_ML}/output/metrics/cloudwatch")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "cloudwatch_metrics.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items))
    return analysis


#: The built-in container contract (domain.images BUILTIN_PROCESSING_MODULES): the first instance does
#: the whole analysis; ClarifyError is the user's mistake.
CLIENT_ERRORS = (ClarifyError,)
FIRST_HOST_ONLY = True


def run_container(root: Path, environ: dict) -> None:
    run(root, environ)
    print("Clarify analysis complete", flush=True)
