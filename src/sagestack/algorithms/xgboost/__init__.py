"""Built-in XGBoost (algorithm mode) — images ``sagemaker-xgboost:<version>`` and legacy ``xgboost:1``.

Behaviour follows SageMaker's XGBoost container (algorithms.md §2.1) running the installed xgboost
library; the image tag (``SAGESTACK_IMAGE_TAG``) selects version-specific behaviour.
"""

from __future__ import annotations

from sagestack.algorithms.base import AlgorithmSpec, ChannelSpec

from .data import ACCEPTED_CONTENT_TYPES
from .hyperparameters import HYPERPARAMETERS
from .metrics import metric_definitions
from .serving import SUPPORTED_ACCEPTS, XGBoostModel, load_model, predict
from .training import train

_DATA_CHANNEL = {
    "content_types": ACCEPTED_CONTENT_TYPES,
    "default_content_type": "text/libsvm",
    "input_modes": ("File", "FastFile"),
    "distributions": ("FullyReplicated", "ShardedByS3Key"),
}

SPEC = AlgorithmSpec(
    name="xgboost",
    image_repositories=("sagemaker-xgboost", "xgboost"),
    hyperparameters=HYPERPARAMETERS,
    channels=(
        ChannelSpec(name="train", required=True, **_DATA_CHANNEL),
        ChannelSpec(name="validation", **_DATA_CHANNEL),
        ChannelSpec(
            name="code",
            content_types=("text/python",),
            default_content_type="text/python",
            input_modes=("File",),
            distributions=("FullyReplicated",),
        ),
    ),
    metric_definitions=metric_definitions(),
    request_content_types=("text/csv", "text/libsvm", "text/x-libsvm", "application/x-recordio-protobuf"),
    response_accept_types=SUPPORTED_ACCEPTS,
    supports_distributed_training=False,
    supports_incremental_training=False,
)

__all__ = ["SPEC", "XGBoostModel", "load_model", "predict", "train"]
