"""SageMaker's built-in PCA (``pca`` image; algorithms.md §2.4).

Training (:mod:`.training`, math in :mod:`.decomposition`): ``algorithm_mode=regular`` accumulates the
exact covariance over the streamed batches and eigendecomposes it; ``randomized`` runs a randomized
range finder with power iterations, each product with the covariance being one pass over the
batches (``num_components + extra_components`` columns). ``subtract_mean`` centres the data first.

Model artifact (:mod:`.model`): ``pca.npz`` (``mean``, ``v`` with components as columns, ``s``
singular values; components in ascending order of variance, the top one last, as SageMaker's PCA
orders them) and ``model.json``.

Inference (:mod:`.serving`): CSV, JSON, JSON Lines or RecordIO-protobuf rows in; per row a
``projection`` of ``num_components`` values (same ascending order), JSON as
``{"projections": [{"projection": [...]}, ...]}``.
"""

from sagestack.algorithms.pca.model import PCAModel, load_model
from sagestack.algorithms.pca.serving import predict
from sagestack.algorithms.pca.spec import SPEC
from sagestack.algorithms.pca.training import train

__all__ = ["SPEC", "PCAModel", "load_model", "predict", "train"]
