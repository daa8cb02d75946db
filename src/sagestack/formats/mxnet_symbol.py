"""MXNet symbol graphs (``*-symbol.json`` of a ``Module`` checkpoint) evaluated with numpy, for inference.

The JSON lists ``nodes`` in topological order — ``{"op": "null" | <operator>, "name", "attrs" (older
files: "attr" / "param"), "inputs": [[node, output, version], …]}`` — and the graph outputs in
``heads``. Variables (``op == "null"``) are the data input, the trained parameters (``arg:``/``aux:``
names of the ``.params`` file) and labels (only read by loss layers, which act as their inference
transform: ``LogisticRegressionOutput`` is a sigmoid, ``SoftmaxOutput`` a softmax, the regression
outputs the identity).

Only the operators a linear or factorization model needs are implemented (dense layers, element-wise
and broadcast arithmetic, scalar arithmetic, reshapes, reductions, activations); anything else is an
error naming the operator.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from sagestack.formats.mxnet_ndarray import MXNetFormatError

#: Loss layers and final activations: what they compute at inference.
HEAD_TRANSFORMS = {
    "SoftmaxOutput": "softmax",
    "Softmax": "softmax",
    "softmax": "softmax",
    "SoftmaxActivation": "softmax",
    "LogisticRegressionOutput": "sigmoid",
    "sigmoid": "sigmoid",
    "LinearRegressionOutput": "identity",
    "MAERegressionOutput": "identity",
    "SVMOutput": "identity",
}
_PASS_THROUGH = ("BlockGrad", "stop_gradient", "_copy", "identity", "MakeLoss", "make_loss", "Dropout")


@dataclass
class Node:
    op: str
    name: str
    attrs: dict[str, str]
    inputs: list[tuple[int, int]]


@dataclass
class Graph:
    nodes: list[Node]
    heads: list[tuple[int, int]]

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Graph:
        try:
            nodes = [
                Node(
                    str(n["op"]),
                    str(n["name"]),
                    {
                        str(k): str(v)
                        for k, v in (n.get("attrs") or n.get("attr") or n.get("param") or {}).items()
                    },
                    [(int(i[0]), int(i[1])) for i in n.get("inputs", [])],
                )
                for n in doc["nodes"]
            ]
            heads = [(int(h[0]), int(h[1])) for h in doc["heads"]]
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise MXNetFormatError(f"not an MXNet symbol graph: {exc!r}") from None
        for index, node in enumerate(nodes):
            if any(not 0 <= i < index for i, _ in node.inputs):
                raise MXNetFormatError(f"not an MXNet symbol graph: node {node.name} reads a later node")
        if not heads or any(not 0 <= h < len(nodes) for h, _ in heads):
            raise MXNetFormatError("not an MXNet symbol graph: no valid output")
        return cls(nodes, heads)

    def variables(self) -> list[str]:
        return [n.name for n in self.nodes if n.op == "null"]

    def operators(self) -> list[str]:
        return [n.op for n in self.nodes if n.op != "null"]

    def split_head(self) -> tuple[str, Graph]:
        """``(transform, body)``: the inference transform of the output layer(s) at the end of the
        first output, and the graph up to the value it transforms."""
        transform = "identity"
        head = self.heads[0]
        while True:
            node = self.nodes[head[0]]
            kind = HEAD_TRANSFORMS.get(node.op)
            if node.op == "Activation" and node.attrs.get("act_type") in ("sigmoid", "softmax"):
                kind = node.attrs["act_type"]
            if kind is not None and transform == "identity":
                transform = kind
            elif node.op not in _PASS_THROUGH:
                break
            head = node.inputs[0]
        return transform, Graph(self.nodes, [head])


def evaluate(graph: Graph, inputs: dict[str, Any], params: dict[str, Any]) -> list[Any]:
    """The graph's outputs for ``inputs`` (e.g. ``{"data": X}``) and trained ``params``."""
    values: list[list[Any]] = []
    needed = _needed(graph)
    for index, node in enumerate(graph.nodes):
        if index not in needed:
            values.append([None])
            continue
        if node.op == "null":
            value = inputs.get(node.name, params.get(node.name))
            if value is None and not node.name.endswith("label"):
                raise MXNetFormatError(f"the model graph needs {node.name!r}, which the parameters lack")
            values.append([value])
            continue
        args = [values[i][o] for i, o in node.inputs]
        values.append([_apply(node, args)])
    return [values[i][o] for i, o in graph.heads]


def _needed(graph: Graph) -> set[int]:
    needed, stack = set(), [h for h, _ in graph.heads]
    while stack:
        index = stack.pop()
        if index in needed:
            continue
        needed.add(index)
        node = graph.nodes[index]
        if node.op in HEAD_TRANSFORMS and node.op[0].isupper():  # loss layers ignore their label
            stack.append(node.inputs[0][0])
        else:
            stack.extend(i for i, _ in node.inputs)
    return needed


# ------------------------------------------------------------------------------------------------
# Operators


def _dense(x: Any) -> np.ndarray:
    return np.asarray(x.toarray() if hasattr(x, "toarray") else x)


def _attr(node: Node, key: str, default: Any = None) -> Any:
    text = node.attrs.get(key)
    if text is None or text == "None":
        return default
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        return text


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    z = x - x.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.exp(-np.logaddexp(0.0, -x)).astype(np.result_type(x, np.float32))


def _fully_connected(node: Node, args: list[Any]) -> Any:
    x, weight = args[0], _dense(args[1])
    if _attr(node, "flatten", True) and x.ndim > 2:
        x = _dense(x).reshape(x.shape[0], -1)
    out = np.asarray(x @ weight.T)
    if not _attr(node, "no_bias", False) and len(args) > 2:
        out = out + _dense(args[2])
    return out


def _reshape(node: Node, args: list[Any]) -> np.ndarray:
    x = _dense(args[0])
    spec = _attr(node, "shape", ())
    spec = (spec,) if isinstance(spec, int) else tuple(spec)
    target = []
    for position, value in enumerate(spec):
        if value == 0:
            target.append(x.shape[position])
        elif value >= -1:
            target.append(value)
        else:
            raise MXNetFormatError(f"Reshape code {value} in node {node.name} is not supported")
    return x.reshape(target)


def _reduce(fn: Callable) -> Callable[[Node, list[Any]], np.ndarray]:
    def apply(node: Node, args: list[Any]) -> np.ndarray:
        axis = _attr(node, "axis")
        axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
        return fn(_dense(args[0]), axis=axis, keepdims=bool(_attr(node, "keepdims", False)))

    return apply


def _dot(node: Node, args: list[Any]) -> Any:
    a, b = args
    if _attr(node, "transpose_a", False):
        a = a.T
    if _attr(node, "transpose_b", False):
        b = b.T
    return np.asarray(a @ _dense(b)) if hasattr(a, "toarray") else _dense(a) @ _dense(b)


_BINARY: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "add": np.add,
    "plus": np.add,
    "sub": np.subtract,
    "minus": np.subtract,
    "mul": np.multiply,
    "div": np.divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "power": np.power,
}
_SCALAR: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "_plus_scalar": np.add,
    "_minus_scalar": np.subtract,
    "_mul_scalar": np.multiply,
    "_div_scalar": np.divide,
    "_power_scalar": np.power,
    "_maximum_scalar": np.maximum,
    "_minimum_scalar": np.minimum,
    "_rminus_scalar": lambda x, s: s - x,
    "_rdiv_scalar": lambda x, s: s / x,
    "_rpower_scalar": lambda x, s: np.power(s, x),
}
_UNARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1.0 / np.sqrt(x),
    "square": np.square,
    "abs": np.abs,
    "negative": np.negative,
    "Flatten": lambda x: x.reshape(x.shape[0], -1),
    "flatten": lambda x: x.reshape(x.shape[0], -1),
    **{name: (lambda x: x) for name in _PASS_THROUGH},
    "LinearRegressionOutput": lambda x: x,
    "MAERegressionOutput": lambda x: x,
    "SVMOutput": lambda x: x,
    "LogisticRegressionOutput": _sigmoid,
}
_ACTIVATIONS = {
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "relu": lambda x: np.maximum(x, 0),
    "softrelu": lambda x: np.logaddexp(0, x),
}


def _apply(node: Node, args: list[Any]) -> Any:
    op = node.op
    if op == "FullyConnected":
        return _fully_connected(node, args)
    if op == "dot":
        return _dot(node, args)
    binary = _binary_name(op)
    if binary is not None:
        return _BINARY[binary](_dense(args[0]), _dense(args[1]))
    if op in _SCALAR:
        return _SCALAR[op](_dense(args[0]), float(_attr(node, "scalar", 0.0)))
    if op in _UNARY:
        return _UNARY[op](_dense(args[0]))
    if op == "Activation":
        act = _ACTIVATIONS.get(str(_attr(node, "act_type", "")))
        if act is None:
            raise MXNetFormatError(
                f"Activation {node.attrs.get('act_type')} in node {node.name} is not supported"
            )
        return act(_dense(args[0]))
    if op in ("softmax", "SoftmaxActivation", "Softmax", "SoftmaxOutput"):
        x = _dense(args[0])
        axis = int(_attr(node, "axis", -1)) if op == "softmax" else (1 if x.ndim > 1 else -1)
        return _softmax(x, axis)
    if op == "Reshape":
        return _reshape(node, args)
    if op in ("sum", "sum_axis"):
        return _reduce(np.sum)(node, args)
    if op == "mean":
        return _reduce(np.mean)(node, args)
    if op == "transpose":
        axes = _attr(node, "axes", ())
        return np.transpose(_dense(args[0]), tuple(axes) or None)
    if op == "expand_dims":
        return np.expand_dims(_dense(args[0]), int(_attr(node, "axis", 0)))
    if op in ("add_n", "ElementWiseSum"):
        return sum(_dense(a) for a in args)
    if op == "clip":
        return np.clip(_dense(args[0]), float(_attr(node, "a_min")), float(_attr(node, "a_max")))
    raise MXNetFormatError(
        f"the model graph uses the MXNet operator {op} (node {node.name}), which sagestack cannot evaluate"
    )


def _binary_name(op: str) -> str | None:
    for prefix in ("broadcast_", "elemwise_", "_"):
        if op.startswith(prefix) and op[len(prefix) :] in _BINARY:
            return op[len(prefix) :]
    return op if op in ("maximum", "minimum") else None
