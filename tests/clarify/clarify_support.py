"""Support for the Clarify tests: a small data set (not the spec's), a logistic model served in script
mode (numpy only, CSV in → one score per line out), and reading results back from S3."""

from __future__ import annotations

import json
import textwrap
import uuid

import numpy as np
import pandas as pd

from helpers import ROLE, SKLEARN_IMAGE, tar_gz

FEATURES = ["Age", "Income", "Gender", "Dept"]
HEADERS = ["Label", *FEATURES]
WEIGHTS = {"Age": 0.04, "Income": 0.9, "Gender": -1.2, "Dept": 0.3}
BIAS = -2.0

#: Logistic regression over the CSV features: score = sigmoid(w·x + b), one score per line.
LOGISTIC_MODEL = """
import json, os
import numpy as np

def model_fn(model_dir):
    with open(os.path.join(model_dir, "weights.json")) as handle:
        spec = json.load(handle)
    return np.array(spec["w"], dtype=float), float(spec["b"])

def input_fn(body, content_type):
    text = body.decode() if isinstance(body, (bytes, bytearray)) else body
    if content_type.startswith("application/jsonlines"):
        rows = [json.loads(line)["features"] for line in text.splitlines() if line.strip()]
    else:
        rows = [[float(v) for v in line.split(",")] for line in text.splitlines() if line.strip()]
    return np.array(rows, dtype=float)

def predict_fn(data, model):
    w, b = model
    return 1.0 / (1.0 + np.exp(-(data @ w + b)))

def output_fn(prediction, accept):
    if accept and accept.startswith("application/jsonlines"):
        lines = [json.dumps({"score": float(p), "predicted_label": int(p > 0.5)}) for p in prediction]
        return "\\n".join(lines) + "\\n", "application/jsonlines"
    return "\\n".join(repr(float(p)) for p in prediction) + "\\n", "text/csv"
"""


def dataset(rows: int = 200, seed: int = 7) -> pd.DataFrame:
    """Label first, then the features; the label depends on the features plus noise."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "Age": rng.integers(18, 70, rows).astype(float),
            "Income": np.round(rng.normal(1.0, 1.0, rows), 3),
            "Gender": rng.integers(0, 2, rows),
            "Dept": rng.integers(0, 3, rows),
        }
    )
    logits = score_logits(frame) + rng.normal(0, 0.7, rows)
    frame.insert(0, "Label", (logits > 0).astype(int))
    return frame


def score_logits(frame: pd.DataFrame) -> np.ndarray:
    return frame[FEATURES].to_numpy(dtype=float) @ np.array([WEIGHTS[f] for f in FEATURES]) + BIAS


def scores(frame: pd.DataFrame) -> np.ndarray:
    """What the served model answers, computed here."""
    return 1.0 / (1.0 + np.exp(-score_logits(frame)))


def create_model(sm, s3, bucket: str, name: str | None = None, delay: float = 0.0) -> str:
    """The logistic model, served in script mode; ``delay`` seconds of sleep per request."""
    name = name or f"clarify-logistic-{uuid.uuid4().hex[:8]}"
    code = textwrap.dedent(LOGISTIC_MODEL)
    if delay:
        code = code.replace(
            "def predict_fn(data, model):\n",
            f"def predict_fn(data, model):\n    __import__('time').sleep({delay})\n",
        )
    files = {
        "weights.json": json.dumps({"w": [WEIGHTS[f] for f in FEATURES], "b": BIAS}),
        "code/inference.py": code,
    }
    key = f"clarify-models/{name}/model.tar.gz"
    s3.put_object(Bucket=bucket, Key=key, Body=tar_gz({k: v.encode() for k, v in files.items()}))
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": f"s3://{bucket}/{key}",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code",
            },
        },
    )
    return name


def read_json(s3, uri: str):
    bucket, key = uri[5:].split("/", 1)
    return json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def read_text(s3, uri: str) -> str:
    bucket, key = uri[5:].split("/", 1)
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
