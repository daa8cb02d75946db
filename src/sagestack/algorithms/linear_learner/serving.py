"""``load_model`` and ``predict``: one invocation in SageMaker's Linear Learner formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sagestack.algorithms.linear_learner.model import META_FILE, LinearModel
from sagestack.algorithms.linear_learner.spec import SPEC


def load_model(model_dir: Path) -> LinearModel:
    """This package's artifact, or a model trained on AWS (``model_algo-1``, :mod:`.aws_artifact`)."""
    model_dir = Path(model_dir)
    if not (model_dir / META_FILE).exists():
        from sagestack.algorithms.linear_learner.aws_artifact import load_aws_model

        aws = load_aws_model(model_dir)
        if aws is not None:
            return aws
    return LinearModel.load(model_dir)


def _columns(model: LinearModel, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Response columns: ``score`` (and ``predicted_label`` for classifiers), one entry per row."""
    labels = model.predicted_labels(scores)
    if labels is None:
        return {"score": scores}
    return {"score": scores, "predicted_label": labels}


def predict(model: LinearModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation (§2.2 Inference): CSV, JSON, JSON Lines or RecordIO in; no CSV out."""
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(body, content_type, model.feature_dim, request_types=SPEC.request_content_types)
    return encode_response(_columns(model, model.scores(X)), accept, accept_types=SPEC.response_accept_types)
