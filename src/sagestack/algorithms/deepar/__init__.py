"""SageMaker's built-in DeepAR forecasting (image ``forecasting-deepar``), algorithms.md §2.10.

An autoregressive recurrent forecaster (Salinas et al. 2019) built on torch: an LSTM
(:mod:`.network`) reads lagged, mean-scaled targets (:mod:`.features` lags), calendar features, the
series' age, ``cat`` embeddings and ``dynamic_feat``, and parameterises a ``torch.distributions``
likelihood (gaussian, student-T, negative-binomial, beta, or a deterministic-L1 point forecast).
Training (:mod:`.training`) samples windows of ``context_length + prediction_length`` across the train
series (JSON Lines, gzip or Parquet; :mod:`.data`) and minimises the negative log-likelihood with Adam,
logging ``train final_loss``; a ``test`` channel is forecast over its last ``prediction_length`` values
for ``RMSE``, ``wQuantileLoss[q]``, ``mean_wQuantileLoss`` and ``mean_absolute_QuantileLoss``.

Model artifact and inference: :mod:`.model` and :mod:`.serving`.
"""

from sagestack.algorithms.deepar.model import DeepARModel, load_model
from sagestack.algorithms.deepar.serving import predict
from sagestack.algorithms.deepar.spec import SPEC
from sagestack.algorithms.deepar.training import train

__all__ = ["SPEC", "DeepARModel", "load_model", "predict", "train"]
