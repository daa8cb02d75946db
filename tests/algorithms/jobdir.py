"""Shared helpers of the algorithm tests: a job directory laid out as /opt/ml, data written with the
SageMaker SDK's own RecordIO writers, and the metric values a training log yields."""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmSpec, TrainingEnv


def make_job(
    root: Path,
    hyperparameters: dict,
    channels: dict[str, dict[str, bytes]],
    content_types: dict[str, str] | None = None,
    *,
    distribution: str = "FullyReplicated",
    checkpoints: bool = False,
) -> TrainingEnv:
    """A job directory like the platform prepares: ``channels`` maps name → {filename: bytes}.

    Hyperparameters are sent as strings (``str(value)``), as the SDK does; channels without a content
    type get none in inputdataconfig.json, as the SDK's ``record_set()`` does."""
    config = root / "input" / "config"
    config.mkdir(parents=True)
    (config / "hyperparameters.json").write_text(json.dumps({k: str(v) for k, v in hyperparameters.items()}))
    data_config = {}
    for name, files in channels.items():
        folder = root / "input" / "data" / name
        folder.mkdir(parents=True)
        for filename, payload in files.items():
            (folder / filename).parent.mkdir(parents=True, exist_ok=True)
            (folder / filename).write_bytes(payload)
        data_config[name] = {
            "TrainingInputMode": "File",
            "S3DistributionType": distribution,
            "RecordWrapperType": "None",
        }
        if content_types and name in content_types:
            data_config[name]["ContentType"] = content_types[name]
    (config / "inputdataconfig.json").write_text(json.dumps(data_config))
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "algo-1", "hosts": ["algo-1"], "network_interface_name": "eth0"})
    )
    if checkpoints:
        (root / "checkpoints").mkdir()
    return TrainingEnv.from_root(root)


def sdk_common():
    """``sagemaker.amazon.common`` (the SDK's RecordIO-protobuf writers and reader)."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    from sagemaker.amazon import common

    return common


def dense_recordio(X, y=None, dtype: Any = np.float32) -> bytes:
    """Rows (and labels) as the SDK's ``write_numpy_to_dense_tensor`` writes them, as ``dtype``
    (``None`` keeps the arrays' own types)."""
    buf = io.BytesIO()
    sdk_common().write_numpy_to_dense_tensor(buf, _as(X, dtype), None if y is None else _as(y, dtype))
    return buf.getvalue()


def sparse_recordio(X, y=None, dtype: Any = np.float32) -> bytes:
    """Rows (and labels) as the SDK's ``write_spmatrix_to_sparse_tensor`` writes them."""
    import scipy.sparse as sp

    matrix = sp.csr_matrix(X)
    if dtype is not None:
        matrix = matrix.astype(dtype)
    buf = io.BytesIO()
    sdk_common().write_spmatrix_to_sparse_tensor(buf, matrix, None if y is None else _as(y, dtype))
    return buf.getvalue()


def _as(array, dtype: Any) -> np.ndarray:
    return np.asarray(array) if dtype is None else np.asarray(array, dtype=dtype)


def predict_recordio(module, model, rows) -> list[dict[str, list[float]]]:
    """``rows`` sent to ``module.predict`` and answered as RecordIO-protobuf, through the SDK's writer
    and reader: each response record's ``label`` map (key → float32 values)."""
    recordio = "application/x-recordio-protobuf"
    payload, ctype = module.predict(model, dense_recordio(rows), recordio, recordio)
    assert ctype == recordio
    records = sdk_common().read_records(io.BytesIO(payload))
    return [{key: list(value.float32_tensor.values) for key, value in r.label.items()} for r in records]


def metric_values(output: str, spec: AlgorithmSpec) -> dict[str, float]:
    """What FinalMetricDataList would hold: the last value each of ``spec``'s metric regexes matched."""
    found = {}
    for definition in spec.metric_definitions:
        for match in re.finditer(definition["Regex"], output):
            found[definition["Name"]] = float(match.group(1))
    return found
