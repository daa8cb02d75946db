"""Factorization Machines serving: ``score`` (and ``predicted_label`` for binary_classifier), §2.6."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sagestack.algorithms.common import MODEL_NAME, load_metadata
from sagestack.algorithms.factorization_machines import model as fm
from sagestack.algorithms.factorization_machines.spec import SPEC


@dataclass
class FMModel:
    params: fm.FMParams
    meta: dict

    @property
    def predictor_type(self) -> str:
        return self.meta["predictor_type"]


def load_model(model_dir: Path) -> FMModel:
    model_dir = Path(model_dir)
    if not (model_dir / f"{MODEL_NAME}.npz").exists():
        aws = load_aws_model(model_dir)
        if aws is not None:
            return aws
    meta = load_metadata(model_dir)
    with np.load(model_dir / f"{MODEL_NAME}.npz") as arrays:
        params = fm.FMParams(w0=arrays["w0"], w=arrays["w"], V=arrays["V"])
    return FMModel(params=params, meta=meta)


def load_aws_model(model_dir: Path) -> FMModel | None:
    """A model trained on AWS: ``model_algo-1`` is a zip of ``symbol.json``, ``params`` and ``meta.json``
    (:mod:`sagestack.algorithms.aws_artifacts` says what is known of it)."""
    from sagestack.algorithms import aws_artifacts
    from sagestack.formats import mxnet_symbol

    artifact = aws_artifacts.read(model_dir, "Factorization Machines")
    if artifact is None:
        return None
    name = "Factorization Machines"
    params = aws_artifacts.module_params(artifact, name)
    meta = artifact.json_member("meta.json")
    if "w1_weight" in params and "v" in params:
        w0, w = params.get("w0_weight"), np.asarray(params["w1_weight"]).ravel()
    elif "Linear_Plus_Bias_weight" in params and "v" in params:  # older images
        w0, w = params.get("Linear_Plus_Bias_bias"), np.asarray(params["Linear_Plus_Bias_weight"]).ravel()
    else:
        raise aws_artifacts.AWSModelError(
            f"The {name} model cannot be loaded: its parameters are "
            f"{sorted(params)}, not w0_weight, w1_weight and v"
        )
    v = aws_artifacts.float_matrix(params["v"], "v", name)
    feature_dim = int(w.size)
    if v.shape[0] == feature_dim and ("w1_weight" in params or v.shape[1] != feature_dim):
        V = v
    elif v.shape[1] == feature_dim:
        V = v.T
    else:
        raise aws_artifacts.AWSModelError(
            f"The {name} model cannot be loaded: v {v.shape} does not match {feature_dim} linear weights"
        )
    bias = np.zeros(1) if w0 is None else np.asarray(w0).ravel()[:1]
    predictor_type = aws_artifacts.find_key(meta, "predictor_type")
    if predictor_type not in ("binary_classifier", "regressor"):
        symbol = artifact.symbol()
        transform = mxnet_symbol.Graph.from_json(symbol).split_head()[0] if symbol else "identity"
        predictor_type = "binary_classifier" if transform == "sigmoid" else "regressor"
    fm_params = fm.FMParams(
        w0=bias.astype(np.float32), w=w.astype(np.float32), V=np.ascontiguousarray(V, dtype=np.float32)
    )
    return FMModel(
        params=fm_params,
        meta={
            "predictor_type": predictor_type,
            "feature_dim": feature_dim,
            "num_factors": int(V.shape[1]),
            "source": "aws",
        },
    )


def predict(model: FMModel, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
    """One invocation (§2.6 Inference): no CSV in or out."""
    from sagestack.formats.inference import decode_rows, encode_response

    X = decode_rows(
        body, content_type, int(model.meta["feature_dim"]), request_types=SPEC.request_content_types
    )
    scores = fm.predict_scores(model.params, X, model.predictor_type)
    records: dict[str, np.ndarray] = {"score": scores}
    if model.predictor_type == "binary_classifier":
        records["predicted_label"] = (scores >= 0.5).astype(np.float32)
    return encode_response(records, accept, accept_types=SPEC.response_accept_types)
