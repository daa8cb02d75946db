"""Which package implements which built-in algorithm image (ECR repository name → package)."""

from __future__ import annotations

import importlib
from types import ModuleType

# ECR repository name (algorithms.md §1.6) → ``sagestack.algorithms.<package>``.
ALGORITHM_PACKAGES: dict[str, str] = {
    "sagemaker-xgboost": "xgboost",
    "xgboost": "xgboost",
    "linear-learner": "linear_learner",
    "kmeans": "kmeans",
    "pca": "pca",
    "knn": "knn",
    "factorization-machines": "factorization_machines",
    "forecasting-deepar": "deepar",
    "blazingtext": "blazingtext",
    "seq2seq": "seq2seq",
    "randomcutforest": "random_cut_forest",
    "lda": "lda",
    "ntm": "ntm",
    "ipinsights": "ip_insights",
    "object2vec": "object2vec",
    "image-classification": "image_classification",
    "object-detection": "object_detection",
    "semantic-segmentation": "semantic_segmentation",
}

# Every 1P repository SageMaker has; those not in ALGORITHM_PACKAGES are known but not yet available.
KNOWN_REPOSITORIES: frozenset[str] = frozenset(
    {
        "linear-learner",
        "kmeans",
        "pca",
        "knn",
        "factorization-machines",
        "randomcutforest",
        "ntm",
        "object2vec",
        "ipinsights",
        "blazingtext",
        "seq2seq",
        "image-classification",
        "object-detection",
        "semantic-segmentation",
        "xgboost",
        "sagemaker-xgboost",
        "forecasting-deepar",
        "lda",
        "xgboost-neo",
        "image-classification-neo",
    }
)


def load(repository: str) -> ModuleType | None:
    """The algorithm package for an image repository, or None when it is not implemented here."""
    package = ALGORITHM_PACKAGES.get(repository)
    if package is None:
        return None
    try:
        return importlib.import_module(f"sagestack.algorithms.{package}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"sagestack.algorithms.{package}"):
            return None
        raise
