"""Linear Learner models trained on AWS: ``model_algo-1`` is a zip archive of an MXNet Module checkpoint.

Confirmed (developer guide, ``ll_how-it-works``): the archive holds ``additional-params.json``,
``manifest.json``, ``mx-mod-symbol.json`` and ``mx-mod-0000.params``; the trained dense layer is ``fc0``
(``fc0_weight`` ``(outputs, feature_dim)``, ``fc0_bias``), and running the graph on raw features gives
the score in raw label units.

Inferred (not documented): whatever the graph does around ``fc0`` (normalisation, label scaling) is
affine, so the graph is evaluated (:mod:`sagestack.formats.mxnet_symbol`) and folded into this package's
``weights``/``bias``, checked on random probes; its output layer says the predictor type
(``LogisticRegressionOutput``/sigmoid → binary classifier with logistic loss, ``SoftmaxOutput``/softmax →
multiclass, a regression output → regressor, unless the JSON files name ``predictor_type``
``binary_classifier``: then hinge loss); the binary decision threshold is a number under a key containing
``threshold`` in the JSON files, else 0.5 for probabilities and 0 for hinge margins.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms import aws_artifacts
from sagestack.algorithms.linear_learner.model import LinearModel
from sagestack.formats import mxnet_symbol
from sagestack.formats.mxnet_ndarray import MXNetFormatError

NAME = "Linear Learner"
#: Above this many features the graph is folded column block by column block (each block a dense
#: ``block × feature_dim`` evaluation); beyond it only a bare ``fc0`` layer is accepted.
MAX_FOLDED_FEATURES = 200_000
_CELLS_PER_BLOCK = 1 << 22


def load_aws_model(model_dir: Path) -> LinearModel | None:
    artifact = aws_artifacts.read(model_dir, NAME)
    if artifact is None:
        return None
    params = {
        k: np.asarray(v.toarray() if hasattr(v, "toarray") else v, dtype=np.float64)
        for k, v in aws_artifacts.module_params(artifact, NAME).items()
    }
    side = {
        name: artifact.json_member(name) for name in ("additional-params.json", "manifest.json", "meta.json")
    }
    symbol = artifact.symbol()
    try:
        if symbol is not None:
            transform, weights, bias = _fold_graph(mxnet_symbol.Graph.from_json(symbol), params)
        else:
            transform, weights, bias = "identity", *_fc0(params)
    except MXNetFormatError as exc:
        raise aws_artifacts.AWSModelError(f"The {NAME} model cannot be loaded: {exc}") from None
    predictor_type, loss = _predictor(transform, weights.shape[1], side)
    threshold = None
    if predictor_type == "binary_classifier":
        found = _threshold(side)
        threshold = found if found is not None else (0.5 if loss == "logistic" else 0.0)
    return LinearModel(
        predictor_type=predictor_type,
        loss=loss,
        weights=weights,
        bias=bias,
        threshold=threshold,
        hyperparameters={"source": "aws", **{k: v for k, v in side.items() if v}},
    )


def _fc0(params: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    if "fc0_weight" not in params:
        raise MXNetFormatError(f"the parameters are {sorted(params)}, without fc0_weight")
    weight = np.atleast_2d(params["fc0_weight"])
    bias = params.get("fc0_bias", np.zeros(weight.shape[0])).ravel()
    return weight.reshape(weight.shape[0], -1).T.copy(), bias


def _fold_graph(
    graph: mxnet_symbol.Graph, params: dict[str, np.ndarray]
) -> tuple[str, np.ndarray, np.ndarray]:
    """``(output transform, weights (feature_dim, outputs), bias (outputs,))`` of the graph's first output."""
    transform, body = graph.split_head()
    data = _data_name(graph, params)
    layer = body.nodes[body.heads[0][0]]
    if layer.op == "FullyConnected" and body.nodes[layer.inputs[0][0]].name == data:
        weight = params.get(body.nodes[layer.inputs[1][0]].name)
        if weight is not None:  # a bare dense layer: its parameters are the model
            bias = params.get(body.nodes[layer.inputs[2][0]].name) if len(layer.inputs) > 2 else None
            weight = np.atleast_2d(weight)
            return transform, weight.T.copy(), (np.zeros(weight.shape[0]) if bias is None else bias.ravel())
    feature_dim = _feature_dim(graph, params)
    if feature_dim > MAX_FOLDED_FEATURES:
        raise MXNetFormatError(
            f"the graph around fc0 is evaluated per feature, which is not done beyond "
            f"{MAX_FOLDED_FEATURES} features ({feature_dim})"
        )

    def run(X: np.ndarray) -> np.ndarray:
        out = np.asarray(mxnet_symbol.evaluate(body, {data: X}, params)[0], dtype=np.float64)
        return out.reshape(X.shape[0], -1)

    bias = run(np.zeros((1, feature_dim)))[0]
    block = max(1, _CELLS_PER_BLOCK // feature_dim)
    columns = []
    for start in range(0, feature_dim, block):
        stop = min(feature_dim, start + block)
        basis = np.zeros((stop - start, feature_dim))
        basis[np.arange(stop - start), np.arange(start, stop)] = 1.0
        columns.append(run(basis) - bias)
    weights = np.concatenate(columns, axis=0)
    probe = np.random.default_rng(0).normal(size=(3, feature_dim))
    if not np.allclose(
        run(probe), probe @ weights + bias, rtol=1e-6, atol=1e-6 * (1 + np.abs(weights).max())
    ):
        raise MXNetFormatError("the model graph is not linear in its input")
    return transform, weights, bias


def _data_name(graph: mxnet_symbol.Graph, params: dict[str, Any]) -> str:
    free = [name for name in graph.variables() if name not in params and not name.endswith("label")]
    if "data" in free or not free:
        return "data"
    if len(free) > 1:
        raise MXNetFormatError(f"the graph has several inputs without parameters: {free}")
    return free[0]


def _feature_dim(graph: mxnet_symbol.Graph, params: dict[str, np.ndarray]) -> int:
    for node in graph.nodes:
        if node.op == "FullyConnected" and len(node.inputs) > 1:
            weight = params.get(graph.nodes[node.inputs[1][0]].name)
            if weight is not None:
                return int(np.atleast_2d(weight).reshape(weight.shape[0], -1).shape[1])
    if "fc0_weight" in params:
        return int(np.atleast_2d(params["fc0_weight"]).shape[1])
    raise MXNetFormatError("the graph has no dense layer to take the feature dimension from")


def _predictor(transform: str, outputs: int, side: dict[str, Any]) -> tuple[str, str]:
    named = aws_artifacts.find_key(side, "predictor_type")
    if transform == "softmax" or outputs > 1 or named == "multiclass_classifier":
        return "multiclass_classifier", "softmax_loss"
    if transform == "sigmoid":
        return "binary_classifier", "logistic"
    if named == "binary_classifier":
        return "binary_classifier", "hinge_loss"
    return "regressor", str(aws_artifacts.find_key(side, "loss") or "squared_loss")


def _threshold(tree: Any) -> float | None:
    if isinstance(tree, dict):
        for key, value in tree.items():
            if (
                "threshold" in str(key).lower()
                and isinstance(value, (int, float))
                and not isinstance(value, bool)
            ):
                return float(value)
            found = _threshold(value)
            if found is not None:
                return found
    elif isinstance(tree, list):
        for value in tree:
            found = _threshold(value)
            if found is not None:
                return found
    return None
