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
    "sagemaker-mxnet": "mxnet",
    "sagemaker-mxnet-serving": "mxnet",
    "sagemaker-mxnet-eia": "mxnet",
    "sagemaker-mxnet-serving-eia": "mxnet",
    "mxnet-inference-eia": "mxnet",
    "sagemaker-chainer": "chainer",
    "sagemaker-xgboost": "xgboost",
    "sagemaker-training-compiler": "pytorch",
}

#: Plain Python runtime images (the SDK's remote functions, ``@step``, ScriptProcessor): SageMaker's base
#: Python images (``sagemaker-base-python-310``, ``-38``) and the SageMaker Distribution images (Studio's
#: default image, ``sagemaker-distribution[-prod|-cpu|-gpu]``). Here they run with the server's Python.
PYTHON_RUNTIME_REPOSITORY = re.compile(
    r"^(?:.*/)?(?:sagemaker-base-python(?:-\d+)?|sagemaker-distribution(?:-prod|-cpu|-gpu)?)$"
)

#: The base Python image (us-east-1's registry; any account or region is accepted) the SDK's remote
#: functions use when no image is given: ``sagestack env`` exports it as ``SAGEMAKER_INTERNAL_IMAGE_URI``,
#: which the SDK prefers over its own default (that one exists only for client Pythons 3.8 and 3.10).
BASE_PYTHON_IMAGE = "081325390199.dkr.ecr.{region}.amazonaws.com/sagemaker-base-python-310:1.0"


def default_python_image(region: str) -> str:
    return BASE_PYTHON_IMAGE.format(region=region)


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
        if PYTHON_RUNTIME_REPOSITORY.match(self.repository):
            return "python"
        return FRAMEWORK_REPOSITORIES.get(self.repository)

    @property
    def version(self) -> str | None:
        """The framework version the tag names (``1.9.0-cpu-py38`` → ``1.9.0``)."""
        return self.tag.split("-", 1)[0] if self.tag else None


#: Frameworks whose images cannot run here, with the reason users see.
RETIRED_FRAMEWORKS = {
    "mxnet": (
        "Apache MXNet",
        "MXNet was retired by the Apache Software Foundation (2023) and has no "
        "builds for this Python; port the script to PyTorch or TensorFlow",
    ),
    "chainer": (
        "Chainer",
        "Chainer is no longer developed and has no builds for this Python; port the script to PyTorch",
    ),
}

#: Serving-only images that sagestack does not run, with the reason.
UNSERVED_REPOSITORIES = {
    "sagemaker-sparkml-serving": "SparkML Serving (MLeap bundles) is not available in sagestack; serve the "
    "pipeline as a scikit-learn or built-in algorithm model",
}


def unsupported_reason(image: ImageInfo) -> str | None:
    """Why the image can never run here (a retired framework, an unserved image), else None."""
    retired = RETIRED_FRAMEWORKS.get(image.framework or "")
    if retired is not None:
        name, why = retired
        version = f" {image.version}" if image.version else ""
        return f"Image {image.uri} is {name}{version}, which sagestack cannot run: {why}."
    unserved = UNSERVED_REPOSITORIES.get(image.repository)
    if unserved is not None:
        return f"Image {image.uri} cannot be served: {unserved}."
    return None


def parse_image(uri: str) -> ImageInfo:
    match = _ECR.match(uri.strip())
    if match:
        return ImageInfo(
            uri, match.group("repo"), match.group("tag"), match.group("account"), match.group("region")
        )
    # Not an ECR URI: "name:tag" or a registry path; take the last path component as repository.
    name, _, tag = uri.rpartition(":") if ":" in uri.rsplit("/", 1)[-1] else (uri, "", "")
    return ImageInfo(uri, name.rsplit("/", 1)[-1], tag or None)


class UnsupportedImage(Exception):
    pass


def is_own_image(image: ImageInfo) -> bool:
    """An image that is none of sagestack's own (no built-in algorithm, framework, Python runtime, Spark,
    Model Monitor, Clarify or serving-only image): the user's, which only a container engine can run."""
    return not (
        unsupported_reason(image) is not None
        or image.algorithm_known
        or image.framework
        or image.repository in SPARK_REPOSITORIES
        or image.repository in BUILTIN_PROCESSING_MODULES
        or image.repository in SERVING_ONLY_REPOSITORIES
    )


def training_runner(
    image: ImageInfo, hyperparameters: dict[str, str], has_entrypoint: bool, containers: bool = False
) -> str:
    """``"algorithm"``, ``"script"``, ``"container"`` (the image itself, run by the container engine:
    ``containers`` says one is available) or raise :class:`UnsupportedImage` with the reason users see."""
    script = "sagemaker_program" in hyperparameters or has_entrypoint
    reason = unsupported_reason(image)
    if reason is not None:
        raise UnsupportedImage(reason)
    if image.repository == "sagemaker-xgboost" and script:
        return "script"
    if image.algorithm_known:
        if image.algorithm_available:
            return "algorithm"
        raise UnsupportedImage(
            f"The built-in algorithm image {image.uri} ({image.repository}) is not available in sagestack "
            f"yet. Available built-in algorithms: {', '.join(sorted(registry.ALGORITHM_PACKAGES))}."
        )
    if image.repository in SPARK_REPOSITORIES:
        raise UnsupportedImage(
            f"The Spark image {image.uri} runs as a training job only for the SageMaker SDK's remote "
            f"functions with spark_config, which sagestack does not run; run the Spark code with "
            f"PySparkProcessor (a processing job), or drop spark_config and use pyspark in local mode inside "
            f"the function."
        )
    if image.framework:
        if not script:
            raise UnsupportedImage(
                f"Framework image {image.uri} needs a training script: set the sagemaker_program and "
                f"sagemaker_submit_directory hyperparameters (the SDK's entry_point/source_dir) or a "
                f"ContainerEntrypoint."
            )
        return "script"
    if containers:
        return "container"
    raise UnsupportedImage(
        f"Image {image.uri} is not a built-in algorithm or framework image and no container runtime is "
        f"available; use a built-in algorithm image (image_uris.retrieve(...)) or a framework image "
        f"(scikit-learn, PyTorch, XGBoost, TensorFlow, Hugging Face) with an entry_point script."
    )


#: Inference images sagestack serves itself that are not framework (training) repositories.
SERVING_ONLY_REPOSITORIES = {"sagemaker-tensorflow-serving", "sagemaker-sparkml-serving"}

#: Frameworks whose processing images run the job's command with the server's Python environment.
PROCESSING_FRAMEWORKS = {"sklearn", "xgboost", "pytorch", "tensorflow", "huggingface", "python"}

#: Spark processing images (PySparkProcessor, SparkJarProcessor).
SPARK_REPOSITORIES = {"sagemaker-spark-processing"}

#: Built-in processing images whose container is a sagestack module: repository → the module. Each such
#: module is a *built-in container*: it defines ``run_container(root, environ)`` (the container's program,
#: given the job's ``/opt/ml`` root and environment), ``CLIENT_ERRORS`` (exceptions that are the user's
#: mistakes: the job fails ``ClientError: …``) and ``FIRST_HOST_ONLY`` (a multi-instance job's other
#: hosts have nothing to do). ``execution/entry.py``'s ``builtin`` runner runs them all the same way.
BUILTIN_PROCESSING_MODULES = {
    # the Model Monitor analyzer (DefaultModelMonitor, ModelQualityMonitor, ground-truth merges)
    "sagemaker-model-monitor-analyzer": "sagestack.monitoring.analyzer",
    # SageMaker Clarify (SageMakerClarifyProcessor, ModelBiasMonitor, ModelExplainabilityMonitor)
    "sagemaker-clarify-processing": "sagestack.clarify.job",
}

#: Built-in images whose ContainerEntrypoint, when a job gives one, runs instead of the built-in program
#: (Clarify ignores ContainerEntrypoint / ContainerArguments, as SageMaker's does).
ENTRYPOINT_REPLACES_BUILTIN = {"sagemaker-model-monitor-analyzer"}


def builtin_processing_module(image: ImageInfo, has_entrypoint: bool = False) -> str | None:
    """The built-in container module the image runs (None: not a built-in image, or its
    ContainerEntrypoint replaces the built-in program)."""
    if has_entrypoint and image.repository in ENTRYPOINT_REPLACES_BUILTIN:
        return None
    return BUILTIN_PROCESSING_MODULES.get(image.repository)


def processing_runner(
    image: ImageInfo,
    spark_lacks: str | None = "pyspark and a Java runtime",
    has_entrypoint: bool = False,
    containers: bool = False,
) -> str:
    """``"builtin"`` (a built-in container module: the Model Monitor analyzer, Clarify — see
    :data:`BUILTIN_PROCESSING_MODULES`), ``"processing"`` (the job's ContainerEntrypoint +
    ContainerArguments run as a local process with the server's Python first on PATH) or raise
    :class:`UnsupportedImage` with the reason users see. ``spark_lacks``: what this machine lacks to run
    Spark images (None: nothing). ``"container"``: the image itself, run by the container engine
    (``containers``: one is available)."""
    reason = unsupported_reason(image)
    if reason is not None:
        raise UnsupportedImage(reason)
    if image.repository in BUILTIN_PROCESSING_MODULES:
        return "builtin" if builtin_processing_module(image, has_entrypoint) else "processing"
    if image.repository in SPARK_REPOSITORIES:
        if spark_lacks is None:
            return "processing"
        raise UnsupportedImage(
            f"Spark processing images need pyspark and a Java runtime: image {image.uri} runs "
            f"smspark-submit (spark-submit on a JVM, here in Spark's local mode), and this machine lacks "
            f"{spark_lacks}. Install pyspark where the server runs (pip install pyspark) and a JDK, or use a "
            f"scikit-learn or base-python processing image (SKLearnProcessor, ScriptProcessor, "
            f"FrameworkProcessor)."
        )
    if image.framework in PROCESSING_FRAMEWORKS:
        return "processing"
    if containers:
        return "container"
    raise UnsupportedImage(
        f"Image {image.uri} is not a processing image sagestack can run and no container runtime is "
        f"available; use a scikit-learn, XGBoost, PyTorch, TensorFlow, Hugging Face or base-python image "
        f"(SKLearnProcessor, ScriptProcessor with image_uris.retrieve(...), FrameworkProcessor)."
    )
