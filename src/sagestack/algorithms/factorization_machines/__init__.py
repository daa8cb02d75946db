"""Built-in Factorization Machines (image ``factorization-machines``), algorithms.md §2.6.

A degree-2 factorization machine (Rendle 2010) ``ŷ = w0 + x·w + Σ_{i<j} <V_i, V_j> x_i x_j``, the
pairwise term computed for whole mini-batches as ``½ Σ_f [(XV)² − (X²)(V²)]`` with scipy sparse products
(``csr`` input stays sparse end to end). ``binary_classifier`` minimises log loss on ``sigmoid(ŷ)``,
``regressor`` squared error. Optimiser: Adam with the documented per-group learning rates
(``bias_lr``, ``linear_lr``, ``factors_lr``), weight decays (``*_wd``), ``eps`` (default 1e-8),
``rescale_grad`` (default 1, on the batch-mean gradient) and ``clip_gradient``; updates are lazy (only
the features present in a sparse batch move). Initialisers ``normal`` (``*_init_sigma``), ``uniform``
(``±*_init_scale``) or ``constant`` (``*_init_value``). Each epoch logs
``#quality_metric: host=algo-1, epoch=N, train <objective> <loss>=…``; a ``test`` channel logs
``#test_score (algo-1) : ('rmse', …)`` or ``('binary_classification_accuracy' |
'binary_classification_cross_entropy' | 'binary_f_beta', …)`` — the documented ``test:*`` metrics.

Model artifact (``model_dir``; SageMaker's own is an MXNet checkpoint, not reproduced, but models trained
on AWS load: ``serving.load_aws_model``):

* ``model_algo-1.npz`` — ``w0`` (float32, shape ``(1,)``), ``w`` (``(feature_dim,)``), ``V``
  (``(feature_dim, num_factors)``);
* ``model_algo-1.json`` — ``{"predictor_type", "feature_dim", "num_factors", "version"}``.

Inference: ``application/json``, ``application/jsonlines``, ``application/x-recordio-protobuf`` in (no
CSV, as SageMaker); out ``{"predictions": [{"score": …, "predicted_label": …}]}`` (binary:
``predicted_label`` = 1 iff ``score`` ≥ 0.5, ``score`` being the probability), ``{"score": …}`` for
regression; JSON Lines per record; RecordIO ``label`` keys ``score``/``predicted_label`` (float32).
"""

from sagestack.algorithms.factorization_machines.serving import FMModel, load_model, predict
from sagestack.algorithms.factorization_machines.spec import SPEC
from sagestack.algorithms.factorization_machines.training import train

__all__ = ["SPEC", "FMModel", "load_model", "predict", "train"]
