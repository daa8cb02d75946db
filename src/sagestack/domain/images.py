"""What an image URI means here: a built-in algorithm, a framework (script mode) or neither."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..algorithms import registry

_ECR = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\."
    r"(?P<domain>amazonaws\.com(?:\.cn)?|c2s\.ic\.gov|sc2s\.sgov\.gov|csp\.hci\.ic\.gov|cloud\.adc-e\.uk)/"
    r"(?P<repo>[a-z0-9._/-]+?)(?::(?P<tag>[A-Za-z0-9._-]+))?(?:@sha256:[0-9a-f]{64})?$"
)

#: Framework image repositories (training and inference) → framework name.
FRAMEWORK_REPOSITORIES = {
    "sagemaker-scikit-learn": "sklearn",
    "pytorch-training": "pytorch",
    "pytorch-inference": "pytorch",
    "tensorflow-training": "tensorflow",
    "tensorflow-inference": "tensorflow",
    "huggingface-pytorch-training": "huggingface",
    "huggingface-pytorch-inference": "huggingface",
    "huggingface-tensorflow-training": "huggingface",
    "huggingface-tensorflow-inference": "huggingface",
    "mxnet-training": "mxnet",
    "mxnet-inference": "mxnet",
    "sagemaker-xgboost": "xgboost",
    "sagemaker-base-python": "python",
    "sagemaker-distribution-prod": "python",
    "sagemaker-training-compiler": "pytorch",
}


@dataclass(frozen=True)
class ImageInfo:
    uri: str
    repository: str
    tag: str | None
    account: str | None = None
    region: str | None = None

    @property
    def algorithm_known(self) -> bool:
        return self.repository in registry.KNOWN_REPOSITORIES

    @property
    def algorithm_available(self) -> bool:
        return self.repository in registry.ALGORITHM_PACKAGES

    @property
    def framework(self) -> str | None:
        return FRAMEWORK_REPOSITORIES.get(self.repository)


def parse_image(uri: str) -> ImageInfo:
    match = _ECR.match(uri.strip())
    if match:
        return ImageInfo(uri, match.group("repo"), match.group("tag"), match.group("account"),
                         match.group("region"))
    # Not an ECR URI: "name:tag" or a registry path; take the last path component as repository.
    name, _, tag = uri.rpartition(":") if ":" in uri.rsplit("/", 1)[-1] else (uri, "", "")
    return ImageInfo(uri, name.rsplit("/", 1)[-1], tag or None)


class UnsupportedImage(Exception):
    pass


def training_runner(image: ImageInfo, hyperparameters: dict[str, str], has_entrypoint: bool) -> str:
    """``"algorithm"``, ``"script"`` or raise :class:`UnsupportedImage` with the reason users see."""
    script = "sagemaker_program" in hyperparameters or has_entrypoint
    if image.repository == "sagemaker-xgboost" and script:
        return "script"
    if image.algorithm_known:
        if image.algorithm_available:
            return "algorithm"
        raise UnsupportedImage(
            f"The built-in algorithm image {image.uri} ({image.repository}) is not available in sagestack "
            f"yet. Available built-in algorithms: {', '.join(sorted(registry.ALGORITHM_PACKAGES))}."
        )
    if image.framework:
        if not script:
            raise UnsupportedImage(
                f"Framework image {image.uri} needs a training script: set the sagemaker_program and "
                f"sagemaker_submit_directory hyperparameters (the SDK's entry_point/source_dir) or a "
                f"ContainerEntrypoint."
            )
        return "script"
    raise UnsupportedImage(
        f"Image {image.uri} is not a built-in algorithm or framework image and no container runtime is "
        f"available; use a built-in algorithm image (image_uris.retrieve(...)) or a framework image "
        f"(scikit-learn, PyTorch, XGBoost, TensorFlow, Hugging Face) with an entry_point script."
    )
