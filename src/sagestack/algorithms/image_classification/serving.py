"""Image Classification inference (§2.15, §3.3): one encoded image per request (``image/jpeg``,
``image/png``, ``application/x-image``), resized automatically.

* ``application/json`` (the default Accept): a bare JSON array of class probabilities ``[p0, p1, …]``;
* ``application/jsonlines`` (batch transform): ``{"prediction": [p0, p1, …]}`` and a newline.
"""

from __future__ import annotations

import json

from sagestack.algorithms.base import AlgorithmClientError, InferenceError
from sagestack.algorithms.image_classification.model import ICModel
from sagestack.algorithms.image_classification.model import load_model as _load_model
from sagestack.algorithms.image_classification.spec import SPEC
from sagestack.formats import content_types as ct
from sagestack.formats.inference import request_kind, response_kind


def load_model(model_dir):
    return _load_model(model_dir)


def predict(model: ICModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    request_kind(content_type, SPEC.request_content_types)
    answer = response_kind(accept, SPEC.response_accept_types, default=ct.JSON)
    if hasattr(body, "read"):
        body = body.read()
    if not body:
        raise InferenceError("The request body is empty; send one encoded image (JPEG or PNG)", 400)
    try:
        probabilities = model.probabilities([bytes(body)])[0]
    except AlgorithmClientError as exc:
        raise InferenceError(f"The request body is not an image this model can read: {exc}", 400) from None
    values = [float(p) for p in probabilities]
    if answer == ct.JSONLINES:
        return (json.dumps({"prediction": values}) + "\n").encode(), ct.JSONLINES
    return json.dumps(values).encode(), ct.JSON
