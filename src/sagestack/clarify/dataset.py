"""Reading a Clarify dataset into one table: named columns, which are features (what the model gets),
the label, the predicted label. CSV (with or without a header row), JSON Lines (``features`` / ``label``
/ ``predicted_label`` as JMESPath), Parquet and JSON, as the analysis config's ``dataset_type`` says."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import jmespath
import pandas as pd

from .errors import ClarifyError

CSV = "text/csv"
JSON_LINES = "application/jsonlines"
JSON = "application/json"
PARQUET = "application/x-parquet"
DATASET_TYPES = (CSV, JSON_LINES, JSON, PARQUET)


@dataclass
class Dataset:
    frame: pd.DataFrame
    features: list[str]  # the columns sent to the model, in order
    label: str | None = None
    predicted_label: str | None = None
    excluded: list[str] = field(default_factory=list)

    def feature_frame(self) -> pd.DataFrame:
        return self.frame[self.features]


def data_files(root: Path) -> list[Path]:
    """Every file under ``root`` (recursively, in name order), hidden files and folders skipped."""
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _column_name(spec, names: list[str], what: str) -> str:
    """A column given by name or by 0-based index → its name."""
    if isinstance(spec, bool):
        raise ClarifyError(f"{what} must be a column name or index, not {spec!r}")
    if isinstance(spec, int):
        if not 0 <= spec < len(names):
            raise ClarifyError(f"{what} index {spec} is out of range: the dataset has {len(names)} columns")
        return names[spec]
    if str(spec) not in names:
        raise ClarifyError(f"{what} {spec!r} is not a column of the dataset. Columns: {names}")
    return str(spec)


def read_csv(files: list[Path], headers: list[str] | None) -> pd.DataFrame:
    frames = []
    for path in files:
        text = path.read_text()
        if not text.strip():
            continue
        first = next(csv.reader(io.StringIO(text.split("\n", 1)[0])), [])
        has_header = (headers is not None and [c.strip() for c in first] == list(headers)) or (
            headers is None and first and not any(_is_number(c) for c in first)
        )
        frame = pd.read_csv(io.StringIO(text), header=0 if has_header else None, skipinitialspace=True)
        frames.append(frame)
    if not frames:
        raise ClarifyError("The dataset is empty: no records were found in the dataset input")
    width = len(frames[0].columns)
    if any(len(f.columns) != width for f in frames):
        raise ClarifyError("The dataset files do not all have the same number of columns")
    if headers is not None:
        if len(headers) != width:
            raise ClarifyError(
                f"The number of headers ({len(headers)}) does not match the number of columns in the "
                f"dataset ({width})"
            )
        names = list(headers)
    elif all(isinstance(c, str) for c in frames[0].columns):
        names = [str(c) for c in frames[0].columns]
    else:
        names = [f"column_{i}" for i in range(width)]
    for frame in frames:
        frame.columns = names
    return pd.concat(frames, ignore_index=True)


def _records_jsonlines(files: list[Path]) -> list:
    records = []
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ClarifyError(f"{path.name} line {number} is not valid JSON: {exc}") from None
    return records


def search(expression: str, record, what: str):
    try:
        return jmespath.search(expression, record)
    except jmespath.exceptions.JMESPathError as exc:
        raise ClarifyError(f"Invalid JMESPath {what} {expression!r}: {exc}") from None


def read_json_records(config: dict, records: list) -> pd.DataFrame:
    """JSON Lines records (or the rows a JSON document's JMESPath gives) → a table with named columns."""
    features_path = config.get("features")
    if not features_path:
        raise ClarifyError("'features' (a JMESPath) is required for dataset_type " + config["dataset_type"])
    label_path, predicted_path = config.get("label"), config.get("predicted_label")
    rows, labels, predicted = [], [], []
    for record in records:
        values = search(features_path, record, "features")
        if values is None:
            raise ClarifyError(f"The features JMESPath {features_path!r} found nothing in record {record}")
        rows.append(values if isinstance(values, list) else [values])
        if label_path is not None:
            labels.append(search(str(label_path), record, "label"))
        if predicted_path is not None:
            predicted.append(search(str(predicted_path), record, "predicted_label"))
    if not rows:
        raise ClarifyError("The dataset is empty: no records were found in the dataset input")
    width = len(rows[0])
    headers = list(config.get("headers") or [])
    names = headers[:width] if len(headers) >= width else [f"column_{i}" for i in range(width)]
    frame = pd.DataFrame(rows, columns=names)
    extra = headers[width:]
    if label_path is not None:
        frame[extra.pop(0) if extra else "label0"] = labels
    if predicted_path is not None:
        frame[extra.pop(0) if extra else "predicted_label"] = predicted
    return frame


def load(config: dict, files: list[Path]) -> Dataset:
    """The dataset the analysis config describes, read from ``files``."""
    kind = config.get("dataset_type")
    if kind not in DATASET_TYPES:
        raise ClarifyError(
            f"dataset_type {kind!r} is not supported here; supported: {', '.join(DATASET_TYPES)}"
        )
    if not files:
        raise ClarifyError("The dataset is empty: no files were found in the dataset input")
    headers = config.get("headers")
    label_spec, predicted_spec = config.get("label"), config.get("predicted_label")
    if kind == CSV:
        frame = read_csv(files, headers)
        names = list(frame.columns)
        label = _column_name(label_spec, names, "Label") if label_spec is not None else None
        if (
            label is not None
            and headers is None
            and isinstance(label_spec, int)
            and label.startswith("column_")
        ):
            frame = frame.rename(columns={label: "label0"})
            label = "label0"
            names = list(frame.columns)
        predicted = (
            _column_name(predicted_spec, names, "Predicted label") if predicted_spec is not None else None
        )
    elif kind == PARQUET:
        frame = pd.concat([pd.read_parquet(p) for p in files], ignore_index=True)
        if headers:
            if len(headers) != len(frame.columns):
                raise ClarifyError(
                    f"The number of headers ({len(headers)}) does not match the number of columns in the "
                    f"dataset ({len(frame.columns)})"
                )
            frame.columns = list(headers)
        frame.columns = [str(c) for c in frame.columns]
        names = list(frame.columns)
        label = _column_name(label_spec, names, "Label") if label_spec is not None else None
        predicted = (
            _column_name(predicted_spec, names, "Predicted label") if predicted_spec is not None else None
        )
    else:
        if kind == JSON_LINES:
            records = _records_jsonlines(files)
        else:
            records = []
            for path in files:
                try:
                    document = json.loads(path.read_text())
                except json.JSONDecodeError as exc:
                    raise ClarifyError(f"{path.name} is not valid JSON: {exc}") from None
                records.extend(document if isinstance(document, list) else [document])
        frame = read_json_records(config, records)
        names = list(frame.columns)
        width = len(names) - (label_spec is not None) - (predicted_spec is not None)
        label = names[width] if label_spec is not None else None
        predicted = names[-1] if predicted_spec is not None else None
    excluded = [_column_name(c, names, "Excluded column") for c in config.get("excluded_columns") or []]
    features = [c for c in frame.columns if c not in {label, predicted, *excluded}]
    if not features:
        raise ClarifyError(
            "The dataset has no feature columns once the label and excluded columns are removed"
        )
    return Dataset(frame, features, label, predicted, excluded)


def attach(data: Dataset, extra: pd.DataFrame, join: str | None, what: str) -> list[str]:
    """Add the columns of a separate CSV data set (``facet_dataset_uri``,
    ``predicted_label_dataset_uri``) to ``data``: joined on the join-source column when both have it,
    else row by row. They are not features (never sent to the model). Returns the added column names."""
    frame = data.frame
    if join is not None and join in extra.columns and join in frame.columns:
        added = [c for c in extra.columns if c != join]
        merged = frame.merge(extra, on=join, how="left", suffixes=("", "__extra"))
        missing = merged[added].isna().all(axis=1).sum()
        if missing:
            raise ClarifyError(
                f"{missing} record(s) of the dataset have no match in the {what} dataset on {join!r}"
            )
        data.frame = merged
        return added
    if len(extra) != len(frame):
        raise ClarifyError(
            f"The {what} dataset has {len(extra)} records but the dataset has {len(frame)}; give "
            f"joinsource_name_or_index to join them"
        )
    added = [c for c in extra.columns if c not in frame.columns]
    data.frame = pd.concat([frame.reset_index(drop=True), extra[added].reset_index(drop=True)], axis=1)
    return added
