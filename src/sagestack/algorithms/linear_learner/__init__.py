"""Built-in Linear Learner (``linear-learner`` image), algorithms.md §2.2.

Training (:func:`train`): ``num_models`` linear models (binary logistic/hinge, multiclass softmax, or one of
six regression losses) are trained at once with mini-batch sgd/adam/rmsprop over the ``train`` channel
(recordio-protobuf, the default, or label-first CSV), with feature/label normalisation learned on a
sample, early stopping, selection of the best model on ``validation`` (or train) and, for binary
classifiers, a decision threshold tuned for ``binary_classifier_model_selection_criteria``. Final metrics
on ``validation`` and ``test`` are logged as ``#quality_metric: host=algo-1, <channel> <metric> <loss|score>=v``
lines, matched by ``SPEC.metric_definitions`` (SageMaker's regexes). See :mod:`.trainer` and
:mod:`.config` for the exact procedure and the values ``auto`` resolves to.

Model artifact (files in ``model_dir``; SageMaker's own is an MXNet checkpoint, which is not reproduced, but
models trained on AWS load: :mod:`.aws_artifact`):

* ``linear_learner.json``: ``{"format": "sagestack-linear-learner", "version": 1, "predictor_type",
  "loss", "feature_dim", "num_classes", "score": "sigmoid" | "softmax" | "identity", "threshold" (binary:
  ``predicted_label = score >= threshold``, else null), "hyperparameters": the selected model's}``;
* ``linear_learner.npz``: ``weights`` float64 ``(feature_dim, outputs)`` and ``bias`` float64 ``(outputs,)``
  in raw feature and label units (normalisation folded in), ``outputs`` = ``num_classes`` for multiclass,
  else 1. ``score = transform(x @ weights + bias)``.

Inference (:func:`predict`): requests in text/csv, application/json, application/jsonlines or
application/x-recordio-protobuf; responses in application/json (``{"predictions": [{"score": s,
"predicted_label": l}, ...]}``), application/jsonlines or application/x-recordio-protobuf (``label`` map
keys ``score`` and ``predicted_label``, float32). Binary: ``score`` is the probability (logistic) or the raw
margin (hinge) and ``predicted_label`` 0/1; multiclass: ``score`` the class probabilities and
``predicted_label`` the arg-max class; regressor: ``score`` only.
"""

from __future__ import annotations

from sagestack.algorithms.linear_learner.serving import load_model, predict
from sagestack.algorithms.linear_learner.spec import SPEC
from sagestack.algorithms.linear_learner.training import train

__all__ = ["SPEC", "load_model", "predict", "train"]
