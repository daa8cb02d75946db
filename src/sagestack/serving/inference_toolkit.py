"""Script mode serving: the sagemaker-inference-toolkit contract.

The user's entry point (``SAGEMAKER_PROGRAM``, found in ``SAGEMAKER_SUBMIT_DIRECTORY`` or in ``code/``
inside the model directory) may define ``model_fn(model_dir)``, ``input_fn(body, content_type)``,
``predict_fn(data, model)``, ``output_fn(prediction, accept)`` or ``transform_fn(model, body,
content_type, accept)``. Every function it leaves out falls back to the framework container's default:
scikit-learn loads ``model.joblib``, PyTorch ``model.pth`` (TorchScript or a pickled module), XGBoost its
booster file; inputs are decoded from JSON, CSV or NPY into numpy arrays and outputs encoded back, as the
SageMaker framework containers do. The optional ``context`` argument of the toolkit's newer signature is
passed when a function declares it.
"""

from __future__ import annotations

import importlib.util
import inspect
import io
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..algorithms.base import InferenceError

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
NPZ = "application/x-npz"
JSONLINES = "application/jsonlines"
OCTET = "application/octet-stream"
DECODABLE = (JSON, CSV, NPY, NPZ)


class UnsupportedFormat(InferenceError):
    def __init__(self, content_type: str, kind: str = "content type"):
        super().__init__(
            f"{kind} {content_type} is not supported by this framework's default handler; "
            f"supported: {JSON}, {CSV}, {NPY}. Define input_fn/output_fn to handle it.",
            415 if kind == "content type" else 406,
        )


# -- codecs (the toolkit's decoder/encoder modules) ----------------------------------------------


def media(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def decode(body: bytes, content_type: str | None):
    """Request bytes → numpy array (JSON, CSV, NPY, NPZ), as ``sagemaker_inference.decoder``."""
    import numpy as np

    kind = media(content_type) or JSON
    if kind == JSON:
        return np.array(json.loads(body))
    if kind == CSV:
        text = body.decode("utf-8") if isinstance(body, (bytes, bytearray)) else body
        return (
            np.genfromtxt(io.StringIO(text), delimiter=",", dtype=np.float32, ndmin=1)
            if text.strip()
            else np.empty((0,), dtype=np.float32)
        )
    if kind == NPY:
        return np.load(io.BytesIO(body), allow_pickle=False)
    if kind == NPZ:
        with np.load(io.BytesIO(body), allow_pickle=False) as data:
            return data[data.files[0]]
    raise UnsupportedFormat(content_type or "")


def encode(value: Any, accept: str) -> bytes:
    """Prediction → bytes in ``accept`` (JSON, CSV, NPY), as ``sagemaker_inference.encoder``."""
    import numpy as np

    kind = media(accept)
    if kind == JSON:
        if hasattr(value, "tolist"):
            value = value.tolist()
        return json.dumps(value, default=_json_default).encode()
    if kind == CSV:
        array = np.asarray(_to_numpy(value))
        out = io.StringIO()
        np.savetxt(out, array if array.ndim else array.reshape(1), delimiter=",", fmt="%s")
        return out.getvalue().encode()
    if kind == NPY:
        out = io.BytesIO()
        np.save(out, np.asarray(_to_numpy(value)), allow_pickle=False)
        return out.getvalue()
    raise UnsupportedFormat(accept, "accept type")


def _to_numpy(value: Any) -> Any:
    if hasattr(value, "detach"):  # torch tensor
        return value.detach().cpu().numpy()
    return value


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# -- framework defaults ------------------------------------------------------------------------


def _model_file(model_dir: str, preferred: str, patterns: tuple[str, ...], hint: str) -> Path:
    """``preferred`` in the model directory, else the first file matching ``patterns``."""
    path = Path(model_dir) / preferred
    if path.exists():
        return path
    found = [p for pattern in patterns for p in sorted(Path(model_dir).glob(pattern))]
    if not found:
        raise FileNotFoundError(f"No {preferred} in {model_dir}; {hint}")
    return found[0]


def _sklearn_model_fn(model_dir: str):
    import joblib

    return joblib.load(
        _model_file(
            model_dir,
            "model.joblib",
            ("*.joblib", "*.pkl"),
            "save the model there with joblib.dump or define model_fn(model_dir) in the entry point.",
        )
    )


def _pytorch_model_fn(model_dir: str):
    import torch

    path = _model_file(
        model_dir,
        "model.pth",
        ("*.pt", "*.pth"),
        "define model_fn(model_dir) in the entry point or save a TorchScript model as model.pth.",
    )
    try:
        model = torch.jit.load(str(path), map_location="cpu")
    except RuntimeError:
        model = torch.load(str(path), map_location="cpu", weights_only=False)
    model.eval()
    return model


def _xgboost_model_fn(model_dir: str):
    from ..algorithms.xgboost.serving import load_model

    return load_model(model_dir).booster


def _default_predict(framework: str) -> Callable:
    def predict_fn(data, model):
        if framework == "pytorch":
            import torch

            with torch.no_grad():
                tensor = data if hasattr(data, "detach") else torch.as_tensor(data)
                return model(tensor)
        if framework == "xgboost":
            import xgboost as xgb

            if isinstance(data, xgb.DMatrix):
                return model.predict(data)
            try:
                return model.inplace_predict(data, validate_features=False)
            except xgb.core.XGBoostError:  # gblinear boosters have no in-place prediction
                return model.predict(xgb.DMatrix(data), validate_features=False)
        return model.predict(data)

    return predict_fn


MODEL_FNS: dict[str, Callable[[str], Any]] = {
    "sklearn": _sklearn_model_fn,
    "pytorch": _pytorch_model_fn,
    "xgboost": _xgboost_model_fn,
}


# -- the handler ---------------------------------------------------------------------------------


class ScriptHandler:
    """One container's model behind the toolkit functions (user-defined or default)."""

    def __init__(self, model_dir: str, framework: str | None, module: Any | None, environment: dict):
        self.model_dir = model_dir
        self.framework = framework or "python"
        self.module = module
        self.default_accept = environment.get("SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT", JSON)
        user = (lambda name: getattr(module, name, None)) if module is not None else (lambda name: None)
        model_fn = user("model_fn") or MODEL_FNS.get(self.framework)
        if model_fn is None:
            raise RuntimeError(
                f"The entry point defines no model_fn and the {self.framework} framework has no "
                f"default model loader; define model_fn(model_dir)."
            )
        self.transform_fn = user("transform_fn")
        self.input_fn = user("input_fn") or (lambda body, content_type: decode(body, content_type))
        self.predict_fn = user("predict_fn") or _default_predict(self.framework)
        self.output_fn = user("output_fn") or (lambda prediction, accept: encode(prediction, accept))
        self.user_output = user("output_fn") is not None
        self.model = _call(model_fn, model_dir)

    def invoke(self, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        accept_type = accept if accept and media(accept) not in ("*/*", "") else self.default_accept
        content_type = content_type or JSON
        if self.transform_fn is not None:
            result = _call(self.transform_fn, self.model, body, content_type, accept_type)
            return _response(result, accept_type)
        data = _call(self.input_fn, body, content_type)
        prediction = _call(self.predict_fn, data, self.model)
        result = _call(self.output_fn, prediction, accept_type)
        return _response(result, accept_type)


def _call(func: Callable, *args):
    """Call a toolkit function, adding ``context`` when it declares one more parameter."""
    try:
        params = inspect.signature(func).parameters
        wants_context = len(params) == len(args) + 1 and not any(
            p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params.values()
        )
    except (TypeError, ValueError):
        wants_context = False
    return func(*args, None) if wants_context else func(*args)


def _response(result: Any, accept: str) -> tuple[bytes, str]:
    """output_fn may return bytes/str, or ``(body, content_type)`` as some containers allow."""
    content_type = accept
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], str):
        result, content_type = result
    if isinstance(result, str):
        result = result.encode()
    elif not isinstance(result, (bytes, bytearray, memoryview)):
        result = encode(result, accept)
    return bytes(result), content_type


def load_entry_point(code_dir: str, program: str) -> Any:
    """Import the user's entry point as a module (its directory first on ``sys.path``)."""
    path = Path(code_dir) / program
    if not path.exists():
        raise FileNotFoundError(f"The entry point {program} (SAGEMAKER_PROGRAM) was not found in {code_dir}.")
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    cwd = os.getcwd()
    try:
        spec.loader.exec_module(module)
    finally:
        os.chdir(cwd)
    return module
