"""``load_model`` and ``predict``: one invocation in SageMaker's Linear Learner formats."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from sagestack.algorithms.base import InferenceError
from sagestack.algorithms.linear_learner.model import LinearModel


def load_model(model_dir: Path) -> LinearModel:
    return LinearModel.load(Path(model_dir))


def _columns(model: LinearModel, scores: np.ndarray) -> dict[str, np.ndarray]:
    """Response columns: ``score`` (and ``predicted_label`` for classifiers), one entry per row."""
    labels = model.predicted_labels(scores)
    if labels is None:
        return {"score": scores}
    return {"score": scores, "predicted_label": labels}


def predict(model: LinearModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    from sagestack.formats.inference import decode_request, encode_response

    try:
        X = decode_request(body, content_type)
    except InferenceError:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InferenceError(f"Unable to parse the {content_type} request: {exc}", 400) from None
    if X.ndim != 2 or X.shape[1] != model.feature_dim:
        width = X.shape[1] if X.ndim == 2 else X.shape
        raise InferenceError(
            f"Invalid feature dimension: the model expects {model.feature_dim} features per record, "
            f"the request has {width}",
            400,
        )
    if X.shape[0] == 0:
        raise InferenceError("The request contains no records", 400)
    scores = model.scores(X)
    return encode_response(_columns(model, scores), accept)
