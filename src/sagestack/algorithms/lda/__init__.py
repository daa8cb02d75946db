"""SageMaker's built-in LDA (``lda`` image; algorithms.md §2.8): spectral (tensor-decomposition) LDA.

Training (:mod:`.training`, math in :mod:`.spectral`): moments of the word counts, whitening with the
top eigenvectors of the second moment, a robust tensor power method (``max_restarts``,
``max_iterations``, ``tol``) on the whitened third moment, recovery of the Dirichlet prior and the
topic-word matrix; 25 % more topics are extracted and the ``num_topics`` with the largest priors kept.
A ``test`` channel gives ``test:pwll`` (per-word log-likelihood).

Model artifact (:mod:`.model`): ``model_algo-1``, the MXNet NDArray list ``[alpha, beta]`` SageMaker writes.

Inference (:mod:`.serving`): word-count rows (CSV, JSON, JSON Lines, RecordIO-protobuf; sparse allowed)
in; ``topic_mixture`` per document out.
"""

from sagestack.algorithms.lda.model import LDAModel, load_model
from sagestack.algorithms.lda.serving import predict
from sagestack.algorithms.lda.spec import SPEC
from sagestack.algorithms.lda.training import train

__all__ = ["SPEC", "LDAModel", "load_model", "predict", "train"]
