"""Models trained on AWS by SageMaker's MXNet-based built-in algorithms: ``model_algo-1``.

What is public about those artifacts (the algorithms' code is not):

* K-Means: ``model_algo-1`` is an NDArray list file holding one array, the centroids ``(k, feature_dim)``
  (developer guide ``cdf-training``; the bring-your-own-model example writes exactly that) [confirmed].
* PCA: an NDArray file with named arrays ``v`` ``(feature_dim, num_components)`` (the components as
  columns, smallest variance first), ``s`` (the singular values, same order) and, when trained with
  ``subtract_mean``, ``mean`` (the county-census example notebook reads them) [names and order
  confirmed; the shape of ``mean`` is read as anything with ``feature_dim`` values].
* Linear Learner: a zip archive of ``additional-params.json``, ``manifest.json``, ``mx-mod-symbol.json``
  and ``mx-mod-0000.params`` (an MXNet Module checkpoint) whose dense layer is ``fc0``
  (``fc0_weight``, ``fc0_bias``; developer guide ``ll_how-it-works``) [confirmed]; what the graph
  computes around it, and the JSON files' keys, are not documented — see
  :mod:`sagestack.algorithms.linear_learner.aws_artifact`.
* Factorization Machines: a zip archive of ``symbol.json``, ``params`` and ``meta.json``; the parameters
  are ``w0_weight`` (bias), ``w1_weight`` ``(feature_dim, 1)`` and ``v`` ``(feature_dim, num_factors)``
  — or, from older images, ``Linear_Plus_Bias_bias``, ``Linear_Plus_Bias_weight`` ``(1, feature_dim)``
  and ``v`` ``(num_factors, feature_dim)``; ``meta.json`` has ``training_parameters`` with
  ``feature_dim`` [observed in public loader scripts, not documented].
* k-NN: ``model_algo-1`` (the index), ``model_algo-1.labels`` (float32) and ``model_algo-1.json``
  ({"k", "predictor_type", "dimension_reduction", "normalize", "version"}) (developer guide
  ``kNN_how-it-works``) [confirmed]; the index being a faiss ``write_index`` file is inferred from the
  faiss index types the algorithm offers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sagestack.algorithms.base import AlgorithmClientError
from sagestack.algorithms.common import MODEL_NAME
from sagestack.formats import mxnet_ndarray
from sagestack.formats.mxnet_ndarray import Artifact, MXNetFormatError


class AWSModelError(AlgorithmClientError):
    """A ``model_algo-1`` this algorithm cannot read (reported as the model's load failure)."""


def read(model_dir: Path, algorithm: str) -> Artifact | None:
    """The ``model_algo-1`` of ``model_dir`` opened, or ``None`` when there is none."""
    path = Path(model_dir) / MODEL_NAME
    if not path.is_file():
        return None
    try:
        return mxnet_ndarray.read_artifact(path.read_bytes())
    except MXNetFormatError as exc:
        raise AWSModelError(f"The {algorithm} model cannot be loaded: {exc}") from None


def float_matrix(value: Any, what: str, algorithm: str) -> np.ndarray:
    """A dense 2-D float array (sparse ones densified), or an :class:`AWSModelError`."""
    if value is not None and hasattr(value, "toarray"):
        value = value.toarray()
    array = np.asarray(value) if value is not None else None
    if array is None or array.ndim != 2 or not np.issubdtype(array.dtype, np.number) or 0 in array.shape:
        shape = None if array is None else array.shape
        raise AWSModelError(f"The {algorithm} model cannot be loaded: {what} is not a matrix (shape {shape})")
    return array


def module_params(artifact: Artifact, algorithm: str) -> dict[str, Any]:
    """The ``arg:`` parameters of the archive's MXNet Module checkpoint."""
    if artifact.arrays is not None:
        arrays = artifact.arrays
        if isinstance(arrays, dict):
            return mxnet_ndarray.split_module_params(arrays)[0]
        raise AWSModelError(
            f"The {algorithm} model cannot be loaded: model_algo-1 is an unnamed array list, "
            "not an MXNet model archive"
        )
    try:
        return artifact.params()[0]
    except MXNetFormatError as exc:
        raise AWSModelError(f"The {algorithm} model cannot be loaded: {exc}") from None


def find_key(tree: Any, key: str) -> Any:
    """The first value stored under ``key`` anywhere in a JSON document."""
    if isinstance(tree, dict):
        if key in tree:
            return tree[key]
        tree = list(tree.values())
    if isinstance(tree, list):
        for value in tree:
            found = find_key(value, key)
            if found is not None:
                return found
    return None
