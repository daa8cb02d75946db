"""The Model Monitor analyzer container (a built-in container: ``run_container(root, environ)``, run by
the processing runner as every built-in image is; ``python -m sagestack.monitoring.analyzer <opt_ml root>``
runs it by hand).

It reads the environment SageMaker gives the analyzer (``dataset_format``, ``dataset_source``,
``output_path``, ``baseline_constraints``, ``baseline_statistics``, ``start_time``/``end_time``,
``publish_cloudwatch_metrics``, ``sagemaker_endpoint_name``, ``sagemaker_monitoring_schedule_name``,
``record_preprocessor_script``, ``post_analytics_processor_script``, ``categorical_drift_method``,
``analysis_type=MODEL_QUALITY`` with ``problem_type``, ``inference_attribute``, ``probability_attribute``,
``probability_threshold_attribute``, ``ground_truth_attribute``) and writes to ``output_path``:

* baselining (no baseline constraints given): ``statistics.json`` and ``constraints.json``;
* monitoring: ``statistics.json``, ``constraints.json`` (suggested from the current data) and
  ``constraint_violations.json``, with ``/opt/ml/output/message`` saying ``CompletedWithViolations: …``
  when there are violations, else ``Completed: …``;
* CloudWatch metrics (when publishing is enabled) as JSON Lines under
  ``/opt/ml/output/metrics/cloudwatch/``, for the platform to publish.

The argument is where ``/opt/ml`` really is (the paths in the environment are container paths).
A client error (bad data, a bad script) ends the job with ``ClientError: …`` in ``/opt/ml/output/failure``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from . import baseline, capture, checks, model_quality, profile, scripts

OPT_ML = "/opt/ml"
#: ``analysis_type`` of the ground-truth merge job a model-quality or model-bias execution runs first.
MERGE = "GROUND_TRUTH_MERGE"


class AnalyzerError(Exception):
    """The job's input or configuration is wrong (reported as a ClientError)."""


class Context:
    def __init__(self, root: str, env: dict[str, str]):
        self.root = root.rstrip("/") or OPT_ML
        self.env = env

    def path(self, value: str) -> Path:
        if self.root != OPT_ML and (value == OPT_ML or value.startswith(OPT_ML + "/")):
            return Path(self.root + value[len(OPT_ML) :])
        return Path(value)

    def get(self, key: str) -> str | None:
        value = self.env.get(key)
        return value if value not in (None, "") else None

    def json_file(self, key: str) -> dict | None:
        value = self.get(key)
        if value is None:
            return None
        path = self.path(value)
        if path.is_dir():
            found = sorted(path.glob("*.json"))
            if not found:
                raise AnalyzerError(f"{key}: no JSON file in {value}")
            path = found[0]
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise AnalyzerError(f"{key}: {value} does not exist") from None
        except json.JSONDecodeError as exc:
            raise AnalyzerError(f"{key}: {value} is not valid JSON: {exc}") from None

    def time(self, key: str) -> dt.datetime | None:
        value = self.get(key)
        if value is None:
            return None
        try:
            return capture.parse_time(value.replace(" ", ""))
        except ValueError:
            raise AnalyzerError(f"{key} {value!r} is not an ISO-8601 time") from None


def dataset_format(ctx: Context) -> dict:
    text = ctx.get("dataset_format")
    if text is None:
        return {"sagemakerCaptureJson": {}}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        raise AnalyzerError(f"dataset_format is not JSON: {text!r}") from None
    if not isinstance(value, dict) or not value:
        raise AnalyzerError(
            f"dataset_format must name a format (csv, json, parquet, sagemakerCaptureJson): {text!r}"
        )
    return value


def _data_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


# -- tables --------------------------------------------------------------------------------------


class Table:
    """The analysis dataset: a frame, and (for CSV) how to re-read one column's raw text."""

    def __init__(self, frame: pd.DataFrame, text=None):
        self.frame = frame
        self.text = text


def read_csv(files: list[Path], header: bool) -> Table:
    if not files:
        raise AnalyzerError("the dataset has no files")
    options = {"header": 0 if header else None, "skipinitialspace": False}
    try:
        frames = [pd.read_csv(f, **options) for f in files if f.stat().st_size]
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise AnalyzerError(f"the CSV dataset cannot be read: {exc}") from None
    if not frames:
        raise AnalyzerError("the dataset is empty")
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if not header:
        frame.columns = [f"_c{i}" for i in range(len(frame.columns))]

    def text(column: str) -> pd.Series:
        index = list(frame.columns).index(column)
        parts = [
            pd.read_csv(f, header=0 if header else None, usecols=[index], dtype=str, keep_default_na=False)
            .iloc[:, 0]
            .replace("", np.nan)
            for f in files
            if f.stat().st_size
        ]
        return pd.concat(parts, ignore_index=True)

    return Table(frame, text)


def read_json(files: list[Path], lines: bool) -> Table:
    rows = []
    for f in files:
        text = f.read_text()
        try:
            docs = (
                [json.loads(line) for line in text.splitlines() if line.strip()]
                if lines
                else [json.loads(text)]
            )
        except json.JSONDecodeError as exc:
            raise AnalyzerError(f"{f.name} is not valid JSON{' Lines' if lines else ''}: {exc}") from None
        for doc in docs:
            rows.extend(capture._json_rows(doc))
    return Table(rows_frame(rows, None))


def rows_frame(rows: list[list[tuple[str | None, object]]], names: list[str] | None) -> pd.DataFrame:
    """Rows of (name or None, value) as a frame: keyed rows keep their keys when every key is a known
    name (or there is no baseline), else columns are named by position after the baseline's features."""
    width = max((len(r) for r in rows), default=0)
    keyed = rows and all(k is not None for r in rows for k, _ in r)
    keys: list[str] = []
    if keyed:
        for r in rows:
            for k, _ in r:
                if k not in keys:
                    keys.append(k)
        if names is None or set(keys) <= set(names):
            data = {k: [None] * len(rows) for k in keys}
            for i, r in enumerate(rows):
                for k, v in r:
                    data[k][i] = v
            return pd.DataFrame(data, dtype=object)
    labels = [(names[i] if names is not None and i < len(names) else f"_c{i}") for i in range(width)]
    data = {label: [None] * len(rows) for label in labels}
    for i, r in enumerate(rows):
        for j, (_, v) in enumerate(r):
            data[labels[j]][i] = v
    return pd.DataFrame(data, dtype=object)


def read_dataset(ctx: Context, names: list[str] | None, records: list[dict] | None = None) -> Table:
    fmt = dataset_format(ctx)
    source = ctx.get("dataset_source")
    if source is None and records is None:
        raise AnalyzerError("dataset_source is not set")
    root = ctx.path(source) if source else None
    if records is not None or "sagemakerCaptureJson" in fmt or "sagemakerMergeJson" in fmt:
        if records is None:
            records = capture.capture_records(root, ctx.time("start_time"), ctx.time("end_time"))
        pre = ctx.get("record_preprocessor_script")
        preprocessor = scripts.Preprocessor(str(ctx.path(pre))) if pre else None
        rows = []
        for record in records:
            rows.extend(preprocessor.rows(record) if preprocessor else capture.record_rows(record))
        if not rows:
            raise AnalyzerError("No captured data in the analysis window (after any record preprocessing)")
        return Table(rows_frame(rows, names))
    files = _data_files(root)
    if "csv" in fmt:
        return read_csv(files, bool((fmt["csv"] or {}).get("header", False)))
    if "json" in fmt:
        options = fmt["json"] or {}
        return read_json(files, bool(options.get("lines", options.get("line", True))))
    if "parquet" in fmt:
        try:
            return Table(pd.concat([pd.read_parquet(f) for f in files], ignore_index=True))
        except Exception as exc:
            raise AnalyzerError(f"the Parquet dataset cannot be read: {exc}") from None
    raise AnalyzerError(f"unsupported dataset_format {json.dumps(fmt)}")


# -- outputs ---------------------------------------------------------------------------------------


def write_json(path: Path, document: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, allow_nan=False, default=float))


def write_message(ctx: Context, violations: int | None) -> None:
    if violations is None:
        text = "Completed: Job completed successfully with no violations."
    elif violations:
        text = f"CompletedWithViolations: Job completed successfully with {violations} violations."
    else:
        text = "Completed: Job completed successfully with no violations."
    path = ctx.path(f"{OPT_ML}/output/message")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def write_metrics(ctx: Context, items: list[dict]) -> None:
    if not items or ctx.get("publish_cloudwatch_metrics") != "Enabled":
        return
    path = ctx.path(f"{OPT_ML}/output/metrics/cloudwatch/cloudwatch_metrics.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as out:
        for item in items:
            out.write(json.dumps(item) + "\n")


def _dimensions(ctx: Context) -> list[dict]:
    dims = []
    if ctx.get("sagemaker_endpoint_name"):
        dims.append({"Name": "Endpoint", "Value": ctx.get("sagemaker_endpoint_name")})
    if ctx.get("sagemaker_monitoring_schedule_name"):
        dims.append({"Name": "MonitoringSchedule", "Value": ctx.get("sagemaker_monitoring_schedule_name")})
    return dims


def _stamp(ctx: Context) -> str:
    when = ctx.time("end_time") or dt.datetime.now(dt.timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


# -- data quality ----------------------------------------------------------------------------------


def data_quality(ctx: Context, out: Path) -> int | None:
    constraints = ctx.json_file("baseline_constraints")
    statistics = ctx.json_file("baseline_statistics")
    monitoring = constraints is not None or statistics is not None or ctx.get("start_time") is not None
    names = None
    for source in (constraints, statistics):
        if source and source.get("features"):
            names = [f["name"] for f in source["features"]]
            break
    table = read_dataset(ctx, names)
    features = profile.profile_frame(table.frame, table.text)
    stats = profile.statistics_json(features, len(table.frame))
    write_json(out / "statistics.json", stats)
    drift = ctx.get("categorical_drift_method")
    if drift is not None and drift not in baseline.CATEGORICAL_DRIFT_METHODS:
        raise AnalyzerError(
            f"categorical_drift_method must be one of {', '.join(baseline.CATEGORICAL_DRIFT_METHODS)} (got {drift!r})"
        )
    write_json(out / "constraints.json", baseline.suggest(features, drift))
    if not monitoring:
        return None
    result = checks.check(features, constraints or {}, statistics) if constraints else checks.CheckResult()
    write_json(out / "constraint_violations.json", {"violations": result.violations})
    emit = ((constraints or {}).get("monitoring_config") or {}).get("emit_metrics", "Enabled") == "Enabled"
    if emit:
        write_metrics(ctx, _data_metrics(ctx, features, result))
    return len(result.violations)


def _data_metrics(
    ctx: Context, features: list[profile.FeatureProfile], result: checks.CheckResult
) -> list[dict]:
    dims, stamp = _dimensions(ctx), _stamp(ctx)
    items = []
    for feature in features:
        total = feature.num_present + feature.num_missing
        if feature.numbers is not None and len(feature.numbers):
            items.append(
                {
                    "MetricName": f"feature_data_{feature.name}",
                    "Timestamp": stamp,
                    "Dimensions": dims,
                    "StatisticValues": {
                        "SampleCount": float(len(feature.numbers)),
                        "Sum": float(feature.numbers.sum()),
                        "Minimum": float(feature.numbers.min()),
                        "Maximum": float(feature.numbers.max()),
                    },
                }
            )
        items.append(
            {
                "MetricName": f"feature_non_null_{feature.name}",
                "Timestamp": stamp,
                "Dimensions": dims,
                "Value": feature.num_present / total if total else 0.0,
            }
        )
        if feature.name in result.distances:
            items.append(
                {
                    "MetricName": f"feature_baseline_drift_{feature.name}",
                    "Timestamp": stamp,
                    "Dimensions": dims,
                    "Value": result.distances[feature.name],
                }
            )
    return items


# -- model quality ---------------------------------------------------------------------------------


def _pick(frame: pd.DataFrame, attribute: str | None, what: str):
    if attribute is None:
        return None
    if attribute in frame.columns:
        return frame[attribute].tolist()
    if attribute.isdigit() and int(attribute) < len(frame.columns):
        return frame.iloc[:, int(attribute)].tolist()
    raise AnalyzerError(
        f"{what} {attribute!r} is not a column of the dataset (columns: {', '.join(map(str, frame.columns))})"
    )


def _extract(part: dict | None, attribute: str | None, what: str):
    """One value of a captured payload: ``attribute`` is an index (CSV) or a JMESPath (JSON)."""
    if attribute is None or part is None:
        return None
    text = capture.payload_text(part)
    if capture._is_json(part):
        import jmespath

        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            raise AnalyzerError(f"the captured output is not JSON: {text[:100]!r}") from None
        if attribute.isdigit() and isinstance(doc, list):
            return doc[int(attribute)]
        try:
            return jmespath.search(attribute, doc)
        except jmespath.exceptions.JMESPathError as exc:
            raise AnalyzerError(f"{what} {attribute!r} is not a valid JMESPath: {exc}") from None
    values = text.strip().splitlines()[0].split(",") if text.strip() else []
    index = int(attribute) if attribute.isdigit() else 0
    if index >= len(values):
        raise AnalyzerError(f"{what} {attribute} is out of range for the captured output {text[:100]!r}")
    return values[index].strip()


def model_quality_inputs(ctx: Context) -> tuple[list, list | None, list | None]:
    fmt = dataset_format(ctx)
    inference = ctx.get("inference_attribute")
    probability = ctx.get("probability_attribute")
    truth_attribute = ctx.get("ground_truth_attribute")
    if inference is None and probability is None:
        raise AnalyzerError("inference_attribute or probability_attribute must be set for model quality")
    if "sagemakerCaptureJson" in fmt or "sagemakerMergeJson" in fmt or ctx.get("ground_truth_source"):
        records = capture.capture_records(
            ctx.path(ctx.get("dataset_source") or f"{OPT_ML}/processing/input"),
            ctx.time("start_time"),
            ctx.time("end_time"),
        )
        truth_root = ctx.get("ground_truth_source")
        if truth_root:
            records = capture.merge(records, capture.ground_truth(ctx.path(truth_root)))
        records = [r for r in records if "groundTruthData" in r]
        if not records:
            raise AnalyzerError("No captured records in the analysis window have ground truth to merge")
        actual, predicted, scores = [], [], []
        for record in records:
            output = (record.get("captureData") or {}).get("endpointOutput")
            truth = record["groundTruthData"]
            truth_part = {"data": truth.get("data"), "encoding": truth.get("encoding", "CSV")}
            actual.append(_extract(truth_part, truth_attribute or "0", "ground_truth_attribute"))
            predicted.append(_extract(output, inference, "inference_attribute"))
            scores.append(_extract(output, probability, "probability_attribute"))
        return actual, (predicted if inference else None), (scores if probability else None)
    table = read_dataset(ctx, None)
    frame = table.frame
    if truth_attribute is None:
        raise AnalyzerError("ground_truth_attribute must be set for a model quality baseline")
    return (
        _pick(frame, truth_attribute, "ground_truth_attribute"),
        _pick(frame, inference, "inference_attribute"),
        _pick(frame, probability, "probability_attribute"),
    )


def quality(ctx: Context, out: Path) -> int | None:
    problem = ctx.get("problem_type")
    if problem not in model_quality.PROBLEM_TYPES:
        raise AnalyzerError(
            f"problem_type must be one of {', '.join(model_quality.PROBLEM_TYPES)} (got {problem!r})"
        )
    constraints = ctx.json_file("baseline_constraints")
    actual, predicted, scores = model_quality_inputs(ctx)
    threshold = ctx.get("probability_threshold_attribute")
    try:
        score_values = [float(s) for s in scores] if scores is not None else None
    except (TypeError, ValueError):
        raise AnalyzerError("probability_attribute does not select numbers") from None
    try:
        stats = model_quality.compute(
            problem, actual, predicted, score_values, float(threshold) if threshold is not None else None
        )
    except model_quality.QualityError as exc:
        raise AnalyzerError(str(exc)) from None
    except ValueError as exc:
        raise AnalyzerError(f"the labels cannot be compared: {exc}") from None
    write_json(out / "statistics.json", stats)
    write_json(out / "constraints.json", model_quality.suggest_constraints(stats, problem))
    monitoring = constraints is not None or ctx.get("start_time") is not None
    if not monitoring:
        return None
    found = model_quality.violations(stats, constraints or {})
    write_json(out / "constraint_violations.json", {"violations": found})
    dims, stamp = _dimensions(ctx), _stamp(ctx)
    section = stats[f"{model_quality.SECTION[problem]}_metrics"]
    write_metrics(
        ctx,
        [
            {"MetricName": name, "Timestamp": stamp, "Dimensions": dims, "Value": value["value"]}
            for name, value in section.items()
            if isinstance(value, dict) and isinstance(value.get("value"), int | float)
        ],
    )
    return len(found)


# -- entry -----------------------------------------------------------------------------------------


# -- ground-truth merge ----------------------------------------------------------------------------


def merge_ground_truth(ctx: Context, out: Path) -> int:
    """The merge job of a model-quality or model-bias execution: each captured record of the window
    that has ground truth, with its ``groundTruthData``, written under
    ``<output>/<endpoint>/<variant>/yyyy/mm/dd/HH/part-00000-<merge_tag>.c000.jsonl`` (the capture's
    folder). Fails when nothing merges, as SageMaker's merge does."""
    source = ctx.get("dataset_source")
    truth_root = ctx.get("ground_truth_source")
    if source is None or truth_root is None:
        raise AnalyzerError("the merge needs dataset_source and ground_truth_source")
    root = ctx.path(source)
    truth = capture.ground_truth(ctx.path(truth_root))
    start, end = ctx.time("start_time"), ctx.time("end_time")
    tag = ctx.get("merge_tag") or "merged"
    total = 0
    for path in capture.jsonl_files(root):
        records = [
            r for r in capture.read_jsonl([path]) if "captureData" in r and capture.in_window(r, start, end)
        ]
        merged = capture.merge(records, truth)
        if not merged:
            continue
        folder = out / path.parent.relative_to(root)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"part-00000-{tag}.c000.jsonl", "a") as handle:
            for record in merged:
                handle.write(json.dumps(record) + "\n")
        total += len(merged)
    if not total:
        raise AnalyzerError(
            "No ground truth matched the captured records of the analysis window (ground truth eventId must be "
            "the capture's inferenceId, or its eventId when the invocation had no InferenceId)"
        )
    return total


def run(ctx: Context) -> int | None:
    output = ctx.get("output_path")
    if output is None:
        raise AnalyzerError("output_path is not set")
    out = ctx.path(output)
    out.mkdir(parents=True, exist_ok=True)
    if (ctx.get("analysis_type") or "").upper() == MERGE:
        merged = merge_ground_truth(ctx, out)
        message = ctx.path(f"{OPT_ML}/output/message")
        message.parent.mkdir(parents=True, exist_ok=True)
        message.write_text(f"Completed: merged {merged} records with ground truth.")
        return None
    if (ctx.get("analysis_type") or "").upper() == "MODEL_QUALITY":
        violations = quality(ctx, out)
    else:
        violations = data_quality(ctx, out)
    post = ctx.get("post_analytics_processor_script")
    if post:
        scripts.run_postprocessor(str(ctx.path(post)))
    write_message(ctx, violations)
    return violations


#: The built-in container contract (domain.images BUILTIN_PROCESSING_MODULES).
CLIENT_ERRORS = (AnalyzerError, capture.CaptureError, scripts.ScriptError)
FIRST_HOST_ONLY = False


def run_container(root: Path, environ: dict) -> None:
    violations = run(Context(str(root), environ))
    print(
        "sagestack model monitor analyzer: "
        + ("done" if violations is None else f"{violations} violation(s)"),
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ctx = Context(argv[0] if argv else OPT_ML, dict(os.environ))
    try:
        violations = run(ctx)
    except CLIENT_ERRORS as exc:
        print(f"ClientError: {exc}", file=sys.stderr, flush=True)
        failure = ctx.path(f"{OPT_ML}/output/failure")
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(f"ClientError: {exc}"[:1024])
        return 2
    print(
        "sagestack model monitor analyzer: "
        + ("done" if violations is None else f"{violations} violation(s)"),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
