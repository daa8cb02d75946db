"""Shared by the SDK v3 programs: the foreign-account role, images, tiny data, a JSON result line."""

from __future__ import annotations

import json
import logging
import random
import sys
from pathlib import Path

#: Another account's role, never created on the server: code written for AWS runs unchanged.
ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PYTORCH_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
)
PYTORCH_INFERENCE_IMAGE = (
    "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
)


def show_logs() -> None:
    """sagemaker-core logs job output through the ``logging`` module: show INFO on stdout."""
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(message)s")
    logging.getLogger("botocore").setLevel(logging.WARNING)


def write_csv(path: Path, rows: int = 60, seed: int = 0) -> Path:
    """label,f1,f2,f3 rows (label 1 when the features sum above 1.5), no header."""
    rng = random.Random(seed)
    lines = []
    for _ in range(rows):
        x = [rng.random() for _ in range(3)]
        lines.append(",".join([str(int(sum(x) > 1.5))] + [f"{v:.4f}" for v in x]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def write(path: str, text: str) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def result(**values) -> None:
    """The program's result: one JSON line after a marker (rich's progress panels share stdout)."""
    print("\nRESULT " + json.dumps(values, default=str), flush=True)
