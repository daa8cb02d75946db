"""What a worker serves: one handler per container, built from the image and its environment.

* A built-in algorithm image without ``SAGEMAKER_PROGRAM`` → the algorithm's ``load_model``/``predict``.
* ``SAGEMAKER_PROGRAM`` set (any framework image, including XGBoost in script mode) → the
  inference-toolkit contract (:mod:`.inference_toolkit`).
* A framework image without a program → the framework's default functions.

Several containers make an inference pipeline: ``Serial`` chains them (each output is the next input),
``Direct`` serves the one named by ``X-Amzn-SageMaker-Target-Container-Hostname``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any

from ..algorithms.base import InferenceError

XGBOOST_REPOSITORIES = ("sagemaker-xgboost", "xgboost")


@dataclass
class ContainerSpec:
    hostname: str
    image: str
    model_dir: str
    code_dir: str | None
    environment: dict[str, str]
    multi_model: dict | None = None  # a MultiModel container: cache bounds (multi_model.py)

    @classmethod
    def from_dict(cls, value: dict) -> ContainerSpec:
        return cls(
            value["hostname"],
            value.get("image", ""),
            value["model_dir"],
            value.get("code_dir"),
            dict(value.get("environment") or {}),
            value.get("multi_model"),
        )


class AlgorithmHandler:
    def __init__(self, module: Any, model_dir: str):
        self.module = module
        self.model = module.load_model(model_dir)
        self.predict = module.predict

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        return self.predict(self.model, body, content_type, accept)


def load_container(spec: ContainerSpec, alone: bool = True) -> Any:
    """Build the handler for one container (imports the framework, loads the model). ``alone``: the
    only container of its process (a pipeline's containers share one)."""
    from pathlib import Path

    from ..algorithms import registry
    from ..domain.images import parse_image, unsupported_reason
    from . import inference_toolkit

    if spec.multi_model is not None:  # models load on demand, per TargetModel
        from .multi_model import MultiModelHandler

        return MultiModelHandler(spec)
    os.environ.update(spec.environment)
    image = parse_image(spec.image) if spec.image else None
    reason = unsupported_reason(image) if image is not None else None
    if reason is not None:
        raise RuntimeError(reason)
    program = spec.environment.get("SAGEMAKER_PROGRAM")
    framework = image.framework if image else None
    if program:
        code_dir = spec.code_dir or str(Path(spec.model_dir) / "code")
        module = inference_toolkit.load_entry_point(code_dir, program)
        return inference_toolkit.ScriptHandler(spec.model_dir, framework, module, spec.environment)
    if (
        alone
        and image is not None
        and image.repository in XGBOOST_REPOSITORIES
        and "sklearn" not in sys.modules
    ):
        # xgboost imports scikit-learn only for its sklearn wrappers (about 1.3 s); built-in XGBoost serves
        # boosters, so the worker starts without it.
        sys.modules["sklearn"] = None  # type: ignore[assignment]
    algorithm = registry.load(image.repository) if image else None
    if algorithm is not None:
        # version-specific behaviour follows the image tag, as in training (xgboost:1.5-1, …)
        os.environ["SAGESTACK_IMAGE_TAG"] = image.tag or ""
        return AlgorithmHandler(algorithm, Path(spec.model_dir))
    if image is not None and image.algorithm_known:
        raise RuntimeError(
            f"The built-in algorithm image {spec.image} ({image.repository}) cannot be served by "
            f"sagestack yet."
        )
    if framework in inference_toolkit.MODEL_FNS:
        return inference_toolkit.ScriptHandler(spec.model_dir, framework, None, spec.environment)
    raise RuntimeError(
        f"Image {spec.image} is not a built-in algorithm or framework image and no container runtime is "
        f"available; use a built-in algorithm image or a framework image (scikit-learn, PyTorch, XGBoost) "
        f"with an entry point (SAGEMAKER_PROGRAM)."
    )


class ModelHandler:
    """The whole instance: one or several containers."""

    def __init__(self, containers: list[tuple[str, Any]], mode: str = "Serial"):
        self.containers = containers
        self.by_host = dict(containers)
        self.mode = mode
        self.single = containers[0][1] if len(containers) == 1 else None
        self.multi_model = getattr(self.single, "invoke_target", None)  # multi_model.MultiModelHandler

    def invoke(
        self, body: bytes, content_type: str | None, accept: str | None, target_host: str | None = None
    ) -> tuple[bytes, str]:
        if self.single is not None:
            return self.single.invoke(body, content_type, accept)
        if self.mode == "Direct":
            handler = self.by_host.get(target_host or "")
            if handler is None:
                raise InferenceError(
                    f"Container hostname {target_host} is not part of this endpoint; "
                    f"known: {', '.join(self.by_host)}.",
                    400,
                )
            return _named(handler.invoke, target_host, body, content_type, accept)
        last = len(self.containers) - 1
        for index, (host, handler) in enumerate(self.containers):
            body, content_type = _named(
                handler.invoke, host, body, content_type, accept if index == last else content_type
            )
        return body, content_type


def _named(invoke: Any, host: str | None, *args: Any) -> tuple[bytes, str]:
    """Run one container; an error carries the container's name (the gateway quotes it)."""
    try:
        return invoke(*args)
    except Exception as exc:
        exc.container = host  # type: ignore[attr-defined]
        raise


def load_model_handler(containers: list[dict], mode: str = "Serial") -> ModelHandler:
    specs = [ContainerSpec.from_dict(c) for c in containers]
    alone = len(specs) == 1
    if not alone and mode != "Direct":  # a pipeline's containers without ContainerHostname: by position
        for index, spec in enumerate(specs):
            if spec.hostname == "primary":
                spec.hostname = f"container-{index + 1}"
    return ModelHandler([(spec.hostname, load_container(spec, alone)) for spec in specs], mode)


#: What a framework's default model loader or a script for it imports (a pooled worker imports it ahead).
FRAMEWORK_IMPORTS = {
    "sklearn": (
        "joblib",
        "sklearn.base",
        "sklearn.linear_model",
        "sklearn.ensemble",
        "sklearn.tree",
        "sklearn.pipeline",
        "sklearn.preprocessing",
    ),
    "pytorch": ("torch",),
    "xgboost": ("xgboost",),
}
#: Container variables that native libraries read as they are imported: a container setting one gets a
#: freshly started worker, never a pooled one that imported them already.
IMPORT_TIME_VARIABLES = (
    "OMP_",
    "MKL_",
    "OPENBLAS_",
    "KMP_",
    "NUMEXPR_",
    "TORCH_",
    "XGBOOST_",
    "PYTHON",
    "LD_",
)


def warm_imports(containers: list[dict]) -> tuple[str, ...] | None:
    """The imports a worker can make before it knows its model, for a pooled worker (warm_pool.py): module
    names, ``algorithm:<repository>`` (a built-in algorithm's package) and ``-<module>`` (a module the worker
    must not import). None: no pooled worker can serve these containers (a multi-model container, a
    framework's own server, import-time variables)."""
    from ..domain.images import parse_image

    if len(containers) != 1:
        return None  # inference pipelines keep the plain start
    container = containers[0]
    if container.get("multi_model") is not None or not container.get("image"):
        return None
    if container.get("command") and not container.get("sagestack_on_path"):
        return None  # not sagestack's worker (TensorFlow Serving)
    environment = container.get("environment") or {}
    if any(name.startswith(IMPORT_TIME_VARIABLES) for name in environment):
        return None
    image = parse_image(container["image"])
    names: list[str] = ["numpy", "sagestack.serving.inference_toolkit"]
    if environment.get("SAGEMAKER_PROGRAM"):
        names += FRAMEWORK_IMPORTS.get(image.framework or "", ())
    elif image.repository in XGBOOST_REPOSITORIES:
        names = ["-sklearn", *names, f"algorithm:{image.repository}"]  # as load_container: no scikit-learn
    elif image.algorithm_available:
        names.append(f"algorithm:{image.repository}")
    elif image.framework in FRAMEWORK_IMPORTS:
        names += FRAMEWORK_IMPORTS[image.framework]
    else:
        return None
    return tuple(names)
