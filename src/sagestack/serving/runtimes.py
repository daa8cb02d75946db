"""Which process serves a container: sagestack's worker (``worker.py``, the server's Python), or a
framework's own server running in that framework's environment (:mod:`sagestack.environments`).

Today one framework needs its own environment: a ``tensorflow-inference`` image without a script
(no ``SAGEMAKER_PROGRAM``, no ``code/inference.py``) is TensorFlow Serving over the SavedModels in the
model data, served by ``tfserving.py`` with the TensorFlow environment's Python.

Models SDK v3's ``ModelBuilder`` built (``code/inference.py`` that loads ``code/serve.pkl`` with
``sagemaker.serve`` of SDK v3) need SDK v3 where they load: when the server's Python lacks it, sagestack's
worker runs with the ``sdk_v3_python`` interpreter (the user's v3 environment, which pickled the model). :func:`attach_runtime`
marks such a container with the ``command`` its instances run (building the environment first, which
takes minutes the first time: it runs on the deployment's thread, so the endpoint stays ``Creating``
and nothing else waits).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..domain.images import parse_image
from ..environments import EnvironmentBuildError, NoEnvironment, environment_cache, resolve
from ..environments.frameworks import UnknownFrameworkVersion, resolve_framework

log = logging.getLogger("sagestack.serving")

TF_SERVING_REPOSITORIES = ("tensorflow-inference", "sagemaker-tensorflow-serving")
TF_SERVING_SCRIPT = Path(__file__).resolve().with_name("tfserving.py")


class RuntimeUnavailable(Exception):
    """The container's runtime cannot be had; the message is the endpoint's FailureReason."""


def is_tf_serving(container: dict) -> bool:
    """A prepared container that TensorFlow Serving answers (a tensorflow-inference image, no script)."""
    if container.get("multi_model") is not None or not container.get("image"):
        return False
    if parse_image(container["image"]).repository not in TF_SERVING_REPOSITORIES:
        return False
    return not (container.get("environment") or {}).get("SAGEMAKER_PROGRAM")


def attach_runtime(platform, containers: list[dict]) -> list[dict]:
    """Set ``command`` on containers that run outside sagestack's worker (see the module docstring)."""
    # One worker process serves all of a model's containers: the framework environment when every
    # container is inference code on the same one (an inference pipeline mixing images: the server's).
    pythons = {framework_worker_python(platform, container) for container in containers}
    framework_python = pythons.pop() if len(pythons) == 1 else None
    for container in containers:
        if container.get("engine_image"):  # the user's own image: the container engine runs it
            continue
        if not framework_python:
            container.pop("notes", None)
        if framework_python and not needs_sdk_v3(container):  # a scikit-learn / XGBoost script
            container["command"] = [framework_python, "-m", "sagestack.serving.worker"]
            container["sagestack_on_path"] = True
        elif is_tf_serving(container):
            container["command"] = tf_serving_command(platform, container, len(containers))
        elif needs_sdk_v3(container):
            container["command"] = sdk_v3_worker_command(platform, container)
            container["sagestack_on_path"] = True
            container["private_opt_ml_model"] = True  # its inference.py reads /opt/ml/model/code/serve.pkl
            # SageMaker sets the region in every container; SDK v3 makes boto3 clients as it imports
            environment = container.setdefault("environment", {})
            for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
                environment.setdefault(name, platform.settings.region)
    return containers


def framework_worker_python(platform, container: dict) -> str | None:
    """The framework environment's Python for a model with inference code (``SAGEMAKER_PROGRAM``) on a
    scikit-learn or XGBoost image, built first if needed (:mod:`sagestack.environments.frameworks`);
    None: sagestack's worker on the server's Python (built-in algorithms, PyTorch, other images)."""
    if not platform.settings.framework_versions or container.get("multi_model") is not None:
        return None
    if not container.get("image") or not (container.get("environment") or {}).get("SAGEMAKER_PROGRAM"):
        return None
    image = parse_image(container["image"])
    if image.framework not in ("sklearn", "xgboost"):
        return None
    try:
        env = resolve_framework(image.framework, image.version)
    except UnknownFrameworkVersion as exc:
        raise RuntimeUnavailable(f"Image {image.uri} cannot be served: {exc}.") from None
    if env is None or env.uses_server:
        return None
    container["notes"] = [*env.notes, f"framework environment {env.description}"]
    try:
        return str(environment_cache(platform).ensure(env, log=log.info))
    except EnvironmentBuildError as exc:
        raise RuntimeUnavailable(
            f"Could not build the {env.description} environment for image {image.uri}: {exc}: "
            f"{exc.tail or '(no output)'}"
        ) from None


#: A module of ``sagemaker.serve`` in SDK v3 that SDK v2 lacks (ModelBuilder's inference.py imports it).
SDK_V3_SERVE_MODULE = ("serve", "constants.py")


def needs_sdk_v3(container: dict) -> bool:
    """A ModelBuilder (SDK v3) model whose inference code the server's own SDK cannot load."""
    if container.get("multi_model") is not None or not container.get("model_dir"):
        return False
    code = Path(container["model_dir"]) / "code"
    program = (container.get("environment") or {}).get("SAGEMAKER_PROGRAM") or "inference.py"
    if not (code / "serve.pkl").exists() or not (code / program).exists():
        return False
    if "sagemaker.serve.constants" not in (code / program).read_text(errors="replace"):
        return False
    return not _server_has_sdk_v3()


def _server_has_sdk_v3() -> bool:
    import importlib.util

    spec = importlib.util.find_spec("sagemaker")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return any(Path(location, *SDK_V3_SERVE_MODULE).exists() for location in locations)


def sdk_v3_worker_command(platform, container: dict) -> list[str]:
    python = platform.settings.sdk_v3_python
    if not python:
        raise RuntimeUnavailable(
            f"The model in {container.get('model_dir')} was built by SDK v3's ModelBuilder: its "
            f"code/inference.py needs sagemaker>=3 (sagemaker.serve) to load, and the server's Python has "
            f"SDK v2 or none. Set SAGESTACK_SDK_V3_PYTHON (sagestack serve --sdk-v3-python) to the Python of "
            f"an environment with sagemaker>=3, e.g. the one that built the model."
        )
    if not Path(python).exists():
        raise RuntimeUnavailable(f"SAGESTACK_SDK_V3_PYTHON={python} does not exist.")
    return [str(python), "-m", "sagestack.serving.worker"]


def tf_serving_command(platform, container: dict, count: int = 1) -> list[str]:
    image = parse_image(container["image"])
    if count > 1:
        raise RuntimeUnavailable(
            f"Image {image.uri} (TensorFlow Serving) cannot be a container of an inference "
            f"pipeline in sagestack; deploy it as the model's only container."
        )
    if (Path(container["model_dir"]) / "code" / "inference.py").exists():
        raise RuntimeUnavailable(
            f"Image {image.uri}: code/inference.py pre- and post-processing handlers (input_handler, "
            f"output_handler) for TensorFlow Serving are not supported by sagestack yet; send TensorFlow "
            f'Serving REST requests ({{"instances": ...}}) or remove code/inference.py from the model data.'
        )
    try:
        requirements = resolve("tensorflow", image.version)
    except NoEnvironment as exc:
        raise RuntimeUnavailable(f"Image {image.uri} cannot be served: {exc}.") from None
    cache = environment_cache(platform)
    if not cache.ready(requirements):
        log.info(
            "endpoint image %s needs the TensorFlow %s environment: building it in %s (minutes, once)",
            image.uri,
            requirements.version,
            cache.path(requirements),
        )
    try:
        python = cache.ensure(requirements, log=log.info)
    except EnvironmentBuildError as exc:
        requested = f"TensorFlow {image.version} requested, " if image.version else ""
        raise RuntimeUnavailable(
            f"Could not build the TensorFlow environment for image {image.uri} ({requested}sagestack runs "
            f"tensorflow-cpu {requirements.version}): {exc}. pip said: {exc.tail or '(no output)'}"
        ) from None
    return [str(python), str(TF_SERVING_SCRIPT)]
