"""Which process serves a container: sagestack's worker (``worker.py``, the server's Python), or a
framework's own server running in that framework's environment (:mod:`sagestack.environments`).

Today one framework needs its own environment: a ``tensorflow-inference`` image without a script
(no ``SAGEMAKER_PROGRAM``, no ``code/inference.py``) is TensorFlow Serving over the SavedModels in the
model data, served by ``tfserving.py`` with the TensorFlow environment's Python. :func:`attach_runtime`
marks such a container with the ``command`` its instances run (building the environment first, which
takes minutes the first time: it runs on the deployment's thread, so the endpoint stays ``Creating``
and nothing else waits).
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..domain.images import parse_image
from ..environments import EnvironmentBuildError, EnvironmentCache, NoEnvironment, default_cache_dir, resolve

log = logging.getLogger("sagestack.serving")

TF_SERVING_REPOSITORIES = ("tensorflow-inference", "sagemaker-tensorflow-serving")
TF_SERVING_SCRIPT = Path(__file__).resolve().with_name("tfserving.py")


class RuntimeUnavailable(Exception):
    """The container's runtime cannot be had; the message is the endpoint's FailureReason."""


def environment_cache(platform) -> EnvironmentCache:
    """The platform's framework environments (``--env-cache-dir``)."""
    return platform.component(
        "environments", lambda p: EnvironmentCache(p.settings.env_cache_dir or default_cache_dir())
    )


def is_tf_serving(container: dict) -> bool:
    """A prepared container that TensorFlow Serving answers (a tensorflow-inference image, no script)."""
    if container.get("multi_model") is not None or not container.get("image"):
        return False
    if parse_image(container["image"]).repository not in TF_SERVING_REPOSITORIES:
        return False
    return not (container.get("environment") or {}).get("SAGEMAKER_PROGRAM")


def attach_runtime(platform, containers: list[dict]) -> list[dict]:
    """Set ``command`` on containers that run outside sagestack's worker (see the module docstring)."""
    for container in containers:
        if is_tf_serving(container):
            container["command"] = tf_serving_command(platform, container, len(containers))
    return containers


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
