"""Built-in k-NN (image ``knn``), algorithms.md §2.5, on faiss.

Training reservoir-samples ``sample_size`` records of the ``train`` stream (read ``mini_batch_size``
rows at a time), optionally reduces them (``dimension_reduction_type`` ``sign`` / ``fjlt`` to
``dimension_reduction_target`` dimensions), builds a faiss ``Flat`` / ``IVFFlat`` / ``IVFPQ`` index with
the ``L2`` / ``INNER_PRODUCT`` / ``COSINE`` metric, and, given a ``test`` channel, logs
``#test_score (algo-1) : ('accuracy', …)`` (classifier) or ``('mse', …)`` (regressor), the lines behind
the ``test:accuracy`` / ``test:mse`` metrics.

Model artifact (``model_dir``), following SageMaker's documented three-file layout:

* ``model_algo-1`` — the faiss index, ``faiss.write_index`` format (vectors already reduced and, for
  ``COSINE``, L2-normalised);
* ``model_algo-1.labels`` — the labels of the indexed points, raw little-endian float32, index order;
* ``model_algo-1.json`` — metadata: ``k``, ``predictor_type``, ``dimension_reduction``
  (``null`` or ``{"type", "seed", "target_dim", "input_dim"}``), ``normalize``, ``index_type``,
  ``index_metric``, ``feature_dim``, ``faiss_nlist``, ``faiss_nprobe``, ``faiss_pq_m``, ``version``.
  Editing ``k`` or ``predictor_type`` changes inference behaviour, as on SageMaker;
* ``model_algo-1.projection.npz`` — only with dimension reduction: ``matrix`` (sign, ``input_dim ×
  target_dim``) or ``signs`` and ``columns`` (fjlt).

Inference: ``text/csv``, ``application/json``, ``application/jsonlines`` and
``application/x-recordio-protobuf`` in; JSON / JSON Lines / RecordIO out with ``predicted_label``, plus
``distances`` and ``labels`` of the k neighbours when the Accept type carries ``verbose=true``. All rows
of a request are answered by one batched faiss search. Classifier: majority label of the neighbours,
ties to the smallest label (as scikit-learn); regressor: their mean. Distances: Euclidean for ``L2``,
``1 - cosine`` for ``COSINE`` (both ascending), inner products (descending) for ``INNER_PRODUCT``.
"""

from sagestack.algorithms.knn.serving import KnnModel, load_model, predict
from sagestack.algorithms.knn.spec import SPEC
from sagestack.algorithms.knn.training import train

__all__ = ["SPEC", "KnnModel", "load_model", "predict", "train"]
